"""IAM roles."""
from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from app.core import arn as arns
from app.core import ids
from app.core.errors import DeleteConflict, EntityAlreadyExists, LimitExceeded
from app.core.records import AttachedPermissionsBoundary, Role, Tag
from app.store.iam_codec import role_from_json, role_to_json
from app.store.iam_entities import EntitiesMixin, not_found

MAX_ROLES = 1000
_UNSET: Any = object()


class RolesMixin(EntitiesMixin):
    async def get_role(self, name: str) -> Role | None:
        lname = name.lower()
        raw, used = await self._read(("get", self._k.entity("role", lname)),
                                     ("get", self._k.role_last_used(lname)))
        return role_from_json(raw, self.account, used) if raw is not None else None

    async def get_role_record(self, name: str) -> Role | None:
        """The role without its last-used data (one GET: the hot path's view)."""
        raw = await self._r.get(self._k.entity("role", name.lower()))
        return role_from_json(raw, self.account) if raw is not None else None

    async def _load_roles(self, lnames: list[str]) -> list[Role | None]:
        return await self._load_entities("role", lnames, role_from_json)

    async def list_roles(self, path_prefix: str = "/", after: str | None = None,
                         limit: int = 100) -> tuple[list[Role], bool]:
        return await self._scan_index("role", after, limit, self._load_roles,
                                      lambda r: r.path.startswith(path_prefix))

    async def create_role(self, name: str, *, trust_policy: str, path: str = "/",
                          description: str | None = None, max_session_duration: int = 3600,
                          boundary_arn: str | None = None, tags: Sequence[Tag] = ()) -> Role:
        lname = name.lower()
        key, index = self._k.entity("role", lname), self._k.index("role")
        role_id = await self._new_id(ids.ROLE)

        async def body(pipe: Any) -> Role:
            if await self._r.exists(key):
                raise EntityAlreadyExists(f"Role with name {name} already exists.")
            if await self._r.zcard(index) >= MAX_ROLES:
                raise LimitExceeded(f"Cannot exceed quota for RolesPerAccount: {MAX_ROLES}")
            bnd = await self._require_policy(pipe, boundary_arn) if boundary_arn else None
            role = Role(role_name=name, role_id=role_id, path=path,
                        arn=arns.role(self.account, path, name), create_date=self._clock.time(),
                        assume_role_policy_document=trust_policy, description=description,
                        max_session_duration=max_session_duration,
                        permissions_boundary=(AttachedPermissionsBoundary(boundary_arn)
                                              if boundary_arn else None),
                        tags=tuple(tags))
            pipe.multi()
            pipe.set(key, role_to_json(role))
            pipe.zadd(index, {lname: 0})
            self._claim_id(pipe, role_id)
            if bnd:
                pipe.sadd(self._k.policy_boundary_users(bnd), f"role:{lname}")
                self._note_policy_use(pipe, bnd)
            return role

        return await self._atomic([key, index], body)

    async def update_role(self, name: str, *, description: str | None = _UNSET,
                          max_session_duration: int | None = None,
                          trust_policy: str | None = None) -> Role:
        """Change description (None clears it), max session duration or trust policy."""
        def mutate(d: dict[str, Any]) -> None:
            if description is not _UNSET:
                d["desc"] = description
            if max_session_duration is not None:
                d["msd"] = max_session_duration
            if trust_policy is not None:
                d["d"] = trust_policy

        await self._update_record("role", name, mutate)
        role = await self.get_role(name)
        if role is None:  # deleted in between
            raise not_found("role", name)
        return role

    async def delete_role(self, name: str) -> None:
        lname = name.lower()
        k = self._k
        key = k.entity("role", lname)
        watched = [key, k.inline("role", lname), k.attached("role", lname), k.role_instance_profiles(lname)]

        async def body(pipe: Any) -> None:
            raw, inline, attached, profiles = await self._read(
                ("get", key), ("hlen", watched[1]), ("scard", watched[2]), ("scard", watched[3]))
            if raw is None:
                raise not_found("role", name)
            if profiles:
                raise DeleteConflict("Cannot delete entity, must remove roles from instance profile first.")
            if inline:
                raise DeleteConflict("Cannot delete entity, must delete policies first.")
            if attached:
                raise DeleteConflict("Cannot delete entity, must detach all policies first.")
            d = json.loads(raw)
            pipe.multi()
            pipe.delete(*watched, k.inline_sizes("role", lname), k.role_last_used(lname))
            pipe.zrem(k.index("role"), lname)
            if d.get("b") and (plname := self.policy_lname(d["b"])):
                pipe.srem(k.policy_boundary_users(plname), f"role:{lname}")

        await self._atomic(watched, body)
