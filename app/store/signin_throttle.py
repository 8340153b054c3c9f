"""Password sign-in attempts, counted to slow down guessing: per user name and per client address.

Each subject is one counter key (`Keys.signin_attempts`: `sso:pwtry:user:HASH`,
`sso:pwtry:ip:HASH`, HASH a keyed hash of the subject, so Redis shows neither names nor
addresses), shared by every worker and replica, and cluster-friendly (one key per command).
An attempt is counted BEFORE its password is checked, in one transaction (`SET 0 EX window NX`
+ `INCR` + `PTTL`): of concurrent attempts exactly `limit` get through per window, whatever the
interleaving, and the others are refused without any password work. While a subject is over its
limit every attempt is refused, right passwords included, until the window ends; the refusal
says when (`retry_after`, the counter's remaining time to live). A success resets the user's
counter and takes back its own attempt from the address's, so only failures use up a window.

A name that is no user is counted like a user's (no difference an attacker could observe).
Redis failures surface as redis-py's errors, which the pages answer with a 503.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Protocol

from app.store.keys import Keys

USER_LIMIT = 5  # failed sign-ins per user name and window
SOURCE_LIMIT = 20  # failed sign-ins per client address and window (across user names)
WINDOW = 900  # seconds


class Digest(Protocol):
    """app.store.secretbox.SecretBox."""

    def digest(self, value: str | bytes) -> str: ...


@dataclass(frozen=True, slots=True)
class Verdict:
    allowed: bool
    count: int
    retry_after: int  # seconds until the window ends (0 while allowed)


class SignInThrottle:
    def __init__(self, redis: Any, box: Digest, *, user_limit: int = USER_LIMIT,
                 source_limit: int = SOURCE_LIMIT, window: int = WINDOW) -> None:
        self._r = redis
        self._box = box
        self._limits = {"user": user_limit, "ip": source_limit}
        self._window = window

    def _key(self, kind: str, subject: str) -> str:
        return Keys.signin_attempts(kind, self._box.digest(f"sso/pwtry/{kind}\n{subject.lower()}"))

    async def attempt(self, kind: str, subject: str) -> Verdict:
        """Count one attempt of `subject` (`kind` `user`: a user name; `ip`: an address)."""
        key = self._key(kind, subject)
        async with self._r.pipeline(transaction=True) as pipe:
            pipe.set(key, 0, ex=self._window, nx=True)  # the window starts at the first attempt
            pipe.incr(key)
            pipe.pttl(key)
            _, count, pttl = await pipe.execute()
        count = int(count)
        if count <= self._limits[kind]:
            return Verdict(True, count, 0)
        left = int(pttl) if int(pttl) > 0 else self._window * 1000
        return Verdict(False, count, max(1, math.ceil(left / 1000)))

    async def succeeded(self, user_name: str, source: str | None) -> None:
        """A good password: the user's counter starts over, the address's attempt is taken back
        (a counter whose window ended in between, left without expiry by the DECR, is removed)."""
        await self._r.delete(self._key("user", user_name))
        if source:
            key = self._key("ip", source)
            async with self._r.pipeline(transaction=True) as pipe:
                pipe.decr(key)
                pipe.pttl(key)
                _, pttl = await pipe.execute()
            if int(pttl) == -1:
                await self._r.delete(key)
