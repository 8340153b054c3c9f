"""SAML providers in the IamStore, on a real Redis (db 4): lifecycle, private-key rules, sealing
at rest, `saml_trust` and its per-epoch cache; one lifecycle on fakeredis (`tessera dev`)."""
from __future__ import annotations

from datetime import datetime, timezone

import fakeredis
import pytest
import redis.asyncio as aioredis

from app.core.clock import FixedClock
from app.core.errors import EntityAlreadyExists, InvalidInput, LimitExceeded, NoSuchEntity
from app.core.records import Tag
from app.store.iam_cache import CachedIamReads
from app.store.iam_saml import KEY_LIMIT, MAX_PROVIDERS, KeyUpload, MetadataUpload, hundred_years_after
from app.store.iam_store import IamStore
from app.store.keys import Keys
from app.store.secretbox import SecretBox
from tests.redis_target import redis_url

URL = redis_url(4)
ACCT = "123456789012"
NOW = 1_700_000_000.0
BOX = SecretBox(b"s" * 32)
PEM_A = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"
PEM_B = "-----BEGIN PRIVATE KEY-----\nBBBB\n-----END PRIVATE KEY-----\n"
PEM_C = "-----BEGIN PRIVATE KEY-----\nCCCC\n-----END PRIVATE KEY-----\n"
KEY_A, KEY_B, KEY_C = KeyUpload(PEM_A, "fa"), KeyUpload(PEM_B, "fb"), KeyUpload(PEM_C, "fc")


def upload(entity: str = "https://idp.example/saml", certs: tuple[str, ...] = ("CERT1",),
           valid_until: float | None = None) -> MetadataUpload:
    return MetadataUpload(document=f"<md entityID='{entity}'/>", entity_id=entity, certificates_pem=certs,
                          valid_until=valid_until)


async def test_create_get_list_delete(store: IamStore) -> None:
    made = await store.create_saml_provider("Okta", upload(valid_until=NOW + 86400),
                                            tags=[Tag("team", "a")])
    assert made.arn == f"arn:aws:iam::{ACCT}:saml-provider/Okta"
    assert len(made.saml_provider_uuid) == 24 and made.saml_provider_uuid.isupper()
    got = await store.get_saml_provider("okta")  # names are case-insensitive, the case is kept
    assert got == made
    assert got.saml_metadata_document == "<md entityID='https://idp.example/saml'/>"
    assert (got.create_date, got.valid_until, got.tags) == (NOW, NOW + 86400, (Tag("team", "a"),))
    assert got.assertion_encryption_mode is None and got.private_key_list == ()
    listed = await store.list_saml_providers()
    assert [(e.arn, e.create_date, e.valid_until) for e in listed] == [(made.arn, NOW, NOW + 86400)]
    with pytest.raises(EntityAlreadyExists):
        await store.create_saml_provider("OKTA", upload())
    await store.delete_saml_provider("OKTA")
    assert await store.get_saml_provider("Okta") is None
    assert await store.list_saml_providers() == []
    with pytest.raises(NoSuchEntity, match=f"Manifest not found for arn arn:aws:iam::{ACCT}:saml-provider/Okta"):
        await store.delete_saml_provider("Okta")


async def test_valid_until_defaults_to_a_hundred_years_after_the_upload(store: IamStore, clock: FixedClock) -> None:
    made = await store.create_saml_provider("p", upload())
    then = datetime.fromtimestamp(made.valid_until, timezone.utc)
    assert then == datetime.fromtimestamp(NOW, timezone.utc).replace(year=2123)
    clock.advance(3600)
    updated = await store.update_saml_provider("p", metadata=upload("https://other"))
    assert updated.valid_until == hundred_years_after(NOW + 3600) and updated.entity_id == "https://other"
    leap = datetime(2000, 2, 29, 12, tzinfo=timezone.utc).timestamp()  # 2100 is no leap year
    assert datetime.fromtimestamp(hundred_years_after(leap), timezone.utc) == datetime(2100, 2, 28, 12, tzinfo=timezone.utc)


async def test_private_key_rules(store: IamStore, clock: FixedClock) -> None:
    with pytest.raises(InvalidInput, match="no private key is provided"):
        await store.create_saml_provider("p", upload(), encryption_mode="Required")
    made = await store.create_saml_provider("p", upload(), encryption_mode="Required", private_key=KEY_A)
    (first,) = made.private_key_list
    assert len(first.key_id) == 24 and first.timestamp == NOW
    with pytest.raises(InvalidInput, match="already registered"):
        await store.update_saml_provider("p", add_key=KEY_A)
    clock.advance(10)
    second = (await store.update_saml_provider("p", add_key=KEY_B)).private_key_list[1]
    assert second.timestamp == NOW + 10
    with pytest.raises(LimitExceeded, match=KEY_LIMIT):
        await store.update_saml_provider("p", add_key=KEY_C)
    with pytest.raises(InvalidInput, match="does not match a private key"):
        await store.update_saml_provider("p", remove_key="NOPE" * 6)
    await store.update_saml_provider("p", remove_key=first.key_id)
    with pytest.raises(InvalidInput, match="Failed to remove private key"):
        await store.update_saml_provider("p", remove_key=second.key_id)
    # allowed again in one change: the mode goes first
    done = await store.update_saml_provider("p", remove_key=second.key_id, encryption_mode="Allowed")
    assert done.private_key_list == () and done.assertion_encryption_mode == "Allowed"
    with pytest.raises(InvalidInput, match="no private key is provided"):
        await store.update_saml_provider("p", encryption_mode="Required")
    with pytest.raises(NoSuchEntity):
        await store.update_saml_provider("q", encryption_mode="Allowed")


async def test_private_keys_are_sealed_at_rest_and_unsealed_for_trust(store: IamStore, redis: aioredis.Redis) -> None:
    await store.create_saml_provider("p", upload(certs=("C1", "C2")), encryption_mode="Required", private_key=KEY_A)
    await store.update_saml_provider("p", add_key=KEY_B)
    dump = [v for k in await redis.keys("*") if await redis.type(k) == "hash" for v in (await redis.hgetall(k)).values()]
    assert dump and not any("PRIVATE KEY" in v or "AAAA" in v for v in dump)
    trust = await store.saml_trust("P")
    assert trust is not None
    assert (trust.arn, trust.name, trust.entity_id) == (f"arn:aws:iam::{ACCT}:saml-provider/p", "p", "https://idp.example/saml")
    assert trust.certificates_pem == ("C1", "C2") and trust.private_keys_pem == (PEM_A, PEM_B)
    assert trust.encryption_required and trust.valid_until == hundred_years_after(NOW)
    assert "AAAA" not in repr(trust)
    assert await store.saml_trust("missing") is None
    # a store under another master key cannot open them: the keys are left out, nothing leaks
    other = IamStore(redis, account=ACCT, box=SecretBox(b"o" * 32), clock=FixedClock(NOW))
    unopened = await other.saml_trust("p")
    assert unopened is not None and unopened.private_keys_pem == ()


async def test_tags(store: IamStore) -> None:
    await store.create_saml_provider("p", upload(), tags=[Tag("a", "1")])
    await store.tag_saml_provider("p", [Tag("A", "2"), Tag("b", "3")])
    await store.untag_saml_provider("p", ["B"])
    got = await store.get_saml_provider("p")
    assert got is not None and got.tags == (Tag("A", "2"),)
    with pytest.raises(LimitExceeded, match="TagsPerSAMLProvider: 50"):
        await store.tag_saml_provider("p", [Tag(f"k{i}", "") for i in range(50)])
    with pytest.raises(NoSuchEntity):
        await store.tag_saml_provider("q", [Tag("a", "")])


async def test_at_most_a_hundred_providers(store: IamStore) -> None:
    for i in range(MAX_PROVIDERS):
        await store.create_saml_provider(f"p{i}", upload())
    with pytest.raises(LimitExceeded, match="SAMLProvidersPerAccount: 100"):
        await store.create_saml_provider("one-more", upload())
    assert await store.count("saml") == MAX_PROVIDERS


async def test_saml_trust_is_cached_per_epoch(store: IamStore, redis: aioredis.Redis) -> None:
    calls: list[str] = []
    real = store.saml_trust

    async def counting(name: str) -> object:
        calls.append(name)
        return await real(name)

    store.saml_trust = counting  # type: ignore[method-assign]
    reads = CachedIamReads(store, redis, Keys(ACCT))
    await store.create_saml_provider("p", upload(), private_key=KEY_A)
    first = await reads.saml_trust("p")  # pins the epoch itself (unsigned calls have no pin)
    assert reads.pinned is not None
    assert await reads.saml_trust("P") is first and len(calls) == 1
    await store.update_saml_provider("p", add_key=KEY_B)  # a write: the next request sees it
    reads.unpin()
    fresh = await reads.saml_trust("p")
    assert fresh is not None and fresh.private_keys_pem == (PEM_A, PEM_B) and len(calls) == 2


async def test_lifecycle_on_fakeredis() -> None:
    store = IamStore(fakeredis.aioredis.FakeRedis(decode_responses=True), account=ACCT, box=BOX,
                     clock=FixedClock(NOW))
    await store.create_saml_provider("p", upload(), encryption_mode="Allowed", private_key=KEY_A)
    await store.tag_saml_provider("p", [Tag("a", "1")])
    trust = await store.saml_trust("p")
    assert trust is not None and trust.private_keys_pem == (PEM_A,) and not trust.encryption_required
    await store.delete_saml_provider("p")
    assert await store.saml_trust("p") is None
