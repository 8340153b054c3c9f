"""What users, groups, roles and managed policies share: tags, permissions boundaries,
record updates, and resolving a managed policy ARN (customer or AWS managed)."""
from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from app.core import arn as arns
from app.core.errors import LimitExceeded, NoSuchEntity, PolicyNotAttachable
from app.core.records import Tag
from app.store.aws_policies import AwsPolicies, NoAwsPolicies, aws_key_name
from app.store.iam_base import IamStoreBase
from app.store.iam_codec import dumps, tags_from_json, tags_to_json

MAX_TAGS = 50
NOUN = {"user": "user", "group": "group", "role": "role", "policy": "policy"}
T = TypeVar("T")


def not_found(kind: str, name: str) -> NoSuchEntity:
    return NoSuchEntity(f"The {NOUN[kind]} with name {name} cannot be found.")


def policy_not_found(policy_arn: str) -> NoSuchEntity:
    return NoSuchEntity(f"Policy {policy_arn} does not exist or is not attachable.")


def merge_tags(current: tuple[Tag, ...], new: Sequence[Tag]) -> tuple[Tag, ...]:
    """Tag keys are case-insensitive and case-preserving: a new key replaces any key
    that differs only by case."""
    by_key = {t.key.lower(): t for t in current}
    for t in new:
        by_key[t.key.lower()] = t
    return tuple(by_key.values())


def drop_tags(current: tuple[Tag, ...], keys: Sequence[str]) -> tuple[Tag, ...]:
    gone = {k.lower() for k in keys}
    return tuple(t for t in current if t.key.lower() not in gone)


class EntitiesMixin(IamStoreBase):
    def __init__(self, redis: Any, *, aws_policies: AwsPolicies | None = None, **kwargs: Any) -> None:
        """`aws_policies`: the AWS managed policy catalog (none exist without it)."""
        super().__init__(redis, **kwargs)
        self._aws: AwsPolicies = aws_policies if aws_policies is not None else NoAwsPolicies()

    async def _load_entities(self, kind: str, lnames: list[str],
                             decode: Callable[[Any, str], T]) -> list[T | None]:
        """The records of these lowercased names in one MGET; None where one is gone."""
        if not lnames:
            return []
        raws = await self._r.mget([self._k.entity(kind, n) for n in lnames])
        return [decode(r, self.account) if r else None for r in raws]

    def policy_lname(self, policy_arn: str) -> str | None:
        """The key name of a managed policy ARN: the lowercased name of a customer managed
        policy of this account, `aws/PATH/NAME` for an AWS managed one (app.store.aws_policies:
        only its usage sets exist in Redis), else None."""
        aws = aws_key_name(policy_arn)
        if aws is not None:
            return aws
        a = arns.parse(policy_arn)
        if (a is None or a.service != "iam" or a.account != self.account
                or not a.resource.startswith("policy/")):
            return None
        return a.resource_name.lower() or None

    async def _require_policy(self, pipe: Any, policy_arn: str) -> str:
        """Under WATCH: the policy exists with exactly this ARN and may be attached to users,
        groups and roles (AWS's service-role policies may not). -> its lname."""
        lname = self.policy_lname(policy_arn)
        if lname is None:
            raise policy_not_found(policy_arn)
        if arns.is_aws_policy(policy_arn):
            aws = self._aws.get(policy_arn)
            if aws is None:
                raise policy_not_found(policy_arn)
            if aws.service_role_only:
                raise PolicyNotAttachable("Cannot attach a Service Role Policy to a Customer Role.")
            return lname
        await pipe.watch(self._k.policy(lname))
        raw = await self._r.get(self._k.policy(lname))
        if raw is None:
            raise policy_not_found(policy_arn)
        d = json.loads(raw)
        if arns.policy(self.account, d["p"], d["n"]) != policy_arn:
            raise policy_not_found(policy_arn)
        return lname

    def _note_policy_use(self, pipe: Any, lname: str) -> None:
        """In the MULTI that attaches a managed policy or makes it a boundary: an AWS managed one
        joins the account's candidates for in-use listings (`Keys.aws_policies_used`)."""
        if lname.startswith("aws/"):
            pipe.sadd(self._k.aws_policies_used(), lname)

    async def _update_record(self, kind: str, name: str,
                             mutate: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
        """Atomically read-modify-write the JSON record of an entity."""
        key = self._k.policy(name) if kind == "policy" else self._k.entity(kind, name.lower())

        async def body(pipe: Any) -> dict[str, Any]:
            raw = await self._r.get(key)
            if raw is None:
                raise not_found(kind, name)
            d: dict[str, Any] = json.loads(raw)
            mutate(d)
            pipe.multi()
            pipe.set(key, dumps(d))
            return d

        return await self._atomic([key], body)

    # ---- tags (users, roles, managed policies) ----
    async def tag(self, kind: str, name: str, tags: Sequence[Tag], *,
                  quota_name: str) -> None:
        def mutate(d: dict[str, Any]) -> None:
            merged = merge_tags(tags_from_json(d.get("t")), tags)
            if len(merged) > MAX_TAGS:
                raise LimitExceeded(f"Cannot exceed quota for {quota_name}: {MAX_TAGS}")
            d["t"] = tags_to_json(merged)

        await self._update_record(kind, name, mutate)

    async def untag(self, kind: str, name: str, keys: Sequence[str]) -> None:
        def mutate(d: dict[str, Any]) -> None:
            d["t"] = tags_to_json(drop_tags(tags_from_json(d.get("t")), keys))

        await self._update_record(kind, name, mutate)

    # ---- permissions boundaries (users, roles) ----
    async def set_boundary(self, kind: str, name: str, policy_arn: str | None) -> None:
        """Put (policy_arn) or delete (None) the permissions boundary of a user/role,
        keeping the policies' PermissionsBoundaryUsageCount sets in step."""
        lname = name.lower()
        key = self._k.entity(kind, lname)
        member = f"{kind}:{lname}"

        async def body(pipe: Any) -> None:
            raw = await self._r.get(key)
            if raw is None:
                raise not_found(kind, name)
            d = json.loads(raw)
            new_lname = await self._require_policy(pipe, policy_arn) if policy_arn else None
            old_lname = self.policy_lname(d["b"]) if d.get("b") else None
            d["b"] = policy_arn
            pipe.multi()
            pipe.set(key, dumps(d))
            if old_lname:
                pipe.srem(self._k.policy_boundary_users(old_lname), member)
            if new_lname:
                pipe.sadd(self._k.policy_boundary_users(new_lname), member)
                self._note_policy_use(pipe, new_lname)

        await self._atomic([key], body)
