"""Login profiles and the password policy in the IamStore, on a real Redis (db 14)."""
from __future__ import annotations

import pytest

from app.core.clock import FixedClock
from app.core.errors import (
    DeleteConflict,
    EntityAlreadyExists,
    EntityTemporarilyUnmodifiable,
    NoSuchEntity,
)
from app.core.passwords import PasswordPolicy
from app.store.iam_login_profiles import PASSWORD_ATTEMPTS
from app.store.iam_store import IamStore
from tests.redis_target import redis_url

URL = redis_url(14)
ACCT = "123456789012"
NOW = 1_700_000_000.0


async def test_lifecycle_and_dates(store: IamStore, clock: FixedClock) -> None:
    await store.create_user("Alice")
    assert await store.get_login_profile("alice") is None
    made = await store.create_login_profile("alice", "$argon2id$h1", reset_required=True)
    assert made.public().user_name == "Alice" and made.password_reset_required
    with pytest.raises(EntityAlreadyExists):
        await store.create_login_profile("Alice", "$argon2id$h2", reset_required=False)
    clock.advance(60)
    await store.update_login_profile("Alice", password_hash="$argon2id$h2", keep=2,
                                     reset_required=False)
    got = await store.get_login_profile("Alice")
    assert got is not None
    assert (got.password_hash, got.previous_hashes) == ("$argon2id$h2", ("$argon2id$h1",))
    assert (got.password_created, got.password_last_changed) == (NOW, NOW + 60)
    assert got.password_reset_required is False
    await store.delete_login_profile("Alice")
    with pytest.raises(NoSuchEntity, match="Login Profile for User Alice cannot be found."):
        await store.delete_login_profile("alice")


async def test_history_is_bounded_by_keep(store: IamStore) -> None:
    await store.create_user("bob")
    await store.create_login_profile("bob", "h0", reset_required=False)
    for i in range(1, 5):
        await store.update_login_profile("bob", password_hash=f"h{i}", keep=2)
    got = await store.get_login_profile("bob")
    assert got is not None and got.previous_hashes == ("h3", "h2")
    await store.update_login_profile("bob", password_hash="h5", keep=0)
    got = await store.get_login_profile("bob")
    assert got is not None and got.previous_hashes == ()


async def test_change_against_a_stale_hash_is_refused(store: IamStore) -> None:
    await store.create_user("carol")
    await store.create_login_profile("carol", "h0", reset_required=False)
    await store.update_login_profile("carol", password_hash="h1", expect="h0")
    with pytest.raises(EntityTemporarilyUnmodifiable):
        await store.update_login_profile("carol", password_hash="h2", expect="h0")


async def test_missing_user(store: IamStore) -> None:
    with pytest.raises(NoSuchEntity, match="user with name nobody"):
        await store.get_login_profile("nobody")
    with pytest.raises(NoSuchEntity):
        await store.create_login_profile("nobody", "h", reset_required=False)


async def test_delete_user_conflict_and_rename(store: IamStore) -> None:
    await store.create_user("dave")
    await store.create_login_profile("dave", "h0", reset_required=False)
    with pytest.raises(DeleteConflict, match="login profile"):
        await store.delete_user("dave")
    await store.update_user("dave", new_name="Dan")
    got = await store.get_login_profile("dan")
    assert got is not None and got.user_name == "Dan"
    await store.delete_login_profile("dan")
    await store.delete_user("dan")


async def test_password_policy(store: IamStore) -> None:
    assert await store.get_password_policy() is None
    policy = PasswordPolicy(minimum_password_length=12, require_symbols=True,
                            max_password_age=30, password_reuse_prevention=3, hard_expiry=True)
    await store.put_password_policy(policy)
    assert await store.get_password_policy() == policy
    await store.delete_password_policy()
    with pytest.raises(NoSuchEntity, match=f"domain name {ACCT} cannot"):
        await store.delete_password_policy()


async def test_password_attempts_are_limited_per_user(store: IamStore) -> None:
    for _ in range(PASSWORD_ATTEMPTS):
        assert await store.password_attempt("AIDAUSER1")
    assert not await store.password_attempt("AIDAUSER1")
    assert await store.password_attempt("AIDAUSER2")
