"""ChangePassword's rules that need a clock or a particular denial (HardExpiry after
MaxPasswordAge, AllowUsersToChangePassword standing in for a grant), and the audit scrubber
on the password members; on a real Redis (db 15)."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pytest
import redis.asyncio as aioredis
from argon2 import PasswordHasher

from app.audit.events import REDACTED, scrub
from app.core.clock import FixedClock
from app.core.errors import AccessDenied, PasswordPolicyViolation
from app.core.records import Call, Tag
from app.services.iam import IamService
from app.services.passwords import Passwords
from app.store.iam_store import IamStore
from app.store.secretbox import SecretBox
from tests.redis_target import redis_url
from tests.unit.services.test_iam_service import ACCT, ALICE, NOW, ROOT, clock  # noqa: F401 - fixture

URL = redis_url(15)
DAY = 86400
OLD, NEW = "Correct-Horse-9", "Battery-Staple-8"


class Authz:
    """Allows everything except `implicit` (an implicit deny) and `explicit` (a deny statement)."""

    def __init__(self) -> None:
        self.implicit: set[str] = set()
        self.explicit: set[str] = set()

    async def require(self, call: Call, action: str, resource: str, *,
                      context: Mapping[str, str | list[str]] | None = None,
                      resource_tags: Sequence[Tag] = ()) -> None:
        if action in self.implicit:
            raise AccessDenied("no grant", reason="implicit_deny")
        if action in self.explicit:
            raise AccessDenied("denied", reason="explicit_deny")


@pytest.fixture
def authz() -> Authz:
    return Authz()


@pytest.fixture
def iam(redis: aioredis.Redis, clock: FixedClock, authz: Authz) -> IamService:
    store = IamStore(redis, account=ACCT, box=SecretBox(b"l" * 32), clock=clock)
    service = IamService(store, authz, account=ACCT, clock=clock)
    service._pw = Passwords(hasher=PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
    return service


async def alice(iam: IamService) -> None:
    """The user alice with a login profile of password OLD."""
    await iam.create_user(ROOT, user_name="alice")
    await iam.create_login_profile(ROOT, user_name="alice", password=OLD)


@pytest.mark.parametrize("hard_expiry,days,refused", [
    (True, 31, True), (True, 29, False), (False, 31, False), (None, 400, False)])
async def test_hard_expiry(iam: IamService, clock: FixedClock, hard_expiry: bool | None,
                           days: int, refused: bool) -> None:
    await alice(iam)
    await iam.update_account_password_policy(ROOT, max_password_age=30, hard_expiry=hard_expiry)
    clock.advance(days * DAY)
    if refused:
        with pytest.raises(AccessDenied) as exc:
            await iam.change_password(ALICE, old_password=OLD, new_password=NEW)
        assert exc.value.reason == "change_password_hard_expired"
    else:
        await iam.change_password(ALICE, old_password=OLD, new_password=NEW)
        profile = await iam._store.get_login_profile("alice")
        assert profile is not None and profile.password_last_changed == NOW + days * DAY
        assert profile.password_created == NOW


@pytest.mark.parametrize("allow,deny,ok", [
    (True, "implicit", True), (False, "implicit", False), (True, "explicit", False)])
async def test_allow_users_to_change_password(iam: IamService, authz: Authz, allow: bool,
                                              deny: str, ok: bool) -> None:
    await alice(iam)
    await iam.update_account_password_policy(ROOT, allow_users_to_change_password=allow)
    getattr(authz, deny).add("iam:ChangePassword")
    if ok:
        await iam.change_password(ALICE, old_password=OLD, new_password=NEW)
    else:
        with pytest.raises(AccessDenied):
            await iam.change_password(ALICE, old_password=OLD, new_password=NEW)


async def test_reuse_counts_the_current_password(iam: IamService) -> None:
    await alice(iam)
    await iam.update_account_password_policy(ROOT, password_reuse_prevention=1)
    with pytest.raises(PasswordPolicyViolation):
        await iam.change_password(ALICE, old_password=OLD, new_password=OLD)
    await iam.change_password(ALICE, old_password=OLD, new_password=NEW)
    await iam.change_password(ALICE, old_password=NEW, new_password=OLD)  # 2 back: allowed


def test_audit_scrubber_hides_password_members() -> None:
    params: dict[str, Any] = {"UserName": "alice", "Password": OLD, "OldPassword": OLD,
                              "NewPassword": NEW}
    out = scrub(params)
    assert out["UserName"] == "alice"
    assert out["Password"] == out["OldPassword"] == out["NewPassword"] == REDACTED
