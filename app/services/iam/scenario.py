"""The compiled inputs of one policy simulation (`Scenario`) and the pure rules around them:
ContextEntries typing, the condition keys policies read, and statement positions reported
back as `SimulationStatement`s (1-based: the statement's `{` to just past its `}`).

Each policy is compiled under an engine label (`sim#N`) mapped back to its SourcePolicyId and
SourcePolicyType. An input policy that does not validate is `InvalidInput` naming the input;
a stored one that does not is `PolicyEvaluation`.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from app.core import arn as arns
from app.core.errors import InvalidInput, LimitExceeded, MalformedPolicyDocument, PolicyEvaluation
from app.core.records import Position, SimulationStatement
from app.policy import CompiledPolicy, PolicyKind, Principal, compile_policy
from app.policy.document import MAX_DOCUMENT_CHARS
from app.policy.positions import Span, statement_spans
from app.policy.values import read_binary, read_bool, read_date, read_network, read_number

_READERS = {"string": None, "numeric": read_number, "boolean": read_bool, "ip": read_network,
            "binary": read_binary, "date": read_date}


@dataclass(frozen=True, slots=True)
class PolicySource:
    policy: CompiledPolicy
    policy_id: str  # SourcePolicyId
    policy_type: str  # SourcePolicyType
    text: str


@dataclass
class Scenario:
    """Everything one simulation evaluates, compiled; `sources` maps engine labels back."""

    principal: Principal
    identity: list[CompiledPolicy] = field(default_factory=list)
    boundary: CompiledPolicy | None = None
    resource_text: str | None = None
    scp_levels: list[list[CompiledPolicy]] = field(default_factory=list)
    context: dict[str, str | list[str]] = field(default_factory=dict)
    owner: str | None = None
    sources: dict[str, PolicySource] = field(default_factory=dict)
    spans: dict[str, tuple[Span, ...]] = field(default_factory=dict)
    resource_pols: dict[bool, list[CompiledPolicy]] = field(default_factory=dict)

    def resource(self, trust: bool) -> list[CompiledPolicy]:
        """The ResourcePolicy (as a role trust policy when `trust`), compiled once."""
        if self.resource_text is None:
            return []
        found = self.resource_pols.get(trust)
        if found is None:
            kind = PolicyKind.TRUST if trust else PolicyKind.RESOURCE
            found = self.resource_pols[trust] = [self.add(self.resource_text, kind, "ResourcePolicy", "resource")]
        return found

    def add(self, doc: str, kind: PolicyKind, policy_id: str, policy_type: str, *,
            stored: bool = False) -> CompiledPolicy:
        label = f"sim#{len(self.sources)}"
        try:
            compiled = compile_policy(doc, kind, label, max_size=MAX_DOCUMENT_CHARS)
        except (MalformedPolicyDocument, LimitExceeded) as e:
            if stored:
                raise PolicyEvaluation(f"the policy `{policy_id}` could not be evaluated") from None
            raise InvalidInput(f"{policy_id}: {e.message}") from None
        self.sources[label] = PolicySource(compiled, policy_id, policy_type, doc)
        return compiled

    def statement(self, label: str, index: int) -> SimulationStatement:
        src = self.sources[label]
        spans = self.spans.get(label)
        if spans is None:
            spans = self.spans[label] = statement_spans(src.text)
        if index >= len(spans):
            return SimulationStatement(src.policy_id, src.policy_type)
        s = spans[index]
        return SimulationStatement(src.policy_id, src.policy_type, Position(s.start_line, s.start_column),
                                   Position(s.end_line, s.end_column))


def context_values(entries: Sequence[Mapping[str, Any]] | None) -> dict[str, str | list[str]]:
    """ContextEntries -> engine context: `...List` types are multivalued; values are checked
    against their type (numeric, boolean, ip, binary, date) and booleans lower-cased."""
    out: dict[str, str | list[str]] = {}
    for entry in entries or ():
        name = entry.get("ContextKeyName")
        if not name:
            raise InvalidInput("every ContextEntries member needs a ContextKeyName")
        values = list(entry.get("ContextKeyValues") or [])
        ctype = entry.get("ContextKeyType") or ("stringList" if len(values) > 1 else "string")
        multi = ctype.endswith("List")
        base = ctype[:-4] if multi else ctype
        reader = _READERS.get(base)
        for v in values:
            if reader is not None and reader(v) is None:
                raise InvalidInput(f"context key `{name}`: `{v}` is not a valid {base} value")
        if base == "boolean":
            values = [v.lower() for v in values]
        if multi:
            out[name] = values
        elif len(values) == 1:
            out[name] = values[0]
        else:
            raise InvalidInput(f"context key `{name}` of type {ctype} takes exactly one value")
    return out


def source_of(source: str) -> tuple[str, str]:
    """Engine source id of a stored policy -> (SourcePolicyId, SourcePolicyType)."""
    parts = source.split("/")
    if len(parts) == 4 and parts[2] == "inline":
        return parts[3], parts[0]
    parsed = arns.parse(source)
    return (parsed.resource_name if parsed else source,
            "aws-managed" if parsed is not None and parsed.account == "aws" else "user-managed")


def context_keys(policies: Sequence[CompiledPolicy]) -> list[str]:
    """Condition keys (and policy variables) the policies read, first spelling, case-insensitively unique."""
    keys: dict[str, str] = {}
    for pol in policies:
        for st in pol.statements:
            for key in st.keys:
                keys.setdefault(key.lower(), key)
    return list(keys.values())
