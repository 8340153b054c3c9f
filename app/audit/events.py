"""CloudTrail-shaped audit events, scrubbed of secrets when they are built.

Every value that may carry a secret (secret keys, session tokens, SAML assertions, web
identity tokens, passwords, MFA codes and seeds, private keys, signatures) is replaced by
CloudTrail's own placeholder; credentials are reduced to their access key id. Policy
documents are kept: they are configuration, not secrets.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from app.core.clock import iso8601
from app.core.records import Caller

REDACTED = "HIDDEN_DUE_TO_SECURITY_REASONS"
EVENT_VERSION = "1.08"
_MAX_DEPTH = 12
_MAX_ITEMS = 1000

# compared after lower-casing and removing '_' and '-': covers AWS names and xform_name()s
_SECRET_KEYS = frozenset({
    "secretaccesskey", "sessiontoken", "securitytoken", "xamzsecuritytoken", "samlassertion",
    "samlresponse", "webidentitytoken", "password", "newpassword", "oldpassword", "servicepassword",
    "privatekey", "tokencode", "authenticationcode1", "authenticationcode2", "base32stringseed",
    "qrcodepng", "signature", "xamzsignature", "authorization", "clientsecret", "accesstoken",
    "idtoken", "refreshtoken", "token", "secret", "assertion",
})
_CREDENTIAL_KEYS = frozenset({"credentials"})
_ACCESS_KEY_ID_KEYS = ("AccessKeyId", "accessKeyId", "access_key_id")


def _norm(key: str) -> str:
    return key.lower().replace("_", "").replace("-", "")


def _plain(value: Any, depth: int = 0) -> Any:
    """Records, mappings and sequences as JSON-ready values (dicts, lists, primitives)."""
    if depth > _MAX_DEPTH:
        return "..."
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name), depth + 1) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): _plain(v, depth + 1) for k, v in list(value.items())[:_MAX_ITEMS]}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_plain(v, depth + 1) for v in list(value)[:_MAX_ITEMS]]
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    return f"<{type(value).__name__}>"  # never str(): unknown objects may render secrets


def _access_key_only(value: Any) -> Any:
    if isinstance(value, Mapping):
        for k in _ACCESS_KEY_ID_KEYS:
            if k in value:
                return {"accessKeyId": value[k]}
    return REDACTED


def scrub(value: Any) -> Any:
    """A JSON-ready copy of `value` with every secret-bearing key redacted."""
    return _scrub(_plain(value))


def _scrub(value: Any) -> Any:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in value.items():
            n = _norm(k)
            if n in _SECRET_KEYS:
                out[k] = REDACTED
            elif n in _CREDENTIAL_KEYS:
                out[k] = _access_key_only(v)
            else:
                out[k] = _scrub(v)
        return out
    if isinstance(value, list):
        return [_scrub(v) for v in value]
    return value


_IDENTITY_TYPES = {"root": "Root", "user": "IAMUser", "assumed-role": "AssumedRole",
                   "federated-user": "FederatedUser"}


def identity_of(caller: Caller | None, *, federated_type: str | None = None) -> dict[str, str]:
    """CloudTrail `userIdentity` for a signed caller, or the unsigned federation type
    (`SAMLUser`, `WebIdentityUser`) when there is none."""
    if caller is None:
        return {"type": federated_type or "Unknown"}
    return {"type": _IDENTITY_TYPES.get(caller.kind, caller.kind), "arn": caller.arn,
            "accountId": caller.account, "accessKeyId": caller.access_key_id, "principalId": caller.user_id}


@dataclass(frozen=True, slots=True)
class AuditEvent:
    event_time: float
    event_source: str  # "sts.amazonaws.com" / "iam.amazonaws.com"
    event_name: str  # the Action
    request_id: str
    outcome: str  # "success" | "error"
    source_ip: str | None = None
    user_agent: str | None = None
    user_identity: Mapping[str, str] = field(default_factory=dict)
    error_code: str | None = None
    error_message: str | None = None
    reason: str | None = None  # precise internal cause: `sigv4_signature_mismatch`
    aws_region: str | None = None
    request_parameters: Mapping[str, Any] | None = None
    response_elements: Mapping[str, Any] | None = None

    def __post_init__(self) -> None:
        if self.outcome not in ("success", "error"):
            raise ValueError(f"outcome must be `success` or `error`, not `{self.outcome}`")
        object.__setattr__(self, "user_identity", scrub(dict(self.user_identity)))
        for name in ("request_parameters", "response_elements"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, scrub(value))

    def to_record(self) -> dict[str, Any]:
        """The CloudTrail record (camelCase keys), plus Tessera's `outcome` and `reason`."""
        record: dict[str, Any] = {
            "eventVersion": EVENT_VERSION,
            "eventTime": iso8601(self.event_time),
            "eventSource": self.event_source,
            "eventName": self.event_name,
            "awsRegion": self.aws_region,
            "sourceIPAddress": self.source_ip,
            "userAgent": self.user_agent,
            "userIdentity": dict(self.user_identity),
            "requestID": self.request_id,
            "outcome": self.outcome,
            "requestParameters": self.request_parameters,
            "responseElements": self.response_elements,
        }
        if self.outcome == "error":
            record["errorCode"] = self.error_code
            record["errorMessage"] = self.error_message
        if self.reason is not None:
            record["reason"] = self.reason
        return record
