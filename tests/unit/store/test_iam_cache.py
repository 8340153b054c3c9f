"""CachedIamReads and the IAM epoch (real Redis db 15): what is cached, for which request, and
that every IAM write makes the very next request read fresh state."""
from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import redis.asyncio as aioredis

from app.core import arn
from app.core.clock import FixedClock
from app.core.errors import AccessDenied
from app.core.records import Call, Caller, RequestMeta
from app.services.authz import Authorizer
from app.services.iam import IamService
from app.store.iam_cache import CachedIamReads
from app.store.iam_store import IamStore
from app.store.keys import Keys
from app.store.role_usage import RoleUsageStore
from app.store.secretbox import SecretBox
from tests.redis_target import redis_url

URL = redis_url(15)
ACCT = "123456789012"
NOW = 1_700_000_000.0
KEYS = Keys(ACCT)
META = RequestMeta(request_id="r-1", received_at=NOW)
ROOT = Call(Caller("root", ACCT, arn.root(ACCT), ACCT, arn.root(ACCT), "AKIAROOT"), META)
ALICE = Call(Caller("user", ACCT, arn.user(ACCT, "/", "alice"), "AIDAX", arn.user(ACCT, "/", "alice"),
                    "AKIAALICE", name="alice"), META)


def doc(effect: str, action: str) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": effect, "Action": action, "Resource": "*"}]})


TRUST = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"AWS": arn.root(ACCT)}, "Action": "sts:AssumeRole"}]})


class CountingStore(IamStore):
    """An IamStore that counts the hot-path reads reaching it."""

    reads: int = 0

    async def get_user(self, name: str) -> Any:
        self.reads += 1
        return await super().get_user(name)

    async def principal_policies(self, kind: str, name: str) -> Any:
        self.reads += 1
        return await super().principal_policies(kind, name)


@pytest.fixture
def store(redis: aioredis.Redis) -> CountingStore:
    return CountingStore(redis, account=ACCT, box=SecretBox(b"c" * 32), clock=FixedClock(NOW))


@pytest.fixture
def cache(store: CountingStore, redis: aioredis.Redis) -> CachedIamReads:
    return CachedIamReads(store, redis, KEYS)


async def request(body: Callable[[], Awaitable[Any]]) -> Any:
    """Run `body` as the server runs a request: in a task of its own (its own context)."""
    return await asyncio.get_running_loop().create_task(body())


async def raw_rename_path(redis: aioredis.Redis, name: str, path: str) -> None:
    """Change a user record behind the store's back (no epoch bump): shows what is cached."""
    key = KEYS.entity("user", name.lower())
    d = json.loads(await redis.get(key))
    d["p"] = path
    await redis.set(key, json.dumps(d))


# ---- CachedIamReads ----
async def test_pinned_reads_are_cached_unpinned_are_not(cache: CachedIamReads, store: CountingStore,
                                                        redis: aioredis.Redis) -> None:
    await store.create_user("alice")
    assert cache.pinned is None
    for _ in range(2):
        assert (await cache.get_user("alice")).path == "/"  # type: ignore[union-attr]
    assert store.reads == 2 and len(cache) == 0

    async def one() -> str:
        await cache.pin()
        first = await cache.get_user("alice")
        await raw_rename_path(redis, "alice", "/moved/")
        second = await cache.get_user("ALICE")  # names are case-insensitive
        assert first is second
        return second.path  # type: ignore[union-attr]

    assert await request(one) == "/"
    assert store.reads == 3
    assert (await cache.get_user("alice")).path == "/moved/"  # type: ignore[union-attr]


async def test_pin_returns_the_extra_keys(cache: CachedIamReads, redis: aioredis.Redis) -> None:
    await redis.set("sess:ASIAX", "record")
    assert await cache.pin("sess:ASIAX", "sess:NONE") == ["record", None]
    assert cache.pinned is None  # nothing ever written: no epoch yet, so no caching


async def test_epoch_bump_invalidates(cache: CachedIamReads, store: CountingStore, redis: aioredis.Redis) -> None:
    await store.create_user("alice")

    async def read() -> str:
        await cache.pin()
        return (await cache.get_user("alice")).path  # type: ignore[union-attr]

    assert await request(read) == "/"
    await raw_rename_path(redis, "alice", "/raw/")
    assert await request(read) == "/"  # same epoch: cached
    await store.tag("user", "alice", [], quota_name="TagsPerUser")  # any IAM write
    assert await request(read) == "/raw/"


async def test_negative_results_are_cached(cache: CachedIamReads, store: CountingStore, redis: aioredis.Redis) -> None:
    await store.create_user("someone")  # an epoch exists

    async def read() -> Any:
        await cache.pin()
        return await cache.get_user("ghost")

    assert await request(read) is None
    reads = store.reads
    assert await request(read) is None
    assert store.reads == reads  # served from memory
    await store.create_user("ghost")
    assert (await request(read)).user_name == "ghost"


async def test_write_between_two_requests_is_seen_by_the_second(cache: CachedIamReads,
                                                                store: CountingStore) -> None:
    await store.create_user("alice")
    await store.put_inline("user", "alice", "p", doc("Allow", "s3:*"), 10)

    async def policies() -> tuple[str, ...]:
        await cache.pin()
        pp = await cache.principal_policies("user", "alice")
        return tuple(d for _, d in pp.identity)  # type: ignore[union-attr]

    assert await request(policies) == (doc("Allow", "s3:*"),)
    await store.put_inline("user", "alice", "p", doc("Deny", "s3:*"), 10)
    assert await request(policies) == (doc("Deny", "s3:*"),)


async def test_read_your_writes_within_a_request(cache: CachedIamReads, store: CountingStore) -> None:
    await store.create_user("alice")

    async def body() -> tuple[str, str]:
        await cache.pin()
        before = (await cache.get_user("alice")).path  # type: ignore[union-attr]
        await store.update_user("alice", new_path="/new/")
        assert cache.pinned is None  # the write dropped this request's pin
        return before, (await cache.get_user("alice")).path  # type: ignore[union-attr]

    assert await request(body) == ("/", "/new/")


async def test_requests_are_isolated_and_an_old_pin_reads_through(cache: CachedIamReads, store: CountingStore,
                                                                  redis: aioredis.Redis) -> None:
    await store.create_user("alice")
    pinned, release = asyncio.Event(), asyncio.Event()

    async def slow() -> str:
        await cache.pin()
        pinned.set()
        await release.wait()
        return (await cache.get_user("alice")).path  # type: ignore[union-attr]

    async def fresh() -> tuple[Any, str]:
        await cache.pin()
        return cache.pinned, (await cache.get_user("alice")).path  # type: ignore[union-attr]

    task = asyncio.get_running_loop().create_task(slow())
    await pinned.wait()
    old_epoch = await redis.get(KEYS.epoch())
    await store.update_user("alice", new_path="/v2/")
    new_epoch, path = await request(fresh)  # moves the memory to the new epoch
    assert new_epoch != old_epoch and path == "/v2/"
    assert cache.pinned is None  # this test's own task never pinned
    release.set()
    assert await task == "/v2/"  # pinned to the old epoch: read through, never the newer cache


async def test_memory_is_bounded(store: CountingStore, redis: aioredis.Redis) -> None:
    cache = CachedIamReads(store, redis, KEYS, max_entries=3)
    await store.create_user("u0")

    async def read_many() -> None:
        await cache.pin()
        for i in range(10):
            await cache.get_user(f"u{i}")
            assert len(cache) <= 3

    await request(read_many)
    assert 0 < len(cache) <= 3


async def test_a_flushed_store_never_repeats_an_epoch(cache: CachedIamReads, store: CountingStore,
                                                      redis: aioredis.Redis) -> None:
    await store.create_user("alice")

    async def read() -> Any:
        await cache.pin()
        return await cache.get_user("alice")

    first = await request(read)
    await redis.flushdb()  # e.g. a restore from an older backup
    await store.create_user("alice", path="/other/")  # the first write after it
    assert (await request(read)).path == "/other/"  # type: ignore[union-attr]
    assert first.path == "/"


async def test_a_restored_older_snapshot_never_repeats_an_epoch(store: CountingStore,
                                                                  redis: aioredis.Redis) -> None:
    """Epochs are random, not counted: after the epoch goes back to an older value (a restore
    from a backup), the next writes never land on an epoch that caches hold for newer state."""
    await store.create_user("a")
    older = await redis.get(KEYS.epoch())
    await store.create_user("b")
    newer = await redis.get(KEYS.epoch())
    seen = {older, newer}
    await redis.set(KEYS.epoch(), older)  # the restore
    for i in range(20):
        await store.create_user(f"c{i}")
        epoch = await redis.get(KEYS.epoch())
        assert epoch not in seen
        seen.add(epoch)


# ---- every IAM write bumps the epoch; statistics do not ----
P = arn.policy(ACCT, "/", "P")
PV = arn.policy(ACCT, "/", "PV")
TAGS = [{"Key": "k", "Value": "v"}]
Step = tuple[str, dict[str, Any]]
WRITES: list[tuple[str, dict[str, Any], list[Step]]] = [
    ("create_user", {"user_name": "new"}, []),
    ("update_user", {"user_name": "u", "new_path": "/p/"}, []),
    ("update_user", {"user_name": "u", "new_user_name": "renamed"}, []),
    ("delete_user", {"user_name": "u"}, []),
    ("tag_user", {"user_name": "u", "tags": TAGS}, []),
    ("untag_user", {"user_name": "u", "tag_keys": ["k"]}, [("tag_user", {"user_name": "u", "tags": TAGS})]),
    ("create_group", {"group_name": "new"}, []),
    ("update_group", {"group_name": "g", "new_group_name": "g2"}, []),
    ("delete_group", {"group_name": "g"}, []),
    ("add_user_to_group", {"group_name": "g", "user_name": "u"}, []),
    ("remove_user_from_group", {"group_name": "g", "user_name": "u"},
     [("add_user_to_group", {"group_name": "g", "user_name": "u"})]),
    ("create_role", {"role_name": "new", "assume_role_policy_document": TRUST}, []),
    ("update_role", {"role_name": "r", "max_session_duration": 7200}, []),
    ("update_role_description", {"role_name": "r", "description": "d"}, []),
    ("update_assume_role_policy", {"role_name": "r", "policy_document": TRUST}, []),
    ("delete_role", {"role_name": "r"}, []),
    ("tag_role", {"role_name": "r", "tags": TAGS}, []),
    ("untag_role", {"role_name": "r", "tag_keys": ["k"]}, []),
    ("create_policy", {"policy_name": "new", "policy_document": doc("Allow", "s3:*")}, []),
    ("delete_policy", {"policy_arn": P}, []),
    ("create_policy_version", {"policy_arn": P, "policy_document": doc("Deny", "s3:*"), "set_as_default": True}, []),
    ("create_policy_version", {"policy_arn": P, "policy_document": doc("Deny", "s3:*")}, []),
    ("set_default_policy_version", {"policy_arn": PV, "version_id": "v2"}, []),
    ("delete_policy_version", {"policy_arn": PV, "version_id": "v2"}, []),
    ("tag_policy", {"policy_arn": P, "tags": TAGS}, []),
    ("untag_policy", {"policy_arn": P, "tag_keys": ["k"]}, []),
    ("attach_user_policy", {"user_name": "u", "policy_arn": P}, []),
    ("attach_group_policy", {"group_name": "g", "policy_arn": P}, []),
    ("attach_role_policy", {"role_name": "r", "policy_arn": P}, []),
    ("detach_user_policy", {"user_name": "u", "policy_arn": P}, [("attach_user_policy", {"user_name": "u", "policy_arn": P})]),
    ("detach_group_policy", {"group_name": "g", "policy_arn": P},
     [("attach_group_policy", {"group_name": "g", "policy_arn": P})]),
    ("detach_role_policy", {"role_name": "r", "policy_arn": P}, [("attach_role_policy", {"role_name": "r", "policy_arn": P})]),
    ("put_user_policy", {"user_name": "u", "policy_name": "i", "policy_document": doc("Allow", "s3:*")}, []),
    ("put_group_policy", {"group_name": "g", "policy_name": "i", "policy_document": doc("Allow", "s3:*")}, []),
    ("put_role_policy", {"role_name": "r", "policy_name": "i", "policy_document": doc("Allow", "s3:*")}, []),
    ("delete_user_policy", {"user_name": "u", "policy_name": "i"},
     [("put_user_policy", {"user_name": "u", "policy_name": "i", "policy_document": doc("Allow", "s3:*")})]),
    ("delete_group_policy", {"group_name": "g", "policy_name": "i"},
     [("put_group_policy", {"group_name": "g", "policy_name": "i", "policy_document": doc("Allow", "s3:*")})]),
    ("delete_role_policy", {"role_name": "r", "policy_name": "i"},
     [("put_role_policy", {"role_name": "r", "policy_name": "i", "policy_document": doc("Allow", "s3:*")})]),
    ("put_user_permissions_boundary", {"user_name": "u", "permissions_boundary": P}, []),
    ("delete_user_permissions_boundary", {"user_name": "u"},
     [("put_user_permissions_boundary", {"user_name": "u", "permissions_boundary": P})]),
    ("put_role_permissions_boundary", {"role_name": "r", "permissions_boundary": P}, []),
    ("delete_role_permissions_boundary", {"role_name": "r"},
     [("put_role_permissions_boundary", {"role_name": "r", "permissions_boundary": P})]),
    ("create_access_key", {"user_name": "u"}, []),
    ("update_access_key", {"user_name": "k", "access_key_id": "KEY", "status": "Inactive"}, []),
    ("delete_access_key", {"user_name": "k", "access_key_id": "KEY"}, []),
]


class AllowAll:
    async def require(self, call: Call, action: str, resource: str, **kw: Any) -> None:
        return None


@pytest.mark.parametrize("action, kwargs, pre", WRITES,
                         ids=[f"{a}-{i}" for i, (a, _, _) in enumerate(WRITES)])
async def test_every_iam_write_bumps_the_epoch(store: CountingStore, redis: aioredis.Redis, action: str,
                                               kwargs: dict[str, Any], pre: list[Step]) -> None:
    iam = IamService(store, AllowAll(), account=ACCT, clock=FixedClock(NOW))
    await iam.create_user(ROOT, user_name="u")
    await iam.create_user(ROOT, user_name="k")
    await iam.create_group(ROOT, group_name="g")
    await iam.create_role(ROOT, role_name="r", assume_role_policy_document=TRUST)
    await iam.create_policy(ROOT, policy_name="P", policy_document=doc("Allow", "s3:*"))
    await iam.create_policy(ROOT, policy_name="PV", policy_document=doc("Allow", "s3:*"))
    await iam.create_policy_version(ROOT, policy_arn=PV, policy_document=doc("Deny", "s3:*"))
    key = (await iam.create_access_key(ROOT, user_name="k"))["access_key"].access_key_id
    for name, args in pre:
        await getattr(iam, name)(ROOT, **args)
    kwargs = {k: key if v == "KEY" else v for k, v in kwargs.items()}
    before = await redis.get(KEYS.epoch())
    assert before is not None
    await getattr(iam, action)(ROOT, **kwargs)
    after = await redis.get(KEYS.epoch())
    assert after != before


async def test_failed_writes_and_statistics_leave_the_epoch(store: CountingStore, redis: aioredis.Redis) -> None:
    await store.create_user("u")
    role = await store.create_role("r", trust_policy=TRUST)
    key = await store.create_access_key("u")
    epoch = await redis.get(KEYS.epoch())
    await store.touch_access_key(key.access_key_id, "sts", "eu-west-1")
    await RoleUsageStore(redis, KEYS).record("r", role.role_id, "eu-west-1", 1.0)
    with pytest.raises(Exception):
        await store.create_user("u")  # EntityAlreadyExists: nothing written
    assert await redis.get(KEYS.epoch()) == epoch
    assert (await store.access_key_last_used(key.access_key_id))[1].service_name == "sts"  # type: ignore[index]


# ---- end to end: IamService writes, the next request's Authorizer decision sees them ----
async def test_policy_change_is_effective_on_the_next_request(store: CountingStore,
                                                              redis: aioredis.Redis) -> None:
    cache = CachedIamReads(store, redis, KEYS)
    authz = Authorizer(cache, account=ACCT, clock=FixedClock(NOW))
    iam = IamService(store, authz, account=ACCT, clock=FixedClock(NOW))
    await iam.create_user(ROOT, user_name="alice")
    await iam.put_user_policy(ROOT, user_name="alice", policy_name="p", policy_document=doc("Allow", "s3:GetObject"))

    async def allowed() -> bool:  # one request of alice's, as the server runs it
        await cache.pin()
        try:
            await authz.require(ALICE, "s3:GetObject", "arn:aws:s3:::b/k")
            return True
        except AccessDenied:
            return False

    assert await request(allowed) and await request(allowed)
    reads = store.reads
    assert await request(allowed)
    assert store.reads == reads  # a known principal: no store read at all

    await iam.put_user_policy(ROOT, user_name="alice", policy_name="deny",
                              policy_document=doc("Deny", "s3:*"))
    assert not await request(allowed)
    await iam.delete_user_policy(ROOT, user_name="alice", policy_name="deny")
    assert await request(allowed)
    await iam.create_policy(ROOT, policy_name="D", policy_document=doc("Deny", "s3:GetObject"))
    await iam.create_group(ROOT, group_name="g")
    await iam.attach_group_policy(ROOT, group_name="g", policy_arn=arn.policy(ACCT, "/", "D"))
    assert await request(allowed)
    await iam.add_user_to_group(ROOT, group_name="g", user_name="alice")
    assert not await request(allowed)
    await iam.create_policy_version(ROOT, policy_arn=arn.policy(ACCT, "/", "D"),
                                    policy_document=doc("Allow", "s3:GetObject"), set_as_default=True)
    assert await request(allowed)
