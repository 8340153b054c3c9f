"""IAM-user sign-in on the browser pages: the password form (on the sign-in page and on its own),
the MFA code and the forced new password, each step a POST with a CSRF token; the steps
themselves are app.services.sso_password's.

    GET  /sso                 the sign-in page, with the IAM-user form (SsoPages.home's page)
    GET  /sso/iam             the IAM-user form alone (`tessera login`'s binding and `next` carried)
    POST /sso/iam             user name + password
    POST /sso/iam/mfa         the MFA code, when the user has an MFA device
    POST /sso/iam/password    old + new password, when a new one is due (reset or expiry)

CSRF before anyone is signed in (login CSRF): the browser holds a signed handle in the cookie
`tessera_sso_iam` (HttpOnly, SameSite=Lax, as the sign-in cookie; `__Host-` when Secure) and every
form carries a MAC of that handle under the master key (its own purpose): a page of another site
can read neither. Cross-site posts are refused by their Sec-Fetch-Site / Origin first
(app.sso.csrf). After a good password the cookie names the pending step instead (a fresh handle
at every step, so a handle seen before the password is worth nothing after it).

Every outcome is an audit event `SignIn` (source sso.tessera; `requestParameters.protocol`
`password`): success, wrong password (the user name recorded only when it is a user's, as AWS
records `HIDDEN_DUE_TO_SECURITY_REASONS` otherwise: a password typed into the name field must not
reach the log), throttled, MFA failed, password change refused. Never a password.
"""
from __future__ import annotations

import base64
from typing import Any, Protocol

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.core import errors
from app.core.ids import urlsafe_token
from app.services.sso import CliRequest
from app.services.sso_password import PasswordSignIn, PasswordStep, SignInThrottled
from app.sso import pages
from app.sso.csrf import same_origin, token_ok
from app.sso.routes import MAX_CHOICE_POST, SsoDeps, SsoPages, _form, _query, parse_cli, safe_next, sso_routes
from app.wire.query import lower_headers

COOKIE = "tessera_sso_iam"
PURPOSE = b"tessera/sso/iam-csrf/v1"
HIDDEN = "HIDDEN_DUE_TO_SECURITY_REASONS"
CHANGE_REASONS = {"reset": "An administrator requires you to set a new password before you continue.",
                  "expired": "Your password has expired: set a new one to continue."}
NOT_ALLOWED = ("You must set a new password, but you are not allowed to change your password. Contact your "
               "administrator.")


class Mac(Protocol):
    """app.store.secretbox.SecretBox."""

    def mac(self, data: bytes, purpose: bytes) -> bytes: ...


class PasswordPages(SsoPages):
    """The SSO pages with IAM-user sign-in: SsoPages plus the password steps, and the sign-in page
    showing the password form."""

    def __init__(self, deps: SsoDeps, passwords: PasswordSignIn, box: Mac, *, account: str) -> None:
        super().__init__(deps)
        self.pw = passwords
        self._box = box
        self._account = account
        self.cookie = ("__Host-" if deps.cookies.secure else "") + COOKIE

    # ---- the login-CSRF handle ----
    def _token(self, handle: str) -> str:
        return base64.urlsafe_b64encode(self._box.mac(handle.encode(), PURPOSE)).rstrip(b"=").decode()

    def _handle(self, request: Request) -> str | None:
        return self.d.cookies.handle(self.cookie, request.headers.get("cookie"))

    def _set(self, response: Response, handle: str) -> Response:
        response.headers.append("Set-Cookie", self.d.cookies.set_header(self.cookie, handle))
        return response

    def _iam(self, handle: str, carry: list[tuple[str, str]], alias: str | None, user_name: str = "") -> dict[str, Any]:
        return {"csrf": self._token(handle), "account": self._account, "alias": alias,
                "account_label": alias or self._account, "carry": carry, "user_name": user_name}

    async def _alias(self) -> str | None:
        try:
            return await self.d.sso.account_alias()
        except Exception:  # noqa: BLE001 - a page answering a refusal must not fail on a display detail
            return None

    async def _step_page(self, step: str, handle: str, *, carry: list[tuple[str, str]] | None = None,
                         status: int = 200, error: str | None = None, reference: str | None = None,
                         user_name: str = "", reason_text: str = "") -> Response:
        titles = {"password": "Sign in as an IAM user", "mfa": "Multi-factor authentication",
                  "change": "Set a new password"}
        response = pages.render("iam_signin.html", {
            "title": titles[step], "step": step, "iam": self._iam(handle, carry or [], await self._alias(), user_name),
            "error": error, "reference": reference, "user_name": user_name, "reason_text": reason_text,
            "signin": None, "public_url": self.d.public_url}, status=status)
        return self._set(response, handle)

    def _checked_post(self, request: Request, form: dict[str, str], handle: str | None) -> str:
        if not same_origin(lower_headers(request.scope["headers"]), self.d.public_url):
            raise errors.AccessDenied("this form was posted from another site", reason="sso_cross_site_post")
        if handle is None or not token_ok(self._token(handle), form.get("csrf")):
            raise errors.AccessDenied("the form's security token is missing or does not match; reload the page "
                                      "and sign in again", reason="sso_csrf_mismatch")
        return handle

    def _source(self, request: Request) -> str | None:
        client = request.scope.get("client")  # uvicorn applied the trusted proxy's X-Forwarded-For
        return str(client[0]) if client else None

    # ---- pages ----
    async def home(self, request: Request) -> Response:
        """GET /sso: the ways to sign in, the IAM-user form first."""
        try:
            _, signin = await self._signin(request)
            choices = await self.d.login.choices()
            alias = await self.d.sso.account_alias()
            handle = self._handle(request) or _new_handle()
            iam = self._iam(handle, [], alias)
        except Exception as failure:  # noqa: BLE001
            return self._refused(request, "SignInChoices", failure)
        response = pages.render("signin.html", {"signin": signin, "choices": choices, "public_url": self.d.public_url,
                                                "account_alias": alias, "iam": iam})
        return self._set(response, handle)

    async def form(self, request: Request) -> Response:
        """GET /sso/iam: the IAM-user form, carrying `tessera login`'s binding and `next`."""
        try:
            query = _query(request)
            cli = parse_cli(query)
            carry = _carry(cli, safe_next(query.get("next")))
            return await self._step_page("password", self._handle(request) or _new_handle(), carry=carry)
        except Exception as failure:  # noqa: BLE001
            return self._refused(request, "StartSignIn", failure, params={"protocol": "password"})

    async def submit(self, request: Request) -> Response:
        """POST /sso/iam: user name and password."""
        params: dict[str, Any] = {"protocol": "password"}
        handle = self._handle(request)
        carry: list[tuple[str, str]] = []
        name = ""
        try:
            form = await _form(request, MAX_CHOICE_POST)
            self._checked_post(request, form, handle)
            cli = parse_cli(form)
            next_path = safe_next(form.get("next"))
            carry = _carry(cli, next_path)
            name = form.get("username", "")
            step = await self.pw.password(name, form.get("password", ""), self._source(request),
                                          cli=cli, next_path=next_path)
        except SignInThrottled as slow:
            params["userName"] = HIDDEN
            ref = self._audit(request, "SignIn", error=slow, params=params, identity=self._who(None))
            response = pages.message("Too many attempts", slow.message, f"Try again in {_wait(slow.retry_after)}.",
                                     status=429, reference=ref)
            response.headers["Retry-After"] = str(slow.retry_after)
            return response
        except errors.AccessDenied as denied:
            if denied.reason in ("sso_cross_site_post", "sso_csrf_mismatch"):
                return self._refused(request, "SignIn", denied, params=params)
            known = denied.reason not in ("sso_password_user_unknown",)
            params["userName"] = name[:64] if known else HIDDEN
            ref = self._audit(request, "SignIn", error=denied, params=params,
                              identity=self._who(name[:64] if known else None))
            return await self._step_page("password", handle or _new_handle(), carry=carry, status=401,
                                         error=denied.message, reference=ref)
        except Exception as failure:  # noqa: BLE001
            return self._refused(request, "SignIn", failure, params=params)
        return await self._advance(request, step, handle)

    async def mfa(self, request: Request) -> Response:
        """POST /sso/iam/mfa: the code of the user's MFA device."""
        params: dict[str, Any] = {"protocol": "password", "step": "mfa"}
        handle = self._handle(request)
        try:
            form = await _form(request, MAX_CHOICE_POST)
            self._checked_post(request, form, handle)
            step = await self._pending(handle, "mfa")
            params["userName"] = step.user_name
        except Exception as failure:  # noqa: BLE001
            return self._refused(request, "SignIn", failure, params=params)
        try:
            step = await self.pw.mfa(step, form.get("code", ""))
        except errors.AccessDenied as denied:
            ref = self._audit(request, "SignIn", error=denied, params=params, identity=self._who(step.user_name))
            return await self._step_page("mfa", handle or _new_handle(), status=401, error=denied.message,
                                         reference=ref, user_name=step.user_name)
        except Exception as failure:  # noqa: BLE001
            return self._refused(request, "SignIn", failure, params=params)
        return await self._advance(request, step, handle)

    async def change(self, request: Request) -> Response:
        """POST /sso/iam/password: the new password (ChangePassword as the user)."""
        params: dict[str, Any] = {"protocol": "password", "step": "change"}
        handle = self._handle(request)
        try:
            form = await _form(request, MAX_CHOICE_POST)
            self._checked_post(request, form, handle)
            step = await self._pending(handle, "change")
            params["userName"] = step.user_name
        except Exception as failure:  # noqa: BLE001
            return self._refused(request, "SignIn", failure, params=params)
        new = form.get("new_password", "")
        try:
            if new != form.get("confirm_password"):
                raise errors.ValidationError("The new passwords do not match.", reason="sso_password_confirm_mismatch")
            meta, _ = self._meta(request)
            step = await self.pw.new_password(step, meta, form.get("old_password", ""), new)
        except errors.AwsError as refused:
            ref = self._audit(request, "ChangePassword", error=refused, params={"channel": "browser"},
                              source="iam.amazonaws.com", identity=self._who(step.user_name))
            if isinstance(refused, errors.AccessDenied) and refused.reason in ("implicit_deny", "explicit_deny"):
                return pages.message("Password change not allowed", NOT_ALLOWED, None, status=403, reference=ref)
            return await self._step_page("change", handle or _new_handle(), status=400, error=refused.message,
                                         reference=ref, user_name=step.user_name,
                                         reason_text=CHANGE_REASONS.get(step.change or "", ""))
        except Exception as failure:  # noqa: BLE001
            return self._refused(request, "SignIn", failure, params=params)
        self._audit(request, "ChangePassword", params={"channel": "browser"}, source="iam.amazonaws.com",
                    identity=self._who(step.user_name))
        return await self._advance(request, step, handle)

    # ---- between the steps ----
    async def _pending(self, handle: str | None, due: str) -> PasswordStep:
        step = await self.pw.resume(handle)
        if step is None or step.due != due:
            raise errors.AccessDenied("This sign-in step has expired or was already completed; sign in again.",
                                      reason="sso_password_step_gone")
        return step

    async def _advance(self, request: Request, step: PasswordStep, handle: str | None) -> Response:
        """On to the next step's page, or the sign-in record and the picker."""
        params: dict[str, Any] = {"protocol": "password", "userName": step.user_name, "mfa": step.mfa}
        try:
            if handle is not None:
                await self.pw.drop(handle)
            if step.due is not None:
                return await self._step_page(step.due, await self.pw.keep(step), user_name=step.user_name,
                                             reason_text=CHANGE_REASONS.get(step.change or "", ""))
            alias = await self.d.sso.account_alias()
            await self._end_previous(request)
            new, record = await self.pw.finish(step, provider=f"account {alias or self._account}")
        except Exception as failure:  # noqa: BLE001
            return self._refused(request, "SignIn", failure, params=params)
        self._audit(request, "SignIn", signin=record, params=params)
        response = pages.redirect(safe_next(step.next_path) or "/sso/roles")
        response.headers.append("Set-Cookie", self.d.cookies.set_header(self.d.cookies.signin_name, new))
        response.headers.append("Set-Cookie", self.d.cookies.clear_header(self.cookie))
        return response

    def _who(self, user_name: str | None) -> dict[str, str]:
        """CloudTrail's userIdentity of a password sign-in that did not (yet) succeed."""
        return {"type": "IAMUser", "accountId": self._account, "userName": user_name or HIDDEN}


def _new_handle() -> str:
    return urlsafe_token(32)


def _carry(cli: CliRequest | None, next_path: str | None) -> list[tuple[str, str]]:
    """The hidden fields the password form carries on (`tessera login`'s binding, `next`)."""
    out = [("cli_challenge", cli.challenge)] if cli else []
    if cli and cli.port is not None:
        out.append(("cli_port", str(cli.port)))
    if cli and cli.device is not None:
        out.append(("cli_device", cli.device))
    return out + ([("next", next_path)] if next_path else [])


def _wait(seconds: int) -> str:
    return f"{seconds} seconds" if seconds < 120 else f"{(seconds + 59) // 60} minutes"


def password_routes(deps: SsoDeps, passwords: PasswordSignIn, box: Mac, *, account: str) -> list[Route]:
    """Every SSO page route, with IAM-user sign-in."""
    p = PasswordPages(deps, passwords, box, account=account)
    return [*sso_routes(deps, p),
            Route("/sso/iam", p.form, methods=["GET"]),
            Route("/sso/iam", p.submit, methods=["POST"]),
            Route("/sso/iam/mfa", p.mfa, methods=["POST"]),
            Route("/sso/iam/password", p.change, methods=["POST"])]

