"""Authorization of one call: the caller's policies, as current as the request's IAM epoch,
evaluated by the policy engine (app.policy) against the request context.

The principal's policies come from the store's `principal_policies`: in the server that is
app.store.iam_cache.CachedIamReads, which answers from memory for the epoch the request pinned,
so an IAM change still applies to the very next request on every worker. Compiled forms are
memoised: documents by content (kind, source, text), and a principal's merged PolicySet and
boundary by the identity of the PrincipalPolicies record (the cache hands out the same record
for as long as the epoch holds, so a known principal costs one dict lookup).
"""
from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

from app.core import arn as arns
from app.core.clock import Clock
from app.core.errors import AccessDenied
from app.core.records import Call, Caller, PrincipalPolicies, Tag
from app.policy import Decision, PolicyKind, PolicySet, Principal, PrincipalType, Request, authorize, compile_policy
from app.policy.managed import AwsManagedPolicies
from app.policy.request import ALLOW, EXPLICIT_DENY, IMPLICIT_DENY
from app.services.context import ContextValue, build_context, principal_tags

_TYPES = {"root": PrincipalType.ROOT, "user": PrincipalType.USER,
          "assumed-role": PrincipalType.ROLE_SESSION, "federated-user": PrincipalType.FEDERATED_USER}
_DENY_WORDS = {PolicyKind.IDENTITY: "an identity-based policy", PolicyKind.RESOURCE: "a resource-based policy",
               PolicyKind.TRUST: "a resource-based policy", PolicyKind.BOUNDARY: "a permissions boundary",
               PolicyKind.SESSION: "a session policy", PolicyKind.SCP: "a service control policy",
               PolicyKind.RCP: "a resource control policy"}
_CACHE_SIZE = 4096
# Stands in for managed session policies deleted since the session was issued: the session
# stays narrowed (to nothing) instead of silently losing its session-policy limit.
_NOTHING = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"tessera:Nothing","Resource":"*"}]}'
# What the root's own identity stands for under its federated-user sessions (the root may do
# anything; the session policies are what narrow such a session).
_ROOT_POLICIES = PrincipalPolicies(
    (("root", '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}'),), None, ())


def principal_of(caller: Caller, *, has_boundary: bool = False) -> Principal:
    """The policy engine's view of an authenticated caller."""
    kind = _TYPES.get(caller.kind, PrincipalType.USER)
    return Principal(
        type=kind,
        arn=caller.arn,
        account=caller.account,
        role_arn=caller.principal_arn if kind is PrincipalType.ROLE_SESSION else None,
        source_user_arn=caller.principal_arn if kind is PrincipalType.FEDERATED_USER else None,
        has_boundary=has_boundary,
    )


def denial_message(caller_arn: str, action: str, resource: str, decision: Decision,
                   missing: str = "identity-based policy") -> str:
    """AWS's AccessDenied text, naming the policy type that denied (explicit deny) or the one
    that failed to allow (`missing`: identity-based policy | permissions boundary | session policy)."""
    head = f"User: {caller_arn} is not authorized to perform: {action} on resource: {resource}"
    if decision.effect == EXPLICIT_DENY:
        kinds = [m.kind for m in decision.matched if m.effect == "Deny"]
        return f"{head} with an explicit deny in {_DENY_WORDS.get(kinds[0] if kinds else PolicyKind.IDENTITY)}"
    return f"{head} because no {missing} allows the {action} action"


def session_limit(caller: Caller, action: str) -> str | None:
    """What a kind of temporary credentials may never call, whatever the policies say (AWS):
    GetSessionToken sessions reach IAM only with MFA and STS only for AssumeRole and
    GetCallerIdentity; federated-user sessions reach neither IAM nor STS (but
    GetCallerIdentity). Returns the reason, or None when the action is open to the caller."""
    session = caller.session
    if session is None or session.kind == "assumed-role":
        return None
    service, _, name = action.partition(":")
    service = service.lower()
    if session.kind == "federated-user":
        if service in ("iam", "sts") and action.lower() != "sts:getcalleridentity":
            return "because federated-user sessions cannot call IAM or STS"
        return None
    if service == "iam" and not session.mfa_authenticated:
        return "because GetSessionToken credentials obtained without MFA cannot call IAM"
    if service == "sts" and name.lower() not in ("assumerole", "getcalleridentity"):
        return "because GetSessionToken credentials can call only AssumeRole and GetCallerIdentity in STS"
    return None


@dataclass(frozen=True, slots=True)
class _Inputs:
    """One evaluation, prepared: what `authorize` receives."""

    request: Request
    identity: Any
    resource: list[Any]
    boundary: Any
    session: list[Any] | None
    requires_grant: bool

    def run(self, *, with_boundary: bool = True, with_session: bool = True) -> Decision:
        request = self.request
        if not with_boundary:
            request = replace(request, principal=replace(request.principal, has_boundary=False))
        return authorize(request, identity=self.identity,
                         resource=self.resource, boundary=self.boundary if with_boundary else None,
                         session=self.session if with_session else None,
                         resource_requires_grant=self.requires_grant)

    def missing(self) -> str:
        """Which layer failed to allow an implicitly denied request (cold path: re-evaluates
        without the limiting layers, as the engine reports only what matched)."""
        if not self.run(with_boundary=False, with_session=False).allowed:
            return "identity-based policy"
        if self.boundary is not None and not self.run(with_session=False).allowed:
            return "permissions boundary"
        return "session policy" if self.session is not None else "identity-based policy"


class AccessNotes(Protocol):
    """app.services.last_accessed.AccessUsage."""

    def note(self, caller: Caller, action: str, region: str | None) -> None: ...


class Authorizer:
    def __init__(self, iam_store: Any, *, account: str, clock: Clock,
                 aws_policies: AwsManagedPolicies | None = None, usage: AccessNotes | None = None) -> None:
        self._iam = iam_store
        self._usage = usage  # access advisor: every allowed decision of a signed caller is noted
        self._aws = aws_policies  # AWS managed policies, compiled once per process by the catalog
        self._account = account
        self._clock = clock
        self._compiled: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
        self._docs: dict[tuple[Any, ...], Any] = {}
        # id(record) -> (record, identity PolicySet, compiled boundary); keeping the record
        # alive keeps its id from being reused
        self._principals: dict[int, tuple[PrincipalPolicies, Any, Any]] = {}

    async def require(self, call: Call, action: str, resource: str, *,
                      context: Mapping[str, ContextValue] | None = None,
                      resource_tags: Sequence[Tag] = ()) -> None:
        """Raise AccessDenied unless the caller may perform `action` on `resource`."""
        caller = call.caller
        if caller is None:
            raise AccessDenied(f"anonymous callers are not authorized to perform: {action}", reason="anonymous")
        limit = session_limit(caller, action)
        if limit is not None:
            raise AccessDenied(f"User: {caller.arn} is not authorized to perform: {action} on resource: "
                               f"{resource} {limit}", reason="session_kind_limit")
        if caller.is_root:
            return
        inputs = await self._prepare(call, caller, action, resource, context, resource_tags, None, False)
        if inputs is None:
            raise AccessDenied(denial_message(caller.arn, action, resource, Decision(IMPLICIT_DENY)),
                               reason="principal_gone")
        decision = inputs.run()
        if not decision.allowed:
            explicit = decision.effect == EXPLICIT_DENY
            raise AccessDenied(denial_message(caller.arn, action, resource, decision,
                                              "" if explicit else inputs.missing()),
                               reason="explicit_deny" if explicit else "implicit_deny")
        if self._usage is not None:
            self._usage.note(caller, action, call.meta.region)

    def note(self, call: Call, action: str) -> None:
        """Note an action the signed caller performed that no policy decides
        (sts:GetCallerIdentity) as authorized, for access advisor."""
        if self._usage is not None and call.caller is not None:
            self._usage.note(call.caller, action, call.meta.region)

    async def decide(self, call: Call, action: str, resource: str, *,
                     context: Mapping[str, ContextValue] | None = None,
                     resource_tags: Sequence[Tag] = (),
                     resource_policy: str | None = None,
                     resource_requires_grant: bool = False,
                     principal: Principal | None = None, note: bool = True) -> Decision:
        """The decision itself. `resource_policy` (e.g. a role's trust policy) is evaluated as the
        resource-based policy; `principal` replaces the caller for callers that are not IAM
        principals (a SAML/OIDC identity provider in AssumeRoleWith*). `note=False`: a question
        asked for the caller, not an attempt it made (the role picker's listing), is not noted
        for access advisor."""
        caller = call.caller
        if principal is not None or caller is None:
            if principal is None:
                return Decision(IMPLICIT_DENY)
            ctx = build_context(call, now=self._clock.time(), extra=self._extra(context, resource_tags))
            return authorize(Request(principal, action, resource, ctx),
                             resource=self._policies(PolicyKind.TRUST, resource_policy, "trust"),
                             resource_requires_grant=resource_requires_grant)
        if caller.is_root and resource_policy is None:
            return Decision(ALLOW)
        inputs = await self._prepare(call, caller, action, resource, context, resource_tags,
                                     resource_policy, resource_requires_grant)
        if inputs is None:
            return Decision(IMPLICIT_DENY)
        decision = inputs.run()
        if decision.allowed and note and self._usage is not None:
            self._usage.note(caller, action, call.meta.region)
        return decision

    # ---- internals ----
    async def _load(self, caller: Caller) -> tuple[PrincipalPolicies, list[Any] | None] | None:
        """(the principal's policies, compiled session policies or None); None when the
        principal behind the caller no longer exists (then nothing is allowed)."""
        if caller.kind == "root":
            return PrincipalPolicies((), None, ()), None
        session = caller.session
        if session is not None and session.kind == "federated-user" and session.principal_id == caller.account:
            pp: PrincipalPolicies | None = _ROOT_POLICIES  # the root's GetFederationToken session
        else:
            entity = "role" if caller.kind == "assumed-role" else "user"
            pp = await self._iam.principal_policies(entity, caller.name or "")
        if pp is None:
            return None
        if session is None or session.kind in ("user-session", "root-session"):
            return pp, None
        if session.session_policy is None and not session.session_policy_arns:
            # a role session without session policies is not narrowed; a federated-user
            # session without one has no identity-path permissions (the engine's rule)
            return pp, ([] if session.kind == "federated-user" else None)
        compiled: list[Any] = []
        if session.session_policy is not None:
            compiled.append(self._compile(PolicyKind.SESSION, session.session_policy, "session/inline"))
        for policy_arn in session.session_policy_arns:
            doc = await self._iam.managed_policy_document(policy_arn)
            if doc is not None:  # a deleted managed session policy grants nothing
                compiled.append(self._compile(PolicyKind.SESSION, doc, policy_arn))
        if not compiled:
            compiled.append(self._compile(PolicyKind.SESSION, _NOTHING, "session/deleted"))
        return pp, compiled

    async def _prepare(self, call: Call, caller: Caller, action: str, resource: str,
                       context: Mapping[str, ContextValue] | None, resource_tags: Sequence[Tag],
                       resource_policy: str | None, resource_requires_grant: bool) -> _Inputs | None:
        loaded = await self._load(caller)
        if loaded is None:
            return None
        pp, session_policies = loaded
        ctx = build_context(call, now=self._clock.time(), tags=principal_tags(caller, pp.tags),
                            extra=self._extra(context, resource_tags))
        principal = principal_of(caller, has_boundary=pp.boundary is not None)
        identity, boundary = self._principal_policies(pp)
        # AWS managed policies are every account's to read and attach: an action on one is
        # authorized as on a resource of the caller's account (not as a cross-account one)
        owner = caller.account if arns.is_aws_policy(resource) else None
        return _Inputs(Request(principal, action, resource, ctx, resource_account=owner), identity,
                       self._policies(PolicyKind.TRUST, resource_policy, "trust"), boundary,
                       session_policies, resource_requires_grant)

    def _principal_policies(self, pp: PrincipalPolicies) -> tuple[Any, Any]:
        """(identity PolicySet, compiled boundary or None) of a principal's policies."""
        found = self._principals.get(id(pp))
        if found is not None and found[0] is pp:
            return found[1], found[2]
        boundary = (self._compile(PolicyKind.BOUNDARY, pp.boundary[1], pp.boundary[0])
                    if pp.boundary is not None else None)
        identity = self._identity(pp.identity)
        if len(self._principals) >= _CACHE_SIZE:
            self._principals.clear()
        self._principals[id(pp)] = (pp, identity, boundary)
        return identity, boundary

    @staticmethod
    def _extra(context: Mapping[str, ContextValue] | None, resource_tags: Sequence[Tag]) -> dict[str, ContextValue]:
        extra: dict[str, ContextValue] = {}
        for tag in resource_tags:
            extra[f"aws:ResourceTag/{tag.key}"] = tag.value
            extra[f"iam:ResourceTag/{tag.key}"] = tag.value
        if context:
            extra.update(context)
        return extra

    def _identity(self, docs: tuple[tuple[str, str], ...]) -> Any:
        """All identity policies of a principal as one indexed PolicySet, cached by content."""
        key = (PolicyKind.IDENTITY, "*set*", docs)
        found = self._compiled.get(key)
        if found is None:
            found = PolicySet(self._compile(PolicyKind.IDENTITY, doc, source) for source, doc in docs)
            self._remember(key, found)
        return found

    def _policies(self, kind: PolicyKind, doc: str | None, source: str) -> list[Any]:
        return [self._compile(kind, doc, source)] if doc is not None else []

    def _compile(self, kind: PolicyKind, doc: str, source: str) -> Any:
        """compile_policy, memoised by (kind, source, text): a dict lookup on the hot path
        instead of the engine's sha256 of the text (a pure function, so this is safe)."""
        key = (kind, source, doc)
        found = self._docs.get(key)
        if found is None:
            if self._aws is not None and arns.is_aws_policy(source):
                found = self._aws.compiled(source, kind)
            if found is None:
                found = compile_policy(doc, kind, source, stored=True)  # raises on a malformed document
            if len(self._docs) >= _CACHE_SIZE:
                self._docs.clear()
            self._docs[key] = found
        return found

    def _remember(self, key: tuple[Any, ...], value: Any) -> None:
        self._compiled[key] = value
        if len(self._compiled) > _CACHE_SIZE:
            self._compiled.popitem(last=False)
