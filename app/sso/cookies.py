"""The browser's sign-in cookie and login-flow cookie: signed handles, nothing else.

A cookie's value is `HANDLE.MAC`: HANDLE a random 256-bit token (base64url) that names a server
-side record in Redis (by a keyed hash: app.store.sso_state), MAC an HMAC-SHA256 of the cookie's
name and handle under a key derived from TESSERA_MASTER_KEY (SecretBox.mac, its own purpose), so
a cookie is checked before anything is looked up, and a value made for one cookie is refused as
the other. The record, not the cookie, holds the identity, expiry and CSRF token: ending the
record ends the sign-in whatever the browser keeps.

Attributes: HttpOnly, SameSite=Lax (the IdP's POST to /saml and the OIDC callback are top-level
navigations), Path=/, and Secure unless the service's public URL is http on a loopback host;
with Secure the names take the `__Host-` prefix (no Domain, Path=/, Secure: enforced by browsers).
The sign-in cookie is a session cookie whose record expires server-side; the flow cookie lives
10 minutes (a login must come back by then).
"""
from __future__ import annotations

import base64
import binascii
import hmac
import re
import urllib.parse
from http.cookies import SimpleCookie
from typing import Protocol

from app.services.oidc_urls import is_loopback

SIGNIN = "tessera_sso"
FLOW = "tessera_sso_flow"
FLOW_SECONDS = 600
MAX_COOKIE = 256
_HANDLE = re.compile(r"[A-Za-z0-9_-]{43}")


class Mac(Protocol):
    def mac(self, data: bytes, purpose: bytes) -> bytes: ...


def secure_for(public_url: str) -> bool:
    """Secure cookies, except for an http public URL on a loopback host (a laptop's dev server)."""
    parts = urllib.parse.urlsplit(public_url)
    return not (parts.scheme == "http" and is_loopback(parts.hostname or ""))


class Cookies:
    def __init__(self, box: Mac, *, secure: bool) -> None:
        self._box = box
        self.secure = secure
        prefix = "__Host-" if secure else ""
        self.signin_name = prefix + SIGNIN
        self.flow_name = prefix + FLOW

    def _mac(self, name: str, handle: str) -> str:
        raw = self._box.mac(f"{name}\n{handle}".encode(), b"tessera/sso/cookie/v1")
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    def value(self, name: str, handle: str) -> str:
        return f"{handle}.{self._mac(name, handle)}"

    def handle(self, name: str, cookie_header: str | None) -> str | None:
        """The handle in cookie `name` when its MAC is right (constant-time), else None."""
        if not cookie_header or len(cookie_header) > 8192:
            return None
        jar: SimpleCookie = SimpleCookie()
        try:
            jar.load(cookie_header)
        except Exception:  # noqa: BLE001 - http.cookies raises CookieError and others on junk
            return None
        morsel = jar.get(name)
        if morsel is None or len(morsel.value) > MAX_COOKIE:
            return None
        handle, _, mac = morsel.value.partition(".")
        if not _HANDLE.fullmatch(handle):
            return None
        try:
            good = hmac.compare_digest(mac.encode("ascii"), self._mac(name, handle).encode("ascii"))
        except (UnicodeEncodeError, binascii.Error):
            return None
        return handle if good else None

    def set_header(self, name: str, handle: str, *, max_age: int | None = None) -> str:
        parts = [f"{name}={self.value(name, handle)}", "Path=/", "HttpOnly", "SameSite=Lax"]
        if max_age is not None:
            parts.append(f"Max-Age={max_age}")
        if self.secure:
            parts.append("Secure")
        return "; ".join(parts)

    def clear_header(self, name: str) -> str:
        parts = [f"{name}=", "Path=/", "HttpOnly", "SameSite=Lax", "Max-Age=0"]
        if self.secure:
            parts.append("Secure")
        return "; ".join(parts)
