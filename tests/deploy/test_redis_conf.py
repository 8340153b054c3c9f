"""deploy/redis/*.conf: the persistence settings Tessera relies on, and a real redis-server
that loads each file (on a Unix socket in a temporary folder: no TCP port taken)."""
from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import pytest
import redis

from tests.deploy.context import DEPLOY

CONFS = sorted((DEPLOY / "redis").glob("*.conf"))


def directives(path: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition(" ")
            assert key.lower() not in out or key.lower() == "save", f"{path.name}: {key} twice"
            out[key.lower()] = value.strip()
    return out


def test_both_configurations_exist() -> None:
    assert [p.name for p in CONFS] == ["redis-cluster.conf", "redis.conf"]


@pytest.mark.parametrize("conf", CONFS, ids=lambda p: p.name)
def test_persistence_and_memory_settings(conf: Path) -> None:
    d = directives(conf)
    assert d["appendonly"] == "yes"
    assert d["appendfsync"] in ("always", "everysec")
    assert d["no-appendfsync-on-rewrite"] == "no"
    assert d["aof-use-rdb-preamble"] == "yes"
    assert d["maxmemory-policy"] == "noeviction"
    assert d["stop-writes-on-bgsave-error"] == "yes"
    assert d["replica-serve-stale-data"] == "no"
    # every setting is explained: a comment block precedes each group
    text = conf.read_text(encoding="utf-8")
    assert text.count("\n#") >= 20


def test_a_single_server_fsyncs_always_and_a_cluster_relies_on_its_replicas() -> None:
    single, cluster = directives(DEPLOY / "redis" / "redis.conf"), directives(DEPLOY / "redis" / "redis-cluster.conf")
    assert single["appendfsync"] == "always" and single["min-replicas-to-write"] == "0"
    assert cluster["appendfsync"] == "everysec" and cluster["min-replicas-to-write"] == "1"
    assert cluster["cluster-enabled"] == "yes" and int(cluster["cluster-node-timeout"]) > 0
    assert cluster["cluster-config-file"].startswith("/data/")


@pytest.mark.parametrize("conf", CONFS, ids=lambda p: p.name)
def test_redis_server_loads_it(conf: Path, tmp_path: Path) -> None:
    server = shutil.which("redis-server")
    if server is None:
        pytest.skip("redis-server is not installed")
    # `dir` is applied while the file is read (chdir): point it at the temporary folder
    text = conf.read_text(encoding="utf-8").replace("\ndir /data\n", f"\ndir {tmp_path}\n")
    (tmp_path / conf.name).write_text(text, encoding="utf-8")
    sock = tmp_path / "redis.sock"
    proc = subprocess.Popen([server, str(tmp_path / conf.name), "--port", "0", "--unixsocket", str(sock),
                             "--cluster-config-file", str(tmp_path / "nodes.conf"), "--daemonize", "no",
                             "--logfile", str(tmp_path / "log")], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        for _ in range(100):
            if sock.exists() or proc.poll() is not None:
                break
            time.sleep(0.05)
        log = (tmp_path / "log").read_text(encoding="utf-8") if (tmp_path / "log").exists() else ""
        assert proc.poll() is None, f"redis-server refused {conf.name}: {log[-1500:]}"
        client = redis.Redis(unix_socket_path=str(sock), decode_responses=True)
        expected = directives(conf)
        for key in ("appendonly", "appendfsync", "maxmemory-policy", "aof-use-rdb-preamble", "min-replicas-to-write"):
            assert client.config_get(key)[key] == expected[key], key
        assert client.info("persistence")["aof_enabled"] == 1
        assert client.info("cluster")["cluster_enabled"] == (1 if expected.get("cluster-enabled") == "yes" else 0)
        client.close()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
