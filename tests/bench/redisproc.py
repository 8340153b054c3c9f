"""Private redis-server processes for the benchmarks, on free loopback ports (never 6379).

`RedisServer.start()` runs one without persistence as this script's child; `replica=True`
with `primary_port` makes it a replica of another and waits until its link is up, so that
`WAIT 1` is answered. `stop()` ends only that child, by its pid. Also: the figures the
benchmarks read from a Redis (used memory, keys, live sessions and what they take).
"""
from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field

import redis

import servers


@dataclass
class RedisServer:
    port: int
    directory: str
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> "redis.Redis[str]":
        return node_client(self.port)

    @classmethod
    def start(cls, *, primary_port: int | None = None, timeout: float = 20.0) -> "RedisServer":
        port = servers.free_port()
        if port == 6379:  # the shared server's port: never ours
            port = servers.free_port()
        node = cls(port, tempfile.mkdtemp(prefix="tessera-bench-redis-"))
        cmd = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", node.directory,
               "--save", "", "--appendonly", "no", "--repl-diskless-sync-delay", "0"]
        if primary_port is not None:
            cmd += ["--replicaof", "127.0.0.1", str(primary_port)]
        with open(f"{node.directory}/redis.log", "wb") as log:
            node.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                info = node.client().info("replication")
                if primary_port is None or info.get("master_link_status") == "up":
                    return node
            except redis.RedisError:
                pass
            if node.proc.poll() is not None:
                break
            time.sleep(0.05)
        node.stop()
        raise RuntimeError(f"redis-server on port {port} did not come up (log in {node.directory})")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        shutil.rmtree(self.directory, ignore_errors=True)


def node_client(port: int) -> "redis.Redis[str]":
    """A plain client of the one server on `port` (for a cluster node: its own keys only)."""
    return redis.Redis(host="127.0.0.1", port=port, decode_responses=True, socket_timeout=30)


def used_memory(client: "redis.Redis[str]") -> int:
    return int(client.info("memory")["used_memory"])


def footprint(client: "redis.Redis[str]", prefix: str = "sess:") -> dict[str, int]:
    """Keys starting with `prefix` and all others: their numbers and the sums of their MEMORY
    USAGE in bytes (`sessions`, `session_bytes`, `others`, `other_bytes`). One SCAN."""
    out = {"sessions": 0, "session_bytes": 0, "others": 0, "other_bytes": 0}
    batch: list[str] = []

    def flush() -> None:
        pipe = client.pipeline(transaction=False)
        for key in batch:
            pipe.memory_usage(key, samples=0)
        for key, size in zip(batch, pipe.execute()):
            kind = ("sessions", "session_bytes") if key.startswith(prefix) else ("others", "other_bytes")
            out[kind[0]] += 1
            out[kind[1]] += int(size or 0)
        batch.clear()

    for key in client.scan_iter(count=1000):
        batch.append(key)
        if len(batch) >= 1000:
            flush()
    flush()
    return out


def table_overhead(client: "redis.Redis[str]", db: int = 0) -> int:
    """Bytes of db `db`'s key and expiry hash tables (MEMORY STATS), which grow in steps."""
    entry = client.memory_stats().get(f"db.{db}") or {}
    return int(entry.get("overhead.hashtable.main", 0)) + int(entry.get("overhead.hashtable.expires", 0))
