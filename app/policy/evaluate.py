"""Compiled policies: statements bound to matchers once, indexed by action.

A `CompiledStatement` answers "does this statement apply?" for a request: its action
patterns become an index entry, its Resource/NotResource one combined regex (or a set),
its Principal a lookup, its conditions predicates from the operator registry. A
`CompiledPolicy` (and a `PolicySet` of many) maps a lower-cased action to the statements
whose Action/NotAction match it, computed once per action and cached, so a request
only looks at statements that can apply.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Callable

from app.policy.conditions import Predicate, compile_condition, condition_keys
from app.policy.document import PolicyDocument, PolicyKind, PrincipalSpec, Statement
from app.policy.matching import (
    ContextValue,
    Template,
    arn_regex,
    compiled,
    has_wildcard,
    parse_template,
    string_regex,
)
from app.policy.request import IAM_TYPES, MatchedStatement, Principal, PrincipalType

DIRECT, ROLE, PARENT, ACCOUNT = "direct", "role", "parent", "account"
_LOOKUP_CACHE_MAX = 2048

Ctx = Mapping[str, ContextValue]
ResourceTest = Callable[[str, Ctx], bool]
PrincipalTest = Callable[[Principal, bool], "str | None"]


def lower_context(context: Mapping[str, Any]) -> dict[str, ContextValue]:
    """Context keys lower-cased; multivalued values become tuples (reference §6: keys are case-insensitive)."""
    return {k.lower(): v if type(v) is str else tuple(v) for k, v in context.items()}


# ---------------------------------------------------------------- actions
class _ActionTest:
    __slots__ = ("exact", "regex", "everything")

    def __init__(self, patterns: Sequence[str]) -> None:
        self.everything = "*" in patterns
        self.exact = frozenset(p.lower() for p in patterns if not has_wildcard(p))
        wild = [string_regex((("p", p.lower()),)) for p in patterns if has_wildcard(p) and p != "*"]
        self.regex = compiled("|".join(f"(?:{w})" for w in wild)) if wild else None

    def __call__(self, action: str) -> bool:
        if self.everything or action in self.exact:
            return True
        return self.regex is not None and self.regex.fullmatch(action) is not None


# ---------------------------------------------------------------- resources
def _resource_test(patterns: Sequence[str], variables: bool) -> ResourceTest:
    if "*" in patterns:
        return lambda resource, ctx: True
    exact: set[str] = set()
    sources: list[str] = []
    dynamic: list[Template] = []
    for pattern in patterns:
        start = _fifth_colon(pattern)
        template = parse_template(pattern, variables, start)
        if template.has_variables or len(template.parts) != 1:
            dynamic.append(template)
        elif not has_wildcard(pattern):
            if pattern.count(":") >= 5:
                exact.add(pattern)
        else:
            src = arn_regex(template.parts)
            if src is not None:
                sources.append(src)
    regex = compiled("|".join(f"(?:{s})" for s in sources)) if sources else None
    frozen = frozenset(exact)

    def test(resource: str, ctx: Ctx) -> bool:
        if resource in frozen or (regex is not None and regex.fullmatch(resource) is not None):
            return True
        for template in dynamic:
            parts = template.resolve(ctx)
            if parts is None:
                continue
            src = arn_regex(parts)
            if src is not None and compiled(src).fullmatch(resource) is not None:
                return True
        return False

    return test


def _fifth_colon(pattern: str) -> int:
    """Index just past the 5th colon (where the resource part starts); len if absent."""
    pos = -1
    for _ in range(5):
        pos = pattern.find(":", pos + 1)
        if pos < 0:
            return len(pattern)
    return pos + 1


# ---------------------------------------------------------------- principals
def _aws_set(spec: PrincipalSpec) -> frozenset[str]:
    return frozenset(f"arn:aws:iam::{v}:root" if v.isdigit() else v for v in spec.aws)


def _principal_test(spec: PrincipalSpec) -> PrincipalTest:
    """Principal element -> the strongest match kind (reference §4.3, §8.2) or None."""
    if spec.wildcard:
        return lambda p, has_boundary: DIRECT
    aws, star = _aws_set(spec), "*" in spec.aws
    service, federated = frozenset(spec.service), frozenset(spec.federated)

    def test(p: Principal, has_boundary: bool) -> str | None:
        t = p.type
        if t in IAM_TYPES:
            if t is PrincipalType.ROOT:
                return ACCOUNT if star or p.arn in aws or p.root_arn in aws else None
            if star or p.arn in aws:
                return DIRECT
            if t is PrincipalType.ROLE_SESSION and p.effective_role_arn in aws:
                return ROLE
            if t is PrincipalType.FEDERATED_USER and p.source_user_arn in aws:
                return PARENT
            return ACCOUNT if p.root_arn in aws else None
        if t is PrincipalType.SERVICE:
            return DIRECT if p.arn in service or "*" in service else None
        if t is PrincipalType.FEDERATED:
            return DIRECT if p.arn in federated or "*" in federated else None
        return DIRECT if star else None  # anonymous: {"AWS": "*"} (choice 13: not service/federated)

    return test


def _not_principal_test(spec: PrincipalSpec) -> PrincipalTest:
    """NotPrincipal: applies unless the caller's exact identity is listed (choice 8);
    always applies to a principal with a permissions boundary (reference §4.3)."""
    aws, star = _aws_set(spec), "*" in spec.aws
    service, federated = frozenset(spec.service), frozenset(spec.federated)

    def exempt(p: Principal) -> bool:
        if spec.wildcard:
            return True
        t = p.type
        if t is PrincipalType.ROOT:
            return star or p.arn in aws or p.root_arn in aws
        if t in IAM_TYPES:
            return star or p.arn in aws
        if t is PrincipalType.SERVICE:
            return p.arn in service or "*" in service
        if t is PrincipalType.FEDERATED:
            return p.arn in federated or "*" in federated
        return star

    def test(p: Principal, has_boundary: bool) -> str | None:
        if has_boundary and p.type in IAM_TYPES:
            return DIRECT
        return None if exempt(p) else DIRECT

    return test


# ---------------------------------------------------------------- statements
class CompiledStatement:
    __slots__ = ("info", "deny", "action_test", "resource_test", "principal_test", "conditions",
                 "keys", "lower_keys", "needs_ctx", "order")

    def __init__(self, st: Statement, doc: PolicyDocument, kind: PolicyKind, source: str) -> None:
        variables = doc.variables_enabled
        self.info = MatchedStatement(source, kind, st.index, st.sid, st.effect)
        self.deny = st.effect == "Deny"
        self.order = st.index
        patterns = st.actions if st.actions is not None else st.not_actions or ()
        test = _ActionTest(patterns)
        self.action_test: Callable[[str], bool] = (
            test if st.actions is not None else (lambda a: not test(a)))
        resource_patterns = st.resources if st.resources is not None else st.not_resources
        self.resource_test: tuple[ResourceTest, bool] | None = (
            None if resource_patterns is None
            else (_resource_test(resource_patterns, variables), st.not_resources is not None))
        self.principal_test: PrincipalTest | None = (
            _principal_test(st.principal) if st.principal is not None
            else _not_principal_test(st.not_principal) if st.not_principal is not None else None)
        preds = [compile_condition(c, variables) for c in st.conditions]
        # cheapest first: a failing equality test spares the regex and parsing work
        self.conditions: tuple[Predicate, ...] = tuple(
            sorted((p for p in preds if p is not None), key=lambda p: getattr(p, "cost", 1)))
        keys: list[str] = []
        for c in st.conditions:
            keys.extend(condition_keys(c, variables))
        for r in resource_patterns or ():
            keys.extend(parse_template(r, variables, _fifth_colon(r)).variable_names)
        self.keys = tuple(dict.fromkeys(keys))
        self.lower_keys = frozenset(k.lower() for k in self.keys)
        self.needs_ctx = bool(self.conditions) or bool(self.keys)


class ActionIndex:
    """Statements (in order) indexed by exact action and by vendor prefix."""

    __slots__ = ("_exact", "_vendor", "_global", "_cache")

    def __init__(self, statements: Iterable[tuple[int, CompiledStatement, Sequence[str] | None]]) -> None:
        self._exact: dict[str, list[tuple[int, CompiledStatement]]] = {}
        self._vendor: dict[str, list[tuple[int, CompiledStatement]]] = {}
        self._global: list[tuple[int, CompiledStatement]] = []
        for order, st, patterns in statements:
            if patterns is None or "*" in patterns:
                self._global.append((order, st))
                continue
            for p in patterns:
                low = p.lower()
                if has_wildcard(low):
                    vendor = low.split(":", 1)[0]
                    if has_wildcard(vendor):
                        self._global.append((order, st))
                    else:
                        self._vendor.setdefault(vendor, []).append((order, st))
                else:
                    self._exact.setdefault(low, []).append((order, st))
        self._cache: dict[str, tuple[tuple[CompiledStatement, ...], tuple[CompiledStatement, ...]]] = {}

    def lookup(self, action: str) -> tuple[tuple[CompiledStatement, ...], tuple[CompiledStatement, ...]]:
        """(deny statements, allow statements) whose Action/NotAction match `action` (lower-case)."""
        hit = self._cache.get(action)
        if hit is not None:
            return hit
        found: dict[int, CompiledStatement] = {}
        vendor = action.split(":", 1)[0]
        for order, st in (*self._exact.get(action, ()), *self._vendor.get(vendor, ()), *self._global):
            if order not in found and st.action_test(action):
                found[order] = st
        ordered = [found[k] for k in sorted(found)]
        result = (tuple(s for s in ordered if s.deny), tuple(s for s in ordered if not s.deny))
        if len(self._cache) >= _LOOKUP_CACHE_MAX:
            self._cache.clear()
        self._cache[action] = result
        return result


def _patterns(st: Statement) -> Sequence[str] | None:
    return st.actions if st.actions is not None else None  # NotAction: indexed globally


class CompiledPolicy:
    """A validated, compiled policy document. Immutable after construction."""

    __slots__ = ("document", "kind", "source", "statements", "index", "lookup")

    def __init__(self, document: PolicyDocument, kind: PolicyKind, source: str = "") -> None:
        self.document = document
        self.kind = kind
        self.source = source
        self.statements = tuple(CompiledStatement(st, document, kind, source) for st in document.statements)
        self.index = ActionIndex(
            (i, cs, _patterns(st)) for i, (st, cs) in enumerate(zip(document.statements, self.statements)))
        # lookup(action) -> (deny statements, allow statements) matching the lower-cased action
        self.lookup = self.index.lookup

    def __repr__(self) -> str:
        return f"CompiledPolicy({self.kind.value}, {self.source!r}, {len(self.statements)} statements)"


class PolicySet(tuple[CompiledPolicy, ...]):
    """A tuple of CompiledPolicy with one merged action index: pass it to `authorize` in
    place of a list when a caller has many policies (cost then depends on the statements
    that can match the action, not on the number of policies). The index is reached through
    `lookup` only, so the tuple's own `index()` and `count()` still work."""

    # lookup(action) -> (deny statements, allow statements) matching the lower-cased action
    lookup: Callable[[str], tuple[tuple[CompiledStatement, ...], tuple[CompiledStatement, ...]]]

    def __new__(cls, policies: Iterable[CompiledPolicy]) -> "PolicySet":
        self = super().__new__(cls, tuple(policies))
        entries = []
        n = 0
        for pol in self:
            for st, cs in zip(pol.document.statements, pol.statements):
                entries.append((n, cs, _patterns(st)))
                n += 1
        self.lookup = ActionIndex(entries).lookup
        return self
