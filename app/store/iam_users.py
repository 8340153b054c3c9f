"""IAM users: create, read, rename/move, delete, list."""
from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from app.core import arn as arns
from app.core import ids
from app.core.errors import DeleteConflict, EntityAlreadyExists, LimitExceeded
from app.core.records import AttachedPermissionsBoundary, Tag, User
from app.store.iam_codec import dumps, user_from_json, user_to_json
from app.store.iam_entities import EntitiesMixin, not_found

MAX_USERS = 5000
SET_SUFFIXES = (":aks", ":mfa", ":att", ":grp")  # the others are hashes


class UsersMixin(EntitiesMixin):
    async def get_user(self, name: str) -> User | None:
        raw = await self._r.get(self._k.entity("user", name.lower()))
        return user_from_json(raw, self.account) if raw is not None else None

    async def _load_users(self, lnames: list[str]) -> list[User | None]:
        return await self._load_entities("user", lnames, user_from_json)

    async def list_users(self, path_prefix: str = "/", after: str | None = None,
                         limit: int = 100) -> tuple[list[User], bool]:
        """Users in name order (case-insensitive), after the lowercased name `after`."""
        return await self._scan_index("user", after, limit, self._load_users,
                                      lambda u: u.path.startswith(path_prefix))

    async def create_user(self, name: str, *, path: str = "/", boundary_arn: str | None = None,
                          tags: Sequence[Tag] = ()) -> User:
        lname = name.lower()
        key, index = self._k.entity("user", lname), self._k.index("user")
        user_id = await self._new_id(ids.USER)

        async def body(pipe: Any) -> User:
            if await self._r.exists(key):
                raise EntityAlreadyExists(f"User with name {name} already exists.")
            if await self._r.zcard(index) >= MAX_USERS:
                raise LimitExceeded(f"Cannot exceed quota for UsersPerAccount: {MAX_USERS}")
            bnd = await self._require_policy(pipe, boundary_arn) if boundary_arn else None
            user = User(user_name=name, user_id=user_id, path=path,
                        arn=arns.user(self.account, path, name),
                        create_date=self._clock.time(),
                        permissions_boundary=(AttachedPermissionsBoundary(boundary_arn)
                                              if boundary_arn else None),
                        tags=tuple(tags))
            pipe.multi()
            pipe.set(key, user_to_json(user))
            pipe.zadd(index, {lname: 0})
            self._claim_id(pipe, user_id)
            if bnd:
                pipe.sadd(self._k.policy_boundary_users(bnd), f"user:{lname}")
                self._note_policy_use(pipe, bnd)
            return user

        return await self._atomic([key, index], body)

    async def update_user(self, name: str, *, new_name: str | None = None,
                          new_path: str | None = None) -> None:
        """Rename and/or move a user. A rename carries along every key that names the
        user (inline policies, attachments, groups, access keys, MFA devices, boundary usage)."""
        old = name.lower()
        new = (new_name or name).lower()
        k = self._k
        old_key, new_key = k.entity("user", old), k.entity("user", new)
        def subs(lname: str) -> list[str]:
            return [k.inline("user", lname), k.inline_sizes("user", lname),
                    k.attached("user", lname), k.user_groups(lname), k.user_access_keys(lname),
                    k.user_mfa_devices(lname), k.user_login_profile(lname),
                    k.user_signing_certs(lname), k.user_ssh_keys(lname)]

        subkeys = subs(old)

        async def body(pipe: Any) -> None:
            raw = await self._r.get(old_key)
            if raw is None:
                raise not_found("user", name)
            if new != old and await self._r.exists(new_key):
                raise EntityAlreadyExists(f"User with name {new_name} already exists.")
            d = json.loads(raw)
            groups, akids, attached, devices = await self._read(
                ("smembers", k.user_groups(old)), ("smembers", k.user_access_keys(old)),
                ("smembers", k.attached("user", old)), ("smembers", k.user_mfa_devices(old)))
            existing = await self._read(*[("exists", s) for s in subkeys])
            if new_name:
                d["n"] = new_name
            if new_path:
                d["p"] = new_path
            pipe.multi()
            pipe.set(new_key, dumps(d))
            for akid in akids:
                pipe.hset(k.access_key(akid), "u", d["n"])
            for device in devices:
                pipe.hset(k.mfa_device(device), "u", d["n"])
            if new == old:
                return
            pipe.delete(old_key)
            pipe.zrem(k.index("user"), old)
            pipe.zadd(k.index("user"), {new: 0})
            for sub, target, there in zip(subkeys, subs(new), existing):
                if there:
                    pipe.rename(sub, target)
            for g in groups:
                pipe.srem(k.group_members(g), old)
                pipe.sadd(k.group_members(g), new)
            for policy_arn in attached:
                plname = self.policy_lname(policy_arn)
                if plname:
                    pipe.srem(k.policy_entities(plname), f"user:{old}")
                    pipe.sadd(k.policy_entities(plname), f"user:{new}")
            if d.get("b") and (plname := self.policy_lname(d["b"])):
                pipe.srem(k.policy_boundary_users(plname), f"user:{old}")
                pipe.sadd(k.policy_boundary_users(plname), f"user:{new}")

        await self._atomic([old_key, new_key, *subkeys], body)

    async def delete_user(self, name: str) -> None:
        lname = name.lower()
        k = self._k
        key = k.entity("user", lname)
        subkeys = [k.user_login_profile(lname), k.user_access_keys(lname),
                   k.user_mfa_devices(lname), k.inline("user", lname),
                   k.attached("user", lname), k.user_groups(lname), k.user_signing_certs(lname),
                   k.user_ssh_keys(lname)]
        conflicts = ["Cannot delete entity, must delete login profile first.",
                     "Cannot delete entity, must delete access keys first.",
                     "Cannot delete entity, must remove MFA device first.",
                     "Cannot delete entity, must delete policies first.",
                     "Cannot delete entity, must detach all policies first.",
                     "Cannot delete entity, must remove user from all groups first.",
                     "Cannot delete entity, must delete certificates first.",
                     "Cannot delete entity, must remove referenced objects first."]

        async def body(pipe: Any) -> None:
            raw, *sizes = await self._read(("get", key), *[("scard", s) if s.endswith(SET_SUFFIXES)
                                                           else ("hlen", s) for s in subkeys])
            if raw is None:
                raise not_found("user", name)
            for size, message in zip(sizes, conflicts):
                if size:
                    raise DeleteConflict(message)
            d = json.loads(raw)
            pipe.multi()
            pipe.delete(key, k.inline_sizes("user", lname), *subkeys)
            pipe.zrem(k.index("user"), lname)
            if d.get("b") and (plname := self.policy_lname(d["b"])):
                pipe.srem(k.policy_boundary_users(plname), f"user:{lname}")

        await self._atomic([key, *subkeys], body)
