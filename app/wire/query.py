"""The AWS Query endpoint (`POST /` and `GET /`): one straight path per request.

body (capped) -> parameters -> operation -> SigV4 -> caller -> decoded input -> service
-> XML. Every exit path renders AWS's XML, counts a metric and writes an audit event.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any, Protocol

import redis.exceptions
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from app.core import errors
from app.core.clock import Clock
from app.core.ids import request_id as new_request_id
from app.core.records import Call, Caller, RequestMeta
from app.wire.codec import parse_form
from app.wire.dispatch import Dispatcher

MAX_BODY = 1024 * 1024
UNSIGNED = frozenset({"AssumeRoleWithSAML", "AssumeRoleWithWebIdentity"})
_log = logging.getLogger("tessera.wire")


class Authenticator(Protocol):
    async def authenticate(self, req: Any) -> Caller: ...


class Recorder(Protocol):
    """Metrics + audit + access log for one finished request (wire/observe.py)."""

    def record(self, outcome: "Outcome") -> None: ...


@dataclass(slots=True)
class Outcome:
    request_id: str
    service: str
    action: str
    status: int
    started: float
    meta: RequestMeta | None
    caller: Caller | None
    params: dict[str, Any] | None
    result: Any
    error: errors.AwsError | None


class BodyTooLarge(errors.RequestEntityTooLarge):
    pass


def declared_length(headers: list[tuple[bytes, bytes]], limit: int) -> None:
    """Refuse (413) before reading when Content-Length announces more than `limit` bytes."""
    for name, value in headers:
        if name.lower() == b"content-length":
            if not value.isdigit():
                raise errors.ValidationError("the Content-Length header is not a number")
            if int(value) > limit:
                raise BodyTooLarge(f"request body of {int(value)} bytes exceeds the limit of {limit} bytes")


async def receive_body(receive: Receive, limit: int = MAX_BODY) -> bytes:
    """The raw body from the ASGI channel, refused (413) once it exceeds `limit` bytes."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise errors.ValidationError("the client closed the connection before the body was complete")
        chunk = message.get("body", b"")
        if chunk:
            size += len(chunk)
            if size > limit:
                raise BodyTooLarge(f"request body exceeds the limit of {limit} bytes")
            chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def read_body(request: Request, limit: int = MAX_BODY) -> bytes:
    """The same cap for Starlette routes (`/v1/simulate`)."""
    declared_length(request.scope["headers"], limit)
    return await receive_body(request.receive, limit)


def as_aws_error(exc: Exception, rid: str, action: str) -> errors.AwsError:
    """The AWS error a failure is answered with: its own code for an AwsError, 503 when the
    store is unreachable, else InternalFailure (logged with the request id; never the
    exception's text, which may quote request data)."""
    if isinstance(exc, errors.AwsError):
        return exc
    if isinstance(exc, (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, ConnectionError, OSError)):
        _log.warning("store unavailable: %s", type(exc).__name__)
        return errors.ServiceUnavailable("the service is temporarily unavailable; retry later", reason="store_unavailable")
    _log.error("internal failure request_id=%s action=%s", rid, action, exc_info=exc)
    return errors.InternalFailure(
        "an internal error occurred; the request id identifies it in the server log", reason="internal_failure"
    )


def request_meta(scope: Scope, headers: dict[str, str], rid: str, now: float, region: str | None) -> RequestMeta:
    """The request facts that feed the policy request context."""
    client = scope.get("client")
    return RequestMeta(
        request_id=rid,
        received_at=now,
        source_ip=client[0] if client else None,
        secure_transport=scope.get("scheme") == "https",
        region=region,
        user_agent=headers.get("user-agent"),
    )


class QueryEndpoint:
    """A raw ASGI app: the hot path skips the framework's routing and middleware layers
    (FastAPI's middleware stack halves a worker's request rate), everything else is served
    by the FastAPI application behind `QueryFastPath`."""

    def __init__(
        self,
        *,
        codec: Any,
        verifier: Any,
        authenticator: Authenticator,
        dispatcher: Dispatcher,
        recorder: Recorder,
        clock: Clock,
    ) -> None:
        self._codec = codec
        self._verifier = verifier
        self._authn = authenticator
        self._dispatch = dispatcher
        self._recorder = recorder
        self._clock = clock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        status, payload, rid = await self.respond(scope, receive)
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"text/xml"),
                    (b"content-length", str(len(payload)).encode()),
                    (b"x-amzn-requestid", rid.encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})

    async def respond(self, scope: Scope, receive: Receive) -> tuple[int, bytes, str]:
        started = time.perf_counter()
        rid = new_request_id()
        service, action = "sts", "Unknown"
        caller: Caller | None = None
        meta: RequestMeta | None = None
        params: dict[str, Any] | None = None
        try:
            raw_headers: list[tuple[bytes, bytes]] = scope["headers"]
            declared_length(raw_headers, MAX_BODY)
            body = await receive_body(receive)
            raw_query = scope.get("query_string", b"").decode("latin-1")
            pairs = parse_form(body, raw_query)
            version, action_name = _action_and_version(pairs)
            if version == "2010-05-08":
                service = "iam"
            op = self._codec.operation(version, action_name)
            service, action = op.service, op.name
            headers = lower_headers(raw_headers)
            region = None
            if action not in UNSIGNED:
                raw_path = scope.get("raw_path") or scope.get("path", "/").encode()
                signed = self._verifier.parse(
                    method=scope["method"],
                    raw_path=raw_path.decode("latin-1").split("?", 1)[0] or "/",
                    raw_query=raw_query,
                    headers=headers,
                    body=body,
                    expected_service=service,
                )
                region = signed.region
                caller = await self._authn.authenticate(signed)
            meta = request_meta(scope, headers, rid, self._clock.time(), region)
            params = op.decode(pairs)
            adapter = self._dispatch.adapter(service, action, op.input_members)
            result = await adapter(Call(caller, meta), params)
            payload = op.encode(result, rid)
            self._recorder.record(Outcome(rid, service, action, 200, started, meta, caller, params, result, None))
            return 200, payload, rid
        except Exception as exc:  # noqa: BLE001 - every failure becomes an AWS error, never a crash
            return self._error(rid, service, action, started, meta, caller, params, as_aws_error(exc, rid, action))

    def _error(
        self,
        rid: str,
        service: str,
        action: str,
        started: float,
        meta: RequestMeta | None,
        caller: Caller | None,
        params: dict[str, Any] | None,
        exc: errors.AwsError,
    ) -> tuple[int, bytes, str]:
        payload = self._codec.error_body(service, exc.code, exc.message, sender=exc.sender, request_id=rid)
        self._recorder.record(Outcome(rid, service, action, exc.status, started, meta, caller, params, None, exc))
        return exc.status, payload, rid


class QueryFastPath:
    """The process's ASGI entry: `GET|POST /` goes straight to the Query endpoint, every
    other path (and the lifespan) to the FastAPI application."""

    def __init__(self, query: QueryEndpoint, app: ASGIApp) -> None:
        self._query = query
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == "/" and scope["method"] in ("GET", "POST"):
            await self._query(scope, receive, send)
        else:
            await self.app(scope, receive, send)


def _action_and_version(pairs: list[tuple[str, str]]) -> tuple[str | None, str | None]:
    version = action = None
    for k, v in pairs:
        if k == "Action":
            action = v
        elif k == "Version":
            version = v
    return version, action


def lower_headers(raw: list[tuple[bytes, bytes]]) -> dict[str, str]:
    out: dict[str, str] = {}
    for k, v in raw:
        name = k.decode("latin-1").lower()
        value = v.decode("latin-1")
        out[name] = f"{out[name]},{value}" if name in out else value
    return out

