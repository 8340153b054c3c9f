"""The configured root key (`TESSERA_ROOT_ACCESS_KEY_ID` / `..._SECRET_ACCESS_KEY`) works whenever
the store answers, even after the store lost the account's data.

It is stored at start-up; if Redis then comes back empty (no persistence, a flush, a failover to
an empty replica), the operator would have no way in until Tessera restarts. So an unknown long-term
key id equal to the configured one gets a second look: when the account's bootstrap record is gone
too, the store lost its data, and the key is re-created from the settings (and a warning, once per
loss, says so: `store.bootstrap.lost`). While the record is there the store has its data, so a root
key deleted through the API stays deleted (a deactivated one is found, Inactive, and refused anyway).

Cost on the request path: none for a known key. The second look runs only for an unknown key id
that equals the configured one, and costs one read of the bootstrap record unless the data really
was lost. Checking the record on every request, or watching Redis for restarts, would cost a round
trip per request or a background task for an event that a refused root key reveals anyway.
"""
from __future__ import annotations

import logging
from typing import Protocol

_log = logging.getLogger("tessera.store")


class RootKeyStore(Protocol):
    """Implemented by app.store.iam_store.IamStore."""

    async def restore_root_access_key(self, access_key_id: str, secret: str) -> bool: ...


class ConfiguredRootKey:
    def __init__(self, store: RootKeyStore, access_key_id: str, secret_access_key: str, *, account: str) -> None:
        self._store = store
        self._akid = access_key_id
        self._secret = secret_access_key
        self._account = account

    async def restore(self, access_key_id: str) -> bool:
        """For a long-term key id the store does not know: True when it is the configured root
        key and was re-created now because the store had lost the account's data."""
        if access_key_id != self._akid or not await self._store.restore_root_access_key(self._akid, self._secret):
            return False
        _log.warning("the store lost the account's data: the configured root access key %s of account %s "
                     "was re-created; every other IAM entity and session is gone", self._akid, self._account,
                     extra={"event": "store.bootstrap.lost"})
        return True
