"""Write-time checks of the policy documents IAM stores (the policy engine validates;
this module adds IAM's per-kind size quotas and write-time rules)."""
from __future__ import annotations

import json
from typing import Any

from app.core.errors import LimitExceeded, MalformedPolicyDocument
from app.policy import PolicyKind, policy_size, validate_policy

MANAGED_POLICY_SIZE = 6144
TRUST_POLICY_SIZE = 2048
INLINE_AGGREGATE = {"user": 2048, "group": 5120, "role": 10240}


class PolicyChecks:
    def inline(self, document: str, kind: str, name: str) -> int:
        """An inline identity policy of a user/group/role. -> its counted size (the
        aggregate over the entity's inline policies is checked by the store)."""
        size = policy_size(document)
        limit = INLINE_AGGREGATE[kind]
        if size > limit:
            raise LimitExceeded(f"Maximum policy size of {limit} bytes exceeded for {kind} {name}")
        validate_policy(document, PolicyKind.IDENTITY, max_size=limit)
        return size

    def managed(self, document: str) -> None:
        """A managed policy version: identity grammar, Version 2012-10-17, 6144 chars."""
        validate_policy(document, PolicyKind.IDENTITY, max_size=MANAGED_POLICY_SIZE, managed=True)

    def trust(self, document: str) -> list[tuple[str, str]]:
        """A role trust policy. -> the (`AWS` | `Federated`, value) principals it names (for the
        caller to check that named users, roles and identity providers of this account exist)."""
        validate_policy(document, PolicyKind.TRUST, max_size=TRUST_POLICY_SIZE)
        return named_principals(_load(document))


def _load(document: str) -> dict[str, Any]:
    try:
        doc = json.loads(document)
    except ValueError:  # already validated; defensive
        raise MalformedPolicyDocument("Syntax errors in policy.") from None
    return doc if isinstance(doc, dict) else {}


def named_principals(doc: dict[str, Any]) -> list[tuple[str, str]]:
    statements = doc.get("Statement", [])
    if isinstance(statements, dict):
        statements = [statements]
    out: list[tuple[str, str]] = []
    for st in statements if isinstance(statements, list) else []:
        if not isinstance(st, dict):
            continue
        for element in ("Principal", "NotPrincipal"):
            principal = st.get(element)
            if not isinstance(principal, dict):
                continue
            for kind in ("AWS", "Federated"):
                values = principal.get(kind, [])
                out += [(kind, v) for v in ([values] if isinstance(values, str) else values)
                        if isinstance(v, str)]
    return out
