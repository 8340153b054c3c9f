"""CloudTrail-shaped audit events, scrubbed of secrets when they are built.

Every value that may carry a secret (secret keys, session tokens, SAML assertions, web
identity tokens, passwords, MFA codes and seeds, private keys, signatures) is replaced by
CloudTrail's own placeholder; credentials are reduced to their access key id and expiration. Policy
documents are kept: they are configuration, not secrets.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from functools import lru_cache
from itertools import islice
from operator import attrgetter
from dataclasses import dataclass, field
from typing import Any

from app.core.clock import iso8601
from app.core.records import Caller, quick_init

REDACTED = "HIDDEN_DUE_TO_SECURITY_REASONS"
EVENT_VERSION = "1.08"
_MAX_DEPTH = 12
_MAX_ITEMS = 1000

# compared after lower-casing and removing '_' and '-': covers AWS names and xform_name()s
_SECRET_KEYS = frozenset({
    "secretaccesskey", "sessiontoken", "securitytoken", "xamzsecuritytoken", "samlassertion",
    "samlresponse", "webidentitytoken", "password", "newpassword", "oldpassword", "servicepassword",
    "privatekey", "addprivatekey", "privatekeyspem", "tokencode", "authenticationcode1", "authenticationcode2", "base32stringseed",
    "qrcodepng", "signature", "xamzsignature", "authorization", "clientsecret", "accesstoken",
    "idtoken", "refreshtoken", "token", "secret", "assertion", "contextassertion",
})
_CREDENTIAL_KEYS = frozenset({"credentials"})
_ACCESS_KEY_ID_KEYS = ("AccessKeyId", "accessKeyId", "access_key_id")
_EXPIRATION_KEYS = ("Expiration", "expiration")


_KEY_CLASSES: dict[str, int] = {}  # key -> _key_class(key), remembered (all forgotten past 4096)


def secret_key(key: str) -> bool:
    """Is `key` (an AWS member name, its camelCase or its xform_name) one whose value is a
    secret? The scrubber's own rule, for those who drop such members before it runs."""
    return _key_class(key) == 1


def _key_class(key: str) -> int:
    """0: an ordinary key; 1: a secret-bearing key; 2: a credentials structure (remembered in
    _KEY_CLASSES, where `_scrub_items` looks first)."""
    n = key.lower().replace("_", "").replace("-", "")
    cls = 1 if n in _SECRET_KEYS else 2 if n in _CREDENTIAL_KEYS else 0
    if len(_KEY_CLASSES) >= 4096:
        _KEY_CLASSES.clear()
    _KEY_CLASSES[key] = cls
    return cls


@lru_cache(maxsize=512)
def _record_reader(kind: type) -> tuple[tuple[str, ...], Callable[[Any], tuple[Any, ...]]] | None:
    """The field names of a dataclass type and a reader of their values in that order (None
    for anything else), built once per type: the values are read in C, not one getattr each."""
    if not dataclasses.is_dataclass(kind):
        return None
    names = tuple(f.name for f in dataclasses.fields(kind))[:_MAX_ITEMS]
    if len(names) > 1:
        return names, attrgetter(*names)
    return names, lambda value: tuple(getattr(value, name) for name in names)


def _access_key_only(value: Any) -> Any:
    """Credentials reduced to their access key id and expiration (as CloudTrail keeps them)."""
    kind: type = type(value)
    if _record_reader(kind) is not None:  # a record (an instance of a dataclass)
        key_id = getattr(value, "access_key_id", None)
        if not isinstance(key_id, str):
            return REDACTED
        out: dict[str, Any] = {"accessKeyId": key_id}
        expiration = getattr(value, "expiration", None)
        if type(expiration) in _PLAIN and expiration is not None:
            out["expiration"] = expiration
        return out
    if isinstance(value, Mapping):
        for k in _ACCESS_KEY_ID_KEYS:
            if k in value:
                out = {"accessKeyId": value[k] if type(value[k]) is str else REDACTED}
                for e in _EXPIRATION_KEYS:
                    expiration = value.get(e)
                    if type(expiration) in _PLAIN and expiration is not None:
                        out["expiration"] = expiration
                        break
                return out
    return REDACTED


_PLAIN = frozenset({str, int, float, bool, type(None)})


def scrub(value: Any, depth: int = 0) -> Any:
    """A JSON-ready copy of `value` (records, mappings and sequences become dicts and lists)
    with every secret-bearing key redacted. One pass; primitives return at once."""
    kind: type = type(value)
    if kind in _PLAIN:
        return value
    if depth > _MAX_DEPTH:
        return "..."
    if kind is dict:
        return _scrub_items(value.items() if len(value) <= _MAX_ITEMS else islice(value.items(), _MAX_ITEMS), depth)
    reader = _record_reader(kind)
    if reader is not None:
        names, values = reader
        return _scrub_items(zip(names, values(value)), depth)
    if isinstance(value, Mapping):
        return _scrub_items(islice(((str(k), v) for k, v in value.items()), _MAX_ITEMS), depth)
    if isinstance(value, (list, tuple, set, frozenset)):
        return [scrub(v, depth + 1) for v in list(value)[:_MAX_ITEMS]]
    if isinstance(value, (str, int, float, bool)):  # subclasses (enums, IntEnum...)
        return value
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    return f"<{type(value).__name__}>"  # never str(): unknown objects may render secrets


def _scrub_items(items: Iterable[tuple[Any, Any]], depth: int) -> dict[str, Any]:
    """The scrubbed copy of at most _MAX_ITEMS (key, value) pairs (the callers cut them)."""
    out: dict[str, Any] = {}
    for k, v in items:
        if type(k) is not str:
            k = str(k)
        cls = _KEY_CLASSES.get(k)
        if cls is None:
            cls = _key_class(k)
        if cls == 0:
            out[k] = v if type(v) in _PLAIN else scrub(v, depth + 1)
        elif cls == 1:
            out[k] = REDACTED
        else:
            out[k] = _access_key_only(v)
    return out


_IDENTITY_TYPES = {"root": "Root", "user": "IAMUser", "assumed-role": "AssumedRole",
                   "federated-user": "FederatedUser"}


def identity_of(caller: Caller | None, *, federated_type: str | None = None) -> dict[str, str]:
    """CloudTrail `userIdentity` for a signed caller, or the unsigned federation type
    (`SAMLUser`, `WebIdentityUser`) when there is none."""
    if caller is None:
        return {"type": federated_type or "Unknown"}
    return {"type": _IDENTITY_TYPES.get(caller.kind, caller.kind), "arn": caller.arn,
            "accountId": caller.account, "accessKeyId": caller.access_key_id, "principalId": caller.user_id}


def saml_user_identity(name_qualifier: str, subject: str) -> dict[str, str]:
    """CloudTrail's `userIdentity` of an AssumeRoleWithSAML caller: the provider stands as its
    NameQualifier (Base64 SHA-1 of issuer, account and provider name), as AWS records it."""
    return {"type": "SAMLUser", "principalId": f"{name_qualifier}:{subject}", "userName": subject,
            "identityProvider": name_qualifier}


def web_identity_user(provider_arn: str, audience: str, subject: str) -> dict[str, str]:
    """CloudTrail's `userIdentity` of an AssumeRoleWithWebIdentity caller of an IAM OIDC
    provider: the provider ARN, the audience (client id) and the token's `sub`."""
    return {"type": "WebIdentityUser", "principalId": f"{provider_arn}:{audience}:{subject}", "userName": subject,
            "identityProvider": provider_arn}


@quick_init  # one is built per request
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
        # user_identity is built by identity_of() from the authenticated caller (type, ARN,
        # account, access key id, principal id): nothing in it is secret; it is not re-scanned
        if self.request_parameters is not None:
            object.__setattr__(self, "request_parameters", scrub(self.request_parameters))
        if self.response_elements is not None:
            object.__setattr__(self, "response_elements", scrub(self.response_elements))

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
