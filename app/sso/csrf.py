"""Cross-site request forgery: what a state-changing form post of the pages must carry.

Two independent checks, both required:
- the CSRF token of the sign-in record (random, 256 bits, kept server-side with the sign-in and
  rendered into every form), compared in constant time: a page of another site cannot read it;
- the request's origin: `Sec-Fetch-Site` (or, without it, `Origin`) must say this service, so
  a cross-site post is refused even before the token is looked at. A request with neither
  header (old clients, curl) is judged by the token alone.

`POST /saml` is the exception by nature: the IdP's page posts it cross-site; it is protected by
the signed response, its one-time mark and, for SP-initiated logins, its InResponseTo.
"""
from __future__ import annotations

import hmac
import urllib.parse
from collections.abc import Mapping

MAX_TOKEN = 128


def origin_of(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def same_origin(headers: Mapping[str, str], public_url: str) -> bool:
    """False when the browser says the request comes from another site. `Sec-Fetch-Site` first
    (set by the browser itself, never by a page); else `Origin`, unless it is `null` (what a
    browser sends under this service's `Referrer-Policy: no-referrer`, and what a sandboxed
    page sends: neither tells anything, so the token alone decides)."""
    site = headers.get("sec-fetch-site")
    if site is not None:
        return site in ("same-origin", "none")
    origin = headers.get("origin")
    if origin is not None and origin != "null":
        return origin.lower() == origin_of(public_url)
    return True


def token_ok(expected: str, given: str | None) -> bool:
    if not given or len(given) > MAX_TOKEN:
        return False
    return hmac.compare_digest(expected.encode(), given.encode("utf-8", "replace"))
