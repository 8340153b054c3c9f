"""The store's redis-py client: bursts beyond the pool size wait for a connection."""
from __future__ import annotations

import asyncio

from app.store.connection import connect
from tests.redis_target import redis_url

URL = redis_url(9)


async def test_a_burst_beyond_the_pool_waits_instead_of_failing(redis) -> None:
    client = connect(URL, max_connections=4)
    try:
        async def transaction(i: int) -> list[object]:
            async with client.pipeline(transaction=True) as pipe:
                pipe.set(f"k{i}", i)
                pipe.incr("count")
                return await pipe.execute()

        results = await asyncio.gather(*(transaction(i) for i in range(200)))
        assert sorted(r[1] for r in results) == list(range(1, 201))
        assert await redis.get("count") == "200"
    finally:
        await client.aclose()
