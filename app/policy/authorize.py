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

    __slots__ = ("request", "action", "ctx", "has_boundary", "conditional")

    def __init__(self, request: Request, has_boundary: bool) -> None:
        self.request = request
        self.action = request.action.lower()
        self.ctx: dict | None = None
        self.has_boundary = has_boundary
        self.conditional: list[CompiledStatement] = []

    def applies(self, st: CompiledStatement) -> str | None:
        """The principal match kind (DIRECT when the statement has no Principal) if it applies."""
        kind = DIRECT
        request = self.request
        if st.principal_test is not None:
            kind = st.principal_test(request.principal, self.has_boundary)
            if kind is None:
                return None
        ctx = self.ctx
        if st.needs_ctx:
            if ctx is None:
                ctx = self.ctx = lower_context(request.context)
            self.conditional.append(st)
        if st.resource_test is not None:
            test, negated = st.resource_test
            if test(request.resource, ctx) is negated:  # type: ignore[arg-type]
                return None
        for cond in st.conditions:
            if not cond(ctx):  # type: ignore[arg-type]
                return None
        return kind

    def groups(self, policies: Policies | None, deny: bool) -> list[MatchedStatement]:
        out: list[MatchedStatement] = []
        if not policies:
            return out
        groups = (policies,) if isinstance(policies, PolicySet) else policies
        for pol in groups:
            for st in pol.lookup(self.action)[0 if deny else 1]:  # type: ignore[union-attr]
                if self.applies(st) is not None:
                    out.append(st.info)
        return out

    def grants(self, policies: Policies) -> dict[str, list[MatchedStatement]]:
        out: dict[str, list[MatchedStatement]] = {}
        groups = (policies,) if isinstance(policies, PolicySet) else policies
        for pol in groups:
            for st in pol.lookup(self.action)[1]:  # type: ignore[union-attr]
                kind = self.applies(st)
                if kind is not None:
                    out.setdefault(kind, []).append(st.info)
        return out

    def missing(self) -> tuple[str, ...]:
        if not self.conditional:
            return ()
        ctx = self.ctx or {}
        seen: dict[str, None] = {}
        for st in self.conditional:
            for key in st.keys:
                if key.lower() not in ctx:
                    seen.setdefault(key, None)
        return tuple(seen)


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
    iam_principal = p.type in IAM_TYPES
    run = _Run(request, p.has_boundary or boundary is not None)
    boundaries = (boundary,) if boundary is not None else ()
    scp_layer = scp if iam_principal else None

    # 1. explicit deny anywhere wins
    denies: list[MatchedStatement] = []
    for layer in (identity, resource, boundaries, session, scp_layer, rcp):
        if layer:
            denies.extend(run.groups(layer, True))
    if denies:
        return Decision(EXPLICIT_DENY, tuple(denies), run.missing())

    def deny() -> Decision:
        return Decision(IMPLICIT_DENY, (), run.missing())

    # 2. organisation guardrails
    matched: list[MatchedStatement] = []
    if rcp is not None:
        allows = run.groups(rcp, False)
        if not allows:
            return deny()
        matched.extend(allows)
    if scp_layer is not None:
        allows = run.groups(scp_layer, False)
        if not allows:
            return deny()
        matched.extend(allows)

    grants = run.grants(resource) if resource else {}

    # 3. callers without identity policies: service, federated IdP, anonymous
    if not iam_principal:
        if grants:
            return Decision(ALLOW, tuple(matched + [m for v in grants.values() for m in v]), run.missing())
        return deny()

    # 4. IAM principals
    is_root = p.type is PrincipalType.ROOT
    identity_allows = run.groups(identity, False)
    identity_allow = is_root or bool(identity_allows)
    boundary_allows = run.groups(boundaries, False) if boundary is not None else []
    boundary_ok = boundary is None or bool(boundary_allows)
    session_allows: list[MatchedStatement] = []
    if p.type is PrincipalType.ROLE_SESSION or p.type is PrincipalType.FEDERATED_USER:
        if session is not None:
            session_allows = run.groups(session, False)
            session_ok = bool(session_allows)
        else:
            session_ok = p.type is PrincipalType.ROLE_SESSION
    else:
        session_ok = True
    identity_path = identity_allow and boundary_ok and session_ok
    limits = boundary_allows + session_allows

    def allow(*parts: list[MatchedStatement]) -> Decision:
        out = list(matched)
        for part in parts:
            out.extend(part)
        return Decision(ALLOW, tuple(out), run.missing())

    all_grants = [m for v in grants.values() for m in v]
    if request.owning_account() != p.account:  # cross-account: both sides
        if grants and identity_path:
            return allow(identity_allows, limits, all_grants)
        return deny()

    if is_root and not resource_requires_grant:
        return allow()
    if DIRECT in grants:
        return allow(grants[DIRECT])
    if (ROLE in grants or PARENT in grants) and boundary_ok and session_ok:
        return allow(grants.get(ROLE, []), grants.get(PARENT, []), limits)
    if resource_requires_grant:
        if ACCOUNT in grants and identity_path:
            return allow(identity_allows, limits, grants[ACCOUNT])
        return deny()
    if identity_path:
        return allow(identity_allows, limits)
    return deny()
