"""Device-code grants of `tessera login --no-browser` (RFC 8628 style; app.sso.device has the
rules). Redis side only.

    sso:dev:H        HASH, one grant (H = keyed hash of the device code): `st` pending | approved |
                     denied | done, `iv` poll interval, `lp` last poll (ms), `v` the verifier this
                     service keeps for the handoff (sealed), `g` the sign-in handle, role and
                     sign-in end once approved (sealed); expires with the device code
    sso:dev:H:cred   the approved credentials (sealed), taken once with GETDEL
    sso:devuser:U    H, under a keyed hash of the user code (SET NX: no two grants share one)
    sso:devref:R     H, under a keyed hash of the reference the browser carries through sign-in
    sso:devtry:S     failed or counted attempts of one client (S = keyed hash of its address)

Every write to `sso:dev:H` after its creation is a compare-and-set on `st` (app.store.redis_ops),
so it happens only while the grant exists (never leaving a key without its expiry) and in the
state it was read in. Every value that could be replayed or opens something is sealed or hashed
under the master key:
reading Redis gives no device code, user code or credentials. A Redis failure raises
ServiceUnavailable.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

from app.store.keys import Keys
from app.store.redis_ops import compare_and_set, guard, text
from app.store.secretbox import SecretBox


@dataclass(frozen=True, slots=True)
class DeviceGrant:
    key_hash: str
    state: str
    interval: int
    last_poll_ms: int
    verifier: str | None = field(default=None, repr=False)
    approval: dict[str, Any] | None = field(default=None, repr=False)


class DeviceGrants:
    def __init__(self, redis: Any, box: SecretBox) -> None:
        self._r = redis
        self._box = box

    def _h(self, purpose: str, value: str) -> str:
        return self._box.digest(f"device/{purpose}\n{value}")

    async def create(self, device_code: str, user_code: str, *, interval: int, until: float) -> bool:
        """A pending grant; False when the user code is already taken (draw another)."""
        h = self._h("code", device_code)
        pxat = math.ceil(until * 1000)
        if not await guard(self._r.set(Keys.device_user_code(self._h("user", user_code)), h, pxat=pxat, nx=True)):
            return False
        key = Keys.device_grant(h)
        pipe = self._r.pipeline(transaction=True)
        pipe.hset(key, mapping={"st": "pending", "iv": interval, "lp": 0})
        pipe.pexpireat(key, pxat)
        await guard(pipe.execute())
        return True

    async def _load(self, h: str) -> DeviceGrant | None:
        key = Keys.device_grant(h)
        raw = await guard(self._r.hgetall(key))
        g = {text(k): text(v) for k, v in (raw or {}).items()}
        if "st" not in g:
            return None
        try:
            verifier = self._box.open(g["v"], aad=f"{key}/v") if "v" in g else None
            approval = json.loads(self._box.open(g["g"], aad=f"{key}/g")) if "g" in g else None
            return DeviceGrant(h, g["st"], int(g.get("iv", "5")), int(g.get("lp", "0")), verifier, approval)
        except ValueError:
            return None

    async def by_device_code(self, device_code: str) -> DeviceGrant | None:
        return await self._load(self._h("code", device_code))

    async def by_user_code(self, user_code: str) -> DeviceGrant | None:
        h = await guard(self._r.get(Keys.device_user_code(self._h("user", user_code))))
        return await self._load(text(h)) if h is not None else None

    async def by_reference(self, reference: str) -> DeviceGrant | None:
        h = await guard(self._r.get(Keys.device_reference(self._h("ref", reference))))
        return await self._load(text(h)) if h is not None else None

    async def start_sign_in(self, grant: DeviceGrant, reference: str, verifier: str) -> None:
        """The user code was entered: the browser carries `reference` through the sign-in and
        this service keeps `verifier` to redeem the handoff for the device."""
        key = Keys.device_grant(grant.key_hash)
        ttl = await guard(self._r.pttl(key))
        if ttl is None or int(ttl) <= 0:
            return
        await guard(self._r.set(Keys.device_reference(self._h("ref", reference)), grant.key_hash, px=int(ttl)))
        await self._transition(key, "pending", {"v": self._box.seal(verifier, aad=f"{key}/v")})

    async def polled(self, grant: DeviceGrant, now_ms: int, interval: int) -> None:
        # only while the grant exists (a bare HSET after its expiry would leave a key with no TTL)
        await self._transition(Keys.device_grant(grant.key_hash), grant.state,
                               {"lp": str(now_ms), "iv": str(interval)})

    async def set_state(self, grant: DeviceGrant, state: str, *, expect: str) -> bool:
        """Move the grant from `expect` to `state`; False when it was not in `expect` any more."""
        key = Keys.device_grant(grant.key_hash)
        return await self._transition(key, expect, {"st": state})

    async def approve(self, grant: DeviceGrant, credentials: dict[str, Any], approval: dict[str, Any]) -> bool:
        """Attach the minted credentials (taken once by the poller) and what the refresh grant
        needs; False when the grant is no longer pending."""
        key = Keys.device_grant(grant.key_hash)
        ttl = await guard(self._r.pttl(key))
        if ttl is None or int(ttl) <= 0:
            return False
        cred_key = Keys.device_credentials(grant.key_hash)
        await guard(self._r.set(cred_key, self._box.seal(json.dumps(credentials), aad=cred_key), px=int(ttl)))
        return await self._transition(key, "pending", {
            "st": "approved", "g": self._box.seal(json.dumps(approval), aad=f"{key}/g")})

    async def take_credentials(self, grant: DeviceGrant) -> dict[str, Any] | None:
        key = Keys.device_credentials(grant.key_hash)
        raw = await guard(self._r.getdel(key))
        if raw is None:
            return None
        try:
            value = json.loads(self._box.open(text(raw), aad=key))
        except ValueError:
            return None
        return value if isinstance(value, dict) else None

    async def _transition(self, key: str, expect: str, mapping: dict[str, str]) -> bool:
        return await compare_and_set(self._r, key, "st", lambda state: state == expect, mapping)

    async def count(self, kind: str, client: str, window_seconds: int) -> int:
        """Count one attempt of kind `kind` by `client` in a window that starts with the first
        one; -> the count so far (the caller refuses above its limit)."""
        key = Keys.device_attempts(self._h(kind, client))
        pipe = self._r.pipeline(transaction=True)
        pipe.set(key, 0, ex=window_seconds, nx=True)
        pipe.incr(key)
        _, count = await guard(pipe.execute())
        return int(count)

    async def attempts(self, kind: str, client: str) -> int:
        raw = await guard(self._r.get(Keys.device_attempts(self._h(kind, client))))
        return int(text(raw)) if raw is not None else 0
