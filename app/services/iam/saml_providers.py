"""IAM SAML providers: CreateSAMLProvider UpdateSAMLProvider GetSAMLProvider ListSAMLProviders
DeleteSAMLProvider TagSAMLProvider UntagSAMLProvider ListSAMLProviderTags.

Resources authorized, as the Service Authorization Reference lists them: the provider
(`arn:aws:iam::ACCOUNT:saml-provider/NAME`, resource type `saml-provider`) for every action but
ListSAMLProviders, which has no resource type (`*`). Tag actions and CreateSAMLProvider with
tags carry `aws:RequestTag/*` and `aws:TagKeys`; an existing provider's tags are its
`aws:ResourceTag/*`. As everywhere, authorization comes before existence; a provider ARN
resolves case-insensitively (names are unique that way). Metadata and private keys are read by
app.federation.saml (metadata, provider_keys); what is wrong with them is `InvalidInput`.
Trusted identity propagation (ContextProvider, IdentityCenterInstanceArn) is refused.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from app.core import arn as arns
from app.core.errors import InvalidInput
from app.core.records import Call, SamlProvider
from app.federation.saml.metadata import MetadataRejected, parse_metadata
from app.federation.saml.provider_keys import PrivateKeyRejected, check_private_key
from app.services.iam.base import ContextValue, parse_tags, tag_context, tag_listing, untag_context
from app.services.iam.providers import ProvidersServiceBase, provider_ident, refuse_propagation
from app.store.iam_saml import KeyUpload, MetadataUpload, provider_missing

_PREFIX = "saml-provider/"


class SamlProvidersService(ProvidersServiceBase):
    async def _saml_target(self, call: Call, action: str, provider_arn: str, *,
                           context: Mapping[str, ContextValue] | None = None) -> SamlProvider:
        """Authorize `action` on the provider, then require that it exists. A provider ARN
        resolves case-insensitively (names are unique that way)."""
        name = provider_ident(provider_arn, _PREFIX, self._account,
                              f"a SAML provider ARN (arn:aws:iam::{self._account}:saml-provider/NAME)")
        load = (lambda: self._store.get_saml_provider(name)) if name and "/" not in name else None
        return await self._provider_target(call, action, provider_arn, load, provider_missing(provider_arn),
                                           context=context)

    def _metadata(self, document: str) -> MetadataUpload:
        try:
            md = parse_metadata(document, now=self._clock.time())
        except MetadataRejected as exc:
            raise InvalidInput(f"Could not parse metadata: {exc}", reason=exc.reason) from None
        return MetadataUpload(document=document, entity_id=md.entity_id,
                              certificates_pem=md.certificates_pem, valid_until=md.valid_until)

    @staticmethod
    def _private_key(pem: str) -> KeyUpload:
        try:
            key = check_private_key(pem)
        except PrivateKeyRejected as exc:
            raise InvalidInput(str(exc), reason=exc.reason) from None
        return KeyUpload(pem=key.pem, fingerprint=key.fingerprint)

    async def create_saml_provider(self, call: Call, *, saml_metadata_document: str, name: str,
                                   tags: Sequence[Mapping[str, str]] | None = None,
                                   assertion_encryption_mode: str | None = None,
                                   add_private_key: str | None = None,
                                   context_provider: Any = None,
                                   identity_center_instance_arn: str | None = None) -> dict[str, Any]:
        parsed = parse_tags(tags)
        await self._require(call, "CreateSAMLProvider", arns.saml_provider(self._account, name),
                            context=tag_context(parsed))
        refuse_propagation(context_provider, identity_center_instance_arn)
        metadata = self._metadata(saml_metadata_document)
        key = self._private_key(add_private_key) if add_private_key is not None else None
        provider = await self._store.create_saml_provider(
            name, metadata, encryption_mode=assertion_encryption_mode, private_key=key, tags=parsed)
        return {"saml_provider_arn": provider.arn, "tags": parsed}

    async def update_saml_provider(self, call: Call, *, saml_provider_arn: str,
                                   saml_metadata_document: str | None = None,
                                   assertion_encryption_mode: str | None = None,
                                   add_private_key: str | None = None,
                                   remove_private_key: str | None = None,
                                   context_provider: Any = None,
                                   identity_center_instance_arn: str | None = None,
                                   remove_context_provider: bool | None = None,
                                   remove_identity_center_instance: bool | None = None) -> dict[str, Any]:
        provider = await self._saml_target(call, "UpdateSAMLProvider", saml_provider_arn)
        refuse_propagation(context_provider, identity_center_instance_arn, remove_context_provider,
                     remove_identity_center_instance)
        if saml_metadata_document is None and assertion_encryption_mode is None \
                and add_private_key is None and remove_private_key is None:
            raise InvalidInput("No updates are defined: give SAMLMetadataDocument, AssertionEncryptionMode, "
                               "AddPrivateKey or RemovePrivateKey")
        if add_private_key is not None and remove_private_key is not None:
            raise InvalidInput("Unable to add and remove private keys in the same request: add the new key "
                               "first, then remove the old one in another request")
        metadata = self._metadata(saml_metadata_document) if saml_metadata_document is not None else None
        key = self._private_key(add_private_key) if add_private_key is not None else None
        updated = await self._store.update_saml_provider(
            provider.name, metadata=metadata, encryption_mode=assertion_encryption_mode, add_key=key,
            remove_key=remove_private_key)
        return {"saml_provider_arn": updated.arn}

    async def get_saml_provider(self, call: Call, *, saml_provider_arn: str) -> dict[str, Any]:
        p = await self._saml_target(call, "GetSAMLProvider", saml_provider_arn)
        return {"saml_provider_uuid": p.saml_provider_uuid, "saml_metadata_document": p.saml_metadata_document,
                "create_date": p.create_date, "valid_until": p.valid_until, "tags": p.tags,
                "assertion_encryption_mode": p.assertion_encryption_mode,
                "private_key_list": p.private_key_list or None}

    async def list_saml_providers(self, call: Call) -> dict[str, Any]:
        await self._require(call, "ListSAMLProviders", "*")
        return {"saml_provider_list": await self._store.list_saml_providers()}

    async def delete_saml_provider(self, call: Call, *, saml_provider_arn: str) -> None:
        provider = await self._saml_target(call, "DeleteSAMLProvider", saml_provider_arn)
        await self._store.delete_saml_provider(provider.name)

    # ---- tags ----
    async def tag_saml_provider(self, call: Call, *, saml_provider_arn: str,
                                tags: Sequence[Mapping[str, str]]) -> None:
        parsed = parse_tags(tags)
        provider = await self._saml_target(call, "TagSAMLProvider", saml_provider_arn,
                                           context=tag_context(parsed))
        await self._store.tag_saml_provider(provider.name, parsed)

    async def untag_saml_provider(self, call: Call, *, saml_provider_arn: str,
                                  tag_keys: Sequence[str]) -> None:
        provider = await self._saml_target(call, "UntagSAMLProvider", saml_provider_arn,
                                           context=untag_context(tag_keys))
        await self._store.untag_saml_provider(provider.name, tag_keys)

    async def list_saml_provider_tags(self, call: Call, *, saml_provider_arn: str, marker: str | None = None,
                                      max_items: int | None = None) -> dict[str, Any]:
        provider = await self._saml_target(call, "ListSAMLProviderTags", saml_provider_arn)
        return tag_listing(provider.tags, marker, max_items)
