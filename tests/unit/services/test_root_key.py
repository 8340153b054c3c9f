"""ConfiguredRootKey: the configured root key is re-created only for its own key id, only when
the store says it lost the account's data, with one warning that never holds the secret."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

import pytest

from app.services.root_key import ConfiguredRootKey

AKID = "AKIAROOTTESTKEY00001"
SECRET = "rootSecretKeyForUnitTests000000000000000"


@dataclass
class FakeStore:
    lost: bool
    calls: list[str] = field(default_factory=list)

    async def restore_root_access_key(self, access_key_id: str, secret: str) -> bool:
        assert secret == SECRET
        self.calls.append(access_key_id)
        restored, self.lost = self.lost, False
        return restored


async def test_restored_once_after_a_loss_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    store = FakeStore(lost=True)
    root = ConfiguredRootKey(store, AKID, SECRET, account="123456789012")
    with caplog.at_level(logging.WARNING, logger="tessera.store"):
        assert await root.restore(AKID) is True
        assert await root.restore(AKID) is False  # the store has its data again
    [record] = [r for r in caplog.records if getattr(r, "event", None) == "store.bootstrap.lost"]
    assert record.levelno == logging.WARNING and AKID in record.getMessage()
    assert SECRET not in caplog.text


async def test_other_key_ids_never_reach_the_store() -> None:
    store = FakeStore(lost=True)
    root = ConfiguredRootKey(store, AKID, SECRET, account="123456789012")
    assert await root.restore("AKIASOMEONEELSE00001") is False
    assert store.calls == []
