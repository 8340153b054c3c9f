"""The account alias: CreateAccountAlias DeleteAccountAlias ListAccountAliases.

None of the three has a resource type (`*`). The alias's form (3 to 63 lowercase letters,
digits and single dashes, neither first nor last) is the model's pattern, checked by the codec.
An account has at most one alias: creating another replaces it (app.store.iam_alias)."""
from __future__ import annotations

from typing import Any

from app.core.records import Call
from app.services.iam.base import IamServiceBase, listing, page


class AliasesService(IamServiceBase):
    async def create_account_alias(self, call: Call, *, account_alias: str) -> None:
        await self._require(call, "CreateAccountAlias", "*")
        await self._store.set_account_alias(account_alias)

    async def delete_account_alias(self, call: Call, *, account_alias: str) -> None:
        await self._require(call, "DeleteAccountAlias", "*")
        await self._store.delete_account_alias(account_alias)

    async def list_account_aliases(self, call: Call, *, marker: str | None = None,
                                   max_items: int | None = None) -> dict[str, Any]:
        await self._require(call, "ListAccountAliases", "*")
        alias = await self._store.account_alias()
        return listing("account_aliases", *page([alias] if alias else [], lambda a: a, marker, max_items))
