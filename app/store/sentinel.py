"""Redis Sentinel as the store: a primary with replicas, found (and followed) through sentinels.

    redis+sentinel://[USER:PASSWORD@]HOST:PORT[,HOST:PORT...]/SERVICE[/DB][?OPTIONS]
    rediss+sentinel://...   the same, with TLS to the data nodes

HOST:PORT are the sentinels (1 to 16; IPv6 in brackets), SERVICE the name they monitor
(`sentinel monitor SERVICE ...`), DB the database number (default 0). USER:PASSWORD
authenticate to the data nodes. OPTIONS, each at most once: `sentinel_username`,
`sentinel_password` (the sentinels' own ACL user / `requirepass`), `sentinel_tls` (`yes`:
TLS to the sentinels too; default `no`), and for TLS `ssl_ca_certs`, `ssl_certfile`,
`ssl_keyfile` (file paths) and `ssl_cert_reqs` (`required`, the default, or `none`).
Anything else is refused: a typo must not be ignored silently.

How a failover is followed. Every connection (the pool's and the hot-path multiplexer's,
`MultiplexedRedis.of`) asks the sentinels for the primary when it connects (SENTINEL
GET-MASTER-ADDR-BY-NAME), so one that the killed primary dropped reconnects to the new one;
while no primary answers the store answers 503. A demoted primary (`SENTINEL FAILOVER`, or a
partition) keeps serving its open connections until the sentinels reconfigure it, ten seconds
later: so the pool asks the sentinels again at most every `REFRESH_INTERVAL` seconds, in the
background of the command that finds the answer due, and drops every connection to an address
that is no longer the primary (an idle one at once, one in use when it is released; what the
multiplexer has in flight fails with 503; the next commands go to the new primary). redis-py
turns a READONLY reply into a disconnect too. What the old primary accepted after the new one
took over (about a second of writes: the sentinels name the new primary only once they saw it
promoted) is lost with it, as with any Sentinel client, unless TESSERA_REDIS_WAIT_REPLICAS
equals the number of replicas (README.md, tests/bench/bench_sentinel.py).

The store's recovery policy (app.store.connection) holds unchanged: the pool is a StorePool,
its connections are `recovering()` ones, and a failed discovery counts as a failed connect
(503 at once, never repeated).
"""
from __future__ import annotations

import asyncio
import re
import time
import weakref
from typing import Any
from urllib.parse import unquote

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import MasterNotFoundError, Sentinel, SentinelConnectionPool, SentinelManagedConnection
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from app.store import redis_urls
from app.store.connection import SENTINEL_SCHEMES, StorePool, pool_options

# Seconds between two questions to the sentinels about where the primary is (per process, in the
# background): at most this long, after the sentinels name a new primary, do writes still go to
# a demoted one; the cost is one small query to one sentinel per interval.
REFRESH_INTERVAL = 0.25

_SERVICE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
_OPTIONS = tuple(sorted({"sentinel_username", "sentinel_password", "sentinel_tls", *redis_urls.TLS_OPTIONS}))
_YES_NO = {"yes": True, "true": True, "1": True, "no": False, "false": False, "0": False}


class SentinelUrlError(ValueError):
    """A redis+sentinel:// URL that cannot be used; the message says why (never the password)."""


def _bad(why: str) -> SentinelUrlError:
    return SentinelUrlError(f"invalid Sentinel URL: {why} (expected redis+sentinel://[USER:PASSWORD@]"
                            "HOST:PORT[,HOST:PORT...]/SERVICE[/DB][?OPTIONS])")


def parse_sentinel_url(url: str) -> dict[str, Any]:
    """The parts of a Sentinel URL: sentinels [(host, port)], service, db, tls, the data nodes'
    username/password, the sentinels' options and the TLS options. Raises SentinelUrlError."""
    scheme, netloc, path, query = redis_urls.split_url(url, SENTINEL_SCHEMES, _bad)
    username, password, sentinels = redis_urls.credentials_and_hosts(netloc, _bad, host="sentinel",
                                                                     hosts="sentinels")
    segments = path.split("/") if path else []
    if not segments or not segments[0]:
        raise _bad("no SERVICE name after the sentinels")
    if len(segments) > 2:
        raise _bad("the path is /SERVICE or /SERVICE/DB")
    service = unquote(segments[0])
    if not _SERVICE.fullmatch(service):
        raise _bad(f"the service name `{service[:64]}` is not 1-128 letters, digits, `.`, `_` or `-`")
    db = 0
    if len(segments) == 2 and segments[1] != "":
        if not segments[1].isdigit() or len(segments[1]) > 5:
            raise _bad(f"the database `{segments[1][:16]}` is not a number from 0 to 99999")
        db = int(segments[1])
    options = _options(query)
    return {"sentinels": list(sentinels), "service": service, "db": db, "tls": scheme == "rediss+sentinel",
            "username": username, "password": password, **options}


def _options(query: str) -> dict[str, Any]:
    given = redis_urls.options(query, _OPTIONS, _bad)
    out: dict[str, Any] = {"sentinel_username": given.get("sentinel_username") or None,
                           "sentinel_password": given.get("sentinel_password") or None}
    tls = given.get("sentinel_tls", "no").lower()
    if tls not in _YES_NO:
        raise _bad("sentinel_tls must be yes or no")
    out["sentinel_tls"] = _YES_NO[tls]
    out["ssl"] = redis_urls.tls_options(given, _bad)
    return out


class _Sentinels(Sentinel):
    """redis-py's view of the sentinels, asking them for the primary as Redis' guidelines for
    Sentinel clients say (SENTINEL GET-MASTER-ADDR-BY-NAME, first answer wins). redis-py asks
    SENTINEL MASTERS instead, whose address moves only at the end of a failover, a second or
    more after the new primary took over and the old one stopped being replicated: writes sent
    to the old one meanwhile are lost."""

    async def discover_master(self, service_name: str) -> Any:
        failures = []
        for index, sentinel in enumerate(self.sentinels):
            try:
                address: Any = await sentinel.sentinel_get_master_addr_by_name(service_name)
            except (RedisConnectionError, RedisTimeoutError, ResponseError) as exc:
                failures.append(f"{_address(sentinel)}: {type(exc).__name__}")
                continue
            if address:
                self.sentinels[0], self.sentinels[index] = sentinel, self.sentinels[0]  # ask it first next time
                host, port = address
                return (host.decode() if isinstance(host, bytes) else str(host)), int(port)
            failures.append(f"{_address(sentinel)}: unknown service")
        raise MasterNotFoundError(f"no sentinel names a primary for `{service_name}` ({'; '.join(failures)})")


def _address(sentinel: Any) -> str:
    kwargs = sentinel.connection_pool.connection_kwargs
    return f"{kwargs.get('host')}:{kwargs.get('port')}"


class _SentinelConnection(SentinelManagedConnection):
    """redis-py's connection to the primary the sentinels name, which also: counts a failed
    discovery as a failed connect (the recovery policy never repeats one), keeps the pool's
    view of the primary fresh, and registers with the pool so that the pool can drop it."""

    connect_failures: int  # app.store.connection's counter (`recovering()` mixes it in)

    async def _connect_retry(self) -> None:
        try:
            await super()._connect_retry()  # type: ignore[no-untyped-call]
        except BaseException:
            self.connect_failures += 1
            raise
        self.connection_pool.track(self)

    async def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        self.connection_pool.refresh_if_due()
        await super().send_packed_command(command, check_health=check_health)


class _SentinelSslConnection(_SentinelConnection, aioredis.SSLConnection):
    pass


class SentinelStorePool(SentinelConnectionPool, StorePool):
    """A StorePool (blocking, recovering connections) whose connections go to the primary the
    sentinels name, and that follows the primary when it changes (module docstring)."""

    def __init__(self, service_name: str, sentinel_manager: Sentinel, **kwargs: Any) -> None:
        kwargs["connection_class"] = _SentinelSslConnection if kwargs.pop("ssl", False) else _SentinelConnection
        super().__init__(service_name, sentinel_manager, **kwargs)  # type: ignore[no-untyped-call]
        self._connected: weakref.WeakSet[Any] = weakref.WeakSet()
        self._next_refresh = 0.0
        self._refresh: asyncio.Task[None] | None = None

    def track(self, connection: Any) -> None:
        self._connected.add(connection)

    def refresh_if_due(self) -> None:
        now = time.monotonic()
        if now < self._next_refresh or (self._refresh is not None and not self._refresh.done()):
            return
        self._next_refresh = now + REFRESH_INTERVAL
        self._refresh = asyncio.get_running_loop().create_task(self._follow_primary())

    async def _follow_primary(self) -> None:
        """Ask the sentinels where the primary is; drop every connection elsewhere."""
        try:
            primary = await self.sentinel_manager.discover_master(self.service_name)
        except Exception:  # noqa: BLE001 - no answer: keep what works; a dead primary shows itself
            return
        self.master_address = primary
        stale = [conn for conn in list(self._connected)
                 if conn.is_connected and (conn.host, conn.port) != tuple(primary)]
        for conn in stale:
            self._connected.discard(conn)
            if conn in self._in_use_connections:
                conn.mark_for_reconnect()  # its command finishes; the pool drops it on release
            else:  # idle in the pool, or the multiplexer's (which fails what it has in flight)
                try:
                    await conn.disconnect(nowait=True)
                except Exception:  # noqa: BLE001 - closing a socket to a node we are leaving
                    pass

    async def aclose(self) -> None:
        if self._refresh is not None:
            self._refresh.cancel()
        await super().aclose()
        await self.sentinel_manager.aclose()


def connect_sentinel(url: str, *, max_connections: int = 64, wait: float = 5.0) -> Any:
    """The store's client for a Sentinel URL (module docstring): redis-py's asyncio client whose
    pool holds at most `max_connections` connections to the current primary (callers beyond
    wait up to `wait` seconds). Raises SentinelUrlError for a bad URL."""
    parts = parse_sentinel_url(url)
    tls = parts["ssl"] if parts["tls"] else {}
    sentinel_kwargs: dict[str, Any] = {
        "socket_connect_timeout": 1.0, "socket_timeout": 1.0,
        "retry": Retry(NoBackoff(), 0),  # no retries with backoff: the next sentinel is asked instead
        "username": parts["sentinel_username"], "password": parts["sentinel_password"],
    }
    if parts["sentinel_tls"]:
        sentinel_kwargs |= {"ssl": True, **parts["ssl"]}
    sentinel = _Sentinels(parts["sentinels"], sentinel_kwargs=sentinel_kwargs)  # type: ignore[no-untyped-call]
    return sentinel.master_for(
        parts["service"],
        redis_class=aioredis.Redis,
        connection_pool_class=SentinelStorePool,
        ssl=parts["tls"],
        **tls,
        db=parts["db"],
        username=parts["username"],
        password=parts["password"],
        **pool_options(max_connections=max_connections, wait=wait),
    )
