"""Fixtures shared by the unit tests."""
from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
import redis.asyncio as aioredis

from tests.redis_target import redis_url


@pytest_asyncio.fixture(loop_scope="function")
async def redis(request: pytest.FixtureRequest) -> AsyncIterator[aioredis.Redis]:
    """A real Redis connection on the test module's database (`URL` in the module),
    flushed before and after the test."""
    url = getattr(request.module, "URL", redis_url(15))
    client = aioredis.Redis.from_url(url, decode_responses=True)
    await client.flushdb()
    yield client
    await client.flushdb()
    await client.aclose()
