"""Shared plumbing of the IAM repository: connection, key schema, optimistic transactions.

Check-then-write changes run as WATCH / reads / MULTI ... EXEC and retry when a watched
key changed in between (no Lua: the same code runs on fakeredis for `tessera dev`).
Reads inside a transaction go through a separate non-transactional pipeline: WATCH is
what guarantees the values read are still current at EXEC.

Every IAM write also sets the account's IAM epoch (`Keys.epoch()`) to a fresh random value
inside the same MULTI/EXEC, so a reader that sees the old epoch cannot have seen the new state and one that
sees the new epoch sees all of it (app.store.iam_cache relies on this). Only the last-used
statistics (`stats=True`) leave the epoch alone. Write listeners (`on_write`) run after each
successful IAM write in the writer's own task (the cache uses it for read-your-writes).
"""
from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
import secrets
from typing import Any, TypeVar

from redis.exceptions import WatchError

from app.core import ids
from app.core.clock import Clock
from app.core.errors import ConcurrentModification
from app.store.keys import Keys
from app.store.secretbox import SecretBox

T = TypeVar("T")
_RETRIES = 25
_SCAN_CHUNK = 200
_EPOCH_BITS = 64  # epochs are compared for equality only; a random one never comes back


class IamStoreBase:
    def __init__(self, redis: Any, *, account: str, box: SecretBox, clock: Clock,
                 rng: ids.Random | None = None, durable: Any = None) -> None:
        self._r = redis
        self._durable = durable  # app.store.durable.DurableWrites, or None (no WAIT)
        self.account = account
        self._k = Keys(account)
        self._box = box
        self._clock = clock
        self._rng = rng
        self._write_listeners: list[Callable[[], None]] = []

    def on_write(self, listener: Callable[[], None]) -> None:
        """Call `listener()` after every successful IAM write (in the writer's task)."""
        self._write_listeners.append(listener)

    # ---- transactions ----
    async def _atomic(self, watch: Sequence[str], body: Callable[[Any], Awaitable[T]], *,
                      stats: bool = False) -> T:
        """Run `body(pipe)` under WATCH; body reads, validates (raising AwsError leaves
        nothing written), may `await pipe.watch(...)` more keys, then calls `pipe.multi()`
        and queues its writes. Retries on a concurrent change of a watched key. Unless
        `stats` (last-used statistics only), the IAM epoch is bumped in the same EXEC."""
        for _ in range(_RETRIES):
            async with self._r.pipeline(transaction=True) as pipe:
                try:
                    if watch:
                        await pipe.watch(*watch)
                    result = await body(pipe)
                    if not stats:
                        self._bump_epoch(pipe)
                    await pipe.execute()
                except WatchError:
                    continue
            if not stats:
                for listener in self._write_listeners:
                    listener()
            return result
        raise ConcurrentModification("the entity was modified concurrently; retry the request")

    async def _replicated(self) -> None:
        """Return once the replicas have this account's IAM writes so far (when durable writes
        are on: before a new access key is handed out; app.store.durable)."""
        if self._durable is not None:
            await self._durable.confirm(self._k.tag)

    def _bump_epoch(self, pipe: Any) -> None:
        if not pipe.explicit_transaction:  # a body that queued nothing
            pipe.multi()
        # random, not INCR: after a restore from an older snapshot a counter would count up
        # again through values that caches may still hold for newer state
        pipe.set(self._k.epoch(), secrets.token_hex(_EPOCH_BITS // 8))

    async def epoch(self) -> str | None:
        """The current IAM epoch (None before the first write)."""
        raw = await self._r.get(self._k.epoch())
        return None if raw is None else str(raw)

    async def _read(self, *calls: tuple[str, *tuple[Any, ...]]) -> list[Any]:
        """One round trip for several reads: `_read(("get", k), ("smembers", k2))`."""
        pipe = self._r.pipeline(transaction=False)
        for name, *args in calls:
            getattr(pipe, name)(*args)
        return list(await pipe.execute())

    async def _new_id(self, prefix: str) -> str:
        """A unique id never issued before in this account (recorded by `_claim_id`)."""
        while True:
            candidate = ids.unique_id(prefix, self._rng)
            if not await self._r.sismember(self._k.issued_ids(), candidate):
                return candidate

    def _claim_id(self, pipe: Any, unique_id: str) -> None:
        pipe.sadd(self._k.issued_ids(), unique_id)

    # ---- listing ----
    async def _scan_index(self, kind: str, after: str | None, limit: int,
                          load: Callable[[list[str]], Awaitable[list[T | None]]],
                          keep: Callable[[T], bool]) -> tuple[list[T], bool]:
        """Walk the name index of `kind` in order after `after` (exclusive), loading
        chunks of records and keeping those `keep` accepts, until `limit` are found.
        -> (items, more_remain)."""
        out: list[T] = []
        start = "(" + after if after is not None else "-"
        while True:
            names: list[str] = await self._r.zrangebylex(
                self._k.index(kind), start, "+", start=0, num=_SCAN_CHUNK)
            if not names:
                return out, False
            for name, rec in zip(names, await load(names)):
                if rec is None or not keep(rec):
                    continue
                if len(out) == limit:
                    return out, True
                out.append(rec)
            if len(names) < _SCAN_CHUNK:
                return out, False
            start = "(" + names[-1]

    async def _names(self, kind: str) -> list[str]:
        return list(await self._r.zrange(self._k.index(kind), 0, -1))

    async def count(self, kind: str) -> int:
        return int(await self._r.zcard(self._k.index(kind)))
