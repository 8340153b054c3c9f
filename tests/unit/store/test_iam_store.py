"""IamStore against a real Redis (db 15) and, for parity with `tessera dev`, fakeredis."""
from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import fakeredis
import pytest
import pytest_asyncio
import redis.asyncio as aioredis

from app.core import arn
from app.core.clock import FixedClock
from app.core.errors import (
    DeleteConflict,
    EntityAlreadyExists,
    LimitExceeded,
    NoSuchEntity,
)
from app.core.records import RoleLastUsed, Tag
from app.store.iam_store import IamStore
from app.store.keys import Keys
from app.store.role_usage import RoleUsageStore
from app.store.secretbox import SecretBox
from tests.redis_target import redis_url

URL = redis_url(15)
ACCT = "123456789012"
NOW = 1_700_000_000.0
BOX = SecretBox(b"k" * 32)
DOC = '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}'
DOC2 = '{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*"}]}'
TRUST = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"123456789012"},"Action":"sts:AssumeRole"}]}'


@pytest_asyncio.fixture(loop_scope="function", params=["redis", "fakeredis"])
async def redis(request: pytest.FixtureRequest) -> AsyncIterator[aioredis.Redis]:
    if request.param == "fakeredis":
        client = fakeredis.FakeAsyncRedis(decode_responses=True)
    else:
        client = aioredis.Redis.from_url(URL, decode_responses=True)
    await client.flushdb()
    yield client
    await client.flushdb()
    await client.aclose()


async def all_values(redis: aioredis.Redis) -> list[str]:
    out: list[str] = []
    async for key in redis.scan_iter(match="*"):
        out.append(key)
        kind = await redis.type(key)
        if kind == "string":
            out.append(await redis.get(key))
        elif kind == "hash":
            for f, v in (await redis.hgetall(key)).items():
                out += [f, v]
        elif kind == "set":
            out += list(await redis.smembers(key))
        elif kind == "zset":
            out += list(await redis.zrange(key, 0, -1))
    return out


# ---- key schema ----
def test_every_iam_key_carries_the_account_hash_tag() -> None:
    k = Keys(ACCT)
    keys = [k.entity("user", "a"), k.index("role"), k.inline("group", "g"), k.attached("role", "r"),
            k.user_groups("a"), k.group_members("g"), k.user_access_keys("a"), k.policy("p"),
            k.policy_versions("p"), k.policy_document("p"), k.policy_entities("p"),
            k.policy_boundary_users("p"), k.access_key("AKIA1"), k.root_access_keys(),
            k.issued_ids(), k.meta(), k.role_last_used("r"), k.access_key_used("AKIA1")]
    assert all(key.startswith("{iam:123456789012}:") for key in keys)
    assert len(set(keys)) == len(keys)
    assert Keys.session("ASIAX") == "sess:ASIAX"


# ---- users ----
async def test_user_round_trip_and_case_insensitive_lookup(store: IamStore) -> None:
    made = await store.create_user("Alice", path="/eng/", tags=[Tag("team", "blue")])
    assert made.user_id.startswith("AIDA") and len(made.user_id) == 21
    assert made.arn == "arn:aws:iam::123456789012:user/eng/Alice"
    for name in ("Alice", "alice", "ALICE"):
        assert await store.get_user(name) == made
    assert await store.get_user("bob") is None


async def test_user_names_are_unique_case_insensitively(store: IamStore) -> None:
    await store.create_user("Alice")
    with pytest.raises(EntityAlreadyExists, match="alice"):
        await store.create_user("alice")


async def test_ids_are_never_reused(store: IamStore, redis: aioredis.Redis) -> None:
    first = await store.create_user("alice")
    await store.delete_user("alice")
    second = await store.create_user("alice")
    assert first.user_id != second.user_id
    assert await redis.sismember(Keys(ACCT).issued_ids(), first.user_id)


async def test_rename_carries_every_link(store: IamStore) -> None:
    pol = await store.create_policy("P", document=DOC)
    bnd = await store.create_policy("B", document=DOC2)
    await store.create_user("alice", tags=[Tag("a", "1")])
    await store.create_group("devs")
    await store.add_user_to_group("devs", "alice")
    await store.attach("user", "alice", pol.arn)
    await store.put_inline("user", "alice", "inl", DOC, 10)
    await store.set_boundary("user", "alice", bnd.arn)
    key = await store.create_access_key("alice")

    await store.update_user("alice", new_name="Bob", new_path="/x/")

    assert await store.get_user("alice") is None
    bob = await store.get_user("bob")
    assert bob is not None and bob.arn == arn.user(ACCT, "/x/", "Bob") and bob.tags == (Tag("a", "1"),)
    assert [u.user_name for u in await store.group_members("devs") or []] == ["Bob"]
    assert [p.policy_arn for p in await store.attached_policies("user", "bob") or []] == [pol.arn]
    assert await store.inline_policies("user", "bob") == {"inl": DOC}
    found = await store.find_access_key(key.access_key_id)
    assert found is not None and found.user_name == "Bob"
    users, _, _ = await store.entities_for_policy(pol.arn) or ([], [], [])
    assert [u.user_name for u in users] == ["Bob"]
    users, _, _ = await store.entities_for_policy(bnd.arn, boundary=True) or ([], [], [])
    assert [u.user_name for u in users] == ["Bob"]
    # the old name's keys are all gone
    assert await store.principal_policies("user", "alice") is None


async def test_rename_onto_an_existing_name_is_refused(store: IamStore) -> None:
    await store.create_user("alice")
    await store.create_user("bob")
    with pytest.raises(EntityAlreadyExists):
        await store.update_user("alice", new_name="BOB")
    # a case-only rename of the same user is fine
    await store.update_user("alice", new_name="ALICE")
    user = await store.get_user("alice")
    assert user is not None and user.user_name == "ALICE"


@pytest.mark.parametrize("setup, message", [
    ("key", "access keys"), ("inline", "delete policies"), ("attached", "detach all policies"),
    ("group", "remove user from all groups"),
])
async def test_delete_user_conflicts(store: IamStore, setup: str, message: str) -> None:
    await store.create_user("alice")
    pol = await store.create_policy("P", document=DOC)
    await store.create_group("g")
    if setup == "key":
        await store.create_access_key("alice")
    elif setup == "inline":
        await store.put_inline("user", "alice", "p", DOC, 5)
    elif setup == "attached":
        await store.attach("user", "alice", pol.arn)
    else:
        await store.add_user_to_group("g", "alice")
    with pytest.raises(DeleteConflict, match=message):
        await store.delete_user("alice")
    assert await store.get_user("alice") is not None


async def test_delete_user_removes_every_key(store: IamStore, redis: aioredis.Redis) -> None:
    bnd = await store.create_policy("B", document=DOC)
    await store.create_user("alice", boundary_arn=bnd.arn, tags=[Tag("a", "b")])
    before = {k async for k in redis.scan_iter(match="*")}
    await store.delete_user("alice")
    after = {k async for k in redis.scan_iter(match="*")}
    assert not [k for k in after if ":user:alice" in k]
    assert before - after >= {Keys(ACCT).entity("user", "alice")}
    pol = await store.get_policy(bnd.arn)
    assert pol is not None and pol.permissions_boundary_usage_count == 0


# ---- groups ----
async def test_group_membership_and_limits(store: IamStore) -> None:
    await store.create_user("alice")
    for i in range(10):
        await store.create_group(f"g{i}")
        await store.add_user_to_group(f"g{i}", "alice")
    await store.add_user_to_group("g0", "ALICE")  # idempotent, not over quota
    await store.create_group("g10")
    with pytest.raises(LimitExceeded, match="GroupsPerUser: 10"):
        await store.add_user_to_group("g10", "alice")
    with pytest.raises(DeleteConflict, match="remove users"):
        await store.delete_group("g0")
    await store.remove_user_from_group("g0", "alice")
    with pytest.raises(NoSuchEntity):
        await store.remove_user_from_group("g0", "alice")
    await store.delete_group("g0")
    assert len(await store.groups_for_user("alice") or []) == 9


async def test_group_rename_updates_members(store: IamStore) -> None:
    await store.create_user("alice")
    await store.create_group("devs")
    await store.add_user_to_group("devs", "alice")
    await store.put_inline("group", "devs", "gp", DOC, 10)
    await store.update_group("devs", new_name="Builders")
    assert [g.group_name for g in await store.groups_for_user("alice") or []] == ["Builders"]
    pp = await store.principal_policies("user", "alice")
    assert pp is not None and pp.identity == (("group/Builders/inline/gp", DOC),)


# ---- roles ----
async def test_role_create_update_last_used_delete(store: IamStore, redis: aioredis.Redis) -> None:
    role = await store.create_role("Deploy", trust_policy=TRUST, path="/ci/",
                                   description="d", max_session_duration=7200)
    assert role.role_id.startswith("AROA") and role.arn.endswith(":role/ci/Deploy")
    with pytest.raises(EntityAlreadyExists):
        await store.create_role("DEPLOY", trust_policy=TRUST)
    updated = await store.update_role("deploy", description=None, max_session_duration=3600)
    assert updated.description is None and updated.max_session_duration == 3600
    assert updated.assume_role_policy_document == TRUST
    assert (await store.get_role("deploy")).role_last_used == RoleLastUsed()  # type: ignore[union-attr]
    usage = RoleUsageStore(redis, Keys(ACCT))
    await usage.record("Deploy", role.role_id, "eu-west-1", NOW + 10)
    got = await store.get_role("deploy")
    assert got is not None and got.role_last_used == RoleLastUsed(NOW + 10, "eu-west-1")
    assert (await store.get_role_record("deploy")).role_last_used == RoleLastUsed()  # type: ignore[union-attr]
    [detail] = await store.role_details(["deploy"])
    assert detail.role_last_used == RoleLastUsed(NOW + 10, "eu-west-1")
    await store.delete_role("deploy")
    assert await redis.exists(Keys(ACCT).role_last_used("deploy")) == 0
    assert await store.get_role("deploy") is None
    assert await store.principal_policies("role", "deploy") is None
    # a use recorded while the role was being deleted never shows on a new role of that name
    await usage.record("Deploy", role.role_id, "eu-west-1", NOW + 20)
    again = await store.create_role("Deploy", trust_policy=TRUST)
    assert (await store.get_role("deploy")).role_last_used == RoleLastUsed()  # type: ignore[union-attr]
    await usage.record("Deploy", again.role_id, "us-east-2", NOW + 30)
    assert (await store.get_role("deploy")).role_last_used == RoleLastUsed(NOW + 30, "us-east-2")  # type: ignore[union-attr]


async def test_delete_role_conflicts(store: IamStore) -> None:
    await store.create_role("r", trust_policy=TRUST)
    await store.put_inline("role", "r", "p", DOC, 10)
    with pytest.raises(DeleteConflict, match="delete policies"):
        await store.delete_role("r")
    await store.delete_inline("role", "r", "p")
    pol = await store.create_policy("P", document=DOC)
    await store.attach("role", "r", pol.arn)
    with pytest.raises(DeleteConflict, match="detach"):
        await store.delete_role("r")


# ---- managed policies ----
async def test_policy_versions(store: IamStore, clock: FixedClock) -> None:
    pol = await store.create_policy("Ops", document=DOC, path="/team/", description="x")
    assert pol.policy_id.startswith("ANPA") and pol.arn == arn.policy(ACCT, "/team/", "Ops")
    assert await store.managed_policy_document(pol.arn) == DOC  # exactly as submitted
    clock.advance(5)
    v2 = await store.create_policy_version(pol.arn, DOC2, set_as_default=False)
    assert v2.version_id == "v2" and not v2.is_default_version
    assert await store.managed_policy_document(pol.arn) == DOC
    await store.set_default_policy_version(pol.arn, "v2")
    assert await store.managed_policy_document(pol.arn) == DOC2
    got = await store.get_policy(pol.arn)
    assert got is not None and got.default_version_id == "v2" and got.update_date == NOW + 5
    with pytest.raises(DeleteConflict, match="default version"):
        await store.delete_policy_version(pol.arn, "v2")
    for _ in range(3):
        await store.create_policy_version(pol.arn, DOC, set_as_default=False)
    with pytest.raises(LimitExceeded, match="up to 5 versions"):
        await store.create_policy_version(pol.arn, DOC, set_as_default=False)
    await store.delete_policy_version(pol.arn, "v1")
    v6 = await store.create_policy_version(pol.arn, DOC, set_as_default=True)
    assert v6.version_id == "v6"  # version ids are not reused either
    versions = await store.list_policy_versions(pol.arn) or []
    assert [v.version_id for v in versions] == ["v6", "v5", "v4", "v3", "v2"]
    assert [v.version_id for v in versions if v.is_default_version] == ["v6"]
    with pytest.raises(DeleteConflict, match="more than one version"):
        await store.delete_policy(pol.arn)


async def test_policy_arn_must_match_path(store: IamStore) -> None:
    pol = await store.create_policy("Ops", document=DOC, path="/team/")
    wrong = arn.policy(ACCT, "/", "Ops")
    assert await store.get_policy(wrong) is None
    assert await store.managed_policy_document(wrong) is None
    assert await store.managed_policy_document(arn.policy("999999999999", "/team/", "Ops")) is None
    await store.create_user("u")
    with pytest.raises(NoSuchEntity):
        await store.attach("user", "u", wrong)
    await store.attach("user", "u", pol.arn)


async def test_attachment_counts_and_delete_conflicts(store: IamStore) -> None:
    pol = await store.create_policy("P", document=DOC)
    await store.create_user("u")
    await store.create_group("g")
    await store.create_role("r", trust_policy=TRUST)
    for kind, name in (("user", "u"), ("group", "g"), ("role", "r")):
        await store.attach(kind, name, pol.arn)
        await store.attach(kind, name, pol.arn)  # idempotent
    got = await store.get_policy(pol.arn)
    assert got is not None and got.attachment_count == 3
    with pytest.raises(DeleteConflict, match="attached"):
        await store.delete_policy(pol.arn)
    for kind, name in (("user", "u"), ("group", "g"), ("role", "r")):
        await store.detach(kind, name, pol.arn)
    with pytest.raises(NoSuchEntity):
        await store.detach("user", "u", pol.arn)
    await store.set_boundary("role", "r", pol.arn)
    with pytest.raises(DeleteConflict, match="boundary"):
        await store.delete_policy(pol.arn)
    await store.set_boundary("role", "r", None)
    await store.delete_policy(pol.arn)
    assert await store.get_policy(pol.arn) is None


async def test_attach_quota(store: IamStore) -> None:
    await store.create_role("r", trust_policy=TRUST)
    arns_ = [(await store.create_policy(f"p{i}", document=DOC)).arn for i in range(11)]
    for a in arns_[:10]:
        await store.attach("role", "r", a)
    with pytest.raises(LimitExceeded, match="PoliciesPerRole: 10"):
        await store.attach("role", "r", arns_[10])


async def test_inline_aggregate_size(store: IamStore) -> None:
    await store.create_user("u")
    await store.put_inline("user", "u", "a", DOC, 1500)
    with pytest.raises(LimitExceeded, match="2048 bytes exceeded for user u"):
        await store.put_inline("user", "u", "b", DOC, 600)
    await store.put_inline("user", "u", "a", DOC2, 2000)  # replacing counts only the new size
    assert await store.inline_policies("user", "u") == {"a": DOC2}
    await store.create_role("r", trust_policy=TRUST)
    await store.put_inline("role", "r", "a", DOC, 10240)
    with pytest.raises(LimitExceeded, match="10240"):
        await store.put_inline("role", "r", "b", DOC, 1)


# ---- access keys ----
async def test_access_keys_lifecycle(store: IamStore, redis: aioredis.Redis) -> None:
    await store.create_user("alice")
    k1 = await store.create_access_key("ALICE")
    assert k1.access_key_id.startswith("AKIA") and len(k1.access_key_id) == 20
    assert k1.secret_access_key is not None and len(k1.secret_access_key) == 40
    assert k1.user_name == "alice" and k1.status == "Active"
    k2 = await store.create_access_key("alice")
    with pytest.raises(LimitExceeded, match="AccessKeysPerUser: 2"):
        await store.create_access_key("alice")
    listed = await store.list_access_keys("alice") or []
    assert {k.access_key_id for k in listed} == {k1.access_key_id, k2.access_key_id}
    assert all(k.secret_access_key is None for k in listed)
    await store.update_access_key("alice", k1.access_key_id, "Inactive")
    found = await store.find_access_key(k1.access_key_id)
    assert found is not None and found.status == "Inactive"
    assert found.secret_access_key == k1.secret_access_key
    with pytest.raises(NoSuchEntity):
        await store.update_access_key("alice", "AKIANOTAKEY000000000", "Active")
    await store.create_user("bob")
    with pytest.raises(NoSuchEntity):  # somebody else's key
        await store.delete_access_key("bob", k1.access_key_id)
    await store.delete_access_key("alice", k1.access_key_id)
    assert await store.find_access_key(k1.access_key_id) is None
    # secrets are sealed at rest: the plaintext appears in no key, field or value
    values = await all_values(redis)
    assert k2.secret_access_key and not any(k2.secret_access_key in v for v in values)
    sealed = await redis.hget(Keys(ACCT).access_key(k2.access_key_id), "k")
    assert sealed and sealed.startswith("v1.")


async def test_sealed_secret_is_bound_to_its_key_id(store: IamStore, redis: aioredis.Redis) -> None:
    await store.create_user("alice")
    k1 = await store.create_access_key("alice")
    k2 = await store.create_access_key("alice")
    k = Keys(ACCT)
    moved = await redis.hget(k.access_key(k1.access_key_id), "k")
    await redis.hset(k.access_key(k2.access_key_id), "k", moved)
    assert await store.find_access_key(k2.access_key_id) is None


async def test_root_keys(store: IamStore, clock: FixedClock) -> None:
    await store.ensure_root_access_key("AKIAROOT000000000001", "r" * 40)
    await store.ensure_root_access_key("AKIAROOT000000000001", "r" * 40)  # idempotent
    root = await store.find_access_key("AKIAROOT000000000001")
    assert root is not None and root.user_name == "" and root.secret_access_key == "r" * 40
    assert len(await store.list_access_keys("") or []) == 1
    await store.update_access_key("", "AKIAROOT000000000001", "Inactive")
    await store.ensure_root_access_key("AKIAROOT000000000001", "s" * 40)  # rotation keeps status
    root = await store.find_access_key("AKIAROOT000000000001")
    assert root is not None and root.status == "Inactive" and root.secret_access_key == "s" * 40
    await store.create_access_key("")
    with pytest.raises(LimitExceeded):
        await store.create_access_key("")
    assert await store.root_created() == NOW


async def test_the_root_key_is_restored_only_when_the_store_lost_the_account(store: IamStore,
                                                                            redis: aioredis.Redis) -> None:
    akid = "AKIAROOT000000000001"
    await store.ensure_root_access_key(akid, "r" * 40)
    await store.delete_access_key("", akid)
    assert not await store.restore_root_access_key(akid, "r" * 40)  # deleted through the API: stays so
    await store.ensure_root_access_key(akid, "r" * 40)  # a restart with the same configuration: too
    assert await store.find_access_key(akid) is None
    await store.ensure_root_access_key("AKIAROOT000000000002", "n" * 40)  # a newly configured key is created
    assert await store.find_access_key("AKIAROOT000000000002") is not None
    await redis.flushdb()  # the store lost its data
    racing = await asyncio.gather(*(store.restore_root_access_key(akid, "r" * 40) for _ in range(5)))
    assert sorted(racing) == [False] * 4 + [True]  # one restorer, whoever else raced
    root = await store.find_access_key(akid)
    assert root is not None and root.status == "Active" and root.secret_access_key == "r" * 40
    assert await store.root_created() == NOW


async def test_touch_access_key(store: IamStore, clock: FixedClock) -> None:
    await store.create_user("alice")
    k = await store.create_access_key("alice")
    owner, used = await store.access_key_last_used(k.access_key_id) or ("", None)
    assert owner == "alice" and used is not None and used.service_name == "N/A"
    assert used.last_used_date is None
    clock.advance(3)
    await store.touch_access_key(k.access_key_id, "sts", "eu-west-1")
    _, used = await store.access_key_last_used(k.access_key_id) or ("", None)
    assert used is not None and (used.service_name, used.region) == ("sts", "eu-west-1")
    assert used.last_used_date == NOW + 3
    await store.delete_access_key("alice", k.access_key_id)
    await store.touch_access_key(k.access_key_id, "sts", "eu-west-1")
    assert await store.access_key_last_used(k.access_key_id) is None


# ---- read API ----
async def test_principal_policies_collects_everything(store: IamStore) -> None:
    p_user = await store.create_policy("PU", document=DOC)
    p_group = await store.create_policy("PG", document=DOC2)
    bnd = await store.create_policy("B", document=DOC)
    await store.create_user("Alice", boundary_arn=bnd.arn, tags=[Tag("team", "x")])
    await store.put_inline("user", "alice", "mine", DOC, 10)
    await store.attach("user", "alice", p_user.arn)
    await store.create_group("Devs")
    await store.add_user_to_group("devs", "alice")
    await store.put_inline("group", "devs", "theirs", DOC2, 10)
    await store.attach("group", "devs", p_group.arn)
    await store.attach("group", "devs", p_user.arn)  # reachable twice: listed once
    pp = await store.principal_policies("user", "ALICE")
    assert pp is not None
    assert pp.identity == (("user/Alice/inline/mine", DOC), (p_user.arn, DOC),
                           ("group/Devs/inline/theirs", DOC2), (p_group.arn, DOC2))
    assert pp.boundary == (bnd.arn, DOC)
    assert pp.tags == (Tag("team", "x"),)
    # a change shows on the very next read
    await store.set_default_policy_version(p_group.arn, "v1")
    await store.create_policy_version(p_group.arn, DOC, set_as_default=True)
    pp = await store.principal_policies("user", "alice")
    assert pp is not None and (p_group.arn, DOC) in pp.identity
    await store.remove_user_from_group("devs", "alice")
    pp = await store.principal_policies("user", "alice")
    assert pp is not None and [s for s, _ in pp.identity] == ["user/Alice/inline/mine", p_user.arn]


async def test_principal_policies_of_a_role(store: IamStore) -> None:
    pol = await store.create_policy("P", document=DOC)
    await store.create_role("R", trust_policy=TRUST, boundary_arn=pol.arn)
    await store.put_inline("role", "r", "i", DOC2, 10)
    await store.attach("role", "r", pol.arn)
    pp = await store.principal_policies("role", "r")
    assert pp is not None
    assert pp.identity == (("role/R/inline/i", DOC2), (pol.arn, DOC))
    assert pp.boundary == (pol.arn, DOC)
    assert await store.principal_policies("user", "r") is None


async def test_boundary_must_exist(store: IamStore) -> None:
    with pytest.raises(NoSuchEntity, match="does not exist"):
        await store.create_user("u", boundary_arn=arn.policy(ACCT, "/", "nope"))
    assert await store.get_user("u") is None


# ---- atomicity ----
async def test_concurrent_creates_yield_one_winner(store: IamStore) -> None:
    results = await asyncio.gather(*[store.create_user(n) for n in ("dup", "DUP", "Dup", "dUp")],
                                   return_exceptions=True)
    assert sum(not isinstance(r, Exception) for r in results) == 1
    assert all(isinstance(r, EntityAlreadyExists) for r in results if isinstance(r, Exception))
    users, _ = await store.list_users()
    assert len(users) == 1


async def test_concurrent_key_creation_respects_quota(store: IamStore) -> None:
    await store.create_user("u")
    results = await asyncio.gather(*[store.create_access_key("u") for _ in range(6)],
                                   return_exceptions=True)
    assert sum(not isinstance(r, Exception) for r in results) == 2
    assert len(await store.list_access_keys("u") or []) == 2


async def test_delete_conflict_leaves_everything_in_place(store: IamStore,
                                                          redis: aioredis.Redis) -> None:
    await store.create_user("u")
    await store.create_group("g")
    await store.add_user_to_group("g", "u")
    before = sorted(await all_values(redis))
    with pytest.raises(DeleteConflict):
        await store.delete_user("u")
    assert sorted(await all_values(redis)) == before


async def test_summary_counts(store: IamStore) -> None:
    await store.create_user("u")
    await store.create_role("r", trust_policy=TRUST)
    p = await store.create_policy("p", document=DOC)
    await store.create_policy_version(p.arn, DOC, set_as_default=False)
    counts = await store.summary_counts()
    assert counts["Users"] == 1 and counts["Roles"] == 1 and counts["Groups"] == 0
    assert counts["Policies"] == 1 and counts["PolicyVersionsInUse"] == 2


async def test_records_are_stored_as_compact_json(store: IamStore, redis: aioredis.Redis) -> None:
    await store.create_user("Alice", path="/a/")
    raw = await redis.get(Keys(ACCT).entity("user", "alice"))
    assert json.loads(raw)["n"] == "Alice"
