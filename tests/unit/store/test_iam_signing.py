"""Signing certificates and SSH public keys in the IamStore, on a real Redis (db 11); one
lifecycle on fakeredis too (`tessera dev` runs the same code on it)."""
from __future__ import annotations

import fakeredis
import pytest

from app.core.clock import FixedClock
from app.core.errors import (
    DeleteConflict,
    DuplicateCertificate,
    DuplicateSSHPublicKey,
    LimitExceeded,
    NoSuchEntity,
)
from app.store.iam_signing import MAX_CERTIFICATES, MAX_SSH_KEYS
from app.store.iam_store import IamStore
from app.store.secretbox import SecretBox
from tests.redis_target import redis_url

URL = redis_url(11)
ACCT = "123456789012"
NOW = 1_700_000_000.0
BOX = SecretBox(b"s" * 32)


def ssh(n: int) -> dict[str, str]:
    return {"body": f"ssh-rsa KEY{n}", "encoding": "SSH", "openssh": f"ssh-rsa KEY{n}",
            "pem": f"PEM{n}", "fingerprint": f"fp{n}"}


async def test_certificates_lifecycle_listing_and_epoch(store: IamStore, clock: FixedClock) -> None:
    await store.create_user("Alice")
    before = await store.epoch()
    first = await store.upload_signing_certificate("alice", "BODY1", "d1")
    assert await store.epoch() != before
    clock.advance(5)
    second = await store.upload_signing_certificate("ALICE", "BODY2", "d2")
    assert len(first.certificate_id) == 32 and first.certificate_id.isupper()
    assert (first.user_name, first.status, first.upload_date) == ("Alice", "Active", NOW)
    listed = await store.list_signing_certificates("alice")
    assert [(c.certificate_id, c.status, c.upload_date) for c in listed] == [
        (first.certificate_id, "Active", NOW), (second.certificate_id, "Active", NOW + 5)]
    with pytest.raises(LimitExceeded):
        await store.upload_signing_certificate("alice", "BODY3", "d3")
    await store.update_signing_certificate("alice", first.certificate_id, "Inactive")
    assert (await store.list_signing_certificates("alice"))[0].status == "Inactive"
    await store.delete_signing_certificate("alice", first.certificate_id)
    with pytest.raises(NoSuchEntity):
        await store.delete_signing_certificate("alice", first.certificate_id)
    with pytest.raises(NoSuchEntity):
        await store.update_signing_certificate("alice", first.certificate_id, "Active")
    assert MAX_CERTIFICATES == 2


async def test_certificate_is_unique_in_the_account_until_deleted(store: IamStore) -> None:
    await store.create_user("a")
    await store.create_user("b")
    cert = await store.upload_signing_certificate("a", "BODY", "same")
    with pytest.raises(DuplicateCertificate):
        await store.upload_signing_certificate("b", "BODY", "same")
    with pytest.raises(DuplicateCertificate):
        await store.upload_signing_certificate("", "BODY", "same")
    await store.delete_signing_certificate("a", cert.certificate_id)
    assert (await store.upload_signing_certificate("b", "BODY", "same")).user_name == "b"


async def test_root_certificates_and_missing_users(store: IamStore) -> None:
    cert = await store.upload_signing_certificate("", "ROOT", "r")
    assert cert.user_name == ""
    assert [c.certificate_id for c in await store.list_signing_certificates("")] == [cert.certificate_id]
    with pytest.raises(NoSuchEntity):
        await store.upload_signing_certificate("ghost", "X", "x")
    with pytest.raises(NoSuchEntity):
        await store.list_signing_certificates("ghost")
    with pytest.raises(NoSuchEntity):
        await store.list_ssh_public_keys("ghost")


async def test_ssh_keys_lifecycle_encodings_and_limits(store: IamStore) -> None:
    await store.create_user("Bob")
    keys = [await store.upload_ssh_public_key("bob", **ssh(n)) for n in range(MAX_SSH_KEYS)]
    assert keys[0].ssh_public_key_id.startswith("APKA") and len(keys[0].ssh_public_key_id) == 20
    assert keys[0].user_name == "Bob"
    with pytest.raises(LimitExceeded):
        await store.upload_ssh_public_key("bob", **ssh(99))
    with pytest.raises(DuplicateSSHPublicKey):
        await store.upload_ssh_public_key("bob", **{**ssh(98), "fingerprint": "fp0"})
    kid = keys[0].ssh_public_key_id
    assert (await store.get_ssh_public_key("bob", kid, "PEM")).ssh_public_key_body == "PEM0"
    assert (await store.get_ssh_public_key("bob", kid, "SSH")).ssh_public_key_body == "ssh-rsa KEY0"
    await store.update_ssh_public_key("bob", kid, "Inactive")
    assert {k.ssh_public_key_id: k.status for k in await store.list_ssh_public_keys("bob")}[kid] == "Inactive"
    await store.delete_ssh_public_key("bob", kid)
    for op in (store.get_ssh_public_key("bob", kid, "SSH"), store.delete_ssh_public_key("bob", kid),
               store.update_ssh_public_key("bob", kid, "Active")):
        with pytest.raises(NoSuchEntity):
            await op


async def test_delete_user_conflicts_and_rename(store: IamStore) -> None:
    await store.create_user("carol")
    cert = await store.upload_signing_certificate("carol", "C", "c")
    key = await store.upload_ssh_public_key("carol", **ssh(1))
    await store.update_user("carol", new_name="Dave")
    assert (await store.list_signing_certificates("dave"))[0].user_name == "Dave"
    assert (await store.list_ssh_public_keys("dave"))[0].user_name == "Dave"
    with pytest.raises(DeleteConflict, match="must delete certificates first"):
        await store.delete_user("dave")
    await store.delete_signing_certificate("dave", cert.certificate_id)
    with pytest.raises(DeleteConflict, match="must remove referenced objects first"):
        await store.delete_user("dave")
    await store.delete_ssh_public_key("dave", key.ssh_public_key_id)
    await store.delete_user("dave")


async def test_lifecycle_on_fakeredis() -> None:
    fake = fakeredis.FakeAsyncRedis(decode_responses=True)
    store = IamStore(fake, account=ACCT, box=BOX, clock=FixedClock(NOW))
    await store.create_user("eve")
    cert = await store.upload_signing_certificate("eve", "E", "e")
    key = await store.upload_ssh_public_key("eve", **ssh(1))
    await store.update_signing_certificate("eve", cert.certificate_id, "Inactive")
    await store.delete_signing_certificate("eve", cert.certificate_id)
    await store.delete_ssh_public_key("eve", key.ssh_public_key_id)
    await store.delete_user("eve")
    await fake.aclose()
