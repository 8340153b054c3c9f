"""The role picker of an IAM user signed in with its password: which roles it may assume, and
the role choice itself, both through the API's AssumeRole path.

The user's sign-in (app.services.sso.SignIn, kind `iam`) becomes the Caller AssumeRole would
see if the user called it with its own long-term keys: `StsService.role_session_refusal` and
`issue_role_session` then run the very checks AssumeRole runs - the role's trust policy must
admit the user and the user's identity policies (and permissions boundary) must allow
`sts:AssumeRole` on the role, as the Authorizer combines them for a same-account request - and
mint the same session (named after the user, as AWS's console names switched-role sessions; no
source identity; RoleLastUsed noted). A sign-in made with an MFA code offers
`aws:MultiFactorAuthPresent` = true to the trust policy, as AssumeRole with SerialNumber and
TokenCode does, and `aws:MultiFactorAuthAge` counts from the sign-in (when the code was checked),
as it does for a console session; a sign-in without a code offers neither, so MFA-conditioned
roles are not listed.

The user is read again at every listing and choice: a user deleted since (or deleted and made
again under the same name: another user id) gets nothing.
"""
from __future__ import annotations

from typing import Any, Protocol

from app.core.errors import AccessDenied, AwsError
from app.core.records import Call, Caller, User
from app.services.role_session import RoleSessionRequest
from app.services.sso import SIGNIN_GONE, RoleChoice, RolePages, SignIn, account_roles


class RoleSessions(Protocol):
    """app.services.sts.StsService."""

    async def role_session_refusal(self, call: Call, req: RoleSessionRequest) -> AwsError | None: ...

    async def issue_role_session(self, call: Call, req: RoleSessionRequest) -> Any: ...


class Reads(Protocol):
    """app.store.iam_cache.CachedIamReads (users) and app.store.iam_store.IamStore (role listing)."""

    async def get_user(self, name: str) -> User | None: ...

    async def pin(self, *keys: str) -> list[Any]: ...


class UserRoleChoices:
    def __init__(self, sts: RoleSessions, users: Reads, roles: RolePages, *, account: str) -> None:
        self._sts = sts
        self._users = users
        self._roles = roles
        self._account = account

    async def caller(self, signin: SignIn) -> Caller:
        """The signed-in user as AssumeRole's caller; AccessDenied when it is gone. Pins the IAM
        epoch (one round trip) so the policy reads of the checks that follow come from memory."""
        await self._users.pin()
        user = await self._users.get_user(signin.session_name)
        if user is None or user.user_id != signin.user_id or user.arn != signin.provider_arn:
            raise AccessDenied(SIGNIN_GONE, reason="sso_user_gone")
        return Caller(kind="user", account=self._account, arn=user.arn, user_id=user.user_id,
                      principal_arn=user.arn, access_key_id="", name=user.user_name)

    def _request(self, signin: SignIn, role_arn: str, duration_seconds: int | None) -> RoleSessionRequest:
        return RoleSessionRequest(role_arn=role_arn, session_name=signin.session_name,
                                  duration_seconds=duration_seconds, mfa_authenticated=signin.mfa,
                                  mfa_authenticated_at=signin.signed_in_at if signin.mfa else None)

    async def roles(self, call: Call, signin: SignIn) -> list[RoleChoice]:
        """The roles of the account AssumeRole would give this user now (default duration)."""
        as_user = Call(await self.caller(signin), call.meta)
        out: list[RoleChoice] = []
        async for role in account_roles(self._roles):
            if await self._sts.role_session_refusal(as_user, self._request(signin, role.arn, None)) is None:
                out.append(RoleChoice(role.arn, self._account, role.role_name, role.description,
                                      role.max_session_duration))
        return sorted(out, key=lambda c: c.role_name.lower())

    async def assume(self, call: Call, signin: SignIn, role_arn: str,
                     duration_seconds: int | None) -> dict[str, Any]:
        """AssumeRole by the signed-in user: the API's result shape."""
        as_user = Call(await self.caller(signin), call.meta)
        issued = await self._sts.issue_role_session(as_user, self._request(signin, role_arn, duration_seconds))
        return {"credentials": issued.credentials, "assumed_role_user": issued.assumed_role_user,
                "packed_policy_size": issued.packed_policy_size, "source_identity": issued.source_identity}
