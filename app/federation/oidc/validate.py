"""OIDC web identity token validation: the one entry point, and the names callers import.

    header = peek(token)                  # unverified kid/alg/iss: find the provider, its keys
    identity = validate_web_identity_token(token, OidcTrust(issuer, client_ids), keys, now,
                                           peeked=header)   # optional: reuse peek's parse

Order (DESIGN.md: signature first, then the claims): strict structure and header (compact.py)
→ the key the `kid` names (keyset.py; `UnknownKid` lets the service refresh the key set once)
→ the algorithm must be on that key's allow-list → signature (signature.py) → claims
(claims.py). Pure: no clock, network or store; keys are built once per key-set fetch.

Any input, however malformed, ends in `OidcRejected` (its `to_aws_error()` gives the wire's
`InvalidIdentityToken` or `ExpiredTokenException`); an exception this module did not foresee
is refused too, as `oidc_unexpected`, never passed on (the tests assert it never happens).
"""
from __future__ import annotations

from app.federation.identity import FederatedIdentity
from app.federation.oidc.claims import OidcTrust, identity_from_claims
from app.federation.oidc.compact import MAX_TOKEN_BYTES, SIGNING_ALGORITHMS, TokenHeader, parse, peek
from app.federation.oidc.keyset import KeySet, SelectedKey
from app.federation.oidc.rejected import JwksRejected, OidcRejected, UnknownKid
from app.federation.oidc.signature import verify

__all__ = [
    "MAX_TOKEN_BYTES", "SIGNING_ALGORITHMS", "JwksRejected", "KeySet", "OidcRejected", "OidcTrust",
    "SelectedKey", "TokenHeader", "UnknownKid", "peek", "validate_web_identity_token",
]


def validate_web_identity_token(token: str, trust: OidcTrust, keys: KeySet, now: float, *,
                                skew_seconds: float = 300, max_bytes: int = MAX_TOKEN_BYTES,
                                peeked: TokenHeader | None = None) -> FederatedIdentity:
    """The identity in `token` when it is signed by a key of `keys` and its claims satisfy
    `trust` at `now` (epoch seconds, `skew_seconds` of leeway); else OidcRejected. `peeked`,
    the result of `peek(token)`, saves a second parse (used only if it is of this very token)."""
    try:
        reuse = peeked.parsed if peeked is not None else None
        if reuse is not None and reuse.token == token and len(token) <= max_bytes:
            parsed = reuse
        else:
            parsed = parse(token, max_bytes)
        key = keys.select(parsed.kid)
        if key is None:
            raise UnknownKid("oidc_kid_unknown" if parsed.kid is not None else "oidc_kid_missing", parsed.kid)
        if parsed.alg not in key.algorithms:
            raise OidcRejected("oidc_alg_not_allowed")
        verify(key, parsed.alg, parsed.signing_input, parsed.signature)
        return identity_from_claims(parsed.claims, trust, now, skew_seconds)
    except OidcRejected:
        raise
    except Exception:  # fail closed; the exception may quote token content, so it is not chained
        raise OidcRejected("oidc_unexpected") from None
