"""The picker -> CLI handoff (app.sso.handoff): the binding a login URL carries, one-time codes
redeemed only with the verifier, and nothing that redeems twice."""
from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from typing import Any

import pytest

from app.core.records import Credentials
from app.sso.handoff import (
    HandoffRefused,
    CliBinding,
    cli_binding,
    issue_handoff,
    redeem_handoff,
    s256,
)

VERIFIER = "v" * 43 + "-._~" + "0123456789"
CHALLENGE = s256(VERIFIER)
CREDS = Credentials("ASIAEXAMPLEEXAMPLE00", "s" * 40, "token-text", 2_000_000_000.0)


class MemoryStore:
    """SsoState's put/take (kind, handle) semantics, with expiry against a given time."""

    def __init__(self) -> None:
        self.values: dict[tuple[str, str], tuple[dict[str, Any], float]] = {}
        self.now = 1_000.0

    async def put(self, kind: str, handle: str, value: dict[str, Any], until: float) -> None:
        self.values[(kind, handle)] = (value, until)

    async def take(self, kind: str, handle: str) -> dict[str, Any] | None:
        value, until = self.values.pop((kind, handle), (None, 0.0))
        return value if value is not None and until > self.now else None


@dataclass
class SignIn:
    expires_at: float


SIGNIN = SignIn(5_000.0)
ROLE = "arn:aws:iam::123456789012:role/dev"


def test_s256_is_rfc7636():
    # RFC 7636 appendix B
    assert s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk") == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    assert CHALLENGE == base64.urlsafe_b64encode(hashlib.sha256(VERIFIER.encode()).digest()).rstrip(b"=").decode()


def test_binding_from_a_login_query():
    assert cli_binding({}) is None
    assert cli_binding({"cli_port": "", "cli_challenge": ""}) is None
    loop = cli_binding({"cli_port": "53682", "cli_challenge": CHALLENGE})
    assert loop == CliBinding(CHALLENGE, port=53682)
    assert loop.callback_url("CODE") == "http://127.0.0.1:53682/callback?code=CODE"
    assert CliBinding.from_record(loop.to_record()) == loop
    device = cli_binding({"cli_device": "d" * 43, "cli_challenge": CHALLENGE})
    assert device == CliBinding(CHALLENGE, device="d" * 43)
    assert device.callback_url("C").startswith("/sso/device/complete?")  # same origin, never another host
    assert CliBinding.from_record(device.to_record()) == device


@pytest.mark.parametrize("query", [
    {"cli_port": "53682"},  # no challenge
    {"cli_challenge": CHALLENGE},  # no port, no device
    {"cli_port": "80", "cli_challenge": CHALLENGE},  # privileged port
    {"cli_port": "65536", "cli_challenge": CHALLENGE},
    {"cli_port": "0x1f90", "cli_challenge": CHALLENGE},
    {"cli_port": "８０８０", "cli_challenge": CHALLENGE},  # non-ASCII digits
    {"cli_port": "53682", "cli_challenge": CHALLENGE + "A"},
    {"cli_port": "53682", "cli_challenge": "plain"},
    {"cli_port": "53682@evil.example", "cli_challenge": CHALLENGE},
    {"cli_port": "53682", "cli_challenge": CHALLENGE, "cli_device": "d" * 43},  # both kinds
    {"cli_device": "../../x", "cli_challenge": CHALLENGE},
    {"cli_port": ["53682"], "cli_challenge": CHALLENGE},
])
def test_malformed_bindings_are_refused(query):
    with pytest.raises(ValueError):
        cli_binding(query)


async def test_a_code_redeems_once_with_the_verifier():
    store = MemoryStore()
    code = await issue_handoff(store, CREDS, CHALLENGE, SIGNIN, handle="signin-handle", role_arn=ROLE, now=store.now)
    assert len(code) == 43 and ("cli", code) in store.values
    handoff = await redeem_handoff(store, code, VERIFIER)
    assert handoff.credentials == CREDS
    assert (handoff.role_arn, handoff.signin_id, handoff.signin_expires_at) == (ROLE, "signin-handle", 5_000.0)
    with pytest.raises(HandoffRefused) as refused:
        await redeem_handoff(store, code, VERIFIER)
    assert refused.value.reason == "handoff_code_unknown"


@pytest.mark.parametrize("verifier", [
    "w" * 43,  # another well-formed verifier
    CHALLENGE,  # the challenge itself
    "",
    "v" * 200,
])
async def test_a_wrong_verifier_spends_the_code(verifier):
    store = MemoryStore()
    code = await issue_handoff(store, CREDS, CHALLENGE, SIGNIN, handle="signin-handle", role_arn=ROLE, now=store.now)
    with pytest.raises(HandoffRefused) as refused:
        await redeem_handoff(store, code, verifier)
    assert refused.value.reason in ("handoff_verifier_mismatch", "handoff_verifier_malformed")
    with pytest.raises(HandoffRefused):  # and the right one comes too late
        await redeem_handoff(store, code, VERIFIER)


async def test_an_expired_code_does_not_redeem():
    store = MemoryStore()
    code = await issue_handoff(store, CREDS, CHALLENGE, SIGNIN, handle="signin-handle", role_arn=ROLE, now=store.now - 61)
    with pytest.raises(HandoffRefused):
        await redeem_handoff(store, code, VERIFIER)


@pytest.mark.parametrize("code", ["", "x", "a" * 42, "a" * 44, "a" * 42 + "/", "a" * 42 + "\u00e9"])
async def test_malformed_codes_never_reach_the_store(code):
    store = MemoryStore()
    with pytest.raises(HandoffRefused) as refused:
        await redeem_handoff(store, code, VERIFIER)
    assert refused.value.reason == "handoff_code_malformed"


async def test_issuing_for_a_malformed_challenge_fails():
    with pytest.raises(ValueError):
        await issue_handoff(MemoryStore(), CREDS, "short", SIGNIN, handle="signin-handle", role_arn=ROLE)
