"""Redis servers that a test harness started on loopback (tests/redis_cluster.py's nodes,
tests/redis_sentinel.py's data nodes and sentinels): their processes by port and the temporary
directory of their files, stopped and removed together.

    @dataclass
    class RedisThing(RedisProcesses):
        directory: str
        procs: dict[int, subprocess.Popen[bytes]] = field(default_factory=dict)

    with RedisThing.start() as thing:   # stop() at the end, whatever happened
        ...
"""
from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable
from typing import Self

import redis


def replicates_writes(port: int, key: str, replicas: int = 1) -> bool:
    """Whether a write of `key` to the primary on `port` reaches `replicas` replicas within
    100 ms (WAIT). A replica's link is up before it gets writes: after a diskless sync the
    primary streams to it from its first REPLCONF ACK only, up to a second later, and until then
    a WAIT (TESSERA_REDIS_WAIT_REPLICAS) gets no acknowledgement from it. The key expires in 1 s."""
    client = redis.Redis(port=port, single_connection_client=True, socket_timeout=5)
    try:
        client.set(key, "1", px=1000)
        return int(client.execute_command("WAIT", replicas, 100)) >= replicas
    except redis.RedisError:
        return False
    finally:
        client.close()


class RedisProcesses:
    """A mixin for a harness (a dataclass) that has `procs` (port: redis-server process) and
    `directory`."""

    procs: dict[int, subprocess.Popen[bytes]]
    directory: str

    def stop(self) -> None:
        """SIGKILL every server still running, wait for each (up to 5 s), remove the files."""
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.kill()
        for proc in self.procs.values():
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                pass
        self.procs.clear()
        shutil.rmtree(self.directory, ignore_errors=True)

    def _wait(self, check: Callable[[], bool], timeout: float, what: str) -> None:
        """Poll `check` every 0.05 s until it holds (a Redis error, or a node not found yet,
        counts as not yet), or raise RuntimeError after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if check():
                    return
            except (redis.RedisError, RuntimeError, StopIteration):
                pass
            time.sleep(0.05)
        raise RuntimeError(f"timed out waiting for {what} (files in {self.directory})")

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
