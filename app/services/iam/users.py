"""IAM users: CreateUser GetUser UpdateUser DeleteUser ListUsers TagUser UntagUser ListUserTags."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from app.core import arn as arns
from app.core.errors import NoSuchEntity, ValidationError
from app.core.records import Call, RootUser, User
from app.services.iam.base import (
    ContextValue,
    IamServiceBase,
    parse_tags,
    tag_context,
    tag_listing,
    untag_context,
)

NON_USER = "Must specify userName when calling with non-User credentials"


def user_missing(name: str) -> NoSuchEntity:
    return NoSuchEntity(f"The user with name {name} cannot be found.")


class UsersService(IamServiceBase):
    def _caller_user(self, call: Call, user_name: str | None) -> str:
        """UserName defaulting to the caller: "" for the root, the user's name for users;
        role and federated sessions must name the user."""
        if user_name:
            return user_name
        caller = call.caller
        if caller is not None and caller.is_root:
            return ""
        if caller is None or caller.kind != "user" or not caller.name:
            raise ValidationError(NON_USER)
        return caller.name

    async def _user_target(self, call: Call, action: str, name: str, *,
                           context: Mapping[str, ContextValue] | None = None,
                           boundary_context: bool = False) -> User:
        """Authorize `action` on the user, then require that it exists. With
        boundary_context, `iam:PermissionsBoundary` carries its current boundary."""
        user = await self._store.get_user(name)
        ctx = dict(context or {})
        if boundary_context and user is not None and user.permissions_boundary:
            ctx["iam:PermissionsBoundary"] = user.permissions_boundary.permissions_boundary_arn
        await self._require(call, action, user.arn if user else self._user_arn(name),
                            context=ctx, resource_tags=user.tags if user else ())
        if user is None:
            raise user_missing(name)
        return user

    async def create_user(self, call: Call, *, user_name: str, path: str | None = None,
                          permissions_boundary: str | None = None,
                          tags: Sequence[Mapping[str, str]] | None = None) -> dict[str, Any]:
        path = path or "/"
        parsed = parse_tags(tags)
        ctx = tag_context(parsed)
        if permissions_boundary:
            ctx["iam:PermissionsBoundary"] = permissions_boundary
        await self._require(call, "CreateUser", self._user_arn(user_name, path), context=ctx)
        user = await self._store.create_user(user_name, path=path,
                                             boundary_arn=permissions_boundary, tags=parsed)
        return {"user": user}

    async def get_user(self, call: Call, *, user_name: str | None = None) -> dict[str, Any]:
        name = self._caller_user(call, user_name)
        if name == "":
            await self._require(call, "GetUser", arns.root(self._account))
            created = await self._store.root_created()
            return {"user": RootUser(user_id=self._account, arn=arns.root(self._account),
                                     create_date=created or self._clock.time())}
        user = await self._user_target(call, "GetUser", name)
        profile = await self._store.get_login_profile(user.user_name)  # PasswordLastUsed lives there
        used = profile.password_last_used if profile is not None else None
        return {"user": replace(user, password_last_used=used) if used is not None else user}

    async def update_user(self, call: Call, *, user_name: str, new_path: str | None = None,
                          new_user_name: str | None = None) -> None:
        user = await self._user_target(call, "UpdateUser", user_name)
        if new_user_name and new_user_name.lower() != user.user_name.lower():
            # AWS also needs permission on the new name
            await self._require(call, "UpdateUser",
                                self._user_arn(new_user_name, new_path or user.path))
        await self._store.update_user(user_name, new_name=new_user_name, new_path=new_path)

    async def delete_user(self, call: Call, *, user_name: str) -> None:
        user = await self._user_target(call, "DeleteUser", user_name)
        await self._store.delete_user(user_name)
        await self._store.forget_last_accessed(user.user_id)  # access advisor's records

    async def list_users(self, call: Call, *, path_prefix: str | None = None,
                         marker: str | None = None,
                         max_items: int | None = None) -> dict[str, Any]:
        await self._require(call, "ListUsers", self._user_arn("*", path_prefix or "/"))
        return await self._scan("users", self._users_with_last_use, path_prefix, marker, max_items,
                                lambda u: u.user_name.lower())

    async def _users_with_last_use(self, path_prefix: str, after: str | None,
                                   limit: int) -> tuple[list[User], bool]:
        """A page of users with their PasswordLastUsed (kept in their login profiles)."""
        users, more = await self._store.list_users(path_prefix, after, limit)
        used = await self._store.passwords_last_used([u.user_name for u in users])
        return [replace(u, password_last_used=t) if t is not None else u for u, t in zip(users, used)], more

    # ---- tags ----
    async def tag_user(self, call: Call, *, user_name: str,
                       tags: Sequence[Mapping[str, str]]) -> None:
        parsed = parse_tags(tags)
        await self._user_target(call, "TagUser", user_name, context=tag_context(parsed))
        await self._store.tag("user", user_name, parsed, quota_name="TagsPerUser")

    async def untag_user(self, call: Call, *, user_name: str, tag_keys: Sequence[str]) -> None:
        await self._user_target(call, "UntagUser", user_name,
                                context=untag_context(tag_keys))
        await self._store.untag("user", user_name, tag_keys)

    async def list_user_tags(self, call: Call, *, user_name: str, marker: str | None = None,
                             max_items: int | None = None) -> dict[str, Any]:
        user = await self._user_target(call, "ListUserTags", user_name)
        return tag_listing(user.tags, marker, max_items)


