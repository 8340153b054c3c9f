"""The endpoints `tessera login` and `tessera credential-process` call, and the device pages.

    POST /sso/cli/token       code + verifier (the loopback handoff)  -> credentials + refresh token
    POST /sso/cli/refresh     refresh_token                           -> credentials + new refresh token
    POST /sso/device/code     (nothing)                               -> device_code, user_code, ...
    POST /sso/device/token    device_code                             -> credentials + refresh token
    GET  /sso/device          the page where a person enters the user code
    POST /sso/device          the user code (CSRF)                    -> continue to sign in, or deny
    POST /sso/device/deny     the device reference (CSRF)
    GET  /sso/device/complete the picker's redirect after the role choice (device + code)
    GET  /sso/start           where `tessera login` sends the browser: with `provider`, on to that
                              provider's login; without, the sign-in choices; the CLI binding
                              (`cli_port` / `cli_device` + `cli_challenge`) carried along

The JSON endpoints read a small form-encoded body (OAuth style), answer JSON with
`Cache-Control: no-store`, and errors as `{"error", "error_description"}` (RFC 6749 §5.2,
RFC 8628 §3.5 codes). Hostile input gets a 4xx, never a 5xx; a Redis failure is a 503. Every
exit is an audit event (event source `sso.tessera`) with its precise reason, without secrets.
"""
from __future__ import annotations

import datetime
import time
import urllib.parse
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from app.core import errors
from app.core.clock import Clock
from app.core.ids import request_id as new_request_id
from app.core.records import Call, Credentials, RequestMeta
from app.sso import device as devices
from app.sso import pages
from app.sso.csrf import same_origin, token_ok
from app.sso.handoff import HandoffRefused, HandoffStore, cli_binding, redeem_handoff
from app.sso.refresh import GrantStore, RefreshRefused, SignInMinter, exchange, issue_refresh
from app.wire.query import Outcome, as_aws_error, lower_headers, read_body, request_meta

MAX_FORM = 4096
SOURCE = "sso.tessera"  # the audit events' source, as the browser pages' (app.sso.audit)
CSRF_COOKIE = "tessera_device_csrf"
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
_GRANT_MESSAGES = {
    "refresh_token_reused": "the refresh token was already used, so its sign-in grant is revoked; "
                            "run `tessera login` again",
    "refresh_signin_ended": "the browser sign-in has ended; run `tessera login` again",
}


class Refused(errors.AwsError):
    """A refusal of these endpoints, as the audit log and the metrics see it."""

    code = "InvalidGrant"
    status = 400


@dataclass
class CliDeps:
    handoffs: HandoffStore  # app.store.sso_state.SsoState
    refresh: GrantStore  # app.store.cli_refresh.RefreshGrants
    devices: devices.Grants  # app.store.device_grants.DeviceGrants
    minter: SignInMinter  # app.sso.refresh.SsoMinter over app.services.sso.SsoService
    recorder: Any
    clock: Clock
    public_url: str
    secure_cookies: bool
    choices: Callable[[], Awaitable[Sequence[Any]]]  # app.services.sso_login.SsoLogin.choices


def iso8601(epoch: float) -> str:
    return datetime.datetime.fromtimestamp(int(epoch), tz=datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def credentials_json(c: Credentials) -> dict[str, str]:
    return {"AccessKeyId": c.access_key_id, "SecretAccessKey": c.secret_access_key,
            "SessionToken": c.session_token, "Expiration": iso8601(c.expiration)}


def _grant_answer(credentials: Credentials, role_arn: str, refresh_token: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {"credentials": credentials_json(credentials), "role_arn": role_arn}
    if refresh_token is not None:
        out["refresh_token"] = refresh_token
    return out


async def _form(request: Request) -> dict[str, str]:
    """A small urlencoded body, one value per field (ValidationError otherwise)."""
    body = await read_body(request, MAX_FORM)
    try:
        pairs = urllib.parse.parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False,
                                       max_num_fields=16)
    except (UnicodeDecodeError, ValueError):
        raise errors.ValidationError("the request body must be a small application/x-www-form-urlencoded form") from None
    out: dict[str, str] = {}
    for key, value in pairs:
        if key in out:
            raise errors.ValidationError(f"the field `{key[:40]}` is given more than once")
        out[key] = value
    return out


class _Exchange:
    """One request of the JSON endpoints: its metadata, and its audit event on every exit."""

    def __init__(self, deps: CliDeps, request: Request, action: str) -> None:
        self.deps, self.request, self.action = deps, request, action
        self.rid = new_request_id()
        self.started = time.perf_counter()
        self.meta: RequestMeta = request_meta(request.scope, lower_headers(request.scope["headers"]), self.rid,
                                              deps.clock.time(), None)

    def client(self) -> str:
        return self.meta.source_ip or "unknown"

    def ok(self, body: dict[str, Any], audit: dict[str, Any]) -> JSONResponse:
        self.deps.recorder.record(Outcome(self.rid, SOURCE, self.action, 200, self.started, self.meta, None,
                                          None, audit, None))
        return JSONResponse(body, headers={**_NO_STORE, "x-amzn-RequestId": self.rid})

    def error(self, error: str, description: str, reason: str, status: int = 400) -> JSONResponse:
        exc = Refused(description, reason=reason)
        self.deps.recorder.record(Outcome(self.rid, SOURCE, self.action, status, self.started, self.meta, None,
                                          None, None, exc))
        return JSONResponse({"error": error, "error_description": description}, status_code=status,
                            headers={**_NO_STORE, "x-amzn-RequestId": self.rid})

    def failure(self, failure: Exception) -> JSONResponse:
        exc = as_aws_error(failure, self.rid, self.action)
        self.deps.recorder.record(Outcome(self.rid, SOURCE, self.action, exc.status, self.started, self.meta, None,
                                          None, None, exc))
        if exc.status == 503:
            error = "temporarily_unavailable"
        elif exc.status >= 500:
            error = "server_error"
        elif isinstance(exc, (errors.AccessDenied, errors.ExpiredTokenException)):
            error = "access_denied"
        else:
            error = "invalid_request"
        return JSONResponse({"error": error, "error_description": exc.message}, status_code=exc.status,
                            headers={**_NO_STORE, "x-amzn-RequestId": self.rid})


async def _token(deps: CliDeps, request: Request) -> Response:
    ex = _Exchange(deps, request, "CliToken")
    try:
        form = await _form(request)
        try:
            handoff = await redeem_handoff(deps.handoffs, form.get("code", ""), form.get("verifier", ""))
        except HandoffRefused as refused:
            return ex.error("invalid_grant", "the code is unknown, used or expired, or the verifier does not "
                            "match; run `tessera login` again", refused.reason)
        token = None
        if handoff.signin_expires_at > deps.clock.time():
            token = await issue_refresh(deps.refresh, signin_handle=handoff.signin_id, role_arn=handoff.role_arn,
                                        until=handoff.signin_expires_at)
        answer = _grant_answer(handoff.credentials, handoff.role_arn, token)
        return ex.ok(answer, {"role_arn": handoff.role_arn, "credentials": handoff.credentials})
    except Exception as failure:  # noqa: BLE001 - every failure is an answer, never a crash
        return ex.failure(failure)


async def _refresh(deps: CliDeps, request: Request) -> Response:
    ex = _Exchange(deps, request, "CliRefresh")
    try:
        form = await _form(request)
        try:
            renewed = await exchange(deps.refresh, deps.minter, Call(None, ex.meta), form.get("refresh_token", ""))
        except RefreshRefused as refused:
            return ex.error("invalid_grant", _GRANT_MESSAGES.get(
                refused.reason, "the refresh token is unknown or expired; run `tessera login` again"), refused.reason)
        answer = _grant_answer(renewed.credentials, renewed.role_arn, renewed.refresh_token)
        return ex.ok(answer, {"role_arn": renewed.role_arn, "credentials": renewed.credentials})
    except Exception as failure:  # noqa: BLE001
        return ex.failure(failure)


async def _device_code(deps: CliDeps, request: Request) -> Response:
    ex = _Exchange(deps, request, "DeviceAuthorization")
    try:
        await _form(request)
        auth = await devices.authorize(deps.devices, ex.client(), deps.clock.time())
        uri = f"{deps.public_url}/sso/device"
        return ex.ok({"device_code": auth.device_code, "user_code": auth.user_code, "verification_uri": uri,
                      "expires_in": auth.expires_in, "interval": auth.interval}, {"verification_uri": uri})
    except devices.DeviceError as refused:
        return ex.error(refused.error, refused.description, refused.reason, refused.status)
    except Exception as failure:  # noqa: BLE001
        return ex.failure(failure)


async def _device_token(deps: CliDeps, request: Request) -> Response:
    ex = _Exchange(deps, request, "DeviceToken")
    try:
        form = await _form(request)
        delivered = await devices.poll(deps.devices, deps.refresh, form.get("device_code", ""), deps.clock.time())
        answer = _grant_answer(delivered.credentials, delivered.role_arn, delivered.refresh_token)
        return ex.ok(answer, {"role_arn": delivered.role_arn, "credentials": delivered.credentials})
    except devices.DeviceError as refused:
        return ex.error(refused.error, refused.description, refused.reason, refused.status)
    except Exception as failure:  # noqa: BLE001
        return ex.failure(failure)


# ---- the device pages ----
def _csrf_cookie(request: Request) -> str | None:
    value = request.cookies.get(CSRF_COOKIE)
    return value if value and len(value) <= 64 else None


def _device_page(deps: CliDeps, step: str, *, status: int = 200, **context: Any) -> Response:
    from app.core import ids

    token = ids.urlsafe_token(32)
    values = {"step": step, "csrf": token, "signin": None, "problem": None, "continue_url": None,
              "reference": None, "role_arn": None, **context}
    response = pages.render("device.html", values, status=status)
    cookie = f"{CSRF_COOKIE}={token}; Path=/sso/device; HttpOnly; SameSite=Strict; Max-Age=1800"
    response.headers.append("Set-Cookie", cookie + ("; Secure" if deps.secure_cookies else ""))
    return response


def _audit_page(deps: CliDeps, request: Request, action: str, status: int, reason: str | None,
                message: str = "") -> None:
    ex = _Exchange(deps, request, action)
    exc = Refused(message, reason=reason) if reason else None
    deps.recorder.record(Outcome(ex.rid, SOURCE, action, status, ex.started, ex.meta, None, None, None, exc))


async def _device_form(deps: CliDeps, request: Request) -> Response:
    return _device_page(deps, "enter")


async def _device_submit(deps: CliDeps, request: Request) -> Response:
    try:
        form = await _form(request)
        forged = _forged(deps, request, form, "DeviceVerify", "The form expired; enter the code again.")
        if forged is not None:
            return forged
        client = request.client.host if request.client else "unknown"
        try:
            binding = await devices.enter_user_code(deps.devices, form.get("user_code", ""), client)
        except devices.DeviceError as refused:
            _audit_page(deps, request, "DeviceVerify", refused.status, refused.reason, refused.description)
            return _device_page(deps, "enter", status=refused.status, problem=refused.description[:1].upper()
                                + refused.description[1:] + ".")
        _audit_page(deps, request, "DeviceVerify", 200, None)
        query = urllib.parse.urlencode(binding.to_record())
        return _device_page(deps, "confirm", continue_url=f"/sso/start?{query}", reference=binding.device)
    except Exception as failure:  # noqa: BLE001 - a page, never a crash
        return _page_failure(deps, request, "DeviceVerify", failure)


async def _device_deny(deps: CliDeps, request: Request) -> Response:
    try:
        form = await _form(request)
        forged = _forged(deps, request, form, "DeviceDeny", "The form expired; nothing was changed.")
        if forged is not None:
            return forged
        denied = await devices.deny(deps.devices, form.get("device", ""))
        _audit_page(deps, request, "DeviceDeny", 200 if denied else 400, None if denied else "device_not_pending")
        return _device_page(deps, "denied" if denied else "enter", status=200 if denied else 400,
                            problem=None if denied else "That request has already finished or expired.")
    except Exception as failure:  # noqa: BLE001
        return _page_failure(deps, request, "DeviceDeny", failure)


async def _device_complete(deps: CliDeps, request: Request) -> Response:
    try:
        reference = request.query_params.get("device", "")[:64]
        code = request.query_params.get("code", "")[:64]
        try:
            role_arn = await devices.complete(deps.devices, deps.handoffs, reference, code)
        except devices.DeviceError as refused:
            _audit_page(deps, request, "DeviceComplete", 400, refused.reason, refused.description)
            return pages.message("Device sign-in", "The device sign-in could not be completed.",
                                 refused.description[:1].upper() + refused.description[1:] + ".")
        _audit_page(deps, request, "DeviceComplete", 200, None)
        return _device_page(deps, "done", role_arn=role_arn)
    except Exception as failure:  # noqa: BLE001
        return _page_failure(deps, request, "DeviceComplete", failure)


def _forged(deps: CliDeps, request: Request, form: dict[str, str], action: str, problem: str) -> Response | None:
    """CSRF: None when the form's token equals its cookie's (SameSite=Strict, HttpOnly) and the
    browser does not say the post comes from another site; else the refusal page."""
    cookie = _csrf_cookie(request)
    headers = lower_headers(request.scope["headers"])
    if cookie is not None and token_ok(cookie, form.get("csrf")) and same_origin(headers, deps.public_url):
        return None
    _audit_page(deps, request, action, 403, "device_csrf")
    return _device_page(deps, "enter", status=403, problem=problem)


def _page_failure(deps: CliDeps, request: Request, action: str, failure: Exception, *,
                  title: str = "Device sign-in") -> Response:
    exc = as_aws_error(failure, "page", action)
    _audit_page(deps, request, action, exc.status, exc.reason, exc.message)
    if exc.status == 503:
        return pages.message(title, "The service is temporarily unavailable.", "Try again in a moment.", status=503)
    return pages.message(title, "That request could not be served.", exc.message, status=exc.status)


async def _start(deps: CliDeps, request: Request) -> Response:
    """GET /sso/start: on to the login of `provider`, or the sign-in choices, binding kept."""
    try:
        query = request.query_params
        if len(request.scope.get("query_string", b"")) > 1024 or any(len(v) > 128 for v in query.values()):
            raise errors.ValidationError("the sign-in address is too long", reason="sso_start_query")
        try:
            binding = cli_binding(query)
        except ValueError as bad:
            raise errors.ValidationError(str(bad), reason="sso_cli_invalid") from None
        suffix = f"?{urllib.parse.urlencode(binding.to_record())}" if binding else ""
        choices = [replace(c, url=f"{c.url}{suffix}") for c in await deps.choices()]
        provider = query.get("provider")
        if provider:
            for choice in choices:
                if choice.url.split("/")[3] == urllib.parse.quote(provider, safe=""):
                    return pages.redirect(choice.url)
            raise errors.NoSuchEntity(f"there is no sign-in named `{provider}`; choose one of those listed at "
                                      f"{deps.public_url}/sso", reason="sso_start_unknown_provider")
        return pages.render("signin.html", {"signin": None, "choices": choices, "public_url": deps.public_url,
                                            "iam_link": f"/sso/iam{suffix}"})
    except Exception as failure:  # noqa: BLE001 - a page, never a crash
        return _page_failure(deps, request, "StartSignIn", failure, title="Sign in")


def routes(deps: CliDeps) -> list[Route]:
    def bind(handler: Callable[[CliDeps, Request], Awaitable[Response]]) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            return await handler(deps, request)

        return endpoint

    return [
        Route("/sso/cli/token", bind(_token), methods=["POST"]),
        Route("/sso/cli/refresh", bind(_refresh), methods=["POST"]),
        Route("/sso/device/code", bind(_device_code), methods=["POST"]),
        Route("/sso/device/token", bind(_device_token), methods=["POST"]),
        Route("/sso/device", bind(_device_form), methods=["GET"]),
        Route("/sso/device", bind(_device_submit), methods=["POST"]),
        Route("/sso/device/deny", bind(_device_deny), methods=["POST"]),
        Route("/sso/device/complete", bind(_device_complete), methods=["GET"]),
        Route("/sso/start", bind(_start), methods=["GET"]),
    ]
