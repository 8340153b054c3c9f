"""SessionStore against a real Redis (db 14, flushed per test)."""
from __future__ import annotations

import json
import time
from dataclasses import replace

import pytest
import redis.asyncio as aioredis

from app.core import arn
from app.core.clock import FixedClock
from app.core.errors import ServiceUnavailable
from app.core.records import Session, Tag
from app.store.keys import Keys
from app.store.secretbox import SecretBox
from app.store.sessions import SessionStore
from tests.redis_target import redis_url

URL = redis_url(14)
ACCT = "123456789012"
BOX = SecretBox(b"m" * 32)
NOW = float(int(time.time()))
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


def role_session(akid: str = "ASIAAAAAAAAAAAAAAAA1", **kw: object) -> Session:
    base = Session(
        access_key_id=akid, secret_access_key=SECRET, kind="assumed-role", account=ACCT,
        arn=arn.assumed_role(ACCT, "Deploy", "alice"), user_id="AROAAAAAAAAAAAAAAAAAA:alice",
        principal_arn=arn.role(ACCT, "/ci/", "Deploy"), principal_id="AROAAAAAAAAAAAAAAAAAA",
        principal_name="Deploy", issued_at=NOW, expires_at=NOW + 3600, session_name="alice",
    )
    return replace(base, **kw)  # type: ignore[arg-type]


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
def store(redis: aioredis.Redis, clock: FixedClock) -> SessionStore:
    return SessionStore(redis, box=BOX, clock=clock)


FULL = role_session(
    session_policy='{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}',
    session_policy_arns=("arn:aws:iam::123456789012:policy/ReadOnly",),
    tags=(Tag("team", "blue"), Tag("cost", "")), transitive_tag_keys=("team",),
    source_identity="alice@example.com", mfa_authenticated=True, mfa_authenticated_at=NOW - 60,
    chained=True, federated_provider="arn:aws:iam::123456789012:saml-provider/Okta",
    federation_context=(("saml:sub", "alice"), ("saml:aud", "https://x/saml")),
)
USER = Session(
    access_key_id="ASIAAAAAAAAAAAAAAAA2", secret_access_key=SECRET, kind="user-session", account=ACCT,
    arn=arn.user(ACCT, "/div/", "bob"), user_id="AIDAAAAAAAAAAAAAAAAAA",
    principal_arn=arn.user(ACCT, "/div/", "bob"), principal_id="AIDAAAAAAAAAAAAAAAAAA",
    principal_name="bob", issued_at=NOW, expires_at=NOW + 43200,
)
ROOT = Session(
    access_key_id="ASIAAAAAAAAAAAAAAAA3", secret_access_key=SECRET, kind="root-session", account=ACCT,
    arn=arn.root(ACCT), user_id=ACCT, principal_arn=arn.root(ACCT), principal_id=ACCT,
    principal_name="", issued_at=NOW, expires_at=NOW + 900,
)
FED = Session(
    access_key_id="ASIAAAAAAAAAAAAAAAA4", secret_access_key=SECRET, kind="federated-user", account=ACCT,
    arn=arn.federated_user(ACCT, "carol"), user_id=f"{ACCT}:carol", principal_arn=arn.user(ACCT, "/", "bob"),
    principal_id="AIDAAAAAAAAAAAAAAAAAA", principal_name="bob", issued_at=NOW, expires_at=NOW + 900,
    session_name="carol", session_policy='{"Version":"2012-10-17","Statement":[]}',
)
ODD = replace(USER, access_key_id="ASIAAAAAAAAAAAAAAAA5", arn="arn:aws:iam::123456789012:user/other",
              user_id="weird", principal_name="renamed")


@pytest.mark.parametrize("session", [role_session(), FULL, USER, ROOT, FED, ODD],
                         ids=["role", "full", "user", "root", "federated", "non-derivable"])
async def test_round_trip_is_exact(store: SessionStore, session: Session) -> None:
    await store.put(session, "digest-1")
    assert await store.get(session.access_key_id) == (session, "digest-1")


async def test_secret_is_not_stored_in_plaintext(store: SessionStore, redis: aioredis.Redis) -> None:
    await store.put(FULL, "d")
    raw = await redis.get(Keys.session(FULL.access_key_id))
    assert SECRET not in raw
    assert json.loads(raw)["s"].startswith("v1.")


async def test_key_expires_with_the_credentials(store: SessionStore, redis: aioredis.Redis) -> None:
    await store.put(role_session(), "d")
    pxat = await redis.pexpiretime(Keys.session("ASIAAAAAAAAAAAAAAAA1"))
    assert pxat == int((NOW + 3600) * 1000)


async def test_unknown_is_none(store: SessionStore) -> None:
    assert await store.get("ASIANOTHERE000000000") is None


async def test_expired_by_clock_is_none(store: SessionStore, clock: FixedClock) -> None:
    await store.put(role_session(), "d")
    clock.advance(3600)
    assert await store.get("ASIAAAAAAAAAAAAAAAA1") is None


async def test_refuses_to_store_expired(store: SessionStore) -> None:
    with pytest.raises(ValueError):
        await store.put(role_session(expires_at=NOW - 1), "d")


async def test_record_moved_to_another_key_does_not_open(store: SessionStore, redis: aioredis.Redis) -> None:
    await store.put(role_session(), "d")
    raw = await redis.get(Keys.session("ASIAAAAAAAAAAAAAAAA1"))
    await redis.set(Keys.session("ASIAOTHER00000000000"), raw)
    assert await store.get("ASIAOTHER00000000000") is None


async def test_corrupt_record_is_none(store: SessionStore, redis: aioredis.Redis) -> None:
    await redis.set(Keys.session("ASIABROKEN0000000000"), "{not json")
    assert await store.get("ASIABROKEN0000000000") is None


async def test_never_overwrites_an_existing_session(store: SessionStore) -> None:
    await store.put(role_session(), "d1")
    with pytest.raises(Exception):
        await store.put(role_session(session_name="mallory"), "d2")
    found = await store.get("ASIAAAAAAAAAAAAAAAA1")
    assert found is not None and found[1] == "d1"


async def test_redis_failure_raises_service_unavailable(clock: FixedClock) -> None:
    dead = aioredis.Redis.from_url("redis://127.0.0.1:1/0", decode_responses=True, socket_connect_timeout=0.5)
    store = SessionStore(dead, box=BOX, clock=clock)
    with pytest.raises(ServiceUnavailable):
        await store.put(role_session(), "d")
    with pytest.raises(ServiceUnavailable):
        await store.get("ASIAAAAAAAAAAAAAAAA1")
    await dead.aclose()


@pytest.mark.parametrize("session", [role_session(), FULL, USER], ids=["role", "full", "user"])
async def test_memory_per_session_is_under_1kb(store: SessionStore, redis: aioredis.Redis, session: Session) -> None:
    await store.put(session, "a" * 64)
    used = await redis.memory_usage(Keys.session(session.access_key_id))
    assert used is not None and used < 1024, used


async def test_max_size_session_policy_stays_under_1kb(store: SessionStore, redis: aioredis.Redis) -> None:
    statements = ",".join(
        f'{{"Sid":"S{i}","Effect":"Allow","Action":["s3:GetObject","s3:ListBucket"],'
        f'"Resource":"arn:aws:s3:::bucket-{i}/*"}}' for i in range(18)
    )
    policy = f'{{"Version":"2012-10-17","Statement":[{statements}]}}'
    assert 1800 < len(policy) <= 2048
    session = role_session(session_policy=policy)
    await store.put(session, "a" * 64)
    used = await redis.memory_usage(Keys.session(session.access_key_id))
    assert used is not None and used < 1024, used
    found = await store.get(session.access_key_id)
    assert found is not None and found[0].session_policy == policy


async def test_live_decodes_a_record_once_and_rechecks_expiry(store: SessionStore, redis: aioredis.Redis,
                                                              clock: FixedClock) -> None:
    s = role_session()
    await store.put(s, "digest")
    raw = await redis.get(Keys.session(s.access_key_id))
    first = store.live(s.access_key_id, raw)
    assert first is not None and first[0] == s
    assert store.live(s.access_key_id, raw) is first  # remembered: no second decode
    assert store.live(s.access_key_id, raw.replace('"h":"digest"', '"h":"other"'))[1] == "other"  # type: ignore[index]
    assert store.live(s.access_key_id, None) is None
    clock.advance(3600)
    assert store.live(s.access_key_id, raw) is None  # expiry is checked on every call
