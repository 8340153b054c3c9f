"""IAM instance profiles: CreateInstanceProfile GetInstanceProfile ListInstanceProfiles
ListInstanceProfilesForRole AddRoleToInstanceProfile RemoveRoleFromInstanceProfile
DeleteInstanceProfile TagInstanceProfile UntagInstanceProfile ListInstanceProfileTags.

Resources authorized, as the Service Authorization Reference lists them: the profile
(`arn:aws:iam::ACCOUNT:instance-profile/PATH/NAME`) for every action but
ListInstanceProfilesForRole (the role) and ListInstanceProfiles (the path prefix's profiles).
AddRoleToInstanceProfile also needs `iam:PassRole` on the role (AWS: whoever puts a role in a
profile hands it to the instances that use it). Tag actions and CreateInstanceProfile with tags
carry `aws:RequestTag/*` and `aws:TagKeys`; an existing profile's tags are its
`aws:ResourceTag/*`. Authorization comes before existence, as everywhere.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from app.core import arn as arns
from app.core.records import Call, InstanceProfile
from app.services.iam.base import ContextValue, listing, page, parse_tags, tag_context, tag_listing, untag_context
from app.services.iam.roles import RolesService
from app.store.iam_instance_profiles import profile_missing


class InstanceProfilesService(RolesService):
    async def _profile_target(self, call: Call, action: str, name: str, *,
                              context: Mapping[str, ContextValue] | None = None) -> InstanceProfile:
        """Authorize `action` on the profile, then require that it exists."""
        profile = await self._store.get_instance_profile(name)
        await self._require(call, action, profile.arn if profile else arns.instance_profile(self._account, "/", name),
                            context=context, resource_tags=profile.tags if profile else ())
        if profile is None:
            raise profile_missing(name)
        return profile

    async def create_instance_profile(self, call: Call, *, instance_profile_name: str, path: str | None = None,
                                      tags: Sequence[Mapping[str, str]] | None = None) -> dict[str, Any]:
        path = path or "/"
        parsed = parse_tags(tags)
        await self._require(call, "CreateInstanceProfile",
                            arns.instance_profile(self._account, path, instance_profile_name),
                            context=tag_context(parsed))
        profile = await self._store.create_instance_profile(instance_profile_name, path=path, tags=parsed)
        return {"instance_profile": profile}

    async def get_instance_profile(self, call: Call, *, instance_profile_name: str) -> dict[str, Any]:
        return {"instance_profile": await self._profile_target(call, "GetInstanceProfile", instance_profile_name)}

    async def delete_instance_profile(self, call: Call, *, instance_profile_name: str) -> None:
        await self._profile_target(call, "DeleteInstanceProfile", instance_profile_name)
        await self._store.delete_instance_profile(instance_profile_name)

    async def list_instance_profiles(self, call: Call, *, path_prefix: str | None = None,
                                     marker: str | None = None, max_items: int | None = None) -> dict[str, Any]:
        await self._require(call, "ListInstanceProfiles",
                            arns.instance_profile(self._account, path_prefix or "/", "*"))
        return await self._scan("instance_profiles", self._store.list_instance_profiles, path_prefix, marker,
                                max_items, lambda p: p.instance_profile_name.lower())

    async def list_instance_profiles_for_role(self, call: Call, *, role_name: str, marker: str | None = None,
                                              max_items: int | None = None) -> dict[str, Any]:
        role = await self._role_target(call, "ListInstanceProfilesForRole", role_name)
        profiles = await self._store.instance_profiles_for_role(role.role_name)
        return listing("instance_profiles", *page(profiles, lambda p: p.instance_profile_name.lower(),
                                                  marker, max_items))

    async def add_role_to_instance_profile(self, call: Call, *, instance_profile_name: str,
                                           role_name: str) -> None:
        await self._profile_target(call, "AddRoleToInstanceProfile", instance_profile_name)
        role = await self._role_target(call, "PassRole", role_name)
        await self._store.add_role_to_instance_profile(instance_profile_name, role.role_name)

    async def remove_role_from_instance_profile(self, call: Call, *, instance_profile_name: str,
                                                role_name: str) -> None:
        await self._profile_target(call, "RemoveRoleFromInstanceProfile", instance_profile_name)
        await self._store.remove_role_from_instance_profile(instance_profile_name, role_name)

    # ---- tags ----
    async def tag_instance_profile(self, call: Call, *, instance_profile_name: str,
                                   tags: Sequence[Mapping[str, str]]) -> None:
        parsed = parse_tags(tags)
        await self._profile_target(call, "TagInstanceProfile", instance_profile_name, context=tag_context(parsed))
        await self._store.tag_instance_profile(instance_profile_name, parsed)

    async def untag_instance_profile(self, call: Call, *, instance_profile_name: str,
                                     tag_keys: Sequence[str]) -> None:
        await self._profile_target(call, "UntagInstanceProfile", instance_profile_name,
                                   context=untag_context(tag_keys))
        await self._store.untag_instance_profile(instance_profile_name, tag_keys)

    async def list_instance_profile_tags(self, call: Call, *, instance_profile_name: str,
                                         marker: str | None = None, max_items: int | None = None) -> dict[str, Any]:
        profile = await self._profile_target(call, "ListInstanceProfileTags", instance_profile_name)
        return tag_listing(profile.tags, marker, max_items)
