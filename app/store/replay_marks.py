"""One-time use of federation assertions: a mark per redeemed assertion ID (or JWT `jti`).

`claim` is one `SET key 1 PXAT <until> NX`: of any number of concurrent redemptions of the same
assertion exactly one sees the key created, every other one (and every later one, until the
mark expires) is refused. The mark expires when the assertion could no longer be redeemed
anyway, so marks never outlive their purpose. The key is `Keys.federation_once` (hashed: the ID
is attacker-chosen). A Redis failure raises ServiceUnavailable: nothing is issued without a
stored mark.
"""
from __future__ import annotations

import math
from typing import Any

from redis.exceptions import RedisError

from app.core.errors import ServiceUnavailable
from app.store.keys import Keys


class ReplayMarks:
    def __init__(self, redis: Any) -> None:
        self._r = redis

    async def claim(self, kind: str, provider_arn: str, token_id: str, until: float) -> bool:
        """Mark `token_id` of `provider_arn` as redeemed until `until` (epoch seconds); False
        when it already was (a replay)."""
        key = Keys.federation_once(kind, provider_arn, token_id)
        try:
            created = await self._r.set(key, b"1", pxat=math.ceil(until * 1000), nx=True)
        except RedisError as exc:
            raise ServiceUnavailable("the credential store is unavailable", reason="store_unavailable") from exc
        return bool(created)
