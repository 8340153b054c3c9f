"""The handoff between the role picker (browser) and `tessera login` (terminal).

The interface both sides follow (issue 10, item 4):

1. `tessera login` keeps a random `verifier` and opens a login URL (`/sso/saml/{provider}/login`,
   `/sso/oidc/{provider}/login`, `/sso/start`) with `cli_port` (its loopback port, 1024-65535)
   and `cli_challenge` (base64url of SHA-256 of the verifier, as PKCE's S256).
   `cli_binding(query)` checks them; the sign-in record keeps them (`CliBinding.to_record()`,
   `CliBinding.from_record()`). The device-code fallback (`tessera login --no-browser`,
   app.sso.device) sends `cli_device` + `cli_challenge` instead of a port: the same picker code
   path serves it, only `callback_url` differs.
2. After the role choice the picker calls
   `code = await issue_handoff(sso_state, credentials, binding.challenge, signin, handle=...,
   role_arn=...)`
   (credentials held 60 s, sealed, under a keyed hash of the one-time code: SsoState kind `cli`) and redirects the
   browser to `binding.callback_url(code)` (`http://127.0.0.1:PORT/callback?code=CODE`, or the
   same-origin `/sso/device/complete?...` for a device sign-in).
3. The CLI's loopback server receives the code and POSTs `code` + `verifier` to
   `POST /sso/cli/token` (app.sso.cli_routes), which calls `redeem_handoff`: the code is spent
   by the first redemption whatever happens next, and answers only when SHA-256 of the verifier
   equals the challenge (constant-time). The answer carries a refresh grant bound to the
   sign-in (app.sso.refresh).

The code alone is worthless (it needs the verifier, which never left the terminal), so its
place in the loopback URL leaks nothing; the credentials never appear in a URL.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from app.core import ids
from app.core.records import Credentials

HANDOFF_TTL = 60  # seconds a handoff code can be redeemed
PORT_MIN, PORT_MAX = 1024, 65535
_CHALLENGE = re.compile(r"[A-Za-z0-9_-]{43}")  # base64url of 32 bytes, unpadded
_VERIFIER = re.compile(r"[A-Za-z0-9._~-]{43,128}")  # RFC 7636's code_verifier
_HANDLE = re.compile(r"[A-Za-z0-9_-]{43}")  # a one-time code, a device reference
_PORT = re.compile(r"[0-9]{4,5}")


class HandoffStore(Protocol):
    """app.store.sso_state.SsoState: sealed values under a keyed hash of their handle (kind `cli`
    here), taken with GETDEL (of concurrent redemptions exactly one gets the value)."""

    async def put(self, kind: str, handle: str, value: dict[str, Any], until: float) -> None: ...

    async def take(self, kind: str, handle: str) -> dict[str, Any] | None: ...


class SignInRef(Protocol):
    """The browser sign-in a handoff comes from (app.services.sso.SignIn)."""

    @property
    def expires_at(self) -> float:
        """Epoch seconds when the sign-in ends (and with it every refresh grant bound to it)."""


@dataclass(frozen=True, slots=True)
class CliBinding:
    """The terminal waiting for a sign-in: its challenge, and where the browser goes with the
    one-time code (the CLI's loopback `port`, or, for `tessera login --no-browser`, the device
    grant `device` this service completes itself at `/sso/device/complete`)."""

    challenge: str
    port: int | None = None
    device: str | None = None

    def callback_url(self, code: str) -> str:
        """Where to send the browser with the one-time code, after the role choice."""
        if self.port is not None:
            return f"http://127.0.0.1:{self.port}/callback?code={code}"
        return f"/sso/device/complete?device={self.device}&code={code}"  # same origin

    def to_record(self) -> dict[str, str]:
        """The binding as login URL parameters (also what a sign-in record keeps)."""
        out = {"cli_challenge": self.challenge}
        if self.port is not None:
            out["cli_port"] = str(self.port)
        if self.device is not None:
            out["cli_device"] = self.device
        return out

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> CliBinding | None:
        """The binding in login URL parameters or a sign-in record: None when there is none;
        ValueError (a message for the person) when it is incomplete or malformed."""
        return cli_binding(record)


def cli_binding(params: Mapping[str, Any]) -> CliBinding | None:
    """`cli_port` + `cli_challenge` (loopback) or `cli_device` + `cli_challenge` (device code) of a
    login URL's query: None when none is given; ValueError when incomplete or malformed."""
    port, challenge, device = (params.get(k) for k in ("cli_port", "cli_challenge", "cli_device"))
    if all(v in (None, "") for v in (port, challenge, device)):
        return None
    if not isinstance(challenge, str) or not _CHALLENGE.fullmatch(challenge):
        raise ValueError("cli_challenge must be the base64url SHA-256 of the CLI's verifier (43 characters)")
    if device not in (None, ""):
        if port not in (None, "") or not isinstance(device, str) or not _HANDLE.fullmatch(device):
            raise ValueError("cli_device must be a device sign-in reference (43 characters), without cli_port")
        return CliBinding(challenge, device=device)
    if not isinstance(port, str) or not _PORT.fullmatch(port) or not PORT_MIN <= int(port) <= PORT_MAX:
        raise ValueError(f"cli_port must be a port number from {PORT_MIN} to {PORT_MAX}")
    return CliBinding(challenge, port=int(port))


class HandoffRefused(Exception):
    """The code or verifier does not redeem; `reason` is for the audit log only."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Handoff:
    credentials: Credentials
    role_arn: str
    signin_id: str
    signin_expires_at: float


def s256(verifier: str) -> str:
    """PKCE's S256: base64url (unpadded) of SHA-256 of the verifier."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


async def issue_handoff(store: HandoffStore, credentials: Credentials, challenge: str, signin: SignInRef, *,
                        handle: str, role_arn: str, now: float | None = None) -> str:
    """Hold `credentials` (minted for `role_arn` in `signin`, whose record is found by `handle`)
    for the CLI of `challenge` for HANDOFF_TTL seconds; -> the one-time code to send to the CLI
    (`CliBinding.callback_url(code)`)."""
    if not _CHALLENGE.fullmatch(challenge):
        raise ValueError("malformed cli challenge")
    code = ids.urlsafe_token(32)
    await store.put("cli", code, {
        "v": 1, "ch": challenge, "ak": credentials.access_key_id, "sk": credentials.secret_access_key,
        "st": credentials.session_token, "ex": credentials.expiration, "role": role_arn,
        "sid": handle, "sx": signin.expires_at,
    }, (time.time() if now is None else now) + HANDOFF_TTL)
    return code


async def redeem_handoff(store: HandoffStore, code: str, verifier: str) -> Handoff:
    """The credentials held under `code` for the holder of `verifier` (HandoffRefused: unknown,
    spent or expired code; wrong verifier). The code is spent either way."""
    if not _HANDLE.fullmatch(code):
        raise HandoffRefused("handoff_code_malformed")
    payload = await store.take("cli", code)
    if payload is None:
        raise HandoffRefused("handoff_code_unknown")
    if not _VERIFIER.fullmatch(verifier):
        raise HandoffRefused("handoff_verifier_malformed")
    if not hmac.compare_digest(s256(verifier), str(payload.get("ch", ""))):
        raise HandoffRefused("handoff_verifier_mismatch")
    try:
        credentials = Credentials(str(payload["ak"]), str(payload["sk"]), str(payload["st"]), float(payload["ex"]))
        return Handoff(credentials, str(payload["role"]), str(payload["sid"]), float(payload["sx"]))
    except (KeyError, TypeError, ValueError):
        raise HandoffRefused("handoff_payload_invalid") from None


class PickedSignIn(Protocol):
    """app.services.sso.SignIn as the picker hands it over."""

    @property
    def expires_at(self) -> float: ...

    @property
    def cli(self) -> Any: ...  # app.services.sso.CliRequest: port | device, challenge


class CliHandoff:
    """The picker's hook (app.sso.picker.Handoff): after a role choice in a sign-in that
    `tessera login` started, the credentials go to the CLI, not to the page."""

    def __init__(self, store: HandoffStore) -> None:
        self._store = store

    async def deliver(self, signin: PickedSignIn, issued: dict[str, Any], *, handle: str, role_arn: str) -> str:
        cli = signin.cli
        binding = CliBinding(str(cli.challenge), port=cli.port, device=cli.device)
        code = await issue_handoff(self._store, issued["credentials"], binding.challenge, signin, handle=handle,
                                   role_arn=role_arn)
        return binding.callback_url(code)
