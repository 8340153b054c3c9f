"""OIDC key discovery (app.services.oidc_keys + oidc_fetch) with the IdP as an
httpx.MockTransport function and the cache on a real Redis (db 13): discovery rules, cache
lifetimes, the per-provider refresh rate limit shared by several "workers" (OidcKeys instances),
stale keys while the IdP is down, bounded failures."""
from __future__ import annotations

import asyncio
import collections
import json
import random
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

import httpx
import pytest
import pytest_asyncio
import redis.asyncio as aioredis

from app.core.clock import FixedClock
from app.core.errors import IDPCommunicationError, InvalidIdentityToken
from app.core.records import OidcProviderRecord
from app.federation.oidc.rejected import KEY_UNAVAILABLE
from app.services.oidc_fetch import HttpFetcher, cache_lifetime
from app.services.oidc_keys import THUMBPRINT_MISMATCH, OidcKeys, pinned_thumbprints
from app.store.keys import Keys
from app.store.multiplex import MultiplexedRedis
from app.store.oidc_jwks import JwksCache
from idp_fixtures.oidc.issuer import DemoIssuer
from idp_fixtures.oidc.material import load
from tests.redis_target import redis_url

URL = redis_url(13)
NOW = float(int(time.time()))  # cache entries expire in Redis by this clock: keep it near real time
ISSUER = "https://idp.example.com/realms/acme"


class FakeIdp:
    """The IdP as an httpx transport handler: discovery under the issuer, keys at /keys."""

    def __init__(self, issuer: str = ISSUER) -> None:
        self.issuer = DemoIssuer(issuer, [load("rsa-a"), load("ec-p256")])
        self.jwks_uri = issuer + "/keys"
        self.fetches: collections.Counter[str] = collections.Counter()
        self.urls: list[str] = []
        self.down = False
        self.delay = 0.0
        self.status: int | None = None
        self.discovery: dict[str, Any] = {}
        self.jwks_body: bytes | None = None
        self.headers: dict[str, str] = {"Cache-Control": "public, max-age=600"}

    @property
    def jwks_fetches(self) -> int:
        return self.fetches["jwks"]

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        url = str(request.url)
        kind = "discovery" if url.endswith("/.well-known/openid-configuration") else (
            "jwks" if url == self.jwks_uri else url)
        self.fetches[kind] += 1
        self.urls.append(url)
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.down:
            raise httpx.ConnectError("connection refused", request=request)
        if self.status is not None:
            return httpx.Response(self.status, headers={"Location": "https://elsewhere.example.com/"})
        if kind == "discovery":
            doc = self.issuer.discovery(self.jwks_uri) | self.discovery
            return httpx.Response(200, content=json.dumps(doc).encode(), headers=self.headers)
        if kind == "jwks":
            body = self.jwks_body if self.jwks_body is not None else json.dumps(self.issuer.jwks()).encode()
            return httpx.Response(200, content=body, headers=self.headers)
        return httpx.Response(404)


def provider(url: str = ISSUER, thumbprints: tuple[str, ...] = ()) -> OidcProviderRecord:
    return OidcProviderRecord(arn=f"arn:aws:iam::123456789012:oidc-provider/{url.split('://')[1]}", url=url,
                              client_ids=("app",), thumbprints=thumbprints, create_date=NOW)


@pytest.fixture
def idp() -> FakeIdp:
    return FakeIdp()


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(float(int(time.time())))  # per test: Redis expires entries in real time


@pytest_asyncio.fixture(loop_scope="function")
async def hot(redis: aioredis.Redis) -> AsyncIterator[MultiplexedRedis]:
    """The hot path's multiplexed connection, as `tessera serve` gives JwksCache."""
    client = MultiplexedRedis.of(redis)
    yield client
    await client.aclose()


@pytest.fixture
def cache(hot: MultiplexedRedis) -> JwksCache:
    return JwksCache(hot)


@pytest.fixture
def workers(idp: FakeIdp, cache: JwksCache, clock: FixedClock) -> list[OidcKeys]:
    """Three processes' OidcKeys: one IdP, one Redis."""
    return [OidcKeys(cache, HttpFetcher(httpx.AsyncClient(transport=httpx.MockTransport(idp))),
                     clock=clock, timeout=1.0, poll=0.01) for _ in range(3)]


def kids(keys: Any) -> set[str]:
    return {k.kid for k in keys.keys}


async def refused(call: Any) -> tuple[type, str, str]:
    with pytest.raises((InvalidIdentityToken, IDPCommunicationError)) as exc:
        await call
    return type(exc.value), exc.value.message, exc.value.reason


class CountingCache(JwksCache):
    reads = 0

    async def get(self, key: str) -> Any:
        self.reads += 1
        return await super().get(key)


async def test_discovery_then_keys_then_shared_by_every_worker(idp: FakeIdp, workers: list[OidcKeys],
                                                               hot: MultiplexedRedis, clock: FixedClock) -> None:
    counting = CountingCache(hot)
    first = OidcKeys(counting, HttpFetcher(httpx.AsyncClient(transport=httpx.MockTransport(idp))), clock=clock)
    other = workers[0]
    keys = await first.keys_for(provider(), "demo-rsa-a")
    assert kids(keys) == {"demo-rsa-a", "demo-ec-p256"}
    assert idp.fetches == {"discovery": 1, "jwks": 1}
    reads = counting.reads
    assert await first.keys_for(provider(), "demo-ec-p256") is keys  # the process's copy, parsed once
    assert counting.reads == reads  # and no Redis round trip while it is fresh and knows the kid
    assert kids(await other.keys_for(provider(), "demo-rsa-a")) == kids(keys)  # another worker: from Redis
    assert idp.fetches == {"discovery": 1, "jwks": 1}
    cached = await counting.get(JwksCache.key(ISSUER, ()))
    assert cached is not None and cached.fresh_until - cached.fetched_at == 600
    assert json.loads(cached.jwks) == idp.issuer.jwks()  # the document as served


async def test_a_trailing_slash_issuer_is_discovered_without_a_double_slash(cache: JwksCache,
                                                                          clock: FixedClock) -> None:
    idp = FakeIdp("https://tenant.auth0.com/")  # Auth0's issuers end with a slash: `issuer` must too
    idp.jwks_uri = "https://tenant.auth0.com/.well-known/jwks.json"
    keys = OidcKeys(cache, HttpFetcher(httpx.AsyncClient(transport=httpx.MockTransport(idp))), clock=clock)
    assert kids(await keys.keys_for(provider("https://tenant.auth0.com/"), None)) == {"demo-rsa-a", "demo-ec-p256"}
    assert idp.urls == ["https://tenant.auth0.com/.well-known/openid-configuration", idp.jwks_uri]


DISCOVERY_REFUSALS = [
    ("issuer differs by a trailing slash", {"discovery": {"issuer": ISSUER + "/"}}, "oidc_discovery_invalid"),
    ("issuer differs by case", {"discovery": {"issuer": ISSUER.upper()}}, "oidc_discovery_invalid"),
    ("no jwks_uri", {"discovery": {"jwks_uri": None}}, "oidc_discovery_invalid"),
    ("jwks_uri over http on a public host", {"discovery": {"jwks_uri": "http://keys.example.com/k"}},
     "oidc_discovery_invalid"),
    ("a key set that is not one", {"jwks_body": b'{"keys": "none"}'}, "oidc_jwks_invalid"),
    ("a key set that is not JSON", {"jwks_body": b"<html>"}, "oidc_jwks_invalid"),
    ("a redirect", {"status": 302}, "oidc_idp_redirect"),
    ("not found", {"status": 404}, "oidc_idp_status"),
    ("an oversized key set", {"jwks_body": b'{"keys": [], "pad": "' + b"x" * 300_000 + b'"}'}, "oidc_idp_too_large"),
]


@pytest.mark.parametrize("note,setup,reason", DISCOVERY_REFUSALS, ids=[d[0] for d in DISCOVERY_REFUSALS])
async def test_unusable_answers_are_invalid_identity_token(idp: FakeIdp, workers: list[OidcKeys], note: str,
                                                           setup: dict[str, Any], reason: str) -> None:
    for name, value in setup.items():
        setattr(idp, name, value)
    got = await refused(workers[0].keys_for(provider(), "demo-rsa-a"))
    assert got == (InvalidIdentityToken, KEY_UNAVAILABLE, reason)
    assert "https://elsewhere.example.com/" not in idp.fetches  # a redirect is never followed
    # the other workers learn the outcome from the shared refresh mark: no second attempt
    assert await refused(workers[1].keys_for(provider(), "demo-rsa-a")) == got
    assert idp.fetches["discovery"] == 1


async def test_non_json_discovery_and_an_oversized_stream(cache: JwksCache, clock: FixedClock) -> None:
    async def chunks() -> Any:
        for _ in range(5):
            yield b"x" * 100_000

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("openid-configuration"):
            return httpx.Response(200, content=b"not json")
        return httpx.Response(200, content=chunks())  # streamed, no Content-Length: counted as read

    keys = OidcKeys(cache, HttpFetcher(httpx.AsyncClient(transport=httpx.MockTransport(handler))), clock=clock)
    assert (await refused(keys.keys_for(provider(), None)))[2] == "oidc_discovery_invalid"
    fetcher = HttpFetcher(httpx.AsyncClient(transport=httpx.MockTransport(handler)))
    with pytest.raises(Exception, match="oidc_idp_too_large"):
        await fetcher.get(ISSUER + "/keys")


async def test_jwks_uri_on_another_host_is_allowed(idp: FakeIdp, workers: list[OidcKeys]) -> None:
    idp.jwks_uri = "https://www.googleapis.com/oauth2/v3/certs?x=1"  # as Google's discovery says
    assert kids(await workers[0].keys_for(provider(), "demo-rsa-a")) == {"demo-rsa-a", "demo-ec-p256"}


async def test_unreachable_and_server_errors_are_idp_communication_errors(idp: FakeIdp,
                                                                           workers: list[OidcKeys]) -> None:
    idp.down = True
    kind, message, reason = await refused(workers[0].keys_for(provider(), "demo-rsa-a"))
    assert (kind, reason) == (IDPCommunicationError, "oidc_idp_unreachable") and "retry" in message
    idp.down, idp.status = False, 503
    other = provider("https://other.example.com")
    idp.issuer.url = other.url
    assert (await refused(workers[1].keys_for(other, None)))[:3:2] == (IDPCommunicationError, "oidc_idp_status")


async def test_a_slow_idp_fails_within_the_budget(idp: FakeIdp, cache: JwksCache, clock: FixedClock) -> None:
    idp.delay = 30
    keys = OidcKeys(cache, HttpFetcher(httpx.AsyncClient(transport=httpx.MockTransport(idp))),
                    clock=clock, timeout=0.2)
    done = asyncio.ensure_future(keys.keys_for(provider(), "demo-rsa-a"))
    finished, _ = await asyncio.wait([done], timeout=10)  # a generous bound: it ends at the 0.2 s budget
    assert finished, "the key lookup did not end"
    with pytest.raises(IDPCommunicationError) as exc:
        done.result()
    assert exc.value.reason == "oidc_idp_timeout"


@pytest.mark.parametrize("header,lifetime", [("max-age=60", 300), ("max-age=100000", 86_400), (None, 3_600),
                                             ("no-store", 300), ("public, max-age=7200, must-revalidate", 7_200)])
async def test_cache_lifetime_is_the_http_one_bounded(idp: FakeIdp, workers: list[OidcKeys], cache: JwksCache,
                                                      redis: aioredis.Redis, header: str | None,
                                                      lifetime: int) -> None:
    idp.headers = {"Cache-Control": header} if header else {}
    await workers[0].keys_for(provider(), None)
    key = JwksCache.key(ISSUER, ())
    cached = await cache.get(key)
    assert cached is not None and cached.fresh_until - cached.fetched_at == lifetime
    kept = await redis.pttl(key) / 1000  # past freshness by the stale window (the clock is ~ real time)
    assert lifetime + 86_400 - 120 < kept <= lifetime + 86_400 + 120


async def test_unknown_kid_refreshes_once_per_interval_across_workers(idp: FakeIdp, workers: list[OidcKeys],
                                                                      redis: aioredis.Redis) -> None:
    await workers[0].keys_for(provider(), "demo-rsa-a")
    await redis.delete(Keys.oidc_jwks_refresh(JwksCache.key(ISSUER, ())))  # the interval has passed
    assert idp.jwks_fetches == 1
    burst = [w.keys_for(provider(), f"random-{random.getrandbits(64):x}") for _ in range(40) for w in workers]
    results = await asyncio.gather(*burst)
    assert all(r.select("demo-rsa-a") is not None for r in results)
    assert idp.jwks_fetches == 2  # one refresh for 120 unknown kids on three workers
    for _ in range(3):
        await workers[2].keys_for(provider(), "still-unknown")
    assert idp.jwks_fetches == 2

    # rotation: a new key appears; once the interval has passed, its kid is found by one refresh
    idp.issuer.keys = [load("rsa-a"), load("rsa-b")]
    await redis.delete(Keys.oidc_jwks_refresh(JwksCache.key(ISSUER, ())))
    got = await asyncio.gather(*(w.keys_for(provider(), "demo-rsa-b") for w in workers))
    assert all(g.select("demo-rsa-b") is not None for g in got) and idp.jwks_fetches == 3
    # the other workers take the new set from Redis
    for w in workers:
        assert (await w.keys_for(provider(), "demo-rsa-b")).select("demo-rsa-b") is not None
    assert idp.jwks_fetches == 3


async def test_concurrent_first_lookups_share_one_fetch(idp: FakeIdp, workers: list[OidcKeys]) -> None:
    idp.delay = 0.05
    got = await asyncio.gather(*(w.keys_for(provider(), "demo-ec-p256") for w in workers for _ in range(10)))
    assert all(g.select("demo-ec-p256") is not None for g in got)
    assert idp.fetches == {"discovery": 1, "jwks": 1}


async def test_stale_keys_keep_working_while_the_idp_is_down(idp: FakeIdp, workers: list[OidcKeys], cache: JwksCache,
                                                             redis: aioredis.Redis, clock: FixedClock) -> None:
    key = JwksCache.key(ISSUER, ())
    await workers[0].keys_for(provider(), "demo-rsa-a")
    clock.advance(601)  # past freshness
    await redis.delete(Keys.oidc_jwks_refresh(key))
    idp.down = True
    for w in workers:
        assert (await w.keys_for(provider(), "demo-rsa-a")).select("demo-rsa-a") is not None
    assert idp.fetches["discovery"] == 2  # one failed attempt for all, then the interval holds
    assert await cache.refresh_state(key) == "failed:oidc_idp_unreachable:t"

    # the IdP is back after the interval: refreshed
    idp.down = False
    await redis.delete(Keys.oidc_jwks_refresh(key))
    await workers[1].keys_for(provider(), "demo-rsa-a")
    assert idp.fetches["discovery"] == 3 and idp.jwks_fetches == 2

    # down again and past the stale window (Redis dropped the copy): nothing left to use
    idp.down = True
    clock.advance(600 + 86_400 + 1)
    await redis.delete(key, Keys.oidc_jwks_refresh(key))
    for w in workers:
        assert (await refused(w.keys_for(provider(), "demo-rsa-a")))[::2] == (IDPCommunicationError,
                                                                            "oidc_idp_unreachable")


async def test_thumbprints_change_the_cache_entry(idp: FakeIdp, workers: list[OidcKeys]) -> None:
    await workers[0].keys_for(provider(), None)
    await workers[0].keys_for(provider(thumbprints=("a" * 40,)), None)  # a new pin: fetched again under it
    assert idp.jwks_fetches == 2


async def test_the_shared_entry_key_is_worked_out_once_per_provider(idp: FakeIdp, hot: MultiplexedRedis,
                                                                    clock: FixedClock) -> None:
    made: list[tuple[str, tuple[str, ...]]] = []

    class KeyCounting(JwksCache):
        @staticmethod
        def key(issuer_url: str, thumbprints: Sequence[str]) -> str:
            made.append((issuer_url, tuple(thumbprints)))
            return JwksCache.key(issuer_url, thumbprints)

    keys = OidcKeys(KeyCounting(hot), HttpFetcher(httpx.AsyncClient(transport=httpx.MockTransport(idp))),
                    clock=clock, max_parsed=1)
    for _ in range(3):
        await keys.keys_for(provider(), "demo-rsa-a")
    assert made == [(ISSUER, ())]
    await keys.keys_for(provider(thumbprints=("a" * 40,)), "demo-rsa-a")  # another entry (bound 1: the memo restarts)
    await keys.keys_for(provider(thumbprints=("a" * 40,)), "demo-rsa-a")
    assert made == [(ISSUER, ()), (ISSUER, ("a" * 40,))]


def test_hosts_aws_verifies_by_ca_only_ignore_thumbprints() -> None:
    pins = ("a" * 40,)
    for url in ("https://token.actions.githubusercontent.com/.well-known/openid-configuration",
                "https://gitlab.com/oauth/discovery/keys", "https://accounts.google.com",
                "https://www.googleapis.com/oauth2/v3/certs", "https://tenant.eu.auth0.com/.well-known/jwks.json",
                "https://my-bucket.s3.eu-west-1.amazonaws.com/keys.json", "https://s3.amazonaws.com/b/keys.json"):
        assert pinned_thumbprints(url, pins) == (), url
    for url in ("https://oidc.eks.us-east-1.amazonaws.com/id/X/keys", "https://keycloak.example.com/realms/a",
                "https://github.com.evil.example/keys"):
        assert pinned_thumbprints(url, pins) == pins, url


def test_cache_control_parsing() -> None:
    assert cache_lifetime("max-age=0") == 0 and cache_lifetime('max-age="120"') == 120
    assert cache_lifetime("s-maxage=10") is None and cache_lifetime("private") is None and cache_lifetime(None) is None
    assert cache_lifetime("no-cache, max-age=500") == 0


def test_thumbprint_mismatch_text_is_aws() -> None:
    assert THUMBPRINT_MISMATCH == "OpenIDConnect provider's HTTPS certificate doesn't match configured thumbprint"
