"""Instance profiles and the account alias in the IamStore, on a real Redis: lifecycle, the
one-role rule, both sides of the role link kept in step, DeleteRole's conflict, the epoch bump
every change makes; one lifecycle on fakeredis (`tessera dev`)."""
from __future__ import annotations

import fakeredis
import pytest
import redis.asyncio as aioredis

from app.core.clock import FixedClock
from app.core.errors import DeleteConflict, EntityAlreadyExists, LimitExceeded, NoSuchEntity
from app.core.records import Tag
from app.store.iam_store import IamStore
from app.store.keys import Keys
from app.store.secretbox import SecretBox

ACCT = "123456789012"
NOW = 1_700_000_000.0
BOX = SecretBox(b"s" * 32)
TRUST = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},' \
        '"Action":"sts:AssumeRole"}]}'


async def test_lifecycle_and_role_link(store: IamStore, redis: aioredis.Redis) -> None:
    made = await store.create_instance_profile("Web", path="/app/", tags=[Tag("env", "prod")])
    assert made.arn == f"arn:aws:iam::{ACCT}:instance-profile/app/Web"
    assert made.instance_profile_id.startswith("AIPA") and made.create_date == NOW and made.roles == ()
    with pytest.raises(EntityAlreadyExists):
        await store.create_instance_profile("WEB")
    await store.create_role("R1", trust_policy=TRUST)
    await store.create_role("R2", trust_policy=TRUST)

    epoch = await store.epoch()
    await store.add_role_to_instance_profile("web", "r1")
    assert await store.epoch() != epoch
    got = await store.get_instance_profile("WEB")
    assert got is not None and [r.role_name for r in got.roles] == ["R1"] and got.tags == (Tag("env", "prod"),)
    with pytest.raises(LimitExceeded, match="InstanceSessionsPerInstanceProfile: 1"):
        await store.add_role_to_instance_profile("Web", "R2")
    with pytest.raises(NoSuchEntity):
        await store.add_role_to_instance_profile("Nope", "R1")
    assert [p.instance_profile_name for p in await store.instance_profiles_for_role("r1")] == ["Web"]
    assert await store.instance_profiles_for_role("R2") == []
    (detail,) = [d for d in await store.role_details(["r1"])]
    assert [p.instance_profile_name for p in detail.instance_profile_list] == ["Web"]
    assert (await store.summary_counts())["InstanceProfiles"] == 1

    with pytest.raises(DeleteConflict, match="must remove roles from instance profile first"):
        await store.delete_role("R1")
    with pytest.raises(DeleteConflict):
        await store.delete_instance_profile("Web")
    with pytest.raises(NoSuchEntity):
        await store.remove_role_from_instance_profile("Web", "R2")
    await store.remove_role_from_instance_profile("Web", "R1")
    assert not await redis.exists(Keys(ACCT).role_instance_profiles("r1"))
    await store.delete_role("R1")
    await store.delete_instance_profile("Web")
    assert await store.get_instance_profile("Web") is None
    with pytest.raises(NoSuchEntity, match="Instance Profile Web cannot be found"):
        await store.delete_instance_profile("Web")


async def test_listing_and_tags(store: IamStore) -> None:
    for name, path in (("c", "/x/"), ("a", "/x/"), ("b", "/y/")):
        await store.create_instance_profile(name, path=path)
    page, more = await store.list_instance_profiles("/x/", None, 1)
    assert [p.instance_profile_name for p in page] == ["a"] and more
    page, more = await store.list_instance_profiles("/x/", "a", 10)
    assert [p.instance_profile_name for p in page] == ["c"] and not more
    await store.tag_instance_profile("a", [Tag("k", "1"), Tag("j", "2")])
    await store.tag_instance_profile("a", [Tag("K", "3")])
    await store.untag_instance_profile("a", ["J"])
    got = await store.get_instance_profile("a")
    assert got is not None and got.tags == (Tag("K", "3"),)
    with pytest.raises(LimitExceeded, match="TagsPerInstanceProfile: 50"):
        await store.tag_instance_profile("a", [Tag(f"t{i}", "v") for i in range(50)])


async def test_account_alias(store: IamStore) -> None:
    assert await store.account_alias() is None
    await store.set_account_alias("corp")
    epoch = await store.epoch()
    await store.set_account_alias("corp-2")
    assert await store.account_alias() == "corp-2" and await store.epoch() != epoch
    with pytest.raises(NoSuchEntity, match="The account alias corp cannot be found"):
        await store.delete_account_alias("corp")
    await store.delete_account_alias("corp-2")
    assert await store.account_alias() is None


async def test_lifecycle_on_fakeredis() -> None:
    store = IamStore(fakeredis.aioredis.FakeRedis(decode_responses=True), account=ACCT, box=BOX,
                     clock=FixedClock(NOW))
    await store.create_instance_profile("P")
    await store.create_role("R", trust_policy=TRUST)
    await store.add_role_to_instance_profile("P", "R")
    got = await store.get_instance_profile("p")
    assert got is not None and got.roles[0].role_name == "R"
    await store.set_account_alias("demo")
    assert await store.account_alias() == "demo"
