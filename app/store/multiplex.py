"""The hot path's Redis client: one redis-py connection shared by every request.

Redis answers the commands of one connection in the order it received them, so commands
from any number of concurrent requests can be written to a single connection as they come
and each reply handed to the next waiting caller. The commands issued during one event-loop
iteration go out in one write; a reader hands the replies out as they arrive. Per command
this costs a few microseconds, against ~20 µs through redis-py's pipelines (pool checkout,
locks, a pipeline object per batch) and ~70 µs for a command awaited on its own.

The connection is redis-py's own (`client.connection_pool.make_connection()`, so URL, AUTH,
SELECT, TLS, timeouts and hiredis are exactly the client's), and fakeredis' for `tessera dev`.
Answers are redis-py's for the commands the hot path uses (`get`, `mget`, `set`, and `hset` of
one field for access advisor's records): an
error reply raises `ResponseError` for that command only. Failure is never silent: a refused,
dropped or silent connection (no reply within the client's socket timeout) fails every
command in flight with redis-py's `ConnectionError` / `TimeoutError`, which the wire maps to
ServiceUnavailable, and the next command connects again.

Durable writes (`wait=(replicas, timeout_ms)`, TESSERA_REDIS_WAIT_REPLICAS): every batch
written is followed by one `WAIT replicas timeout_ms` on the same connection (group commit),
and no command of the batch is answered before the WAIT is: with fewer acknowledgements than
`replicas` each fails with `NotReplicated` (a ConnectionError: 503). Redis answers WAIT with
the number of replicas that acknowledged this connection's last write, so it covers every
write of the batch, and every write made before on any connection to the same primary (its
replication stream is one ordered log). A pending WAIT holds up the connection's next
commands in Redis: durable writes get a multiplexer of their own, reads stay on the hot one.
"""
from __future__ import annotations

import asyncio
import collections
from typing import Any

from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from app.store.connection import went_away

_SET_FLAGS = {"nx": "NX", "xx": "XX"}
_SET_VALUES = {"px": "PX", "pxat": "PXAT", "ex": "EX", "exat": "EXAT"}


class NotReplicated(RedisConnectionError):
    """Fewer replicas than required acknowledged a durable write in time (answered with 503)."""


def _ok(reply: Any) -> Any:
    return True if reply in ("OK", b"OK") else reply


def set_command(key: str, value: str | bytes, options: dict[str, Any]) -> tuple[Any, ...]:
    """SET with redis-py's keyword options (`px`, `pxat`, `ex`, `exat`, `nx`, `xx`)."""
    args: list[Any] = ["SET", key, value]
    for name, option in options.items():
        if name in _SET_VALUES:
            if option is not None:
                args += [_SET_VALUES[name], int(option)]
        elif name in _SET_FLAGS:
            if option:
                args.append(_SET_FLAGS[name])
        else:
            raise TypeError(f"unsupported SET option `{name}`")
    return tuple(args)


SET_REPLY = _ok  # the conversion of SET's reply (True for OK, None when NX/XX refused)


class MultiplexedRedis:
    """`get`, `mget`, `set` and one-field `hset` (redis-py's signatures and answers) over one
    shared connection."""

    def __init__(self, connection: Any, *, wait: tuple[int, int] | None = None) -> None:
        self._conn = connection  # a redis-py asyncio Connection, used by nothing else
        self._wait = wait  # (replicas, timeout ms): durable writes (module docstring)
        self._outbox: list[tuple[tuple[Any, ...], asyncio.Future[Any], Any]] = []
        self._inflight: collections.deque[tuple[asyncio.Future[Any], Any]] = collections.deque()
        self._sender: asyncio.Future[None] | None = None
        self._reader: asyncio.Future[None] | None = None

    @classmethod
    def of(cls, client: Any, *, wait: tuple[int, int] | None = None) -> "MultiplexedRedis":
        """One for the server (and database, credentials, TLS...) a redis-py client uses.
        Its connection never retries on its own: a failed connect or health check fails the
        waiting commands at once (503) instead of after redis-py's retries and backoff, and the
        next command tries again."""
        return cls.on(client.connection_pool.make_connection(), wait=wait)

    @classmethod
    def on(cls, connection: Any, *, wait: tuple[int, int] | None = None) -> "MultiplexedRedis":
        """One over `connection` (new, unused by anything else), which never retries on its own;
        for durable writes its socket timeout outlasts a WAIT's."""
        connection.retry = Retry(NoBackoff(), 0)
        if wait is not None:
            timeout = getattr(connection, "socket_timeout", None)
            if timeout is not None:
                connection.socket_timeout = max(float(timeout), wait[1] / 1000 + 1.0)
        return cls(connection, wait=wait)

    # ---- the commands ----
    def get(self, key: str) -> "asyncio.Future[Any]":
        return self._submit(("GET", key), None)

    def mget(self, *keys: str) -> "asyncio.Future[Any]":
        return self._submit(("MGET", *keys), None)

    def set(self, key: str, value: str | bytes, **options: Any) -> "asyncio.Future[Any]":
        return self._submit(set_command(key, value, options), _ok)

    def hset(self, key: str, field: str, value: str | bytes) -> "asyncio.Future[Any]":
        return self._submit(("HSET", key, field, value), None)

    def submit(self, args: tuple[Any, ...], convert: Any = None) -> "asyncio.Future[Any]":
        """Any command (redis-py's form: name first); its reply raw, or `convert(reply)`."""
        return self._submit(args, convert)

    async def aclose(self) -> None:
        for task in (self._sender, self._reader):
            if task is not None:
                task.cancel()  # a task cancelled before it started never runs its `finally`
        self._sender = self._reader = None
        await self._fail(RedisConnectionError("the client was closed"))

    # ---- the machinery ----
    def _submit(self, args: tuple[Any, ...], convert: Any) -> "asyncio.Future[Any]":
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._outbox.append((args, future, convert))
        self._ensure_sender()
        return future

    async def _send(self) -> None:
        conn = self._conn
        try:
            while self._outbox:
                if not conn.is_connected:
                    await conn.connect()
                elif self._reader is None:
                    await self._check_idle_connection()
                batch, self._outbox = self._outbox, []
                if self._wait is not None:
                    batch = self._waited(batch, *self._wait)
                self._inflight.extend((future, convert) for _, future, convert in batch)
                packed = conn.pack_commands([args for args, _, _ in batch])  # may raise: fails the batch
                await conn.send_packed_command(packed, check_health=False)
                self._ensure_reader()  # replies wait in the connection's buffer till then
        except Exception as exc:  # noqa: BLE001 - handed to every waiting caller
            await self._fail(exc)
        finally:
            self._sender = None
            self._ensure_sender()  # for commands submitted while this one was failing

    @staticmethod
    def _waited(batch: list[tuple[tuple[Any, ...], "asyncio.Future[Any]", Any]], replicas: int, timeout_ms: int
                ) -> list[tuple[tuple[Any, ...], "asyncio.Future[Any]", Any]]:
        """The batch followed by its WAIT; its callers are answered once the WAIT is."""
        loop = asyncio.get_running_loop()
        inner = [(args, loop.create_future(), convert) for args, _, convert in batch]
        waited: asyncio.Future[Any] = loop.create_future()

        def settle(_: object) -> None:
            failures = [future.exception() for _, future, _ in inner]  # all done: replies come in order
            failed = waited.exception()
            acks = int(waited.result()) if failed is None else 0
            for (_, outer, _), (_, future, _), own in zip(batch, inner, failures):
                if outer.done():  # its caller was cancelled
                    continue
                if failed is not None or own is not None:
                    outer.set_exception(own if own is not None else failed)  # type: ignore[arg-type]
                elif acks < replicas:
                    outer.set_exception(NotReplicated(
                        f"{acks} of {replicas} replicas acknowledged the write within {timeout_ms} ms"))
                else:
                    outer.set_result(future.result())

        waited.add_done_callback(settle)
        return [*inner, (("WAIT", replicas, timeout_ms), waited, None)]

    async def _check_idle_connection(self) -> None:
        """What the store's pool does before handing out a connection (app.store.connection),
        done while no reader shares it: a connection the server closed or reset while idle
        (restart, failover, an idle timeout) or that holds bytes nobody asked for is replaced
        before use, and one idle past the client's health_check_interval is PINGed first."""
        conn = self._conn
        try:
            if went_away(conn) or await conn.can_read():
                raise RedisConnectionError("the idle connection was closed or holds unexpected data")
            await conn.check_health()
        except (RedisConnectionError, RedisTimeoutError, OSError):
            await conn.disconnect(nowait=True)
            await conn.connect()

    async def _read(self) -> None:
        conn, inflight = self._conn, self._inflight
        try:
            while inflight:
                try:
                    reply = await conn.read_response()
                except ResponseError as exc:  # an error reply: that command's own failure
                    reply = exc
                if not inflight:
                    break  # failed meanwhile (aclose)
                future, convert = inflight.popleft()
                if future.done():  # its caller was cancelled; the reply is consumed all the same
                    continue
                if isinstance(reply, ResponseError):
                    future.set_exception(reply)
                else:
                    future.set_result(reply if convert is None else convert(reply))
        except Exception as exc:  # noqa: BLE001 - a dropped or silent connection
            await self._fail(exc)
        finally:
            self._reader = None
            self._ensure_reader()  # for commands written while this one was failing

    def _ensure_sender(self) -> None:
        if self._sender is None and self._outbox:
            # its first step runs in the next loop iteration: everything submitted in this
            # one goes out in a single write
            self._sender = asyncio.ensure_future(self._send())

    def _ensure_reader(self) -> None:
        if self._reader is None and self._inflight:
            self._reader = asyncio.ensure_future(self._read())

    async def _fail(self, exc: Exception) -> None:
        """Fail every command written or waiting, and start over on a new connection."""
        if not isinstance(exc, RedisError):  # e.g. the connection closed under redis-py's feet
            exc = RedisConnectionError(f"the connection to Redis failed ({type(exc).__name__})")
        waiting = [future for future, _ in self._inflight] + [future for _, future, _ in self._outbox]
        self._inflight.clear()
        self._outbox = []
        for future in waiting:
            if not future.done():
                future.set_exception(exc)
        await self._conn.disconnect(nowait=True)
