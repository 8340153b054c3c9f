"""The account alias (AWS allows one per account): a string under `Keys.account_alias()`.

CreateAccountAlias with the alias the account has already is a no-op; with another one it
replaces it (AWS keeps one alias per account, and the sign-in URL follows the newest)."""
from __future__ import annotations

from typing import Any

from app.core.errors import NoSuchEntity
from app.store.iam_base import IamStoreBase


class AliasMixin(IamStoreBase):
    async def account_alias(self) -> str | None:
        raw = await self._r.get(self._k.account_alias())
        return None if raw is None else str(raw)

    async def set_account_alias(self, alias: str) -> None:
        key = self._k.account_alias()

        async def body(pipe: Any) -> None:
            pipe.multi()
            pipe.set(key, alias)

        await self._atomic([key], body)

    async def delete_account_alias(self, alias: str) -> None:
        key = self._k.account_alias()

        async def body(pipe: Any) -> None:
            if await self._r.get(key) != alias:
                raise NoSuchEntity(f"The account alias {alias} cannot be found.")
            pipe.multi()
            pipe.delete(key)

        await self._atomic([key], body)
