"""Failed MFA code attempts per device, to bound guessing.

A six-digit code has a million values and about three are valid at any moment (the current
step and one either side), so unlimited guessing would find one in hours. Each failed
attempt increments a per-device counter that expires `window` seconds after the first
failure of the window; while it is at `limit`, every attempt fails, right codes included
(as AWS, which throttles MFA attempts). `limit` failures per `window` allow about
`limit * 3 / 10^6` successful guesses per window: with the defaults, 1 in ~10^5 per 10 minutes.
"""
from __future__ import annotations

from typing import Any

from redis.exceptions import RedisError

from app.core.errors import ServiceUnavailable
from app.store.keys import Keys

LIMIT = 10
WINDOW = 600


class MfaAttempts:
    def __init__(self, redis: Any, *, limit: int = LIMIT, window: int = WINDOW) -> None:
        self._r = redis
        self._limit = limit
        self._window = window

    async def blocked(self, serial_number: str) -> bool:
        """Whether the device has used up its failed attempts for the current window."""
        try:
            raw = await self._r.get(Keys.mfa_failures(serial_number))
        except RedisError as exc:
            raise ServiceUnavailable("the credential store is unavailable", reason="store_unavailable") from exc
        return raw is not None and int(raw) >= self._limit

    async def failed(self, serial_number: str) -> None:
        """Count one failed attempt (the window starts at the first failure)."""
        key = Keys.mfa_failures(serial_number)
        try:
            async with self._r.pipeline(transaction=True) as pipe:
                pipe.set(key, 0, ex=self._window, nx=True)  # the window starts now (Redis 6.2+)
                pipe.incr(key)
                await pipe.execute()
        except RedisError as exc:
            raise ServiceUnavailable("the credential store is unavailable", reason="store_unavailable") from exc
