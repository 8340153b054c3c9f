"""CachedIamReads: the IAM reads of the hot path, cached per IAM epoch.

The contract wants an IAM change to apply to the very next request on every worker, so nothing
here expires by time. Instead every IAM write bumps the account's epoch (`Keys.epoch()`) in the
same MULTI/EXEC as the change (app.store.iam_base), and a request first *pins* the epoch: one
MGET of the epoch plus whatever else the request needs anyway (its session record). Reads made
while pinned are served from memory when they were cached under that same epoch, else read
through to the IamStore and cached under it. The epoch is read before the value, so a cached
value is never older than the epoch it is filed under; a request that starts after a write
returned sees the new epoch and none of the older entries.

- The pin lives in a ContextVar: each request (each asyncio task) has its own.
- Without a pin (IAM service internals, unsigned calls, tests) reads go straight to the store.
- After an IAM write in the current task the pin is dropped (read-your-writes).
- The memory holds the entries of one epoch, the most recently pinned one; a request still
  pinned to another epoch reads through. Bounded: all entries are dropped on overflow.
- Negative answers (None) are cached like any other.
"""
from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import Any, TypeVar

from redis.exceptions import RedisError

from app.core.errors import ServiceUnavailable
from app.core.records import AccessKey, OidcProviderRecord, PrincipalPolicies, Role, SamlProviderRecord, User
from app.store.iam_store import IamStore
from app.store.keys import Keys

_MISS: Any = object()
T = TypeVar("T")


class CachedIamReads:
    """`CachedIamReads(store, redis, Keys(account), max_entries=50_000)`: IamStore's hot-path
    read API (`find_access_key`, `get_user`, `get_role`, `principal_policies`,
    `managed_policy_document`, `saml_trust`, `oidc_provider`) plus `pin()`; the last-used writes
    pass through."""

    def __init__(self, store: IamStore, redis: Any, keys: Keys, *, max_entries: int = 50_000) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be positive")
        self._store = store
        self._redis = redis
        self._epoch_key = keys.epoch()
        self._max = max_entries
        self._pinned: ContextVar[str | None] = ContextVar(f"tessera_iam_epoch_{id(self):x}", default=None)
        self._epoch: str | None = None  # the epoch the entries belong to
        self._entries: dict[tuple[str, ...], Any] = {}
        store.on_write(self.unpin)

    # ---- the epoch of the current request ----
    async def pin(self, *keys: str) -> list[Any]:
        """One round trip: GET the epoch and `keys`; pin the epoch for the current task.
        -> the values of `keys`, in order (None for a missing key)."""
        values: list[Any]
        try:
            epoch, *values = await self._redis.mget(self._epoch_key, *keys)
        except RedisError as exc:
            raise ServiceUnavailable("the credential store is unavailable", reason="store_unavailable") from exc
        if isinstance(epoch, bytes):
            epoch = epoch.decode()
        self._pinned.set(epoch)
        if epoch != self._epoch:
            self._entries = {}
            self._epoch = epoch
        return values

    def unpin(self) -> None:
        """Reads of the current task go to the store again (until the next `pin`)."""
        self._pinned.set(None)

    @property
    def pinned(self) -> str | None:
        return self._pinned.get()

    def __len__(self) -> int:
        return len(self._entries)

    async def _read(self, key: tuple[str, ...], load: Callable[[], Awaitable[T]]) -> T:
        epoch = self._pinned.get()
        if epoch is None or epoch != self._epoch:
            return await load()
        entries = self._entries
        found: T = entries.get(key, _MISS)
        if found is not _MISS:
            return found
        value = await load()
        if self._entries is entries:  # the memory did not move to another epoch meanwhile
            if len(entries) >= self._max:
                entries.clear()
            entries[key] = value
        return value

    # ---- the cached reads (values are immutable records, shared between requests) ----
    async def find_access_key(self, access_key_id: str) -> AccessKey | None:
        return await self._read(("ak", access_key_id), lambda: self._store.find_access_key(access_key_id))

    async def get_user(self, name: str) -> User | None:
        return await self._read(("user", name.lower()), lambda: self._store.get_user(name))

    async def get_role(self, name: str) -> Role | None:
        """The role without its last-used data."""
        return await self._read(("role", name.lower()), lambda: self._store.get_role_record(name))

    async def principal_policies(self, kind: str, name: str) -> PrincipalPolicies | None:
        return await self._read(("pp", kind, name.lower()), lambda: self._store.principal_policies(kind, name))

    async def managed_policy_document(self, arn: str) -> str | None:
        return await self._read(("doc", arn), lambda: self._store.managed_policy_document(arn))

    async def saml_trust(self, name: str) -> SamlProviderRecord | None:
        """The SAML provider's trust record (private keys unsealed once per epoch, not per
        request). AssumeRoleWithSAML is unsigned, so no authentication pinned an epoch: this
        pins one when the task has none, and the request's later reads (the role, its
        policies) are then served from the same epoch's memory too."""
        if self._pinned.get() is None:
            await self.pin()
        return await self._read(("saml", name.lower()), lambda: self._store.saml_trust(name))

    async def oidc_provider(self, url_without_scheme: str) -> OidcProviderRecord | None:
        """The OIDC provider registered for a token's `iss` without scheme (exact string; the
        record's `url` keeps the scheme, to compare with `iss` whole). Pins an epoch when the
        task has none, as `saml_trust` (AssumeRoleWithWebIdentity is unsigned too)."""
        if self._pinned.get() is None:
            await self.pin()
        return await self._read(("oidc", url_without_scheme),
                                lambda: self._store.oidc_provider(url_without_scheme))

    # ---- statistics writes: not IAM state, straight through ----
    async def touch_access_key(self, access_key_id: str, service: str, region: str) -> None:
        await self._store.touch_access_key(access_key_id, service, region)
