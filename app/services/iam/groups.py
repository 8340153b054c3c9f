"""IAM groups: CreateGroup GetGroup UpdateGroup DeleteGroup ListGroups AddUserToGroup
RemoveUserFromGroup ListGroupsForUser."""
from __future__ import annotations

from typing import Any

from app.core.errors import NoSuchEntity
from app.core.records import Call, Group
from app.services.iam.base import listing, page
from app.services.iam.users import UsersService, user_missing


def group_missing(name: str) -> NoSuchEntity:
    return NoSuchEntity(f"The group with name {name} cannot be found.")


class GroupsService(UsersService):
    async def _group_target(self, call: Call, action: str, name: str) -> Group:
        group = await self._store.get_group(name)
        await self._require(call, action, group.arn if group else self._group_arn(name))
        if group is None:
            raise group_missing(name)
        return group

    async def create_group(self, call: Call, *, group_name: str,
                           path: str | None = None) -> dict[str, Any]:
        path = path or "/"
        await self._require(call, "CreateGroup", self._group_arn(group_name, path))
        return {"group": await self._store.create_group(group_name, path=path)}

    async def get_group(self, call: Call, *, group_name: str, marker: str | None = None,
                        max_items: int | None = None) -> dict[str, Any]:
        group = await self._group_target(call, "GetGroup", group_name)
        members = await self._store.group_members(group_name)
        if members is None:
            raise group_missing(group_name)
        users, truncated, next_marker = page(
            members, lambda u: u.user_name.lower(), marker, max_items)
        return {"group": group, **listing("users", users, truncated, next_marker)}

    async def update_group(self, call: Call, *, group_name: str, new_path: str | None = None,
                           new_group_name: str | None = None) -> None:
        group = await self._group_target(call, "UpdateGroup", group_name)
        if new_group_name and new_group_name.lower() != group.group_name.lower():
            await self._require(call, "UpdateGroup",
                                self._group_arn(new_group_name, new_path or group.path))
        await self._store.update_group(group_name, new_name=new_group_name, new_path=new_path)

    async def delete_group(self, call: Call, *, group_name: str) -> None:
        await self._group_target(call, "DeleteGroup", group_name)
        await self._store.delete_group(group_name)

    async def list_groups(self, call: Call, *, path_prefix: str | None = None,
                          marker: str | None = None,
                          max_items: int | None = None) -> dict[str, Any]:
        await self._require(call, "ListGroups", self._group_arn("*", path_prefix or "/"))
        return await self._scan("groups", self._store.list_groups, path_prefix, marker,
                                max_items, lambda g: g.group_name.lower())

    async def add_user_to_group(self, call: Call, *, group_name: str, user_name: str) -> None:
        await self._group_target(call, "AddUserToGroup", group_name)
        await self._store.add_user_to_group(group_name, user_name)

    async def remove_user_from_group(self, call: Call, *, group_name: str,
                                     user_name: str) -> None:
        await self._group_target(call, "RemoveUserFromGroup", group_name)
        await self._store.remove_user_from_group(group_name, user_name)

    async def list_groups_for_user(self, call: Call, *, user_name: str,
                                   marker: str | None = None,
                                   max_items: int | None = None) -> dict[str, Any]:
        await self._user_target(call, "ListGroupsForUser", user_name)
        groups = await self._store.groups_for_user(user_name)
        if groups is None:
            raise user_missing(user_name)
        return listing("groups", *page(groups, lambda g: g.group_name.lower(), marker,
                                       max_items))

