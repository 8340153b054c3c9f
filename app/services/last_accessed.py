"""Access advisor's request-path half: what each IAM user or role was authorized to do.

`AccessUsage.note(caller, action, region)` is called by the Authorizer (app.services.authz) for
every allowed decision of a signed caller (`require`, and `decide` for the caller's own
AssumeRole* permission), and by StsService for GetCallerIdentity, which no policy can deny.
AWS counts authenticated attempts that were authorized; denied requests are not noted.

The entity is the IAM user for a user's own keys and its GetSessionToken and
GetFederationToken sessions, the role for a role session; the account root is no IAM entity
and is not tracked. The region is the one of the request's SigV4 credential scope.

Cheap by construction: notes are coalesced in memory per (entity, action), and at most one
write per pair a minute per worker is submitted (the first use in the minute carries the
time, so a report can lag the truth by up to a minute; AWS's lags by up to four hours). A due
write is submitted on the hot path's connection at once and not awaited: it leaves in the next
socket write with whatever else the worker is sending, never adds a round trip to the request,
and a failure is logged, never answered.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import Any, Protocol

from app.core.clock import Clock
from app.core.records import Caller
from app.services.last_used import EVERY, GLOBAL_REGION

_log = logging.getLogger(__name__)
MEMORY = 50_000  # (entity, action) pairs remembered per worker; all forgotten on overflow


class AccessWriter(Protocol):
    """app.store.access_usage.AccessUsageStore."""

    def record(self, entity_id: str, action: str, region: str, when: float) -> Awaitable[Any]: ...


def entity_of(caller: Caller) -> str | None:
    """The unique id of the IAM user or role a caller's use is counted for (None: the root)."""
    session = caller.session
    if caller.kind == "assumed-role":
        return session.principal_id if session is not None else None
    if caller.kind == "user":
        return caller.user_id
    if caller.kind == "federated-user" and session is not None and session.principal_id != caller.account:
        return session.principal_id
    return None


def _settled(write: "asyncio.Future[Any]") -> None:
    if not write.cancelled() and write.exception() is not None:
        _log.warning("could not record access: %s", type(write.exception()).__name__)


class AccessUsage:
    """`AccessUsage(AccessUsageStore(hot, keys), clock)`."""

    def __init__(self, store: AccessWriter, clock: Clock, *, every: float = EVERY,
                 memory: int = MEMORY) -> None:
        self._store = store
        self._clock = clock
        self._every = every
        self._memory = memory
        self._last: dict[tuple[str, str], float] = {}

    def note(self, caller: Caller, action: str, region: str | None) -> None:
        """Record that `caller` was authorized to perform `action` now (if due for its pair)."""
        entity = entity_of(caller)
        if entity is None:
            return
        now = self._clock.time()
        key = (entity, action)
        last = self._last.get(key)
        if last is not None and 0 <= now - last < self._every:
            return
        if len(self._last) >= self._memory:
            self._last.clear()
        self._last[key] = now
        try:
            write = asyncio.ensure_future(self._store.record(entity, action, region or GLOBAL_REGION, now))
        except Exception as exc:  # noqa: BLE001 - statistics never fail a request
            _log.warning("could not record access: %s", type(exc).__name__)
            return
        write.add_done_callback(_settled)
