"""OIDC validation beyond the corpus: key-set hygiene and selection, peek, the identity's fields,
AWS errors and messages, the skew and size parameters, and interoperability with two JOSE
libraries nobody here wrote (python-jose for RS256/ES256, joserfc for PS256/ES512 too)."""
from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization

from app.core.errors import ExpiredTokenException, InvalidIdentityToken
from app.federation.oidc.validate import (
    JwksRejected, KeySet, OidcRejected, OidcTrust, TokenHeader, UnknownKid, peek, validate_web_identity_token,
)
from idp_fixtures.oidc.documents import jwks_from_spec
from idp_fixtures.oidc.issuer import OMIT, DemoIssuer
from idp_fixtures.oidc.material import DEMO_KEY_NAMES, load

NOW = 1_750_000_000
ISSUER = DemoIssuer()
TRUST = OidcTrust(ISSUER.url, ("tessera-demo", "sts.amazonaws.com"))
KEYS = KeySet.from_jwks(jwks_from_spec(list(DEMO_KEY_NAMES)))


def validate(token: str, **kw: Any) -> Any:
    return validate_web_identity_token(token, TRUST, KEYS, NOW, **kw)


def rejected(token: str, keys: KeySet = KEYS, trust: OidcTrust = TRUST, **kw: Any) -> OidcRejected:
    with pytest.raises(OidcRejected) as caught:
        validate_web_identity_token(token, trust, keys, NOW, **kw)
    return caught.value


# ---- key sets ----

def test_key_set_keeps_usable_keys_and_says_why_it_dropped_the_others() -> None:
    spec = [
        "rsa-a", "ec-p256", "rsa-1024-weak",
        {"raw": {"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"}},
        {"raw": {"kty": "OKP", "crv": "Ed25519", "kid": "ed", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}},
        {"key": "rsa-b", "use": "enc"},
        {"key": "rsa-b", "kid": "with-d", "members": {"d": "AQAB"}},
        {"key": "rsa-b", "kid": "demo-rsa-a"},  # duplicate kid
        {"key": "ec-p384", "members": {"crv": "P-256"}},  # coordinates of the wrong length
        {"key": "ec-p256", "kid": "secp256k1", "members": {"crv": "secp256k1"}},
        {"key": "rsa-b", "kid": "even-e", "members": {"e": "AQAA"}},
        {"key": "rsa-b", "kid": "e-one", "members": {"e": "AQ"}},
        {"key": "rsa-b", "kid": "hs-alg", "alg": "HS256"},
        {"key": "ec-p256", "kid": "es384-on-p256", "alg": "ES384"},
        {"key": "rsa-b", "kid": "no-verify", "members": {"key_ops": ["sign"]}},
        {"key": "rsa-b", "kid": "bad-n", "members": {"n": "not base64!"}},
        {"raw": {"kid": "no-kty", "n": "AQAB", "e": "AQAB"}},
        {"raw": {"kty": "RSA", "kid": 7, "n": "AQAB", "e": "AQAB"}},
    ]
    document = jwks_from_spec(spec)
    document["keys"].append("not an object")
    keys = KeySet.from_jwks(document)
    assert [k.kid for k in keys.keys] == ["demo-rsa-a", "demo-ec-p256"]
    refused = "\n".join(keys.refused)
    assert len(keys.refused) == len(spec) - 2 + 1
    for why in ("1024 bits", "`oct`", "unsupported key type", "`use` is not `sig`", "private", "duplicate `kid`",
                "not 32 bytes", "curve other than", "public exponent", "`alg` cannot be used", "`key_ops`",
                "`n` is missing or not base64url", "`kty` is missing", "`kid` is not a string", "not a JSON object"):
        assert why in refused, why
    assert "AQAB" not in refused  # reasons never quote key material


def test_key_algorithms_come_from_the_key_type() -> None:
    keys = KeySet.from_jwks(jwks_from_spec(["rsa-a", "ec-p256", "ec-p384", "ec-p521", {"key": "rsa-b", "alg": "PS384"}]))
    by_kid = {k.kid: k for k in keys.keys}
    assert by_kid["demo-rsa-a"].algorithms == {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}
    assert by_kid["demo-ec-p256"].algorithms == {"ES256"}
    assert by_kid["demo-ec-p384"].algorithms == {"ES384"}
    assert by_kid["demo-ec-p521"].algorithms == {"ES512"}
    assert by_kid["demo-rsa-b"].algorithms == {"PS384"}
    assert by_kid["demo-rsa-a"].bits == 2048 and by_kid["demo-ec-p521"].size == 66


def test_thumbprint_is_rfc7638() -> None:
    # RFC 7638 §3.1's example key and thumbprint.
    jwk = {"kty": "RSA", "e": "AQAB", "alg": "RS256", "kid": "2011-04-29", "n": (
        "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMs"
        "tn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajr"
        "n1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw")}
    keys = KeySet.from_jwks({"keys": [jwk]})
    assert keys.keys[0].thumbprint == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


@pytest.mark.parametrize("document, why", [
    (b"{" * 10, "not a strict JSON object"),
    (b'{"keys": []} trailing', "not a strict JSON object"),
    (b'{"keys": [], "keys": [{"kty": "RSA"}]}', "duplicate"),
    (b'{"keys": {"kty": "RSA"}}', "no `keys` list"),
    (b'{"Keys": []}', "no `keys` list"),
    (b"[]", "not a strict JSON object"),
    (b"\xff\xfe{}", "not a strict JSON object"),
    (b" " * 300_000, "larger than"),
    (42, "not a JSON object"),
])
def test_unusable_key_set_documents_are_rejected(document: Any, why: str) -> None:
    with pytest.raises(JwksRejected) as caught:
        KeySet.from_jwks(document)
    assert why in caught.value.why
    error = caught.value.to_aws_error()
    assert isinstance(error, InvalidIdentityToken) and "Couldn't retrieve verification key" in error.message


def test_key_set_accepts_bytes_text_and_mappings_alike() -> None:
    document = ISSUER.jwks()
    forms = [document, json.dumps(document), json.dumps(document).encode()]
    assert len({tuple(k.thumbprint for k in KeySet.from_jwks(f).keys) for f in forms}) == 1


def test_key_set_is_bounded() -> None:
    many = {"keys": [load("ec-p256").with_kid(f"k{i}").public_jwk() for i in range(150)]}
    keys = KeySet.from_jwks(many, max_keys=100)
    assert len(keys) == 100 and keys.refused == ("keys from 100 on: more than 100 keys",)


def test_select_follows_aws_rule() -> None:
    one = KeySet.from_jwks(jwks_from_spec(["rsa-a"]))
    two = KeySet.from_jwks(jwks_from_spec(["rsa-a", "rsa-b"]))
    no_kid = KeySet.from_jwks(jwks_from_spec([{"key": "rsa-a", "kid": None}]))
    assert one.select(None) is one.keys[0] and one.select("demo-rsa-a") is one.keys[0]
    assert two.select(None) is None and two.select("demo-rsa-b") is two.keys[1]
    assert no_kid.select(None) is no_kid.keys[0] and no_kid.select("") is None and no_kid.select("demo-rsa-a") is None
    assert KeySet([]).select(None) is None


# ---- peek ----

def test_peek_reads_kid_alg_and_unverified_issuer() -> None:
    token = ISSUER.token(alg="ES384", claims={"iss": "https://somewhere.example/x"}, now=NOW)
    assert peek(token) == TokenHeader(kid="demo-ec-p384", alg="ES384", issuer="https://somewhere.example/x")
    assert peek(ISSUER.token(kid=OMIT, now=NOW)).kid is None


@pytest.mark.parametrize("token, reason", [
    ("a.b", "oidc_malformed"),
    ("eyJhbGciOiJub25lIn0.eyJpc3MiOiJ4In0.", "oidc_alg_none"),  # {"alg":"none"}.{"iss":"x"}
    ("a.b.c.d.e", "oidc_jwe"),
    ("x" * 20001, "oidc_too_large"),
])
def test_peek_refuses_what_is_bad_on_its_face(token: str, reason: str) -> None:
    with pytest.raises(OidcRejected) as caught:
        peek(token)
    assert caught.value.reason == reason


def test_peek_needs_a_string_issuer() -> None:
    with pytest.raises(OidcRejected) as caught:
        peek(ISSUER.token(claims={"iss": OMIT}, now=NOW))
    assert (caught.value.reason, caught.value.detail) == ("oidc_claim_missing", {"claim": "iss"})
    with pytest.raises(OidcRejected) as caught:
        peek(ISSUER.token(claims={"iss": ["a"]}, now=NOW))
    assert caught.value.reason == "oidc_claim_type"


def test_validate_reuses_peek_only_for_the_same_token() -> None:
    good = ISSUER.token(now=NOW)
    header = peek(good)
    assert validate(good, peeked=header) == validate(good)
    forged = ISSUER.token(now=NOW, sub="admin", key="attacker-rsa", kid="demo-rsa-a")
    assert rejected(forged, peeked=header).reason == "oidc_signature_invalid"  # never the peeked parse
    assert rejected(good, peeked=header, max_bytes=len(good) - 1).reason == "oidc_too_large"
    assert header == TokenHeader("demo-rsa-a", "RS256", ISSUER.url) and "parsed" not in repr(header)
    assert all(part not in repr(header) + repr(header.parsed) for part in good.split("."))  # never log a token


def test_peek_max_bytes_is_a_parameter() -> None:
    token = ISSUER.token(now=NOW)
    assert peek(token, max_bytes=len(token)).alg == "RS256"
    with pytest.raises(OidcRejected):
        peek(token, max_bytes=len(token) - 1)
    assert rejected(token, max_bytes=len(token) - 1).reason == "oidc_too_large"


# ---- the identity ----

def test_identity_fields() -> None:
    token = ISSUER.token(sub="repo:acme/app:ref:refs/heads/main", aud=["x", "sts.amazonaws.com"], now=NOW, ttl=900,
                         iat_in=-10, claims={"jti": "token-1", "amr": ["mfa"]})
    identity = validate(token)
    assert (identity.kind, identity.issuer, identity.subject, identity.subject_type) == (
        "oidc", ISSUER.url, "repo:acme/app:ref:refs/heads/main", "")
    assert (identity.audience, identity.token_id) == ("sts.amazonaws.com", "token-1")
    assert (identity.issued_at, identity.expires_at) == (NOW - 10, NOW + 900)
    assert identity.attributes["aud"] == ("x", "sts.amazonaws.com") and identity.attributes["amr"] == ("mfa",)
    assert identity.session_not_on_or_after is None
    with pytest.raises(TypeError):
        identity.attributes["sub"] = ("admin",)  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        identity.subject = "admin"  # type: ignore[misc]


def test_issued_at_falls_back_to_nbf_then_now() -> None:
    assert validate(ISSUER.token(now=NOW, nbf_in=-5, claims={"iat": OMIT})).issued_at == NOW - 5
    no_times = validate(ISSUER.token(now=NOW, claims={"iat": OMIT, "jti": OMIT}))
    assert no_times.issued_at == NOW and no_times.token_id == ""


def test_skew_is_a_parameter() -> None:
    token = ISSUER.token(now=NOW, exp_in=-1)
    assert validate(token).subject == "demo-user"
    assert rejected(token, skew_seconds=0).reason == "oidc_expired"
    future = ISSUER.token(now=NOW, nbf_in=10)
    assert rejected(future, skew_seconds=5).reason == "oidc_not_yet_valid"


# ---- errors ----

def test_expired_is_expired_token_exception_with_aws_text() -> None:
    error = rejected(ISSUER.token(now=NOW, exp_in=-400)).to_aws_error()
    assert isinstance(error, ExpiredTokenException) and error.code == "ExpiredTokenException" and error.status == 400
    assert error.message == f"Token expired: current date/time {NOW} must be before the expiration date/time {NOW - 400}"


def test_unknown_kid_tells_the_service_to_refresh() -> None:
    caught = rejected(ISSUER.token(now=NOW, kid="next-key"))
    assert isinstance(caught, UnknownKid) and caught.kid == "next-key" and caught.reason == "oidc_kid_unknown"
    missing = rejected(ISSUER.token(now=NOW, kid=OMIT))
    assert isinstance(missing, UnknownKid) and missing.kid is None and missing.reason == "oidc_kid_missing"
    assert not isinstance(rejected(ISSUER.token(now=NOW, aud="x")), UnknownKid)


def test_every_reason_has_an_invalid_identity_token_message() -> None:
    from app.federation.oidc.rejected import MESSAGES
    for reason in MESSAGES:
        error = OidcRejected(reason, claim="exp", issuer="https://x", limit=1, now=1, exp=0).to_aws_error()
        expected = ExpiredTokenException if reason == "oidc_expired" else InvalidIdentityToken
        assert type(error) is expected and error.reason == reason and error.message
        assert "{" not in error.message


def test_non_string_tokens_are_refused() -> None:
    for token in (None, b"a.b.c", 42, ["a", "b", "c"]):
        assert rejected(token).reason == "oidc_malformed"  # type: ignore[arg-type]


# ---- interoperability ----

def _pem(name: str) -> bytes:
    return load(name).private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                serialization.NoEncryption())


def _claims() -> dict[str, Any]:
    return {"iss": ISSUER.url, "sub": "interop", "aud": "tessera-demo", "exp": NOW + 600, "iat": NOW}


@pytest.mark.parametrize("alg, key", [("RS256", "rsa-a"), ("ES256", "ec-p256"), ("RS512", "rsa-b")])
def test_accepts_python_jose_tokens(alg: str, key: str) -> None:
    from jose import jwt
    token = jwt.encode(_claims(), _pem(key).decode(), algorithm=alg, headers={"kid": load(key).kid})
    assert validate(token).subject == "interop"


@pytest.mark.parametrize("alg, key", [("RS256", "rsa-a"), ("PS256", "rsa-b"), ("PS512", "rsa-a"), ("ES256", "ec-p256"),
                                      ("ES384", "ec-p384"), ("ES512", "ec-p521")])
def test_accepts_joserfc_tokens_and_joserfc_accepts_the_fixtures(alg: str, key: str) -> None:
    joserfc_jwt = pytest.importorskip("joserfc.jwt")
    from joserfc import jwk
    kty = "RSA" if alg[0] in "RP" else "EC"
    private = jwk.import_key(_pem(key), kty)
    token = joserfc_jwt.encode({"alg": alg, "kid": load(key).kid}, _claims(), private, algorithms=[alg])
    assert validate(token).subject == "interop"
    ours = ISSUER.token(alg=alg, key=key, now=NOW)
    public = jwk.import_key(load(key).public_jwk(alg=False), kty)
    assert joserfc_jwt.decode(ours, public, algorithms=[alg]).claims["sub"] == "demo-user"
