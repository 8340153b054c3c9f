"""The ASGI application: routes only; everything it uses is built by `app.bootstrap`."""
from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from app.core import errors
from app.core.clock import Clock
from app.core.ids import request_id as new_request_id
from app.core.records import Call
from app.wire.dispatch import Dispatcher
from app.wire.query import (
    Outcome,
    QueryEndpoint,
    QueryFastPath,
    as_aws_error,
    lower_headers,
    read_body,
    request_meta,
)

SIMULATE_MAX_BODY = 512 * 1024


@dataclass
class WireDeps:
    codec: Any
    verifier: Any
    authenticator: Any
    authorizer: Any
    dispatcher: Dispatcher
    recorder: Any
    metrics: Any
    clock: Clock
    ready: Callable[[], Awaitable[bool]]
    simulate: Callable[[dict[str, Any]], dict[str, Any]]
    startup: Callable[[], Awaitable[None]] | None = None
    shutdown: Callable[[], Awaitable[None]] | None = None
    routes: Sequence[BaseRoute] = ()  # more edges (the browser sign-in pages: app.sso.routes)


def create_app(deps: WireDeps) -> QueryFastPath:
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if deps.startup is not None:
            await deps.startup()
        try:
            yield
        finally:
            if deps.shutdown is not None:
                await deps.shutdown()

    app = FastAPI(title="Tessera", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    query = QueryEndpoint(
        codec=deps.codec,
        verifier=deps.verifier,
        authenticator=deps.authenticator,
        dispatcher=deps.dispatcher,
        recorder=deps.recorder,
        clock=deps.clock,
    )

    async def healthz(_: Request) -> Response:
        return PlainTextResponse("ok\n")

    async def readyz(_: Request) -> Response:
        try:
            ok = await deps.ready()
        except Exception:  # noqa: BLE001 - any store failure means not ready
            ok = False
        return PlainTextResponse("ready\n" if ok else "store unreachable\n", status_code=200 if ok else 503)

    async def metrics(_: Request) -> Response:
        return PlainTextResponse(deps.metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")

    async def simulate(request: Request) -> Response:
        return await _simulate(deps, request)

    # `/` is served by the raw ASGI QueryEndpoint in front of FastAPI (QueryFastPath): it
    # reads the raw bytes SigV4 needs and skips the routing and middleware layers.
    app.router.routes.extend(
        [
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
            Route("/metrics", metrics, methods=["GET"]),
            Route("/v1/simulate", simulate, methods=["POST"]),
            *deps.routes,
        ]
    )
    return QueryFastPath(query, app)


async def _simulate(deps: WireDeps, request: Request) -> Response:
    """`POST /v1/simulate`: SigV4 (service iam), authorized as iam:SimulateCustomPolicy."""
    started = time.perf_counter()
    rid = new_request_id()
    caller = None
    meta = None
    try:
        body = await read_body(request, SIMULATE_MAX_BODY)
        headers = lower_headers(request.scope["headers"])
        signed = deps.verifier.parse(
            method=request.method,
            raw_path="/v1/simulate",
            raw_query=request.url.query,
            headers=headers,
            body=body,
            expected_service="iam",
        )
        caller = await deps.authenticator.authenticate(signed)
        meta = request_meta(request.scope, headers, rid, deps.clock.time(), signed.region)
        await deps.authorizer.require(Call(caller, meta), "iam:SimulateCustomPolicy", "*")
        try:
            document = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise errors.ValidationError("the request body is not valid JSON") from None
        if not isinstance(document, dict):
            raise errors.ValidationError("the request body must be a JSON object")
        answer = deps.simulate(document)
        deps.recorder.record(Outcome(rid, "iam", "Simulate", 200, started, meta, caller, None, None, None))
        return JSONResponse(answer, headers={"x-amzn-RequestId": rid})
    except Exception as failure:  # noqa: BLE001 - every failure becomes an AWS error, never a crash
        exc = as_aws_error(failure, rid, "Simulate")
        deps.recorder.record(Outcome(rid, "iam", "Simulate", exc.status, started, meta, caller, None, None, exc))
        return JSONResponse(
            {"Error": {"Code": exc.code, "Message": exc.message, "Type": "Sender" if exc.sender else "Receiver"}, "RequestId": rid},
            status_code=exc.status,
            headers={"x-amzn-RequestId": rid},
        )
