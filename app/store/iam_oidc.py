"""IAM OpenID Connect providers: create, delete, client ids, thumbprints, tags, read, list; and
`oidc_provider`, the read AssumeRoleWithWebIdentity uses.

A provider is a HASH under its URL without scheme, exactly as registered (`Keys.oidc_provider`;
that is also its ARN's resource and the IAM API's `Url`): `u` the URL with its scheme, `c`
created, `a` client ids and `h` thumbprints (JSON lists, in the order given, without
duplicates), `t` tags. The service checks the URL and the thumbprints' shape
(app.services.iam.oidc_providers); the store keeps AWS's quotas (100 providers, 100 client ids,
50 tags) under its transactions.

One-time use of tokens (issue 9's per-provider option) is set by the tag
`tessera:jti-replay-protection` with the value `true` (case-insensitive): tags are already
authorized per provider (`iam:TagOpenIDConnectProvider`, `aws:RequestTag/…`), listed by the IAM
API, and change through the IAM epoch like any other IAM state.
"""
from __future__ import annotations

import json
from collections.abc import Callable, Sequence

from app.core import arn as arns
from app.core.errors import EntityAlreadyExists, LimitExceeded, NoSuchEntity
from app.core.records import OidcProviderRecord, Tag
from app.store.iam_codec import tags_from_json
from app.store.iam_mfa import dumps_tags
from app.store.iam_providers import ProvidersMixin

MAX_CLIENT_IDS = 100
REPLAY_PROTECTION_TAG = "tessera:jti-replay-protection"
# AWS's texts (recorded from AWS by LocalStack's validated snapshots)
CLIENT_ID_LIMIT = f"Cannot exceed quota for ClientIdsPerOpenIdConnectProvider: {MAX_CLIENT_IDS}"
TAG_LIMIT = "The number of tags has reached the maximum limit."


def provider_missing(provider_arn: str) -> NoSuchEntity:
    """AWS's text for an OIDC provider that does not exist."""
    return NoSuchEntity(f"OpenIDConnect Provider not found for arn {provider_arn}")


def url_without_scheme(url: str) -> str:
    return url.split("://", 1)[1]


def replay_protected(tags: Sequence[Tag]) -> bool:
    return any(t.key.lower() == REPLAY_PROTECTION_TAG and t.value.lower() == "true" for t in tags)


def unique(values: Sequence[str]) -> list[str]:
    """`values` in their order, each once."""
    return list(dict.fromkeys(values))


def _dumps(values: Sequence[str]) -> str:
    return json.dumps(list(values), separators=(",", ":"), ensure_ascii=False)


class OidcMixin(ProvidersMixin):
    def _oidc(self, ident: str) -> tuple[str, NoSuchEntity]:
        """The provider's key and the error for its absence."""
        return self._k.oidc_provider(ident), provider_missing(arns.oidc_provider(self.account, ident))

    def _oidc_record(self, ident: str, h: dict[str, str]) -> OidcProviderRecord:
        tags = tags_from_json(json.loads(h.get("t") or "[]"))
        return OidcProviderRecord(
            arn=arns.oidc_provider(self.account, ident), url=h["u"], client_ids=tuple(json.loads(h["a"])),
            thumbprints=tuple(json.loads(h["h"])), create_date=float(h["c"]),
            replay_protection=replay_protected(tags), tags=tags)

    # ---- lifecycle ----
    async def create_oidc_provider(self, url: str, *, client_ids: Sequence[str] = (),
                                   thumbprints: Sequence[str] = (), tags: Sequence[Tag] = ()) -> OidcProviderRecord:
        """Register the issuer `url` (checked by the caller). Duplicate client ids and
        thumbprints are kept once; EntityAlreadyExists when a provider has this URL without
        scheme already."""
        ident = url_without_scheme(url)
        ids = unique(client_ids)
        if len(ids) > MAX_CLIENT_IDS:
            raise LimitExceeded(CLIENT_ID_LIMIT)
        key, _ = self._oidc(ident)
        h = {"u": url, "c": repr(self._clock.time()), "a": _dumps(ids),
             "h": _dumps(unique(thumbprints)), "t": dumps_tags(tuple(tags))}
        await self._insert_provider("oidc", ident, key, h, quota_name="OpenIdConnectProvidersPerAccount",
                                    exists=EntityAlreadyExists(f"Provider with url {url} already exists."))
        return self._oidc_record(ident, h)

    async def delete_oidc_provider(self, ident: str) -> None:
        key, missing = self._oidc(ident)
        await self._delete_provider("oidc", ident, key, missing)

    async def _change_oidc(self, ident: str, field: str,
                           change: Callable[[list[str]], list[str]]) -> OidcProviderRecord:
        """Rewrite one JSON list field (`a` client ids, `h` thumbprints)."""
        key, missing = self._oidc(ident)
        h = await self._change_provider(key, missing, lambda h: {field: _dumps(change(json.loads(h[field])))})
        return self._oidc_record(ident, h)

    async def add_oidc_client_id(self, ident: str, client_id: str) -> OidcProviderRecord:
        """Idempotent (as AWS): adding a registered client id changes nothing."""
        def change(current: list[str]) -> list[str]:
            if client_id in current:
                return current
            if len(current) >= MAX_CLIENT_IDS:
                raise LimitExceeded(CLIENT_ID_LIMIT)
            return [*current, client_id]

        return await self._change_oidc(ident, "a", change)

    async def remove_oidc_client_id(self, ident: str, client_id: str) -> OidcProviderRecord:
        """Idempotent (as AWS): removing a client id that is not registered changes nothing."""
        return await self._change_oidc(ident, "a", lambda current: [c for c in current if c != client_id])

    async def update_oidc_thumbprints(self, ident: str, thumbprints: Sequence[str]) -> OidcProviderRecord:
        """Replace the whole list (as AWS: the lists are not merged)."""
        return await self._change_oidc(ident, "h", lambda _: unique(thumbprints))

    # ---- tags ----
    async def tag_oidc_provider(self, ident: str, tags: Sequence[Tag]) -> None:
        key, missing = self._oidc(ident)
        await self._tag_provider(key, missing, tags, limit=TAG_LIMIT)

    async def untag_oidc_provider(self, ident: str, keys: Sequence[str]) -> None:
        key, missing = self._oidc(ident)
        await self._untag_provider(key, missing, keys)

    # ---- reads ----
    async def oidc_provider(self, url_without_scheme: str) -> OidcProviderRecord | None:
        """The provider registered for this URL without scheme (exact string: a token's `iss`
        without `https://`), or None. The record's `url` keeps the scheme: AssumeRoleWithWebIdentity
        compares the token's `iss` with it. GetOpenIDConnectProvider reads the same."""
        h: dict[str, str] = await self._r.hgetall(self._k.oidc_provider(url_without_scheme))
        return self._oidc_record(url_without_scheme, h) if h else None

    async def list_oidc_providers(self) -> list[str]:
        """The ARN of every provider of the account, ordered by URL without scheme."""
        return [arns.oidc_provider(self.account, ident) for ident in await self._names("oidc")]
