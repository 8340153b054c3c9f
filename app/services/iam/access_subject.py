"""What an access advisor ARN names: its identity policies and the entities whose use counts.

- a user: its inline and attached policies and its groups' (inline and attached); its own use;
- a role: its inline and attached policies; its own use;
- a group: its inline and attached policies; its members' use;
- a managed policy (customer or AWS): its default version; the use of the users and roles it is
  attached to, directly or through a group.

Permissions boundaries are not identity policies here (AWS's access advisor ignores them).
"""
from __future__ import annotations

from dataclasses import dataclass

from app.core import arn as arns
from app.core.errors import InvalidInput, NoSuchEntity
from app.core.records import User
from app.store.iam_store import IamStore

INLINE, MANAGED = "INLINE", "MANAGED"


@dataclass(frozen=True, slots=True)
class PolicyRef:
    """One identity policy as ListPoliciesGrantingServiceAccess names it."""

    name: str
    type: str  # INLINE | MANAGED
    arn: str | None = None  # managed only
    entity_type: str | None = None  # inline only: USER | GROUP | ROLE
    entity_name: str | None = None

    def shape(self) -> dict[str, str]:
        out = {"policy_name": self.name, "policy_type": self.type}
        if self.arn is not None:
            out["policy_arn"] = self.arn
        if self.entity_type is not None and self.entity_name is not None:
            out["entity_type"] = self.entity_type
            out["entity_name"] = self.entity_name
        return out


@dataclass(frozen=True, slots=True)
class Tracked:
    """A user or role whose authorized calls count for the report (EntityInfo)."""

    type: str  # USER | ROLE
    name: str
    id: str
    path: str
    arn: str

    def info(self) -> dict[str, str]:
        return {"arn": self.arn, "name": self.name, "type": self.type, "id": self.id, "path": self.path}


@dataclass(frozen=True, slots=True)
class Subject:
    kind: str  # user | group | role | policy
    arn: str
    policies: tuple[tuple[PolicyRef, str], ...]  # (policy, document)
    tracked: tuple[Tracked, ...]


def _ref(source: str) -> PolicyRef:
    """A PrincipalPolicies source (`KIND/OWNER/inline/NAME` or a managed policy ARN) -> PolicyRef."""
    parts = source.split("/")
    if len(parts) == 4 and parts[2] == "inline":
        return PolicyRef(parts[3], INLINE, entity_type=parts[0].upper(), entity_name=parts[1])
    return PolicyRef(source.rsplit("/", 1)[-1], MANAGED, arn=source)


def _invalid(arn: str) -> InvalidInput:
    return InvalidInput(f"ARN {arn} is not valid: expected the ARN of an IAM user, group, role or policy.")


class SubjectReader:
    def __init__(self, store: IamStore, account: str) -> None:
        self._store = store
        self._account = account

    async def read(self, arn: str, *, kinds: tuple[str, ...] = ("user", "group", "role", "policy")) -> Subject:
        """InvalidInput for an ARN that names no IAM user / group / role / policy (or a kind not
        in `kinds`); NoSuchEntity when it names one that does not exist."""
        a = arns.parse(arn)
        kind = a.resource_type if a is not None else ""
        if a is None or a.service != "iam" or a.region or kind not in kinds or "/" not in a.resource:
            raise _invalid(arn)
        if kind == "policy":
            return await self._policy(arn)
        if a.account != self._account:
            raise NoSuchEntity(f"The {kind} with ARN {arn} cannot be found.")
        name = a.resource_name
        if kind in ("user", "role"):
            return await self._principal(kind, name, arn)
        return await self._group(name, arn)

    async def _principal(self, kind: str, name: str, arn: str) -> Subject:
        entity = await (self._store.get_user(name) if kind == "user" else self._store.get_role(name))
        pp = await self._store.principal_policies(kind, name) if entity is not None else None
        if entity is None or pp is None or entity.arn != arn:
            raise NoSuchEntity(f"The {kind} with name {name} cannot be found.")
        if kind == "user":
            tracked = Tracked("USER", entity.user_name, entity.user_id, entity.path, entity.arn)  # type: ignore[union-attr]
        else:
            tracked = Tracked("ROLE", entity.role_name, entity.role_id, entity.path, entity.arn)  # type: ignore[union-attr]
        return Subject(kind, arn, tuple((_ref(source), doc) for source, doc in pp.identity), (tracked,))

    async def _group(self, name: str, arn: str) -> Subject:
        group = await self._store.get_group(name)
        inline = await self._store.inline_policies("group", name) if group is not None else None
        attached = await self._store.attached_policies("group", name) if group is not None else None
        members = await self._store.group_members(name) if group is not None else None
        if group is None or group.arn != arn or inline is None or attached is None or members is None:
            raise NoSuchEntity(f"The group with name {name} cannot be found.")
        policies = [(PolicyRef(p, INLINE, entity_type="GROUP", entity_name=group.group_name), doc)
                    for p, doc in sorted(inline.items())]
        for att in attached:
            doc = await self._store.managed_policy_document(att.policy_arn)
            if doc is not None:
                policies.append((PolicyRef(att.policy_name, MANAGED, arn=att.policy_arn), doc))
        return Subject("group", arn, tuple(policies),
                       tuple(Tracked("USER", u.user_name, u.user_id, u.path, u.arn) for u in members))

    async def _policy(self, arn: str) -> Subject:
        doc = await self._store.managed_policy_document(arn)
        holders = await self._store.entities_for_policy(arn) if doc is not None else None
        if doc is None or holders is None:
            raise NoSuchEntity(f"Policy {arn} was not found.")
        users, groups, roles = holders
        tracked: dict[str, Tracked] = {}
        holding: list[User] = []
        for u in users:  # PolicyUser has no path: read the record
            user = await self._store.get_user(u.user_name)
            if user is not None:
                holding.append(user)
        for g in groups:  # group_members gives the records themselves
            holding += await self._store.group_members(g.group_name) or []
        for user in holding:
            tracked.setdefault(user.user_id, Tracked("USER", user.user_name, user.user_id, user.path, user.arn))
        for r in roles:
            role = await self._store.get_role(r.role_name)
            if role is not None:
                tracked[role.role_id] = Tracked("ROLE", role.role_name, role.role_id, role.path, role.arn)
        ref = PolicyRef(arn.rsplit("/", 1)[-1], MANAGED, arn=arn)
        return Subject("policy", arn, ((ref, doc),), tuple(tracked.values()))
