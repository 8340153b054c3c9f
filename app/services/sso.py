"""Browser sign-in, the use cases after the identity is verified: the sign-in record, the roles
it may choose, and the role choice itself.

A sign-in is a verified SAML assertion or ID token kept for a short while (app.store.sso_state),
so a person can pick a role (or several, one after the other) without going back to the IdP.
Nothing here validates or evaluates on its own: the identity was verified by
app.services.saml_signin / oidc_signin, and a role choice goes through `StsService.federate` with
the same `FederatedSignIn` value AssumeRoleWithSAML / AssumeRoleWithWebIdentity build, so the
trust policy, the limits and the minting are the API's. The assertion's (or token's) one-time
mark was claimed when the sign-in was made (app.services.sso_login), so a restored sign-in
redeems nothing again.

Session limits: a sign-in lasts at most `MAX_SIGNIN` (1 h), and for SAML no longer than the
assertion's SessionNotOnOrAfter or sign-in time + SessionDuration; the sessions it mints are
capped the same way (SamlSignIn.role_session with the sign-in time as `now`). A choice less than
`MIN_LEFT` seconds before the sign-in ends is refused: sign in again.
"""
from __future__ import annotations

import hmac
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Protocol

from app.core import arn as arns
from app.core import ids
from app.core.clock import Clock
from app.core.errors import AccessDenied, AwsError, ExpiredTokenException
from app.core.records import Call, OidcProviderRecord, Role, SamlProviderRecord
from app.federation.identity import FederatedIdentity
from app.services import saml_attributes as attrs
from app.services.federation import FederatedSignIn
from app.services.oidc_signin import OidcSignIn
from app.services.saml_signin import SamlSignIn

MAX_SIGNIN = 3600  # seconds a sign-in lasts at most
MIN_LEFT = 60  # seconds: a choice closer to the sign-in's end is refused
MAX_ROLES_SCANNED = 5000  # roles read to find an OIDC provider's or an IAM user's (account_roles)
SIGNIN_GONE = "Your sign-in has ended or is no longer valid; sign in again"


@dataclass(frozen=True, slots=True)
class CliRequest:
    """A login started by `tessera login`: its S256 challenge and its loopback port, or, for
    `tessera login --no-browser`, its device grant's reference (app.sso.handoff.CliBinding)."""

    port: int | None
    challenge: str
    device: str | None = None


@dataclass(frozen=True, slots=True)
class SignIn:
    """A verified identity kept for the role picker. `provider` is the SAML provider's name or
    the OIDC browser client's name; `who` the name shown to the person.

    Kind `iam`: an IAM user signed in with its password (app.services.sso_password):
    `provider_arn` is the user's ARN, `user_id` its id (a user deleted and made again under the
    same name is another user), `identity` None, `mfa` whether an MFA code was given."""

    kind: str  # "saml" | "oidc" | "iam"
    provider_arn: str
    provider: str
    identity: FederatedIdentity | None
    session_name: str
    who: str
    signed_in_at: float
    expires_at: float
    csrf: str = field(repr=False)
    cli: CliRequest | None = None
    user_id: str | None = None
    mfa: bool = False

    def to_json(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        if self.identity is not None:
            identity = {f.name: getattr(self.identity, f.name) for f in fields(FederatedIdentity)}
            identity["attributes"] = {k: list(v) for k, v in self.identity.attributes.items()}
            out["identity"] = identity
        out["cli"] = ({"port": self.cli.port, "challenge": self.cli.challenge, "device": self.cli.device}
                      if self.cli else None)
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SignIn:
        identity: FederatedIdentity | None = None
        if data.get("identity") is not None:
            ident = dict(data["identity"])
            ident["attributes"] = {str(k): tuple(str(x) for x in v) for k, v in ident.get("attributes", {}).items()}
            identity = FederatedIdentity(**ident)
        elif data["kind"] != "iam":
            raise ValueError("a federated sign-in without its identity")
        cli = data.get("cli")
        return cls(kind=str(data["kind"]), provider_arn=str(data["provider_arn"]), provider=str(data["provider"]),
                   identity=identity, session_name=str(data["session_name"]),
                   who=str(data["who"]), signed_in_at=float(data["signed_in_at"]),
                   expires_at=float(data["expires_at"]), csrf=str(data["csrf"]),
                   cli=CliRequest(int(cli["port"]) if cli.get("port") is not None else None, str(cli["challenge"]),
                                  str(cli["device"]) if cli.get("device") else None) if cli else None,
                   user_id=str(data["user_id"]) if data.get("user_id") else None, mfa=data.get("mfa") is True)

    def csrf_ok(self, token: str) -> bool:
        return hmac.compare_digest(self.csrf.encode(), token.encode("utf-8", "replace"))


@dataclass(frozen=True, slots=True)
class RoleChoice:
    """A role the picker lists: `refusal` is None when choosing it would succeed now."""

    role_arn: str
    account: str
    role_name: str
    description: str | None
    max_session_duration: int
    refusal: str | None = None
    reason: str | None = None


class Federation(Protocol):
    """app.services.sts.StsService: the API's path from a verified identity to a role session."""

    async def federate(self, call: Call, signin: FederatedSignIn, *, role_arn: str,
                       policy_arns: list[dict[str, str]] | None, policy: str | None,
                       duration_seconds: int | None) -> dict[str, Any]: ...

    async def federation_refusal(self, call: Call, signin: FederatedSignIn, role_arn: str) -> AwsError | None: ...


class Providers(Protocol):
    """app.store.iam_cache.CachedIamReads."""

    async def saml_trust(self, name: str) -> SamlProviderRecord | None: ...

    async def oidc_provider(self, url_without_scheme: str) -> OidcProviderRecord | None: ...

    async def get_role(self, name: str) -> Role | None: ...


class RolePages(Protocol):
    """app.store.iam_store.IamStore's role listing (ListRoles' pages)."""

    async def list_roles(self, path_prefix: str = "/", after: str | None = None,
                         limit: int = 100) -> tuple[list[Role], bool]: ...


class RoleLister(RolePages, Protocol):
    """app.store.iam_store.IamStore's role listing and account alias."""

    async def account_alias(self) -> str | None: ...


async def account_roles(roles: RolePages) -> AsyncIterator[Role]:
    """The account's roles in name order, read a page of 100 at a time, at most about
    MAX_ROLES_SCANNED. A page starts after the lowercased name of the previous one's last role
    (the store's index holds lowercased names, as ListRoles' marker does)."""
    after: str | None = None
    scanned = 0
    while scanned < MAX_ROLES_SCANNED:
        page, more = await roles.list_roles("/", after, 100)
        for role in page:
            yield role
        scanned += len(page)
        if not more or not page:
            return
        after = page[-1].role_name.lower()


class UserRoles(Protocol):
    """app.services.sso_user_roles.UserRoleChoices: the roles of a signed-in IAM user."""

    async def roles(self, call: Call, signin: SignIn) -> list[RoleChoice]: ...

    async def assume(self, call: Call, signin: SignIn, role_arn: str,
                     duration_seconds: int | None) -> dict[str, Any]: ...


class SignInStore(Protocol):
    """app.store.sso_state.SsoState."""

    async def put(self, kind: str, handle: str, value: dict[str, Any], until: float) -> None: ...

    async def get(self, kind: str, handle: str) -> dict[str, Any] | None: ...

    async def delete(self, kind: str, handle: str) -> None: ...


async def _already_redeemed() -> None:
    """A restored sign-in's `redeem`: its one-time mark was claimed at sign-in."""


class SsoService:
    def __init__(self, sts: Federation, providers: Providers, roles: RoleLister, store: SignInStore, *,
                 account: str, clock: Clock, users: UserRoles | None = None) -> None:
        self._sts = sts
        self._providers = providers
        self._roles = roles
        self._store = store
        self._account = account
        self._clock = clock
        self._users = users  # IAM users signed in with a password

    async def account_alias(self) -> str | None:
        """The account's alias (CreateAccountAlias), which the sign-in pages show; None when none."""
        return await self._roles.account_alias()

    # ---- the sign-in record ----
    async def create(self, signin: FederatedSignIn, *, provider: str, who: str,
                     cli: CliRequest | None) -> tuple[str, SignIn]:
        """Keep a verified sign-in: -> (the browser's handle, the record)."""
        now = self._clock.time()
        expires = now + MAX_SIGNIN
        if isinstance(signin, SamlSignIn):
            kind, provider_arn, identity, session_name = "saml", signin.record.arn, signin.identity, ""
            duration = attrs.session_duration(identity.attributes)
            expires = min([expires, *([identity.session_not_on_or_after] if identity.session_not_on_or_after else []),
                           *([signin.now + duration] if duration else [])])
            now = signin.now
        elif isinstance(signin, OidcSignIn):
            kind, provider_arn, identity, session_name = "oidc", signin.record.arn, signin.identity, signin.session_name
        else:  # pragma: no cover - the two kinds there are
            raise TypeError(type(signin).__name__)
        if expires < self._clock.time() + MIN_LEFT:
            raise ExpiredTokenException("the identity provider's session ends too soon to sign in",
                                        reason="sso_session_too_short")
        record = SignIn(kind, provider_arn, provider, identity, session_name, who, now, expires,
                        csrf=ids.urlsafe_token(32), cli=cli)
        return await self._keep(record), record

    async def create_for_user(self, *, user_arn: str, user_id: str, user_name: str, provider: str, mfa: bool,
                              cli: CliRequest | None) -> tuple[str, SignIn]:
        """Keep the sign-in of an IAM user whose password (and MFA code) was verified; its role
        sessions are named after the user, as AWS's console names switched-role sessions."""
        now = self._clock.time()
        record = SignIn("iam", user_arn, provider, None, user_name, user_name, now, now + MAX_SIGNIN,
                        csrf=ids.urlsafe_token(32), cli=cli, user_id=user_id, mfa=mfa)
        return await self._keep(record), record

    async def _keep(self, record: SignIn) -> str:
        handle = ids.urlsafe_token(32)
        await self._store.put("signin", handle, record.to_json(), record.expires_at)
        return handle

    async def signin(self, handle: str) -> SignIn | None:
        """The live sign-in of `handle`, or None (unknown, ended, expired, unreadable)."""
        data = await self._store.get("signin", handle)
        if data is None:
            return None
        try:
            record = SignIn.from_json(data)
        except (KeyError, TypeError, ValueError):
            return None
        return record if record.expires_at > self._clock.time() else None

    async def end(self, handle: str) -> None:
        await self._store.delete("signin", handle)

    # ---- roles ----
    async def roles(self, call: Call, signin: SignIn) -> list[RoleChoice]:
        """The roles this identity may ask for, each with the refusal the API would give now: for
        SAML the assertion's Role pairs of this provider (a refused one is shown as such), for
        OIDC the roles whose trust policy names the provider and admits this identity, for an IAM
        user the roles it may assume (app.services.sso_user_roles)."""
        if signin.kind == "iam":
            return await self._user_roles().roles(call, signin)
        restored = await self._restore(signin)
        if signin.kind == "saml":
            arns_ = [role for role, provider in attrs.role_pairs(_identity(signin).attributes)
                     if provider == signin.provider_arn]
        else:
            arns_ = await self._trusting_roles(signin.provider_arn)
        out: list[RoleChoice] = []
        for role_arn in dict.fromkeys(arns_):
            parsed = arns.parse_role_arn(role_arn)
            if parsed is None:
                continue
            account, _, name = parsed
            role = await self._providers.get_role(name) if account == self._account else None
            refusal = await self._sts.federation_refusal(call, restored, role_arn)
            if refusal is not None and signin.kind == "oidc":
                continue  # OIDC: only the roles whose trust policy admits this identity
            out.append(RoleChoice(role_arn, account, name, role.description if role else None,
                                  role.max_session_duration if role else 3600,
                                  refusal.message if refusal else None, refusal.reason if refusal else None))
        return sorted(out, key=lambda c: (c.account, c.refusal is not None, c.role_name.lower()))

    async def _trusting_roles(self, provider_arn: str) -> list[str]:
        """Roles of the account whose trust policy names `provider_arn` (candidates only: the
        trust evaluation decides)."""
        return [role.arn async for role in account_roles(self._roles)
                if provider_arn in role.assume_role_policy_document]

    # ---- the role choice ----
    async def assume(self, call: Call, signin: SignIn, role_arn: str,
                     duration_seconds: int | None = None) -> dict[str, Any]:
        """A role session for the signed-in identity: StsService.federate's result."""
        if signin.expires_at < self._clock.time() + MIN_LEFT:
            raise ExpiredTokenException(SIGNIN_GONE, reason="sso_signin_expired")
        if signin.kind == "iam":
            return await self._user_roles().assume(call, signin, role_arn, duration_seconds)
        restored = await self._restore(signin)
        return await self._sts.federate(call, restored, role_arn=role_arn, policy_arns=None, policy=None,
                                        duration_seconds=duration_seconds)

    async def _restore(self, signin: SignIn) -> FederatedSignIn:
        """The FederatedSignIn of the API for this sign-in, its provider read again (a provider
        deleted since refuses every choice)."""
        name = signin.provider_arn.split(":", 5)[5].split("/", 1)[1]
        if signin.kind == "saml":
            record = await self._providers.saml_trust(name)
            if record is None or record.arn != signin.provider_arn:
                raise AccessDenied(SIGNIN_GONE, reason="sso_provider_gone")
            identity = _identity(signin)
            return SamlSignIn(record, identity, self._account, signin.signed_in_at, _already_redeemed,
                              attrs.name_qualifier(identity.issuer, self._account, record.name),
                              attrs.subject_type(identity.subject_type))
        oidc = await self._providers.oidc_provider(name)
        if oidc is None or oidc.arn != signin.provider_arn:
            raise AccessDenied(SIGNIN_GONE, reason="sso_provider_gone")
        return OidcSignIn(oidc, _identity(signin), self._account, signin.session_name, None)

    def _user_roles(self) -> UserRoles:
        if self._users is None:
            raise AccessDenied(SIGNIN_GONE, reason="sso_iam_users_off")
        return self._users


def _identity(signin: SignIn) -> FederatedIdentity:
    if signin.identity is None:  # pragma: no cover - only IAM-user sign-ins have none
        raise AccessDenied(SIGNIN_GONE, reason="sso_signin_unreadable")
    return signin.identity

