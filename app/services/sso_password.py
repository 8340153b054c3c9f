"""IAM users signing in on the browser pages with their password: the steps up to a sign-in
record, as AWS's console takes them.

1. The password (`password`): attempts are counted per client address and per user name BEFORE
   any password work (app.store.signin_throttle); over either limit the attempt is refused with
   the time to wait (SignInThrottled, 429). The password is verified against the login profile's
   argon2id hash off the event loop (app.services.passwords); a name that is no user, or a user
   without a login profile, is verified against a dummy hash of the same cost, and every failure
   is the one generic refusal (`WRONG`): no user enumeration by text or by time. A good password
   resets the user's counter. With the password policy's MaxPasswordAge passed, HardExpiry
   refuses the sign-in (only an administrator can reset it); without HardExpiry, or with the
   login profile's PasswordResetRequired, a new password is due (step 3).
2. The MFA code (`mfa`), when the user has an MFA device: app.services.mfa.TotpVerifier, the
   API's check (the user's own device, a code of now, replay guard per step, attempts counted).
3. The new password (`new_password`): the API's ChangePassword for the user (old password again,
   as AWS's console asks; AllowUsersToChangePassword semantics, the policy's rules, reuse
   prevention; the reset flag cleared).

Between the steps, what was proven waits in a `PasswordStep` (app.store.sso_state kind `req:iam`,
5 minutes, under a fresh handle at every step), never the password. `finish` makes the sign-in
record (app.services.sso.SsoService.create_for_user) and notes PasswordLastUsed.
"""
from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any, Protocol

from app.core import ids
from app.core.clock import Clock
from app.core.errors import AccessDenied, NoSuchEntity, Throttling
from app.core.passwords import MAX_LENGTH, PasswordPolicy, StoredLoginProfile, expired
from app.core.records import Call, Caller, MfaDevice, RequestMeta, User
from app.services.passwords import Passwords
from app.services.sso import CliRequest, SignIn
from app.store.signin_throttle import Verdict

WRONG = "Your user name or password is incorrect, or you cannot sign in with a password."
HARD_EXPIRED = ("Your password has expired and only an administrator can reset it: contact your "
                "administrator.")
STEP_SECONDS = 300
MAX_NAME = 64


class SignInThrottled(Throttling):
    """Too many failed sign-ins for this user or from this address: wait `retry_after` seconds."""

    status = 429

    def __init__(self, message: str, *, retry_after: int, reason: str) -> None:
        super().__init__(message, reason=reason)
        self.retry_after = retry_after


class LoginStore(Protocol):
    """app.store.iam_store.IamStore."""

    async def get_user(self, name: str) -> User | None: ...

    async def get_login_profile(self, user_name: str) -> StoredLoginProfile | None: ...

    async def get_password_policy(self) -> PasswordPolicy | None: ...

    async def list_mfa_devices(self, user_name: str) -> list[MfaDevice] | None: ...

    async def note_password_used(self, user_name: str, when: float) -> None: ...


class Throttle(Protocol):
    """app.store.signin_throttle.SignInThrottle."""

    async def attempt(self, kind: str, subject: str) -> Verdict: ...

    async def succeeded(self, user_name: str, source: str | None) -> None: ...


class MfaCheck(Protocol):
    """app.services.mfa.TotpVerifier."""

    async def check(self, caller: Caller, serial_number: str, token_code: str) -> None: ...


class PasswordChange(Protocol):
    """app.services.iam.IamService (ChangePassword)."""

    async def change_password(self, call: Call, *, old_password: str, new_password: str) -> None: ...


class StepStore(Protocol):
    """app.store.sso_state.SsoState."""

    async def put(self, kind: str, handle: str, value: dict[str, Any], until: float) -> None: ...

    async def get(self, kind: str, handle: str) -> dict[str, Any] | None: ...

    async def delete(self, kind: str, handle: str) -> None: ...


class SignInRecords(Protocol):
    """app.services.sso.SsoService."""

    async def create_for_user(self, *, user_arn: str, user_id: str, user_name: str, provider: str, mfa: bool,
                              cli: CliRequest | None) -> tuple[str, SignIn]: ...


@dataclass(frozen=True, slots=True)
class PasswordStep:
    """A user whose password was good, on the way to a sign-in: `mfa_serial` the device whose code
    is still due (None: none due), `change` why a new password is due (`reset`: PasswordResetRequired,
    `expired`: MaxPasswordAge; None: none is), `mfa` whether a code
    was given. `cli` / `next_path`: where the sign-in goes afterwards."""

    user_name: str
    user_id: str
    user_arn: str
    mfa_serial: str | None
    change: str | None
    mfa: bool = False
    next_path: str | None = None
    cli: CliRequest | None = None

    @property
    def due(self) -> str | None:
        """The next step: `mfa`, `change`, or None (ready to sign in)."""
        return "mfa" if self.mfa_serial else "change" if self.change else None

    def caller(self, account: str) -> Caller:
        return Caller(kind="user", account=account, arn=self.user_arn, user_id=self.user_id,
                      principal_arn=self.user_arn, access_key_id="", name=self.user_name)

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["cli"] = [self.cli.port, self.cli.challenge, self.cli.device] if self.cli else None
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PasswordStep:
        c = data.get("cli")
        cli = CliRequest(None if c[0] is None else int(c[0]), str(c[1]), None if c[2] is None else str(c[2])) \
            if isinstance(c, list) and len(c) == 3 else None
        return cls(str(data["user_name"]), str(data["user_id"]), str(data["user_arn"]),
                   str(data["mfa_serial"]) if data.get("mfa_serial") else None,
                   str(data["change"]) if data.get("change") in ("reset", "expired") else None,
                   data.get("mfa") is True, str(data["next_path"]) if data.get("next_path") else None, cli)


class PasswordSignIn:
    def __init__(self, store: LoginStore, passwords: Passwords, throttle: Throttle, mfa: MfaCheck,
                 changes: PasswordChange, steps: StepStore, records: SignInRecords, *, account: str,
                 clock: Clock) -> None:
        self._store = store
        self._passwords = passwords
        self._throttle = throttle
        self._mfa = mfa
        self._changes = changes
        self._steps = steps
        self._records = records
        self._account = account
        self._clock = clock
        self._dummy: str | None = None

    async def _dummy_hash(self) -> str:
        """A hash of a random password, made once per process: what a missing user's password is
        verified against, at the same cost as a real one."""
        if self._dummy is None:
            self._dummy = await self._passwords.hash(secrets.token_urlsafe(24))
        return self._dummy

    async def _count(self, kind: str, subject: str) -> None:
        verdict = await self._throttle.attempt(kind, subject)
        if not verdict.allowed:
            raise SignInThrottled("Too many failed sign-in attempts. Wait a while, then try again.",
                                  retry_after=verdict.retry_after, reason=f"sso_password_throttled_{kind}")

    async def password(self, user_name: str, password: str, source: str | None, *,
                       cli: CliRequest | None = None, next_path: str | None = None) -> PasswordStep:
        """Step 1: -> what is still due; raises SignInThrottled or AccessDenied(WRONG)."""
        name = user_name.strip()[:MAX_NAME + 1]
        if source:
            await self._count("ip", source)
        await self._count("user", name)
        user, profile = await self._lookup(name)
        candidate = password[:MAX_LENGTH + 1]
        good = await self._passwords.verify(profile.password_hash if profile else await self._dummy_hash(),
                                            candidate)
        if user is None or profile is None or not good:
            why = "user_unknown" if user is None else "no_login_profile" if profile is None else "password_wrong"
            raise AccessDenied(WRONG, reason=f"sso_password_{why}")
        await self._throttle.succeeded(name, source)
        policy = await self._store.get_password_policy()
        stale = expired(policy, profile.password_last_changed, self._clock.time())
        if stale and policy is not None and policy.hard_expiry:
            raise AccessDenied(HARD_EXPIRED, reason="sso_password_hard_expired")
        devices = await self._store.list_mfa_devices(user.user_name) or []
        return PasswordStep(user.user_name, user.user_id, user.arn, devices[0].serial_number if devices else None,
                            "expired" if stale else "reset" if profile.password_reset_required else None,
                            next_path=next_path, cli=cli)

    async def _lookup(self, name: str) -> tuple[User | None, StoredLoginProfile | None]:
        """The user and its login profile: the same two reads whether or not the user exists."""
        if len(name) > MAX_NAME:
            name = ""  # no user has this name: the same reads
        user = await self._store.get_user(name)
        try:
            profile = await self._store.get_login_profile(name)
        except NoSuchEntity:
            profile = None
        return user, profile

    async def mfa(self, step: PasswordStep, code: str) -> PasswordStep:
        """Step 2: the device's code (AccessDenied with AWS's MFA text when it is not good)."""
        if step.mfa_serial is None:
            return step
        await self._mfa.check(step.caller(self._account), step.mfa_serial, code.strip()[:16])
        return replace(step, mfa_serial=None, mfa=True)

    async def new_password(self, step: PasswordStep, meta: RequestMeta, old: str, new: str) -> PasswordStep:
        """Step 3: ChangePassword as the user (its errors are the API's)."""
        await self._changes.change_password(Call(step.caller(self._account), meta), old_password=old,
                                            new_password=new)
        return replace(step, change=None)

    # ---- between the steps ----
    async def keep(self, step: PasswordStep) -> str:
        handle = ids.urlsafe_token(32)
        await self._steps.put("req:iam", handle, step.to_json(), self._clock.time() + STEP_SECONDS)
        return handle

    async def resume(self, handle: str | None) -> PasswordStep | None:
        data = await self._steps.get("req:iam", handle) if handle else None
        try:
            return PasswordStep.from_json(data) if data is not None else None
        except (KeyError, TypeError, ValueError):
            return None

    async def drop(self, handle: str) -> None:
        await self._steps.delete("req:iam", handle)

    async def finish(self, step: PasswordStep, provider: str) -> tuple[str, SignIn]:
        """The sign-in record of a user with nothing left due; PasswordLastUsed noted."""
        if step.due is not None:  # pragma: no cover - the pages finish only completed steps
            raise AccessDenied(WRONG, reason="sso_password_step_skipped")
        handle, record = await self._records.create_for_user(
            user_arn=step.user_arn, user_id=step.user_id, user_name=step.user_name, provider=provider,
            mfa=step.mfa, cli=step.cli)
        await self._store.note_password_used(step.user_name, self._clock.time())
        return handle, record
