"""IAM groups and group membership."""
from __future__ import annotations

import json
from typing import Any

from app.core import arn as arns
from app.core import ids
from app.core.errors import DeleteConflict, EntityAlreadyExists, LimitExceeded, NoSuchEntity
from app.core.records import Group, User
from app.store.iam_codec import dumps, group_from_json, group_to_json
from app.store.iam_entities import EntitiesMixin, not_found
from app.store.iam_users import UsersMixin

MAX_GROUPS = 300
MAX_GROUPS_PER_USER = 10


class GroupsMixin(UsersMixin, EntitiesMixin):
    async def get_group(self, name: str) -> Group | None:
        raw = await self._r.get(self._k.entity("group", name.lower()))
        return group_from_json(raw, self.account) if raw is not None else None

    async def _load_groups(self, lnames: list[str]) -> list[Group | None]:
        return await self._load_entities("group", lnames, group_from_json)

    async def list_groups(self, path_prefix: str = "/", after: str | None = None,
                          limit: int = 100) -> tuple[list[Group], bool]:
        return await self._scan_index("group", after, limit, self._load_groups,
                                      lambda g: g.path.startswith(path_prefix))

    async def create_group(self, name: str, *, path: str = "/") -> Group:
        lname = name.lower()
        key, index = self._k.entity("group", lname), self._k.index("group")
        group_id = await self._new_id(ids.GROUP)

        async def body(pipe: Any) -> Group:
            if await self._r.exists(key):
                raise EntityAlreadyExists(f"Group with name {name} already exists.")
            if await self._r.zcard(index) >= MAX_GROUPS:
                raise LimitExceeded(f"Cannot exceed quota for GroupsPerAccount: {MAX_GROUPS}")
            group = Group(group_name=name, group_id=group_id, path=path,
                          arn=arns.group(self.account, path, name),
                          create_date=self._clock.time())
            pipe.multi()
            pipe.set(key, group_to_json(group))
            pipe.zadd(index, {lname: 0})
            self._claim_id(pipe, group_id)
            return group

        return await self._atomic([key, index], body)

    async def update_group(self, name: str, *, new_name: str | None = None,
                           new_path: str | None = None) -> None:
        old, new = name.lower(), (new_name or name).lower()
        k = self._k
        old_key, new_key = k.entity("group", old), k.entity("group", new)

        def subs(lname: str) -> list[str]:
            return [k.inline("group", lname), k.inline_sizes("group", lname),
                    k.attached("group", lname), k.group_members(lname)]

        async def body(pipe: Any) -> None:
            raw = await self._r.get(old_key)
            if raw is None:
                raise not_found("group", name)
            if new != old and await self._r.exists(new_key):
                raise EntityAlreadyExists(f"Group with name {new_name} already exists.")
            d = json.loads(raw)
            members, attached, *existing = await self._read(
                ("smembers", k.group_members(old)), ("smembers", k.attached("group", old)),
                *[("exists", s) for s in subs(old)])
            d["n"] = new_name or d["n"]
            d["p"] = new_path or d["p"]
            pipe.multi()
            pipe.set(new_key, dumps(d))
            if new == old:
                return
            pipe.delete(old_key)
            pipe.zrem(k.index("group"), old)
            pipe.zadd(k.index("group"), {new: 0})
            for sub, target, there in zip(subs(old), subs(new), existing):
                if there:
                    pipe.rename(sub, target)
            for u in members:
                pipe.srem(k.user_groups(u), old)
                pipe.sadd(k.user_groups(u), new)
            for policy_arn in attached:
                if plname := self.policy_lname(policy_arn):
                    pipe.srem(k.policy_entities(plname), f"group:{old}")
                    pipe.sadd(k.policy_entities(plname), f"group:{new}")

        await self._atomic([old_key, new_key, *subs(old)], body)

    async def delete_group(self, name: str) -> None:
        lname = name.lower()
        k = self._k
        key = k.entity("group", lname)
        watched = [key, k.group_members(lname), k.inline("group", lname),
                   k.attached("group", lname)]

        async def body(pipe: Any) -> None:
            there, members, inline, attached = await self._read(
                ("exists", key), ("scard", watched[1]), ("hlen", watched[2]),
                ("scard", watched[3]))
            if not there:
                raise not_found("group", name)
            if members:
                raise DeleteConflict("Cannot delete entity, must remove users from group first.")
            if inline:
                raise DeleteConflict("Cannot delete entity, must delete policies first.")
            if attached:
                raise DeleteConflict("Cannot delete entity, must detach all policies first.")
            pipe.multi()
            pipe.delete(*watched, k.inline_sizes("group", lname))
            pipe.zrem(k.index("group"), lname)

        await self._atomic(watched, body)

    # ---- membership ----
    async def add_user_to_group(self, group_name: str, user_name: str) -> None:
        await self._membership(group_name, user_name, add=True)

    async def remove_user_from_group(self, group_name: str, user_name: str) -> None:
        await self._membership(group_name, user_name, add=False)

    async def _membership(self, group_name: str, user_name: str, *, add: bool) -> None:
        g, u = group_name.lower(), user_name.lower()
        k = self._k
        watched = [k.entity("group", g), k.entity("user", u), k.user_groups(u)]

        async def body(pipe: Any) -> None:
            group_there, user_there, member, count = await self._read(
                ("exists", watched[0]), ("exists", watched[1]),
                ("sismember", k.user_groups(u), g), ("scard", k.user_groups(u)))
            if not group_there:
                raise not_found("group", group_name)
            if not user_there:
                raise not_found("user", user_name)
            if add and not member and count >= MAX_GROUPS_PER_USER:
                raise LimitExceeded(
                    f"Cannot exceed quota for GroupsPerUser: {MAX_GROUPS_PER_USER}")
            if not add and not member:
                raise NoSuchEntity(f"The user with name {user_name} is not a member of "
                                   f"group {group_name}.")
            pipe.multi()
            if add:
                pipe.sadd(k.user_groups(u), g)
                pipe.sadd(k.group_members(g), u)
            else:
                pipe.srem(k.user_groups(u), g)
                pipe.srem(k.group_members(g), u)

        await self._atomic(watched, body)

    async def group_members(self, group_name: str) -> list[User] | None:
        """Members in name order; None when the group does not exist."""
        g = group_name.lower()
        there, members = await self._read(("exists", self._k.entity("group", g)),
                                          ("smembers", self._k.group_members(g)))
        if not there:
            return None
        users = await self._load_users(sorted(members))
        return [x for x in users if x is not None]

    async def groups_for_user(self, user_name: str) -> list[Group] | None:
        u = user_name.lower()
        there, groups = await self._read(("exists", self._k.entity("user", u)),
                                         ("smembers", self._k.user_groups(u)))
        if not there:
            return None
        loaded = await self._load_groups(sorted(groups))
        return [x for x in loaded if x is not None]

