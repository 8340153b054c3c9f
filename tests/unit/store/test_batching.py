from __future__ import annotations

import asyncio

import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

from app.store.batching import AutoPipeline

URL = "redis://127.0.0.1:6379/9"


class Counting:
    """Counts the round trips the batcher makes on a real client."""

    def __init__(self, real):
        self.real = real
        self.pipelines = 0
        self.singles = 0

    def pipeline(self, transaction):
        assert transaction is False
        self.pipelines += 1
        return self.real.pipeline(transaction=False)

    async def get(self, key):
        self.singles += 1
        return await self.real.get(key)


async def test_concurrent_commands_share_one_round_trip(redis):
    await redis.mset({f"k{i}": str(i) for i in range(20)})
    counting = Counting(redis)
    auto = AutoPipeline(counting)
    results = await asyncio.gather(*(auto.get(f"k{i}") for i in range(20)), auto.get("missing"))
    assert results == [str(i) for i in range(20)] + [None]
    assert counting.pipelines == 1 and counting.singles == 0


async def test_a_lone_command_is_sent_directly(redis):
    await redis.set("a", "1")
    counting = Counting(redis)
    assert await AutoPipeline(counting).get("a") == "1"
    assert counting.singles == 1 and counting.pipelines == 0


async def test_set_options_and_mget(redis):
    auto = AutoPipeline(redis)
    first, second = await asyncio.gather(auto.set("s", "v", nx=True, px=60_000), auto.set("s", "w", nx=True))
    assert first is True and second is None
    assert await redis.get("s") == "v" and 0 < await redis.pttl("s") <= 60_000
    assert await auto.mget("s", "none") == ["v", None]


async def test_each_caller_gets_its_own_error(redis):
    await redis.lpush("list", "x")
    auto = AutoPipeline(redis)
    ok, bad = await asyncio.gather(auto.set("fine", "1"), auto.get("list"), return_exceptions=True)
    assert ok is True
    assert isinstance(bad, ResponseError)  # WRONGTYPE for that caller only


async def test_a_dead_connection_fails_every_waiting_caller():
    dead = aioredis.Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.5)
    auto = AutoPipeline(dead)
    results = await asyncio.gather(auto.get("a"), auto.get("b"), return_exceptions=True)
    assert all(isinstance(r, (RedisConnectionError, OSError)) for r in results)
    await dead.aclose()


async def test_batches_are_capped(redis):
    counting = Counting(redis)
    auto = AutoPipeline(counting, max_batch=8)
    await asyncio.gather(*(auto.get(f"k{i}") for i in range(20)))
    assert counting.pipelines == 3
