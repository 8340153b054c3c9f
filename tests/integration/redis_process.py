"""A private redis-server process that a test stops and starts under a running service."""
from __future__ import annotations

import os
import signal
import subprocess
import time

import redis

from .conftest import free_port


class RedisProcess:
    """`RedisProcess(data_dir, persistent=True)`: redis-server on a free port of 127.0.0.1.
    Persistent: an append-only file, synced on every write, brings the data back after a
    restart, even after SIGKILL. Not persistent: it comes back empty."""

    def __init__(self, data_dir: str, *, persistent: bool = True) -> None:
        os.makedirs(data_dir, exist_ok=True)
        self.port = free_port()
        self.persistent = persistent
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._args = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                      "--dir", data_dir, "--appendonly", "yes" if persistent else "no", "--appendfsync", "always"]
        self._proc: subprocess.Popen[bytes] | None = None
        self.start()

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port)

    def start(self) -> None:
        """Start it and wait until it answers PING (with its data loaded)."""
        self._proc = subprocess.Popen(self._args, stdout=subprocess.DEVNULL)
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                with self.client() as r:
                    if r.ping():
                        return
            except redis.exceptions.ConnectionError:  # refused, or still loading its data
                time.sleep(0.02)
        raise RuntimeError("redis-server did not start")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        """SIGTERM: a clean shutdown; SIGKILL: a crash."""
        assert self._proc is not None
        self._proc.send_signal(sig)
        self._proc.wait(10)

    def restart(self, sig: int = signal.SIGTERM) -> None:
        self.stop(sig)
        self.start()

    def close(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait(10)
