"""TLS of OIDC key discovery against HTTPS servers on loopback with a PKI made in the test:
the CA bundle (TESSERA_OIDC_CA_BUNDLE) and, for a certificate no trusted CA signed, the
provider's thumbprints as AWS uses them: the chain the server sends must verify, for the host,
up to a certificate of it whose SHA-1 is registered. Redis (db 13) holds the key cache of the
end-to-end case."""
from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio
import redis.asyncio as aioredis

from app.core.clock import FixedClock
from app.core.errors import InvalidIdentityToken
from app.core.records import OidcProviderRecord
from app.services.oidc_fetch import FetchFailed, HttpFetcher
from app.services.oidc_keys import THUMBPRINT_MISMATCH, OidcKeys
from app.store.multiplex import MultiplexedRedis
from app.store.oidc_jwks import JwksCache
from idp_fixtures.oidc.issuer import DemoIssuer
from tests.redis_target import redis_url
from tests.tls_material import HttpsServer, Pki, issue, thumbprint

URL = redis_url(13)
DOC = b'{"ok": true}'


@pytest.fixture(scope="module")
def pki() -> Pki:
    return Pki.create()


@pytest.fixture(scope="module")
def server(pki: Pki) -> Iterator[HttpsServer]:
    """Sends its certificate for 127.0.0.1 and the intermediate CA (not the root), as most do."""
    with HttpsServer(pki.server_cert(["127.0.0.1", "localhost"]), [pki.intermediate_cert], pki.leaf_key) as srv:
        srv.routes["/doc"] = DOC
        yield srv


@pytest_asyncio.fixture(loop_scope="function")
async def system() -> AsyncIterator[HttpFetcher]:
    """The fetcher `tessera serve` builds without TESSERA_OIDC_CA_BUNDLE: the system's CA store,
    which does not know the test's CA."""
    fetcher = HttpFetcher.create(timeout=5)
    yield fetcher
    await fetcher.aclose()


async def reason(fetcher: HttpFetcher, url: str, thumbprints: tuple[str, ...] = ()) -> str:
    with pytest.raises(FetchFailed) as exc:
        await fetcher.get(url, thumbprints=thumbprints)
    return exc.value.reason


async def test_a_configured_ca_bundle_is_trusted_and_thumbprints_are_then_unused(pki: Pki, server: HttpsServer) -> None:
    fetcher = HttpFetcher.create(ca_bundle=server.ca_file(pki.root_cert), timeout=5)
    try:
        assert (await fetcher.get(server.url + "/doc")).body == DOC
        # as AWS: a certificate a trusted CA signed is accepted whatever the thumbprints say
        assert (await fetcher.get(server.url + "/doc", thumbprints=("0" * 40,))).body == DOC
    finally:
        await fetcher.aclose()
    other = Pki.create("Other")  # a bundle of another CA replaces the system store: nothing else is trusted
    fetcher = HttpFetcher.create(ca_bundle=server.ca_file(other.root_cert), timeout=5)
    try:
        assert await reason(fetcher, server.url + "/doc") == "oidc_tls_untrusted"
    finally:
        await fetcher.aclose()


async def test_an_untrusted_certificate_is_refused_without_thumbprints(system: HttpFetcher, server: HttpsServer) -> None:
    assert await reason(system, server.url + "/doc") == "oidc_tls_untrusted"


async def test_a_matching_thumbprint_anchors_the_chain(pki: Pki, system: HttpFetcher, server: HttpsServer) -> None:
    got = await system.get(server.url + "/doc", thumbprints=("0" * 40, thumbprint(pki.intermediate_cert).upper()))
    assert got.body == DOC


async def test_a_thumbprint_that_matches_nothing_served_is_refused(pki: Pki, system: HttpFetcher,
                                                                   server: HttpsServer) -> None:
    assert await reason(system, server.url + "/doc", ("0" * 40,)) == "oidc_thumbprint_mismatch"
    # the root CA is not in the chain the server sends: its thumbprint matches nothing served
    assert await reason(system, server.url + "/doc", (thumbprint(pki.root_cert),)) == "oidc_thumbprint_mismatch"


async def test_the_pinned_ca_must_vouch_for_this_host(pki: Pki, system: HttpFetcher) -> None:
    with HttpsServer(pki.server_cert(["idp.other.test"]), [pki.intermediate_cert], pki.leaf_key) as srv:
        srv.routes["/doc"] = DOC
        assert await reason(system, srv.url + "/doc", (thumbprint(pki.intermediate_cert),)) == \
            "oidc_thumbprint_mismatch"


async def test_sending_the_pinned_certificate_proves_nothing(pki: Pki, system: HttpFetcher) -> None:
    """An attacker's chain that carries the genuine (public) pinned CA certificate beside its own."""
    evil = Pki.create("Evil")
    leaf = evil.server_cert(["127.0.0.1"])
    with HttpsServer(leaf, [evil.intermediate_cert, pki.intermediate_cert], evil.leaf_key) as srv:
        srv.routes["/doc"] = DOC
        assert await reason(system, srv.url + "/doc", (thumbprint(pki.intermediate_cert),)) == \
            "oidc_thumbprint_mismatch"
        assert srv.requests == ["/doc"]  # the GET went out (nothing secret in it), its answer was not used


async def test_a_self_signed_server_certificate_may_be_pinned_itself(system: HttpFetcher) -> None:
    own = Pki.create("Own")
    for hosts, outcome in ((["127.0.0.1"], DOC), (["idp.other.test"], None)):
        leaf = issue(hosts[0], own.leaf_key, None, own.leaf_key, ca=False, hosts=hosts)
        with HttpsServer(leaf, [], own.leaf_key) as srv:
            srv.routes["/doc"] = DOC
            if outcome is not None:  # the TLS handshake proves the server holds the certificate's key
                assert (await system.get(srv.url + "/doc", thumbprints=(thumbprint(leaf),))).body == DOC
            else:  # and the certificate must still name the host
                assert await reason(system, srv.url + "/doc", (thumbprint(leaf),)) == "oidc_thumbprint_mismatch"


@pytest_asyncio.fixture(loop_scope="function")
async def cache(redis: aioredis.Redis) -> AsyncIterator[JwksCache]:
    hot = MultiplexedRedis.of(redis)
    yield JwksCache(hot)
    await hot.aclose()


async def test_key_discovery_over_tls_with_thumbprints(pki: Pki, system: HttpFetcher, server: HttpsServer,
                                                       cache: JwksCache) -> None:
    issuer = DemoIssuer(server.url)
    server.routes["/.well-known/openid-configuration"] = json.dumps(issuer.discovery()).encode()
    server.routes["/jwks"] = json.dumps(issuer.jwks()).encode()
    keys = OidcKeys(cache, system, clock=FixedClock(time.time()))

    def provider(*thumbprints: str) -> OidcProviderRecord:
        return OidcProviderRecord(arn="arn:aws:iam::123456789012:oidc-provider/" + server.url[8:], url=server.url,
                                  client_ids=("app",), thumbprints=thumbprints, create_date=0.0)

    got = await keys.keys_for(provider(thumbprint(pki.intermediate_cert)), "demo-rsa-a")
    assert got.select("demo-rsa-a") is not None
    with pytest.raises(InvalidIdentityToken) as exc:
        await keys.keys_for(provider("f" * 40), "demo-rsa-a")
    assert (exc.value.message, exc.value.reason) == (THUMBPRINT_MISMATCH, "oidc_thumbprint_mismatch")
