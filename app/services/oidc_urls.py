"""The URLs of OpenID providers: what an issuer URL registered by CreateOpenIDConnectProvider may
be, and where its keys may be fetched from.

An issuer URL is `https://HOST[:PORT][/PATH]` (CONTRACT.md): no user info, query or fragment,
a DNS name or an IP literal as host, a path of URL characters only. `http://` is allowed only
for loopback hosts (127.0.0.0/8, `::1`, `localhost`), which never leave the machine. Nothing
is normalised: a token's `iss` must equal the registered URL exactly (trailing slash and case
included), so the URL is kept as given.

The discovery document's `jwks_uri` may name another host (Google's keys live on
www.googleapis.com, as AWS allows); it follows the same rules (query allowed, as a key-set
location may carry one).
"""
from __future__ import annotations

import ipaddress
import re

_URL = re.compile(r"(?P<scheme>https|http)://(?P<authority>[^/?#]*)(?P<path>/[^?#]*)?"
                  r"(?:\?(?P<query>[^#]*))?(?:#(?P<fragment>.*))?", re.S)
_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
_PATH = re.compile(r"[A-Za-z0-9\-._~!$&'()*+,;=:@/%]*")
_PORT = re.compile(r"[0-9]{1,5}")


class UrlRejected(ValueError):
    """Why a URL is refused (the text says what is wrong, in the project's style)."""


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 (bracketed or not) and `localhost` (any case)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _host(authority: str) -> str:
    """The host of `HOST[:PORT]`, checked; UrlRejected when either part is not valid."""
    if "@" in authority:
        raise UrlRejected("must not carry user information (`user@`)")
    if authority.startswith("["):
        host, _, rest = authority.partition("]")
        host += "]"
        try:
            ipaddress.IPv6Address(host[1:-1])
        except ValueError:
            raise UrlRejected("has an IPv6 host that is not valid") from None
        port = rest[1:] if rest.startswith(":") else None
        if rest and port is None:
            raise UrlRejected("has characters after its IPv6 host")
    else:
        host, sep, port_text = authority.partition(":")
        port = port_text if sep else None
        if not host or len(host) > 253 or not all(_LABEL.fullmatch(label) for label in host.split(".")):
            raise UrlRejected("has no valid host name")
    if port is not None and not (_PORT.fullmatch(port) and 0 < int(port) < 65536):
        raise UrlRejected("has a port that is not a number from 1 to 65535")
    return host


def _check(url: str, *, query_allowed: bool) -> re.Match[str]:
    found = _URL.fullmatch(url)
    if found is None:
        raise UrlRejected("must start with `https://` (or `http://` for a loopback host)")
    if found["fragment"] is not None:
        raise UrlRejected("must not have a fragment (`#…`)")
    if found["query"] is not None and not query_allowed:
        raise UrlRejected("must not have a query (`?…`)")
    host = _host(found["authority"])
    if found["path"] and not _PATH.fullmatch(found["path"]):
        raise UrlRejected("has a path with characters a URL does not allow (spaces, controls, non-ASCII)")
    if found["query"] and not _PATH.fullmatch(found["query"].replace("?", "")):
        raise UrlRejected("has a query with characters a URL does not allow")
    if found["scheme"] == "http" and not is_loopback(host):
        raise UrlRejected("must use https: only loopback hosts (127.0.0.0/8, ::1, localhost) may use http")
    return found


def issuer_url(url: str) -> str:
    """The URL without scheme (the provider's ARN resource and IAM `Url`) when `url` may be
    registered as an issuer; else UrlRejected."""
    found = _check(url, query_allowed=False)
    return found["authority"] + (found["path"] or "")


def check_jwks_uri(uri: str) -> None:
    """UrlRejected unless `uri` is a place keys may be fetched from (rules of issuer URLs,
    query allowed)."""
    _check(uri, query_allowed=True)
