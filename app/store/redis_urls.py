"""Multi-host Redis URLs: the steps that `redis+cluster://` (app.store.cluster) and
`redis+sentinel://` (app.store.sentinel) share.

    SCHEME://[USER:PASSWORD@]HOST:PORT[,HOST:PORT...][/PATH][?OPTIONS]

Each step takes the caller's error factory (`bad`: a reason in, the caller's exception out),
so every parser raises its own error type with its own wording around the reason; what is the
caller's own (the cluster's no-database rule, the sentinel's /SERVICE[/DB] path and its
sentinel_* options) stays with it.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import parse_qsl, unquote

MAX_URL = 4096
MAX_HOSTS = 16
_HOST = re.compile(r"\[[0-9A-Fa-f:.]{2,45}\]|[A-Za-z0-9_.-]{1,253}")
TLS_OPTIONS = ("ssl_ca_certs", "ssl_certfile", "ssl_keyfile", "ssl_cert_reqs")

Bad = Callable[[str], ValueError]


def split_url(url: str, schemes: tuple[str, str], bad: Bad) -> tuple[str, str, str, str]:
    """(scheme lowercased, USER:PASSWORD@HOSTS, path after the first `/`, query) of a URL whose
    scheme is one of `schemes` (plain, TLS); no fragment allowed, no `@` past the host list."""
    if len(url) > MAX_URL:
        raise bad(f"longer than {MAX_URL} characters")
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.lower() not in schemes:
        raise bad(f"the scheme must be {schemes[0]} or {schemes[1]}")
    netloc_end = min((i for i in map(rest.find, "/?#") if i >= 0), default=len(rest))
    if "@" in rest[netloc_end:]:
        # USER:PASSWORD holding a raw `/`, `?` or `#`: any part of it would be quoted back as a
        # host, path or option; the error names the fix and nothing of the URL
        raise bad("an `@` after the host list: percent-encode `/`, `?`, `#` and `@` in USER:PASSWORD "
                  "and in option values (%2F, %3F, %23, %40)")
    rest, _, query = rest.partition("?")
    rest, _, fragment = rest.partition("#")
    if fragment:
        raise bad("a fragment (#...) is not allowed")
    netloc, _, path = rest.partition("/")
    return scheme.lower(), netloc, path, query


def credentials_and_hosts(netloc: str, bad: Bad, *, host: str, hosts: str
                          ) -> tuple[str | None, str | None, tuple[tuple[str, int], ...]]:
    """(username, password, [(host, port)...]) of `[USER:PASSWORD@]HOST:PORT[,HOST:PORT...]`;
    `host`/`hosts` name them in messages (`seed node`/`seed nodes`)."""
    creds, at, listed = netloc.rpartition("@")
    username = password = None
    if at:
        user, colon, secret = creds.partition(":")
        username, password = unquote(user) or None, unquote(secret) if colon else None
        if password is None and username is not None:  # `redis://secret@host`: the password alone
            username, password = None, username
    found = tuple(_host_port(item, bad) for item in listed.split(",")) if listed else ()
    if not found:
        raise bad(f"no {host} HOST:PORT")
    if len(found) > MAX_HOSTS:
        raise bad(f"more than {MAX_HOSTS} {hosts}")
    return username, password, found


def _host_port(item: str, bad: Bad) -> tuple[str, int]:
    host, colon, port = item.rpartition(":")
    if not colon or not _HOST.fullmatch(host):
        raise bad(f"`{item[:64]}` is not HOST:PORT")
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise bad(f"the port in `{item[:64]}` is not a number from 1 to 65535")
    return host.strip("[]"), int(port)


def options(query: str, accepted: Sequence[str], bad: Bad) -> dict[str, str]:
    """The query's options, each one of `accepted` (listed in that order when one is not) and
    given at most once: a typo must not be ignored silently."""
    pairs = parse_qsl(query, keep_blank_values=True) if query else []
    names = [name for name, _ in pairs]
    for name in names:
        if name not in accepted:
            raise bad(f"unknown option `{name[:64]}` (accepted: {', '.join(accepted)})")
        if names.count(name) > 1:
            raise bad(f"the option `{name}` is given more than once")
    return dict(pairs)


def tls_options(given: dict[str, str], bad: Bad) -> dict[str, Any]:
    """redis-py's TLS arguments from the options: `ssl_cert_reqs` (`required`, the default, or
    `none`; the host name is checked when required) and the files given."""
    reqs = given.get("ssl_cert_reqs", "required").lower()
    if reqs not in ("required", "none"):
        raise bad("ssl_cert_reqs must be required or none")
    return {"ssl_cert_reqs": reqs, "ssl_check_hostname": reqs == "required"} | {
        name: given[name] for name in ("ssl_ca_certs", "ssl_certfile", "ssl_keyfile") if given.get(name)}
