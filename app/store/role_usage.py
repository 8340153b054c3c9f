"""RoleLastUsed: when, and in which region, a role was last assumed.

Not IAM state: it is written on the request path of AssumeRole*, so it must cost neither an IAM
transaction nor a move of the IAM epoch (which would empty every worker's read cache on each
assume). One string key per role, `Keys.role_last_used(l)` = `"<epoch seconds> <role id>
<region>"`, written with a plain SET on the hot path's connection: submitted in the same
event-loop iteration as the session's SET, it leaves in the same socket write
(app.store.multiplex), so it adds no round trip.

No WATCH: a write racing with DeleteRole may leave the key behind. The role id in the value
keeps such a leftover from showing on another role later created under the same name; the
next write overwrites it and DeleteRole removes it.
"""
from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

from app.core.records import RoleLastUsed
from app.store.keys import Keys

MAX_REGION = 64  # characters kept of the (caller-chosen) SigV4 scope region


def encode(when: float, role_id: str, region: str) -> str:
    return f"{int(when)} {role_id} {region[:MAX_REGION]}"


def decode(raw: str | bytes | None, role_id: str) -> RoleLastUsed:
    """The last use recorded for the role with `role_id`; empty (never used) when there is
    none, it belongs to an earlier role of the same name, or it does not parse."""
    if raw is None:
        return RoleLastUsed()
    text = raw.decode() if isinstance(raw, bytes) else raw
    when, owner, region = (text.split(" ", 2) + ["", ""])[:3]
    if owner != role_id or not when.isdigit():
        return RoleLastUsed()
    return RoleLastUsed(last_used_date=float(when), region=region or None)


class RoleUsageStore:
    """`RoleUsageStore(redis, Keys(account))`; `redis` is the hot path's client."""

    def __init__(self, redis: Any, keys: Keys) -> None:
        self._redis = redis
        self._keys = keys

    def record(self, role_name: str, role_id: str, region: str, when: float) -> Awaitable[Any]:
        """Queue the write now (the SET is submitted before this returns); await the result."""
        result: Awaitable[Any] = self._redis.set(self._keys.role_last_used(role_name.lower()),
                                                 encode(when, role_id, region))
        return result
