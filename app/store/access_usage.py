"""Access advisor's records: when, and from which region, each IAM user or role was last
authorized to perform each action.

Not IAM state: written on the request path of every authorized call, so it must cost neither
an IAM transaction nor a move of the IAM epoch. One HASH per entity, `Keys.last_accessed(ID)`
(ID = the user's or role's unique id), field `service:Action` (e.g. `iam:GetUser`), value
`"<epoch seconds> <region>"`, written with a one-field HSET on the hot path's connection
(app.store.multiplex): submitted while the request runs, it leaves in the same socket write
as the request's other hot-path commands and adds no round trip. The caller rate-limits
(app.services.last_accessed): at most one write per field a minute per worker.

No WATCH: a write racing with DeleteUser / DeleteRole may leave the hash behind; keyed by a
unique id that is never reused, such a leftover never shows on another entity.
"""
from __future__ import annotations

from collections.abc import Awaitable, Mapping
from dataclasses import dataclass
from typing import Any

from app.store.keys import Keys

MAX_REGION = 64  # characters kept of the (caller-chosen) SigV4 scope region


@dataclass(frozen=True, slots=True)
class Access:
    """One recorded use: when (epoch seconds) and the request's region."""

    when: float
    region: str


def encode(when: float, region: str) -> str:
    return f"{int(when)} {region[:MAX_REGION]}"


def decode(raw: str | bytes) -> Access | None:
    text = raw.decode() if isinstance(raw, bytes) else raw
    when, _, region = text.partition(" ")
    if not when.isdigit():
        return None
    return Access(float(when), region)


def decode_hash(raw: Mapping[Any, Any] | None) -> dict[str, Access]:
    """`service:Action` -> Access of one entity's HASH (unparsable fields left out)."""
    out: dict[str, Access] = {}
    for field, value in (raw or {}).items():
        access = decode(value)
        if access is not None:
            out[field.decode() if isinstance(field, bytes) else str(field)] = access
    return out


class AccessUsageStore:
    """`AccessUsageStore(hot, Keys(account))`; `hot` is the hot path's client."""

    def __init__(self, redis: Any, keys: Keys) -> None:
        self._redis = redis
        self._keys = keys

    def record(self, entity_id: str, action: str, region: str, when: float) -> Awaitable[Any]:
        """Queue the write now (the HSET is submitted before this returns); await the result."""
        result: Awaitable[Any] = self._redis.hset(self._keys.last_accessed(entity_id), action,
                                                  encode(when, region))
        return result
