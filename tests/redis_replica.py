"""A Redis primary with one replica on free loopback ports, for the durable-writes tests and
benchmark (WAIT needs a replica): `with primary_with_replica() as pair: pair.primary, pair.replica`
(ports), `pair.replica_proc` (SIGSTOP it to stall acknowledgements). Nothing is persisted; the
files live in a temporary directory removed at the end."""
from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import redis

from tests.redis_processes import replicates_writes


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Pair:
    primary: int
    replica: int
    replica_proc: subprocess.Popen[bytes]


@contextmanager
def primary_with_replica(*, timeout: float = 20.0) -> Iterator[Pair]:
    """Both servers started, the replica's link up; both killed afterwards."""
    directory = tempfile.mkdtemp(prefix="tessera-wait-")
    procs: list[subprocess.Popen[bytes]] = []
    ports = [free_port(), free_port()]
    try:
        for port, extra in ((ports[0], []), (ports[1], ["--replicaof", "127.0.0.1", str(ports[0])])):
            procs.append(subprocess.Popen(
                ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", directory,
                 "--dbfilename", f"{port}.rdb", "--save", "", "--appendonly", "no",
                 "--repl-diskless-sync-delay", "0", *extra], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        deadline = time.monotonic() + timeout
        while True:
            try:
                if (redis.Redis(port=ports[1]).info("replication").get("master_link_status") == "up"
                        and replicates_writes(ports[0], "harness:probe")):
                    break
            except redis.RedisError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the replica did not sync")
            time.sleep(0.05)
        yield Pair(ports[0], ports[1], procs[1])
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGCONT)
                proc.kill()
                proc.wait(5)
        shutil.rmtree(directory, ignore_errors=True)
