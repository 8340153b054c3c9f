"""OIDC key sets fetched from identity providers, shared by every worker and replica.

One string per (issuer URL, thumbprints) under `Keys.oidc_jwks`: JSON `{"v": the fetch's
token (a version: equal means the same fetch), "f": fetched at, "x": fresh until, "j": the key
set document as fetched}`. It lives in Redis until `keep_until`,
past its freshness, so a stale copy can still be served while the IdP is down
(app.services.oidc_keys decides). Beside it, the fetch rate limit: `Keys.oidc_jwks_refresh`
is taken with `SET NX PX interval` (value: a random token), so one worker of all fetches at most
once per interval; the winner then writes `TOKEN STATE` under `…:outcome` (`done`,
`failed:REASON:t|p`, t = transient), which tells the others how that very fetch ended (an
outcome of another token: still fetching). Only GET, MGET and SET: the hot path's multiplexed
connection serves it (app.store.multiplex). Not IAM state: no epoch bump. A Redis failure is
ServiceUnavailable.
"""
from __future__ import annotations

import json
import math
import secrets
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from redis.exceptions import RedisError

from app.core.errors import ServiceUnavailable
from app.store.keys import Keys

T = TypeVar("T")
FETCHING = "fetching"


@dataclass(frozen=True, slots=True)
class CachedJwks:
    version: str  # the token of the fetch that stored it
    jwks: str  # the key set document, as the IdP served it
    fetched_at: float
    fresh_until: float


class JwksCache:
    def __init__(self, redis: Any) -> None:
        self._r = redis

    @staticmethod
    def key(issuer_url: str, thumbprints: Sequence[str]) -> str:
        return Keys.oidc_jwks(issuer_url, tuple(thumbprints))

    @staticmethod
    async def _call(op: Awaitable[T]) -> T:
        try:
            return await op
        except RedisError as exc:
            raise ServiceUnavailable("the credential store is unavailable", reason="store_unavailable") from exc

    async def get(self, key: str) -> CachedJwks | None:
        raw = await self._call(self._r.get(key))
        if raw is None:
            return None
        try:
            d = json.loads(raw)
            return CachedJwks(version=str(d["v"]), jwks=str(d["j"]), fetched_at=float(d["f"]),
                              fresh_until=float(d["x"]))
        except (ValueError, KeyError, TypeError):  # not ours: treated as absent, overwritten by the next fetch
            return None

    async def put(self, key: str, entry: CachedJwks, *, keep_until: float) -> None:
        value = json.dumps({"v": entry.version, "f": entry.fetched_at, "x": entry.fresh_until, "j": entry.jwks},
                           separators=(",", ":"))
        await self._call(self._r.set(key, value, pxat=math.ceil(keep_until * 1000)))

    # ---- the fetch rate limit ----
    async def claim_refresh(self, key: str, interval: float) -> str | None:
        """A token when this caller may fetch now (nobody did within `interval` seconds), else None."""
        token = secrets.token_hex(8)
        created = await self._call(self._r.set(Keys.oidc_jwks_refresh(key), token, nx=True, px=_ms(interval)))
        return token if created else None

    async def finish_refresh(self, key: str, token: str, state: str, interval: float) -> None:
        """Record how the fetch claimed with `token` ended (`done`, `failed:…`)."""
        await self._call(self._r.set(Keys.oidc_jwks_refresh(key) + ":outcome", f"{token} {state}", px=_ms(interval)))

    async def refresh_state(self, key: str) -> str | None:
        """`fetching`, `done`, `failed:REASON:t|p` for the fetch of the current interval, or
        None when there was none within the interval."""
        lock = Keys.oidc_jwks_refresh(key)
        token, outcome = await self._call(self._r.mget(lock, lock + ":outcome"))
        if token is None:
            return None
        token, outcome = _text(token), _text(outcome) if outcome is not None else ""
        return outcome[len(token) + 1:] if outcome.startswith(token + " ") else FETCHING


def _ms(seconds: float) -> int:
    return max(1, math.ceil(seconds * 1000))


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
