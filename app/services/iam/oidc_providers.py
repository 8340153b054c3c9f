"""IAM OpenID Connect providers: CreateOpenIDConnectProvider GetOpenIDConnectProvider
ListOpenIDConnectProviders DeleteOpenIDConnectProvider AddClientIDToOpenIDConnectProvider
RemoveClientIDFromOpenIDConnectProvider UpdateOpenIDConnectProviderThumbprint
TagOpenIDConnectProvider UntagOpenIDConnectProvider ListOpenIDConnectProviderTags.

A provider is named by its issuer URL without scheme: its ARN is
`arn:aws:iam::ACCOUNT:oidc-provider/HOST[:PORT][/PATH]` and GetOpenIDConnectProvider's `Url` is
that same text (as AWS returns it). The URL rules are app.services.oidc_urls' (https, or http on
a loopback host; no query or fragment); a URL they refuse is AWS's ValidationError `Invalid Open
ID Connect Provider URL` with what is wrong. Resources authorized as the Service Authorization
Reference lists them: the provider (resource type `oidc-provider`) for every action but
ListOpenIDConnectProviders (`*`); tag actions and a create with tags carry `aws:RequestTag/*`
and `aws:TagKeys`, an existing provider's tags are its `aws:ResourceTag/*`. Authorization
comes before existence. AWS's limits: 100 client ids of 1-255 characters, at most 5
thumbprints of 40 hexadecimal characters (SHA-1), 50 tags. The tag
`tessera:jti-replay-protection` = `true` makes each token redeemable once (app.store.iam_oidc).
Trusted identity propagation (ContextProvider, IdentityCenterInstanceArn) is refused.
"""
from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from app.core import arn as arns
from app.core.errors import AwsError, InvalidInput, NoSuchEntity, ValidationError
from app.core.records import Call, OidcProviderRecord
from app.services.iam.base import ContextValue, parse_tags, tag_context, tag_listing, untag_context
from app.services.iam.providers import ProvidersServiceBase, provider_ident, refuse_propagation
from app.services.oidc_urls import UrlRejected, issuer_url
from app.store.iam_oidc import provider_missing, url_without_scheme

_PREFIX = "oidc-provider/"
_HEX40 = re.compile(r"[0-9A-Fa-f]{40}")
MAX_THUMBPRINTS = 5
# AWS's texts (recorded from AWS by LocalStack's validated snapshots)
BAD_URL = "Invalid Open ID Connect Provider URL"
TOO_MANY_THUMBPRINTS = "Thumbprint list must contain fewer than 5 entries."


def thumbprints(values: Sequence[str]) -> list[str]:
    """A ThumbprintList as given; InvalidInput past 5 entries or for one that is not hex SHA-1."""
    if len(values) > MAX_THUMBPRINTS:
        raise InvalidInput(TOO_MANY_THUMBPRINTS)
    for value in values:
        if not _HEX40.fullmatch(value):
            raise InvalidInput(f"thumbprint `{value}` is not 40 hexadecimal characters "
                               "(the SHA-1 of a CA certificate of the IdP's TLS chain)")
    return list(values)


def without_scheme(url: str) -> str:
    """`url`'s text after the scheme; ValidationError when it may not be an issuer URL."""
    try:
        return issuer_url(url)
    except UrlRejected as exc:
        raise ValidationError(f"{BAD_URL}: `{url}` {exc}") from None


class OidcProvidersService(ProvidersServiceBase):
    async def _oidc_target(self, call: Call, action: str, provider_arn: str, *,
                           context: Mapping[str, ContextValue] | None = None,
                           missing: AwsError | None = None) -> OidcProviderRecord:
        """Authorize `action` on the provider, then require that it exists. ARNs resolve
        exactly (a token's `iss` is compared exactly too)."""
        ident = provider_ident(provider_arn, _PREFIX, self._account,
                               f"an OpenID Connect provider ARN (arn:aws:iam::{self._account}:oidc-provider/"
                               "HOST[:PORT][/PATH])")
        load = (lambda: self._store.oidc_provider(ident)) if ident else None
        return await self._provider_target(call, action, provider_arn, load,
                                           missing or provider_missing(provider_arn), context=context)

    async def create_open_id_connect_provider(self, call: Call, *, url: str,
                                              client_id_list: Sequence[str] | None = None,
                                              thumbprint_list: Sequence[str] | None = None,
                                              tags: Sequence[Mapping[str, str]] | None = None,
                                              context_provider: Any = None,
                                              identity_center_instance_arn: str | None = None) -> dict[str, Any]:
        parsed = parse_tags(tags)
        ident = without_scheme(url)  # the URL is the resource's name: checked before authorizing
        await self._require(call, "CreateOpenIDConnectProvider", arns.oidc_provider(self._account, ident),
                            context=tag_context(parsed))
        refuse_propagation(context_provider, identity_center_instance_arn)
        provider = await self._store.create_oidc_provider(
            url, client_ids=client_id_list or (), thumbprints=thumbprints(thumbprint_list or ()), tags=parsed)
        return {"open_id_connect_provider_arn": provider.arn, "tags": parsed}

    async def get_open_id_connect_provider(self, call: Call, *, open_id_connect_provider_arn: str) -> dict[str, Any]:
        p = await self._oidc_target(call, "GetOpenIDConnectProvider", open_id_connect_provider_arn)
        return {"url": url_without_scheme(p.url), "client_id_list": p.client_ids,
                "thumbprint_list": p.thumbprints, "create_date": p.create_date, "tags": p.tags}

    async def list_open_id_connect_providers(self, call: Call) -> dict[str, Any]:
        await self._require(call, "ListOpenIDConnectProviders", "*")
        return {"open_id_connect_provider_list": [{"arn": a} for a in await self._store.list_oidc_providers()]}

    async def delete_open_id_connect_provider(self, call: Call, *, open_id_connect_provider_arn: str) -> None:
        arn = open_id_connect_provider_arn
        p = await self._oidc_target(call, "DeleteOpenIDConnectProvider", arn,
                                    missing=NoSuchEntity(f"OpenId connect Provider {arn} cannot be found."))
        await self._store.delete_oidc_provider(url_without_scheme(p.url))

    async def add_client_id_to_open_id_connect_provider(self, call: Call, *, open_id_connect_provider_arn: str,
                                                         client_id: str) -> None:
        p = await self._oidc_target(call, "AddClientIDToOpenIDConnectProvider", open_id_connect_provider_arn)
        await self._store.add_oidc_client_id(url_without_scheme(p.url), client_id)

    async def remove_client_id_from_open_id_connect_provider(self, call: Call, *,
                                                              open_id_connect_provider_arn: str,
                                                              client_id: str) -> None:
        p = await self._oidc_target(call, "RemoveClientIDFromOpenIDConnectProvider", open_id_connect_provider_arn)
        await self._store.remove_oidc_client_id(url_without_scheme(p.url), client_id)

    async def update_open_id_connect_provider_thumbprint(self, call: Call, *, open_id_connect_provider_arn: str,
                                                          thumbprint_list: Sequence[str]) -> None:
        p = await self._oidc_target(call, "UpdateOpenIDConnectProviderThumbprint", open_id_connect_provider_arn)
        await self._store.update_oidc_thumbprints(url_without_scheme(p.url), thumbprints(thumbprint_list))

    # ---- tags ----
    async def tag_open_id_connect_provider(self, call: Call, *, open_id_connect_provider_arn: str,
                                           tags: Sequence[Mapping[str, str]]) -> None:
        parsed = parse_tags(tags)
        p = await self._oidc_target(call, "TagOpenIDConnectProvider", open_id_connect_provider_arn,
                                    context=tag_context(parsed))
        await self._store.tag_oidc_provider(url_without_scheme(p.url), parsed)

    async def untag_open_id_connect_provider(self, call: Call, *, open_id_connect_provider_arn: str,
                                             tag_keys: Sequence[str]) -> None:
        p = await self._oidc_target(call, "UntagOpenIDConnectProvider", open_id_connect_provider_arn,
                                    context=untag_context(tag_keys))
        await self._store.untag_oidc_provider(url_without_scheme(p.url), tag_keys)

    async def list_open_id_connect_provider_tags(self, call: Call, *, open_id_connect_provider_arn: str,
                                                 marker: str | None = None,
                                                 max_items: int | None = None) -> dict[str, Any]:
        p = await self._oidc_target(call, "ListOpenIDConnectProviderTags", open_id_connect_provider_arn)
        return tag_listing(p.tags, marker, max_items)
