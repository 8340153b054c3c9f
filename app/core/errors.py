"""One exception class per AWS error code.

`code` is the wire code (exactly botocore's model `error.code`, or the protocol code),
`status` the HTTP status. `reason` is a precise, machine-readable cause for the audit log
(`saml_audience_mismatch`); the client only ever sees `code` and `message`.
"""
from __future__ import annotations

from typing import ClassVar


class AwsError(Exception):
    code: ClassVar[str] = "InternalFailure"
    status: ClassVar[int] = 400
    sender: ClassVar[bool] = True  # <Type>Sender</Type> vs Receiver

    def __init__(self, message: str = "", *, reason: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason or self.code
        # CloudTrail `userIdentity` for callers the wire cannot name (an AssumeRoleWithSAML
        # whose assertion was verified before the request failed); None: the wire's own
        self.user_identity: dict[str, str] | None = None

    def __repr__(self) -> str:  # pragma: no cover - debugging aid
        return f"{type(self).__name__}({self.message!r})"


# ---- protocol / authentication (not in the models) ----
class ValidationError(AwsError):
    code = "ValidationError"


class InvalidAction(AwsError):
    code = "InvalidAction"


class MissingAction(AwsError):
    code = "MissingAction"


class InvalidParameterValue(AwsError):
    code = "InvalidParameterValue"


class MalformedQueryString(AwsError):
    code = "MalformedQueryString"
    status = 404


class RequestEntityTooLarge(AwsError):
    code = "RequestEntityTooLarge"
    status = 413


class IncompleteSignature(AwsError):
    code = "IncompleteSignature"


class SignatureDoesNotMatch(AwsError):
    code = "SignatureDoesNotMatch"
    status = 403


class InvalidClientTokenId(AwsError):
    code = "InvalidClientTokenId"
    status = 403


class MissingAuthenticationToken(AwsError):
    code = "MissingAuthenticationToken"
    status = 403


class ExpiredToken(AwsError):
    """Session credentials past their expiration (403, unmodelled)."""

    code = "ExpiredToken"
    status = 403


class AccessDenied(AwsError):
    code = "AccessDenied"
    status = 403


class Throttling(AwsError):
    code = "Throttling"


class InternalFailure(AwsError):
    code = "InternalFailure"
    status = 500
    sender = False


class ServiceUnavailable(AwsError):
    code = "ServiceUnavailable"
    status = 503
    sender = False


# ---- modelled IAM errors ----
class NoSuchEntity(AwsError):
    code = "NoSuchEntity"
    status = 404


class EntityAlreadyExists(AwsError):
    code = "EntityAlreadyExists"
    status = 409


class DeleteConflict(AwsError):
    code = "DeleteConflict"
    status = 409


class LimitExceeded(AwsError):
    code = "LimitExceeded"
    status = 409


class ConcurrentModification(AwsError):
    code = "ConcurrentModification"
    status = 409


class InvalidInput(AwsError):
    code = "InvalidInput"


# ---- signing certificates and SSH public keys ----
class MalformedCertificate(AwsError):
    code = "MalformedCertificate"


class InvalidCertificate(AwsError):
    code = "InvalidCertificate"


class DuplicateCertificate(AwsError):
    code = "DuplicateCertificate"
    status = 409


class InvalidPublicKey(AwsError):
    code = "InvalidPublicKey"


class DuplicateSSHPublicKey(AwsError):
    code = "DuplicateSSHPublicKey"


class UnrecognizedPublicKeyEncoding(AwsError):
    code = "UnrecognizedPublicKeyEncoding"


class MalformedPolicyDocument(AwsError):
    code = "MalformedPolicyDocument"


class PolicyNotAttachable(AwsError):
    code = "PolicyNotAttachable"


class UnmodifiableEntity(AwsError):
    code = "UnmodifiableEntity"


class PasswordPolicyViolation(AwsError):
    code = "PasswordPolicyViolation"


class EntityTemporarilyUnmodifiable(AwsError):
    code = "EntityTemporarilyUnmodifiable"
    status = 409


class InvalidUserType(AwsError):
    code = "InvalidUserType"


class InvalidAuthenticationCode(AwsError):
    code = "InvalidAuthenticationCode"
    status = 403


class PolicyEvaluation(AwsError):
    code = "PolicyEvaluation"
    status = 500
    sender = False


# ---- modelled STS errors ----
class PackedPolicyTooLarge(AwsError):
    code = "PackedPolicyTooLarge"


class ExpiredTokenException(AwsError):
    """An expired SAML assertion or web identity token (400, modelled)."""

    code = "ExpiredTokenException"


class IDPRejectedClaim(AwsError):
    code = "IDPRejectedClaim"
    status = 403


class IDPCommunicationError(AwsError):
    code = "IDPCommunicationError"


class InvalidIdentityToken(AwsError):
    code = "InvalidIdentityToken"


class RegionDisabled(AwsError):
    code = "RegionDisabledException"
    status = 403


def all_error_classes() -> list[type[AwsError]]:
    """Every concrete error class, for the wire's error table and its tests."""
    out: list[type[AwsError]] = []
    stack: list[type[AwsError]] = [AwsError]
    while stack:
        cls = stack.pop()
        out.append(cls)
        stack.extend(cls.__subclasses__())
    return out


class CredentialReportNotPresent(AwsError):
    code = "ReportNotPresent"
    status = 410


class CredentialReportExpired(AwsError):
    code = "ReportExpired"
    status = 410


class CredentialReportNotReady(AwsError):
    code = "ReportInProgress"
    status = 404
