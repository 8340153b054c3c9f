"""What SAML and OpenID Connect providers share in the store: a provider is one HASH (tags in
its `t` field, JSON) named in the account's index of its kind (`saml`, `oidc`); creating one
checks the account's quota (100 of each kind, as AWS), deleting one drops it from the index,
tagging rewrites `t`. Every change is one optimistic transaction (app.store.iam_base)."""
from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from app.core.errors import AwsError, LimitExceeded
from app.core.records import Tag
from app.store.iam_codec import tags_from_json
from app.store.iam_entities import MAX_TAGS, EntitiesMixin, drop_tags, merge_tags
from app.store.iam_mfa import dumps_tags

MAX_PROVIDERS = 100  # SAML providers, and OIDC providers, per account (AWS)


class ProvidersMixin(EntitiesMixin):
    def _provider_key(self, kind: str, ident: str) -> str:
        """SAML providers go by name (case-insensitive), OIDC providers by URL without scheme."""
        return self._k.saml_provider(ident.lower()) if kind == "saml" else self._k.oidc_provider(ident)

    async def provider_exists(self, kind: str, ident: str) -> bool:
        """Whether the `saml` provider named `ident` / the `oidc` provider of URL `ident`
        (without scheme) exists: trust policies may only name existing providers."""
        return bool(await self._r.exists(self._provider_key(kind, ident)))

    async def _insert_provider(self, kind: str, member: str, key: str, fields: dict[str, str], *,
                               exists: AwsError, quota_name: str,
                               also: Callable[[Any], None] | None = None) -> None:
        """Create the provider's HASH and index entry (`also(pipe)` queues more writes);
        `exists` when it is there already, LimitExceeded past the account's quota."""
        index = self._k.index(kind)

        async def body(pipe: Any) -> None:
            if await self._r.exists(key):
                raise exists
            if await self._r.zcard(index) >= MAX_PROVIDERS:
                raise LimitExceeded(f"Cannot exceed quota for {quota_name}: {MAX_PROVIDERS}")
            pipe.multi()
            pipe.hset(key, mapping=fields)
            pipe.zadd(index, {member: 0})
            if also is not None:
                also(pipe)

        await self._atomic([key, index], body)

    async def _delete_provider(self, kind: str, member: str, key: str, missing: AwsError,
                               *also_delete: str) -> None:
        async def body(pipe: Any) -> None:
            if not await self._r.exists(key):
                raise missing
            pipe.multi()
            pipe.delete(key, *also_delete)
            pipe.zrem(self._k.index(kind), member)

        await self._atomic([key], body)

    async def _change_provider(self, key: str, missing: AwsError,
                               change: Callable[[dict[str, str]], dict[str, str]]) -> dict[str, str]:
        """Read the provider's HASH, write the fields `change(hash)` returns (it may raise an
        AwsError to write nothing). -> the HASH as changed."""
        async def body(pipe: Any) -> dict[str, str]:
            h: dict[str, str] = await self._r.hgetall(key)
            if not h:
                raise missing
            changes = change(h)
            pipe.multi()
            pipe.hset(key, mapping=changes)
            return h | changes

        return await self._atomic([key], body)

    # ---- tags ----
    async def _tag_provider(self, key: str, missing: AwsError, tags: Sequence[Tag], *,
                            limit: str) -> None:
        """Add or replace `tags` (keys case-insensitive); LimitExceeded(`limit`) past 50."""
        def change(h: dict[str, str]) -> dict[str, str]:
            merged = merge_tags(tags_from_json(json.loads(h.get("t") or "[]")), tags)
            if len(merged) > MAX_TAGS:
                raise LimitExceeded(limit)
            return {"t": dumps_tags(merged)}

        await self._change_provider(key, missing, change)

    async def _untag_provider(self, key: str, missing: AwsError, keys: Sequence[str]) -> None:
        def change(h: dict[str, str]) -> dict[str, str]:
            return {"t": dumps_tags(drop_tags(tags_from_json(json.loads(h.get("t") or "[]")), keys))}

        await self._change_provider(key, missing, change)
