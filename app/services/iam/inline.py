"""Inline policies: Put/Get/Delete/List {User,Group,Role}Policy (documents stored exactly as
submitted; aggregate sizes per entity: user 2048, group 5120, role 10240)."""
from __future__ import annotations

from typing import Any

from app.core.errors import NoSuchEntity
from app.core.records import Call
from app.services.iam.attachments import EntityTargets
from app.services.iam.base import listing, page


class InlineService(EntityTargets):
    async def _put(self, call: Call, kind: str, action: str, name: str, policy_name: str,
                   document: str) -> None:
        entity = await self._target(call, kind, action, name)
        size = self._checks.inline(document, kind, getattr(entity, f"{kind}_name"))
        await self._store.put_inline(kind, name, policy_name, document, size)

    async def _get(self, call: Call, kind: str, action: str, name: str,
                   policy_name: str) -> dict[str, Any]:
        entity = await self._target(call, kind, action, name, boundary_context=False)
        document = await self._store.get_inline(kind, name, policy_name)
        return {f"{kind}_name": getattr(entity, f"{kind}_name"), "policy_name": policy_name,
                "policy_document": document}

    async def _delete(self, call: Call, kind: str, action: str, name: str,
                      policy_name: str) -> None:
        await self._target(call, kind, action, name)
        await self._store.delete_inline(kind, name, policy_name)

    async def _list(self, call: Call, kind: str, action: str, name: str, marker: str | None,
                    max_items: int | None) -> dict[str, Any]:
        await self._target(call, kind, action, name, boundary_context=False)
        docs = await self._store.inline_policies(kind, name)
        if docs is None:
            raise NoSuchEntity(f"The {kind} with name {name} cannot be found.")
        return listing("policy_names", *page(sorted(docs), lambda n: n, marker, max_items))

    # ---- users ----
    async def put_user_policy(self, call: Call, *, user_name: str, policy_name: str,
                              policy_document: str) -> None:
        await self._put(call, "user", "PutUserPolicy", user_name, policy_name, policy_document)

    async def get_user_policy(self, call: Call, *, user_name: str,
                              policy_name: str) -> dict[str, Any]:
        return await self._get(call, "user", "GetUserPolicy", user_name, policy_name)

    async def delete_user_policy(self, call: Call, *, user_name: str, policy_name: str) -> None:
        await self._delete(call, "user", "DeleteUserPolicy", user_name, policy_name)

    async def list_user_policies(self, call: Call, *, user_name: str, marker: str | None = None,
                                 max_items: int | None = None) -> dict[str, Any]:
        return await self._list(call, "user", "ListUserPolicies", user_name, marker, max_items)

    # ---- groups ----
    async def put_group_policy(self, call: Call, *, group_name: str, policy_name: str,
                               policy_document: str) -> None:
        await self._put(call, "group", "PutGroupPolicy", group_name, policy_name,
                        policy_document)

    async def get_group_policy(self, call: Call, *, group_name: str,
                               policy_name: str) -> dict[str, Any]:
        return await self._get(call, "group", "GetGroupPolicy", group_name, policy_name)

    async def delete_group_policy(self, call: Call, *, group_name: str,
                                  policy_name: str) -> None:
        await self._delete(call, "group", "DeleteGroupPolicy", group_name, policy_name)

    async def list_group_policies(self, call: Call, *, group_name: str,
                                  marker: str | None = None,
                                  max_items: int | None = None) -> dict[str, Any]:
        return await self._list(call, "group", "ListGroupPolicies", group_name, marker,
                                max_items)

    # ---- roles ----
    async def put_role_policy(self, call: Call, *, role_name: str, policy_name: str,
                              policy_document: str) -> None:
        await self._put(call, "role", "PutRolePolicy", role_name, policy_name, policy_document)

    async def get_role_policy(self, call: Call, *, role_name: str,
                              policy_name: str) -> dict[str, Any]:
        return await self._get(call, "role", "GetRolePolicy", role_name, policy_name)

    async def delete_role_policy(self, call: Call, *, role_name: str, policy_name: str) -> None:
        await self._delete(call, "role", "DeleteRolePolicy", role_name, policy_name)

    async def list_role_policies(self, call: Call, *, role_name: str, marker: str | None = None,
                                 max_items: int | None = None) -> dict[str, Any]:
        return await self._list(call, "role", "ListRolePolicies", role_name, marker, max_items)
