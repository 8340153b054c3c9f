"""Checking an MFA code given to STS (`SerialNumber` + `TokenCode` on AssumeRole and
GetSessionToken): the caller's own assigned virtual device, a code of now (one step of drift
either way), never a code already used, and only while the attempts of the window last
(counted before the code is checked: see app.store.mfa_attempts). Attempts on a device that is
not the caller's count against the caller, never against the device, so nobody can lock
someone else's device by guessing at it. Every failure is AWS's one AccessDenied text; the
audit reason says which it was."""
from __future__ import annotations

from typing import Any

from app.core import totp
from app.core.clock import Clock
from app.core.errors import AccessDenied
from app.core.records import Caller
from app.store.mfa_attempts import MfaAttempts

MFA_FAILED = "MultiFactorAuthentication failed with invalid MFA one time pass code."


class TotpVerifier:
    def __init__(self, iam_store: Any, attempts: MfaAttempts, *, clock: Clock) -> None:
        self._iam = iam_store
        self._attempts = attempts
        self._clock = clock

    async def check(self, caller: Caller, serial_number: str, token_code: str) -> None:
        """Return when the code is good, else raise AccessDenied."""
        if caller.kind != "user" or caller.temporary or not caller.name:
            # MFA devices belong to IAM users signing with their own long-term keys
            raise AccessDenied(MFA_FAILED, reason="mfa_not_a_user")
        seed = await self._iam.mfa_seed_for_user(caller.name, serial_number)
        subject = serial_number if seed is not None else f"user:{caller.user_id}"
        if not await self._attempts.attempt(subject):
            raise AccessDenied(MFA_FAILED, reason="mfa_locked_out")
        if seed is None:
            raise AccessDenied(MFA_FAILED, reason="mfa_device_unknown")
        step = totp.match(seed, token_code, self._clock.time())
        if step is None:
            raise AccessDenied(MFA_FAILED, reason="mfa_code_wrong")
        if not await self._iam.claim_mfa_step(serial_number, step, caller.name):
            raise AccessDenied(MFA_FAILED, reason="mfa_code_reused")
        await self._attempts.succeeded(subject)
