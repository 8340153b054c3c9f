"""Policy documents: JSON text -> a typed, frozen AST.

`load` parses the JSON (rejecting duplicate keys, as IAM does) and `policy_size` counts
characters the way IAM does for its quotas. The AST classes are plain frozen values; the
validator (`validate.py`) is the only code that builds them from raw JSON.
"""
from __future__ import annotations

import enum
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from app.core.errors import MalformedPolicyDocument

VERSION_2012 = "2012-10-17"
VERSION_2008 = "2008-10-17"
MAX_DOCUMENT_CHARS = 131072  # hard bound on any text we are asked to parse
INVALID_JSON = "invalid_json"  # the reason of a MalformedPolicyDocument for text that is not JSON


class PolicyKind(enum.Enum):
    IDENTITY = "identity"
    RESOURCE = "resource"
    TRUST = "trust"
    BOUNDARY = "boundary"
    SESSION = "session"
    SCP = "scp"
    RCP = "rcp"


@dataclass(frozen=True, slots=True)
class PrincipalSpec:
    """A `Principal` / `NotPrincipal` element. `wildcard` is the bare string form `"*"`."""

    wildcard: bool = False
    aws: tuple[str, ...] = ()
    service: tuple[str, ...] = ()
    federated: tuple[str, ...] = ()
    canonical_user: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Condition:
    """One `operator: {key: values}` entry; `operator` is the full name as written."""

    operator: str
    key: str
    values: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Statement:
    index: int  # 0-based position in the policy
    sid: str | None
    effect: str  # "Allow" | "Deny"
    principal: PrincipalSpec | None = None
    not_principal: PrincipalSpec | None = None
    actions: tuple[str, ...] | None = None
    not_actions: tuple[str, ...] | None = None
    resources: tuple[str, ...] | None = None
    not_resources: tuple[str, ...] | None = None
    conditions: tuple[Condition, ...] = ()


@dataclass(frozen=True, slots=True)
class PolicyDocument:
    version: str | None
    id: str | None
    statements: tuple[Statement, ...]

    @property
    def variables_enabled(self) -> bool:
        """Policy variables are substituted only under Version 2012-10-17."""
        return self.version == VERSION_2012


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise MalformedPolicyDocument(f"Syntax errors in policy. (duplicate key `{key}`)")
        out[key] = value
    return out


def _reject_constant(name: str) -> Any:
    raise MalformedPolicyDocument(f"Syntax errors in policy. (`{name}` is not valid JSON)", reason=INVALID_JSON)


def load(doc: str | bytes | Mapping[str, Any]) -> Any:
    """Parse policy JSON text (or pass a mapping through). Duplicate keys are an error."""
    if isinstance(doc, Mapping):
        return doc
    if isinstance(doc, (bytes, bytearray)):
        try:
            doc = bytes(doc).decode("utf-8")
        except UnicodeDecodeError:
            raise MalformedPolicyDocument("Syntax errors in policy. (not UTF-8 text)", reason=INVALID_JSON) from None
    if not isinstance(doc, str):
        raise MalformedPolicyDocument("Syntax errors in policy. (the document must be JSON text)")
    if len(doc) > MAX_DOCUMENT_CHARS:
        raise MalformedPolicyDocument("Syntax errors in policy. (the document is too large)")
    try:
        return json.loads(doc, object_pairs_hook=_no_duplicates, parse_constant=_reject_constant)
    except MalformedPolicyDocument:
        raise
    except (ValueError, RecursionError):
        raise MalformedPolicyDocument("Syntax errors in policy. (the document is not valid JSON)",
                                      reason=INVALID_JSON) from None


def canonical_text(doc: str | bytes | Mapping[str, Any]) -> str:
    """The text a document is cached and measured by (a mapping is serialised stably)."""
    if isinstance(doc, Mapping):
        try:
            return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        except (TypeError, ValueError):
            raise MalformedPolicyDocument("Syntax errors in policy. (the document is not JSON-shaped)") from None
    if isinstance(doc, (bytes, bytearray)):
        return bytes(doc).decode("utf-8", errors="replace")
    return doc


def policy_size(doc: str) -> int:
    """Characters excluding whitespace, as IAM counts them for its size quotas."""
    return sum(1 for ch in doc if not ch.isspace())
