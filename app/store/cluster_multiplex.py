"""The hot path's client on a Redis Cluster: one multiplexed connection per primary.

Each command goes to the primary that owns its key's slot (redis-py's slot map, kept by the
cluster client's NodesManager), through that node's MultiplexedRedis (app.store.multiplex): the
commands of one event-loop iteration for one node still leave in one write. An MGET is split
per slot (a cluster refuses an MGET across slots, even on one node), its parts submitted in the
same iteration, and the answers put back in the order of the keys.

A command is submitted at once, when called (not when awaited), so that concurrent callers
share writes as they do on a single server; what it returns is awaitable.

Failures. A dropped or refused connection, a timeout, or a reply that says the slot map moved or
the node cannot serve (MOVED, ASK, CLUSTERDOWN, TRYAGAIN, MASTERDOWN, READONLY) make this client
read the slot map again (one refresh at a time, shared by every command that failed meanwhile)
and drop the multiplexers of nodes that are no longer primaries. The command is then sent once
more to the slot's owner when that is safe: a read that did not time out, or a command the node
refused (nothing ran).
A write that may have run fails with redis-py's ConnectionError (503), as do a second failure and
a refresh that fails. So after a failover the first commands to the new primary succeed without
a restart. A durable write that too few replicas acknowledged (NotReplicated) is no node
failure: it fails alone, with 503.
"""
from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from redis.crc import key_slot
from redis.exceptions import SlotNotCoveredError
from redis.exceptions import TimeoutError as RedisTimeoutError

from app.store.cluster import NODE_FAILURES, REFUSED, StoreCluster, as_unavailable
from app.store.multiplex import SET_REPLY, MultiplexedRedis, NotReplicated, set_command

READS = frozenset({"GET", "MGET"})


class ClusterMultiplexedRedis:
    """`get`, `mget`, `set` and one-field `hset` (MultiplexedRedis's API) over a cluster."""

    def __init__(self, cluster: StoreCluster, *, wait: tuple[int, int] | None = None) -> None:
        self._cluster = cluster
        self._wait = wait  # durable writes: every node's multiplexer WAITs (app.store.multiplex)
        self._nodes: dict[str, MultiplexedRedis] = {}  # node name -> its multiplexer
        self._refreshing: asyncio.Future[None] | None = None

    @classmethod
    def of(cls, cluster: StoreCluster, *, wait: tuple[int, int] | None = None) -> "ClusterMultiplexedRedis":
        return cls(cluster, wait=wait)

    # ---- the commands ----
    def get(self, key: str) -> "asyncio.Future[Any]":
        return self._command(("GET", key), key, None)

    def set(self, key: str, value: str | bytes, **options: Any) -> "asyncio.Future[Any]":
        return self._command(set_command(key, value, options), key, SET_REPLY)

    def hset(self, key: str, field: str, value: str | bytes) -> "asyncio.Future[Any]":
        return self._command(("HSET", key, field, value), key, None)

    def mget(self, *keys: str) -> "asyncio.Future[Any]":
        slots: dict[int, list[int]] = {}
        for index, key in enumerate(keys):
            slots.setdefault(key_slot(key.encode("utf-8", "surrogatepass")), []).append(index)
        if len(slots) == 1:
            return self._command(("MGET", *keys), keys[0], None)
        parts = [(indexes, self._command(("MGET", *(keys[i] for i in indexes)), keys[indexes[0]], None))
                 for indexes in slots.values()]
        answer: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        gathered = asyncio.gather(*(part for _, part in parts))

        def assemble(done: "asyncio.Future[list[Any]]") -> None:
            if answer.done():
                done.exception() if not done.cancelled() else None
                return
            if done.cancelled():
                answer.cancel()
            elif done.exception() is not None:
                answer.set_exception(done.exception())  # type: ignore[arg-type]
            else:
                values: list[Any] = [None] * len(keys)
                for (indexes, _), replies in zip(parts, done.result()):
                    for index, value in zip(indexes, replies):
                        values[index] = value
                answer.set_result(values)

        gathered.add_done_callback(assemble)
        return answer

    async def aclose(self) -> None:
        nodes, self._nodes = list(self._nodes.values()), {}
        for node in nodes:
            await node.aclose()

    # ---- routing ----
    def _command(self, args: tuple[Any, ...], key: str, convert: Callable[[Any], Any] | None
                 ) -> "asyncio.Future[Any]":
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[Any] = loop.create_future()
        first = self._submit(args, key, convert)
        if first is None:  # no slot map yet (or it is being read): route once it is there
            asyncio.ensure_future(self._again(answer, args, key, convert, None))
            return answer

        def settle(done: "asyncio.Future[Any]") -> None:
            if done.cancelled():
                answer.cancel()
                return
            error = done.exception()
            if error is None:
                if not answer.done():
                    answer.set_result(done.result())
            elif isinstance(error, NODE_FAILURES) and not isinstance(error, NotReplicated):
                asyncio.ensure_future(self._again(answer, args, key, convert, error))
            elif not answer.done():
                answer.set_exception(error)

        first.add_done_callback(settle)
        return answer

    def _submit(self, args: tuple[Any, ...], key: str, convert: Callable[[Any], Any] | None
                ) -> "asyncio.Future[Any] | None":
        """Submit to the slot owner's multiplexer now; None when the slot map is not known."""
        cluster = self._cluster
        if cluster._initialize or self._refreshing is not None:
            return None
        try:
            node = cluster.nodes_manager.get_node_from_slot(key_slot(key.encode("utf-8", "surrogatepass")))
        except SlotNotCoveredError:
            return None
        mux = self._nodes.get(node.name)
        if mux is None:
            connection = node.connection_class(**node.connection_kwargs)
            mux = self._nodes[node.name] = MultiplexedRedis.on(connection, wait=self._wait)
        return mux.submit(args, convert)

    async def _again(self, answer: "asyncio.Future[Any]", args: tuple[Any, ...], key: str,
                     convert: Callable[[Any], Any] | None, error: BaseException | None) -> None:
        """After a failure (`error`) or with no slot map: refresh the map, then send the command
        (once more, when that is safe) and answer with what it gets."""
        try:
            # not a timeout: the node is slow or out of reach, and asking again would double the wait
            safe = error is None or isinstance(error, REFUSED) or (
                args[0] in READS and not isinstance(error, RedisTimeoutError))
            await self._refresh(forced=error is not None)
            if not safe:
                raise as_unavailable(error)  # type: ignore[arg-type]
            sent = self._submit(args, key, convert)
            if sent is None:
                raise as_unavailable(SlotNotCoveredError(f"no node serves the slot of the command {args[0]}"))
            try:
                result = await sent
            except NODE_FAILURES as exc:
                self._cluster._initialize = True  # the next command reads the map first
                raise as_unavailable(exc) from exc
        except BaseException as exc:  # noqa: BLE001 - handed to the caller
            if not answer.done():
                answer.set_exception(exc if not isinstance(exc, NODE_FAILURES) else as_unavailable(exc))
            return
        if not answer.done():
            answer.set_result(result)

    async def _refresh(self, *, forced: bool) -> None:
        """Read the slot map (one refresh at a time) and drop the multiplexers of nodes that
        no longer serve slots as primaries."""
        if self._refreshing is None:
            if not forced and not self._cluster._initialize:
                return
            self._refreshing = asyncio.ensure_future(self._read_map())
        refreshing = self._refreshing
        try:
            await asyncio.shield(refreshing)
        except NODE_FAILURES as exc:
            raise as_unavailable(exc) from exc
        except Exception as exc:  # noqa: BLE001 - e.g. redis-py's "no node could be reached"
            raise as_unavailable(exc) from exc

    async def _read_map(self) -> None:
        try:
            self._cluster._initialize = True
            await self._cluster.initialize()
            primaries = {node.name for node in self._cluster.get_primaries()}
            for name in [name for name in self._nodes if name not in primaries]:
                await self._nodes.pop(name).aclose()
        finally:
            self._refreshing = None
