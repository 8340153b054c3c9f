"""Managed policy attachment and permissions boundaries:
Attach/Detach{User,Group,Role}Policy, ListAttached{User,Group,Role}Policies,
ListEntitiesForPolicy, Put/Delete{User,Role}PermissionsBoundary."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.core import arn as arns
from app.core.errors import NoSuchEntity
from app.core.records import Call
from app.services.iam.base import ContextValue, listing, page
from app.services.iam.groups import GroupsService
from app.services.iam.aws_policies import AwsPoliciesService
from app.services.iam.policies import check_policy_arn, policy_missing
from app.services.iam.roles import RolesService

_ENTITY_ORDER = {"group": "0", "role": "1", "user": "2"}


class EntityTargets(GroupsService, RolesService, AwsPoliciesService):
    async def _target(self, call: Call, kind: str, action: str, name: str, *,
                      context: Mapping[str, ContextValue] | None = None,
                      boundary_context: bool = True) -> Any:
        """Authorize `action` on a user/group/role and require that it exists."""
        if kind == "user":
            return await self._user_target(call, action, name, context=context,
                                           boundary_context=boundary_context)
        if kind == "role":
            return await self._role_target(call, action, name, context=context,
                                           boundary_context=boundary_context)
        return await self._group_target(call, action, name)


class AttachmentsService(EntityTargets):
    async def _attach(self, call: Call, kind: str, action: str, name: str,
                      policy_arn: str) -> None:
        check_policy_arn(policy_arn)
        await self._target(call, kind, action, name, context={"iam:PolicyARN": policy_arn})
        await self._store.attach(kind, name, policy_arn)

    async def _detach(self, call: Call, kind: str, action: str, name: str,
                      policy_arn: str) -> None:
        check_policy_arn(policy_arn)
        await self._target(call, kind, action, name, context={"iam:PolicyARN": policy_arn})
        await self._store.detach(kind, name, policy_arn)

    async def _list_attached(self, call: Call, kind: str, action: str, name: str,
                             path_prefix: str | None, marker: str | None,
                             max_items: int | None) -> dict[str, Any]:
        await self._target(call, kind, action, name)
        attached = await self._store.attached_policies(kind, name)
        if attached is None:
            raise NoSuchEntity(f"The {kind} with name {name} cannot be found.")
        prefix = path_prefix or "/"
        attached = [a for a in attached if _policy_path(a.policy_arn).startswith(prefix)]
        return listing("attached_policies", *page(
            attached, lambda a: f"{a.policy_name.lower()}\x00{a.policy_arn}", marker, max_items))

    async def attach_user_policy(self, call: Call, *, user_name: str, policy_arn: str) -> None:
        await self._attach(call, "user", "AttachUserPolicy", user_name, policy_arn)

    async def attach_group_policy(self, call: Call, *, group_name: str, policy_arn: str) -> None:
        await self._attach(call, "group", "AttachGroupPolicy", group_name, policy_arn)

    async def attach_role_policy(self, call: Call, *, role_name: str, policy_arn: str) -> None:
        await self._attach(call, "role", "AttachRolePolicy", role_name, policy_arn)

    async def detach_user_policy(self, call: Call, *, user_name: str, policy_arn: str) -> None:
        await self._detach(call, "user", "DetachUserPolicy", user_name, policy_arn)

    async def detach_group_policy(self, call: Call, *, group_name: str, policy_arn: str) -> None:
        await self._detach(call, "group", "DetachGroupPolicy", group_name, policy_arn)

    async def detach_role_policy(self, call: Call, *, role_name: str, policy_arn: str) -> None:
        await self._detach(call, "role", "DetachRolePolicy", role_name, policy_arn)

    async def list_attached_user_policies(self, call: Call, *, user_name: str,
                                          path_prefix: str | None = None,
                                          marker: str | None = None,
                                          max_items: int | None = None) -> dict[str, Any]:
        return await self._list_attached(call, "user", "ListAttachedUserPolicies", user_name,
                                         path_prefix, marker, max_items)

    async def list_attached_group_policies(self, call: Call, *, group_name: str,
                                           path_prefix: str | None = None,
                                           marker: str | None = None,
                                           max_items: int | None = None) -> dict[str, Any]:
        return await self._list_attached(call, "group", "ListAttachedGroupPolicies",
                                         group_name, path_prefix, marker, max_items)

    async def list_attached_role_policies(self, call: Call, *, role_name: str,
                                          path_prefix: str | None = None,
                                          marker: str | None = None,
                                          max_items: int | None = None) -> dict[str, Any]:
        return await self._list_attached(call, "role", "ListAttachedRolePolicies", role_name,
                                         path_prefix, marker, max_items)

    async def list_entities_for_policy(self, call: Call, *, policy_arn: str,
                                       entity_filter: str | None = None,
                                       path_prefix: str | None = None,
                                       policy_usage_filter: str | None = None,
                                       marker: str | None = None,
                                       max_items: int | None = None) -> dict[str, Any]:
        await self._policy_target(call, "ListEntitiesForPolicy", policy_arn)
        found = await self._store.entities_for_policy(
            policy_arn, boundary=policy_usage_filter == "PermissionsBoundary")
        if found is None:
            raise policy_missing(policy_arn)
        users, groups, roles = found
        wanted = {"User": {"user"}, "Group": {"group"}, "Role": {"role"},
                  "LocalManagedPolicy": set(), "AWSManagedPolicy": set()}.get(
            entity_filter or "", {"user", "group", "role"})
        rows: list[tuple[str, Any]] = []
        rows += [("user", u) for u in users if "user" in wanted]
        rows += [("group", g) for g in groups if "group" in wanted]
        rows += [("role", r) for r in roles if "role" in wanted]
        if path_prefix and path_prefix != "/":
            rows = [row for row in rows if (await self._entity_path(*row)).startswith(path_prefix)]
        rows.sort(key=_entity_key)
        chunk, truncated, next_marker = page(rows, _entity_key, marker, max_items)
        return {"policy_users": [e for k, e in chunk if k == "user"],
                "policy_groups": [e for k, e in chunk if k == "group"],
                "policy_roles": [e for k, e in chunk if k == "role"],
                "is_truncated": truncated, "marker": next_marker}

    async def _entity_path(self, kind: str, entity: Any) -> str:
        if kind == "user":
            found: Any = await self._store.get_user(entity.user_name)
        elif kind == "group":
            found = await self._store.get_group(entity.group_name)
        else:
            found = await self._store.get_role(entity.role_name)
        return found.path if found else ""

    # ---- permissions boundaries ----
    async def put_user_permissions_boundary(self, call: Call, *, user_name: str,
                                            permissions_boundary: str) -> None:
        check_policy_arn(permissions_boundary)
        await self._user_target(call, "PutUserPermissionsBoundary", user_name,
                                context={"iam:PermissionsBoundary": permissions_boundary})
        await self._store.set_boundary("user", user_name, permissions_boundary)

    async def delete_user_permissions_boundary(self, call: Call, *, user_name: str) -> None:
        await self._user_target(call, "DeleteUserPermissionsBoundary", user_name,
                                boundary_context=True)
        await self._store.set_boundary("user", user_name, None)

    async def put_role_permissions_boundary(self, call: Call, *, role_name: str,
                                            permissions_boundary: str) -> None:
        check_policy_arn(permissions_boundary)
        await self._role_target(call, "PutRolePermissionsBoundary", role_name,
                                context={"iam:PermissionsBoundary": permissions_boundary})
        await self._store.set_boundary("role", role_name, permissions_boundary)

    async def delete_role_permissions_boundary(self, call: Call, *, role_name: str) -> None:
        await self._role_target(call, "DeleteRolePermissionsBoundary", role_name,
                                boundary_context=True)
        await self._store.set_boundary("role", role_name, None)


def _policy_path(policy_arn: str) -> str:
    parsed = arns.parse(policy_arn)
    return parsed.resource_path if parsed else "/"


def _entity_key(row: tuple[str, Any]) -> str:
    kind, e = row
    name: str = getattr(e, f"{kind}_name")
    return _ENTITY_ORDER[kind] + name.lower()
