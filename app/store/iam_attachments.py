"""Managed policy attachments to users, groups and roles (both directions kept in step)."""
from __future__ import annotations

from typing import Any

from app.core import arn as arns
from app.core.errors import LimitExceeded, NoSuchEntity
from app.core.records import AttachedPolicy, PolicyGroup, PolicyRole, PolicyUser
from app.store.iam_codec import group_from_json, role_from_json, user_from_json
from app.store.iam_entities import EntitiesMixin, not_found

MAX_ATTACHED = 10
QUOTA_NAME = {"user": "PoliciesPerUser", "group": "PoliciesPerGroup", "role": "PoliciesPerRole"}


def attached_policy(policy_arn: str) -> AttachedPolicy:
    parsed = arns.parse(policy_arn)
    return AttachedPolicy(policy_name=parsed.resource_name if parsed else policy_arn,
                          policy_arn=policy_arn)


class AttachmentsMixin(EntitiesMixin):
    async def attach(self, kind: str, name: str, policy_arn: str) -> None:
        lname = name.lower()
        k = self._k
        key, att = k.entity(kind, lname), k.attached(kind, lname)

        async def body(pipe: Any) -> None:
            there, already, count = await self._read(
                ("exists", key), ("sismember", att, policy_arn), ("scard", att))
            if not there:
                raise not_found(kind, name)
            plname = await self._require_policy(pipe, policy_arn)
            if not already and count >= MAX_ATTACHED:
                raise LimitExceeded(f"Cannot exceed quota for {QUOTA_NAME[kind]}: {MAX_ATTACHED}")
            pipe.multi()
            pipe.sadd(att, policy_arn)
            pipe.sadd(k.policy_entities(plname), f"{kind}:{lname}")
            self._note_policy_use(pipe, plname)

        await self._atomic([key, att], body)

    async def detach(self, kind: str, name: str, policy_arn: str) -> None:
        lname = name.lower()
        k = self._k
        key, att = k.entity(kind, lname), k.attached(kind, lname)

        async def body(pipe: Any) -> None:
            there, attached = await self._read(("exists", key), ("sismember", att, policy_arn))
            if not there:
                raise not_found(kind, name)
            plname = self.policy_lname(policy_arn)
            if not attached or plname is None:
                raise NoSuchEntity(f"Policy {policy_arn} was not found.")
            pipe.multi()
            pipe.srem(att, policy_arn)
            pipe.srem(k.policy_entities(plname), f"{kind}:{lname}")

        await self._atomic([key, att], body)

    async def attached_policies(self, kind: str, name: str) -> list[AttachedPolicy] | None:
        """Sorted by policy name; None when the entity does not exist."""
        lname = name.lower()
        there, members = await self._read(("exists", self._k.entity(kind, lname)),
                                          ("smembers", self._k.attached(kind, lname)))
        if not there:
            return None
        return sorted((attached_policy(a) for a in members),
                      key=lambda p: (p.policy_name.lower(), p.policy_arn))

    async def entities_for_policy(
        self, policy_arn: str, *, boundary: bool = False,
    ) -> tuple[list[PolicyUser], list[PolicyGroup], list[PolicyRole]] | None:
        """Who has the policy attached (or, with boundary=True, as permissions boundary),
        each list in name order; None when the policy does not exist."""
        lname = self.policy_lname(policy_arn)
        if lname is None:
            return None
        key = (self._k.policy_boundary_users(lname) if boundary
               else self._k.policy_entities(lname))
        there, members = await self._read(("exists", self._k.policy(lname)), ("smembers", key))
        if not there and self._aws.get(policy_arn) is None:  # an AWS managed one has no record
            return None
        users: list[PolicyUser] = []
        groups: list[PolicyGroup] = []
        roles: list[PolicyRole] = []
        refs = sorted(m.split(":", 1) for m in members)
        raws = await self._r.mget([self._k.entity(kind, n) for kind, n in refs]) if refs else []
        for (kind, _), raw in zip(refs, raws):
            if raw is None:
                continue
            if kind == "user":
                u = user_from_json(raw, self.account)
                users.append(PolicyUser(user_name=u.user_name, user_id=u.user_id))
            elif kind == "group":
                g = group_from_json(raw, self.account)
                groups.append(PolicyGroup(group_name=g.group_name, group_id=g.group_id))
            else:
                r = role_from_json(raw, self.account)
                roles.append(PolicyRole(role_name=r.role_name, role_id=r.role_id))
        return users, groups, roles
