"""A real Redis primary with replicas watched by three sentinels, for tests and benchmarks.

    with RedisSentinel.start(replicas=2) as rs:
        rs.url                   # redis+sentinel://127.0.0.1:S1,127.0.0.1:S2,127.0.0.1:S3/tessera/11
        rs.primary()             # the port the sentinels name as primary now
        rs.kill(rs.primary())    # SIGKILL it; the sentinels fail over after ~1 s of silence
        rs.wait_failover(port)   # until every sentinel names another primary, a real primary
        rs.restart(port)         # the killed node back, as a replica of the new primary
        rs.kill_sentinel(rs.sentinel_ports[0])  # the two others still fail over
        rs.failover()            # SENTINEL FAILOVER: the live primary is demoted

Everything runs on free loopback ports: `redis-server` for the data nodes (replicas sync at once,
`repl-diskless-sync-delay 0`, and `start()` waits for `master_link_status:up`, without which no
failover happens) and `redis-server --sentinel` with a generated configuration
(`down-after-milliseconds` 1000, `failover-timeout` 3000, quorum 2). Nothing is persisted; the
files live in a temporary directory removed by `stop()`.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import tempfile
from dataclasses import dataclass, field

import redis

from tests.redis_processes import RedisProcesses, replicates_writes

SERVICE = "tessera"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _client(port: int) -> "redis.Redis[str]":
    return redis.Redis(host="127.0.0.1", port=port, decode_responses=True, socket_timeout=2, socket_connect_timeout=1)


@dataclass
class RedisSentinel(RedisProcesses):
    data_ports: list[int]
    sentinel_ports: list[int]
    directory: str
    db: int = 11
    procs: dict[int, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return "redis+sentinel://" + ",".join(f"127.0.0.1:{p}" for p in self.sentinel_ports) + f"/{SERVICE}/{self.db}"

    # ---- life cycle ----
    @classmethod
    def start(cls, *, replicas: int = 2, sentinels: int = 3, timeout: float = 30.0) -> "RedisSentinel":
        rs = cls([free_port() for _ in range(1 + replicas)], [free_port() for _ in range(sentinels)],
                 tempfile.mkdtemp(prefix="tessera-sentinel-"))
        try:
            primary, *others = rs.data_ports
            rs._spawn_data(primary, None)
            for port in others:
                rs._spawn_data(port, primary)
            rs._wait(lambda: all(rs._pings(p) for p in rs.data_ports), timeout, "the data nodes to start")
            rs._wait(rs._replicas_linked, timeout, "the replicas to sync")
            for port in rs.sentinel_ports:
                rs._spawn_sentinel(port, primary)
            rs._wait(lambda: all(rs._sentinel_ready(p, len(others)) for p in rs.sentinel_ports), timeout,
                     "the sentinels to see each other and the replicas")
        except BaseException:
            rs.stop()
            raise
        return rs

    def _spawn(self, port: int, args: list[str]) -> None:
        node_dir = os.path.join(self.directory, str(port))
        os.makedirs(node_dir, exist_ok=True)
        with open(os.path.join(node_dir, "log"), "wb") as log:
            self.procs[port] = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, cwd=node_dir)

    def _spawn_data(self, port: int, primary: int | None) -> None:
        args = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir",
                os.path.join(self.directory, str(port)), "--save", "", "--appendonly", "no",
                "--repl-diskless-sync", "yes", "--repl-diskless-sync-delay", "0"]
        os.makedirs(os.path.join(self.directory, str(port)), exist_ok=True)
        if primary is not None:
            args += ["--replicaof", "127.0.0.1", str(primary)]
        self._spawn(port, args)

    def _spawn_sentinel(self, port: int, primary: int) -> None:
        node_dir = os.path.join(self.directory, str(port))
        os.makedirs(node_dir, exist_ok=True)
        conf = os.path.join(node_dir, "sentinel.conf")
        with open(conf, "w", encoding="ascii") as fh:
            fh.write(f"port {port}\nbind 127.0.0.1\ndir {node_dir}\n"
                     f"sentinel monitor {SERVICE} 127.0.0.1 {primary} 2\n"
                     f"sentinel down-after-milliseconds {SERVICE} 1000\n"
                     f"sentinel failover-timeout {SERVICE} 3000\n"
                     f"sentinel parallel-syncs {SERVICE} 2\n")
        self._spawn(port, ["redis-server", conf, "--sentinel"])

    # ---- what it looks like ----
    def primary(self) -> int:
        """The primary's port as the first sentinel that answers names it."""
        for port in self.live_sentinels:
            try:
                return int(_client(port).execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", SERVICE)[1])
            except (redis.RedisError, TypeError):
                continue
        raise RuntimeError("no sentinel answers")

    @property
    def live_sentinels(self) -> list[int]:
        return [p for p in self.sentinel_ports if p in self.procs and self.procs[p].poll() is None]

    def role(self, port: int) -> str:
        return str(_client(port).info("replication").get("role"))

    def data_client(self, port: int | None = None) -> "redis.Redis[str]":
        return redis.Redis(host="127.0.0.1", port=port or self.primary(), db=self.db, decode_responses=True,
                           socket_timeout=2, socket_connect_timeout=1)

    # ---- failures ----
    def kill(self, port: int) -> None:
        """SIGKILL the data node (or sentinel) on `port`."""
        proc = self.procs[port]
        proc.send_signal(signal.SIGKILL)
        proc.wait(5)

    def restart(self, port: int, *, timeout: float = 30.0) -> None:
        """Start the killed data node on `port` again, as a replica of the current primary, and
        wait until it has synced."""
        self._spawn_data(port, self.primary())

        def synced() -> bool:
            try:
                info = _client(port).info("replication")
            except redis.RedisError:
                return False
            return info.get("role") == "slave" and info.get("master_link_status") == "up"

        self._wait(synced, timeout, f"{port} to sync as a replica")

    def kill_sentinel(self, port: int) -> None:
        """SIGKILL the sentinel on `port` (two of three still make a quorum and elect a leader)."""
        self.kill(port)

    def failover(self) -> int:
        """SENTINEL FAILOVER (the primary is alive and gets demoted); the old primary's port."""
        old = self.primary()

        def accepted() -> bool:  # refused (INPROG, NOGOODSLAVE) while an earlier failover settles
            try:
                return bool(_client(self.live_sentinels[0]).execute_command("SENTINEL", "FAILOVER", SERVICE))
            except redis.ResponseError:
                return False

        self._wait(accepted, 30.0, "a sentinel to accept SENTINEL FAILOVER")
        return old

    def wait_failover(self, old: int, *, timeout: float = 30.0) -> int:
        """Until every sentinel names a primary other than `old` that says it is one, and every
        other live data node replicates it; the new primary's port."""
        def moved() -> bool:
            try:
                named = {int(_client(p).execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", SERVICE)[1])
                         for p in self.live_sentinels}
            except (redis.RedisError, TypeError):
                return False
            return len(named) == 1 and old not in named and self.role(named.pop()) == "master"

        self._wait(moved, timeout, f"the failover away from {old}")
        return self.primary()

    # ---- waiting ----
    def _pings(self, port: int) -> bool:
        try:
            return bool(_client(port).ping())
        except redis.RedisError:
            return False

    def _replicas_linked(self) -> bool:
        for port in self.data_ports[1:]:
            info = _client(port).info("replication")
            if info.get("master_link_status") != "up":
                return False
        return replicates_writes(self.data_ports[0], "harness:probe", len(self.data_ports) - 1)

    def _sentinel_ready(self, port: int, replicas: int) -> bool:
        try:
            state = _client(port).execute_command("SENTINEL", "MASTER", SERVICE)
        except redis.RedisError:
            return False
        fields = dict(zip(state[::2], state[1::2])) if isinstance(state, list) else dict(state)
        return (int(fields.get("num-other-sentinels", 0)) >= len(self.sentinel_ports) - 1
                and int(fields.get("num-slaves", 0)) >= replicas)
