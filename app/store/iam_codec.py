"""IAM records <-> the JSON kept in Redis.

Records are stored without their ARN (derived from account, path and name) and with short
field names. Policy documents are stored exactly as submitted.
"""
from __future__ import annotations

import json
from typing import Any

from app.core import arn as arns
from app.core.records import (
    AttachedPermissionsBoundary,
    Group,
    ManagedPolicy,
    PolicyVersion,
    Role,
    Tag,
    User,
)
from app.store import role_usage


def dumps(obj: dict[str, Any]) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def tags_to_json(tags: tuple[Tag, ...]) -> list[list[str]]:
    return [[t.key, t.value] for t in tags]


def tags_from_json(raw: list[list[str]] | None) -> tuple[Tag, ...]:
    return tuple(Tag(k, v) for k, v in raw or ())


def _boundary(arn: str | None) -> AttachedPermissionsBoundary | None:
    return AttachedPermissionsBoundary(arn) if arn else None


# ---- users ----
def user_to_json(u: User) -> str:
    b = u.permissions_boundary.permissions_boundary_arn if u.permissions_boundary else None
    return dumps({"n": u.user_name, "id": u.user_id, "p": u.path, "c": u.create_date,
                  "b": b, "t": tags_to_json(u.tags)})


def user_from_json(raw: str, account: str) -> User:
    d = json.loads(raw)
    return User(user_name=d["n"], user_id=d["id"], path=d["p"],
                arn=arns.user(account, d["p"], d["n"]), create_date=d["c"],
                permissions_boundary=_boundary(d.get("b")), tags=tags_from_json(d.get("t")))


# ---- groups ----
def group_to_json(g: Group) -> str:
    return dumps({"n": g.group_name, "id": g.group_id, "p": g.path, "c": g.create_date})


def group_from_json(raw: str, account: str) -> Group:
    d = json.loads(raw)
    return Group(group_name=d["n"], group_id=d["id"], path=d["p"],
                 arn=arns.group(account, d["p"], d["n"]), create_date=d["c"])


# ---- roles ----
def role_to_json(r: Role) -> str:
    b = r.permissions_boundary.permissions_boundary_arn if r.permissions_boundary else None
    return dumps({"n": r.role_name, "id": r.role_id, "p": r.path, "c": r.create_date,
                  "d": r.assume_role_policy_document, "desc": r.description,
                  "msd": r.max_session_duration, "b": b, "t": tags_to_json(r.tags)})


def role_from_json(raw: str, account: str, used: str | None = None) -> Role:
    """`used`: the role's last-used value (app.store.role_usage), if read with it."""
    d = json.loads(raw)
    return Role(role_name=d["n"], role_id=d["id"], path=d["p"],
                arn=arns.role(account, d["p"], d["n"]), create_date=d["c"],
                assume_role_policy_document=d["d"], description=d.get("desc"),
                max_session_duration=d.get("msd", 3600),
                permissions_boundary=_boundary(d.get("b")), tags=tags_from_json(d.get("t")),
                role_last_used=role_usage.decode(used, d["id"]))


# ---- managed policies ----
def policy_to_json(p: ManagedPolicy, next_version: int) -> str:
    return dumps({"n": p.policy_name, "id": p.policy_id, "p": p.path, "c": p.create_date,
                  "u": p.update_date, "desc": p.description, "dv": p.default_version_id,
                  "nv": next_version, "t": tags_to_json(p.tags)})


def policy_from_json(raw: str, account: str, attachments: int = 0,
                     boundary_uses: int = 0) -> tuple[ManagedPolicy, int]:
    """-> (policy, number the next version gets)."""
    d = json.loads(raw)
    pol = ManagedPolicy(policy_name=d["n"], policy_id=d["id"],
                        arn=arns.policy(account, d["p"], d["n"]), path=d["p"],
                        default_version_id=d["dv"], attachment_count=attachments,
                        permissions_boundary_usage_count=boundary_uses, is_attachable=True,
                        create_date=d["c"], update_date=d["u"], description=d.get("desc"),
                        tags=tags_from_json(d.get("t")))
    return pol, int(d["nv"])


def version_to_json(document: str, created: float) -> str:
    return dumps({"d": document, "c": created})


def version_from_json(vid: str, raw: str, default_vid: str) -> PolicyVersion:
    d = json.loads(raw)
    return PolicyVersion(version_id=vid, document=d["d"], is_default_version=vid == default_vid,
                         create_date=d["c"])


def version_number(vid: str) -> int:
    """`v12` -> 12 (sort key for versions)."""
    return int(vid[1:]) if vid[1:].isdigit() else 0
