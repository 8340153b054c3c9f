"""Customer managed policies and versions: CreatePolicy GetPolicy DeletePolicy ListPolicies
CreatePolicyVersion GetPolicyVersion DeletePolicyVersion ListPolicyVersions
SetDefaultPolicyVersion TagPolicy UntagPolicy ListPolicyTags."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from app.core import arn as arns
from app.core.errors import InvalidInput, NoSuchEntity
from app.core.records import Call, ManagedPolicy
from app.services.iam.base import (
    ContextValue,
    IamServiceBase,
    listing,
    parse_tags,
    tag_context,
    tag_listing,
    untag_context,
    version_page,
)


def policy_missing(policy_arn: str) -> NoSuchEntity:
    return NoSuchEntity(f"Policy {policy_arn} was not found.")


def check_policy_arn(policy_arn: str) -> None:
    a = arns.parse(policy_arn)
    if a is None or a.service != "iam" or not a.resource.startswith("policy/"):
        raise InvalidInput(f"ARN {policy_arn} is not valid.")


class PoliciesService(IamServiceBase):
    async def _policy_target(self, call: Call, action: str, policy_arn: str, *,
                             context: Mapping[str, ContextValue] | None = None) -> ManagedPolicy:
        check_policy_arn(policy_arn)
        policy = await self._store.get_policy(policy_arn)
        await self._require(call, action, policy_arn, context=context,
                            resource_tags=policy.tags if policy else ())
        if policy is None:
            raise policy_missing(policy_arn)
        return policy

    async def create_policy(self, call: Call, *, policy_name: str, policy_document: str,
                            path: str | None = None, description: str | None = None,
                            tags: Sequence[Mapping[str, str]] | None = None) -> dict[str, Any]:
        path = path or "/"
        parsed = parse_tags(tags)
        await self._require(call, "CreatePolicy", arns.policy(self._account, path, policy_name),
                            context=tag_context(parsed))
        self._checks.managed(policy_document)
        policy = await self._store.create_policy(policy_name, document=policy_document,
                                                 path=path, description=description or None,
                                                 tags=parsed)
        return {"policy": policy}

    async def get_policy(self, call: Call, *, policy_arn: str) -> dict[str, Any]:
        return {"policy": await self._policy_target(call, "GetPolicy", policy_arn)}

    async def delete_policy(self, call: Call, *, policy_arn: str) -> None:
        await self._policy_target(call, "DeletePolicy", policy_arn)
        await self._store.delete_policy(policy_arn)

    async def list_policies(self, call: Call, *, scope: str | None = None,
                            only_attached: bool | None = None, path_prefix: str | None = None,
                            policy_usage_filter: str | None = None, marker: str | None = None,
                            max_items: int | None = None) -> dict[str, Any]:
        await self._require(call, "ListPolicies", arns.policy(self._account, "/", "*"))
        if scope == "AWS":  # no AWS managed policies are shipped
            return listing("policies", [], False, None)

        async def lister(prefix: str, after: str | None, limit: int) -> Any:
            return await self._store.list_policies(prefix, after, limit,
                                                   only_attached=bool(only_attached),
                                                   usage=policy_usage_filter)

        return await self._scan("policies", lister, path_prefix, marker, max_items,
                                lambda p: p.policy_name.lower())

    # ---- versions ----
    async def create_policy_version(self, call: Call, *, policy_arn: str, policy_document: str,
                                    set_as_default: bool | None = None) -> dict[str, Any]:
        await self._policy_target(call, "CreatePolicyVersion", policy_arn)
        self._checks.managed(policy_document)
        version = await self._store.create_policy_version(policy_arn, policy_document,
                                                          set_as_default=bool(set_as_default))
        return {"policy_version": version}

    async def get_policy_version(self, call: Call, *, policy_arn: str,
                                 version_id: str) -> dict[str, Any]:
        await self._policy_target(call, "GetPolicyVersion", policy_arn)
        version = await self._store.get_policy_version(policy_arn, version_id)
        if version is None:
            raise NoSuchEntity(f"Policy {policy_arn} version {version_id} does not exist or is "
                               "not attachable.")
        return {"policy_version": version}

    async def delete_policy_version(self, call: Call, *, policy_arn: str,
                                    version_id: str) -> None:
        await self._policy_target(call, "DeletePolicyVersion", policy_arn)
        await self._store.delete_policy_version(policy_arn, version_id)

    async def list_policy_versions(self, call: Call, *, policy_arn: str,
                                   marker: str | None = None,
                                   max_items: int | None = None) -> dict[str, Any]:
        await self._policy_target(call, "ListPolicyVersions", policy_arn)
        versions = await self._store.list_policy_versions(policy_arn)
        if versions is None:
            raise policy_missing(policy_arn)
        chunk, truncated, next_marker = version_page(versions, marker, max_items)
        return listing("versions", chunk, truncated, next_marker)

    async def set_default_policy_version(self, call: Call, *, policy_arn: str,
                                         version_id: str) -> None:
        await self._policy_target(call, "SetDefaultPolicyVersion", policy_arn)
        await self._store.set_default_policy_version(policy_arn, version_id)

    # ---- tags ----
    async def tag_policy(self, call: Call, *, policy_arn: str,
                         tags: Sequence[Mapping[str, str]]) -> None:
        parsed = parse_tags(tags)
        policy = await self._policy_target(call, "TagPolicy", policy_arn,
                                           context=tag_context(parsed))
        await self._store.tag("policy", policy.policy_name.lower(), parsed,
                              quota_name="TagsPerPolicy")

    async def untag_policy(self, call: Call, *, policy_arn: str,
                           tag_keys: Sequence[str]) -> None:
        policy = await self._policy_target(call, "UntagPolicy", policy_arn,
                                           context=untag_context(tag_keys))
        await self._store.untag("policy", policy.policy_name.lower(), tag_keys)

    async def list_policy_tags(self, call: Call, *, policy_arn: str, marker: str | None = None,
                               max_items: int | None = None) -> dict[str, Any]:
        policy = await self._policy_target(call, "ListPolicyTags", policy_arn)
        return tag_listing(policy.tags, marker, max_items)
