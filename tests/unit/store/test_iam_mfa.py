"""Virtual MFA devices in the IamStore, on a real Redis (db 6); one lifecycle on fakeredis too
(`tessera dev` runs the same code on it)."""
from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import fakeredis
import pytest
import redis.asyncio as aioredis

from app.core import totp
from app.core.clock import FixedClock
from app.core.errors import (
    DeleteConflict,
    EntityAlreadyExists,
    InvalidAuthenticationCode,
    LimitExceeded,
    NoSuchEntity,
)
from app.core.records import Tag
from app.store.iam_mfa import MAX_DEVICES_PER_USER
from app.store.iam_store import IamStore
from app.store.keys import Keys
from app.store.secretbox import SecretBox
from tests.redis_target import redis_url

URL = redis_url(6)
ACCT = "123456789012"
NOW = 1_700_000_000.0
STEP = totp.step_of(NOW)
BOX = SecretBox(b"m" * 32)


def codes(seed: str, step: int = STEP) -> tuple[str, str]:
    """Two consecutive codes whose later one is of `step`."""
    return totp.code_at(seed, step - 1), totp.code_at(seed, step)


async def new_device(store: IamStore, name: str = "phone", path: str = "/") -> tuple[str, str]:
    """-> (serial number, seed)."""
    device = await store.create_virtual_mfa_device(name, path=path)
    assert device.base32_string_seed is not None
    return device.serial_number, device.base32_string_seed.decode()


async def assigned(store: IamStore, user: str = "alice", name: str = "phone") -> tuple[str, str]:
    if await store.get_user(user) is None:
        await store.create_user(user)
    serial, seed = await new_device(store, name)
    await store.enable_mfa_device(user, serial, *codes(seed))
    return serial, seed


async def every_value(redis: aioredis.Redis) -> str:
    out: list[str] = []
    async for key in redis.scan_iter(match="*"):
        kind = await redis.type(key)
        if kind == "string":
            out.append(await redis.get(key))
        elif kind == "hash":
            out += [f"{f}={v}" for f, v in (await redis.hgetall(key)).items()]
        elif kind in ("set", "zset"):
            out += list(await (redis.smembers(key) if kind == "set" else redis.zrange(key, 0, -1)))
    return "\n".join(out)


# ---- create ----
async def test_create_returns_the_seed_once_and_stores_it_sealed(store: IamStore,
                                                                 redis: aioredis.Redis) -> None:
    device = await store.create_virtual_mfa_device("Phone", path="/eng/", tags=[Tag("k", "v")])
    assert device.serial_number == f"arn:aws:iam::{ACCT}:mfa/eng/Phone"
    seed = (device.base32_string_seed or b"").decode()
    assert len(seed) == 32 and set(seed) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
    assert seed not in await every_value(redis)  # only sealed at rest
    sealed = await redis.hget(Keys(ACCT).mfa_device("phone"), "k")
    assert BOX.open(sealed, aad=device.serial_number) == seed  # bound to its serial number
    with pytest.raises(ValueError):
        BOX.open(sealed, aad=f"arn:aws:iam::{ACCT}:mfa/other")
    got = await store.get_virtual_mfa_device(device.serial_number)
    assert got is not None and got.base32_string_seed is None and got.user is None
    assert got.tags == (Tag("k", "v"),)
    assert "Base32" not in repr(device) and seed not in repr(device)


async def test_names_are_unique_case_insensitively_whatever_the_path(store: IamStore) -> None:
    await new_device(store, "Phone")
    with pytest.raises(EntityAlreadyExists,
                       match="^MFADevice entity at the same path and name already exists.$"):
        await store.create_virtual_mfa_device("PHONE", path="/other/")


# ---- enable ----
async def test_enable_needs_two_consecutive_codes_of_the_device(store: IamStore) -> None:
    await store.create_user("Alice")
    serial, seed = await new_device(store)
    first, second = codes(seed)
    bad = [("000000", "000000"), (second, first), (second, second), (first, first),
           codes(seed, STEP - 10), codes(totp.new_seed())]
    for pair in bad:
        with pytest.raises(InvalidAuthenticationCode,
                           match="^Authentication code for device is not valid.$"):
            await store.enable_mfa_device("alice", serial, *pair)
    assert await store.list_mfa_devices("alice") == []
    await store.enable_mfa_device("alice", serial, first, second)
    [device] = await store.list_mfa_devices("ALICE") or []
    assert (device.user_name, device.serial_number, device.enable_date) == ("Alice", serial, NOW)


async def test_enable_accepts_a_drifted_device(store: IamStore) -> None:
    await store.create_user("alice")
    serial, seed = await new_device(store)
    await store.enable_mfa_device("alice", serial, *codes(seed, STEP + 3))
    assert await store.get_mfa_device("alice", serial) is not None


async def test_enable_refusals(store: IamStore) -> None:
    await store.create_user("alice")
    await store.create_user("bob")
    serial, seed = await new_device(store)
    with pytest.raises(NoSuchEntity, match="^The user with name carol cannot be found.$"):
        await store.enable_mfa_device("carol", serial, *codes(seed))
    for wrong in (f"arn:aws:iam::{ACCT}:mfa/nope", f"arn:aws:iam::{ACCT}:mfa/x/phone",
                  f"arn:aws:iam::210987654321:mfa/phone", f"arn:aws:iam::{ACCT}:user/phone",
                  "GAHT12345678"):
        with pytest.raises(NoSuchEntity, match=f"^VirtualMFADevice with serial number {wrong} "):
            await store.enable_mfa_device("alice", wrong, *codes(seed))
    await store.enable_mfa_device("alice", serial, *codes(seed))
    for user in ("alice", "bob"):
        with pytest.raises(EntityAlreadyExists, match="^MFA Device is already in use.$"):
            await store.enable_mfa_device(user, serial, *codes(seed, STEP + 1))


async def test_at_most_eight_devices_per_user(store: IamStore) -> None:
    await store.create_user("alice")
    for i in range(MAX_DEVICES_PER_USER):
        serial, seed = await new_device(store, f"d{i}")
        await store.enable_mfa_device("alice", serial, *codes(seed))
    serial, seed = await new_device(store, "one-more")
    with pytest.raises(LimitExceeded, match="MFADevicesPerUser: 8"):
        await store.enable_mfa_device("alice", serial, *codes(seed))
    assert len(await store.list_mfa_devices("alice") or []) == MAX_DEVICES_PER_USER


async def test_concurrent_enables_assign_a_device_once(store: IamStore) -> None:
    for user in ("alice", "bob", "carol"):
        await store.create_user(user)
    serial, seed = await new_device(store)
    got = await asyncio.gather(*[store.enable_mfa_device(u, serial, *codes(seed))
                                 for u in ("alice", "bob", "carol")], return_exceptions=True)
    assert sum(r is None for r in got) == 1
    assert all(isinstance(r, (EntityAlreadyExists, InvalidAuthenticationCode))
               for r in got if r is not None)


# ---- replay guard ----
async def test_enable_codes_cannot_be_replayed(store: IamStore, clock: FixedClock) -> None:
    serial, seed = await assigned(store)
    assert not await store.claim_mfa_step(serial, STEP, "alice")  # the step enabling used
    await store.deactivate_mfa_device("alice", serial)
    with pytest.raises(InvalidAuthenticationCode):
        await store.enable_mfa_device("alice", serial, *codes(seed))
    clock.advance(totp.STEP)
    await store.enable_mfa_device("alice", serial, *codes(seed, STEP + 1))


async def test_claim_mfa_step_works_once_and_only_forward(store: IamStore) -> None:
    serial, _ = await assigned(store)
    assert await store.claim_mfa_step(serial, STEP + 1, "alice")
    assert not await store.claim_mfa_step(serial, STEP + 1, "alice")
    assert not await store.claim_mfa_step(serial, STEP, "alice")
    assert await store.claim_mfa_step(serial, STEP + 2, "alice")
    assert not await store.claim_mfa_step(f"arn:aws:iam::{ACCT}:mfa/nope", STEP + 5, "alice")


async def test_a_claim_holds_only_for_the_device_owner(store: IamStore) -> None:
    """Deactivated (or given to someone else) between reading the seed and the claim: refused."""
    serial, _ = await assigned(store)
    assert not await store.claim_mfa_step(serial, STEP + 1, "bob")
    await store.deactivate_mfa_device("alice", serial)
    assert not await store.claim_mfa_step(serial, STEP + 1, "alice")


async def test_concurrent_claims_of_a_step_yield_one_winner(store: IamStore) -> None:
    serial, _ = await assigned(store)
    got = await asyncio.gather(*[store.claim_mfa_step(serial, STEP + 1, "alice") for _ in range(20)])
    assert got.count(True) == 1


async def test_claims_do_not_bump_the_epoch(store: IamStore) -> None:
    serial, _ = await assigned(store)
    before = await store.epoch()
    assert await store.claim_mfa_step(serial, STEP + 1, "alice")
    assert not await store.claim_mfa_step(serial, STEP + 1, "alice")
    assert await store.epoch() == before


async def test_every_mfa_write_bumps_the_epoch(store: IamStore, clock: FixedClock) -> None:
    await store.create_user("alice")
    seeds: list[str] = []

    async def create() -> None:
        seeds.append((await new_device(store))[1])

    serial = f"arn:aws:iam::{ACCT}:mfa/phone"
    writes: list[Callable[[], Awaitable[None]]] = [
        create,
        lambda: store.enable_mfa_device("alice", serial, *codes(seeds[0])),
        lambda: store.resync_mfa_device("alice", serial, *codes(seeds[0], STEP + 1)),
        lambda: store.tag_mfa_device(serial, [Tag("a", "b")]),
        lambda: store.untag_mfa_device(serial, ["a"]),
        lambda: store.deactivate_mfa_device("alice", serial),
        lambda: store.delete_virtual_mfa_device(serial),
    ]
    for write in writes:
        before = await store.epoch()
        await write()
        assert await store.epoch() != before, write
    before = await store.epoch()
    with pytest.raises(NoSuchEntity):
        await store.delete_virtual_mfa_device(serial)
    assert await store.epoch() == before  # a refused write changes nothing


# ---- resync, deactivate, delete ----
async def test_resync(store: IamStore, clock: FixedClock) -> None:
    serial, seed = await assigned(store)
    await store.create_user("bob")
    with pytest.raises(NoSuchEntity, match="^MFA Device invalid for user.$"):
        await store.resync_mfa_device("bob", serial, *codes(seed, STEP + 1))
    with pytest.raises(InvalidAuthenticationCode):
        await store.resync_mfa_device("alice", serial, *codes(seed))  # used by enable
    with pytest.raises(InvalidAuthenticationCode):
        await store.resync_mfa_device("alice", serial, "123456", "654321")
    await store.resync_mfa_device("alice", serial, *codes(seed, STEP + 2))
    assert not await store.claim_mfa_step(serial, STEP + 2, "alice")


async def test_deactivate_then_delete(store: IamStore, redis: aioredis.Redis) -> None:
    serial, _ = await assigned(store)
    await store.create_user("bob")
    with pytest.raises(DeleteConflict, match="^MFA VirtualDevice in use. Must deactivate first.$"):
        await store.delete_virtual_mfa_device(serial)
    with pytest.raises(NoSuchEntity, match="^MFA Device invalid for user.$"):
        await store.deactivate_mfa_device("bob", serial)
    with pytest.raises(NoSuchEntity, match="user with name carol"):
        await store.deactivate_mfa_device("carol", serial)
    await store.deactivate_mfa_device("ALICE", serial)
    assert await store.list_mfa_devices("alice") == []
    device = await store.get_virtual_mfa_device(serial)  # a virtual device remains
    assert device is not None and device.user is None and device.enable_date is None
    with pytest.raises(NoSuchEntity, match="^MFA Device invalid for user.$"):
        await store.deactivate_mfa_device("alice", serial)
    await store.delete_virtual_mfa_device(serial)
    assert await store.get_virtual_mfa_device(serial) is None
    assert not [k async for k in redis.scan_iter(match="*:mfa:*")]
    with pytest.raises(NoSuchEntity, match=f"^VirtualMFADevice with serial number {serial} "):
        await store.delete_virtual_mfa_device(serial)


async def test_delete_user_refused_while_a_device_is_assigned(store: IamStore) -> None:
    serial, _ = await assigned(store)
    with pytest.raises(DeleteConflict, match="^Cannot delete entity, must remove MFA device first.$"):
        await store.delete_user("alice")
    await store.deactivate_mfa_device("alice", serial)
    await store.delete_user("alice")
    assert await store.get_user("alice") is None


async def test_rename_carries_the_devices_along(store: IamStore) -> None:
    serial, seed = await assigned(store)
    await store.update_user("alice", new_name="Bob")
    [device] = await store.list_mfa_devices("bob") or []
    assert device.user_name == "Bob"
    assert await store.mfa_seed_for_user("bob", serial) == seed
    assert await store.mfa_seed_for_user("alice", serial) is None
    await store.create_user("alice")  # a new user of the old name inherits nothing
    assert await store.list_mfa_devices("alice") == []
    await store.deactivate_mfa_device("bob", serial)


# ---- sign-in reads ----
async def test_mfa_seed_for_user_only_for_the_assigned_user(store: IamStore,
                                                            redis: aioredis.Redis,
                                                            clock: FixedClock) -> None:
    await store.create_user("alice")
    serial, seed = await new_device(store)
    assert await store.mfa_seed_for_user("alice", serial) is None  # unassigned
    await store.enable_mfa_device("alice", serial, *codes(seed))
    assert await store.mfa_seed_for_user("ALICE", serial) == seed
    for user, number in (("bob", serial), ("", serial), ("alice", serial.upper()),
                         ("alice", serial.replace(ACCT, "210987654321")),
                         ("alice", serial.replace("mfa/", "mfa/x/"))):
        assert await store.mfa_seed_for_user(user, number) is None, (user, number)
    other_box = IamStore(redis, account=ACCT, box=SecretBox(b"o" * 32), clock=clock)
    assert await other_box.mfa_seed_for_user("alice", serial) is None
    await store.deactivate_mfa_device("alice", serial)
    assert await store.mfa_seed_for_user("alice", serial) is None


# ---- listing, tags, counts ----
async def test_list_virtual_devices_by_assignment_status(store: IamStore) -> None:
    for name in ("e", "d", "c"):
        await new_device(store, name)
    await assigned(store, "alice", "b")
    await assigned(store, "bob", "a")
    every, more = await store.list_virtual_mfa_devices("Any")
    assert [d.serial_number.rsplit("/", 1)[1] for d in every] == ["a", "b", "c", "d", "e"]
    assert not more
    on, _ = await store.list_virtual_mfa_devices("Assigned")
    assert [(d.user.user_name if d.user else None, d.enable_date) for d in on] == \
        [("bob", NOW), ("alice", NOW)]
    off, _ = await store.list_virtual_mfa_devices("Unassigned")
    assert [d.serial_number[-1] for d in off] == ["c", "d", "e"]
    assert all(d.user is None and d.enable_date is None for d in off)
    first, more = await store.list_virtual_mfa_devices("Unassigned", limit=2)
    assert [d.serial_number[-1] for d in first] == ["c", "d"] and more
    rest, more = await store.list_virtual_mfa_devices("Unassigned", after="d", limit=2)
    assert [d.serial_number[-1] for d in rest] == ["e"] and not more
    assert all(d.base32_string_seed is None for d in every)
    assert await store.mfa_counts() == (5, 2)


async def test_tags(store: IamStore) -> None:
    serial, _ = await new_device(store)
    await store.tag_mfa_device(serial, [Tag("Team", "a"), Tag("env", "x")])
    await store.tag_mfa_device(serial, [Tag("team", "b")])  # keys are case-insensitive
    await store.untag_mfa_device(serial, ["ENV"])
    device = await store.get_virtual_mfa_device(serial)
    assert device is not None and device.tags == (Tag("team", "b"),)
    with pytest.raises(LimitExceeded, match="TagsPerMFADevice: 50"):
        await store.tag_mfa_device(serial, [Tag(f"k{i}", "") for i in range(50)])
    with pytest.raises(NoSuchEntity):
        await store.tag_mfa_device(serial + "x", [Tag("a", "b")])


def test_mfa_keys_carry_the_account_hash_tag() -> None:
    k = Keys(ACCT)
    keys = [k.mfa_device("p"), k.mfa_last_step("p"), k.user_mfa_devices("a"), k.index("mfa")]
    assert all(key.startswith("{iam:123456789012}:") for key in keys)
    assert len(set(keys)) == len(keys)


async def test_lifecycle_on_fakeredis() -> None:
    fake = fakeredis.FakeAsyncRedis(decode_responses=True)
    store = IamStore(fake, account=ACCT, box=BOX, clock=FixedClock(NOW))
    serial, seed = await assigned(store)
    assert await store.mfa_seed_for_user("alice", serial) == seed
    got = await asyncio.gather(*[store.claim_mfa_step(serial, STEP + 1, "alice") for _ in range(5)])
    assert got.count(True) == 1
    await store.deactivate_mfa_device("alice", serial)
    await store.delete_virtual_mfa_device(serial)
    assert await store.mfa_counts() == (0, 0)
    await fake.aclose()
