"""The compact JWS serialization (RFC 7515 §7.1), read strictly, before any key is involved.

`parse` turns `header.payload.signature` into a `ParsedToken` or raises `OidcRejected`:
over `max_bytes` (AWS's `WebIdentityToken` limit is 20,000) → `oidc_too_large`; five parts or an
`enc`/`zip` header (JWE) → `oidc_jwe`; anything but three canonical base64url segments (no
padding, no `+/`, no stray bits, no whitespace), a header or claim set that is not a strict JSON
object (duplicates, depth, `NaN`: jsonobject.py) → `oidc_malformed`; `alg` `none` in any casing
→ `oidc_alg_none`; an `alg` outside RS/PS/ES 256/384/512 → `oidc_alg_not_allowed`; any `crit`
(no extension is understood) → `oidc_crit`; `cty` `JWT` (a nested token) → `oidc_nested_jwt`.
`jwk`, `jku`, `x5u`, `x5c`, `x5t` are never read: keys come only from the provider's key set.

`peek` is the same parse, returning only what provider lookup and key selection need (the
unverified `kid`, `alg` and `iss`), so a token that is bad on its face costs no key fetch.
"""
from __future__ import annotations

import binascii
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from app.core.records import quick_init
from app.federation.oidc.jsonobject import JsonRejected, parse_object
from app.federation.oidc.rejected import OidcRejected

MAX_TOKEN_BYTES = 20000
MAX_KID_CHARS = 256
SIGNING_ALGORITHMS = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"})

# A compact JWS is base64url segments and the dots between them: deleting these bytes from it
# must leave nothing.
_TOKEN_BYTES = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_."
# The last character of a segment whose length is 2 or 3 mod 4 carries 4 or 2 unused bits, which
# must be zero (RFC 4648 §3.5): otherwise several strings decode to one value (a malleable token).
_LAST_OF_2 = b"AQgw"
_LAST_OF_3 = b"AEIMQUYcgkosw048"
_NESTED = frozenset({"JWT", "APPLICATION/JWT"})
_TO_STANDARD = bytes.maketrans(b"-_", b"+/")
_PADDING = (b"", b"", b"==", b"=")


class ParsedToken(NamedTuple):
    """A token well-formed on its face, header checked (a named tuple: built once per request,
    it costs a third of a frozen dataclass)."""

    token: str
    claims: Mapping[str, Any]
    signing_input: bytes
    signature: bytes
    alg: str
    kid: str | None

    def __repr__(self) -> str:  # never the bearer token
        return f"ParsedToken(alg={self.alg!r})"


@quick_init
@dataclass(frozen=True, slots=True)
class TokenHeader:
    """What a token claims about itself before verification: for provider lookup and key
    selection only, never for a decision. `parsed` lets `validate_web_identity_token(…,
    peeked=header)` skip parsing the same token twice."""

    kid: str | None
    alg: str
    issuer: str
    parsed: ParsedToken | None = field(default=None, compare=False, repr=False)


def b64url_decode(segment: bytes) -> bytes:
    """Strict, canonical, unpadded base64url (the caller has checked the alphabet)."""
    rest = len(segment) % 4
    if rest == 1 or (rest == 2 and segment[-1] not in _LAST_OF_2) or (rest == 3 and segment[-1] not in _LAST_OF_3):
        raise OidcRejected("oidc_malformed")
    try:
        return binascii.a2b_base64(segment.translate(_TO_STANDARD) + _PADDING[rest])
    except (binascii.Error, ValueError):  # pragma: no cover - the alphabet was checked
        raise OidcRejected("oidc_malformed") from None


def _object(segment: bytes) -> dict[str, Any]:
    try:
        return parse_object(b64url_decode(segment))
    except JsonRejected:
        raise OidcRejected("oidc_malformed") from None


def _check_header(header: Mapping[str, Any]) -> tuple[str, str | None]:
    if "enc" in header or "zip" in header:
        raise OidcRejected("oidc_jwe")
    alg = header.get("alg")
    if not isinstance(alg, str):
        raise OidcRejected("oidc_malformed")
    if alg.lower() == "none":
        raise OidcRejected("oidc_alg_none")
    if "crit" in header:
        raise OidcRejected("oidc_crit")
    cty = header.get("cty")
    if isinstance(cty, str) and cty.upper() in _NESTED:
        raise OidcRejected("oidc_nested_jwt")
    if alg not in SIGNING_ALGORITHMS:
        raise OidcRejected("oidc_alg_not_allowed")
    kid = header.get("kid")
    if kid is not None and (not isinstance(kid, str) or len(kid) > MAX_KID_CHARS):
        raise OidcRejected("oidc_malformed")
    if "kid" in header and kid is None:
        raise OidcRejected("oidc_malformed")  # `"kid": null` is not "no kid"
    return alg, kid


def parse(token: str, max_bytes: int = MAX_TOKEN_BYTES) -> ParsedToken:
    if not isinstance(token, str):
        raise OidcRejected("oidc_malformed")
    if len(token) > max_bytes:
        raise OidcRejected("oidc_too_large", limit=max_bytes)
    dots = token.count(".")
    if dots == 4:
        raise OidcRejected("oidc_jwe")
    if dots != 2 or not token.isascii():
        raise OidcRejected("oidc_malformed")
    raw = token.encode("ascii")
    head, body, sig = raw.split(b".")
    if not head or not body or raw.translate(None, _TOKEN_BYTES):
        raise OidcRejected("oidc_malformed")
    alg, kid = _check_header(_object(head))
    claims = _object(body)
    signature = b64url_decode(sig) if sig else b""
    return ParsedToken(token, claims, raw[:len(head) + 1 + len(body)], signature, alg, kid)


def peek(token: str, max_bytes: int = MAX_TOKEN_BYTES) -> TokenHeader:
    """The unverified `kid`, `alg` and `iss` of a token that is well-formed on its face."""
    parsed = parse(token, max_bytes)
    issuer = parsed.claims.get("iss")
    if issuer is None:
        raise OidcRejected("oidc_claim_missing", claim="iss")
    if not isinstance(issuer, str):
        raise OidcRejected("oidc_claim_type", claim="iss")
    return TokenHeader(parsed.kid, parsed.alg, issuer, parsed)
