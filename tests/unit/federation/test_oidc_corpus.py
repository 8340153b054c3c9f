"""Data-driven OIDC attack corpus: every case under tests/cases/oidc/*.yaml builds a token with an
idp_fixtures.oidc.attacks builder, validates it against a key set and a trust at a fixed `now`,
and asserts the outcome: the AWS error code and the audit reason (or, for good tokens, the
identity). Format: tests/cases/oidc/README.md.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from app.core.errors import ExpiredTokenException, InvalidIdentityToken
from app.federation.oidc.validate import KeySet, OidcRejected, OidcTrust, UnknownKid, validate_web_identity_token
from idp_fixtures.oidc.attacks import BUILDERS, build
from idp_fixtures.oidc.documents import jwks_from_spec
from idp_fixtures.oidc.issuer import DemoIssuer
from idp_fixtures.oidc.material import DEMO_KEY_NAMES

CASES_DIR = Path(__file__).resolve().parents[2] / "cases" / "oidc"
NOW = 1_750_000_000
ISSUER = DemoIssuer()
DEFAULT_TRUST = {"issuer": ISSUER.url, "client_ids": [ISSUER.client_id, "sts.amazonaws.com"]}
CODES = {"InvalidIdentityToken": InvalidIdentityToken, "ExpiredTokenException": ExpiredTokenException}
_KEYSETS: dict[str, KeySet] = {}


def load_cases() -> list[Any]:
    out = []
    for path in sorted(CASES_DIR.glob("*.yaml")):
        for case in yaml.safe_load(path.read_text(encoding="utf-8")):
            out.append(pytest.param(case, id=f"{path.stem}:{case['id']}"))
    return out


CASES = load_cases()


def keyset(spec: list[Any] | None) -> KeySet:
    key = repr(spec)
    if key not in _KEYSETS:
        _KEYSETS[key] = KeySet.from_jwks(jwks_from_spec(spec if spec is not None else list(DEMO_KEY_NAMES)))
    return _KEYSETS[key]


def test_corpus_is_well_formed() -> None:
    cases = [c.values[0] for c in CASES]
    ids = [c["id"] for c in cases]
    assert len(ids) == len(set(ids)), "case ids must be unique"
    assert len(cases) >= 150
    for case in cases:
        assert set(case) <= {"id", "note", "build", "args", "keys", "trust", "expect"}, case["id"]
        assert case.get("note"), f"{case['id']} has no note"
        assert case["build"] in BUILDERS, case["id"]
        expect = case["expect"]
        assert ("ok" in expect) != ("reason" in expect), case["id"]
        if "reason" in expect:
            assert expect["code"] in CODES, case["id"]


@pytest.mark.parametrize("case", CASES)
def test_case(case: dict[str, Any]) -> None:
    token = build(case["build"], ISSUER, NOW, **(case.get("args") or {}))
    trust_spec = {**DEFAULT_TRUST, **(case.get("trust") or {})}
    trust = OidcTrust(trust_spec["issuer"], tuple(trust_spec["client_ids"]))
    keys = keyset(case.get("keys"))
    expect = case["expect"]
    if "ok" in expect:
        identity = validate_web_identity_token(token, trust, keys, NOW)
        assert identity.kind == "oidc" and identity.issuer == trust.issuer
        assert identity.subject == expect.get("subject", "demo-user")
        assert identity.audience == expect.get("audience", ISSUER.client_id)
        for name, values in (expect.get("attributes") or {}).items():
            assert identity.attributes[name] == tuple(values), name
        return
    with pytest.raises(OidcRejected) as caught:
        validate_web_identity_token(token, trust, keys, NOW)
    rejected = caught.value
    assert rejected.reason == expect["reason"], rejected.message
    assert isinstance(rejected, UnknownKid) == rejected.reason.startswith("oidc_kid_")
    error = rejected.to_aws_error()
    assert isinstance(error, CODES[expect["code"]]) and error.reason == expect["reason"]
    if "message" in expect:
        assert error.message == expect["message"]
    # Never the token (or a part of it) in what is logged or sent.
    for text in (error.message, str(rejected), repr(rejected.detail)):
        assert all(part not in text for part in token.split(".") if len(part) >= 12)
