"""The browser sign-in routes: one handler per step, each a straight path from the request to
a page, a redirect or a refusal, with an audit event on every exit (app.sso.audit).

Inputs are bounded before they are read (bodies, form fields, query values, cookies); every
failure is a page with the refusal's text and an audit reference, never a 5xx for bad input
(a store outage is a 503 page). No secret is put in a URL: credentials are rendered into the
answer of the role choice's POST (never redirected to), the sign-in handle lives in an HttpOnly
cookie, the CSRF token in forms.
"""
from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.core import arn as arns
from app.core import errors, ids
from app.core.clock import Clock
from app.core.records import Call, RequestMeta
from app.services.sso import CliRequest, SignIn, SsoService
from app.services.sso_login import Pending, SsoLogin, display_name
from app.sso import pages, picker
from app.sso.audit import SsoAudit
from app.sso.cookies import FLOW_SECONDS, Cookies
from app.sso.csrf import same_origin, token_ok
from app.sso.handoff import cli_binding
from app.sso.saml_browser import authn_request, redirect_url, sp_metadata
from app.wire.codec.trail import trail_time
from app.wire.query import as_aws_error, lower_headers, read_body, request_meta

MAX_SAML_POST = 400 * 1024  # a 100,000-character SAMLResponse, form-encoded, and RelayState
MAX_CHOICE_POST = 8 * 1024
MAX_QUERY = 4096
MAX_NEXT = 256
_NEXT = re.compile(r"/[A-Za-z0-9/_.~-]*(?:\?[A-Za-z0-9=&_.~%-]*)?")
ACTIONS = {"saml": "AssumeRoleWithSAML", "oidc": "AssumeRoleWithWebIdentity", "iam": "AssumeRole"}
PROTOCOLS = {"saml": "SAML", "oidc": "OpenID Connect", "iam": "password"}


class BadInput(errors.ValidationError):
    """A malformed browser request (400 page)."""


@dataclass
class SsoDeps:
    login: SsoLogin
    sso: SsoService
    audit: SsoAudit
    cookies: Cookies
    clock: Clock
    public_url: str
    entity_id: str
    sp_certificates: tuple[str, ...] = ()
    handoff: picker.Handoff | None = None


def safe_next(path: str | None) -> str | None:
    """A relative path of this service (`/…`, not `//…`, plain characters), else None: RelayState
    and `next` never redirect anywhere else."""
    if not path or len(path) > MAX_NEXT or path.startswith("//") or not _NEXT.fullmatch(path):
        return None
    return path


def parse_cli(query: dict[str, str]) -> CliRequest | None:
    """`cli_port` (or `cli_device`) and `cli_challenge`: a login started by `tessera login`."""
    try:
        binding = cli_binding(query)
    except ValueError as exc:
        raise BadInput(str(exc), reason="sso_cli_invalid") from None
    return CliRequest(binding.port, binding.challenge, binding.device) if binding else None


def _query(request: Request) -> dict[str, str]:
    raw = request.scope.get("query_string", b"")
    if len(raw) > MAX_QUERY:
        raise BadInput("the query string is too long", reason="sso_query_too_long")
    try:
        pairs = urllib.parse.parse_qsl(raw.decode("utf-8"), keep_blank_values=True, max_num_fields=20)
    except (UnicodeDecodeError, ValueError):
        raise BadInput("the query string is not valid", reason="sso_query_invalid") from None
    return _unique(pairs, "query parameter", "sso_query_invalid")


def _unique(pairs: list[tuple[str, str]], what: str, reason: str) -> dict[str, str]:
    """The pairs as a dict; a repeated name is refused (never first-wins or last-wins)."""
    out: dict[str, str] = {}
    for k, v in pairs:
        if k in out:
            raise BadInput(f"the {what} `{k[:32]}` is repeated", reason=reason)
        out[k] = v
    return out


async def _form(request: Request, limit: int) -> dict[str, str]:
    content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        raise BadInput("the form must be sent as application/x-www-form-urlencoded", reason="sso_form_type")
    body = await read_body(request, limit)
    try:
        pairs = urllib.parse.parse_qsl(body.decode("ascii"), keep_blank_values=True, max_num_fields=10)
    except (UnicodeDecodeError, ValueError):
        raise BadInput("the form is not valid", reason="sso_form_invalid") from None
    return _unique(pairs, "form field", "sso_form_invalid")


class SsoPages:
    def __init__(self, deps: SsoDeps) -> None:
        self.d = deps

    # ---- helpers ----
    def _meta(self, request: Request) -> tuple[RequestMeta, dict[str, str]]:
        headers = lower_headers(request.scope["headers"])
        return request_meta(request.scope, headers, ids.request_id(), self.d.clock.time(), None), headers

    def _audit(self, request: Request, name: str, **kw: Any) -> str:
        client = request.scope.get("client")
        return self.d.audit.record(name, now=self.d.clock.time(), source_ip=client[0] if client else None,
                                   user_agent=request.headers.get("user-agent"), **kw)

    def _refused(self, request: Request, name: str, failure: Exception, *, title: str = "Sign-in refused",
                 signin: SignIn | None = None, params: dict[str, Any] | None = None, source: str | None = None,
                 ) -> Response:
        rid = ids.request_id()
        exc = as_aws_error(failure, rid, name)
        extra: dict[str, Any] = {"source": source} if source else {}
        ref = self._audit(request, name, signin=signin, error=exc, params=params, request_id=rid, **extra)
        if isinstance(exc, errors.ServiceUnavailable):
            return pages.message("Try again shortly", "The sign-in service is temporarily unavailable.",
                                 "Please try again in a moment.", status=503, reference=ref)
        status = exc.status if 400 <= exc.status < 500 else 400
        return pages.message(title, exc.message or "The request was refused.", None, status=status, reference=ref,
                             signin=signin)

    async def _end_previous(self, request: Request) -> None:
        """A new sign-in replaces the browser's current one, which ends first: inside the caller's
        `try`, so a store failure is the 503 page with nothing made, never a crash after it."""
        old = self.d.cookies.handle(self.d.cookies.signin_name, request.headers.get("cookie"))
        if old is not None:
            await self.d.sso.end(old)

    async def _signin(self, request: Request) -> tuple[str | None, SignIn | None]:
        handle = self.d.cookies.handle(self.d.cookies.signin_name, request.headers.get("cookie"))
        return handle, (await self.d.sso.signin(handle) if handle else None)

    def _not_signed_in(self, request: Request, name: str) -> Response:
        ref = self._audit(request, name, reason="sso_not_signed_in")
        return pages.message("Not signed in", "You are not signed in, or your sign-in has ended.",
                             "Sign in again to choose a role.", status=401, tone="bad", reference=ref)

    # ---- SAML ----
    async def acs(self, request: Request) -> Response:
        """POST /saml: the assertion consumer (HTTP-POST binding)."""
        params: dict[str, Any] = {"protocol": "saml"}
        try:
            form = await _form(request, MAX_SAML_POST)
            saml = form.get("SAMLResponse")
            if not saml:
                raise BadInput("the form has no SAMLResponse", reason="sso_saml_missing")
            relay = form.get("RelayState")
            signin, pending = await self.d.login.saml_sign_in(saml)
            params.update(flow="sp-initiated" if pending else "idp-initiated", provider=signin.record.arn)
            await self._end_previous(request)
            handle, record = await self.d.sso.create(signin, provider=signin.record.name,
                                                     who=signin.identity.subject[:256],
                                                     cli=pending.cli if pending else None)
        except Exception as failure:  # noqa: BLE001 - every failure is a page, never a crash
            return self._refused(request, "SignIn", failure, params=params)
        self._audit(request, "SignIn", signin=record, params=params)
        target = pending.next_path if pending else safe_next(relay)
        response = pages.redirect(safe_next(target) or "/sso/roles")
        response.headers.append("Set-Cookie", self.d.cookies.set_header(self.d.cookies.signin_name, handle))
        return response

    async def metadata(self, request: Request) -> Response:
        """GET /saml/metadata: this service's SP metadata."""
        body = sp_metadata(entity_id=self.d.entity_id, acs_url=f"{self.d.public_url}/saml",
                           encryption_certificates=self.d.sp_certificates)
        headers = pages.security_headers()
        headers["Cache-Control"] = "public, max-age=300"
        headers["Content-Disposition"] = 'inline; filename="tessera-sp-metadata.xml"'
        return Response(body, media_type="application/samlmetadata+xml", headers=headers)

    async def saml_login(self, request: Request) -> Response:
        """GET /sso/saml/{provider}/login: an AuthnRequest (HTTP-Redirect) to the provider's IdP."""
        provider = str(request.path_params.get("provider", ""))
        params: dict[str, Any] = {"protocol": "saml", "provider": provider[:128]}
        try:
            query = _query(request)
            cli = parse_cli(query)
            next_path = safe_next(query.get("next"))
            sent = await self.d.login.saml_request(provider, Pending(provider, next_path, cli))
            xml = authn_request(sent.request_id, destination=sent.sso_url, acs_url=f"{self.d.public_url}/saml",
                                entity_id=self.d.entity_id, now=self.d.clock.time())
        except Exception as failure:  # noqa: BLE001
            return self._refused(request, "StartSignIn", failure, params=params)
        params["cli"] = cli is not None
        self._audit(request, "StartSignIn", params=params)
        return pages.redirect(redirect_url(sent.sso_url, xml, next_path or "/sso/roles"))

    # ---- OIDC ----
    async def oidc_login(self, request: Request) -> Response:
        """GET /sso/oidc/{provider}/login: to the IdP's authorization endpoint (code + PKCE)."""
        name = str(request.path_params.get("provider", ""))
        params: dict[str, Any] = {"protocol": "oidc", "client": name[:64]}
        flow = ids.urlsafe_token(32)
        try:
            query = _query(request)
            cli = parse_cli(query)
            url = await self.d.login.oidc_request(name, Pending(name, safe_next(query.get("next")), cli), flow)
        except Exception as failure:  # noqa: BLE001
            return self._refused(request, "StartSignIn", failure, params=params)
        params["cli"] = cli is not None
        self._audit(request, "StartSignIn", params=params)
        response = pages.redirect(url)
        response.headers.append("Set-Cookie", self.d.cookies.set_header(self.d.cookies.flow_name, flow,
                                                                         max_age=FLOW_SECONDS))
        return response

    async def oidc_callback(self, request: Request) -> Response:
        """GET /sso/oidc/callback: the code exchanged, the ID token verified, a sign-in made."""
        params: dict[str, Any] = {"protocol": "oidc"}
        cookie = request.headers.get("cookie")
        try:
            query = _query(request)
            if "error" in query:
                await self.d.login.abandon_oidc(query.get("state", ""))
                error = re.sub(r"[^A-Za-z0-9_ .-]", "", query["error"])[:64]
                raise errors.AccessDenied(f"the identity provider did not sign you in ({error or 'error'})",
                                          reason="sso_oidc_idp_error")
            flow = self.d.cookies.handle(self.d.cookies.flow_name, cookie)
            signin, pending = await self.d.login.oidc_sign_in(query.get("state", ""), query.get("code", ""), flow)
            params.update(client=pending.provider, provider=signin.record.arn)
            await self._end_previous(request)
            attributes = signin.identity.attributes
            handle, record = await self.d.sso.create(signin, provider=pending.provider,
                                                     who=display_name(attributes, signin.identity.subject),
                                                     cli=pending.cli)
        except Exception as failure:  # noqa: BLE001
            response = self._refused(request, "SignIn", failure, params=params)
            response.headers.append("Set-Cookie", self.d.cookies.clear_header(self.d.cookies.flow_name))
            return response
        self._audit(request, "SignIn", signin=record, params=params)
        response = pages.redirect(safe_next(pending.next_path) or "/sso/roles")
        response.headers.append("Set-Cookie", self.d.cookies.set_header(self.d.cookies.signin_name, handle))
        response.headers.append("Set-Cookie", self.d.cookies.clear_header(self.d.cookies.flow_name))
        return response

    # ---- the picker ----
    async def home(self, request: Request) -> Response:
        """GET /sso: the ways to sign in."""
        try:
            _, signin = await self._signin(request)
            choices = await self.d.login.choices()
            alias = await self.d.sso.account_alias()
        except Exception as failure:  # noqa: BLE001
            return self._refused(request, "SignInChoices", failure)
        return pages.render("signin.html", {"signin": signin, "choices": choices, "public_url": self.d.public_url,
                                            "account_alias": alias})

    async def roles(self, request: Request) -> Response:
        """GET /sso/roles: the role picker."""
        try:
            _, signin = await self._signin(request)
            if signin is None:
                return self._not_signed_in(request, "ListRoles")
            meta, _ = self._meta(request)
            choices = await self.d.sso.roles(Call(None, meta), signin)
            alias = await self.d.sso.account_alias()
        except Exception as failure:  # noqa: BLE001
            return self._refused(request, "ListRoles", failure, title="Roles unavailable")
        return self._picker(signin, choices, alias)

    def _picker(self, signin: SignIn, choices: Any, alias: str | None = None) -> Response:
        now = self.d.clock.time()
        iso, text, relative = picker.when(signin.expires_at, now)
        provider_label = signin.provider
        targets = (f"http://127.0.0.1:{signin.cli.port}",) if signin.cli and signin.cli.port else ()
        return pages.render("picker.html", {
            "signin": signin, "groups": picker.groups(choices), "provider_label": provider_label,
            "protocol": PROTOCOLS[signin.kind] + (" and MFA" if signin.mfa else ""), "expires_iso": iso,
            "expires_text": text, "expires_in": relative, "public_url": self.d.public_url,
            "account_alias": alias}, form_targets=targets)

    async def choose(self, request: Request) -> Response:
        """POST /sso/roles: mint credentials for the chosen role."""
        signin: SignIn | None = None
        handle: str | None = None
        params: dict[str, Any] = {"channel": "browser"}
        try:
            headers = lower_headers(request.scope["headers"])
            if not same_origin(headers, self.d.public_url):
                raise errors.AccessDenied("this form was posted from another site", reason="sso_cross_site_post")
            handle, signin = await self._signin(request)
            if signin is None or handle is None:
                return self._not_signed_in(request, "ChooseRole")
            form = await _form(request, MAX_CHOICE_POST)
            if not token_ok(signin.csrf, form.get("csrf")):
                raise errors.AccessDenied("the form's security token is missing or does not match your sign-in; "
                                          "reload the page", reason="sso_csrf_mismatch")
            role_arn = form.get("role_arn", "")
            if not role_arn or len(role_arn) > 2048 or arns.parse_role_arn(role_arn) is None:
                raise BadInput("choose a role from the list", reason="sso_role_arn_invalid")
            duration = form.get("duration")
            if duration is not None and not (duration.isascii() and duration.isdigit() and len(duration) <= 6):
                raise BadInput("the session length is not a number of seconds", reason="sso_duration_invalid")
        except Exception as failure:  # noqa: BLE001
            return self._refused(request, "ChooseRole", failure, signin=signin, params=params, title="Not allowed")
        params.update(roleArn=role_arn, principalArn=signin.provider_arn)
        if duration:
            params["durationSeconds"] = int(duration)
        action = ACTIONS[signin.kind]
        meta, _ = self._meta(request)
        try:
            issued = await self.d.sso.assume(Call(None, meta), signin, role_arn, int(duration) if duration else None)
            redirect = (await self.d.handoff.deliver(signin, issued, handle=handle, role_arn=role_arn)
                        if signin.cli and self.d.handoff and handle else None)
        except Exception as failure:  # noqa: BLE001
            return self._refused(request, action, failure, signin=signin, params=params, source="sts.amazonaws.com",
                                 title="Role not available")
        credentials = issued["credentials"]
        assumed = issued["assumed_role_user"]
        self._audit(request, action, signin=signin, params=params, source="sts.amazonaws.com",  # as the API's
                    result={"credentials": {"accessKeyId": credentials.access_key_id,
                                            "expiration": trail_time(credentials.expiration)},
                            "assumedRoleUser": {"assumedRoleId": assumed.assumed_role_id, "arn": assumed.arn}})
        if redirect is not None:
            return pages.redirect(redirect)
        name = role_arn.rsplit("/", 1)[-1]
        iso, text, relative = picker.when(credentials.expiration, self.d.clock.time())
        return pages.render("credentials.html", {
            "signin": signin, "role_name": name, "account": role_arn.split(":")[4],
            "assumed_arn": issued["assumed_role_user"].arn, "expires_iso": iso, "expires_text": text,
            "expires_in": relative, "public_url": self.d.public_url,
            "snippets": picker.snippets(credentials, role_name=name, public_url=self.d.public_url)})

    async def logout(self, request: Request) -> Response:
        """GET /sso/logout: the sign-in record ends, the cookie is cleared."""
        try:
            handle, signin = await self._signin(request)
            if handle is not None:
                await self.d.sso.end(handle)
        except Exception as failure:  # noqa: BLE001
            return self._refused(request, "SignOut", failure)
        self._audit(request, "SignOut", signin=signin, reason=None if signin else "sso_not_signed_in")
        response = pages.message("Signed out", "You are signed out of Tessera.",
                                 "Credentials already issued stay valid until they expire.", status=200, tone="ok")
        response.headers.append("Set-Cookie", self.d.cookies.clear_header(self.d.cookies.signin_name))
        return response


def sso_routes(deps: SsoDeps, pages: SsoPages | None = None) -> list[Route]:
    """The pages' routes; `pages` an SsoPages of more ways to sign in (app.sso.password_routes)."""
    p = pages or SsoPages(deps)
    return [
        Route("/saml", p.acs, methods=["POST"]),
        Route("/saml/metadata", p.metadata, methods=["GET"]),
        Route("/sso", p.home, methods=["GET"]),
        Route("/sso/saml/{provider}/login", p.saml_login, methods=["GET"]),
        Route("/sso/oidc/{provider}/login", p.oidc_login, methods=["GET"]),
        Route("/sso/oidc/callback", p.oidc_callback, methods=["GET"]),
        Route("/sso/roles", p.roles, methods=["GET"]),
        Route("/sso/roles", p.choose, methods=["POST"]),
        Route("/sso/logout", p.logout, methods=["GET"]),
    ]
