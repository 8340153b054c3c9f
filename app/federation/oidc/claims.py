"""The claim checks of a verified token, and the `FederatedIdentity` it becomes.

Run only after the signature verified. In order:
- `iss`: a string equal to the provider's registered issuer URL exactly (scheme, case, path and
  trailing slash all count) → else `oidc_iss_mismatch` (AWS: `No OpenIDConnect provider found
  in your account for <iss>`).
- `exp`: required; `nbf`, `iat`: optional. Each a JSON integer (not a float, string, bool or
  null: AWS documents integer dates) from 0 to 253402300799 (9999-12-31T23:59:59Z, beyond which
  datetime conversions fail). Expired when `now >= exp + skew` (AWS grants 5 minutes) →
  `ExpiredTokenException`; `nbf` or `iat` later than `now + skew` → refused.
- `aud`: required, a string or a non-empty list of strings; `azp`: optional string. Accepted when
  an `aud` value or `azp` is a registered client id ([I] in reference §5.1: AWS reads `azp` as
  the audience when present). `FederatedIdentity.audience` is the matched client id (the first
  registered `aud` value, else `azp`). For the condition keys, as AWS: `<provider>:aud` is `azp`
  when the token has one, else `audience`; `<provider>:oaud` is the token's `aud`
  (`attributes["aud"]`, every value).
- `sub`: a non-empty string without control characters; `jti`, when present, a string.

`attributes` holds every top-level claim as strings: a string as itself, `true`/`false`, numbers
in JSON form, `null` as no value (in lists too), a list of scalars as one string each, and any object (or list
holding one), like `https://aws.amazon.com/tags`, as one compact JSON text (parsed strictly,
duplicates refused, so `json.loads` on it is safe).
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from app.federation.identity import FederatedIdentity
from app.federation.oidc.rejected import OidcRejected, printable

MAX_DATE = 253402300799


@dataclass(frozen=True, slots=True)
class OidcTrust:
    """What a registered provider accepts: its issuer URL with scheme, exactly as `iss` must read
    it, and its client ids (the accepted audiences)."""

    issuer: str
    client_ids: tuple[str, ...]


def _date(claims: Mapping[str, Any], name: str) -> int | None:
    if name not in claims:
        return None
    value = claims[name]
    if type(value) is not int:  # bool is an int subclass; floats and strings are refused too
        raise OidcRejected("oidc_claim_type", claim=name)
    if not 0 <= value <= MAX_DATE:
        raise OidcRejected("oidc_claim_range", claim=name)
    return value


def _string(claims: Mapping[str, Any], name: str, *, required: bool) -> str | None:
    if name not in claims:
        if required:
            raise OidcRejected("oidc_claim_missing", claim=name)
        return None
    value = claims[name]
    if not isinstance(value, str):
        raise OidcRejected("oidc_claim_type", claim=name)
    return value


def _audiences(claims: Mapping[str, Any]) -> tuple[str, ...]:
    if "aud" not in claims:
        raise OidcRejected("oidc_claim_missing", claim="aud")
    aud = claims["aud"]
    if isinstance(aud, str):
        return (aud,)
    if isinstance(aud, list) and aud and all(isinstance(a, str) for a in aud):
        return tuple(aud)
    raise OidcRejected("oidc_claim_type", claim="aud")


def _scalar(value: Any) -> str:
    kind = type(value)
    if kind is str:
        return str(value)
    if kind is int:
        return int.__repr__(value)
    if kind is bool:
        return "true" if value else "false"
    return json.dumps(value)  # floats in JSON form (`1e+400` parses to inf: `Infinity`)


def _values(value: Any) -> tuple[str, ...]:
    kind = type(value)
    if kind is str:
        return (value,)
    if kind is int:
        return (int.__repr__(value),)
    if value is None:
        return ()
    if isinstance(value, dict) or (isinstance(value, list) and any(isinstance(v, (dict, list)) for v in value)):
        return (json.dumps(value, separators=(",", ":"), ensure_ascii=False),)
    if isinstance(value, list):
        return tuple(_scalar(v) for v in value if v is not None)
    return (_scalar(value),)


def attributes(claims: Mapping[str, Any]) -> Mapping[str, tuple[str, ...]]:
    return MappingProxyType({name: _values(value) for name, value in claims.items()})


def identity_from_claims(claims: Mapping[str, Any], trust: OidcTrust, now: float,
                         skew_seconds: float = 300) -> FederatedIdentity:
    issuer = _string(claims, "iss", required=True)
    if issuer != trust.issuer:
        raise OidcRejected("oidc_iss_mismatch", issuer=printable(issuer or ""))
    exp = _date(claims, "exp")
    if exp is None:
        raise OidcRejected("oidc_claim_missing", claim="exp")
    nbf, iat = _date(claims, "nbf"), _date(claims, "iat")
    if now >= exp + skew_seconds:
        raise OidcRejected("oidc_expired", now=int(now), exp=exp)
    if nbf is not None and nbf > now + skew_seconds:
        raise OidcRejected("oidc_not_yet_valid")
    if iat is not None and iat > now + skew_seconds:
        raise OidcRejected("oidc_iat_future")
    audiences = _audiences(claims)
    azp = _string(claims, "azp", required=False)
    for audience in audiences:
        if audience in trust.client_ids:
            break
    else:
        if azp is None or azp not in trust.client_ids:
            raise OidcRejected("oidc_aud_mismatch")
        audience = azp
    subject = _string(claims, "sub", required=True)
    if not subject:
        raise OidcRejected("oidc_claim_missing", claim="sub")
    if not subject.isprintable():
        raise OidcRejected("oidc_claim_value", claim="sub")
    token_id = _string(claims, "jti", required=False) or ""
    issued = iat if iat is not None else nbf if nbf is not None else now
    return FederatedIdentity(
        kind="oidc", issuer=trust.issuer, subject=subject or "", subject_type="", audience=audience,
        token_id=token_id, issued_at=float(issued), expires_at=float(exp), attributes=attributes(claims),
    )
