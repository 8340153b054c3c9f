"""SamlRejected: why a SAML response was refused, as an audit word and as AWS's answer.

`reason` is the precise cause for the audit log (`saml_audience_mismatch`); `error` is the
app.core.errors class the client gets and `message` its text (AWS's wording where AWS's is
known, reference §4.1). Messages never quote the response beyond short, recognised values.
"""
from __future__ import annotations

from app.core.errors import (
    AccessDenied,
    AwsError,
    ExpiredTokenException,
    IDPRejectedClaim,
    InvalidIdentityToken,
    ValidationError,
)

SIGNATURE_INVALID = "Response signature invalid"
ENCRYPTED_UNVERIFIED = "Unable to decrypt the encrypted assertion or verify its signature"

# reason -> (error class, default message)
_TABLE: dict[str, tuple[type[AwsError], str]] = {
    "saml_too_large": (ValidationError, "1 validation error detected: Value at 'sAMLAssertion' failed to satisfy "
                                        "constraint: Member must have length less than or equal to 100000"),
    "saml_empty": (ValidationError, "1 validation error detected: Value at 'sAMLAssertion' failed to satisfy "
                                    "constraint: Member must have length greater than or equal to 4"),
    "saml_not_base64": (InvalidIdentityToken, "Invalid SAML response: SAMLAssertion is not valid base64"),
    "saml_malformed": (InvalidIdentityToken, "Invalid SAML response"),
    "saml_comment_injection": (InvalidIdentityToken, "Invalid SAML response: comments and processing "
                                                     "instructions are not allowed inside the response"),
    "saml_signature_invalid": (InvalidIdentityToken, SIGNATURE_INVALID),
    "saml_signature_wrapping": (InvalidIdentityToken, SIGNATURE_INVALID + ": the signed element is not the "
                                                      "response or its one assertion"),
    "saml_unsigned": (InvalidIdentityToken, SIGNATURE_INVALID + ": neither the Response nor the Assertion is signed"),
    "saml_weak_algorithm": (InvalidIdentityToken, SIGNATURE_INVALID + ": algorithm not allowed"),
    "saml_transform": (InvalidIdentityToken, SIGNATURE_INVALID + ": only the enveloped-signature and exclusive "
                                             "c14n transforms are allowed"),
    "saml_multiple_assertions": (InvalidIdentityToken, "Invalid SAML response: it must contain exactly one assertion"),
    "saml_no_assertion": (InvalidIdentityToken, "Invalid SAML response: it must contain exactly one assertion"),
    "saml_issuer_mismatch": (InvalidIdentityToken, "Issuer not present in specified provider"),
    "saml_status": (IDPRejectedClaim, "The identity provider did not report success"),
    "saml_audience_mismatch": (InvalidIdentityToken, "Invalid SAML response: the assertion's audience is not "
                                                     "this service"),
    "saml_recipient_mismatch": (InvalidIdentityToken, "Invalid SAML response: the SubjectConfirmationData "
                                                      "Recipient is not this service's SAML endpoint"),
    "saml_destination_mismatch": (InvalidIdentityToken, "Invalid SAML response: the Destination is not this "
                                                        "service's SAML endpoint"),
    "saml_subject_confirmation": (InvalidIdentityToken, "Invalid SAML response: the Subject needs exactly one "
                                                        "bearer SubjectConfirmation with Recipient and NotOnOrAfter"),
    "saml_no_nameid": (AccessDenied, "Not authorized to perform sts:AssumeRoleWithSAML"),
    "saml_expired": (ExpiredTokenException, "Response has expired"),
    "saml_too_old": (ExpiredTokenException, "Token must be redeemed within 5 minutes of issuance"),
    "saml_not_yet_valid": (InvalidIdentityToken, "Invalid SAML response: the assertion is not yet valid"),
    "saml_encryption_required": (InvalidIdentityToken, "Invalid SAML response: the provider requires an "
                                                       "encrypted assertion"),
    "saml_no_decryption_key": (InvalidIdentityToken, "Invalid SAML response: the assertion is encrypted but the "
                                                     "provider has no private key"),
    "saml_decrypt_failed": (InvalidIdentityToken, ENCRYPTED_UNVERIFIED),
}
_DEFAULT = (InvalidIdentityToken, "Invalid SAML response")


class SamlRejected(Exception):
    """A refused SAML response. `reason`: audit word; `error`: the AWS error class;
    `message`: the client's text. str() is the message (never assertion content)."""

    def __init__(self, reason: str, message: str | None = None, *, error: type[AwsError] | None = None) -> None:
        default_error, default_message = _TABLE.get(reason, _DEFAULT)
        self.reason = reason
        self.error: type[AwsError] = error or default_error
        self.message = message or default_message
        super().__init__(self.message)

    def to_aws_error(self) -> AwsError:
        """The exception to raise to the client (code, status, message; audit reason kept)."""
        return self.error(self.message, reason=self.reason)

    def opaque(self) -> SamlRejected:
        """The same refusal with the one message every failure of an unauthenticated
        encrypted assertion gets (no decryption oracle: padding, parsing and signature
        failures look alike to the client; the audit reason stays precise)."""
        return SamlRejected(self.reason, ENCRYPTED_UNVERIFIED, error=InvalidIdentityToken)

    def __repr__(self) -> str:
        return f"SamlRejected({self.reason!r}, {self.message!r})"


def detail(reason: str, text: str) -> SamlRejected:
    """The reason's default error with `: text` appended to its message."""
    return SamlRejected(reason, f"{_TABLE.get(reason, _DEFAULT)[1]}: {text}")
