"""Entry points: text -> validated document -> CompiledPolicy, cached by content hash.

The cache is a bounded `functools.lru_cache` keyed by (sha256 of the text, kind, source):
a pure function of its arguments, not shared mutable state. Size quotas (whitespace not
counted, as IAM counts) are enforced per kind with AWS's `LimitExceeded` message; callers
with adjustable quotas or aggregate limits (inline policies per user/group/role) pass
`max_size` or check `policy_size` themselves.
"""
from __future__ import annotations

import hashlib
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from app.core.errors import LimitExceeded, MalformedPolicyDocument
from app.policy.document import INVALID_JSON, PolicyDocument, PolicyKind, canonical_text, load, policy_size
from app.policy.evaluate import CompiledPolicy
from app.policy.validate import parse_document

K = PolicyKind
# Default maxima (characters excluding whitespace) and the quota name AWS reports.
SIZE_LIMITS: dict[PolicyKind, tuple[int, str]] = {
    K.IDENTITY: (10240, "PolicySize"),  # role inline aggregate; managed policies: 6144
    K.BOUNDARY: (6144, "PolicySize"),  # a boundary is a managed policy
    K.TRUST: (2048, "ACLSizePerRole"),  # adjustable to 4096-8192: pass max_size
    K.SESSION: (2048, "PolicySize"),
    K.SCP: (5120, "PolicySize"),
    K.RCP: (5120, "PolicySize"),
    K.RESOURCE: (20480, "PolicySize"),
}
Document = str | bytes | Mapping[str, Any]


def check_size(text: str, kind: PolicyKind, max_size: int | None = None) -> None:
    limit, quota = SIZE_LIMITS[kind]
    limit = max_size if max_size is not None else limit
    if policy_size(text) > limit:
        raise LimitExceeded(f"Cannot exceed quota for {quota}: {limit}")


def _load(doc: Document, kind: PolicyKind) -> Any:
    try:
        return load(doc)
    except MalformedPolicyDocument as e:
        if kind is PolicyKind.TRUST and e.reason == INVALID_JSON:  # IAM's own text for trust policies
            raise MalformedPolicyDocument("This policy contains invalid Json", reason=INVALID_JSON) from None
        raise


def _parse(doc: Document, kind: PolicyKind, text: str, max_size: int | None,
           managed: bool = False, strict: bool = True) -> PolicyDocument:
    check_size(text, kind, max_size)
    return parse_document(_load(doc, kind), kind, managed=managed, strict=strict)


def validate_policy(doc: Document, kind: PolicyKind, *, max_size: int | None = None, managed: bool = False) -> None:
    """Raise MalformedPolicyDocument (or LimitExceeded for size) if `doc` is not a valid `kind` policy.
    `managed`: also IAM's rule for managed policies (Version 2012-10-17), checked in IAM's order."""
    _parse(doc, kind, canonical_text(doc), max_size, managed)


def compile_policy(doc: Document, kind: PolicyKind, source: str = "", *,
                   max_size: int | None = None, stored: bool = False) -> CompiledPolicy:
    """Parse, validate and compile; cached by content. `source` labels matched statements.
    `stored`: a document the store accepted when it was written; it is evaluated as written
    (its structure is checked, the grammar's spelling rules are not applied again), so a rule
    tightened since then never turns an existing policy into an error at request time."""
    text = canonical_text(doc)
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()
    return _compile(digest, kind, source, max_size, stored, _Carrier(doc, text))


class _Carrier:
    """Carries the document into the cached function without being part of its key."""

    __slots__ = ("doc", "text")

    def __init__(self, doc: Document, text: str) -> None:
        self.doc, self.text = doc, text

    def __hash__(self) -> int:
        return 0

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Carrier)


@lru_cache(maxsize=4096)
def _compile(digest: bytes, kind: PolicyKind, source: str, max_size: int | None, stored: bool,
             carrier: _Carrier) -> CompiledPolicy:
    return CompiledPolicy(_parse(carrier.doc, kind, carrier.text, max_size, strict=not stored), kind, source)
