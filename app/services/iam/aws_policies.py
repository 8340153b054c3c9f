"""AWS managed policies (`arn:aws:iam::aws:policy/PATH/NAME`) through the policy actions, as AWS
serves them: read like any managed policy (GetPolicy, GetPolicyVersion, ListPolicyVersions with
every recorded version, ListPolicies with `Scope`, ListEntitiesForPolicy, ListPolicyTags: none),
attached and used as permissions boundaries like customer managed ones (the store keeps their
use in this account, hence AttachmentCount), never changed.

Refusals, as AWS answers them: CreatePolicyVersion, DeletePolicy, DeletePolicyVersion and
SetDefaultPolicyVersion are `AccessDenied` for every caller, the root included (the policy
belongs to the `aws` account, which grants nobody that), after the caller's own authorization;
TagPolicy and UntagPolicy are `InvalidInput` "Tags not supported for policies in this domain"
(observed from AWS). The documents themselves come from app.policy.managed.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from app.core import arn as arns
from app.core.errors import AccessDenied, InvalidInput, NoSuchEntity
from app.core.records import Call, ManagedPolicy, ManagedPolicyDetail
from app.policy import Decision
from app.policy.managed import AwsManagedPolicies, AwsManagedPolicy
from app.policy.request import IMPLICIT_DENY
from app.services.authz import denial_message
from app.services.iam.base import (
    DEFAULT_MAX_ITEMS,
    ContextValue,
    decode_marker,
    encode_marker,
    listing,
    version_page,
)
from app.services.iam.policies import PoliciesService, policy_missing
from app.store.iam_policies import listed
from app.store.iam_store import IamStore

CHANGES = frozenset({"CreatePolicyVersion", "DeletePolicy", "DeletePolicyVersion", "SetDefaultPolicyVersion"})
TAGGING = frozenset({"TagPolicy", "UntagPolicy"})


def list_key(p: ManagedPolicy | AwsManagedPolicy) -> str:
    """ListPolicies order and marker key: by name case-insensitively, a customer managed policy
    before an AWS managed one of the same name (the key of a customer one is its lowercased name,
    as when only they are listed)."""
    if isinstance(p, AwsManagedPolicy):
        return p.name.lower() + "\x01"
    return p.policy_name.lower() + ("\x01" if arns.is_aws_policy(p.arn) else "")


async def aws_in_use(store: IamStore, catalog: AwsManagedPolicies,
                     policies: Sequence[AwsManagedPolicy] | None = None) -> list[ManagedPolicy]:
    """The AWS managed policies (of `policies`, default all) attached to something in this account
    or used as a permissions boundary there, with their counts, in name order. Only the counts of
    those ever used in the account are read (the store keeps their names)."""
    used = await store.aws_policies_used()
    chosen = [p for p in (catalog.all() if policies is None else policies) if p.arn in used]
    usage = await store.policy_usage([p.arn for p in chosen])
    return [p.record(att, bnd) for p, (att, bnd) in zip(chosen, usage) if att or bnd]


def aws_policy_detail(catalog: AwsManagedPolicies, policy: ManagedPolicy) -> ManagedPolicyDetail:
    """GetAccountAuthorizationDetails' entry: AWS lists the default version only."""
    found = catalog.get(policy.arn)
    versions = (found.default_version(),) if found is not None else ()
    return ManagedPolicyDetail(
        policy_name=policy.policy_name, policy_id=policy.policy_id, arn=policy.arn, path=policy.path,
        default_version_id=policy.default_version_id, attachment_count=policy.attachment_count,
        permissions_boundary_usage_count=policy.permissions_boundary_usage_count, is_attachable=True,
        create_date=policy.create_date, update_date=policy.update_date, policy_version_list=versions)


class AwsPoliciesService(PoliciesService):
    async def _policy_target(self, call: Call, action: str, policy_arn: str, *,
                             context: Mapping[str, ContextValue] | None = None) -> ManagedPolicy:
        if not arns.is_aws_policy(policy_arn):
            return await super()._policy_target(call, action, policy_arn, context=context)
        await self._require(call, action, policy_arn, context=context)
        if action in CHANGES:
            caller = call.caller.arn if call.caller is not None else "anonymous"
            raise AccessDenied(denial_message(caller, f"iam:{action}", policy_arn, Decision(IMPLICIT_DENY),
                                              "resource-based policy"), reason="aws_managed_policy")
        found = self._aws.get(policy_arn)
        if found is None:
            raise policy_missing(policy_arn)
        if action in TAGGING:
            raise InvalidInput("Tags not supported for policies in this domain")
        [(attachments, boundaries)] = await self._store.policy_usage([policy_arn])
        return found.record(attachments, boundaries)

    async def get_policy_version(self, call: Call, *, policy_arn: str, version_id: str) -> dict[str, Any]:
        if not arns.is_aws_policy(policy_arn):
            return await super().get_policy_version(call, policy_arn=policy_arn, version_id=version_id)
        await self._policy_target(call, "GetPolicyVersion", policy_arn)
        found = next((v for v in self._aws.versions(policy_arn) or () if v.version_id == version_id), None)
        if found is None:
            raise NoSuchEntity(f"Policy {policy_arn} version {version_id} does not exist or is not attachable.")
        return {"policy_version": found}

    async def list_policy_versions(self, call: Call, *, policy_arn: str, marker: str | None = None,
                                   max_items: int | None = None) -> dict[str, Any]:
        if not arns.is_aws_policy(policy_arn):
            return await super().list_policy_versions(call, policy_arn=policy_arn, marker=marker,
                                                      max_items=max_items)
        await self._policy_target(call, "ListPolicyVersions", policy_arn)
        return listing("versions", *version_page(self._aws.versions(policy_arn) or (), marker, max_items))

    async def list_policies(self, call: Call, *, scope: str | None = None, only_attached: bool | None = None,
                            path_prefix: str | None = None, policy_usage_filter: str | None = None,
                            marker: str | None = None, max_items: int | None = None) -> dict[str, Any]:
        """Scope `Local`: the customer managed policies alone; `AWS`: the AWS managed ones; `All`
        (default): both, merged in one name order (`list_key`)."""
        if scope == "Local":
            return await super().list_policies(call, scope=scope, only_attached=only_attached,
                                               path_prefix=path_prefix, policy_usage_filter=policy_usage_filter,
                                               marker=marker, max_items=max_items)
        await self._require(call, "ListPolicies", arns.policy(self._account, "/", "*"))
        after, limit, prefix = decode_marker(marker), max_items or DEFAULT_MAX_ITEMS, path_prefix or "/"
        attached = bool(only_attached)
        local: list[ManagedPolicy] = []
        local_more = False
        if scope != "AWS":
            local, local_more = await self._store.list_policies(prefix, after, limit, only_attached=attached,
                                                                usage=policy_usage_filter)
        aws = await self._aws_listed(prefix, after, limit + 1, attached, policy_usage_filter)
        merged = sorted([*local, *aws], key=list_key)
        chunk = merged[:limit]
        truncated = len(merged) > limit or local_more
        return listing("policies", chunk, truncated, encode_marker(list_key(chunk[-1])) if truncated else None)

    async def _aws_listed(self, prefix: str, after: str | None, limit: int, only_attached: bool,
                          usage: str | None) -> list[ManagedPolicy]:
        """Up to `limit` AWS managed policies ListPolicies shows after the marker key `after`."""
        candidates = [p for p in self._aws.all()
                      if p.path.startswith(prefix) and (after is None or list_key(p) > after)]
        if only_attached or usage == "PermissionsBoundary":  # counts decide: read them all
            return [p for p in await aws_in_use(self._store, self._aws, candidates)
                    if listed(p, prefix, only_attached, usage)][:limit]
        chosen = candidates[:limit]
        usage_counts = await self._store.policy_usage([p.arn for p in chosen])
        return [p.record(att, bnd) for p, (att, bnd) in zip(chosen, usage_counts)]
