"""IAM instance profiles: create, delete, read, list, tag, and the one role a profile holds.

A profile is a JSON record under `Keys.instance_profile(l)` (`n` name, `id` AIPA… id, `p` path,
`c` created, `t` tags, `r` the lowercased name of the role it holds, absent when empty), named
in the account's `instprof` index. The role side is `Keys.role_instance_profiles(l)`, the SET
of the profiles holding the role: DeleteRole is refused while it is not empty and
GetAccountAuthorizationDetails lists them. Both sides change in one MULTI/EXEC.
"""
from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from app.core import arn as arns
from app.core import ids
from app.core.errors import DeleteConflict, EntityAlreadyExists, LimitExceeded, NoSuchEntity
from app.core.records import InstanceProfile, Role, Tag
from app.store.iam_codec import dumps, role_from_json, tags_from_json, tags_to_json
from app.store.iam_entities import MAX_TAGS, EntitiesMixin, drop_tags, merge_tags, not_found

MAX_INSTANCE_PROFILES = 1000  # per account (AWS's InstanceProfilesQuota)
MAX_ROLES_PER_PROFILE = 1  # AWS: InstanceSessionsPerInstanceProfile
KIND = "instprof"


def profile_missing(name: str) -> NoSuchEntity:
    return NoSuchEntity(f"Instance Profile {name} cannot be found.")


class InstanceProfilesMixin(EntitiesMixin):
    def _profile_from(self, raw: str, role_raw: str | None) -> InstanceProfile:
        d = json.loads(raw)
        roles: tuple[Role, ...] = (role_from_json(role_raw, self.account),) if role_raw else ()
        return InstanceProfile(
            instance_profile_name=d["n"], instance_profile_id=d["id"], path=d["p"],
            arn=arns.instance_profile(self.account, d["p"], d["n"]), create_date=d["c"],
            roles=roles, tags=tags_from_json(d.get("t")))

    async def _load_profiles(self, lnames: Sequence[str]) -> list[InstanceProfile | None]:
        """The profiles of these lowercased names with their roles (two MGETs); None where gone."""
        if not lnames:
            return []
        raws = await self._r.mget([self._k.instance_profile(n) for n in lnames])
        held = [json.loads(r).get("r") if r else None for r in raws]
        wanted = [r for r in held if r]
        role_raws = dict(zip(wanted, await self._r.mget([self._k.entity("role", r) for r in wanted]))) \
            if wanted else {}
        return [self._profile_from(raw, role_raws.get(r) if r else None) if raw else None
                for raw, r in zip(raws, held)]

    async def get_instance_profile(self, name: str) -> InstanceProfile | None:
        return (await self._load_profiles([name.lower()]))[0]

    async def list_instance_profiles(self, path_prefix: str = "/", after: str | None = None,
                                     limit: int = 100) -> tuple[list[InstanceProfile], bool]:
        return await self._scan_index(KIND, after, limit, self._load_profiles,
                                      lambda p: p.path.startswith(path_prefix))

    async def instance_profiles_for_role(self, role_name: str) -> list[InstanceProfile]:
        """The profiles holding the role, in name order."""
        names = sorted(await self._r.smembers(self._k.role_instance_profiles(role_name.lower())))
        return [p for p in await self._load_profiles(names) if p is not None]

    async def create_instance_profile(self, name: str, *, path: str = "/",
                                      tags: Sequence[Tag] = ()) -> InstanceProfile:
        lname = name.lower()
        key, index = self._k.instance_profile(lname), self._k.index(KIND)
        profile_id = await self._new_id(ids.INSTANCE_PROFILE)

        async def body(pipe: Any) -> InstanceProfile:
            if await self._r.exists(key):
                raise EntityAlreadyExists(f"Instance Profile {name} already exists.")
            if await self._r.zcard(index) >= MAX_INSTANCE_PROFILES:
                raise LimitExceeded(f"Cannot exceed quota for InstanceProfilesPerAccount: {MAX_INSTANCE_PROFILES}")
            raw = dumps({"n": name, "id": profile_id, "p": path, "c": self._clock.time(),
                         "t": tags_to_json(tuple(tags))})
            pipe.multi()
            pipe.set(key, raw)
            pipe.zadd(index, {lname: 0})
            self._claim_id(pipe, profile_id)
            return self._profile_from(raw, None)

        return await self._atomic([key, index], body)

    async def delete_instance_profile(self, name: str) -> None:
        lname = name.lower()
        key = self._k.instance_profile(lname)

        async def body(pipe: Any) -> None:
            raw = await self._r.get(key)
            if raw is None:
                raise profile_missing(name)
            if json.loads(raw).get("r"):
                raise DeleteConflict("Cannot delete entity, must remove roles from instance profile first.")
            pipe.multi()
            pipe.delete(key)
            pipe.zrem(self._k.index(KIND), lname)

        await self._atomic([key], body)

    async def _link(self, profile_name: str, role_name: str,
                    change: Callable[[dict[str, Any], str], str | None]) -> None:
        """Read the profile and require both it and the role; `change(profile record, role
        lname)` checks (raising writes nothing) and sets the record's `r`, -> the role lname
        to link, or None to unlink it. Both sides are written in one MULTI/EXEC."""
        plname, rlname = profile_name.lower(), role_name.lower()
        key, role_key = self._k.instance_profile(plname), self._k.entity("role", rlname)

        async def body(pipe: Any) -> None:
            raw, role_raw = await self._read(("get", key), ("get", role_key))
            if raw is None:
                raise profile_missing(profile_name)
            if role_raw is None:
                raise not_found("role", role_name)
            d = json.loads(raw)
            linked = change(d, rlname)
            pipe.multi()
            pipe.set(key, dumps(d))
            if linked is not None:
                pipe.sadd(self._k.role_instance_profiles(rlname), plname)
            else:
                pipe.srem(self._k.role_instance_profiles(rlname), plname)

        await self._atomic([key, role_key], body)

    async def add_role_to_instance_profile(self, profile_name: str, role_name: str) -> None:
        def change(d: dict[str, Any], rlname: str) -> str:
            if d.get("r"):
                raise LimitExceeded("Cannot exceed quota for InstanceSessionsPerInstanceProfile: "
                                    f"{MAX_ROLES_PER_PROFILE}")
            d["r"] = rlname
            return rlname

        await self._link(profile_name, role_name, change)

    async def remove_role_from_instance_profile(self, profile_name: str, role_name: str) -> None:
        def change(d: dict[str, Any], rlname: str) -> None:
            if d.get("r") != rlname:
                raise NoSuchEntity(f"The role with name {role_name} cannot be found in instance profile "
                                   f"{d['n']}.")
            del d["r"]

        await self._link(profile_name, role_name, change)

    # ---- tags ----
    async def _change_profile_tags(self, name: str, change: Callable[[tuple[Tag, ...]], tuple[Tag, ...]]) -> None:
        key = self._k.instance_profile(name.lower())

        async def body(pipe: Any) -> None:
            raw = await self._r.get(key)
            if raw is None:
                raise profile_missing(name)
            d = json.loads(raw)
            d["t"] = tags_to_json(change(tags_from_json(d.get("t"))))
            pipe.multi()
            pipe.set(key, dumps(d))

        await self._atomic([key], body)

    async def tag_instance_profile(self, name: str, tags: Sequence[Tag]) -> None:
        def change(current: tuple[Tag, ...]) -> tuple[Tag, ...]:
            merged = merge_tags(current, tags)
            if len(merged) > MAX_TAGS:
                raise LimitExceeded(f"Cannot exceed quota for TagsPerInstanceProfile: {MAX_TAGS}")
            return merged

        await self._change_profile_tags(name, change)

    async def untag_instance_profile(self, name: str, keys: Sequence[str]) -> None:
        await self._change_profile_tags(name, lambda current: drop_tags(current, keys))
