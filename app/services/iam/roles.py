"""IAM roles: CreateRole GetRole UpdateRole UpdateRoleDescription UpdateAssumeRolePolicy
DeleteRole ListRoles TagRole UntagRole ListRoleTags."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from app.core import arn as arns
from app.core.errors import MalformedPolicyDocument, NoSuchEntity
from app.core.records import Call, Role
from app.services.iam.base import ContextValue, IamServiceBase, parse_tags, tag_context, tag_listing, untag_context


def role_missing(name: str) -> NoSuchEntity:
    return NoSuchEntity(f"The role with name {name} cannot be found.")


class RolesService(IamServiceBase):
    async def _role_target(self, call: Call, action: str, name: str, *,
                           context: Mapping[str, ContextValue] | None = None,
                           boundary_context: bool = False) -> Role:
        """Authorize `action` on the role, then require that it exists. With
        boundary_context, `iam:PermissionsBoundary` carries its current boundary."""
        role = await self._store.get_role(name)
        ctx = dict(context or {})
        if boundary_context and role is not None and role.permissions_boundary:
            ctx["iam:PermissionsBoundary"] = role.permissions_boundary.permissions_boundary_arn
        await self._require(call, action, role.arn if role else self._role_arn(name),
                            context=ctx, resource_tags=role.tags if role else ())
        if role is None:
            raise role_missing(name)
        return role

    async def _check_trust(self, document: str) -> None:
        """Validate a trust policy; users and roles (AWS resolves them to unique ids at write
        time) and SAML / OIDC providers of this account it names must exist."""
        for element, principal in self._checks.trust(document):
            if not await self._principal_exists(element, principal):
                raise MalformedPolicyDocument(f'Invalid principal in policy: "{element}":"{principal}"')

    async def _principal_exists(self, element: str, principal: str) -> bool:
        """False for a user, role or identity provider ARN of this account that names nothing;
        True for anything else (other accounts, built-in providers such as `accounts.google.com`)."""
        a = arns.parse(principal)
        if a is None or a.service != "iam" or a.account != self._account:
            return True
        kind = a.resource_type
        if element == "Federated" and kind in ("saml-provider", "oidc-provider"):
            ident = a.resource.partition("/")[2]
            return bool(ident) and await self._store.provider_exists(kind.split("-")[0], ident)
        if element != "AWS" or kind not in ("user", "role"):
            return True
        entity = (await self._store.get_user(a.resource_name) if kind == "user"
                  else await self._store.get_role(a.resource_name))
        return entity is not None and entity.arn.lower() == principal.lower()

    async def create_role(self, call: Call, *, role_name: str, assume_role_policy_document: str,
                          path: str | None = None, description: str | None = None,
                          max_session_duration: int | None = None,
                          max_signin_session_duration: int | None = None,
                          permissions_boundary: str | None = None,
                          tags: Sequence[Mapping[str, str]] | None = None) -> dict[str, Any]:
        path = path or "/"
        parsed = parse_tags(tags)
        ctx = tag_context(parsed)
        if permissions_boundary:
            ctx["iam:PermissionsBoundary"] = permissions_boundary
        await self._require(call, "CreateRole", self._role_arn(role_name, path), context=ctx)
        await self._check_trust(assume_role_policy_document)
        role = await self._store.create_role(
            role_name, trust_policy=assume_role_policy_document, path=path,
            description=description or None, max_session_duration=max_session_duration or 3600,
            boundary_arn=permissions_boundary, tags=parsed)
        return {"role": role}

    async def get_role(self, call: Call, *, role_name: str) -> dict[str, Any]:
        return {"role": await self._role_target(call, "GetRole", role_name)}

    async def update_role(self, call: Call, *, role_name: str, description: str | None = None,
                          max_session_duration: int | None = None,
                          max_signin_session_duration: int | None = None,
                          reset_max_signin_session_duration: bool | None = None) -> None:
        await self._role_target(call, "UpdateRole", role_name)
        if description is not None:
            await self._store.update_role(role_name, description=description or None,
                                          max_session_duration=max_session_duration)
        elif max_session_duration is not None:
            await self._store.update_role(role_name, max_session_duration=max_session_duration)

    async def update_role_description(self, call: Call, *, role_name: str,
                                      description: str) -> dict[str, Any]:
        await self._role_target(call, "UpdateRoleDescription", role_name)
        role = await self._store.update_role(role_name, description=description or None)
        return {"role": role}

    async def update_assume_role_policy(self, call: Call, *, role_name: str,
                                        policy_document: str) -> None:
        await self._role_target(call, "UpdateAssumeRolePolicy", role_name)
        await self._check_trust(policy_document)
        await self._store.update_role(role_name, trust_policy=policy_document)

    async def delete_role(self, call: Call, *, role_name: str) -> None:
        role = await self._role_target(call, "DeleteRole", role_name)
        await self._store.delete_role(role_name)
        await self._store.forget_last_accessed(role.role_id)  # access advisor's records

    async def list_roles(self, call: Call, *, path_prefix: str | None = None,
                         marker: str | None = None,
                         max_items: int | None = None) -> dict[str, Any]:
        await self._require(call, "ListRoles", self._role_arn("*", path_prefix or "/"))
        return await self._scan("roles", self._store.list_roles, path_prefix, marker, max_items,
                                lambda r: r.role_name.lower())

    # ---- tags ----
    async def tag_role(self, call: Call, *, role_name: str,
                       tags: Sequence[Mapping[str, str]]) -> None:
        parsed = parse_tags(tags)
        await self._role_target(call, "TagRole", role_name, context=tag_context(parsed))
        await self._store.tag("role", role_name, parsed, quota_name="TagsPerRole")

    async def untag_role(self, call: Call, *, role_name: str, tag_keys: Sequence[str]) -> None:
        await self._role_target(call, "UntagRole", role_name,
                                context=untag_context(tag_keys))
        await self._store.untag("role", role_name, tag_keys)

    async def list_role_tags(self, call: Call, *, role_name: str, marker: str | None = None,
                             max_items: int | None = None) -> dict[str, Any]:
        role = await self._role_target(call, "ListRoleTags", role_name)
        return tag_listing(role.tags, marker, max_items)

