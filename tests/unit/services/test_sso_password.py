"""The password sign-in steps (app.services.sso_password) with a fixed clock, on a real Redis
(db 15): MaxPasswordAge with and without HardExpiry, PasswordResetRequired, the dummy hash for
names that are no user's, the per-user and per-address counters, PasswordLastUsed, and the
records kept between the steps."""
from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
import redis.asyncio as aioredis
from argon2 import PasswordHasher

from app.core.clock import FixedClock
from app.core.errors import AccessDenied, PasswordPolicyViolation
from app.core.records import Call, RequestMeta
from app.services.iam import IamService
from app.services.mfa import TotpVerifier
from app.services.passwords import Passwords
from app.services.sso import CliRequest, SignIn
from app.services.sso_password import WRONG, PasswordSignIn, PasswordStep, SignInThrottled
from app.store.iam_store import IamStore
from app.store.keys import Keys
from app.store.mfa_attempts import MfaAttempts
from app.store.secretbox import SecretBox
from app.store.signin_throttle import SignInThrottle
from app.store.sso_state import SsoState
from tests.redis_target import redis_url
from tests.unit.services.test_iam_service import ACCT, NOW, ROOT
from tests.unit.services.test_login_profiles import Authz

URL = redis_url(15)
DAY = 86400
GOOD = "Correct-Horse-9"
USER_LIMIT, SOURCE_LIMIT = 3, 5
BOX = SecretBox(b"s" * 32)


class CountingPasswords(Passwords):
    """Fast argon2id parameters; remembers which hashes were verified against."""

    def __init__(self) -> None:
        super().__init__(hasher=PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
        self.verified: list[str] = []

    async def verify(self, password_hash: str, password: str) -> bool:
        self.verified.append(password_hash)
        return await super().verify(password_hash, password)


class Records:
    """Stands in for SsoService.create_for_user."""

    def __init__(self) -> None:
        self.made: list[dict[str, Any]] = []

    async def create_for_user(self, **kw: Any) -> tuple[str, SignIn]:
        self.made.append(kw)
        return "h" * 43, SignIn("iam", kw["user_arn"], kw["provider"], None, kw["user_name"], kw["user_name"], NOW,
                                NOW + 3600, csrf="c", cli=kw["cli"], user_id=kw["user_id"], mfa=kw["mfa"])


class World:
    def __init__(self, redis: aioredis.Redis) -> None:
        self.clock = FixedClock(NOW)
        self.store = IamStore(redis, account=ACCT, box=BOX, clock=self.clock)
        self.passwords = CountingPasswords()
        self.iam = IamService(self.store, Authz(), account=ACCT, clock=self.clock)
        self.iam._pw = self.passwords
        self.records = Records()
        self.throttle = SignInThrottle(redis, BOX, user_limit=USER_LIMIT, source_limit=SOURCE_LIMIT, window=60)
        self.signin = PasswordSignIn(self.store, self.passwords, self.throttle,
                                     TotpVerifier(self.store, MfaAttempts(redis), clock=self.clock), self.iam,
                                     SsoState(redis, BOX, Keys(ACCT)), self.records, account=ACCT, clock=self.clock)

    async def user(self, name: str, *, reset: bool = False) -> None:
        await self.iam.create_user(ROOT, user_name=name)
        await self.iam.create_login_profile(ROOT, user_name=name, password=GOOD, password_reset_required=reset)


@pytest.fixture
def world(redis: aioredis.Redis) -> World:
    return World(redis)


@pytest.mark.parametrize("hard_expiry,days,outcome", [
    (None, 29, None), (None, 31, "expired"), (False, 31, "expired"), (True, 29, None), (True, 31, "refused")])
async def test_max_password_age(world: World, hard_expiry: bool | None, days: int, outcome: str | None) -> None:
    await world.user("alice")
    await world.iam.update_account_password_policy(ROOT, max_password_age=30, hard_expiry=hard_expiry)
    world.clock.advance(days * DAY)
    if outcome == "refused":
        with pytest.raises(AccessDenied) as exc:
            await world.signin.password("alice", GOOD, "192.0.2.1")
        assert exc.value.reason == "sso_password_hard_expired" and "administrator" in exc.value.message
        return
    step = await world.signin.password("alice", GOOD, "192.0.2.1")
    assert step.change == outcome and step.due == ("change" if outcome else None)


async def test_reset_required_then_changed(world: World) -> None:
    await world.user("bob", reset=True)
    step = await world.signin.password("Bob", GOOD, None)
    assert (step.user_name, step.change, step.due) == ("bob", "reset", "change")
    meta = RequestMeta(request_id="r", received_at=NOW)
    done = await world.signin.new_password(step, meta, GOOD, "Another-Horse-7")
    assert done.due is None
    profile = await world.store.get_login_profile("bob")
    assert profile is not None and profile.password_reset_required is False
    assert (await world.signin.password("bob", "Another-Horse-7", None)).due is None


@pytest.mark.parametrize("new", ["Horse-7\x00\x00\x00", "Horse-7\u5bc6\u5bc6\u5bc6", "Horse-7\x1b[0m"])
async def test_a_new_password_has_the_apis_characters(world: World, new: str) -> None:
    """The forced change does not come through the Query codec, whose NewPassword pattern
    (tab, line feed, carriage return, U+0020 to U+00FF) refuses these: the policy check does."""
    await world.user("bo", reset=True)
    step = await world.signin.password("bo", GOOD, None)
    with pytest.raises(PasswordPolicyViolation, match="U\\+0020 to U\\+00FF"):
        await world.signin.new_password(step, RequestMeta(request_id="r", received_at=NOW), GOOD, new)
    assert (await world.signin.password("bo", GOOD, None)).due == "change"


async def test_unknown_user_and_missing_profile_cost_one_verification_each(world: World) -> None:
    await world.user("carol")
    await world.iam.create_user(ROOT, user_name="nopass")
    refusals = []
    for name, password in (("carol", "wrong"), ("nobody", GOOD), ("nopass", GOOD), ("x" * 300, GOOD)):
        before = len(world.passwords.verified)
        with pytest.raises(AccessDenied) as exc:
            await world.signin.password(name, password, None)
        assert len(world.passwords.verified) == before + 1  # one argon2id verification, user or not
        refusals.append((exc.value.message, exc.value.reason))
    assert {m for m, _ in refusals} == {WRONG}
    assert [r for _, r in refusals] == ["sso_password_password_wrong", "sso_password_user_unknown",
                                        "sso_password_no_login_profile", "sso_password_user_unknown"]
    dummy = world.passwords.verified[1]
    assert dummy.startswith("$argon2id$") and world.passwords.verified[2:] == [dummy, dummy]


async def test_the_users_counter_and_its_reset(world: World) -> None:
    await world.user("dave")
    for _ in range(USER_LIMIT - 1):
        with pytest.raises(AccessDenied):
            await world.signin.password("dave", "wrong", None)
    await world.signin.password("DAVE", GOOD, None)  # resets the count (names case-insensitively)
    for _ in range(USER_LIMIT):
        with pytest.raises(AccessDenied):
            await world.signin.password("dave", "wrong", None)
    before = len(world.passwords.verified)
    with pytest.raises(SignInThrottled) as exc:
        await world.signin.password("dave", GOOD, None)  # over the limit: even the right one
    assert 0 < exc.value.retry_after <= 60 and exc.value.status == 429
    assert len(world.passwords.verified) == before  # refused before any password work


async def test_concurrent_attempts_get_exactly_the_limit(world: World) -> None:
    await world.user("erin")

    async def one(i: int) -> str:
        try:
            await world.signin.password("erin", f"wrong-{i}", f"198.51.100.{i}")
        except SignInThrottled:
            return "throttled"
        except AccessDenied:
            return "wrong"
        return "ok"  # pragma: no cover - every password here is wrong

    results = await asyncio.gather(*(one(i) for i in range(12)))
    assert sorted(results) == ["throttled"] * (12 - USER_LIMIT) + ["wrong"] * USER_LIMIT


async def test_the_address_counter_spans_user_names(world: World) -> None:
    outcomes = []
    for i in range(SOURCE_LIMIT + 2):
        try:
            await world.signin.password(f"spray-{i}", "wrong", "203.0.113.7")
        except SignInThrottled:
            outcomes.append("throttled")
        except AccessDenied:
            outcomes.append("wrong")
    assert outcomes == ["wrong"] * SOURCE_LIMIT + ["throttled"] * 2
    with pytest.raises(AccessDenied):  # another address is not held back
        await world.signin.password("spray-0", "wrong", "203.0.113.8")


async def test_a_success_takes_back_its_attempt_from_the_address(world: World, redis: aioredis.Redis) -> None:
    await world.user("fay")
    for _ in range(SOURCE_LIMIT + 3):
        await world.signin.password("fay", GOOD, "192.0.2.9")  # successes never fill the address's window
    keys = [k async for k in redis.scan_iter("sso:pwtry:*")]
    assert keys and all("192.0.2.9" not in k and "fay" not in k for k in keys)  # keyed hashes only
    assert all([await redis.ttl(k) > 0 for k in keys])


async def test_finish_notes_password_last_used(world: World) -> None:
    await world.user("gina")
    step = await world.signin.password("gina", GOOD, None)
    user = (await world.iam.get_user(ROOT, user_name="gina"))["user"]
    assert user.password_last_used is None
    world.clock.advance(90)
    _, record = await world.signin.finish(step, provider="account 123456789012")
    assert record.kind == "iam" and record.session_name == "gina" and not record.mfa
    user = (await world.iam.get_user(ROOT, user_name="gina"))["user"]
    assert user.password_last_used == int(NOW + 90)
    profile = await world.store.get_login_profile("gina")
    assert profile is not None and profile.password_last_used == int(NOW + 90)
    await world.iam.delete_login_profile(ROOT, user_name="gina")
    await world.store.note_password_used("gina", NOW + 100)  # never recreates a deleted profile
    assert await world.store.get_login_profile("gina") is None


async def test_steps_wait_in_the_store_and_round_trip(world: World) -> None:
    step = PasswordStep("u", "AIDAX", f"arn:aws:iam::{ACCT}:user/u", "arn:aws:iam::1:mfa/p", "reset", False,
                        "/sso/roles", CliRequest(40123, "c" * 43))
    world.clock.set(time.time())  # Redis expires the step in real time
    handle = await world.signin.keep(step)
    assert await world.signin.resume(handle) == step
    assert await world.signin.resume("x" * 43) is None and await world.signin.resume(None) is None
    await world.signin.drop(handle)
    assert await world.signin.resume(handle) is None


def test_iam_sign_in_record_round_trips() -> None:
    record = SignIn("iam", f"arn:aws:iam::{ACCT}:user/u", "account x", None, "u", "u", NOW, NOW + 3600, csrf="t",
                    cli=CliRequest(None, "c" * 43, "d" * 43), user_id="AIDAX", mfa=True)
    assert SignIn.from_json(record.to_json()) == record
    bad = record.to_json() | {"kind": "saml"}
    with pytest.raises(ValueError):
        SignIn.from_json(bad)  # a federated sign-in always has its identity


def test_call_shape_of_the_step_caller() -> None:
    step = PasswordStep("u", "AIDAX", f"arn:aws:iam::{ACCT}:user/u", None, None)
    caller = Call(step.caller(ACCT), RequestMeta(request_id="r", received_at=NOW)).caller
    assert caller is not None and (caller.kind, caller.name, caller.user_id) == ("user", "u", "AIDAX")
