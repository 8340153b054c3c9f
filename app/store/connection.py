"""Redis connections: a real server (redis-py asyncio + hiredis) or the embedded store.

`tessera dev` runs the very same store code on fakeredis' in-process server.
"""
from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis


def connect(url: str, *, max_connections: int = 64, wait: float = 5.0) -> aioredis.Redis:
    """A client whose pool makes a burst of callers beyond `max_connections` wait (up to
    `wait` seconds) for a free connection instead of failing with "Too many connections"."""
    pool = aioredis.BlockingConnectionPool.from_url(
        url,
        decode_responses=True,
        max_connections=max_connections,
        timeout=wait,
        socket_connect_timeout=2.0,
        socket_timeout=5.0,
        health_check_interval=30,
    )
    return aioredis.Redis.from_pool(pool)


def embedded() -> Any:
    """An in-process Redis (fakeredis) speaking the same asyncio API."""
    import fakeredis

    return fakeredis.FakeAsyncRedis(decode_responses=True)
