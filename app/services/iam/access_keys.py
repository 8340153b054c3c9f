"""Access keys: CreateAccessKey ListAccessKeys UpdateAccessKey DeleteAccessKey
GetAccessKeyLastUsed. UserName defaults to the caller; the root manages its own keys."""
from __future__ import annotations

from typing import Any

from app.core import arn as arns
from app.core.errors import NoSuchEntity
from app.core.records import Call
from app.services.iam.base import listing, page
from app.services.iam.users import UsersService, user_missing


class AccessKeysService(UsersService):
    async def _key_owner(self, call: Call, action: str, user_name: str | None) -> str:
        """Authorize `action` on the key owner (the caller when unnamed). -> user name,
        "" for the root."""
        name = self._caller_user(call, user_name)
        if name == "":
            await self._require(call, action, arns.root(self._account))
        else:
            await self._user_target(call, action, name)
        return name

    async def create_access_key(self, call: Call, *, user_name: str | None = None
                                ) -> dict[str, Any]:
        name = await self._key_owner(call, "CreateAccessKey", user_name)
        return {"access_key": await self._store.create_access_key(name)}

    async def list_access_keys(self, call: Call, *, user_name: str | None = None,
                               marker: str | None = None,
                               max_items: int | None = None) -> dict[str, Any]:
        name = await self._key_owner(call, "ListAccessKeys", user_name)
        keys = await self._store.list_access_keys(name)
        if keys is None:
            raise user_missing(name)
        return listing("access_key_metadata", *page(
            keys, lambda k: f"{k.create_date:020.6f}{k.access_key_id}", marker, max_items))

    async def update_access_key(self, call: Call, *, access_key_id: str, status: str,
                                user_name: str | None = None) -> None:
        name = await self._key_owner(call, "UpdateAccessKey", user_name)
        await self._store.update_access_key(name, access_key_id, status)

    async def delete_access_key(self, call: Call, *, access_key_id: str,
                                user_name: str | None = None) -> None:
        name = await self._key_owner(call, "DeleteAccessKey", user_name)
        await self._store.delete_access_key(name, access_key_id)

    async def get_access_key_last_used(self, call: Call, *, access_key_id: str
                                       ) -> dict[str, Any]:
        found = await self._store.access_key_last_used(access_key_id)
        if found is None:
            await self._require(call, "GetAccessKeyLastUsed", self._user_arn("*"))
            raise NoSuchEntity(f"The Access Key with id {access_key_id} cannot be found.")
        owner, last_used = found
        if owner:
            user = await self._store.get_user(owner)
            resource = user.arn if user else self._user_arn(owner)
            await self._require(call, "GetAccessKeyLastUsed", resource,
                                resource_tags=user.tags if user else ())
        else:
            await self._require(call, "GetAccessKeyLastUsed", arns.root(self._account))
        return {"user_name": owner or None, "access_key_last_used": last_used}
