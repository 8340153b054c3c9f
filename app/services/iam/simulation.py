"""Policy simulation through the IAM API: SimulateCustomPolicy, SimulatePrincipalPolicy,
GetContextKeysForCustomPolicy, GetContextKeysForPrincipalPolicy.

The same engine as every real decision (`app.policy.authorize`), evaluated exactly as given:
the only context is `ContextEntries` (nothing is synthesized from the caller or the clock), so
`MissingContextValues` names every condition key a candidate statement read but was not given.
One EvaluationResult per action x resource (ResourceArns default `*`), paged by MaxItems/Marker.

Choices (documented): an input policy that does not validate is `InvalidInput` naming the
input (`PolicyInputList.2: ...`) - the error these operations model - not MalformedPolicyDocument;
`CallerArn` must be an IAM user ARN and is required with a `ResourcePolicy` unless the policy
source is a user (as AWS); a given boundary input replaces the entity's boundary; the first
`PermissionsBoundaryPolicyInputList` entry is the boundary (AWS accepts one); each
`OrderedOrganizationPolicyInputList` level must allow; `ResourceHandlingOption` and
`PolicyExclusionList` are accepted and ignored. Statement positions and ContextEntries typing:
`app.services.iam.scenario`. `EvalDecisionDetails` is absent for resource `*`, empty for a
same-account resource, and {"IAM Policy", "Resource Policy"} decisions for a cross-account one.
"""
from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from app.core import arn as arns
from app.core.errors import InvalidInput, NoSuchEntity
from app.core.records import (
    Call,
    EvaluationResult,
    OrganizationsDecisionDetail,
    PermissionsBoundaryDecisionDetail,
    ResourceSpecificResult,
    SimulationStatement,
)
from app.policy import CompiledPolicy, Decision, PolicyKind, Principal, PrincipalType, Request, authorize
from app.policy.request import ALLOW, EXPLICIT_DENY, IMPLICIT_DENY
from app.services.iam.base import IamServiceBase, page
from app.services.iam.scenario import Scenario, context_keys, context_values, source_of

_DECISIONS = {ALLOW: "allowed", EXPLICIT_DENY: "explicitDeny", IMPLICIT_DENY: "implicitDeny"}
_TRUST_ACTIONS = {"sts:assumerole", "sts:assumerolewithsaml", "sts:assumerolewithwebidentity",
                  "sts:tagsession", "sts:setsourceidentity"}
_ACCOUNT = re.compile(r"^\d{12}$")
MAX_EVALUATIONS = 10000
MAX_POLICIES = 100


def _owner_account(resource_owner: str | None) -> str | None:
    if resource_owner is None:
        return None
    if _ACCOUNT.match(resource_owner):
        return resource_owner
    parsed = arns.parse(resource_owner)
    if parsed is None or parsed.service != "iam" or not _ACCOUNT.match(parsed.account):
        raise InvalidInput("ResourceOwner must be an account id or `arn:aws:iam::ACCOUNT:root`")
    return parsed.account


def _caller_principal(caller_arn: str) -> Principal:
    parsed = arns.parse(caller_arn)
    if parsed is None or parsed.service != "iam" or not parsed.resource.startswith("user/") \
            or not _ACCOUNT.match(parsed.account):
        raise InvalidInput(f"CallerArn `{caller_arn}` must be the ARN of an IAM user")
    return Principal(PrincipalType.USER, caller_arn, parsed.account)


def is_trust(action: str, resource: str) -> bool:
    """Role assumption on a role: the ResourcePolicy is that role's trust policy."""
    return action.lower() in _TRUST_ACTIONS and ":role/" in resource


def _matched(scenario: Scenario, decision: Decision) -> tuple[SimulationStatement, ...]:
    seen: dict[tuple[str, int], SimulationStatement] = {}
    for m in decision.matched:
        if (m.source, m.index) not in seen and m.source in scenario.sources:
            seen[(m.source, m.index)] = scenario.statement(m.source, m.index)
    return tuple(seen.values())


def _alone(request: Request, policies: Sequence[CompiledPolicy]) -> str:
    """Would these policies, on their own, allow the request? (Principal elements still apply.)"""
    same = replace(request, resource_account=request.principal.account)
    return _DECISIONS[authorize(same, identity=policies).effect]


def _combine(decisions: list[Decision]) -> Decision:
    """All organisation levels must allow: the first explicit deny, else the first implicit deny."""
    for effect in (EXPLICIT_DENY, IMPLICIT_DENY):
        for d in decisions:
            if d.effect == effect:
                return d
    matched = tuple(dict.fromkeys(m for d in decisions for m in d.matched))
    missing = tuple(dict.fromkeys(k for d in decisions for k in d.missing_context_keys))
    return Decision(ALLOW, matched, missing)


def evaluate(scenario: Scenario, action: str, resource: str, specific: bool) -> EvaluationResult:
    trust = is_trust(action, resource)
    resource_pols = scenario.resource(trust)
    request = Request(scenario.principal, action, resource, scenario.context, scenario.owner)
    levels: Sequence[Sequence[CompiledPolicy] | None] = scenario.scp_levels or [None]  # None: no SCPs
    runs = [authorize(request, identity=scenario.identity, resource=resource_pols, boundary=scenario.boundary,
                      scp=level, resource_requires_grant=trust) for level in levels]
    decision = _combine(runs)
    matched = _matched(scenario, decision)
    missing = decision.missing_context_keys
    boundary = None
    if scenario.boundary is not None:
        boundary = PermissionsBoundaryDecisionDetail(_alone(request, [scenario.boundary]) == "allowed")
    org = None
    if scenario.scp_levels:
        org = OrganizationsDecisionDetail(all(_alone(request, lvl) == "allowed" for lvl in scenario.scp_levels))
    details: dict[str, str] | None = None
    if resource != "*":
        details = {}
        if request.owning_account() != scenario.principal.account:
            ids = scenario.identity + ([scenario.boundary] if scenario.boundary else [])
            details = {"IAM Policy": _alone(request, ids), "Resource Policy": _alone(request, resource_pols)}
    effect = _DECISIONS[decision.effect]
    specifics = None
    if specific:
        specifics = (ResourceSpecificResult(resource, effect, matched, missing, details, boundary),)
    return EvaluationResult(action, effect, resource, matched, missing, org, boundary, details, specifics)


class SimulationService(IamServiceBase):
    # ---- the four actions ----
    async def simulate_custom_policy(
            self, call: Call, *, policy_input_list: list[str], action_names: list[str],
            permissions_boundary_policy_input_list: list[str] | None = None,
            ordered_organization_policy_input_list: list[Mapping[str, Any]] | None = None,
            resource_arns: list[str] | None = None, resource_policy: str | None = None,
            resource_owner: str | None = None, caller_arn: str | None = None,
            context_entries: list[Mapping[str, Any]] | None = None,
            max_items: int | None = None, marker: str | None = None) -> dict[str, Any]:
        await self._require(call, "SimulateCustomPolicy", "*")
        if caller_arn is None and resource_policy is not None:
            raise InvalidInput("CallerArn is required when a ResourcePolicy is simulated")
        principal = (_caller_principal(caller_arn) if caller_arn is not None
                     else Principal(PrincipalType.USER, arns.user(self._account, "/", "SimulatedCaller"),
                                    self._account))
        scenario = self._scenario(principal, [], None, policy_input_list,
                                  permissions_boundary_policy_input_list, resource_policy,
                                  resource_owner, context_entries)
        for n, level in enumerate(ordered_organization_policy_input_list or ()):
            docs = level.get("ServiceControlPolicyInputList") or []
            scenario.scp_levels.append([scenario.add(d, PolicyKind.SCP, f"OrganizationPolicy.{n + 1}.{i + 1}", "none")
                                        for i, d in enumerate(docs)])
        return self._results(scenario, action_names, resource_arns, marker, max_items)

    async def simulate_principal_policy(
            self, call: Call, *, policy_source_arn: str, action_names: list[str],
            policy_input_list: list[str] | None = None,
            permissions_boundary_policy_input_list: list[str] | None = None,
            resource_arns: list[str] | None = None, resource_policy: str | None = None,
            resource_owner: str | None = None, caller_arn: str | None = None,
            context_entries: list[Mapping[str, Any]] | None = None,
            max_items: int | None = None, marker: str | None = None) -> dict[str, Any]:
        await self._require(call, "SimulatePrincipalPolicy", policy_source_arn)
        kind, principal, stored, boundary = await self._load_source(policy_source_arn)
        if caller_arn is not None:
            principal = _caller_principal(caller_arn)
        elif resource_policy is not None and kind != "user":
            raise InvalidInput("CallerArn is required when a ResourcePolicy is simulated for a "
                               f"{kind}")
        scenario = self._scenario(principal, stored, boundary,
                                  policy_input_list or [], permissions_boundary_policy_input_list,
                                  resource_policy, resource_owner, context_entries)
        return self._results(scenario, action_names, resource_arns, marker, max_items)

    async def get_context_keys_for_custom_policy(self, call: Call, *,
                                                 policy_input_list: list[str]) -> dict[str, Any]:
        await self._require(call, "GetContextKeysForCustomPolicy", "*")
        scenario = Scenario(Principal(PrincipalType.USER, "", self._account))
        pols = [scenario.add(d, PolicyKind.IDENTITY, f"PolicyInputList.{i + 1}", "none")
                for i, d in enumerate(policy_input_list)]
        return {"context_key_names": context_keys(pols)}

    async def get_context_keys_for_principal_policy(
            self, call: Call, *, policy_source_arn: str,
            policy_input_list: list[str] | None = None) -> dict[str, Any]:
        await self._require(call, "GetContextKeysForPrincipalPolicy", policy_source_arn)
        _, principal, stored, _ = await self._load_source(policy_source_arn)
        scenario = self._scenario(principal, stored, None, policy_input_list or [], None, None, None, None)
        return {"context_key_names": context_keys(scenario.identity)}

    # ---- internals ----
    def _scenario(self, principal: Principal, stored: list[tuple[str, str]], boundary: tuple[str, str] | None,
                  inputs: Sequence[str], boundary_inputs: Sequence[str] | None, resource_policy: str | None,
                  resource_owner: str | None, context_entries: Sequence[Mapping[str, Any]] | None) -> Scenario:
        if len(inputs) + len(boundary_inputs or ()) > MAX_POLICIES:
            raise InvalidInput(f"at most {MAX_POLICIES} input policies can be simulated")
        scenario = Scenario(principal, context=context_values(context_entries),
                             owner=_owner_account(resource_owner), resource_text=resource_policy)
        for source, doc in stored:
            scenario.identity.append(scenario.add(doc, PolicyKind.IDENTITY, *source_of(source), stored=True))
        for i, doc in enumerate(inputs):
            scenario.identity.append(scenario.add(doc, PolicyKind.IDENTITY, f"PolicyInputList.{i + 1}", "none"))
        if boundary_inputs:
            for i, doc in enumerate(boundary_inputs):
                compiled = scenario.add(doc, PolicyKind.BOUNDARY, f"PermissionsBoundaryPolicyInputList.{i + 1}",
                                        "none")
                scenario.boundary = scenario.boundary or compiled
        elif boundary is not None:
            scenario.boundary = scenario.add(boundary[1], PolicyKind.BOUNDARY, *source_of(boundary[0]),
                                             stored=True)
        scenario.principal = replace(principal, has_boundary=scenario.boundary is not None)
        return scenario

    def _results(self, scenario: Scenario, action_names: Sequence[str], resource_arns: Sequence[str] | None,
                 marker: str | None, max_items: int | None) -> dict[str, Any]:
        resources = list(resource_arns or ["*"])
        pairs = [(a, r) for a in action_names for r in resources]
        if len(pairs) > MAX_EVALUATIONS:
            raise InvalidInput(f"at most {MAX_EVALUATIONS} action x resource evaluations per simulation")
        for trust in {is_trust(a, r) for a, r in pairs}:  # validate on every page, not just where used
            scenario.resource(trust)
        keyed = [(f"{i:06d}", a, r) for i, (a, r) in enumerate(pairs)]
        chunk, truncated, next_marker = page(keyed, lambda t: t[0], marker, max_items)
        results = [evaluate(scenario, a, r, resource_arns is not None) for _, a, r in chunk]
        return {"evaluation_results": results, "is_truncated": truncated, "marker": next_marker}

    async def _load_source(self, policy_source_arn: str
                           ) -> tuple[str, Principal, list[tuple[str, str]], tuple[str, str] | None]:
        """PolicySourceArn -> (kind, principal, stored identity policies, stored boundary)."""
        parsed = arns.parse(policy_source_arn)
        kind = parsed.resource_type if parsed is not None else ""
        if parsed is None or parsed.service != "iam" or kind not in ("user", "role", "group"):
            raise InvalidInput(f"PolicySourceArn `{policy_source_arn}` must be the ARN of a user, group or role")
        name = parsed.resource_name
        missing = NoSuchEntity(f"The {kind} with name {name} cannot be found.")
        if parsed.account != self._account:
            raise missing
        if kind == "group":
            group = await self._store.get_group(name)
            inline = await self._store.inline_policies("group", name)
            attached = await self._store.attached_policies("group", name)
            if group is None or inline is None or attached is None:
                raise missing
            stored = [(f"group/{group.group_name}/inline/{p}", d) for p, d in inline.items()]
            for a in attached:
                doc = await self._store.managed_policy_document(a.policy_arn)
                if doc is not None:
                    stored.append((a.policy_arn, doc))
            return kind, Principal(PrincipalType.USER, group.arn, self._account), stored, None
        entity = await (self._store.get_user(name) if kind == "user" else self._store.get_role(name))
        pp = await self._store.principal_policies(kind, name)
        if entity is None or pp is None:
            raise missing
        ptype = PrincipalType.USER if kind == "user" else PrincipalType.ROLE_SESSION
        principal = Principal(ptype, entity.arn, self._account,
                              role_arn=entity.arn if kind == "role" else None)
        return kind, principal, list(pp.identity), pp.boundary
