"""The device-code fallback of `tessera login --no-browser` (RFC 8628's semantics).

1. The CLI calls `POST /sso/device/code` -> `device_code` (its secret), `user_code` (8 letters,
   shown as `BCDF-GHJK`), `verification_uri` (`/sso/device`), `expires_in`, `interval`.
2. The person opens `/sso/device` on any device and enters the user code (`enter_user_code`:
   counted per client address, at most USER_CODE_TRIES failures per USER_CODE_WINDOW, so the
   20^8 codes cannot be walked), then signs in through the usual login pages, which carry the
   grant's `cli_device` reference and a challenge whose verifier this service keeps; or denies.
3. After the role choice the picker hands the credentials off as for a loopback CLI and sends the
   browser to `/sso/device/complete`, where `complete` redeems the handoff with the kept verifier
   and attaches the credentials to the grant.
4. The CLI polls `POST /sso/device/token` (`poll`): `authorization_pending`, `slow_down` (polled
   sooner than `interval`: the interval grows by 5 s), `access_denied`, `expired_token`, or the
   credentials (taken once) with a refresh grant bound to the sign-in.
"""
from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from typing import Any, Protocol

from app.core import ids
from app.core.records import Credentials
from app.sso.handoff import CliBinding, HandoffRefused, HandoffStore, redeem_handoff, s256
from app.sso.refresh import GrantStore, issue_refresh

USER_CODE_ALPHABET = "BCDFGHJKLMNPQRSTVWXZ"  # RFC 8628 §6.1: no vowels, no look-alikes
USER_CODE_LENGTH = 8
DEVICE_TTL = 600  # seconds a device code lives
INTERVAL = 5  # seconds between polls
MAX_INTERVAL = 60
USER_CODE_TRIES = 10  # wrong user codes per client address and window
USER_CODE_WINDOW = 900
CODES_PER_CLIENT = 30  # device codes one client address may start per window
CODES_WINDOW = 600
_DEVICE_CODE = re.compile(r"[A-Za-z0-9_-]{43}")
_HANDLE = re.compile(r"[A-Za-z0-9_-]{43}")


class DeviceError(Exception):
    """An RFC 8628 / RFC 6749 error answer: `error` for the client, `reason` for the audit log."""

    def __init__(self, error: str, description: str, reason: str, status: int = 400) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.reason = reason
        self.status = status


class Grants(Protocol):
    """app.store.device_grants.DeviceGrants."""

    async def create(self, device_code: str, user_code: str, *, interval: int, until: float) -> bool: ...

    async def by_device_code(self, device_code: str) -> Any: ...

    async def by_user_code(self, user_code: str) -> Any: ...

    async def by_reference(self, reference: str) -> Any: ...

    async def start_sign_in(self, grant: Any, reference: str, verifier: str) -> None: ...

    async def polled(self, grant: Any, now_ms: int, interval: int) -> None: ...

    async def set_state(self, grant: Any, state: str, *, expect: str) -> bool: ...

    async def approve(self, grant: Any, credentials: dict[str, Any], approval: dict[str, Any]) -> bool: ...

    async def take_credentials(self, grant: Any) -> dict[str, Any] | None: ...

    async def count(self, kind: str, client: str, window_seconds: int) -> int: ...

    async def attempts(self, kind: str, client: str) -> int: ...


@dataclass(frozen=True, slots=True)
class Authorization:
    device_code: str
    user_code: str  # as shown: XXXX-XXXX
    expires_in: int
    interval: int


@dataclass(frozen=True, slots=True)
class Delivered:
    credentials: Credentials
    role_arn: str
    refresh_token: str | None


def new_user_code() -> str:
    return "".join(secrets.choice(USER_CODE_ALPHABET) for _ in range(USER_CODE_LENGTH))


def shown(user_code: str) -> str:
    return f"{user_code[:4]}-{user_code[4:]}"


def normalize_user_code(text: str) -> str | None:
    """The user code in `text` as typed (any case, dashes and spaces anywhere), or None."""
    if len(text) > 32:
        return None
    code = re.sub(r"[\s-]", "", text).upper()
    if len(code) != USER_CODE_LENGTH or any(c not in USER_CODE_ALPHABET for c in code):
        return None
    return code


async def authorize(grants: Grants, client: str, now: float) -> Authorization:
    """A new pending grant for a CLI at `client` (DeviceError slow_down past its quota)."""
    if await grants.count("codes", client, CODES_WINDOW) > CODES_PER_CLIENT:
        raise DeviceError("slow_down", "too many device codes requested from this address; wait and retry",
                          "device_code_quota", 429)
    device_code = ids.urlsafe_token(32)
    for _ in range(8):
        user_code = new_user_code()
        if await grants.create(device_code, user_code, interval=INTERVAL, until=now + DEVICE_TTL):
            return Authorization(device_code, shown(user_code), DEVICE_TTL, INTERVAL)
    raise DeviceError("temporarily_unavailable", "no free user code; retry", "device_user_code_exhausted", 503)


async def poll(grants: Grants, refresh: GrantStore, device_code: str, now: float) -> Delivered:
    """One poll of the token endpoint: the credentials once approved, else DeviceError."""
    if not _DEVICE_CODE.fullmatch(device_code):
        raise DeviceError("invalid_grant", "the device code is malformed", "device_code_malformed")
    grant = await grants.by_device_code(device_code)
    if grant is None:
        raise DeviceError("expired_token", "the device code has expired or is unknown; run `tessera login` again",
                          "device_code_expired")
    if grant.state == "denied":
        raise DeviceError("access_denied", "the sign-in was denied in the browser", "device_denied")
    if grant.state == "done":
        raise DeviceError("invalid_grant", "the device code was already used", "device_code_used")
    if grant.state == "approved":
        return await _deliver(grants, refresh, grant)
    now_ms = int(now * 1000)
    if grant.last_poll_ms and now_ms - grant.last_poll_ms < grant.interval * 1000:
        interval = min(grant.interval + 5, MAX_INTERVAL)
        await grants.polled(grant, now_ms, interval)
        raise DeviceError("slow_down", f"poll at most every {interval} seconds", "device_slow_down")
    await grants.polled(grant, now_ms, grant.interval)
    raise DeviceError("authorization_pending", "the sign-in is not finished yet", "device_pending")


async def _deliver(grants: Grants, refresh: GrantStore, grant: Any) -> Delivered:
    if not await grants.set_state(grant, "done", expect="approved"):
        raise DeviceError("invalid_grant", "the device code was already used", "device_code_used")
    taken = await grants.take_credentials(grant)
    approval = grant.approval or {}
    if taken is None or "role" not in approval:
        raise DeviceError("invalid_grant", "the device code was already used", "device_code_used")
    credentials = Credentials(str(taken["ak"]), str(taken["sk"]), str(taken["st"]), float(taken["ex"]))
    token = None
    if approval.get("sid"):
        token = await issue_refresh(refresh, signin_handle=str(approval["sid"]), role_arn=str(approval["role"]),
                                    until=float(approval["sx"]))
    return Delivered(credentials, str(approval["role"]), token)


async def enter_user_code(grants: Grants, text: str, client: str) -> CliBinding:
    """The person typed `text` at `/sso/device`: -> the binding its sign-in carries (DeviceError
    when the code is wrong, expired or used, or the address has tried too often)."""
    if await grants.attempts("user", client) >= USER_CODE_TRIES:
        raise DeviceError("slow_down", "too many wrong codes from this address; wait a few minutes",
                          "device_user_code_rate_limited", 429)
    code = normalize_user_code(text)
    grant = await grants.by_user_code(code) if code is not None else None
    if grant is None or grant.state != "pending":
        await grants.count("user", client, USER_CODE_WINDOW)
        raise DeviceError("invalid_request", "that code is not valid (or has expired); check your terminal",
                          "device_user_code_unknown" if grant is None else "device_user_code_used")
    reference, verifier = ids.urlsafe_token(32), ids.urlsafe_token(32)
    await grants.start_sign_in(grant, reference, verifier)
    return CliBinding(s256(verifier), device=reference)


async def deny(grants: Grants, reference: str) -> bool:
    if not _HANDLE.fullmatch(reference):
        return False
    grant = await grants.by_reference(reference)
    return grant is not None and bool(await grants.set_state(grant, "denied", expect="pending"))


async def complete(grants: Grants, handoffs: HandoffStore, reference: str, code: str) -> str:
    """The browser is back from the role choice: give the device its credentials; -> the role ARN
    (DeviceError when the reference or the code does not redeem)."""
    grant = await grants.by_reference(reference) if _HANDLE.fullmatch(reference) else None
    if grant is None or grant.verifier is None:
        raise DeviceError("invalid_request", "this device sign-in has expired; run `tessera login` again",
                          "device_reference_unknown")
    if grant.state != "pending":
        raise DeviceError("invalid_request", "this device sign-in is already finished", "device_not_pending")
    try:
        handoff = await redeem_handoff(handoffs, code, grant.verifier)
    except HandoffRefused as refused:
        raise DeviceError("invalid_request", "the sign-in could not be completed; start again",
                          refused.reason) from None
    c = handoff.credentials
    credentials = {"ak": c.access_key_id, "sk": c.secret_access_key, "st": c.session_token, "ex": c.expiration}
    approval = {"role": handoff.role_arn, "sid": handoff.signin_id, "sx": handoff.signin_expires_at}
    if not await grants.approve(grant, credentials, approval):
        raise DeviceError("invalid_request", "this device sign-in is already finished", "device_not_pending")
    return handoff.role_arn
