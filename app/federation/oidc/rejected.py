"""Why a web identity token (or a provider's key set) was refused, and what the client sees.

Every refusal is one `OidcRejected` carrying an audit word (`reason`, e.g. `oidc_aud_mismatch`)
and, through `to_aws_error()`, the `app.core.errors` instance the wire renders: AWS's code and,
where AWS's text is known, AWS's message (`Incorrect token audience`, `No OpenIDConnect provider
found in your account for …`, `Couldn't retrieve verification key …`, `Token expired: current
date/time … must be before the expiration date/time …`). Other messages say what is wrong in
this project's style. No message ever carries the token or a key: only short, sanitised claim
values (the unverified `iss` AWS itself echoes, times).
"""
from __future__ import annotations

from app.core.errors import AwsError, ExpiredTokenException, InvalidIdentityToken

# AWS's own texts (reference/aws-sts-iam.md §5; observed in AWS CLI output, two spaces included).
KEY_UNAVAILABLE = ("Couldn't retrieve verification key from your identity provider,  please reference "
                   "AssumeRoleWithWebIdentity documentation for requirements")
AUDIENCE = "Incorrect token audience"
NO_PROVIDER = "No OpenIDConnect provider found in your account for {issuer}"
EXPIRED = "Token expired: current date/time {now} must be before the expiration date/time {exp}"

# reason -> the message the client gets (InvalidIdentityToken unless `to_aws_error` says otherwise).
MESSAGES: dict[str, str] = {
    "oidc_malformed": "the web identity token is not a well-formed signed JWT (compact JWS)",
    "oidc_too_large": "the web identity token is larger than {limit} bytes",
    "oidc_jwe": "the web identity token is encrypted (JWE); only signed ID tokens (JWS) are accepted",
    "oidc_nested_jwt": "the web identity token wraps another JWT (`cty` `JWT`); nested tokens are not accepted",
    "oidc_alg_none": "the web identity token is not signed (`alg` `none`)",
    "oidc_alg_not_allowed": "the web identity token's signing algorithm is not accepted for its key",
    "oidc_crit": "the web identity token requires header extensions (`crit`) this service does not understand",
    "oidc_kid_unknown": KEY_UNAVAILABLE,
    "oidc_kid_missing": KEY_UNAVAILABLE,
    "oidc_jwks_invalid": KEY_UNAVAILABLE,
    "oidc_signature_invalid": "the web identity token's signature is not valid",
    "oidc_iss_mismatch": NO_PROVIDER,
    "oidc_aud_mismatch": AUDIENCE,
    "oidc_expired": EXPIRED,
    "oidc_not_yet_valid": "the web identity token is not valid yet (`nbf` is in the future)",
    "oidc_iat_future": "the web identity token was issued in the future (`iat`)",
    "oidc_claim_missing": "the web identity token has no `{claim}` claim",
    "oidc_claim_type": "the web identity token's `{claim}` claim has the wrong type",
    "oidc_claim_range": "the web identity token's `{claim}` claim is out of range",
    "oidc_claim_value": "the web identity token's `{claim}` claim contains characters that are not allowed",
    "oidc_unexpected": "the web identity token could not be validated",
}


def printable(value: str, limit: int = 255) -> str:
    """`value` cut to `limit` characters with control characters replaced: safe in a message."""
    cut = value[:limit]
    cleaned = "".join(ch if ch.isprintable() else "?" for ch in cut)
    return cleaned + ("…" if len(value) > limit else "")


class OidcRejected(Exception):
    """A refused web identity token. `reason` is the audit word; `detail` holds the values the
    message is formatted with (claim name, sanitised issuer, times) and never the token."""

    def __init__(self, reason: str, **detail: object) -> None:
        self.reason = reason
        self.detail = detail
        template = MESSAGES.get(reason, MESSAGES["oidc_unexpected"])
        try:
            self.message = template.format(**detail)
        except (KeyError, IndexError):
            self.message = template
        super().__init__(f"{reason}: {self.message}")

    def to_aws_error(self) -> AwsError:
        if self.reason == "oidc_expired":
            return ExpiredTokenException(self.message, reason=self.reason)
        return InvalidIdentityToken(self.message, reason=self.reason)


class UnknownKid(OidcRejected):
    """No key of the current key set can be selected for the token (`oidc_kid_unknown`, or
    `oidc_kid_missing`: no `kid` and not exactly one key). The service may refresh the key set
    (at most once per provider per interval) and validate again; `kid` is the token's raw `kid`
    (attacker-controlled: log a fingerprint or a sanitised, cut form)."""

    def __init__(self, reason: str, kid: str | None) -> None:
        super().__init__(reason)
        self.kid = kid


class JwksRejected(OidcRejected):
    """A provider's key set document that cannot be used at all (`oidc_jwks_invalid`; `detail`
    has `why`). Individual unusable keys are not errors: `KeySet.refused` lists them."""

    def __init__(self, why: str) -> None:
        super().__init__("oidc_jwks_invalid", why=why)
        self.why = why
