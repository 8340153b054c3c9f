"""A real Redis Cluster for tests and benchmarks: six `redis-server --cluster-enabled yes` on
loopback (three primaries, three replicas), made one cluster by `redis-cli --cluster create`.

    with RedisCluster.start() as cluster:
        cluster.url                 # redis+cluster://127.0.0.1:P1,127.0.0.1:P2,...
        cluster.primaries()         # [(port, node id), ...] as CLUSTER NODES says now
        cluster.kill(port)          # SIGKILL one server (a failover follows after ~4 s)
        cluster.wait_failover(port) # until a replica took over its slots and the state is ok

Ports are free loopback ports below 55536 whose cluster bus port (+10000) is free too. Replicas
sync at once (`repl-diskless-sync-delay 0`): until every replica's `master_link_status:up`, a
killed primary would never be failed over, so `start()` waits for that, and for
`cluster_state:ok` on every node. Nothing is persisted (`--save "" --appendonly no`); the
servers' files live in a temporary directory removed by `stop()`.
"""
from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import redis

from tests.redis_processes import RedisProcesses, replicates_writes

NODES = 6
BUS_OFFSET = 10000


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_cluster_ports(count: int, *, low: int = 20000, high: int = 55535) -> list[int]:
    """`count` distinct free ports in [low, high] whose port + 10000 is free too."""
    found: list[int] = []
    rng = random.Random()
    tries = 0
    while len(found) < count:
        tries += 1
        if tries > 5000:
            raise RuntimeError("no free loopback ports for a Redis Cluster")
        port = rng.randint(low, high - BUS_OFFSET if high + BUS_OFFSET > 65535 else high)
        if port in found or port + BUS_OFFSET in found or any(port == p + BUS_OFFSET for p in found):
            continue
        if _port_free(port) and _port_free(port + BUS_OFFSET):
            found.append(port)
    return found


def _client(port: int) -> "redis.Redis[str]":
    return redis.Redis(host="127.0.0.1", port=port, decode_responses=True, socket_timeout=2, socket_connect_timeout=1)


@dataclass
class RedisCluster(RedisProcesses):
    ports: list[int]
    directory: str
    procs: dict[int, subprocess.Popen[bytes]] = field(default_factory=dict)
    _primaries_at_kill: dict[int, list[int]] = field(default_factory=dict)

    @property
    def url(self) -> str:
        """The Tessera URL of the cluster (every node a seed)."""
        return "redis+cluster://" + ",".join(f"127.0.0.1:{p}" for p in self.ports)

    @property
    def alive(self) -> list[int]:
        return [p for p, proc in self.procs.items() if proc.poll() is None]

    # ---- life cycle ----
    @classmethod
    def start(cls, *, timeout: float = 60.0) -> "RedisCluster":
        ports = free_cluster_ports(NODES)
        cluster = cls(ports, tempfile.mkdtemp(prefix="tessera-cluster-"))
        try:
            for port in ports:
                cluster._spawn(port)
            cluster._wait(lambda: all(cluster._pings(p) for p in ports), timeout, "the servers to start")
            subprocess.run(
                ["redis-cli", "--cluster", "create", *(f"127.0.0.1:{p}" for p in ports),
                 "--cluster-replicas", "1", "--cluster-yes"],
                check=True, capture_output=True, timeout=timeout)
            cluster.wait_healthy(timeout=timeout)
        except BaseException:
            cluster.stop()
            raise
        return cluster

    def _spawn(self, port: int) -> None:
        node_dir = os.path.join(self.directory, str(port))
        os.makedirs(node_dir, exist_ok=True)
        log = open(os.path.join(node_dir, "redis.log"), "wb")
        self.procs[port] = subprocess.Popen(
            ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", node_dir,
             "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
             "--cluster-node-timeout", "2000", "--repl-diskless-sync-delay", "0",
             "--save", "", "--appendonly", "no"],
            stdout=log, stderr=subprocess.STDOUT)
        log.close()

    # ---- what the cluster looks like ----
    def nodes(self, port: int | None = None) -> list[dict[str, str]]:
        """CLUSTER NODES as seen by a live node: id, port, role (`master`/`slave`), master id,
        whether it is failed, its slots (redis-py parses the reply into a dict per address)."""
        for port in [port] if port is not None else self.alive:
            try:
                table = _client(port).execute_command("CLUSTER NODES")
            except redis.RedisError:
                continue
            out = []
            for address, node in dict(table).items():
                flags = str(node["flags"]).split(",")
                out.append({"id": node["node_id"], "port": address.split("@")[0].rsplit(":", 1)[1],
                            "role": "master" if "master" in flags else "slave", "master": node["master_id"],
                            "failed": "yes" if ("fail" in flags or "fail?" in flags) else "no",
                            "slots": " ".join("-".join(map(str, r)) for r in node["slots"])})
            return out
        raise RuntimeError("no live cluster node answers")

    def primaries(self) -> list[tuple[int, str]]:
        """(port, node id) of every live primary that serves slots."""
        return sorted((int(n["port"]), n["id"]) for n in self.nodes()
                      if n["role"] == "master" and n["failed"] == "no" and n["slots"])

    def primary_for(self, key: str) -> int:
        """The port of the primary that owns `key` now."""
        slot = _client(self.alive[0]).execute_command("CLUSTER KEYSLOT", key)
        for port in self.alive:
            try:
                for start, end, master, *_ in _client(port).execute_command("CLUSTER SLOTS"):
                    if int(start) <= int(slot) <= int(end):
                        return int(master[1])
            except redis.RedisError:
                continue
        raise RuntimeError(f"no primary owns the slot of `{key}`")

    def replica_of(self, primary_port: int) -> int:
        nodes = self.nodes()
        primary_id = next(n["id"] for n in nodes if int(n["port"]) == primary_port)
        return next(int(n["port"]) for n in nodes if n["master"] == primary_id and n["failed"] == "no")

    # ---- failures ----
    def kill(self, port: int) -> None:
        """SIGKILL the server on `port` (no goodbye to its clients or the cluster)."""
        self._primaries_at_kill[port] = [p for p, _ in self.primaries()]
        proc = self.procs[port]
        proc.send_signal(signal.SIGKILL)
        proc.wait(5)

    def restart(self, port: int, *, timeout: float = 30.0) -> None:
        """Start the killed server on `port` again: with its nodes.conf it rejoins the cluster,
        as a replica of whichever node took its slots; returns once its link is up."""
        if port in self.alive:
            raise RuntimeError(f"the server on {port} is running")
        self._spawn(port)

        def replica_again() -> bool:
            info = _client(port).info("replication")
            return info.get("role") == "slave" and info.get("master_link_status") == "up"

        self._wait(replica_again, timeout, f"{port} to rejoin as a replica")
        self.wait_healthy(timeout=timeout)

    def wait_failover(self, killed: int, *, timeout: float = 30.0) -> int:
        """Until a replica took over the killed primary's slots and every live node says
        `cluster_state:ok`; the port of the new primary."""
        before = set(self._primaries_at_kill.get(killed, ()))

        def promoted() -> bool:
            now = {p for p, _ in self.primaries()}
            return killed not in now and len(now) == 3 and self._ok_everywhere()

        self._wait(promoted, timeout, f"the failover of {killed}")
        return next(p for p, _ in self.primaries() if p not in before)

    def wait_healthy(self, *, timeout: float = 60.0) -> None:
        """Until every live node says `cluster_state:ok` and every live replica's link is up."""
        def healthy() -> bool:
            if not self._ok_everywhere():
                return False
            for port in self.alive:
                info = _client(port).info("replication")
                if info.get("role") == "slave" and info.get("master_link_status") != "up":
                    return False
                if info.get("role") == "master" and not replicates_writes(port, self._key_on(port)):
                    return False
                # every node's view agrees: three primaries serving slots, the rest their replicas
                view = [n for n in self.nodes(port) if n["failed"] == "no"]
                if sum(1 for n in view if n["role"] == "master" and n["slots"]) != 3:
                    return False
                if sum(1 for n in view if n["role"] == "slave") != len(self.alive) - 3:
                    return False
            return True
        self._wait(healthy, timeout, "the cluster to be healthy")

    def _key_on(self, primary: int) -> str:
        """A key of a slot the primary on `primary` serves (a probe for `replicates_writes`)."""
        return next(k for k in (f"harness:probe-{i}" for i in range(10_000)) if self.primary_for(k) == primary)

    def _ok_everywhere(self) -> bool:
        for port in self.alive:
            try:
                if dict(_client(port).execute_command("CLUSTER INFO")).get("cluster_state") != "ok":
                    return False
            except redis.RedisError:
                return False
        return True

    @staticmethod
    def _pings(port: int) -> bool:
        try:
            return bool(_client(port).ping())
        except redis.RedisError:
            return False


@contextmanager
def running_cluster() -> Iterator[RedisCluster]:
    cluster = RedisCluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()
