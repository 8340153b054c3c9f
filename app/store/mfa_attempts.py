"""MFA code attempts, counted to bound guessing.

A six-digit code has a million values and about three are valid at any moment (the current
step and one either side), so unlimited guessing would find one in hours. Every attempt is
counted BEFORE its code is checked, in one transaction (`SET 0 EX window NX` + `INCR`), so
concurrent guesses cannot slip past the limit; an attempt that succeeds is taken back. While
a subject is at `limit`, every attempt fails, right codes included (AWS throttles MFA
attempts too). `limit` attempts per `window` give a guesser about `limit * 3 / 10^6` chances
per window: with the defaults, about 1 in 33,000 per 10 minutes.

The subject is chosen by the caller of this module: the device for its owner's attempts, the
calling user for attempts on devices that are not theirs (so nobody can lock someone else's
device by guessing at it). Redis failures surface as redis-py's errors, which the wire answers
with ServiceUnavailable (503) like every other store call.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from app.store.keys import Keys

LIMIT = 10
WINDOW = 600


class MfaAttempts:
    def __init__(self, redis: Any, *, limit: int = LIMIT, window: int = WINDOW,
                 key: Callable[[str], str] = Keys.mfa_attempts) -> None:
        """`key`: the Redis key of a subject (ChangePassword counts under its own)."""
        self._r = redis
        self._key = key
        self._limit = limit
        self._window = window

    async def attempt(self, subject: str) -> bool:
        """Count one attempt for `subject` (the window starts at its first attempt); False when
        the window's attempts are used up (then the code must not even be checked)."""
        key = self._key(subject)
        async with self._r.pipeline(transaction=True) as pipe:
            pipe.set(key, 0, ex=self._window, nx=True)  # Redis 6.2 has no EXPIRE NX
            pipe.incr(key)
            _, count = await pipe.execute()
        return int(count) <= self._limit

    async def succeeded(self, subject: str) -> None:
        """Take back the attempt of a good code: only failures use up the window."""
        await self._r.decr(self._key(subject))
