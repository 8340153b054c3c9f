"""Small Redis steps the sign-in stores share: a failure as ServiceUnavailable (`guard`), a
reply as text (`text`), and compare-and-set on one field of a HASH under WATCH (no Lua:
`tessera dev`'s embedded store, fakeredis without lupa, runs the same code)."""
from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

from redis.exceptions import RedisError, WatchError

from app.core.errors import ServiceUnavailable

T = TypeVar("T")
UNAVAILABLE = "the sign-in store is unavailable"


async def guard(op: Awaitable[T]) -> T:
    try:
        return await op
    except RedisError as exc:
        raise ServiceUnavailable(UNAVAILABLE, reason="store_unavailable") from exc


def text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


async def compare_and_set(redis: Any, key: str, field: str, matches: Callable[[str], bool],
                          mapping: Mapping[str, str]) -> bool:
    """Write `mapping` into HASH `key` if its `field` exists and `matches`; False when it does
    not, or when the key changed between the read and the write (a concurrent writer won)."""
    try:
        async with redis.pipeline(transaction=True) as pipe:
            await pipe.watch(key)
            current = await pipe.hget(key, field)
            if current is None or not matches(text(current)):
                await pipe.unwatch()
                return False
            pipe.multi()
            pipe.hset(key, mapping=dict(mapping))
            await pipe.execute()
            return True
    except WatchError:
        return False
    except RedisError as exc:
        raise ServiceUnavailable(UNAVAILABLE, reason="store_unavailable") from exc
