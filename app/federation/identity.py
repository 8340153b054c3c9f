"""The one value both federation kinds produce: who the IdP says the caller is, read only
from what was verified."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from app.core.records import quick_init


@quick_init  # built on every federated sign-in
@dataclass(frozen=True, slots=True)
class FederatedIdentity:
    """A verified SAML assertion or OIDC token.

    `attributes`: SAML attribute `Name` -> its values, or OIDC claim -> its values as strings,
    taken only from the signed element / verified token. `token_id` is the assertion ID or
    the JWT `jti` (replay marks); `expires_at` is the earliest of the assertion's
    NotOnOrAfter limits, or the JWT `exp` (epoch seconds).
    `session_not_on_or_after` is SAML's AuthnStatement@SessionNotOnOrAfter (caps the session).

    `redeemable_until`: the last instant at which the same token could pass validation again
    (expiry plus clock skew, capped by the redemption window after issuance): keep a replay
    mark at least until then. `name_qualifier`/`sp_name_qualifier` are the SAML NameID's
    attributes, `in_response_to` the Response's InResponseTo (SP-initiated browser flow)."""

    kind: Literal["saml", "oidc"]
    issuer: str
    subject: str
    subject_type: str
    audience: str
    token_id: str
    issued_at: float
    expires_at: float
    attributes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    session_not_on_or_after: float | None = None
    redeemable_until: float | None = None
    name_qualifier: str | None = None
    sp_name_qualifier: str | None = None
    in_response_to: str | None = None
