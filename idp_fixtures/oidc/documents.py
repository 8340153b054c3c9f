"""The documents an OpenID provider publishes: its key set (JWKS, RFC 7517) and its discovery
document (`/.well-known/openid-configuration`, OpenID Connect Discovery 1.0 §3)."""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from idp_fixtures.oidc.material import IssuerKey, load


def jwks_document(keys: Iterable[IssuerKey], *, alg: bool = True, use: bool = True,
                  extra: Iterable[dict[str, Any]] = ()) -> dict[str, Any]:
    """`{"keys": [...]}` with the public JWK of each key, then any `extra` raw JWKs
    (e.g. an `oct` key or a malformed entry, for key-set tests)."""
    return {"keys": [k.public_jwk(alg=alg, use=use) for k in keys] + [dict(e) for e in extra]}


def discovery_document(issuer: str, jwks_uri: str, /, **overrides: Any) -> dict[str, Any]:
    """A minimal valid discovery document for `issuer` (its `issuer` member is exactly the
    issuer URL, as a relying party must check); `overrides` replace or add members."""
    base = issuer.rstrip("/")
    doc: dict[str, Any] = {
        "issuer": issuer,
        "jwks_uri": jwks_uri,
        "authorization_endpoint": f"{base}/authorize",
        "token_endpoint": f"{base}/token",
        "response_types_supported": ["code", "id_token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256", "PS256", "ES256", "ES384", "ES512"],
        "scopes_supported": ["openid"],
        "claims_supported": ["iss", "sub", "aud", "exp", "iat", "nbf", "jti", "azp", "amr"],
    }
    doc.update(overrides)
    return doc


def jwks_from_spec(spec: Iterable[str | Mapping[str, Any]]) -> dict[str, Any]:
    """A key set described briefly (the OIDC corpus uses this): each entry is a key file name
    of material.KEYS (published without `alg`), or a mapping `{key: NAME, kid: …, alg: …,
    use: …, members: {…}}` (`kid: null` publishes no kid; `members` are merged in last, e.g.
    private `d`), or `{raw: {…}}`, a JWK given as is."""
    keys: list[dict[str, Any]] = []
    for entry in spec:
        if isinstance(entry, str):
            keys.append(load(entry).public_jwk(alg=False))
            continue
        if "raw" in entry:
            keys.append(dict(entry["raw"]))
            continue
        base = load(entry["key"])
        if "kid" in entry:
            base = base.with_kid(entry["kid"])
        jwk = base.public_jwk(alg=False)
        for member in ("alg", "use"):
            if member in entry:
                jwk[member] = entry[member]
        jwk.update(entry.get("members") or {})
        keys.append(jwk)
    return {"keys": keys}
