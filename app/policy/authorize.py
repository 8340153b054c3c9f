"""Combine identity, resource/trust, boundary, session, SCP and RCP policies into a Decision.

Implements reference §8.2 literally, with one documented refinement: when
`resource_requires_grant` is set (role trust policies, KMS-style key policies) the account
root also needs a resource-policy grant in its own account ("must explicitly allow access
for principals"); note that STS refuses AssumeRole by root before asking us at all.
"""
from __future__ import annotations

from collections.abc import Sequence

from app.policy.evaluate import (
    ACCOUNT,
    DIRECT,
    PARENT,
    ROLE,
    CompiledPolicy,
    CompiledStatement,
    PolicySet,
    lower_context,
)
from app.policy.matching import ContextValue
from app.policy.request import (
    ALLOW,
    EXPLICIT_DENY,
    IAM_TYPES,
    IMPLICIT_DENY,
    Decision,
    MatchedStatement,
    PrincipalType,
    Request,
)

Policies = Sequence[CompiledPolicy]


class _Run:
    """One evaluation: the request, its lazily lower-cased context, and what was read."""

    __slots__ = ("request", "principal", "action", "ctx", "has_boundary", "conditional")

    def __init__(self, request: Request, has_boundary: bool) -> None:
        self.request = request
        self.principal = request.principal
        self.action = request.action.lower()
        self.ctx: dict[str, ContextValue] | None = None
        self.has_boundary = has_boundary
        self.conditional: list[CompiledStatement] = []

    def applies(self, st: CompiledStatement) -> str | None:
        """The principal match kind (DIRECT when the statement has no Principal) if it applies."""
        kind: str | None = DIRECT
        if st.principal_test is not None:
            kind = st.principal_test(self.principal, self.has_boundary)
            if kind is None:
                return None
        ctx = self.ctx
        if st.needs_ctx:
            if ctx is None:
                ctx = self.ctx = lower_context(self.request.context)
            self.conditional.append(st)
        if st.resource_test is not None:
            test, negated = st.resource_test
            if test(self.request.resource, ctx) is negated:  # type: ignore[arg-type]
                return None
        for cond in st.conditions:
            if not cond(ctx):  # type: ignore[arg-type]
                return None
        return kind

    def collect(self, policies: Policies | None, which: int, out: list[MatchedStatement]) -> list[MatchedStatement]:
        """Append the applicable statements (which=0: Deny, 1: Allow) of `policies` to `out`."""
        if policies:
            action, applies = self.action, self.applies
            for pol in (policies,) if type(policies) is PolicySet else policies:
                for st in pol.lookup(action)[which]:
                    if applies(st) is not None:
                        out.append(st.info)
        return out

    def grants(self, policies: Policies) -> dict[str, list[MatchedStatement]]:
        out: dict[str, list[MatchedStatement]] = {}
        for pol in (policies,) if type(policies) is PolicySet else policies:
            for st in pol.lookup(self.action)[1]:
                kind = self.applies(st)
                if kind is not None:
                    out.setdefault(kind, []).append(st.info)
        return out

    def missing(self) -> tuple[str, ...]:
        if not self.conditional:
            return ()
        ctx = self.ctx or {}
        seen: dict[str, str] = {}  # key names are case-insensitive: the first spelling, once
        for st in self.conditional:
            if not st.lower_keys <= ctx.keys():
                for key in st.keys:
                    low = key.lower()
                    if low not in ctx:
                        seen.setdefault(low, key)
        return tuple(seen.values())

    def decide(self, effect: str, *parts: list[MatchedStatement]) -> Decision:
        matched: tuple[MatchedStatement, ...] = ()
        for part in parts:
            if part:
                matched += tuple(part)
        return Decision(effect, matched, self.missing())


def authorize(
    request: Request,
    *,
    identity: Policies = (),
    resource: Policies = (),
    boundary: CompiledPolicy | None = None,
    session: Policies | None = None,
    scp: Policies | None = None,
    rcp: Policies | None = None,
    resource_requires_grant: bool = False,
) -> Decision:
    """The reference §8.2 algorithm. `session=None`: no session policies were passed
    (an empty sequence means passed-but-empty: nothing is allowed through the identity path)."""
    p = request.principal
    ptype = p.type
    iam_principal = ptype in IAM_TYPES
    run = _Run(request, p.has_boundary or boundary is not None)
    boundaries = (boundary,) if boundary is not None else None
    scp_layer = scp if iam_principal else None

    # 1. explicit deny anywhere wins
    denies: list[MatchedStatement] = []
    for layer in (identity, resource, boundaries, session, scp_layer, rcp):
        if layer:
            run.collect(layer, 0, denies)
    if denies:
        return run.decide(EXPLICIT_DENY, denies)

    # 2. organisation guardrails
    guards: list[MatchedStatement] = []
    if rcp is not None and not run.collect(rcp, 1, guards):
        return run.decide(IMPLICIT_DENY)
    if scp_layer is not None:
        before = len(guards)
        if len(run.collect(scp_layer, 1, guards)) == before:
            return run.decide(IMPLICIT_DENY)

    grants = run.grants(resource) if resource else {}

    # 3. callers without identity policies: service, federated IdP, anonymous
    if not iam_principal:
        if grants:
            return run.decide(ALLOW, guards, *grants.values())
        return run.decide(IMPLICIT_DENY)

    # 4. IAM principals
    is_root = ptype is PrincipalType.ROOT
    identity_allows = run.collect(identity, 1, [])
    identity_allow = is_root or bool(identity_allows)
    limits: list[MatchedStatement] = []
    boundary_ok = boundary is None or bool(run.collect(boundaries, 1, limits))
    if ptype is PrincipalType.ROLE_SESSION or ptype is PrincipalType.FEDERATED_USER:
        if session is not None:
            before = len(limits)
            session_ok = len(run.collect(session, 1, limits)) > before
        else:
            session_ok = ptype is PrincipalType.ROLE_SESSION
    else:
        session_ok = True
    identity_path = identity_allow and boundary_ok and session_ok

    if request.owning_account() != p.account:  # cross-account: both sides
        if grants and identity_path:
            return run.decide(ALLOW, guards, identity_allows, limits, *grants.values())
        return run.decide(IMPLICIT_DENY)

    if is_root and not resource_requires_grant:
        return run.decide(ALLOW, guards)
    if DIRECT in grants:
        return run.decide(ALLOW, guards, grants[DIRECT])
    if (ROLE in grants or PARENT in grants) and boundary_ok and session_ok:
        return run.decide(ALLOW, guards, grants.get(ROLE, []), grants.get(PARENT, []), limits)
    if resource_requires_grant:
        if ACCOUNT in grants and identity_path:
            return run.decide(ALLOW, guards, identity_allows, limits, grants[ACCOUNT])
        return run.decide(IMPLICIT_DENY)
    if identity_path:
        return run.decide(ALLOW, guards, identity_allows, limits)
    return run.decide(IMPLICIT_DENY)
