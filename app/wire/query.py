"""The AWS Query endpoint (`POST /` and `GET /`): one straight path per request.

body (capped) -> parameters -> operation -> SigV4 -> caller -> decoded input -> service
-> XML. Every exit path renders AWS's XML, counts a metric and writes an audit event.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

import redis.exceptions
from starlette.requests import Request
from starlette.responses import Response

from app.core import errors
from app.core.clock import Clock
from app.core.ids import request_id as new_request_id
from app.core.records import Call, Caller, RequestMeta
from app.wire.dispatch import Dispatcher

MAX_BODY = 1024 * 1024
UNSIGNED = frozenset({"AssumeRoleWithSAML", "AssumeRoleWithWebIdentity"})
_XML = "text/xml"
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


async def read_body(request: Request, limit: int = MAX_BODY) -> bytes:
    """The raw body, refused (413) before parsing when it exceeds `limit` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isascii() or not declared.isdigit():
            raise errors.ValidationError("the Content-Length header is not a number")
        if int(declared) > limit:
            raise BodyTooLarge(f"request body of {declared} bytes exceeds the limit of {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(f"request body exceeds the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


class QueryEndpoint:
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

    async def handle(self, request: Request) -> Response:
        started = time.perf_counter()
        rid = new_request_id()
        service, action = "sts", "Unknown"
        caller: Caller | None = None
        meta: RequestMeta | None = None
        params: dict[str, Any] | None = None
        try:
            body = await read_body(request)
            raw_query = request.url.query
            pairs = self._codec_parse(body, raw_query)
            version, action_name = _action_and_version(pairs)
            if version == "2010-05-08":
                service = "iam"
            op = self._codec.operation(version, action_name)
            service, action = op.service, op.name
            region = None
            if action not in UNSIGNED:
                signed = self._verifier.parse(
                    method=request.method,
                    raw_path=request.scope.get("raw_path", b"/").decode("latin-1").split("?", 1)[0] or "/",
                    raw_query=raw_query,
                    headers=_lower_join(request.scope["headers"]),
                    body=body,
                    expected_service=service,
                )
                region = signed.region
                caller = await self._authn.authenticate(signed)
            meta = RequestMeta(
                request_id=rid,
                received_at=self._clock.time(),
                source_ip=request.client.host if request.client else None,
                secure_transport=request.url.scheme == "https",
                region=region,
                user_agent=request.headers.get("user-agent"),
            )
            params = op.decode(pairs)
            adapter = self._dispatch.adapter(service, action, op.input_members)
            result = await adapter(Call(caller, meta), params)
            payload = op.encode(result, rid)
            self._recorder.record(Outcome(rid, service, action, 200, started, meta, caller, params, result, None))
            return Response(payload, status_code=200, media_type=_XML, headers={"x-amzn-RequestId": rid})
        except errors.AwsError as exc:
            return self._error(rid, service, action, started, meta, caller, params, exc)
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, ConnectionError, OSError) as exc:
            _log.warning("store unavailable: %s", type(exc).__name__)
            err = errors.ServiceUnavailable("the service is temporarily unavailable; retry later", reason="store_unavailable")
            return self._error(rid, service, action, started, meta, caller, params, err)
        except Exception:  # noqa: BLE001 - the last line of defence: never leak, never crash
            _log.exception("internal failure request_id=%s action=%s", rid, action)
            err = errors.InternalFailure("an internal error occurred; the request id identifies it in the server log", reason="internal_failure")
            return self._error(rid, service, action, started, meta, caller, params, err)

    def _codec_parse(self, body: bytes, query: str) -> list[tuple[str, str]]:
        from app.wire.codec import parse_form

        return parse_form(body, query)

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
    ) -> Response:
        payload = self._codec.error_body(service, exc.code, exc.message, sender=exc.sender, request_id=rid)
        self._recorder.record(Outcome(rid, service, action, exc.status, started, meta, caller, params, None, exc))
        return Response(payload, status_code=exc.status, media_type=_XML, headers={"x-amzn-RequestId": rid})


def _action_and_version(pairs: list[tuple[str, str]]) -> tuple[str | None, str | None]:
    version = action = None
    for k, v in pairs:
        if k == "Action":
            action = v
        elif k == "Version":
            version = v
    return version, action


def _lower_join(raw: list[tuple[bytes, bytes]]) -> dict[str, str]:
    out: dict[str, str] = {}
    for k, v in raw:
        name = k.decode("latin-1").lower()
        value = v.decode("latin-1")
        out[name] = f"{out[name]},{value}" if name in out else value
    return out


Handler = Callable[[Request], Awaitable[Response]]
