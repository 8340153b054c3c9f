"""A stand-in request with the web identity request's shape and none of its work: the tail's
reference for bench_oidc_http.py `--reference`.

Served by uvicorn exactly as `tessera serve` is (httptools, uvloop, one worker, pinned), it
answers `POST /` the way AssumeRoleWithWebIdentity's request path is laid out: CPU, one Redis
MGET, CPU, one Redis SET of a 1 KB value, CPU, then a 1 KB XML answer. The Redis commands go
through Tessera's own multiplexed client (app.store.multiplex) on `REFERENCE_REDIS_URL`; the
CPU is a fixed amount of interpreter work (a counted loop, not a wait for a time: a slower
moment of the machine must make it slower, as it makes Tessera's work slower), split 20% / 55%
/ 25% around the two round trips (about how Tessera's own request splits, measured in process).
`POST /cost?us=N` sets the work per request to about N µs (as timed at start-up), so the
benchmark can match the reference's request rate to Tessera's: at the same rate on the same
machine, what p99 does a server with nothing but this shape get?
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # app (the multiplexer)

SPLIT = (0.20, 0.55, 0.25)
BODY = b"<Reference>" + b"x" * 1024 + b"</Reference>"
HEADERS = [(b"content-type", b"text/xml"), (b"content-length", str(len(BODY)).encode())]
VALUE = b"v" * 1024


class ReferenceApp:
    def __init__(self, redis_url: str) -> None:
        self._url = redis_url
        self._redis: Any = None
        self._mux: Any = None
        self._per_us = _loops_per_us()
        self._chunks = self._split(200.0)
        self._n = 0

    def _split(self, us: float) -> tuple[int, ...]:
        return tuple(int(us * part * self._per_us) for part in SPLIT)

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif scope["type"] == "http":
            if scope["path"] == "/cost":
                await self._set_cost(scope, send)
            else:
                await self._request(receive, send)

    async def _lifespan(self, receive: Any, send: Any) -> None:
        from app.bootstrap import multiplexer
        from app.store.connection import connect

        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self._redis = connect(self._url)
                self._mux = multiplexer(self._redis)
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self._redis.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _set_cost(self, scope: dict, send: Any) -> None:
        query = dict(p.split("=", 1) for p in scope["query_string"].decode().split("&") if "=" in p)
        self._chunks = self._split(float(query["us"]))
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def _request(self, receive: Any, send: Any) -> None:
        more = True
        while more:
            more = (await receive()).get("more_body", False)
        a, b, c = self._chunks
        self._n += 1
        _spin(a)
        await self._mux.mget("reference:epoch", "reference:other")
        _spin(b)
        await self._mux.set(f"reference:session:{self._n % 4096}", VALUE, ex=600)
        _spin(c)
        await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
        await send({"type": "http.response.body", "body": BODY})


def _spin(loops: int) -> int:
    total = 0
    for i in range(loops):
        total += i & 7
    return total


def _loops_per_us() -> float:
    """Loops of `_spin` per µs on this machine (the fastest of five timings)."""
    best = min(_timed(200_000) for _ in range(5))
    return 200_000 / (best * 1e6)


def _timed(loops: int) -> float:
    start = time.perf_counter()
    _spin(loops)
    return time.perf_counter() - start


def command(port: int) -> list[str]:
    """The reference served as `tessera serve` serves Tessera (app.cli.serve)."""
    return [sys.executable, "-m", "uvicorn", "reference_app:app", "--app-dir", str(Path(__file__).parent),
            "--host", "127.0.0.1", "--port", str(port), "--workers", "1", "--http", "httptools",
            "--loop", "uvloop", "--lifespan", "on", "--log-level", "warning", "--no-access-log"]


app = ReferenceApp(os.environ.get("REFERENCE_REDIS_URL", "redis://127.0.0.1:6379/13"))
