"""`tessera serve`: the service against a real Redis, with N uvicorn workers."""
from __future__ import annotations

import asyncio
import os
import re
import sys

from app.settings import Settings, SettingsError


_MISPLACED = "(an `@` past the host: percent-encode `/`, `?`, `#` and `@` in the password)"


def redact(url: str) -> str:
    """`url` fit for an error line: USER:PASSWORD (or a password alone, as in
    `redis+cluster://secret@host`) and every `*password=` option become `***`. A URL with an
    `@` past its host part (a password holding a raw `/`, `?` or `#`) shows its scheme only:
    where its password ends cannot be told."""
    scheme, sep, rest = url.partition("://")
    end = min((i for i in map(rest.find, "/?#") if i >= 0), default=len(rest))
    netloc, tail = rest[:end], re.sub(r"(?i)([?&][a-z_]*password=)[^&#]*", r"\1***", rest[end:])
    if "@" in tail:
        return f"{scheme}{sep}*** {_MISPLACED}"
    if "@" in netloc:
        userinfo, _, hosts = netloc.rpartition("@")
        user, colon, _ = userinfo.partition(":")
        netloc = f"{user}:***@{hosts}" if colon else f"***@{hosts}"
    return f"{scheme}{sep}{netloc}{tail}"


def _fail(message: str, code: int = 1) -> int:
    print(f"tessera: {message}", file=sys.stderr)
    return code


def run_serve(*, host: str, port: int, workers: int) -> int:
    try:
        settings = Settings.from_env(mode="serve", host=host, port=port)
    except SettingsError as exc:
        return _fail(str(exc), 2)
    if workers < 1:
        return _fail("--workers must be at least 1", 2)
    assert settings.redis_url is not None
    try:
        asyncio.run(_ping(settings.redis_url))
    except Exception as exc:  # noqa: BLE001 - any failure to reach Redis is fatal here, in one line
        shown = redact(settings.redis_url)
        # a misplaced password's pieces come back in the client's text as a host or a port
        why = type(exc).__name__ if _MISPLACED in shown else f"{type(exc).__name__}: {exc}"
        return _fail(f"cannot reach Redis at {shown}: {why}")

    from app.core.errors import ServiceUnavailable

    try:
        generated = asyncio.run(_bootstrap(settings))
    except ServiceUnavailable as exc:  # e.g. TESSERA_REDIS_WAIT_REPLICAS more than the replicas reachable
        return _fail(f"the store at {redact(settings.redis_url)} could not keep the root access key: {exc} ({exc.__cause__})")
    if generated is not None:
        akid, secret = generated
        # Printed once, on the first start only; never logged.
        print("tessera: generated the account root access key (shown only this once):")
        print(f"  TESSERA_ROOT_ACCESS_KEY_ID={akid}")
        print(f"  TESSERA_ROOT_SECRET_ACCESS_KEY={secret}")
        sys.stdout.flush()

    import uvicorn

    os.environ["TESSERA_BIND_HOST"] = host
    os.environ["TESSERA_BIND_PORT"] = str(port)
    print(f"tessera: serving on http://{host}:{port} (public URL {settings.public_url}, account {settings.account_id})", flush=True)
    uvicorn.run(
        "app.bootstrap:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="warning",
        access_log=False,
        http="httptools",
        loop="uvloop",
        lifespan="on",
    )
    return 0


async def _ping(url: str) -> None:
    """One PING through the store's own client (a single server, a cluster or a Sentinel URL)."""
    from app.store.connection import connect

    client = connect(url)
    try:
        await client.ping()
    finally:
        await client.aclose()


async def _bootstrap(settings: Settings) -> tuple[str, str] | None:
    from app.bootstrap import build, ensure_root_key
    from app.store.connection import connect

    assert settings.redis_url is not None
    client = connect(settings.redis_url)
    try:
        return await ensure_root_key(build(settings, client))
    finally:
        await client.aclose()
