"""Fixtures shared by the IAM store tests: a clock fixed at NOW and the account's IamStore on the
module's database (tests/unit/conftest.py's `redis`, or the module's own), sealing with the
module's `BOX` when it names one (tests that open sealed values need the same box). A module
that needs another store or clock defines its own fixture of that name."""
from __future__ import annotations

import pytest
import redis.asyncio as aioredis

from app.core.clock import FixedClock
from app.store.iam_store import IamStore
from app.store.secretbox import SecretBox

ACCT = "123456789012"
NOW = 1_700_000_000.0


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
def store(request: pytest.FixtureRequest, redis: aioredis.Redis, clock: FixedClock) -> IamStore:
    box = getattr(request.module, "BOX", None) or SecretBox(b"s" * 32)
    return IamStore(redis, account=ACCT, box=box, clock=clock)
