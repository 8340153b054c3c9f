"""A TCP relay in front of the tests' Redis that kills the connections it relays the ways a
Redis restart or failover kills them, for the store's recovery tests."""
from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from dataclasses import dataclass

from tests.redis_target import HOSTPORT


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with a reset (RST), not an orderly close (FIN)."""
    sock = writer.get_extra_info("socket")
    if sock is not None and sock.fileno() >= 0:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


@dataclass
class _Pipe:
    client: asyncio.StreamWriter
    upstream: asyncio.StreamWriter
    mode: str = "relay"


class FaultyProxy:
    """`async with FaultyProxy() as proxy:` relays `proxy.url(db)` to the tests' Redis.

    Faults apply to the connections open at the time; later connections are relayed normally:
    - `close_all()`: the server closes them (FIN), as a Redis shutdown does;
    - `reset_all()`: they are reset (RST), as a crash with unread data or a firewall does;
    - `vanish()`: nothing arrives, until the client sends: then a reset, as from a host that came
      back without the connection's state (the client cannot know before it writes);
    - `swallow_replies()`: the client's next bytes reach Redis and run; Redis' answer does not
      reach the client, whose connection is reset instead (a server lost after it ran EXEC).
    """

    def __init__(self) -> None:
        host, _, port = HOSTPORT.rpartition(":")
        self._target = (host, int(port))
        self._server: asyncio.AbstractServer | None = None
        self._pipes: list[_Pipe] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self.accepted = 0  # connections the clients opened through the proxy
        self.refuse = False  # accept, then close at once: a server that is not there

    async def __aenter__(self) -> "FaultyProxy":
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for pipe in self._pipes:
            pipe.client.transport.abort()
            pipe.upstream.transport.abort()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def url(self, db: int) -> str:
        assert self._server is not None
        return f"redis://127.0.0.1:{self._server.sockets[0].getsockname()[1]}/{db}"

    # ---- faults ----
    def close_all(self) -> None:
        for pipe in self._take_pipes():
            pipe.client.close()
            pipe.upstream.close()

    def reset_all(self) -> None:
        for pipe in self._take_pipes():
            _reset(pipe.client)
            pipe.upstream.close()

    def vanish(self) -> None:
        for pipe in self._pipes:
            pipe.mode = "vanish"

    def swallow_replies(self) -> None:
        for pipe in self._pipes:
            pipe.mode = "swallow"

    def _take_pipes(self) -> list[_Pipe]:
        pipes, self._pipes = self._pipes, []
        return pipes

    # ---- relaying ----
    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        if self.refuse:
            writer.close()
            return
        up_reader, up_writer = await asyncio.open_connection(*self._target)
        pipe = _Pipe(writer, up_writer)
        self._pipes.append(pipe)
        relays = (self._relay(pipe, reader, pipe.upstream, fault="vanish"),
                  self._relay(pipe, up_reader, pipe.client, fault="swallow"))
        for relay in relays:
            task = asyncio.ensure_future(relay)
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _relay(self, pipe: _Pipe, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *,
                     fault: str) -> None:
        """Copy one direction; in mode `fault`, reset the client instead of passing bytes on."""
        with contextlib.suppress(ConnectionError, OSError):
            while data := await reader.read(65536):
                if pipe.mode == fault:
                    _reset(pipe.client)
                    pipe.upstream.close()
                    return
                writer.write(data)
                await writer.drain()
        writer.close()
