"""RoleLastUsed in Redis: the value format, and the write leaving with the session's SET."""
from __future__ import annotations

import asyncio

import pytest

from app.core.records import RoleLastUsed
from app.store.keys import Keys
from app.store.multiplex import MultiplexedRedis
from app.store.role_usage import MAX_REGION, RoleUsageStore, decode, encode
from tests.redis_target import redis_url
from tests.unit.store.socket_writes import counting_writes

URL = redis_url(9)
ACCT = "123456789012"
ROLE_ID = "AROAEXAMPLE000000001"

DECODED = [
    # (note, stored value, what GetRole shows for ROLE_ID)
    ("never used", None, RoleLastUsed()),
    ("used", f"1700000000 {ROLE_ID} eu-west-1", RoleLastUsed(1700000000.0, "eu-west-1")),
    ("bytes from a client without decode_responses", f"1700000000 {ROLE_ID} eu-west-1".encode(),
     RoleLastUsed(1700000000.0, "eu-west-1")),
    ("left by an earlier role of the same name", "1700000000 AROAOTHER00000000001 eu-west-1", RoleLastUsed()),
    ("a region with a space survives", f"1700000000 {ROLE_ID} my region", RoleLastUsed(1700000000.0, "my region")),
    ("no region", f"1700000000 {ROLE_ID} ", RoleLastUsed(1700000000.0, None)),
    ("garbage", "not a record", RoleLastUsed()),
    ("empty", "", RoleLastUsed()),
    ("non-numeric date", f"yesterday {ROLE_ID} eu-west-1", RoleLastUsed()),
]


@pytest.mark.parametrize("raw, shown", [c[1:] for c in DECODED], ids=[c[0] for c in DECODED])
def test_decode(raw: str | bytes | None, shown: RoleLastUsed) -> None:
    assert decode(raw, ROLE_ID) == shown


def test_encode_round_trips_and_bounds_the_region() -> None:
    assert decode(encode(1700000000.9, ROLE_ID, "ap-south-1"), ROLE_ID) == RoleLastUsed(1700000000.0, "ap-south-1")
    assert decode(encode(1.0, ROLE_ID, "r" * 500), ROLE_ID).region == "r" * MAX_REGION


async def test_the_write_leaves_in_the_same_socket_write_as_the_session(redis) -> None:
    hot = MultiplexedRedis.of(redis)
    await hot.get("connect")  # the handshake's own writes
    writes = counting_writes(hot)
    used = RoleUsageStore(hot, Keys(ACCT)).record("Deploy", ROLE_ID, "eu-west-1", 1700000000.0)
    session = hot.set(Keys.session("ASIAEXAMPLE"), "record", nx=True, px=60_000)  # SessionStore.put's SET
    assert await asyncio.gather(used, session) == [True, True]
    assert len(writes) == 1
    assert decode(await redis.get(Keys(ACCT).role_last_used("deploy")), ROLE_ID).region == "eu-west-1"
    await hot.aclose()
