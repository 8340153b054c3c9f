"""Hypothesis: whatever the input, validation ends in a value or an OidcRejected (never another
exception, never the fail-closed `oidc_unexpected`), and what it accepts satisfies every rule.

- mutated good tokens: accepted only when the mutation changed nothing;
- correctly signed tokens with arbitrary claim values: accepted only with valid claims;
- correctly signed tokens with arbitrary header members: accepted only when the header is fine;
- arbitrary text, and arbitrary key-set documents.
"""
from __future__ import annotations

import base64
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.federation.oidc.validate import (
    JwksRejected, KeySet, OidcRejected, OidcTrust, peek, validate_web_identity_token,
)
from idp_fixtures.oidc.documents import jwks_from_spec
from idp_fixtures.oidc.issuer import DemoIssuer
from idp_fixtures.oidc.jws import compact
from idp_fixtures.oidc.material import DEMO_KEY_NAMES, load

NOW = 1_750_000_000
SKEW = 300
ISSUER = DemoIssuer()
TRUST = OidcTrust(ISSUER.url, ("tessera-demo", "sts.amazonaws.com"))
KEYS = KeySet.from_jwks(jwks_from_spec(list(DEMO_KEY_NAMES)))
GOOD = [ISSUER.token(alg=alg, now=NOW) for alg in ("RS256", "PS256", "ES256", "ES384", "ES512")]
SIGNER = load("ec-p256")  # the fastest signer for claim/header fuzzing
FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
BASE64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def outcome(token: Any, keys: KeySet = KEYS) -> Any:
    try:
        return validate_web_identity_token(token, TRUST, keys, NOW, skew_seconds=SKEW)
    except OidcRejected as exc:
        assert exc.reason != "oidc_unexpected", "an exception the validator did not foresee"
        assert exc.to_aws_error().code in ("InvalidIdentityToken", "ExpiredTokenException")
        return exc


json_scalars = st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70) | \
    st.floats(allow_nan=False) | st.text(max_size=20)
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=4) |
                           st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=12)
registered = st.sampled_from(["tessera-demo", "sts.amazonaws.com", "other", ""])
claim_value = {
    "iss": st.sampled_from([ISSUER.url, ISSUER.url + "/", "http://oidc.demo.tessera.test"]) | json_values,
    "sub": st.sampled_from(["demo-user", "", "a\nb"]) | json_values,
    "aud": registered | st.lists(registered, max_size=3) | json_values,
    "azp": registered | json_values,
    "exp": st.integers(min_value=NOW - 1000, max_value=NOW + 1000) | json_values,
    "nbf": st.integers(min_value=NOW - 1000, max_value=NOW + 1000) | json_values,
    "iat": st.integers(min_value=NOW - 1000, max_value=NOW + 1000) | json_values,
    "jti": st.text(max_size=10) | json_values,
}


@st.composite
def mutated(draw: st.DrawFn) -> tuple[str, str]:
    token = draw(st.sampled_from(GOOD))
    chars = list(token)
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        op = draw(st.sampled_from(["replace", "insert", "delete", "truncate", "swap_parts", "dot"]))
        at = draw(st.integers(min_value=0, max_value=max(0, len(chars) - 1)))
        if op == "replace" and chars:
            chars[at] = draw(st.sampled_from(BASE64URL + ".=+/ \n\u00e9"))
        elif op == "insert":
            chars.insert(at, draw(st.sampled_from(BASE64URL + ".")))
        elif op == "delete" and chars:
            del chars[at]
        elif op == "truncate":
            chars = chars[:at]
        elif op == "dot":
            chars.insert(at, ".")
        elif op == "swap_parts":
            parts = "".join(chars).split(".")
            draw(st.randoms()).shuffle(parts)
            chars = list(".".join(parts))
    return token, "".join(chars)


@settings(FUZZ, max_examples=300)
@given(mutated())
def test_mutated_tokens_are_refused_unless_unchanged(pair: tuple[str, str]) -> None:
    original, token = pair
    result = outcome(token)
    if not isinstance(result, OidcRejected):
        assert token == original


@FUZZ
@given(st.fixed_dictionaries({}, optional=claim_value), st.dictionaries(st.text(max_size=10), json_values, max_size=3))
def test_signed_tokens_with_arbitrary_claims(claims: dict[str, Any], extra: dict[str, Any]) -> None:
    payload = {**extra, **claims}
    token = compact({"alg": "ES256", "kid": SIGNER.kid}, payload, key=SIGNER.private_key)
    result = outcome(token)
    if isinstance(result, OidcRejected):
        return
    # Accepted: every rule holds for what was signed.
    assert payload["iss"] == TRUST.issuer
    for name in ("exp", "nbf", "iat"):
        if name in payload:
            assert type(payload[name]) is int
    assert NOW < payload["exp"] + SKEW
    assert payload.get("nbf", NOW) <= NOW + SKEW and payload.get("iat", NOW) <= NOW + SKEW
    auds = payload["aud"] if isinstance(payload["aud"], list) else [payload["aud"]]
    assert result.audience in TRUST.client_ids and (result.audience in auds or result.audience == payload.get("azp"))
    assert isinstance(payload["sub"], str) and payload["sub"] and payload["sub"].isprintable()
    assert result.subject == payload["sub"] and result.expires_at == payload["exp"]
    assert set(result.attributes) == set(payload)
    assert all(isinstance(v, str) for values in result.attributes.values() for v in values)


header_value = {
    "alg": st.sampled_from(["ES256", "es256", "none", "HS256", "RS256", "ES384", "PS256"]) | json_values,
    "kid": st.sampled_from([SIGNER.kid, "demo-rsa-a", "", "x"]) | json_values,
    "crit": json_values, "cty": st.sampled_from(["JWT", "jwt", "json"]) | json_values,
    "enc": json_values, "zip": json_values, "jwk": json_values, "jku": json_values, "typ": json_values,
    "b64": st.booleans(),
}


@FUZZ
@given(st.fixed_dictionaries({}, optional=header_value))
def test_signed_tokens_with_arbitrary_headers(header: dict[str, Any]) -> None:
    token = compact(header, ISSUER.claims(now=NOW), key=SIGNER.private_key, alg="ES256")
    result = outcome(token)
    if isinstance(result, OidcRejected):
        return
    assert header["alg"] == "ES256" and header.get("kid", SIGNER.kid) == SIGNER.kid
    assert not {"crit", "enc", "zip"} & set(header)
    assert not (isinstance(header.get("cty"), str) and header["cty"].upper() == "JWT")


@FUZZ
@given(st.text(max_size=300) | st.from_regex(r"[A-Za-z0-9_\-]{0,60}(\.[A-Za-z0-9_\-]{0,60}){0,5}", fullmatch=True))
def test_arbitrary_text_is_refused(token: str) -> None:
    assert isinstance(outcome(token), OidcRejected)
    try:
        peek(token)
    except OidcRejected as exc:
        assert exc.reason != "oidc_unexpected"


def _part(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()


@FUZZ
@given(st.lists(json_values, min_size=3, max_size=3))
def test_arbitrary_json_parts_are_refused(values: list[Any]) -> None:
    assert isinstance(outcome(".".join(_part(v) for v in values)), OidcRejected)


jwk_value = st.fixed_dictionaries({}, optional={
    "kty": st.sampled_from(["RSA", "EC", "oct", "OKP"]) | json_values,
    "crv": st.sampled_from(["P-256", "P-384", "P-521", "secp256k1"]) | json_values,
    "kid": st.text(max_size=5) | json_values, "use": st.sampled_from(["sig", "enc"]) | json_values,
    "alg": st.sampled_from(["RS256", "ES256", "HS256"]) | json_values,
    "n": st.text(alphabet=BASE64URL, max_size=400) | json_values, "e": st.sampled_from(["AQAB", "Aw", "AQ", "AA"]),
    "x": st.text(alphabet=BASE64URL, min_size=43, max_size=43) | json_values,
    "y": st.text(alphabet=BASE64URL, min_size=43, max_size=43) | json_values,
    "key_ops": json_values, "d": json_values,
})


@FUZZ
@given(st.one_of(
    st.fixed_dictionaries({"keys": st.lists(jwk_value | json_values, max_size=4)}),
    json_values,
    st.binary(max_size=200),
    st.text(max_size=200),
))
def test_arbitrary_key_sets_never_crash(document: Any) -> None:
    try:
        keys = KeySet.from_jwks(document)
    except JwksRejected as exc:
        assert exc.reason == "oidc_jwks_invalid"
        return
    assert all(k.kty in ("RSA", "EC") for k in keys.keys)
    assert all(k.bits >= 2048 for k in keys.keys if k.kty == "RSA")
    outcome(GOOD[0], keys)
