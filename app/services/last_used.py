"""Last-used statistics on the request path: AccessKeyLastUsed (app.services.authn) and
RoleLastUsed (`RoleUsage`, below).

Both are best effort and rate-limited per process: `OncePer` lets one write per key through
every minute, so a key or role used thousands of times a second costs one dict lookup per
request and one Redis write a minute per worker. A failed write is logged, never answered.

`RoleUsage.note` is the hook of every role session issued: `StsService.issue_role_session`, the
one path of AssumeRole and AssumeRoleWith*, calls it once the trust decision is made, right
before the session is stored. The write is submitted at once on the hot path's connection, so
it leaves in the same socket write as the session's SET (app.store.role_usage); the request
awaits both. The region is the one of the request's SigV4 credential scope; the unsigned
AssumeRoleWith* calls have none and get `us-east-1`, where AWS's global STS endpoint answers.
"""
from __future__ import annotations

import logging
from collections.abc import Awaitable
from typing import Any, Protocol

from app.core.clock import Clock
from app.core.records import Role

_log = logging.getLogger(__name__)
EVERY = 60.0  # seconds between two last-used writes for one key, per process
GLOBAL_REGION = "us-east-1"


class OncePer:
    """Lets one event per key through every `seconds`; remembers at most `memory` keys (all
    forgotten on overflow, which only lets an early write through)."""

    def __init__(self, seconds: float = EVERY, *, memory: int = 10_000) -> None:
        self._seconds = seconds
        self._memory = memory
        self._last: dict[str, float] = {}

    def due(self, key: str, now: float) -> bool:
        last = self._last.get(key)
        if last is not None and 0 <= now - last < self._seconds:
            return False
        if len(self._last) >= self._memory:
            self._last.clear()
        self._last[key] = now
        return True


class UsageWriter(Protocol):
    """app.store.role_usage.RoleUsageStore."""

    def record(self, role_name: str, role_id: str, region: str, when: float) -> Awaitable[Any]: ...


async def settle(write: Awaitable[Any], what: str) -> None:
    """Await a statistics write; a failure is logged, never raised."""
    try:
        await write
    except Exception as exc:  # noqa: BLE001 - statistics never fail a request
        _log.warning("could not record %s: %s", what, type(exc).__name__)


class RoleUsage:
    """`RoleUsage(RoleUsageStore(hot, keys), clock)`."""

    def __init__(self, store: UsageWriter, clock: Clock, *, every: float = EVERY) -> None:
        self._store = store
        self._clock = clock
        self._gate = OncePer(every)

    def note(self, role: Role, region: str | None) -> Awaitable[None] | None:
        """Record that `role` is being assumed now (if due): the write is submitted before this
        returns; await the result (it never raises). None when throttled."""
        now = self._clock.time()
        if not self._gate.due(role.role_id, now):
            return None
        return settle(self._store.record(role.role_name, role.role_id, region or GLOBAL_REGION, now),
                      "role last use")
