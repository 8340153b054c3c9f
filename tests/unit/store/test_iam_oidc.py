"""OpenID Connect providers in the IamStore, on a real Redis (db 12): lifecycle, quotas,
idempotent client-id changes, tags and the replay-protection tag, `oidc_provider` and its
per-epoch cache, `provider_exists`; one lifecycle on fakeredis (`tessera dev`)."""
from __future__ import annotations

import fakeredis
import pytest
import redis.asyncio as aioredis

from app.core.clock import FixedClock
from app.core.errors import EntityAlreadyExists, LimitExceeded, NoSuchEntity
from app.core.records import Tag
from app.store.iam_cache import CachedIamReads
from app.store.iam_oidc import CLIENT_ID_LIMIT, MAX_CLIENT_IDS, REPLAY_PROTECTION_TAG, TAG_LIMIT
from app.store.iam_providers import MAX_PROVIDERS
from app.store.iam_store import IamStore
from app.store.keys import Keys
from app.store.secretbox import SecretBox
from tests.redis_target import redis_url

URL = redis_url(12)
ACCT = "123456789012"
NOW = 1_700_000_000.0
ISSUER = "https://idp.example.com/realms/acme"
IDENT = "idp.example.com/realms/acme"
ARN = f"arn:aws:iam::{ACCT}:oidc-provider/{IDENT}"


async def test_create_read_list_delete(store: IamStore) -> None:
    made = await store.create_oidc_provider(ISSUER, client_ids=["a", "b", "a"], thumbprints=["f" * 40, "f" * 40],
                                            tags=[Tag("team", "x")])
    assert (made.arn, made.url, made.client_ids, made.thumbprints) == (ARN, ISSUER, ("a", "b"), ("f" * 40,))
    assert (made.create_date, made.tags, made.replay_protection) == (NOW, (Tag("team", "x"),), False)
    assert await store.oidc_provider(IDENT) == made
    assert await store.oidc_provider(IDENT.upper()) is None  # exact, as a token's `iss` is compared
    assert await store.oidc_provider(IDENT + "/") is None
    assert await store.list_oidc_providers() == [ARN]
    assert await store.provider_exists("oidc", IDENT) and not await store.provider_exists("oidc", "other")
    with pytest.raises(EntityAlreadyExists, match="Provider with url http://idp.example.com/realms/acme already"):
        await store.create_oidc_provider("http://" + IDENT)  # the same URL without scheme
    await store.delete_oidc_provider(IDENT)
    assert await store.oidc_provider(IDENT) is None and await store.list_oidc_providers() == []
    with pytest.raises(NoSuchEntity, match=f"OpenIDConnect Provider not found for arn {ARN}"):
        await store.delete_oidc_provider(IDENT)
    with pytest.raises(NoSuchEntity):
        await store.add_oidc_client_id(IDENT, "c")


async def test_client_ids_and_thumbprints(store: IamStore) -> None:
    await store.create_oidc_provider(ISSUER, client_ids=[str(i) for i in range(MAX_CLIENT_IDS - 1)])
    await store.add_oidc_client_id(IDENT, "last")
    assert (await store.add_oidc_client_id(IDENT, "last")).client_ids[-1] == "last"  # idempotent
    with pytest.raises(LimitExceeded, match=CLIENT_ID_LIMIT):
        await store.add_oidc_client_id(IDENT, "one too many")
    after = await store.remove_oidc_client_id(IDENT, "0")
    assert len(after.client_ids) == MAX_CLIENT_IDS - 1 and "0" not in after.client_ids
    assert (await store.remove_oidc_client_id(IDENT, "never there")).client_ids == after.client_ids
    assert (await store.update_oidc_thumbprints(IDENT, ["a" * 40, "b" * 40, "a" * 40])).thumbprints == ("a" * 40, "b" * 40)
    assert (await store.update_oidc_thumbprints(IDENT, [])).thumbprints == ()
    with pytest.raises(LimitExceeded, match=CLIENT_ID_LIMIT):
        await store.create_oidc_provider("https://other.example.com", client_ids=[str(i) for i in range(101)])


async def test_tags_and_replay_protection(store: IamStore) -> None:
    await store.create_oidc_provider(ISSUER)
    await store.tag_oidc_provider(IDENT, [Tag(REPLAY_PROTECTION_TAG, "TRUE"), Tag("a", "1")])
    got = await store.oidc_provider(IDENT)
    assert got is not None and got.replay_protection and len(got.tags) == 2
    await store.tag_oidc_provider(IDENT, [Tag("Tessera:JTI-Replay-Protection", "false")])  # keys are case-insensitive
    got = await store.oidc_provider(IDENT)
    assert got is not None and not got.replay_protection and len(got.tags) == 2
    await store.untag_oidc_provider(IDENT, [REPLAY_PROTECTION_TAG.upper()])
    assert (await store.oidc_provider(IDENT)).tags == (Tag("a", "1"),)  # type: ignore[union-attr]
    with pytest.raises(LimitExceeded, match=TAG_LIMIT):
        await store.tag_oidc_provider(IDENT, [Tag(f"k{i}", "") for i in range(50)])
    assert len((await store.oidc_provider(IDENT)).tags) == 1  # type: ignore[union-attr]


async def test_quota_of_providers(store: IamStore) -> None:
    for i in range(MAX_PROVIDERS):
        await store.create_oidc_provider(f"https://idp{i:03d}.example.com")
    with pytest.raises(LimitExceeded, match="OpenIdConnectProvidersPerAccount: 100"):
        await store.create_oidc_provider("https://one-more.example.com")
    listed = await store.list_oidc_providers()
    assert len(listed) == MAX_PROVIDERS and listed == sorted(listed)


async def test_oidc_provider_is_cached_per_epoch(store: IamStore, redis: aioredis.Redis) -> None:
    calls: list[str] = []
    real = store.oidc_provider

    async def counting(ident: str) -> object:
        calls.append(ident)
        return await real(ident)

    store.oidc_provider = counting  # type: ignore[method-assign]
    cache = CachedIamReads(store, redis, Keys(ACCT))
    await store.create_oidc_provider(ISSUER, client_ids=["a"])
    first = await cache.oidc_provider(IDENT)  # pins the epoch itself (the call is unsigned)
    assert cache.pinned is not None and first is not None and first.client_ids == ("a",)
    assert await cache.oidc_provider(IDENT) is first and len(calls) == 1  # from memory, same epoch
    assert await cache.oidc_provider("missing.example.com") is None
    assert await cache.oidc_provider("missing.example.com") is None and len(calls) == 2  # None is cached too
    await store.add_oidc_client_id(IDENT, "b")  # a write: the next request sees it
    cache.unpin()
    second = await cache.oidc_provider(IDENT)
    assert second is not None and second.client_ids == ("a", "b") and len(calls) == 3


async def test_lifecycle_on_fakeredis() -> None:
    store = IamStore(fakeredis.FakeAsyncRedis(decode_responses=True), account=ACCT, box=SecretBox(b"s" * 32),
                     clock=FixedClock(NOW))
    await store.create_oidc_provider("http://127.0.0.1:9400", client_ids=["demo"], tags=[Tag("t", "v")])
    await store.add_oidc_client_id("127.0.0.1:9400", "second")
    await store.tag_oidc_provider("127.0.0.1:9400", [Tag(REPLAY_PROTECTION_TAG, "true")])
    got = await store.oidc_provider("127.0.0.1:9400")
    assert got is not None and got.client_ids == ("demo", "second") and got.replay_protection
    await store.delete_oidc_provider("127.0.0.1:9400")
    assert await store.list_oidc_providers() == []
