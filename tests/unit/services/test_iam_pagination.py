"""Property: paging through any IAM listing with random MaxItems yields every entity exactly
once, in order (real Redis, db 15)."""
from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
import redis.asyncio as aioredis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.core import arn
from app.core.clock import FixedClock
from app.core.records import Call, Caller, RequestMeta
from app.services.iam import IamService
from app.store.iam_store import IamStore
from app.store.secretbox import SecretBox
from tests.redis_target import redis_url

URL = redis_url(15)
ACCT = "210987654321"
ROOT = Call(Caller("root", ACCT, arn.root(ACCT), ACCT, arn.root(ACCT), "AKIAROOT"),
            RequestMeta(request_id="r", received_at=0.0))
USERS = [f"u{i:03d}" for i in range(230)]
DOC = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}'


class AllowAll:
    async def require(self, call: Any, action: str, resource: str, **_: Any) -> None:
        return None


def service(client: aioredis.Redis) -> IamService:
    store = IamStore(client, account=ACCT, box=SecretBox(b"p" * 32), clock=FixedClock(0))
    return IamService(store, AllowAll(), account=ACCT, clock=FixedClock(0))


async def _populate() -> None:
    client = aioredis.Redis.from_url(URL, decode_responses=True)
    await client.flushdb()
    iam = service(client)
    for i, name in enumerate(USERS):
        # mixed case and two paths: order is case-insensitive, PathPrefix filters
        await iam.create_user(ROOT, user_name=name.upper() if i % 3 == 0 else name,
                              path="/a/" if i % 2 else "/b/")
    await iam.create_group(ROOT, group_name="g")
    for name in USERS[:40]:
        await iam.add_user_to_group(ROOT, group_name="g", user_name=name)
    await iam.create_policy(ROOT, policy_name="P", policy_document=DOC)
    await client.aclose()


@pytest.fixture(scope="module", autouse=True)
def population() -> Iterator[None]:
    asyncio.run(_populate())
    yield
    asyncio.run(_flush())


async def _flush() -> None:
    client = aioredis.Redis.from_url(URL, decode_responses=True)
    await client.flushdb()
    await client.aclose()


async def _walk(sizes: list[int], prefix: str | None, what: str) -> list[str]:
    client = aioredis.Redis.from_url(URL, decode_responses=True)
    iam = service(client)
    out: list[str] = []
    marker = None
    try:
        for step in range(10_000):
            size = sizes[step % len(sizes)]
            if what == "users":
                page = await iam.list_users(ROOT, path_prefix=prefix, marker=marker, max_items=size)
                out += [u.user_name for u in page["users"]]
            else:
                page = await iam.get_group(ROOT, group_name="g", marker=marker, max_items=size)
                out += [u.user_name for u in page["users"]]
            assert len(page[what if what == "users" else "users"]) <= size
            if not page["is_truncated"]:
                assert page["marker"] is None
                return out
            marker = page["marker"]
    finally:
        await client.aclose()
    raise AssertionError("pagination did not terminate")


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(sizes=st.lists(st.integers(min_value=1, max_value=120), min_size=1, max_size=8),
       prefix=st.sampled_from([None, "/", "/a/", "/b/", "/c/"]))
def test_list_users_pages_cover_each_user_once_in_order(sizes: list[int], prefix: str | None) -> None:
    names = asyncio.run(_walk(sizes, prefix, "users"))
    expected = [n.upper() if i % 3 == 0 else n for i, n in enumerate(USERS)
                if prefix in (None, "/") or prefix == ("/a/" if i % 2 else "/b/")]
    assert names == sorted(expected, key=str.lower)


@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
@given(sizes=st.lists(st.integers(min_value=1, max_value=50), min_size=1, max_size=5))
def test_group_members_pages_cover_each_member_once(sizes: list[int]) -> None:
    names = asyncio.run(_walk(sizes, None, "group"))
    expected = [n.upper() if i % 3 == 0 else n for i, n in enumerate(USERS[:40])]
    assert names == sorted(expected, key=str.lower)
