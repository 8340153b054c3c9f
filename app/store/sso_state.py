"""Browser sign-in state in Redis: pending logins, sign-in records, and the OIDC clients that
browser login uses. None of it is IAM state (no epoch bump).

Every short-lived value is one key with its own expiry, named by a keyed hash of the random
handle the browser holds (`SecretBox.digest`): reading Redis gives no usable cookie,
`state` or code. Values are sealed JSON (AES-GCM, the key name as AAD), so a value moved to
another key does not open. One-time values are taken with GETDEL: of concurrent takers one gets it.

    sso:req:KIND:H    a pending login (KIND `saml`: an AuthnRequest ID; `oidc`: a `state`), 10 min
    sso:signin:H      a sign-in record (cookie handle), until the sign-in expires
    T:ssooidc:NAME    HASH, an OIDC client for browser login (`u` issuer URL, `c` client id,
                      `s` client secret sealed, `r` redirect URI, `l` label); T:idx:ssooidc ZSET of NAME

A Redis failure raises ServiceUnavailable (the pages answer 503; nothing is half-done).
"""
from __future__ import annotations

import json
import math
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from redis.exceptions import RedisError

from app.core.errors import ServiceUnavailable
from app.store.keys import Keys
from app.store.secretbox import SecretBox

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class OidcClient:
    """An OIDC relying-party registration of this service at an identity provider."""

    name: str
    issuer_url: str
    client_id: str
    client_secret: str = field(repr=False)
    redirect_uri: str
    label: str = ""


async def _guard(op: Awaitable[T]) -> T:
    try:
        return await op
    except RedisError as exc:
        raise ServiceUnavailable("the sign-in store is unavailable", reason="store_unavailable") from exc


class SsoState:
    def __init__(self, redis: Any, box: SecretBox, keys: Keys) -> None:
        self._r = redis
        self._box = box
        self._k = keys

    # ---- short-lived, sealed values ----
    def _key(self, kind: str, handle: str) -> str:
        return Keys.sso(kind, self._box.digest(f"sso/{kind}\n{handle}"))

    async def _put(self, key: str, value: dict[str, Any], until: float) -> None:
        sealed = self._box.seal(json.dumps(value, separators=(",", ":")), aad=key)
        await _guard(self._r.set(key, sealed, pxat=math.ceil(until * 1000)))

    def _open(self, key: str, raw: Any) -> dict[str, Any] | None:
        if raw is None:
            return None
        try:
            text = self._box.open(raw.decode() if isinstance(raw, bytes) else str(raw), aad=key)
            value = json.loads(text)
        except ValueError:
            return None
        return value if isinstance(value, dict) else None

    async def put(self, kind: str, handle: str, value: dict[str, Any], until: float) -> None:
        """Store `value` under `handle` (kind `req:saml`, `req:oidc`, `signin`) until `until`."""
        await self._put(self._key(kind, handle), value, until)

    async def get(self, kind: str, handle: str) -> dict[str, Any] | None:
        key = self._key(kind, handle)
        return self._open(key, await _guard(self._r.get(key)))

    async def take(self, kind: str, handle: str) -> dict[str, Any] | None:
        """The value, removed in the same step (GETDEL): one taker only."""
        key = self._key(kind, handle)
        return self._open(key, await _guard(self._r.getdel(key)))

    async def delete(self, kind: str, handle: str) -> None:
        await _guard(self._r.delete(self._key(kind, handle)))

    # ---- OIDC clients for browser login ----
    def _client_key(self, name: str) -> str:
        return f"{self._k.tag}:ssooidc:{name}"

    async def put_oidc_client(self, client: OidcClient) -> None:
        key = self._client_key(client.name)
        fields = {"u": client.issuer_url, "c": client.client_id, "r": client.redirect_uri, "l": client.label,
                  "s": self._box.seal(client.client_secret, aad=f"ssooidc:{client.name}")}
        pipe = self._r.pipeline(transaction=True)
        pipe.delete(key)
        pipe.hset(key, mapping=fields)
        pipe.zadd(self._k.index("ssooidc"), {client.name: 0})
        await _guard(pipe.execute())

    async def oidc_client(self, name: str) -> OidcClient | None:
        """The client `name`, its secret unsealed; None when missing or sealed under another key."""
        raw = await _guard(self._r.hgetall(self._client_key(name)))
        if not raw:
            return None
        h = {(k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v)
             for k, v in raw.items()}
        try:
            secret = self._box.open(h["s"], aad=f"ssooidc:{name}")
        except (KeyError, ValueError):
            return None
        return OidcClient(name, h.get("u", ""), h.get("c", ""), secret, h.get("r", ""), h.get("l", ""))

    async def oidc_client_names(self) -> list[str]:
        names = await _guard(self._r.zrange(self._k.index("ssooidc"), 0, 999))
        return [n.decode() if isinstance(n, bytes) else str(n) for n in names]

    async def delete_oidc_client(self, name: str) -> bool:
        pipe = self._r.pipeline(transaction=True)
        pipe.delete(self._client_key(name))
        pipe.zrem(self._k.index("ssooidc"), name)
        deleted, _ = await _guard(pipe.execute())
        return bool(deleted)
