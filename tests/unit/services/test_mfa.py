"""TotpVerifier: the code checks STS makes for SerialNumber + TokenCode, with a stand-in for
the IAM store's two MFA reads and the real failed-attempt counter on Redis (db 5)."""
from __future__ import annotations

import asyncio

import pytest

from app.core import totp
from app.core.clock import FixedClock
from app.core.errors import AccessDenied
from app.core.records import Caller, Session
from app.services.mfa import MFA_FAILED, TotpVerifier
from app.store.keys import Keys
from app.store.mfa_attempts import MfaAttempts
from tests.redis_target import redis_url

URL = redis_url(5)
ACCT = "123456789012"
SERIAL = f"arn:aws:iam::{ACCT}:mfa/alice-phone"
NOW = 1_900_000_005.0
SEED = totp.new_seed()


class Devices:
    """The IAM store's MFA reads: alice owns SERIAL; steps are claimed once."""

    def __init__(self) -> None:
        self.claimed: dict[str, int] = {}

    async def mfa_seed_for_user(self, user_name: str, serial_number: str) -> str | None:
        return SEED if (user_name.lower(), serial_number) == ("alice", SERIAL) else None

    async def claim_mfa_step(self, serial_number: str, step: int, user_name: str) -> bool:
        if user_name.lower() != "alice" or self.claimed.get(serial_number, -1) >= step:
            return False
        self.claimed[serial_number] = step
        return True


def user(name: str = "alice", **kw: object) -> Caller:
    arn = f"arn:aws:iam::{ACCT}:user/{name}"
    return Caller(kind="user", account=ACCT, arn=arn, user_id="AIDAEXAMPLE", principal_arn=arn,
                  access_key_id="AKIAEXAMPLE", name=name, **kw)  # type: ignore[arg-type]


def verifier(redis, clock: FixedClock, **limits: int) -> TotpVerifier:
    return TotpVerifier(Devices(), MfaAttempts(redis, **limits), clock=clock)


async def reason(check) -> str:
    with pytest.raises(AccessDenied) as exc:
        await check
    assert exc.value.message == MFA_FAILED  # one text for every failure, as AWS
    return exc.value.reason


async def test_a_current_code_passes_once(redis) -> None:
    clock = FixedClock(NOW)
    v = verifier(redis, clock)
    code = totp.code_at(SEED, totp.step_of(NOW))
    await v.check(user(), SERIAL, code)
    assert await reason(v.check(user(), SERIAL, code)) == "mfa_code_reused"
    clock.advance(30)  # the next step's code works; an older one never again
    await v.check(user(), SERIAL, totp.code_at(SEED, totp.step_of(NOW) + 1))
    assert await reason(v.check(user(), SERIAL, totp.code_at(SEED, totp.step_of(NOW)))) == "mfa_code_reused"


async def test_one_step_of_drift_either_way(redis) -> None:
    for offset in (-1, 1):
        v = verifier(redis, FixedClock(NOW))
        await v.check(user(), SERIAL, totp.code_at(SEED, totp.step_of(NOW) + offset))


async def test_wrong_codes_and_other_peoples_devices_fail(redis) -> None:
    v = verifier(redis, FixedClock(NOW))
    good = totp.code_at(SEED, totp.step_of(NOW))
    wrong = f"{(int(good) + 1) % 10**6:06d}"
    assert await reason(v.check(user(), SERIAL, wrong)) == "mfa_code_wrong"
    assert await reason(v.check(user("bob"), SERIAL, good)) == "mfa_device_unknown"
    assert await reason(v.check(user(), SERIAL + "x", good)) == "mfa_device_unknown"


@pytest.mark.parametrize("caller", [
    Caller(kind="root", account=ACCT, arn=f"arn:aws:iam::{ACCT}:root", user_id=ACCT,
           principal_arn=f"arn:aws:iam::{ACCT}:root", access_key_id="AKIAROOT"),
    Caller(kind="assumed-role", account=ACCT, arn=f"arn:aws:sts::{ACCT}:assumed-role/r/s", user_id="AROA:s",
           principal_arn=f"arn:aws:iam::{ACCT}:role/r", access_key_id="ASIAX", name="r"),
    user(session=Session(access_key_id="ASIAX", secret_access_key="s", kind="user-session", account=ACCT,
                         arn=f"arn:aws:iam::{ACCT}:user/alice", user_id="AIDAEXAMPLE",
                         principal_arn=f"arn:aws:iam::{ACCT}:user/alice", principal_id="AIDAEXAMPLE",
                         principal_name="alice", issued_at=NOW, expires_at=NOW + 900)),
])
async def test_only_users_with_their_own_keys_present_mfa(redis, caller: Caller) -> None:
    v = verifier(redis, FixedClock(NOW))
    assert await reason(v.check(caller, SERIAL, totp.code_at(SEED, totp.step_of(NOW)))) == "mfa_not_a_user"


async def test_failed_attempts_lock_the_device_for_the_window(redis) -> None:
    clock = FixedClock(NOW)
    v = verifier(redis, clock, limit=3, window=1)
    good = totp.code_at(SEED, totp.step_of(NOW))
    wrong = f"{(int(good) + 1) % 10**6:06d}"
    await v.check(user(), SERIAL, totp.code_at(SEED, totp.step_of(NOW) - 1))  # successes use up nothing
    for _ in range(3):
        assert await reason(v.check(user(), SERIAL, wrong)) == "mfa_code_wrong"
    assert await reason(v.check(user(), SERIAL, good)) == "mfa_locked_out"  # even the right code
    assert await redis.ttl(Keys.mfa_attempts(SERIAL)) in (0, 1)  # the window runs from the first attempt
    await asyncio.sleep(1.1)
    await v.check(user(), SERIAL, good)  # the window has passed


async def test_concurrent_guesses_cannot_pass_the_limit(redis) -> None:
    """Attempts are counted before the code is checked: 60 guesses at once, 5 get checked."""
    v = verifier(redis, FixedClock(NOW), limit=5, window=60)
    good = totp.code_at(SEED, totp.step_of(NOW))
    wrong = f"{(int(good) + 1) % 10**6:06d}"
    outcomes = await asyncio.gather(*(reason(v.check(user(), SERIAL, wrong)) for _ in range(60)))
    assert outcomes.count("mfa_code_wrong") == 5 and outcomes.count("mfa_locked_out") == 55


async def test_guessing_at_someone_elses_device_locks_only_the_guesser(redis) -> None:
    v = verifier(redis, FixedClock(NOW), limit=3, window=60)
    for _ in range(5):
        await reason(v.check(user("mallory"), SERIAL, "000000"))
    assert await reason(v.check(user("mallory"), SERIAL, "000000")) == "mfa_locked_out"
    await v.check(user(), SERIAL, totp.code_at(SEED, totp.step_of(NOW)))  # alice is not locked out
