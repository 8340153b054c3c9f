"""Redis connections: a real server (redis-py asyncio + hiredis) or the embedded store.

`tessera dev` runs the very same store code on fakeredis' in-process server.

Recovery after Redis restarts, fails over or drops a connection. Every store path gets its
connections from the pool `connect()` builds: commands and pipelines through
`pool.get_connection()`, the hot-path multiplexer through `pool.make_connection()`. So the
policy lives here, in the pool and its connection class, and all store code inherits it:

1. Before use, a connection known to be dead is replaced, at no cost: `went_away()` reads what
   the event loop already knows (the server closed or reset it), and redis-py's own check finds
   one holding bytes nobody asked for. (redis-py skips that check of its own while its
   "maintenance notifications" are on, as they are by default under RESP3; Tessera does not
   use them, so they are off.)
2. A connection idle for `HEALTH_CHECK_INTERVAL` seconds is PINGed before use, for a server
   that vanished without a word (a host lost, an address moved to another host).
3. A command that still fails with ConnectionError is sent once more, on a new connection, when
   that is safe: everything the failed attempt wrote was read-only or only set the connection's
   own state (`WATCH`, `HELLO`...), or it wrote nothing. A write, or a MULTI/EXEC, once written
   is never sent again (its EXEC may have run): it fails with ConnectionError (503), and never
   with redis-py's WatchError, which would invite the caller to run the transaction again. A
   failed connect is not repeated either: Redis is down, and the answer is 503 at once. Nor is
   a timeout: the server is slow or out of reach, and asking again would double the wait.

What is left: a write (not a WATCHed transaction, whose WATCH goes first) on a connection whose
server vanished without a word less than HEALTH_CHECK_INTERVAL seconds before, and which is
already answered at the same address by another host, fails once with 503.
"""
from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar

import redis.asyncio as aioredis
from redis.asyncio.connection import AbstractConnection
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.commands import READ_COMMANDS
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.maint_notifications import MaintNotificationsConfig

T = TypeVar("T")

# Seconds a connection may sit idle before its next use is preceded by a PING: one round trip
# per connection and idle spell, nothing on a busy connection.
HEALTH_CHECK_INTERVAL = 5

# Commands that may be sent again after a failure: redis-py's list of read-only commands (the
# one its cluster client sends to replicas) and those that only set the connection's state.
REPEATABLE = READ_COMMANDS | {"PING", "ECHO", "TIME", "WATCH", "UNWATCH", "HELLO", "AUTH", "SELECT", "CLIENT"}


def repeatable(args: Iterable[Any]) -> bool:
    """Whether the command `args` (redis-py's form: name first) changes no data."""
    name = next(iter(args), b"")
    if isinstance(name, (bytes, bytearray, memoryview)):
        name = bytes(name).decode("ascii", "replace")
    return str(name).split(" ", 1)[0].upper() in REPEATABLE


def went_away(connection: Any) -> bool:
    """True for an open connection that the server closed or reset, as the event loop already
    knows without a round trip (False when it cannot tell, e.g. for fakeredis' connections).
    redis-py keeps the connection's asyncio stream pair in `_reader` / `_writer`."""
    reader, writer = getattr(connection, "_reader", None), getattr(connection, "_writer", None)
    if not isinstance(reader, asyncio.StreamReader) or not isinstance(writer, asyncio.StreamWriter):
        return False
    return writer.is_closing() or reader.at_eof() or reader.exception() is not None


class _RetryOnceIfRepeatable(Retry):
    """redis-py's retry hook, bound to one connection: decides from what the failed attempt
    wrote on it whether sending it again is safe (see the module docstring, point 3)."""

    def __init__(self, connection: "_Recovering") -> None:
        super().__init__(NoBackoff(), 1, (RedisConnectionError,))
        self._connection = connection

    async def call_with_retry(self, do: Callable[[], Awaitable[T]], fail: Callable[..., Any],
                              is_retryable: Callable[[Exception], bool] | None = None,
                              with_failure_count: bool = False) -> T:
        conn = self._connection
        # a connect or PING inside a command is not retried by itself: the command decides
        outermost = conn.retry_depth == 0
        failures = 0
        while True:
            marks = conn.unrepeatable_writes, conn.connect_failures
            conn.retry_depth += 1
            try:
                return await do()
            except RedisConnectionError as error:
                if is_retryable is not None and not is_retryable(error):
                    raise
                failures += 1
                if (conn.unrepeatable_writes, conn.connect_failures) != marks:
                    # not `fail`: for a WATCHing pipeline it raises WatchError, which asks for
                    # the transaction to run again although its EXEC may have run
                    await conn.disconnect(nowait=True)
                    raise
                await (fail(error, failures) if with_failure_count else fail(error))
                if not outermost or failures > 1:
                    raise
            finally:
                conn.retry_depth -= 1


class _Recovering(AbstractConnection):
    """Mixed into redis-py's connection class (TCP, TLS or Unix socket, as the URL says): counts
    what it writes that must not be written twice, and failed connects, for the retry hook."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.retry = _RetryOnceIfRepeatable(self)
        self.unrepeatable_writes = 0
        self.connect_failures = 0
        self.retry_depth = 0
        self._next_repeatable = False  # set by the packing of the command about to be sent

    async def connect_check_health(self, check_health: bool = True, retry_socket_connect: bool = True) -> None:
        try:
            await super().connect_check_health(check_health=check_health, retry_socket_connect=retry_socket_connect)
        except BaseException:
            self.connect_failures += 1
            raise

    async def send_command(self, *args: Any, **kwargs: Any) -> None:
        self._next_repeatable = repeatable(args)
        await super().send_command(*args, **kwargs)

    def pack_commands(self, commands: Iterable[Iterable[Any]]) -> list[bytes]:
        listed = commands if isinstance(commands, (list, tuple)) else list(commands)
        self._next_repeatable = all(map(repeatable, listed))
        return super().pack_commands(listed)

    async def send_packed_command(self, command: bytes | str | Iterable[bytes], check_health: bool = True) -> None:
        # bytes packed elsewhere are taken for a write
        safe, self._next_repeatable = self._next_repeatable, False
        if not self.is_connected:
            await self.connect_check_health(check_health=False)
        if check_health:
            await self.check_health()  # type: ignore[no-untyped-call]
        if not safe:
            self.unrepeatable_writes += 1  # from here on the server may receive it
        await super().send_packed_command(command, check_health=False)


_RECOVERING: dict[type[AbstractConnection], type[AbstractConnection]] = {}


def recovering(connection_class: type[AbstractConnection]) -> type[AbstractConnection]:
    """`connection_class` with the recovery policy of this module (one class per base)."""
    if connection_class not in _RECOVERING:
        name = f"Recovering{connection_class.__name__}"
        _RECOVERING[connection_class] = type(name, (_Recovering, connection_class), {})
    return _RECOVERING[connection_class]


class StorePool(aioredis.BlockingConnectionPool):
    """redis-py's blocking pool whose connections recover (module docstring)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.connection_class = recovering(self.connection_class)

    async def ensure_connection(self, connection: AbstractConnection) -> None:
        if went_away(connection):
            await connection.disconnect(nowait=True)
        await super().ensure_connection(connection)


CLUSTER_SCHEMES = ("redis+cluster", "rediss+cluster")
SENTINEL_SCHEMES = ("redis+sentinel", "rediss+sentinel")


def scheme_of(url: str) -> str:
    return url.split("://", 1)[0].lower() if "://" in url else ""


def connect(url: str, *, max_connections: int = 64, wait: float = 5.0) -> Any:
    """The store's client for `url`: a single server (`redis://`, `rediss://`, `unix://`), a
    Redis Cluster (`redis+cluster://`, app.store.cluster) or a primary found through Sentinel
    (`redis+sentinel://`, app.store.sentinel). Its pool makes a burst of callers beyond
    `max_connections` wait (up to `wait` seconds) for a free connection instead of failing
    with "Too many connections"."""
    scheme = scheme_of(url)
    if scheme in CLUSTER_SCHEMES:
        from app.store.cluster import connect_cluster

        return connect_cluster(url, max_connections=max_connections, wait=wait)
    if scheme in SENTINEL_SCHEMES:
        from app.store.sentinel import connect_sentinel

        return connect_sentinel(url, max_connections=max_connections, wait=wait)
    pool = StorePool.from_url(url, **pool_options(max_connections=max_connections, wait=wait))
    return aioredis.Redis.from_pool(pool)


def pool_options(*, max_connections: int, wait: float) -> dict[str, Any]:
    """A StorePool's options (a single server's, a Sentinel primary's): at most `max_connections`,
    a caller beyond waits up to `wait` seconds; replies decoded; maintenance notifications off
    (module docstring)."""
    return {
        "decode_responses": True,
        "max_connections": max_connections,
        "timeout": wait,
        "socket_connect_timeout": 2.0,
        "socket_timeout": 5.0,
        "health_check_interval": HEALTH_CHECK_INTERVAL,
        "maint_notifications_config": MaintNotificationsConfig(enabled=False),
    }


def embedded() -> Any:
    """An in-process Redis (fakeredis) speaking the same asyncio API."""
    import fakeredis

    return fakeredis.FakeAsyncRedis(decode_responses=True)
