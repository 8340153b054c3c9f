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

What a command costs, kept low (the hot path makes one or two per request): on redis-py's own
connection classes with the hiredis parser (what `connect()` builds), a batch is packed in one
`bytes` join, exactly the bytes redis-py's `pack_commands` makes (`pack`); it is written straight
to the stream when the socket buffer takes it at once (redis-py's send wraps every write in
`asyncio.wait_for`: a task and a timer); and the replies that one read of the socket brought are
handed out straight from the parser's buffer: one timed read per burst, not a `read_response` (a
timeout context and a timer) per reply. Anything else (fakeredis, Sentinel's connections, an
argument `pack` does not know, a socket buffer not empty) takes redis-py's own calls, so the
bytes written, the answers and the failures are the same either way. These short cuts read
redis-py's internals (the connection's stream writer, the parser's hiredis reader); the tests
hold them to redis-py's own calls (test_multiplex: bytes, answers, failures, which connection
classes take them).

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
from collections.abc import Sequence
from typing import Any

import hiredis
from redis._parsers.encoders import Encoder
from redis._parsers.hiredis import NOT_ENOUGH_DATA, _AsyncHiredisParser
from redis.asyncio.connection import AbstractConnection
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from app.store.connection import _Recovering, went_away

_SET_FLAGS = {"nx": "NX", "xx": "XX"}
_SET_VALUES = {"px": "PX", "pxat": "PXAT", "ex": "EX", "exat": "EXAT"}
_PUSH: Any = getattr(hiredis, "PushNotification", ())  # what hiredis parses a RESP3 push into (3.2+)


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

# ---- redis-py's wire format, without its per-argument calls (module docstring) ----
_NAMES: dict[str, tuple[int, bytes]] = {}  # command name -> (extra arguments, its packed words)


def _packed_name(name: str) -> tuple[int, bytes]:
    """A command name as redis-py packs it: utf-8, split at whitespace ("CONFIG GET" is two
    arguments), so the command has `extra` more arguments than its tuple has."""
    packed = _NAMES.get(name)
    if packed is None:
        words = name.encode().split()
        packed = _NAMES[name] = (len(words) - 1, b"".join(b"$%d\r\n%s\r\n" % (len(w), w) for w in words))
    return packed


def pack(commands: Sequence[Sequence[Any]], encoding: str, errors: str) -> bytes | None:
    """`commands` (redis-py's form: name first) in RESP, byte for byte what redis-py's
    `pack_commands` writes for them with an Encoder of `encoding`/`errors` (str: encoded; int:
    its digits; bytes: as is); None when an argument is of another type, or does not encode
    (redis-py's own packing then decides, and raises its own error)."""
    out: list[bytes] = []
    try:
        for command in commands:
            args = iter(command)
            name = next(args, None)
            if type(name) is not str:
                return None
            extra, words = _packed_name(name)
            out.append(b"*%d\r\n%s" % (len(command) + extra, words))
            for arg in args:
                kind = type(arg)
                if kind is str:
                    arg = arg.encode(encoding, errors)
                elif kind is int:
                    arg = b"%d" % arg
                elif kind is not bytes:
                    return None
                out += (b"$%d\r\n" % len(arg), arg, b"\r\n")
    except (UnicodeError, LookupError):
        return None
    return b"".join(out)


def _redis_pys(conn: Any, *methods: str) -> bool:
    """Whether `conn` is a redis-py connection whose `methods` are redis-py's own, or the
    store's recovering connections' (app.store.connection: they count what they pack and send,
    for a retry policy the multiplexer replaces, `on`), and nothing else's."""
    for kind in type(conn).__mro__:
        if kind is AbstractConnection:
            return True
        if kind is not _Recovering and any(name in vars(kind) for name in methods):
            return False
    return False


def _packs_like_redis_py(conn: Any) -> bool:
    """Whether `pack` makes what `conn.pack_commands` would: redis-py's packing and encoder."""
    return _redis_pys(conn, "pack_command", "pack_commands") and type(conn.encoder) is Encoder


def _writes_like_redis_py(conn: Any) -> bool:
    """Whether writing to `conn`'s stream is what its `send_packed_command` does (`_write_now`):
    redis-py's (not Sentinel's, which also looks for a new primary)."""
    return _redis_pys(conn, "send_packed_command", "_send_packed_command")


def _reads_like_redis_py(conn: Any) -> bool:
    """Whether the replies buffered in `conn`'s parser may be taken from it (`_buffered`):
    redis-py's `read_response` (not Sentinel's, which also turns READONLY into a failover, nor
    fakeredis') over its hiredis parser."""
    return (_redis_pys(conn, "read_response", "_read_response_from_parser")
            and type(conn._parser) is _AsyncHiredisParser)


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
        # how much of redis-py's per-command work can be skipped (module docstring)
        self._packs = _packs_like_redis_py(connection)
        encoder = connection.encoder if self._packs else None
        self._encoding = (encoder.encoding, encoder.encoding_errors) if encoder is not None else ("", "")
        self._writes = _writes_like_redis_py(connection)
        self._drains = _reads_like_redis_py(connection)

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
                commands = self._take()
                packed = pack(commands, *self._encoding) if self._packs else None
                if packed is None:
                    await conn.send_packed_command(conn.pack_commands(commands),  # may raise: fails the batch
                                                   check_health=False)
                elif not self._write_now(packed):
                    await conn.send_packed_command(packed, check_health=False)
                self._ensure_reader()  # replies wait in the connection's buffer till then
        except Exception as exc:  # noqa: BLE001 - handed to every waiting caller
            await self._fail(exc)
        finally:
            self._sender = None
            self._ensure_sender()  # for commands submitted while this one was failing

    def _take(self) -> list[tuple[Any, ...]]:
        """The outbox's commands (followed by their WAIT for durable writes), from now on
        awaiting their replies in that order."""
        batch, self._outbox = self._outbox, []
        if self._wait is not None:
            batch = self._waited(batch, *self._wait)
        self._inflight.extend((future, convert) for _, future, convert in batch)
        return [args for args, _, _ in batch]

    def _write_now(self, packed: bytes) -> bool:
        """Write `packed` when that is all redis-py's `send_packed_command` would do: its own send
        on a live asyncio stream whose buffer is empty and takes `packed` (half its high-water
        mark at most, so TLS records fit too) without pausing the writer, so that waiting for
        the buffer to drain (within the socket timeout) would return at once. False, having
        written nothing, otherwise."""
        conn = self._conn
        writer = conn._writer
        if not self._writes or type(writer) is not asyncio.StreamWriter or went_away(conn):
            return False
        transport = writer.transport
        if transport.get_write_buffer_size() or 2 * len(packed) > transport.get_write_buffer_limits()[1]:
            return False
        writer.write(packed)
        return True

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
                reply = self._buffered()
                if reply is NOT_ENOUGH_DATA:  # none complete in the parser: a (timed) read
                    try:
                        reply = await conn.read_response()
                    except ResponseError as exc:  # an error reply: that command's own failure
                        reply = exc
                    if not inflight:
                        break  # failed meanwhile (aclose)
                elif isinstance(reply, _PUSH):  # not a reply: what redis-py's parser does with it
                    await conn._parser.handle_push_response(reply)
                    continue
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

    def _buffered(self) -> Any:
        """The next reply already complete in the hiredis parser's buffer, as redis-py's
        `read_response` would give it: a failure of the connection raised (as its
        `ConnectionError` replies are), an error reply returned (its command's failure), a
        push notification as is; NOT_ENOUGH_DATA when there is none, or when the connection's
        replies take redis-py's own calls (`_reads_like_redis_py`)."""
        if not self._drains:
            return NOT_ENOUGH_DATA
        parser = self._conn._parser
        if not parser._connected or parser._reader is None:
            return NOT_ENOUGH_DATA  # read_response raises what it raises
        reply = parser._reader.gets()
        if isinstance(reply, RedisConnectionError):
            raise reply
        if type(reply) is list and reply and isinstance(reply[0], RedisConnectionError):
            raise reply[0]
        return reply

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
