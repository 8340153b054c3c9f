"""Shared plumbing of the IAM repository: connection, key schema, optimistic transactions.

Check-then-write changes run as WATCH / reads / MULTI ... EXEC and retry when a watched
key changed in between (no Lua: the same code runs on fakeredis for `tessera dev`).
Reads inside a transaction go through a separate non-transactional pipeline: WATCH is
what guarantees the values read are still current at EXEC.
"""
from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
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


class IamStoreBase:
    def __init__(self, redis: Any, *, account: str, box: SecretBox, clock: Clock,
                 rng: ids.Random | None = None) -> None:
        self._r = redis
        self.account = account
        self._k = Keys(account)
        self._box = box
        self._clock = clock
        self._rng = rng

    # ---- transactions ----
    async def _atomic(self, watch: Sequence[str], body: Callable[[Any], Awaitable[T]]) -> T:
        """Run `body(pipe)` under WATCH; body reads, validates (raising AwsError leaves
        nothing written), may `await pipe.watch(...)` more keys, then calls `pipe.multi()`
        and queues its writes. Retries on a concurrent change of a watched key."""
        for _ in range(_RETRIES):
            async with self._r.pipeline(transaction=True) as pipe:
                try:
                    if watch:
                        await pipe.watch(*watch)
                    result = await body(pipe)
                    await pipe.execute()
                    return result
                except WatchError:
                    continue
        raise ConcurrentModification("the entity was modified concurrently; retry the request")

    async def _read(self, *calls: tuple[str, Any]) -> list[Any]:
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
