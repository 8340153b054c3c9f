"""Refresh grants: `tessera credential-process` renews credentials without a browser while the
browser sign-in lasts.

A grant is issued with the credentials of a handoff (`POST /sso/cli/token`) or of a device sign-in
(`POST /sso/device/token`) and is bound to that sign-in and role. Its token is
`tsr_FAMILY.SECRET` (FAMILY names the grant, SECRET is 256 random bits); Redis keeps only a keyed
hash of the current secret (app.store.cli_refresh), expiring with the sign-in.

`POST /sso/cli/refresh` (`exchange`): the presented secret must be the current one; the role is
minted again through the picker's own path (`SignInMinter`: the sign-in record read again, the
trust policy evaluated again, so a sign-out, an expired sign-in or a changed trust policy ends
renewals); then the secret is rotated (compare-and-set) and the new token handed out with the
credentials. A secret that is not the current one (a token used again after rotation, or two
uses racing) revokes the whole grant: whoever holds a copy must sign in again (OAuth's refresh
token reuse detection). Minting before rotating means a failed mint (503, a trust change) leaves
the token usable.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Protocol

from app.core import ids
from app.core.records import Call, Credentials

PREFIX = "tsr_"
_TOKEN = re.compile(r"tsr_([A-Za-z0-9_-]{22})\.([A-Za-z0-9_-]{43})")


class RefreshRefused(Exception):
    """The token does not renew; `reason` is for the audit log only."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class GrantStore(Protocol):
    """app.store.cli_refresh.RefreshGrants."""

    async def create(self, family: str, secret: str, *, signin_handle: str, role_arn: str, until: float) -> None: ...

    async def find(self, family: str) -> Any: ...

    def matches(self, grant: Any, secret: str) -> bool: ...

    async def rotate(self, grant: Any, new_secret: str) -> bool: ...

    async def revoke(self, family: str) -> None: ...


class SignInMinter(Protocol):
    async def mint(self, call: Call, signin_handle: str, role_arn: str) -> Credentials | None:
        """Credentials of `role_arn` for the sign-in of `signin_handle`, through the role
        picker's path; None when the sign-in is over (ended, expired, unknown). Raises the
        API's AwsError when the role is refused now."""


class Sessions(Protocol):
    """app.services.sso.SsoService: the picker's sign-in records and role choice."""

    async def signin(self, handle: str) -> Any: ...

    async def assume(self, call: Call, signin: Any, role_arn: str,
                     duration_seconds: int | None = None) -> dict[str, Any]: ...


class SsoMinter:
    """SignInMinter over the picker's SsoService: the same sign-in record, the same
    StsService.federate as a role chosen on the page."""

    def __init__(self, sso: Sessions) -> None:
        self._sso = sso

    async def mint(self, call: Call, signin_handle: str, role_arn: str) -> Credentials | None:
        signin = await self._sso.signin(signin_handle)
        if signin is None:
            return None
        result = await self._sso.assume(call, signin, role_arn)
        credentials = result["credentials"]
        assert isinstance(credentials, Credentials)
        return credentials


@dataclass(frozen=True, slots=True)
class Renewed:
    credentials: Credentials
    role_arn: str
    refresh_token: str


async def issue_refresh(grants: GrantStore, *, signin_handle: str, role_arn: str, until: float) -> str:
    """A new grant for `role_arn` in the sign-in of `signin_handle`, ending at `until` (the
    sign-in's end); -> its token."""
    family, secret = ids.urlsafe_token(16), ids.urlsafe_token(32)
    await grants.create(family, secret, signin_handle=signin_handle, role_arn=role_arn, until=until)
    return f"{PREFIX}{family}.{secret}"


async def exchange(grants: GrantStore, minter: SignInMinter, call: Call, token: str) -> Renewed:
    """Fresh credentials for a refresh token, and the token that replaces it (RefreshRefused:
    malformed, unknown or ended grant, a secret used again, the sign-in over). The API's
    AwsError passes through when the role itself is refused now (the grant stays)."""
    match = _TOKEN.fullmatch(token)
    if match is None:
        raise RefreshRefused("refresh_token_malformed")
    family, secret = match.group(1), match.group(2)
    grant = await grants.find(family)
    if grant is None:
        raise RefreshRefused("refresh_token_unknown")
    if not grants.matches(grant, secret):
        await grants.revoke(family)
        raise RefreshRefused("refresh_token_reused")
    credentials = await minter.mint(call, grant.signin_handle, grant.role_arn)
    if credentials is None:
        await grants.revoke(family)
        raise RefreshRefused("refresh_signin_ended")
    new_secret = ids.urlsafe_token(32)
    if not await grants.rotate(grant, new_secret):  # used concurrently: one of the two is a copy
        await grants.revoke(family)
        raise RefreshRefused("refresh_token_reused")
    return Renewed(credentials, grant.role_arn, f"{PREFIX}{family}.{new_secret}")
