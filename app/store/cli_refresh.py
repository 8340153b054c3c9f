"""Refresh grants of `tessera login`: what lets `tessera credential-process` renew credentials
without a browser while the sign-in lasts (app.sso.refresh has the rules).

One grant is one HASH `Keys.cli_refresh(FAMILY)`: `d` the keyed hash of its current secret (the
secret itself is never stored), `s` the sign-in record's handle (sealed: it opens the browser
sign-in), `r` the role ARN. It expires when the sign-in does (PEXPIREAT).

`rotate` is a compare-and-set under WATCH (app.store.redis_ops): the secret changes only if it is
still the one that was checked, so of two concurrent uses of one secret at most one rotates it.
A Redis failure raises ServiceUnavailable.
"""
from __future__ import annotations

import hmac
import math
from dataclasses import dataclass, field
from typing import Any

from app.store.keys import Keys
from app.store.redis_ops import compare_and_set, guard, text
from app.store.secretbox import SecretBox


@dataclass(frozen=True, slots=True)
class RefreshGrant:
    family: str
    signin_handle: str = field(repr=False)
    role_arn: str
    current: str = field(repr=False)  # keyed hash of the current secret


class RefreshGrants:
    def __init__(self, redis: Any, box: SecretBox) -> None:
        self._r = redis
        self._box = box

    def _digest(self, secret: str) -> str:
        return self._box.digest(f"cli-refresh\n{secret}")

    async def create(self, family: str, secret: str, *, signin_handle: str, role_arn: str, until: float) -> None:
        key = Keys.cli_refresh(family)
        pipe = self._r.pipeline(transaction=True)
        pipe.hset(key, mapping={"d": self._digest(secret), "r": role_arn,
                                "s": self._box.seal(signin_handle, aad=key)})
        pipe.pexpireat(key, math.ceil(until * 1000))
        await guard(pipe.execute())

    async def find(self, family: str) -> RefreshGrant | None:
        key = Keys.cli_refresh(family)
        raw = await guard(self._r.hgetall(key))
        h = {text(k): text(v) for k, v in (raw or {}).items()}
        try:
            return RefreshGrant(family, self._box.open(h["s"], aad=key), h["r"], h["d"])
        except (KeyError, ValueError):
            return None

    def matches(self, grant: RefreshGrant, secret: str) -> bool:
        return hmac.compare_digest(self._digest(secret), grant.current)

    async def rotate(self, grant: RefreshGrant, new_secret: str) -> bool:
        """Replace the grant's secret if it still is `grant.current`; False when it changed (or
        the grant ended) since it was read."""
        return await compare_and_set(self._r, Keys.cli_refresh(grant.family), "d",
                                     lambda current: hmac.compare_digest(current, grant.current),
                                     {"d": self._digest(new_secret)})

    async def revoke(self, family: str) -> None:
        await guard(self._r.delete(Keys.cli_refresh(family)))
