"""IAM SAML providers: create, update (metadata, encryption mode, private keys), delete, read,
list, tag; and `saml_trust`, the read AssumeRoleWithSAML uses.

A provider is a HASH under its lowercased name (names are unique case-insensitively, the record
keeps the original case): `n` name, `u` UUID, `c` created, `v` valid until, `e` the metadata's
entity id, `x` its signing certificates (JSON list of PEM), `m` the assertion encryption mode
(absent until set), `k` the private keys (JSON list of {id, ts, fp, s}: key id, upload time,
SHA-256 fingerprint of the public key, the PKCS#8 PEM sealed under `saml:UUID:KEYID`), `t` tags.
The metadata document itself, which may be large, is a separate string (`Keys.saml_metadata`),
read only by GetSAMLProvider. The store never parses metadata or keys: the service hands it
what app.federation.saml read out of them (MetadataUpload, KeyUpload).
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from app.core import arn as arns
from app.core import ids
from app.core.errors import EntityAlreadyExists, InvalidInput, LimitExceeded, NoSuchEntity
from app.core.records import SamlPrivateKey, SamlProvider, SamlProviderListEntry, SamlProviderRecord, Tag
from app.store.iam_codec import tags_from_json
from app.store.iam_entities import MAX_TAGS
from app.store.iam_mfa import dumps_tags
from app.store.iam_providers import MAX_PROVIDERS as MAX_PROVIDERS, ProvidersMixin  # the quota, re-exported

MAX_PRIVATE_KEYS = 2  # private keys per provider (AWS; the model's privateKeyList max)
ID_LENGTH = 24  # SAMLProviderUUID and KeyId: the model's `[A-Z0-9]{22,64}`
REQUIRED, ALLOWED = "Required", "Allowed"
# AWS's texts where known (seen from AWS-compatible servers), else ours in AWS's manner
KEY_LIMIT = f"Private key limit of {MAX_PRIVATE_KEYS} is reached."
NEEDS_KEY = ("AssertionEncryptionMode `Required` cannot be set because no private key is "
             "provided: add one with AddPrivateKey")


def provider_missing(provider_arn: str) -> NoSuchEntity:
    """AWS's text for a SAML provider that does not exist."""
    return NoSuchEntity(f"Manifest not found for arn {provider_arn}")


def hundred_years_after(ts: float) -> float:
    """AWS's ValidUntil for metadata without `validUntil`: the upload time plus 100 years."""
    t = datetime.fromtimestamp(ts, timezone.utc)
    try:
        later = t.replace(year=t.year + 100)
    except ValueError:  # 29 February
        later = t.replace(year=t.year + 100, day=28)
    return later.timestamp()


@dataclass(frozen=True, slots=True)
class MetadataUpload:
    """A metadata document and what was read out of it (app.federation.saml.metadata)."""

    document: str
    entity_id: str
    certificates_pem: tuple[str, ...]
    valid_until: float | None  # the document's validUntil, None when it has none


@dataclass(frozen=True, slots=True)
class KeyUpload:
    """A checked private key: PKCS#8 PEM and the SHA-256 hex of its public key."""

    pem: str = field(repr=False)
    fingerprint: str


class SamlMixin(ProvidersMixin):
    def _saml_keys(self, name: str) -> tuple[str, str, str]:
        lname = name.lower()
        return lname, self._k.saml_provider(lname), self._k.saml_metadata(lname)

    def _seal_aad(self, uuid: str, key_id: str) -> str:
        return f"saml:{uuid}:{key_id}"

    def _metadata_fields(self, md: MetadataUpload) -> dict[str, str]:
        valid_until = md.valid_until if md.valid_until is not None else hundred_years_after(self._clock.time())
        return {"e": md.entity_id, "x": json.dumps(list(md.certificates_pem)), "v": repr(valid_until)}

    def _new_key(self, uuid: str, current: list[dict[str, Any]], key: KeyUpload) -> dict[str, Any]:
        if len(current) >= MAX_PRIVATE_KEYS:
            raise LimitExceeded(KEY_LIMIT)
        for k in current:
            if k["fp"] == key.fingerprint:
                raise InvalidInput(f"this private key is already registered to the provider as key `{k['id']}`")
        key_id = ids.opaque_id(ID_LENGTH, self._rng)
        return {"id": key_id, "ts": self._clock.time(), "fp": key.fingerprint,
                "s": self._box.seal(key.pem, aad=self._seal_aad(uuid, key_id))}

    # ---- lifecycle ----
    async def create_saml_provider(self, name: str, metadata: MetadataUpload, *,
                                   encryption_mode: str | None = None,
                                   private_key: KeyUpload | None = None,
                                   tags: Sequence[Tag] = ()) -> SamlProvider:
        lname, key, doc_key = self._saml_keys(name)
        if encryption_mode == REQUIRED and private_key is None:
            raise InvalidInput(NEEDS_KEY)
        uuid = ids.opaque_id(ID_LENGTH, self._rng)
        keys = [self._new_key(uuid, [], private_key)] if private_key is not None else []
        h = {"n": name, "u": uuid, "c": repr(self._clock.time()), "k": dumps_keys(keys),
             "t": dumps_tags(tuple(tags)), **self._metadata_fields(metadata)}
        if encryption_mode:
            h["m"] = encryption_mode
        await self._insert_provider("saml", lname, key, h, quota_name="SAMLProvidersPerAccount",
                                    exists=EntityAlreadyExists(f"SAMLProvider with name {name} already exists."),
                                    also=lambda pipe: pipe.set(doc_key, metadata.document))
        return self._provider(h, metadata.document)

    async def update_saml_provider(self, name: str, *, metadata: MetadataUpload | None = None,
                                   encryption_mode: str | None = None,
                                   add_key: KeyUpload | None = None,
                                   remove_key: str | None = None) -> SamlProvider:
        """Apply the changes given, all or nothing. Rules: at most two private keys, a key id
        to remove must be one of the provider's, and `Required` needs a key after the change."""
        _, key, doc_key = self._saml_keys(name)

        async def body(pipe: Any) -> SamlProvider:
            h, document = await self._read(("hgetall", key), ("get", doc_key))
            if not h:
                raise provider_missing(arns.saml_provider(self.account, name))
            keys: list[dict[str, Any]] = json.loads(h.get("k") or "[]")
            if remove_key is not None:
                kept = [k for k in keys if k["id"] != remove_key]
                if len(kept) == len(keys):
                    raise InvalidInput(f"the Key ID `{remove_key}` does not match a private key of this provider")
                if not kept and (encryption_mode or h.get("m")) == REQUIRED:
                    raise InvalidInput("Failed to remove private key: it is the provider's last one and its "
                                       "AssertionEncryptionMode is `Required`; set it to `Allowed` first")
                keys = kept
            if add_key is not None:
                keys.append(self._new_key(h["u"], keys, add_key))
            mode = encryption_mode or h.get("m")
            if mode == REQUIRED and not keys:
                raise InvalidInput(NEEDS_KEY)
            changes: dict[str, str] = {"k": dumps_keys(keys)}
            if encryption_mode:
                changes["m"] = encryption_mode
            if metadata is not None:
                changes |= self._metadata_fields(metadata)
                document = metadata.document
            pipe.multi()
            pipe.hset(key, mapping=changes)
            if metadata is not None:
                pipe.set(doc_key, metadata.document)
            return self._provider(h | changes, document or "")

        return await self._atomic([key, doc_key], body)

    async def delete_saml_provider(self, name: str) -> None:
        lname, key, doc_key = self._saml_keys(name)
        await self._delete_provider("saml", lname, key, provider_missing(arns.saml_provider(self.account, name)),
                                    doc_key)

    # ---- tags ----
    async def tag_saml_provider(self, name: str, tags: Sequence[Tag]) -> None:
        await self._tag_provider(self._saml_keys(name)[1], provider_missing(arns.saml_provider(self.account, name)),
                                 tags, limit=f"Cannot exceed quota for TagsPerSAMLProvider: {MAX_TAGS}")

    async def untag_saml_provider(self, name: str, keys: Sequence[str]) -> None:
        await self._untag_provider(self._saml_keys(name)[1], provider_missing(arns.saml_provider(self.account, name)),
                                   keys)

    # ---- reads ----
    def _provider(self, h: dict[str, str], document: str) -> SamlProvider:
        keys = json.loads(h.get("k") or "[]")
        return SamlProvider(
            arn=arns.saml_provider(self.account, h["n"]), name=h["n"], saml_provider_uuid=h["u"],
            saml_metadata_document=document, entity_id=h["e"], create_date=float(h["c"]),
            valid_until=float(h["v"]), assertion_encryption_mode=h.get("m") or None,
            private_key_list=tuple(SamlPrivateKey(k["id"], float(k["ts"])) for k in keys),
            tags=tags_from_json(json.loads(h.get("t") or "[]")))

    async def get_saml_provider(self, name: str) -> SamlProvider | None:
        """The provider (case-insensitive name) with its metadata document; None when missing."""
        _, key, doc_key = self._saml_keys(name)
        h, document = await self._read(("hgetall", key), ("get", doc_key))
        return self._provider(h, document or "") if h else None

    async def list_saml_providers(self) -> list[SamlProviderListEntry]:
        """Every provider of the account, in name order (case-insensitive)."""
        names = await self._names("saml")
        rows = await self._read(*[("hmget", self._k.saml_provider(n), ["n", "c", "v"]) for n in names]) \
            if names else []
        return [SamlProviderListEntry(arn=arns.saml_provider(self.account, n), create_date=float(c),
                                      valid_until=float(v))
                for n, c, v in rows if n is not None]

    async def saml_trust(self, name: str) -> SamlProviderRecord | None:
        """What AssumeRoleWithSAML needs about provider `name` (case-insensitive, as `get_user`;
        `arn` and `name` carry the stored case), private keys unsealed; None when missing. A key
        that no longer opens (another master key) is left out."""
        row = await self._r.hmget(self._saml_keys(name)[1], ["n", "u", "e", "x", "k", "m", "v"])
        stored, uuid, entity_id, certs, keys, mode, valid_until = row
        if stored is None:
            return None
        pems: list[str] = []
        for k in json.loads(keys or "[]"):
            try:
                pems.append(self._box.open(k["s"], aad=self._seal_aad(uuid, k["id"])))
            except ValueError:
                continue
        return SamlProviderRecord(
            arn=arns.saml_provider(self.account, stored), name=stored, uuid=uuid, entity_id=entity_id,
            certificates_pem=tuple(json.loads(certs or "[]")), private_keys_pem=tuple(pems),
            encryption_required=mode == REQUIRED, valid_until=float(valid_until))


def dumps_keys(keys: list[dict[str, Any]]) -> str:
    return json.dumps(keys, separators=(",", ":"))
