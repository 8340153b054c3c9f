"""A role session in the making: what it is minted from (`RoleSessionRequest`), what comes
out (`IssuedRoleSession`), and the pure rules between the two - which session tags and source
identity a chained session inherits from the calling session, and the packed policy size.

Choices where AWS is silent or unobservable here:
- `PackedPolicySize` = zlib-compressed size of the canonical JSON of session policies + session
  tags, as a percentage of 2048 bytes (a small policy lands near AWS's typical 5-10%);
- transitive tags of the calling session are carried over and cannot be overridden; the source
  identity, once set, cannot be changed.
"""
from __future__ import annotations

import json
import math
import zlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from app.core.errors import InvalidParameterValue, ValidationError
from app.core.records import AssumedRoleUser, Credentials, Session, Tag, quick_init
from app.policy import Principal

PACKED_BUDGET = 2048
# AWS's answers (InvalidParameterValue, 400), as recorded against AWS in LocalStack's STS tests
# (tests/aws/services/sts/test_sts.snapshot.json: test_assume_role_tag_validation,
# test_iam_role_chaining_override_transitive_tags)
DUPLICATE_TAG_KEYS = "Duplicate tag keys found. Please note that Tag keys are case insensitive."
TRANSITIVE_NOT_A_TAG = "The specified transitive tag key must be included in the requested tags."
TRANSITIVE_CONFLICT = ("One of the specified transitive tag keys can't be set because it conflicts with a "
                       "transitive tag key from the calling session.")


@quick_init
@dataclass(frozen=True, slots=True)
class RoleSessionRequest:
    """Everything one role session is minted from. `principal` is set for AssumeRoleWith*
    (the identity provider); otherwise the trust policy is evaluated for `call.caller`."""

    role_arn: str
    session_name: str
    action: str = "sts:AssumeRole"
    duration_seconds: int | None = None
    policy: str | None = None
    policy_arns: tuple[str, ...] = ()
    tags: tuple[Tag, ...] = ()
    transitive_tag_keys: tuple[str, ...] = ()
    source_identity: str | None = None
    external_id: str | None = None
    mfa_authenticated: bool = False
    # when the MFA code was checked, when that was before this request (an IAM user's browser
    # sign-in: aws:MultiFactorAuthAge counts from it); None: now
    mfa_authenticated_at: float | None = None
    principal: Principal | None = None
    federated_provider: str | None = None
    federation_context: tuple[tuple[str, str], ...] = ()  # also offered to the trust policy
    not_after: float | None = None  # e.g. SAML SessionNotOnOrAfter
    extra_context: tuple[tuple[str, str], ...] = field(default=())  # trust-only keys
    # one-time use (a SAML assertion's replay mark): awaited once every check has passed, right
    # before the session is minted; raises to refuse the session
    redeem: Callable[[], Awaitable[None]] | None = None


@quick_init
@dataclass(frozen=True, slots=True)
class IssuedRoleSession:
    credentials: Credentials
    assumed_role_user: AssumedRoleUser
    packed_policy_size: int | None
    source_identity: str | None
    session: Session


def packed_policy_size(policy: str | None, policy_arns: Sequence[str], tags: Sequence[Tag],
                       transitive: Sequence[str]) -> int:
    try:
        text = json.dumps(json.loads(policy), separators=(",", ":")) if policy else ""
    except ValueError:
        text = policy or ""
    blob = json.dumps([text, list(policy_arns), [[t.key, t.value] for t in tags], list(transitive)],
                      separators=(",", ":"), ensure_ascii=False)
    return math.ceil(len(zlib.compress(blob.encode("utf-8"), 9)) * 100 / PACKED_BUDGET)


def check_session_tags(tags: Sequence[Tag]) -> set[str]:
    """Refuse `aws:` keys and keys repeated case-insensitively; -> the lowercased keys."""
    seen: set[str] = set()
    for tag in tags:
        low = tag.key.lower()
        if low.startswith("aws:"):
            raise ValidationError(f"session tag key `{tag.key}` may not start with `aws:`")
        if low in seen:
            raise InvalidParameterValue(DUPLICATE_TAG_KEYS, reason="duplicate_tag_keys")
        seen.add(low)
    return seen


def resolve_session_tags(req: RoleSessionRequest,
                         inherited: Session | None) -> tuple[tuple[Tag, ...], tuple[str, ...]]:
    """(session tags, transitive keys): the new tags plus the caller's transitive ones."""
    seen = check_session_tags(req.tags)
    for key in req.transitive_tag_keys:
        if key.lower() not in seen:
            raise InvalidParameterValue(TRANSITIVE_NOT_A_TAG, reason="transitive_key_not_a_tag")
    carried: list[Tag] = []
    carried_keys: list[str] = []
    if inherited is not None:
        keys = {k.lower() for k in inherited.transitive_tag_keys}
        carried = [t for t in inherited.tags if t.key.lower() in keys]
        carried_keys = list(inherited.transitive_tag_keys)
        for tag in carried:
            if tag.key.lower() in seen:
                raise InvalidParameterValue(TRANSITIVE_CONFLICT, reason="transitive_tag_override")
    transitive = tuple(dict.fromkeys([*carried_keys, *req.transitive_tag_keys]))
    return tuple(carried) + req.tags, transitive


def resolve_source_identity(requested: str | None, inherited: Session | None) -> str | None:
    """The calling session's source identity if it has one (it cannot change), else the requested one."""
    if requested is not None and requested.lower().startswith("aws:"):
        raise ValidationError("SourceIdentity may not start with `aws:`")
    current = inherited.source_identity if inherited is not None else None
    if current is not None and requested is not None and requested != current:
        raise ValidationError(f"the source identity `{current}` of the calling session cannot be changed",
                              reason="source_identity_immutable")
    return current if current is not None else requested
