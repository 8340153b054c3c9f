"""Durable writes: nothing that hands out a credential returns before `replicas` replicas have it.

TESSERA_REDIS_WAIT_REPLICAS = N > 0 (TESSERA_REDIS_WAIT_TIMEOUT_MS = T) turns it on. Redis
replicates asynchronously: without it, a primary that dies right after acknowledging a write
takes that write with it when a replica is promoted, and a session or access key already
returned to a caller is gone. With it, every such write is followed by `WAIT N T`; fewer than N
acknowledgements within T ms answer ServiceUnavailable (503) and nothing is returned, so what
was returned survives the loss of the primary as long as one of those replicas is promoted.

How (app.store.multiplex, `wait=`): the writes go through a multiplexed connection of their own
(one per primary on a cluster), never the hot path's: a WAIT holds up the commands behind it on
its connection, and reads must not queue behind replication. Every batch on it is followed by
one WAIT (group commit: concurrent writes share it).
- Sessions (every credential STS or the sign-in pages issue) are written on it: SessionStore's
  writer.
- A change made elsewhere (an access key: a MULTI/EXEC on the store's pool) is confirmed by a
  later write through it to a key in the same slot (`Keys.durability_mark`, so on a cluster the
  same primary) and that write's WAIT: a primary's replication stream is one ordered log, so a
  replica that acknowledged the later write has the earlier one.
On a Sentinel setup the connection follows the primary like every other (app.store.sentinel).
"""
from __future__ import annotations

from typing import Any

from redis.exceptions import RedisError

from app.core.errors import ServiceUnavailable
from app.store.keys import Keys

MARK_TTL_MS = 60_000  # the mark is only ever written: it may expire


class DurableWrites:
    """`DurableWrites(writer)`: `writer` is a multiplexer built with `wait=(replicas, ms)`."""

    def __init__(self, writer: Any) -> None:
        self.writer = writer

    async def confirm(self, hash_tag: str) -> None:
        """Return once the replicas have everything written so far to the primary that owns
        `hash_tag`'s slot; ServiceUnavailable when they do not acknowledge in time."""
        try:
            await self.writer.set(Keys.durability_mark(hash_tag), "1", px=MARK_TTL_MS)
        except RedisError as exc:
            raise ServiceUnavailable("the credential store could not replicate the change",
                                     reason="store_not_replicated") from exc

    async def aclose(self) -> None:
        await self.writer.aclose()
