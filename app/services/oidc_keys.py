"""The signing keys of an OIDC provider: discovered, cached, refreshed at a bounded rate.

    keys = await oidc_keys.keys_for(provider_record, token_kid)   # -> KeySet (app.federation.oidc)

Discovery (OpenID Connect Discovery 1.0 §4): GET `<issuer>/.well-known/openid-configuration`
(a trailing `/` of the issuer dropped first); its `issuer` must equal the provider's URL exactly
and its `jwks_uri` must be an https URL (http on a loopback host), on any host (Google's keys
live on www.googleapis.com; AWS allows it); then GET the key set. Both fetches together get one
time budget (3 s by default) and go through app.services.oidc_fetch (no redirects, 256 KB, TLS
verified, thumbprints as AWS uses them; for hosts AWS names as verified by its CA library only,
thumbprints are ignored: see `pinned_thumbprints`).

Caching: the key set text is kept in Redis (app.store.oidc_jwks), shared by all workers and
replicas, fresh for its HTTP lifetime (Cache-Control max-age, bounded to 5 min..24 h; 1 h when
absent) and kept as a stale copy for `stale_for` (24 h) beyond. Each process parses a given key
set text once (`KeySet.from_jwks`, memoised by its SHA-256) and answers from memory while its
copy is fresh and knows the token's `kid`: no Redis round trip on that path.

Refreshes: a missing, expired, or kid-less answer leads to at most one fetch per provider per
`refresh_interval` (60 s) across every worker (a Redis `SET NX` with that lifetime; within one
process concurrent callers share one fetch). Callers that lose the race wait for the winner's
fetch (bounded by the fetch budget), then use whatever is cached: a burst of tokens with random
kids costs the IdP one fetch per interval. When a fetch fails, the stale copy keeps working;
with no copy at all the call fails: `IDPCommunicationError` when the IdP could not be reached
in time (transient: SDKs retry), `InvalidIdentityToken` with AWS's text when it answered with
something unusable (issuer mismatch, bad key set, redirect, oversized, untrusted certificate;
a thumbprint mismatch with AWS's own words for it).
"""
from __future__ import annotations

import asyncio
import hashlib
import logging
import urllib.parse
from collections import OrderedDict
from dataclasses import dataclass

from app.core.clock import Clock
from app.core.errors import AwsError, IDPCommunicationError, InvalidIdentityToken
from app.core.records import OidcProviderRecord
from app.federation.oidc.jsonobject import JsonRejected, parse_object
from app.federation.oidc.keyset import KeySet
from app.federation.oidc.rejected import KEY_UNAVAILABLE, JwksRejected
from app.services.oidc_fetch import DocumentFetcher, FetchFailed
from app.services.oidc_urls import UrlRejected, check_jwks_uri
from app.store.oidc_jwks import FETCHING, CachedJwks, JwksCache

_log = logging.getLogger("tessera.oidc")
THUMBPRINT_MISMATCH = "OpenIDConnect provider's HTTPS certificate doesn't match configured thumbprint"
COMMUNICATION = ("the identity provider could not be reached to retrieve its signing keys ({reason}); this is "
                 "often transient: retry the request later")
# AWS: "some OIDC IdPs ... through our library of trusted root CAs instead of a thumbprint ...
# Auth0, GitHub, GitLab, Google, and those that use an Amazon S3 bucket to host a JWKS endpoint"
_CA_ONLY_HOSTS = ("token.actions.githubusercontent.com", "gitlab.com", "accounts.google.com",
                  "www.googleapis.com")


def pinned_thumbprints(url: str, thumbprints: tuple[str, ...]) -> tuple[str, ...]:
    """The thumbprints that apply to a fetch of `url`: none for the hosts AWS verifies by its CA
    library only (Auth0, GitHub, GitLab, Google, key sets on Amazon S3)."""
    host = (urllib.parse.urlsplit(url).hostname or "").lower()
    s3 = host.endswith(".amazonaws.com") and (host.startswith("s3.") or ".s3." in host or ".s3-" in host)
    return () if host in _CA_ONLY_HOSTS or host.endswith(".auth0.com") or s3 else thumbprints


@dataclass(frozen=True, slots=True)
class _Held:
    """A key set this process holds: the shared entry it was parsed from, and its keys."""

    version: str
    fresh_until: float
    keep_until: float
    keys: KeySet


def _failure(reason: str, transient: bool) -> AwsError:
    if transient:
        return IDPCommunicationError(COMMUNICATION.format(reason=reason), reason=reason)
    if reason == "oidc_thumbprint_mismatch":
        return InvalidIdentityToken(THUMBPRINT_MISMATCH, reason=reason)
    return InvalidIdentityToken(KEY_UNAVAILABLE, reason=reason)


class OidcKeys:
    """`OidcKeys(JwksCache(redis), HttpFetcher.create(...), clock=Clock())`, once per process."""

    def __init__(self, cache: JwksCache, fetcher: DocumentFetcher, *, clock: Clock, timeout: float = 3.0,
                 refresh_interval: float = 60.0, min_lifetime: float = 300.0, max_lifetime: float = 86_400.0,
                 default_lifetime: float = 3_600.0, stale_for: float = 86_400.0, poll: float = 0.05,
                 max_parsed: int = 256) -> None:
        self._cache, self._fetcher, self._clock = cache, fetcher, clock
        self._timeout, self._interval, self._stale_for, self._poll = timeout, refresh_interval, stale_for, poll
        self._lifetime = (min_lifetime, max_lifetime, default_lifetime)
        self._max_parsed = max_parsed
        self._held: dict[str, _Held] = {}
        self._parsed: OrderedDict[str, KeySet] = OrderedDict()
        self._shared_keys: dict[tuple[str, tuple[str, ...]], str] = {}
        self._inflight: dict[str, asyncio.Future[_Held | None]] = {}

    async def keys_for(self, provider: OidcProviderRecord, kid: str | None) -> KeySet:
        """The provider's current key set, refreshed (at the bounded rate) when it is missing,
        expired or lacks `kid` (a token without `kid`: the set must hold exactly one key). The
        set returned may still lack `kid`: validation then refuses the token (`UnknownKid`)."""
        key = self._shared_key(provider)
        now = self._clock.time()
        held = self._held.get(key)
        if held is not None and now < held.fresh_until and held.keys.select(kid) is not None:
            return held.keys
        shared = await self._cache.get(key)
        if shared is not None:
            held = self._hold(key, shared)
            if now < held.fresh_until and held.keys.select(kid) is not None:
                return held.keys
        elif held is not None and now >= held.keep_until:
            held = None  # past even its stale life (and gone from Redis)
        refreshed = await self._refresh(provider, key, held)
        if refreshed is not None:
            return refreshed.keys
        assert held is not None  # _refresh raises when there is nothing to fall back on
        return held.keys

    def _shared_key(self, provider: OidcProviderRecord) -> str:
        """The provider's key set entry in Redis (a SHA-256 of its URL and thumbprints: 1.2 µs),
        worked out once per provider and kept while the process holds few enough providers."""
        ident = (provider.url, provider.thumbprints)
        key = self._shared_keys.get(ident)
        if key is None:
            if len(self._shared_keys) >= self._max_parsed:
                self._shared_keys.clear()
            key = self._shared_keys[ident] = self._cache.key(provider.url, provider.thumbprints)
        return key

    # ---- the process's parsed copies ----
    def _hold(self, key: str, entry: CachedJwks, keys: KeySet | None = None) -> _Held:
        held = self._held.get(key)
        if held is not None and held.version == entry.version:
            return held
        if keys is None:
            digest = hashlib.sha256(entry.jwks.encode("utf-8", "surrogatepass")).hexdigest()
            keys = self._parsed.get(digest)
            if keys is None:
                keys = KeySet.from_jwks(entry.jwks)  # checked before it was cached
                self._parsed[digest] = keys
                if len(self._parsed) > self._max_parsed:
                    self._parsed.popitem(last=False)
            else:
                self._parsed.move_to_end(digest)
        held = _Held(entry.version, entry.fresh_until, entry.fresh_until + self._stale_for, keys)
        if len(self._held) >= self._max_parsed and key not in self._held:
            self._held.clear()
        self._held[key] = held
        return held

    # ---- refreshing ----
    async def _refresh(self, provider: OidcProviderRecord, key: str, held: _Held | None) -> _Held | None:
        """A newer key set, or None to go on with `held` (rate-limited, or the IdP failed and
        `held` is a usable stale copy). Raises when there is nothing to use at all."""
        future = self._inflight.get(key)
        if future is None:
            future = asyncio.ensure_future(self._refresh_once(provider, key, held))
            self._inflight[key] = future

            def done(f: asyncio.Future[_Held | None]) -> None:
                if self._inflight.get(key) is f:
                    del self._inflight[key]
                if not f.cancelled():
                    f.exception()  # retrieved: waiters that went away leave no warning

            future.add_done_callback(done)
        return await asyncio.shield(future)

    async def _refresh_once(self, provider: OidcProviderRecord, key: str, held: _Held | None) -> _Held | None:
        token = await self._cache.claim_refresh(key, self._interval)
        if token is None:
            return await self._await_other(key, held)
        try:
            async with asyncio.timeout(self._timeout):
                text, keys, lifetime = await self._fetch(provider)
        except (FetchFailed, TimeoutError) as exc:
            failed = exc if isinstance(exc, FetchFailed) else FetchFailed(
                "oidc_idp_timeout", f"no key set within {self._timeout} s", transient=True)
            await self._cache.finish_refresh(key, token, f"failed:{failed.reason}:{'t' if failed.transient else 'p'}",
                                             self._interval)
            _log.warning("oidc.jwks.fetch.failed provider=%s reason=%s stale_copy=%s why=%s", provider.arn,
                         failed.reason, held is not None, failed.why)
            if held is not None:
                return None
            raise _failure(failed.reason, failed.transient) from None
        now = self._clock.time()
        entry = CachedJwks(token, text, fetched_at=now, fresh_until=now + lifetime)
        await self._cache.put(key, entry, keep_until=entry.fresh_until + self._stale_for)
        await self._cache.finish_refresh(key, token, "done", self._interval)
        _log.info("oidc.jwks.fetch.ok provider=%s keys=%d refused=%d lifetime=%d", provider.arn, len(keys),
                  len(keys.refused), lifetime)
        return self._hold(key, entry, keys)

    async def _await_other(self, key: str, held: _Held | None) -> _Held | None:
        """Another worker fetched within the interval, or is fetching: wait for it (bounded),
        then take the newest shared copy."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._timeout + 0.5
        state = await self._cache.refresh_state(key)
        while state == FETCHING and loop.time() < deadline:
            await asyncio.sleep(self._poll)
            state = await self._cache.refresh_state(key)
        shared = await self._cache.get(key)
        if shared is not None and (held is None or shared.version != held.version):
            return self._hold(key, shared)
        if held is not None:
            return None
        if state is not None and state.startswith("failed:"):
            _, reason, kind = state.split(":", 2)
            raise _failure(reason, kind == "t")
        raise _failure("oidc_jwks_unavailable", True)

    async def _fetch(self, provider: OidcProviderRecord) -> tuple[str, KeySet, float]:
        """Discovery, then the key set. -> (key set text, its keys, its lifetime in seconds)."""
        issuer = provider.url
        discovery_url = issuer.rstrip("/") + "/.well-known/openid-configuration"
        found = await self._fetcher.get(discovery_url, thumbprints=pinned_thumbprints(discovery_url, provider.thumbprints))
        try:
            discovery = parse_object(found.body)
        except JsonRejected as exc:
            raise FetchFailed("oidc_discovery_invalid", f"the discovery document is not a JSON object ({exc.why})",
                              transient=False) from None
        if discovery.get("issuer") != issuer:
            raise FetchFailed("oidc_discovery_invalid", f"the discovery document's `issuer` is not `{issuer}`",
                              transient=False)
        jwks_uri = discovery.get("jwks_uri")
        if not isinstance(jwks_uri, str):
            raise FetchFailed("oidc_discovery_invalid", "the discovery document has no `jwks_uri`", transient=False)
        try:
            check_jwks_uri(jwks_uri)
        except UrlRejected as exc:
            raise FetchFailed("oidc_discovery_invalid", f"`jwks_uri` {exc}", transient=False) from None
        got = await self._fetcher.get(jwks_uri, thumbprints=pinned_thumbprints(jwks_uri, provider.thumbprints))
        try:
            text = got.body.decode("utf-8")
            keys = KeySet.from_jwks(text)
        except UnicodeDecodeError:
            raise FetchFailed("oidc_jwks_invalid", "the key set is not UTF-8", transient=False) from None
        except JwksRejected as exc:
            raise FetchFailed("oidc_jwks_invalid", exc.why, transient=False) from None
        low, high, default = self._lifetime
        lifetime = min(max(float(got.max_age) if got.max_age is not None else default, low), high)
        return text, keys, lifetime
