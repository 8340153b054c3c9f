"""Bulk reads for GetAccountAuthorizationDetails and GetAccountSummary (one pipeline per
page of entities)."""
from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from app.core.records import (
    GroupDetail,
    InlinePolicy,
    ManagedPolicyDetail,
    RoleDetail,
    UserDetail,
)
from app.store.iam_attachments import attached_policy
from app.store.iam_codec import (
    group_from_json,
    policy_from_json,
    role_from_json,
    user_from_json,
    version_from_json,
    version_number,
)
from app.store.iam_instance_profiles import InstanceProfilesMixin


def _inline(docs: dict[str, str]) -> tuple[InlinePolicy, ...]:
    return tuple(InlinePolicy(policy_name=n, policy_document=d) for n, d in sorted(docs.items()))


def _attached(arns_: set[str]) -> tuple[Any, ...]:
    return tuple(sorted((attached_policy(a) for a in arns_),
                        key=lambda p: (p.policy_name.lower(), p.policy_arn)))


class DetailsMixin(InstanceProfilesMixin):
    async def index_names(self, kind: str) -> list[str]:
        """All lowercased names of `user`/`group`/`role`/`policy`, in order."""
        return await self._names(kind)

    async def _rows(self, lnames: list[str],
                    row: Callable[[str], list[tuple[str, Any]]]) -> list[list[Any]]:
        """One pipelined read of `row(name)` for every name -> the replies, one list per name."""
        calls = [c for n in lnames for c in row(n)]
        got = await self._read(*calls) if calls else []
        width = len(calls) // len(lnames) if lnames else 0
        return [got[width * i: width * i + width] for i in range(len(lnames))]

    async def user_details(self, lnames: list[str]) -> list[UserDetail]:
        k = self._k
        rows = await self._rows(lnames, lambda n: [
            ("get", k.entity("user", n)), ("hgetall", k.inline("user", n)),
            ("smembers", k.user_groups(n)), ("smembers", k.attached("user", n))])
        out: list[UserDetail] = []
        for raw, inline, groups, attached in rows:
            if raw is None:
                continue
            u = user_from_json(raw, self.account)
            gnames = await self._group_names(sorted(groups))
            out.append(UserDetail(
                user_name=u.user_name, user_id=u.user_id, path=u.path, arn=u.arn,
                create_date=u.create_date, user_policy_list=_inline(inline),
                group_list=gnames, attached_managed_policies=_attached(attached),
                permissions_boundary=u.permissions_boundary, tags=u.tags))
        return out

    async def _group_names(self, lnames: list[str]) -> tuple[str, ...]:
        if not lnames:
            return ()
        raws = await self._r.mget([self._k.entity("group", g) for g in lnames])
        return tuple(json.loads(r)["n"] for r in raws if r)

    async def group_details(self, lnames: list[str]) -> list[GroupDetail]:
        k = self._k
        rows = await self._rows(lnames, lambda n: [
            ("get", k.entity("group", n)), ("hgetall", k.inline("group", n)),
            ("smembers", k.attached("group", n))])
        out: list[GroupDetail] = []
        for raw, inline, attached in rows:
            if raw is None:
                continue
            g = group_from_json(raw, self.account)
            out.append(GroupDetail(
                group_name=g.group_name, group_id=g.group_id, path=g.path, arn=g.arn,
                create_date=g.create_date, group_policy_list=_inline(inline),
                attached_managed_policies=_attached(attached)))
        return out

    async def role_details(self, lnames: list[str]) -> list[RoleDetail]:
        k = self._k
        rows = await self._rows(lnames, lambda n: [
            ("get", k.entity("role", n)), ("hgetall", k.inline("role", n)),
            ("smembers", k.attached("role", n)), ("get", k.role_last_used(n)),
            ("smembers", k.role_instance_profiles(n))])
        out: list[RoleDetail] = []
        for raw, inline, attached, used, profiles in rows:
            if raw is None:
                continue
            r = role_from_json(raw, self.account, used)
            held = await self._load_profiles(sorted(profiles)) if profiles else []
            out.append(RoleDetail(
                role_name=r.role_name, role_id=r.role_id, path=r.path, arn=r.arn,
                create_date=r.create_date,
                assume_role_policy_document=r.assume_role_policy_document,
                instance_profile_list=tuple(p for p in held if p is not None),
                role_policy_list=_inline(inline), attached_managed_policies=_attached(attached),
                permissions_boundary=r.permissions_boundary, tags=r.tags,
                role_last_used=r.role_last_used))
        return out

    async def policy_details(self, lnames: list[str]) -> list[ManagedPolicyDetail]:
        k = self._k
        rows = await self._rows(lnames, lambda n: [
            ("get", k.policy(n)), ("scard", k.policy_entities(n)),
            ("scard", k.policy_boundary_users(n)), ("hgetall", k.policy_versions(n))])
        out: list[ManagedPolicyDetail] = []
        for raw, att, bnd, versions in rows:
            if raw is None:
                continue
            p, _ = policy_from_json(raw, self.account, att, bnd)
            vlist = sorted((version_from_json(v, d, p.default_version_id)
                            for v, d in versions.items()),
                           key=lambda v: -version_number(v.version_id))
            out.append(ManagedPolicyDetail(
                policy_name=p.policy_name, policy_id=p.policy_id, arn=p.arn, path=p.path,
                default_version_id=p.default_version_id, attachment_count=p.attachment_count,
                permissions_boundary_usage_count=p.permissions_boundary_usage_count,
                is_attachable=True, create_date=p.create_date, update_date=p.update_date,
                description=p.description, policy_version_list=tuple(vlist)))
        return out

    async def summary_counts(self) -> dict[str, int]:
        """Entity counts for GetAccountSummary."""
        k = self._k
        users, groups, roles, policies, root_keys, profiles = await self._read(
            ("zcard", k.index("user")), ("zcard", k.index("group")), ("zcard", k.index("role")),
            ("zcard", k.index("policy")), ("scard", k.root_access_keys()), ("zcard", k.index("instprof")))
        names = await self._names("policy")
        versions = await self._read(*[("hlen", k.policy_versions(n)) for n in names]) \
            if names else []
        return {"Users": users, "Groups": groups, "Roles": roles, "Policies": policies,
                "PolicyVersionsInUse": sum(versions),
                "AccountAccessKeysPresent": 1 if root_keys else 0, "InstanceProfiles": profiles}
