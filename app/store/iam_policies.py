"""Customer managed policies and their versions (at most 5, one of them the default)."""
from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from app.core import arn as arns
from app.core import ids
from app.core.errors import DeleteConflict, EntityAlreadyExists, LimitExceeded, NoSuchEntity
from app.core.records import ManagedPolicy, PolicyVersion, Tag
from app.store.iam_codec import (
    dumps,
    policy_from_json,
    policy_to_json,
    version_from_json,
    version_number,
    version_to_json,
)
from app.store.iam_entities import EntitiesMixin

MAX_POLICIES = 1500
MAX_VERSIONS = 5


def _missing(policy_arn: str) -> NoSuchEntity:
    return NoSuchEntity(f"Policy {policy_arn} was not found.")


def _missing_version(policy_arn: str, vid: str) -> NoSuchEntity:
    return NoSuchEntity(f"Policy {policy_arn} version {vid} does not exist or is not attachable.")


def listed(p: ManagedPolicy, path_prefix: str, only_attached: bool, usage: str | None) -> bool:
    """Whether ListPolicies shows `p` under PathPrefix, OnlyAttached and PolicyUsageFilter."""
    if not p.path.startswith(path_prefix):
        return False
    if usage == "PermissionsBoundary":
        return p.permissions_boundary_usage_count > 0
    return p.attachment_count > 0 or not only_attached


class PoliciesMixin(EntitiesMixin):
    async def _load_policies(self, lnames: list[str]) -> list[ManagedPolicy | None]:
        if not lnames:
            return []
        k = self._k
        calls: list[tuple[str, Any]] = []
        for n in lnames:
            calls += [("get", k.policy(n)), ("scard", k.policy_entities(n)),
                      ("scard", k.policy_boundary_users(n))]
        got = await self._read(*calls)
        out: list[ManagedPolicy | None] = []
        for i in range(0, len(got), 3):
            raw, att, bnd = got[i:i + 3]
            out.append(policy_from_json(raw, self.account, att, bnd)[0] if raw else None)
        return out

    async def get_policy(self, policy_arn: str) -> ManagedPolicy | None:
        lname = self.policy_lname(policy_arn)
        if lname is None:
            return None
        [pol] = await self._load_policies([lname])
        return pol if pol is not None and pol.arn == policy_arn else None

    async def policy_usage(self, policy_arns: Sequence[str]) -> list[tuple[int, int]]:
        """(AttachmentCount, PermissionsBoundaryUsageCount) of each managed policy, in one
        round trip (AWS managed policies' counts are this account's, as on AWS)."""
        names = [self.policy_lname(a) or "\x00none" for a in policy_arns]
        got = await self._read(*[c for n in names for c in (
            ("scard", self._k.policy_entities(n)), ("scard", self._k.policy_boundary_users(n)))]) if names else []
        return [(int(got[i]), int(got[i + 1])) for i in range(0, len(got), 2)]

    async def aws_policies_used(self) -> set[str]:
        """ARNs of the AWS managed policies ever attached or used as a boundary in the account
        (`Keys.aws_policies_used`; some may be in use no more)."""
        names = await self._r.smembers(self._k.aws_policies_used())
        return {arns.AWS_POLICY_PREFIX + n.removeprefix("aws/") for n in names}

    async def list_policies(self, path_prefix: str = "/", after: str | None = None,
                            limit: int = 100, *, only_attached: bool = False,
                            usage: str | None = None) -> tuple[list[ManagedPolicy], bool]:
        return await self._scan_index("policy", after, limit, self._load_policies,
                                      lambda p: listed(p, path_prefix, only_attached, usage))

    async def create_policy(self, name: str, *, document: str, path: str = "/",
                            description: str | None = None,
                            tags: Sequence[Tag] = ()) -> ManagedPolicy:
        lname = name.lower()
        k = self._k
        key, index = k.policy(lname), k.index("policy")
        policy_id = await self._new_id(ids.POLICY)

        async def body(pipe: Any) -> ManagedPolicy:
            if await self._r.exists(key):
                raise EntityAlreadyExists(
                    f"A policy called {name} already exists. Duplicate names are not allowed.")
            if await self._r.zcard(index) >= MAX_POLICIES:
                raise LimitExceeded(f"Cannot exceed quota for PoliciesPerAccount: {MAX_POLICIES}")
            now = self._clock.time()
            pol = ManagedPolicy(policy_name=name, policy_id=policy_id,
                                arn=arns.policy(self.account, path, name), path=path,
                                default_version_id="v1", attachment_count=0,
                                permissions_boundary_usage_count=0, is_attachable=True,
                                create_date=now, update_date=now, description=description,
                                tags=tuple(tags))
            pipe.multi()
            pipe.set(key, policy_to_json(pol, 2))
            pipe.hset(k.policy_versions(lname), "v1", version_to_json(document, now))
            pipe.set(k.policy_document(lname), f"{pol.arn}\n{document}")
            pipe.zadd(index, {lname: 0})
            self._claim_id(pipe, policy_id)
            return pol

        return await self._atomic([key, index], body)

    async def _policy_under_watch(self, pipe: Any, policy_arn: str) -> tuple[str, dict[str, Any]]:
        lname = self.policy_lname(policy_arn)
        if lname is None:
            raise _missing(policy_arn)
        await pipe.watch(self._k.policy(lname), self._k.policy_versions(lname))
        raw = await self._r.get(self._k.policy(lname))
        if raw is None:
            raise _missing(policy_arn)
        d: dict[str, Any] = json.loads(raw)
        if arns.policy(self.account, d["p"], d["n"]) != policy_arn:
            raise _missing(policy_arn)
        return lname, d

    async def delete_policy(self, policy_arn: str) -> None:
        k = self._k

        async def body(pipe: Any) -> None:
            lname, _ = await self._policy_under_watch(pipe, policy_arn)
            await pipe.watch(k.policy_entities(lname), k.policy_boundary_users(lname))
            att, bnd, versions = await self._read(
                ("scard", k.policy_entities(lname)), ("scard", k.policy_boundary_users(lname)),
                ("hlen", k.policy_versions(lname)))
            if att:
                raise DeleteConflict("Cannot delete a policy attached to entities.")
            if bnd:
                raise DeleteConflict("Cannot delete a policy used as a permissions boundary.")
            if versions > 1:
                raise DeleteConflict(
                    "This policy has more than one version. Before you delete a policy, you "
                    "must delete the policy's versions. The default version is deleted with "
                    "the policy.")
            pipe.multi()
            pipe.delete(k.policy(lname), k.policy_versions(lname), k.policy_document(lname),
                        k.policy_entities(lname), k.policy_boundary_users(lname))
            pipe.zrem(k.index("policy"), lname)

        await self._atomic([], body)

    # ---- versions ----
    async def create_policy_version(self, policy_arn: str, document: str, *,
                                    set_as_default: bool) -> PolicyVersion:
        k = self._k

        async def body(pipe: Any) -> PolicyVersion:
            lname, d = await self._policy_under_watch(pipe, policy_arn)
            if await self._r.hlen(k.policy_versions(lname)) >= MAX_VERSIONS:
                raise LimitExceeded(
                    f"A managed policy can have up to {MAX_VERSIONS} versions. Before you create "
                    "a new version, you must delete an existing version.")
            now = self._clock.time()
            vid = f"v{d['nv']}"
            d["nv"] += 1
            d["u"] = now
            if set_as_default:
                d["dv"] = vid
            pipe.multi()
            pipe.set(k.policy(lname), dumps(d))
            pipe.hset(k.policy_versions(lname), vid, version_to_json(document, now))
            if set_as_default:
                pipe.set(k.policy_document(lname), f"{policy_arn}\n{document}")
            return PolicyVersion(version_id=vid, document=document,
                                 is_default_version=set_as_default, create_date=now)

        return await self._atomic([], body)

    async def list_policy_versions(self, policy_arn: str) -> list[PolicyVersion] | None:
        """Newest first; None when the policy does not exist."""
        lname = self.policy_lname(policy_arn)
        if lname is None or await self.get_policy(policy_arn) is None:
            return None
        raw, versions = await self._read(("get", self._k.policy(lname)),
                                         ("hgetall", self._k.policy_versions(lname)))
        if raw is None:
            return None
        default = json.loads(raw)["dv"]
        out = [version_from_json(vid, v, default) for vid, v in versions.items()]
        return sorted(out, key=lambda v: -version_number(v.version_id))

    async def get_policy_version(self, policy_arn: str, vid: str) -> PolicyVersion | None:
        versions = await self.list_policy_versions(policy_arn)
        if versions is None:
            return None
        return next((v for v in versions if v.version_id == vid), None)

    async def delete_policy_version(self, policy_arn: str, vid: str) -> None:
        k = self._k

        async def body(pipe: Any) -> None:
            lname, d = await self._policy_under_watch(pipe, policy_arn)
            if not await self._r.hexists(k.policy_versions(lname), vid):
                raise _missing_version(policy_arn, vid)
            if d["dv"] == vid:
                raise DeleteConflict("Cannot delete the default version of a policy.")
            pipe.multi()
            pipe.hdel(k.policy_versions(lname), vid)

        await self._atomic([], body)

    async def set_default_policy_version(self, policy_arn: str, vid: str) -> None:
        k = self._k

        async def body(pipe: Any) -> None:
            lname, d = await self._policy_under_watch(pipe, policy_arn)
            raw = await self._r.hget(k.policy_versions(lname), vid)
            if raw is None:
                raise _missing_version(policy_arn, vid)
            d["dv"] = vid
            pipe.multi()
            pipe.set(k.policy(lname), dumps(d))
            pipe.set(k.policy_document(lname), f"{policy_arn}\n{json.loads(raw)['d']}")

        await self._atomic([], body)

    async def managed_policy_document(self, arn: str) -> str | None:
        """The default version's document (one GET; none for an AWS managed policy)."""
        aws = self._aws.get(arn)
        if aws is not None:
            return aws.document
        lname = self.policy_lname(arn)
        if lname is None or arns.is_aws_policy(arn):
            return None
        raw = await self._r.get(self._k.policy_document(lname))
        if raw is None:
            return None
        stored_arn, _, doc = raw.partition("\n")
        return doc if stored_arn == arn else None
