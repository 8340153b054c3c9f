"""OIDC key discovery against the loopback OpenID issuer of idp_fixtures.oidc (a real HTTP
server, counting its fetches) with the key cache on a real Redis (db 10) shared by several
OidcKeys, as by the workers of `tessera serve`: one fetch per interval under a burst of unknown
kids, rotation, an IdP that goes down (cached keys keep working) or answers too slowly
(a bounded IDPCommunicationError)."""
from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio
import redis.asyncio as aioredis

from app.core.clock import FixedClock
from app.core.errors import IDPCommunicationError
from app.core.records import OidcProviderRecord
from app.services.oidc_fetch import HttpFetcher
from app.services.oidc_keys import OidcKeys
from app.store.keys import Keys
from app.store.multiplex import MultiplexedRedis
from app.store.oidc_jwks import JwksCache
from idp_fixtures.oidc.material import load
from idp_fixtures.oidc.server import IssuerServer
from tests.redis_target import redis_url

WORKERS = 4


@pytest.fixture
def idp() -> Iterator[IssuerServer]:
    with IssuerServer(keys=[load("rsa-a"), load("ec-p256")], path="/realms/ci") as server:
        yield server


@pytest_asyncio.fixture(loop_scope="function")
async def cache() -> AsyncIterator[JwksCache]:
    client = aioredis.Redis.from_url(redis_url(10), decode_responses=True)
    await client.flushdb()
    hot = MultiplexedRedis.of(client)
    yield JwksCache(hot)
    await hot.aclose()
    await client.flushdb()
    await client.aclose()


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(time.time())


@pytest_asyncio.fixture(loop_scope="function")
async def workers(cache: JwksCache, clock: FixedClock) -> AsyncIterator[list[OidcKeys]]:
    fetchers = [HttpFetcher.create(timeout=2.0) for _ in range(WORKERS)]
    yield [OidcKeys(cache, f, clock=clock, timeout=2.0, poll=0.01) for f in fetchers]
    for f in fetchers:
        await f.aclose()


def provider(idp: IssuerServer) -> OidcProviderRecord:
    return OidcProviderRecord(arn=f"arn:aws:iam::123456789012:oidc-provider/{idp.url[7:]}", url=idp.url,
                              client_ids=("tessera-demo",), thumbprints=(), create_date=0.0)


async def interval_passes(idp: IssuerServer) -> None:
    """What 60 s would do to the refresh rate limit, without waiting for them."""
    client = aioredis.Redis.from_url(redis_url(10), decode_responses=True)
    await client.delete(Keys.oidc_jwks_refresh(JwksCache.key(idp.url, ())))
    await client.aclose()


async def test_a_burst_of_unknown_kids_costs_the_idp_one_fetch_per_interval(idp: IssuerServer,
                                                                            workers: list[OidcKeys]) -> None:
    p = provider(idp)
    assert (await workers[0].keys_for(p, "demo-rsa-a")).select("demo-rsa-a") is not None
    assert (idp.discovery_fetches, idp.jwks_fetches) == (1, 1)

    def burst() -> list[asyncio.Future[object]]:
        return [asyncio.ensure_future(w.keys_for(p, f"kid-{random.getrandbits(64):x}"))
                for _ in range(50) for w in workers]

    await asyncio.gather(*burst())  # within the interval of the first fetch: nothing more
    assert idp.jwks_fetches == 1
    await interval_passes(idp)
    await asyncio.gather(*burst())  # 200 unknown kids on four workers: one refresh
    assert idp.jwks_fetches == 2

    idp.rotate([load("rsa-a"), load("rsa-b")])  # a new key is published
    await interval_passes(idp)
    found = await asyncio.gather(*(w.keys_for(p, "demo-rsa-b") for w in workers for _ in range(5)))
    assert all(k.select("demo-rsa-b") is not None for k in found)
    assert idp.jwks_fetches == 3


async def test_cached_keys_keep_working_while_the_idp_is_down(idp: IssuerServer, workers: list[OidcKeys],
                                                              clock: FixedClock) -> None:
    p = provider(idp)
    await workers[0].keys_for(p, "demo-ec-p256")
    idp.stop()  # connection refused from now on
    clock.advance(3600)  # the copy is no longer fresh (max-age 300)
    await interval_passes(idp)
    for w in workers:
        assert (await w.keys_for(p, "demo-ec-p256")).select("demo-ec-p256") is not None
    assert idp.jwks_fetches == 1

    # another provider on the dead IdP has nothing cached: a prompt IDPCommunicationError
    other = OidcProviderRecord(arn=p.arn + "/x", url=p.url + "/x", client_ids=(), thumbprints=(), create_date=0.0)
    with pytest.raises(IDPCommunicationError) as exc:
        await workers[1].keys_for(other, "demo-ec-p256")
    assert exc.value.reason == "oidc_idp_unreachable"


async def test_a_slow_idp_fails_in_bounded_time(idp: IssuerServer, cache: JwksCache, clock: FixedClock) -> None:
    idp.delay = 30
    fetcher = HttpFetcher.create(timeout=0.3)
    keys = OidcKeys(cache, fetcher, clock=clock, timeout=0.3, poll=0.01)
    try:
        lookups = [asyncio.ensure_future(keys.keys_for(provider(idp), "demo-rsa-a")) for _ in range(5)]
        done, pending = await asyncio.wait(lookups, timeout=15)  # generous: they end at the 0.3 s budget
        assert not pending
        for lookup in done:
            with pytest.raises(IDPCommunicationError) as exc:
                lookup.result()
            assert exc.value.reason == "oidc_idp_timeout"
        assert idp.discovery_fetches == 1  # the five lookups shared one attempt
    finally:
        idp.delay = 0
        await fetcher.aclose()
