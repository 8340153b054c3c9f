"""Long-term access keys of IAM users and of the account root (user_name "").

The secret is stored sealed (`SecretBox.seal(secret, aad=access_key_id)`), never in
plaintext; it is returned once by `create_access_key` and opened only by
`find_access_key` for signature verification.
"""
from __future__ import annotations

import json
from typing import Any

from app.core import ids
from app.core.errors import LimitExceeded, NoSuchEntity
from app.core.records import AccessKey, AccessKeyLastUsed
from app.store.iam_entities import EntitiesMixin, not_found

MAX_KEYS = 2
STATUSES = ("Active", "Inactive")


class _BootstrapPresent(Exception):
    """Raised inside a restore's transaction to leave it without writing anything."""


def key_not_found(access_key_id: str) -> NoSuchEntity:
    return NoSuchEntity(f"The Access Key with id {access_key_id} cannot be found.")


class AccessKeysMixin(EntitiesMixin):
    def _owner_set(self, user_name: str) -> str:
        return (self._k.user_access_keys(user_name.lower()) if user_name
                else self._k.root_access_keys())

    def _key_record(self, access_key_id: str, h: dict[str, str]) -> AccessKey:
        return AccessKey(user_name=h.get("u", ""), access_key_id=access_key_id,
                         status=h.get("s", "Active"), create_date=float(h["c"]))

    async def create_access_key(self, user_name: str) -> AccessKey:
        """A new Active key for the user ("" = root); the result carries the secret."""
        owner = self._owner_set(user_name)
        user_key = self._k.entity("user", user_name.lower()) if user_name else None
        akid = ids.access_key_id(ids.LONG_TERM_KEY, self._rng)
        secret = ids.secret_access_key(self._rng)
        key = self._k.access_key(akid)

        async def body(pipe: Any) -> AccessKey:
            user_raw, count, taken = await self._read(
                ("get", user_key) if user_key else ("exists", owner), ("scard", owner),
                ("exists", key))
            if user_key and user_raw is None:
                raise not_found("user", user_name)
            if count >= MAX_KEYS:
                raise LimitExceeded(f"Cannot exceed quota for AccessKeysPerUser: {MAX_KEYS}")
            if taken:  # 80 random bits colliding: practically never
                raise LimitExceeded("access key id collision; retry the request")
            name = json.loads(user_raw)["n"] if user_key else ""  # the stored case
            rec = AccessKey(user_name=name, access_key_id=akid, status="Active",
                            create_date=self._clock.time(), secret_access_key=secret)
            pipe.multi()
            pipe.hset(key, mapping={"u": name, "s": "Active", "c": str(rec.create_date),
                                    "k": self._box.seal(secret, aad=akid)})
            pipe.sadd(owner, akid)
            return rec

        watched = [owner, key] + ([user_key] if user_key else [])
        made = await self._atomic(watched, body)
        await self._replicated()  # the secret is returned once: only when it cannot be lost
        return made

    async def list_access_keys(self, user_name: str) -> list[AccessKey] | None:
        """Keys without secrets, oldest first; None when the user does not exist."""
        owner = self._owner_set(user_name)
        if user_name:
            there, akids = await self._read(("exists", self._k.entity("user", user_name.lower())),
                                            ("smembers", owner))
            if not there:
                return None
        else:
            akids = await self._r.smembers(owner)
        recs = await self._read(*[("hgetall", self._k.access_key(a)) for a in sorted(akids)])
        out = [self._key_record(a, h) for a, h in zip(sorted(akids), recs) if h]
        return sorted(out, key=lambda r: (r.create_date, r.access_key_id))

    async def _owned(self, user_name: str, access_key_id: str) -> tuple[str, str]:
        owner = self._owner_set(user_name)
        if user_name and not await self._r.exists(self._k.entity("user", user_name.lower())):
            raise not_found("user", user_name)
        return owner, self._k.access_key(access_key_id)

    async def update_access_key(self, user_name: str, access_key_id: str, status: str) -> None:
        owner, key = await self._owned(user_name, access_key_id)

        async def body(pipe: Any) -> None:
            if not await self._r.sismember(owner, access_key_id):
                raise key_not_found(access_key_id)
            pipe.multi()
            pipe.hset(key, "s", status)

        await self._atomic([owner, key], body)

    async def delete_access_key(self, user_name: str, access_key_id: str) -> None:
        owner, key = await self._owned(user_name, access_key_id)

        async def body(pipe: Any) -> None:
            if not await self._r.sismember(owner, access_key_id):
                raise key_not_found(access_key_id)
            pipe.multi()
            pipe.srem(owner, access_key_id)
            pipe.delete(key, self._k.access_key_used(access_key_id))

        await self._atomic([owner, key], body)

    # ---- hot path (authentication) ----
    async def find_access_key(self, access_key_id: str) -> AccessKey | None:
        """The key with its secret decrypted, or None (unknown, or the sealed secret does
        not open under this master key / this key id)."""
        h = await self._r.hgetall(self._k.access_key(access_key_id))
        if not h or "k" not in h:
            return None
        try:
            secret = self._box.open(h["k"], aad=access_key_id)
        except ValueError:
            return None
        rec = self._key_record(access_key_id, h)
        return AccessKey(user_name=rec.user_name, access_key_id=access_key_id,
                         status=rec.status, create_date=rec.create_date,
                         secret_access_key=secret)

    async def ensure_root_access_key(self, access_key_id: str, secret: str) -> None:
        """Idempotent bootstrap of the root's key at start-up: created Active if absent; an
        existing root key keeps its status and gets the (possibly rotated) secret. A configured
        key that this store already bootstrapped and that was deleted through the API since
        stays deleted (a restart does not bring it back); a newly configured key id is created."""
        try:
            await self._put_root_access_key(access_key_id, secret, only_if_lost=False)
        except _BootstrapPresent:
            pass

    async def restore_root_access_key(self, access_key_id: str, secret: str) -> bool:
        """The same bootstrap, only when the account's bootstrap record is gone, i.e. the store
        lost the account's data (a fresh or flushed Redis, a failover to an empty replica):
        True when this call restored it (one caller, however many race). While the record is
        there, a root key deleted or deactivated through the API stays so."""
        if await self.root_created() is not None:  # the usual answer: one read, nothing written
            return False
        try:
            await self._put_root_access_key(access_key_id, secret, only_if_lost=True)
        except _BootstrapPresent:  # another request or worker restored it meanwhile
            return False
        return True

    async def _put_root_access_key(self, access_key_id: str, secret: str, *, only_if_lost: bool) -> None:
        key, owner, meta = self._k.access_key(access_key_id), self._k.root_access_keys(), self._k.meta()

        async def body(pipe: Any) -> None:
            if only_if_lost and await self._r.hexists(meta, "root_created"):
                raise _BootstrapPresent()
            h = await self._r.hgetall(key)
            if h and h.get("u", ""):
                raise ValueError("the root access key id belongs to an IAM user")
            if not h and not only_if_lost and await self._r.hget(meta, "root_key_id") == access_key_id:
                raise _BootstrapPresent()  # bootstrapped before, deleted through the API since
            pipe.multi()
            fields = {"u": "", "k": self._box.seal(secret, aad=access_key_id)}
            if not h:
                fields |= {"s": "Active", "c": str(self._clock.time())}
            pipe.hset(key, mapping=fields)
            pipe.sadd(owner, access_key_id)
            pipe.hsetnx(meta, "root_created", str(self._clock.time()))
            pipe.hset(meta, "root_key_id", access_key_id)

        await self._atomic([key, owner, meta], body)
        await self._replicated()

    async def root_created(self) -> float | None:
        raw = await self._r.hget(self._k.meta(), "root_created")
        return float(raw) if raw else None

    async def touch_access_key(self, access_key_id: str, service: str, region: str) -> None:
        """AccessKeyLastUsed (best effort; never recreates a deleted key)."""
        key = self._k.access_key(access_key_id)

        async def body(pipe: Any) -> None:
            there = await self._r.exists(key)
            pipe.multi()
            if there:
                pipe.hset(self._k.access_key_used(access_key_id),
                          mapping={"d": str(self._clock.time()), "svc": service, "r": region})

        await self._atomic([key], body, stats=True)

    async def access_key_last_used(self, access_key_id: str
                                   ) -> tuple[str, AccessKeyLastUsed] | None:
        """-> (owner user name, "" for root; last use), None when unknown."""
        owner, used = await self._read(("hget", self._k.access_key(access_key_id), "u"),
                                       ("hgetall", self._k.access_key_used(access_key_id)))
        if owner is None:
            return None
        if not used:
            return owner, AccessKeyLastUsed()
        return owner, AccessKeyLastUsed(service_name=used.get("svc", "N/A"),
                                        region=used.get("r", "N/A"),
                                        last_used_date=float(used["d"]))
