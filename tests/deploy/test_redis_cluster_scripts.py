"""The redis-cluster overlay's scripts, run here by /bin/sh against six real redis-servers
(deploy/redis/redis-cluster.conf) on loopback: the bootstrap Job's script makes them one cluster
(and does nothing the second time), and after every node restarted on a new IP at once (what
a pod restart does) the start script's nodes.conf rewrite lets them find each other again.
Pod DNS names are played by a `getent` on PATH that answers from a file."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.deploy.context import DEPLOY
from tests.redis_cluster import free_cluster_ports

OVERLAY = DEPLOY / "k8s" / "overlays" / "redis-cluster"
NODES = 6
pytestmark = pytest.mark.skipif(shutil.which("redis-server") is None or shutil.which("redis-cli") is None,
                                reason="redis-server and redis-cli are not installed")


class Nodes:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.ports = free_cluster_ports(NODES)
        self.procs: list[subprocess.Popen[bytes]] = []
        bin_dir = tmp / "bin"
        bin_dir.mkdir()
        getent = bin_dir / "getent"
        getent.write_text('#!/bin/sh\n# getent hosts NAME, from $FAKE_HOSTS ("IP NAME" lines)\n'
                          'awk -v n="$2" \'$2 == n { print $1 "  " $2; found = 1 } END { exit !found }\' "$FAKE_HOSTS"\n')
        getent.chmod(0o755)
        self.hosts = tmp / "hosts"
        self.env = dict(os.environ, PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}", FAKE_HOSTS=str(self.hosts))
        conf = (DEPLOY / "redis" / "redis-cluster.conf").read_text(encoding="utf-8")
        for i in range(NODES):
            (tmp / f"n{i}").mkdir()
            (tmp / f"n{i}" / "redis.conf").write_text(conf.replace("\ndir /data\n", f"\ndir {tmp / f'n{i}'}\n"))

    def name(self, i: int) -> str:
        return f"redis-cluster-{i}.redis-cluster-headless"

    def start(self, ip: str) -> None:
        """Every node on `ip` (the pods' new addresses), through the start script."""
        self.hosts.write_text("".join(f"{ip} {self.name(i)}\n" for i in range(NODES)))
        for i, port in enumerate(self.ports):
            d = self.tmp / f"n{i}"
            self.procs.append(subprocess.Popen(
                ["/bin/sh", str(OVERLAY / "redis-cluster-start.sh"), str(d / "redis.conf"), self.name(i), ip,
                 "--bind", ip, "--port", str(port), "--cluster-config-file", str(d / "nodes.conf"),
                 "--cluster-node-timeout", "2000", "--logfile", str(d / "log"), "--daemonize", "no"],
                env=dict(self.env, NODES_CONF=str(d / "nodes.conf")), stdout=subprocess.DEVNULL))
        for port in self.ports:
            self.wait(lambda p=port: self.client(ip, p).ping(), f"{ip}:{port} answers")

    def stop(self) -> None:
        for proc in self.procs:
            proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            proc.wait(timeout=20)
        self.procs = []

    def create(self) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["/bin/sh", str(OVERLAY / "redis-cluster-create.sh"), "1",
                               *(f"{self.name(i)}:{p}" for i, p in enumerate(self.ports))],
                              env=dict(self.env, TRIES="30"), capture_output=True, text=True, timeout=120)

    @staticmethod
    def client(ip: str, port: int) -> "redis.Redis[str]":
        return redis.Redis(host=ip, port=port, decode_responses=True, socket_timeout=2)

    def ok_everywhere(self, ip: str) -> bool:
        try:
            return all(self.client(ip, p).cluster("info")["cluster_state"] == "ok" for p in self.ports)
        except redis.RedisError:
            return False

    @staticmethod
    def wait(check: object, what: str, timeout: float = 40.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if check():  # type: ignore[operator]
                    return
            except (redis.RedisError, OSError):
                pass
            time.sleep(0.2)
        raise AssertionError(f"not within {timeout} s: {what}")


@pytest.fixture
def nodes(tmp_path: Path) -> Iterator[Nodes]:
    n = Nodes(tmp_path)
    try:
        yield n
    finally:
        for proc in n.procs:
            proc.kill()
            proc.wait()


def _owner(nodes: Nodes, ip: str, key: str) -> int:
    """The port of the primary that serves `key` (CLUSTER SLOTS, as any client reads it)."""
    c = nodes.client(ip, nodes.ports[0])
    slot = c.cluster("keyslot", key)
    for start, end, primary, *_ in c.execute_command("CLUSTER SLOTS"):
        if start <= slot <= end:
            return int(primary[1])
    raise AssertionError("no owner")


def test_the_job_creates_the_cluster_once_and_nodes_survive_a_restart_on_new_addresses(nodes: Nodes) -> None:
    nodes.start("127.0.0.2")
    created = nodes.create()
    assert created.returncode == 0, created.stdout[-2000:] + created.stderr[-2000:]
    assert "cluster_state:ok on every node" in created.stdout
    assert nodes.ok_everywhere("127.0.0.2")
    c = nodes.client("127.0.0.2", nodes.ports[0])
    # three primaries and three replicas, once the roles have spread by gossip
    nodes.wait(lambda: sorted("master" in n["flags"] for n in c.cluster("nodes").values()) == [False] * 3 + [True] * 3,
               "three primaries and three replicas in node 0's view")
    # clients are sent to the stable names, not to IPs that change
    endpoints = {row[2][0] for row in c.execute_command("CLUSTER SLOTS")}
    assert endpoints <= {nodes.name(i) for i in range(NODES)} and endpoints
    owner = _owner(nodes, "127.0.0.2", "{iam:000000000000}")
    nodes.client("127.0.0.2", owner).set("{iam:000000000000}", "kept")
    nodes.client("127.0.0.2", owner).execute_command("WAIT", 1, 2000)

    again = nodes.create()  # the Job run a second time (re-applied, retried)
    assert again.returncode == 0 and "exists already" in again.stdout

    # every pod restarts at once and comes back on another address
    nodes.stop()
    nodes.start("127.0.0.3")
    nodes.wait(lambda: nodes.ok_everywhere("127.0.0.3"), "cluster_state:ok after the move to 127.0.0.3")
    addresses = list(nodes.client("127.0.0.3", nodes.ports[0]).cluster("nodes"))
    assert len(addresses) == NODES and all(a.startswith("127.0.0.3:") for a in addresses), addresses
    owner = _owner(nodes, "127.0.0.3", "{iam:000000000000}")
    assert nodes.client("127.0.0.3", owner).get("{iam:000000000000}") == "kept"  # the AOF came back too
