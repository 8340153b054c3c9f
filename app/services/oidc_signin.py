"""AssumeRoleWithWebIdentity up to the role session: the provider the token's `iss` names, the
token verified against that provider's keys (app.federation.oidc), and what AWS reads from the
verified claims turned into a `RoleSessionRequest` (app.services.oidc_claims). StsService mints
the session from it like any other role session (StsService.federate, shared with SAML).

The order is AWS's (reference §5.1): a strict parse of the token (`peek`: a token bad on its face
costs no lookup and no key fetch), the provider registered for `iss` without its scheme (the
scheme must be the registered one: `https`, or `http` on loopback) in the role's account (none
for a role of another account than this server's), the provider's key set
(app's key discovery: cached per process and in Redis, refreshed at most once per interval on an
unknown `kid`), signature and claims, then (in StsService) the role, the trust policy with the
web identity keys, the limits and, when the provider asks for one-time use, the (`iss`, `jti`)
mark right before minting.

Choices where AWS is silent or unobservable here:
- `ProviderId` is for OAuth 2.0 access tokens of www.amazon.com and graph.facebook.com, which
  this server does not accept (AWS: "Do not specify this value for OpenID Connect ID tokens"):
  a request that sends it is refused with InvalidIdentityToken rather than guessed at;
- with one-time use on (the provider tag `tessera:jti-replay-protection=true`), a token without
  `jti` cannot be tracked and is refused; the mark lasts until the token's `exp` plus the clock
  skew, after which validation refuses the token anyway;
- credentials may outlive the token (as on AWS: `exp` limits when a token is redeemed, not the
  session).
"""
from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from app.audit.events import web_identity_user
from app.core.clock import Clock
from app.core.errors import InvalidIdentityToken
from app.core.records import OidcProviderRecord, quick_init
from app.federation.identity import FederatedIdentity
from app.federation.oidc.rejected import NO_PROVIDER, printable
from app.federation.oidc.validate import (KeySet, OidcRejected, OidcTrust, TokenHeader, peek,
                                          validate_web_identity_token)
from app.policy import Principal, PrincipalType
from app.services import oidc_claims as claims
from app.services.federation import OneTimeMarks, one_time_use
from app.services.oidc_urls import is_loopback
from app.services.role_session import RoleSessionRequest

ACTION = "sts:AssumeRoleWithWebIdentity"
SKEW_SECONDS = 300  # AWS's documented leeway after `exp`
REPLAYED = "The web identity token has already been used; request a new one from your identity provider"
PROVIDER_ID = ("ProviderId is only for OAuth 2.0 access tokens of www.amazon.com and graph.facebook.com, "
               "which this server does not accept; omit it for OpenID Connect ID tokens")


class OidcProviders(Protocol):
    """app.store.iam_cache.CachedIamReads: the provider registered for a URL without scheme."""

    async def oidc_provider(self, url_without_scheme: str) -> OidcProviderRecord | None: ...


class OidcKeys(Protocol):
    """Key discovery: the provider's current key set, refreshed (at most once per interval) when
    it lacks `kid`; IDPCommunicationError / InvalidIdentityToken when no usable key set exists."""

    async def keys_for(self, provider: OidcProviderRecord, kid: str | None) -> KeySet: ...


def _no_provider(issuer: str, reason: str) -> InvalidIdentityToken:
    return InvalidIdentityToken(NO_PROVIDER.format(issuer=printable(issuer)), reason=reason)


@functools.lru_cache(maxsize=1024)  # per issuer text: the loopback check parses an IP address
def _scheme_allowed(scheme: str, rest: str) -> bool:
    if scheme == "https":
        return True
    host = rest.split("/", 1)[0]
    host = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    return scheme == "http" and is_loopback(host)


@quick_init
@dataclass(frozen=True, slots=True)
class OidcSignIn:
    """A verified web identity token of a known provider, ready to become a role session."""

    record: OidcProviderRecord
    identity: FederatedIdentity
    account: str
    session_name: str
    redeem: Callable[[], Awaitable[None]] | None  # one-time use, when the provider asks for it

    @property
    def prefix(self) -> str:
        """The provider's URL without scheme: its ARN's resource and its condition keys' prefix."""
        return self.record.arn.split(":oidc-provider/", 1)[1]

    @property
    def audience(self) -> str:
        """`Audience` / `<provider>:aud`: the `azp` when the token has one, else the client id."""
        azp = self.identity.attributes.get("azp", ())
        return azp[0] if azp else self.identity.audience

    @property
    def user_identity(self) -> dict[str, str]:
        return web_identity_user(self.record.arn, self.audience, self.identity.subject)

    def role_session(self, *, role_arn: str, duration_seconds: int | None, policy: str | None,
                     policy_arns: Sequence[str]) -> RoleSessionRequest:
        a = self.identity.attributes
        tags, transitive = claims.session_tags(a)
        provider, prefix = self.record.arn, self.prefix
        return RoleSessionRequest(
            role_arn=role_arn, session_name=self.session_name, action=ACTION, duration_seconds=duration_seconds,
            policy=policy, policy_arns=tuple(policy_arns), tags=tags, transitive_tag_keys=transitive,
            source_identity=claims.source_identity(a),
            principal=Principal(PrincipalType.FEDERATED, provider, self.account),
            federated_provider=provider,
            federation_context=claims.session_keys(prefix, self.identity),
            extra_context=(("aws:FederatedProvider", provider), *claims.trust_keys(prefix, self.identity)),
            redeem=self.redeem)

    def response(self) -> dict[str, Any]:
        """The web identity members of the result (reference §5.4: `Provider` is the provider ARN)."""
        return {"subject_from_web_identity_token": self.identity.subject, "audience": self.audience,
                "provider": self.record.arn}


class OidcFederation:
    def __init__(self, providers: OidcProviders, keys: OidcKeys, marks: OneTimeMarks, *, account: str,
                 clock: Clock) -> None:
        self._providers = providers
        self._keys = keys
        self._marks = marks
        self._account = account
        self._clock = clock

    async def sign_in(self, token: str, session_name: str, provider_id: str | None = None, *,
                      role_account: str | None = None) -> OidcSignIn:
        """The provider of the token's issuer and the verified token (AWS's errors otherwise).
        `role_account`: the account of the role asked for; AWS looks the provider up in it, so
        for another account than this server's none is found."""
        if provider_id is not None:
            raise InvalidIdentityToken(PROVIDER_ID, reason="oidc_provider_id")
        # A compact JWS never holds whitespace, so surrounding whitespace is no part of the token:
        # token files written with `echo` end in a newline, and botocore sends the file raw.
        token = token.strip(" \t\r\n")
        try:
            header = peek(token)
            if role_account is not None and role_account != self._account:
                raise _no_provider(header.issuer, "oidc_provider_other_account")
            record = await self._provider(header.issuer)
            keys = await self._keys.keys_for(record, header.kid)
            identity = self._validate(token, record, keys, header)
        except OidcRejected as exc:
            raise exc.to_aws_error() from None
        redeem = None
        if record.replay_protection:
            if not identity.token_id:
                raise InvalidIdentityToken("the web identity token has no `jti` claim, which this provider's "
                                           "one-time use of tokens requires", reason="oidc_jti_missing")
            redeem = one_time_use(self._marks, "oidc", record.arn, identity.token_id,
                                  identity.expires_at + SKEW_SECONDS + 1, message=REPLAYED, reason="oidc_replay")
        return OidcSignIn(record, identity, self._account, session_name, redeem)

    async def _provider(self, issuer: str) -> OidcProviderRecord:
        scheme, sep, rest = issuer.partition("://")
        if not sep or not rest or not _scheme_allowed(scheme, rest):
            raise _no_provider(issuer, "oidc_provider_scheme")
        record = await self._providers.oidc_provider(rest)
        if record is None:
            raise _no_provider(issuer, "oidc_provider_unknown")
        if record.url != issuer:  # the registered scheme (https vs loopback http) must match too
            raise _no_provider(issuer, "oidc_iss_mismatch")
        return record

    def _validate(self, token: str, record: OidcProviderRecord, keys: KeySet,
                  header: TokenHeader) -> FederatedIdentity:
        return validate_web_identity_token(token, _trust(record.url, record.client_ids), keys, self._clock.time(),
                                           skew_seconds=SKEW_SECONDS, peeked=header)


@functools.lru_cache(maxsize=1024)
def _trust(url: str, client_ids: tuple[str, ...]) -> OidcTrust:
    return OidcTrust(url, client_ids)
