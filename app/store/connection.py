"""Redis connections: a real server (redis-py asyncio + hiredis) or the embedded store.

`tessera dev` runs the very same store code on fakeredis' in-process server.
"""
from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis


def connect(url: str, *, max_connections: int = 64) -> aioredis.Redis:
    return aioredis.Redis.from_url(
        url,
        decode_responses=True,
        max_connections=max_connections,
        socket_connect_timeout=2.0,
        socket_timeout=5.0,
        health_check_interval=30,
    )


def embedded() -> Any:
    """An in-process Redis (fakeredis) speaking the same asyncio API."""
    import fakeredis

    return fakeredis.FakeAsyncRedis(decode_responses=True)
