"""The hot path's Redis client: one connection shared by every request, commands pipelined.

Redis answers the commands of one connection in the order it received them, so commands
from any number of concurrent requests can be written to a single socket as they come and
each reply handed to the next waiting caller. Per command this costs one packed write
(coalesced per event-loop iteration) and one parsed reply (hiredis): a few microseconds,
against ~20 µs per command through redis-py's pipelines (pool checkout, locks, a timeout
context per call) and ~70 µs unbatched.

Semantics are redis-py's for the three commands the hot path uses (`get`, `mget`, `set`):
`decode_responses=True`, SET answers True or None, an error reply raises `ResponseError`
for that command only. Failure is never silent: a refused connection, a dropped one or a
command unanswered within `timeout` seconds fails every command in flight with redis-py's
`ConnectionError` / `TimeoutError` (which the wire maps to ServiceUnavailable), and the
next command connects again.
"""
from __future__ import annotations

import asyncio
import collections
import time
from typing import Any

import hiredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

_SET_FLAGS = {"nx": b"NX", "xx": b"XX"}
_SET_VALUES = {"px": b"PX", "pxat": b"PXAT", "ex": b"EX", "exat": b"EXAT"}


def pack(*args: str | bytes | int) -> bytes:
    """One command in RESP: an array of bulk strings."""
    out = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = arg.encode() if type(arg) is str else arg if type(arg) is bytes else str(arg).encode()
        out.append(b"$%d\r\n%b\r\n" % (len(data), data))
    return b"".join(out)


class _Protocol(asyncio.Protocol):
    def __init__(self, client: "MultiplexedRedis") -> None:
        self._client = client
        self._reader = hiredis.Reader(encoding="utf-8", replyError=ResponseError)
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        if self._client._protocol is not self:
            return  # a dropped connection's late bytes
        reader = self._reader
        reader.feed(data)
        pending = self._client._inflight
        while True:
            try:
                reply = reader.gets()
            except hiredis.ProtocolError:
                self._client._drop(self, RedisConnectionError("protocol error reading from Redis"))
                return
            if reply is False:
                return
            if not pending:  # a reply nobody waits for: the stream can no longer be trusted
                self._client._drop(self, RedisConnectionError("unexpected reply from Redis"))
                return
            future, _, convert = pending.popleft()
            if future.done():  # its caller was cancelled; the reply is consumed all the same
                continue
            if isinstance(reply, ResponseError):
                future.set_exception(reply)
            else:
                future.set_result(convert(reply) if convert is not None else reply)

    def connection_lost(self, exc: Exception | None) -> None:
        self._client._drop(self, RedisConnectionError("the connection to Redis was lost"))


def _ok(reply: Any) -> Any:
    return True if reply == "OK" else reply


class MultiplexedRedis:
    """`get`, `mget` and `set` (redis-py's signatures and answers) over one shared connection."""

    def __init__(self, *, host: str = "127.0.0.1", port: int = 6379, path: str | None = None, db: int = 0,
                 username: str | None = None, password: str | None = None, timeout: float = 5.0,
                 connect_timeout: float = 2.0) -> None:
        self._host, self._port, self._path = host, port, path
        self._hello = self._handshake(db, username, password)
        self._timeout = timeout
        self._connect_timeout = connect_timeout
        self._protocol: _Protocol | None = None
        self._connecting: asyncio.Future[_Protocol] | None = None
        # (future, submitted at, reply conversion), in the order the commands are written
        self._inflight: collections.deque[tuple[asyncio.Future[Any], float, Any]] = collections.deque()
        self._outbox: list[bytes] = []
        self._flush_scheduled = False
        self._watchdog: asyncio.TimerHandle | None = None

    @classmethod
    def like(cls, client: Any, *, timeout: float = 5.0) -> "MultiplexedRedis | None":
        """One for the server a redis-py client points at, or None when it is not a plain TCP
        or Unix-socket connection (TLS, fakeredis): the caller keeps redis-py then."""
        pool = getattr(client, "connection_pool", None)
        kwargs = getattr(pool, "connection_kwargs", None)
        if not isinstance(kwargs, dict) or "ssl_keyfile" in kwargs or "ssl_cert_reqs" in kwargs:
            return None
        name = getattr(getattr(pool, "connection_class", None), "__name__", "")
        if name not in ("Connection", "UnixDomainSocketConnection"):
            return None
        return cls(host=kwargs.get("host", "127.0.0.1"), port=int(kwargs.get("port", 6379)),
                   path=kwargs.get("path") if name == "UnixDomainSocketConnection" else None,
                   db=int(kwargs.get("db", 0) or 0), username=kwargs.get("username"),
                   password=kwargs.get("password"), timeout=timeout,
                   connect_timeout=float(kwargs.get("socket_connect_timeout") or 2.0))

    @staticmethod
    def _handshake(db: int, username: str | None, password: str | None) -> list[bytes]:
        out = []
        if password is not None:
            out.append(pack("AUTH", username, password) if username else pack("AUTH", password))
        if db:
            out.append(pack("SELECT", db))
        return out

    # ---- the commands ----
    def get(self, key: str) -> "asyncio.Future[Any]":
        return self._submit(pack("GET", key), None)

    def mget(self, *keys: str) -> "asyncio.Future[Any]":
        return self._submit(pack("MGET", *keys), None)

    def set(self, key: str, value: str | bytes, **options: Any) -> "asyncio.Future[Any]":
        args: list[str | bytes | int] = ["SET", key, value]
        for name, option in options.items():
            if name in _SET_VALUES:
                if option is not None:
                    args += [_SET_VALUES[name], int(option)]
            elif name in _SET_FLAGS:
                if option:
                    args.append(_SET_FLAGS[name])
            else:
                raise TypeError(f"unsupported SET option `{name}`")
        return self._submit(pack(*args), _ok)

    async def aclose(self) -> None:
        protocol = self._protocol
        if protocol is not None and protocol.transport is not None:
            protocol.transport.close()
        self._drop(protocol, RedisConnectionError("the client was closed"))

    # ---- the machinery ----
    def _submit(self, command: bytes, convert: Any) -> "asyncio.Future[Any]":
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._outbox.append(command)
        self._inflight.append((future, time.monotonic(), convert))
        if not self._flush_scheduled:
            self._flush_scheduled = True
            loop.call_soon(self._flush)
        return future

    def _flush(self) -> None:
        self._flush_scheduled = False
        if not self._outbox:
            return
        if self._connecting is not None:
            return  # written once connected
        protocol = self._protocol
        if protocol is None or protocol.transport is None or protocol.transport.is_closing():
            self._connecting = asyncio.ensure_future(self._connect())
            return  # written once connected
        self._write(protocol)

    def _write(self, protocol: _Protocol) -> None:
        batch, self._outbox = self._outbox, []
        assert protocol.transport is not None
        protocol.transport.writelines(batch)
        if self._watchdog is None:
            self._watchdog = asyncio.get_running_loop().call_later(self._timeout, self._check)

    async def _connect(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            if self._path is not None:
                connecting = loop.create_unix_connection(lambda: _Protocol(self), self._path)
            else:
                connecting = loop.create_connection(lambda: _Protocol(self), self._host, self._port)
            _, protocol = await asyncio.wait_for(connecting, self._connect_timeout)
        except (OSError, asyncio.TimeoutError) as exc:
            self._connecting = None
            self._fail_all(RedisConnectionError(f"cannot connect to Redis: {type(exc).__name__}"))
            return
        self._protocol = protocol
        if self._hello:  # AUTH / SELECT answered OK before any queued command is written
            hello = [loop.create_future() for _ in self._hello]
            now = time.monotonic()
            for i, future in enumerate(hello):
                self._inflight.insert(i, (future, now, None))
            assert protocol.transport is not None
            protocol.transport.writelines(self._hello)
            try:
                await asyncio.wait_for(asyncio.gather(*hello), self._connect_timeout)
            except Exception as exc:  # noqa: BLE001 - an error reply, a drop or a timeout
                self._connecting = None
                self._drop(protocol, RedisConnectionError(
                    f"Redis refused the connection handshake (AUTH/SELECT): {type(exc).__name__}"))
                return
        self._connecting = None
        if self._outbox:
            self._write(protocol)

    def _check(self) -> None:
        """The watchdog: a command unanswered for `timeout` seconds fails every one in flight
        (replies come in order, so the oldest waiting command is the first)."""
        self._watchdog = None
        if not self._inflight:
            return
        age = time.monotonic() - self._inflight[0][1]
        if age >= self._timeout:
            self._drop(self._protocol, RedisTimeoutError(f"Redis did not answer within {self._timeout:g} s"))
        else:
            self._watchdog = asyncio.get_running_loop().call_later(self._timeout - age, self._check)

    def _drop(self, protocol: _Protocol | None, exc: Exception) -> None:
        if protocol is not None and protocol is not self._protocol:
            return  # an older connection's late news
        self._protocol = None
        if protocol is not None and protocol.transport is not None and not protocol.transport.is_closing():
            protocol.transport.abort()
        self._fail_all(exc)

    def _fail_all(self, exc: Exception) -> None:
        inflight, self._inflight, self._outbox = self._inflight, collections.deque(), []
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        for future, _, _ in inflight:
            if not future.done():
                future.set_exception(exc)
