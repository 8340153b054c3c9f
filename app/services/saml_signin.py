"""AssumeRoleWithSAML up to the role session: the provider named by `PrincipalArn`, the
assertion verified against it (app.federation.saml), and what AWS reads from the verified
assertion turned into a `RoleSessionRequest` (app.services.saml_attributes). StsService mints
the session from it like any other role session.

The order is AWS's (reference §4.1): provider, signature and assertion checks, the Role pair,
the session attributes, then (in StsService) the role, the trust policy with the `saml:*` keys,
the limits, and last, right before minting, the one-time-use mark of the assertion ID: an
assertion is spent only by a redemption that gets credentials, and of ten identical requests
arriving at once exactly one does.

`SamlTrust` (the provider's certificates and private keys, loaded: milliseconds) is built once
per provider record and kept while the record stays the same; the record itself comes from the
per-IAM-epoch cache, so an UpdateSAMLProvider applies to the very next request.
"""
from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from app.audit.events import saml_user_identity
from app.core import arn as arns
from app.core.clock import Clock
from app.core.errors import ExpiredTokenException, InvalidIdentityToken, ValidationError
from app.core.records import SamlProviderRecord
from app.federation.identity import FederatedIdentity
from app.policy import Principal, PrincipalType
from app.services import saml_attributes as attrs
from app.services.federation import OneTimeMarks, one_time_use
from app.services.role_session import RoleSessionRequest

PROVIDER_MISSING = "Specified provider doesn't exist."
REPLAYED = "The SAML assertion has already been used; request a new one from your identity provider"
ACTION = "sts:AssumeRoleWithSAML"
MIN_SESSION = 5  # seconds: a SessionNotOnOrAfter closer than this leaves no usable session


class SamlProviders(Protocol):
    async def saml_trust(self, name: str) -> SamlProviderRecord | None: ...


class SamlVerifier(Protocol):
    """app.services.saml_verifier.SamlVerifier: validation against one provider record."""

    def validate(self, record: SamlProviderRecord, saml_b64: str, now: float) -> FederatedIdentity: ...

    def redeemable_until(self, identity: FederatedIdentity) -> float: ...


@dataclass(frozen=True, slots=True)
class SamlSignIn:
    """A verified assertion of a known provider, ready to become a role session."""

    record: SamlProviderRecord
    identity: FederatedIdentity
    account: str
    now: float
    redeem: Callable[[], Awaitable[None]]
    name_qualifier: str  # NameQualifier / saml:namequalifier (AWS's formula)
    subject_type: str  # SubjectType / saml:sub_type

    @property
    def user_identity(self) -> dict[str, str]:
        """CloudTrail's `userIdentity` of a SAMLUser."""
        return saml_user_identity(self.name_qualifier, self.identity.subject)

    def role_session(self, *, role_arn: str, duration_seconds: int | None, policy: str | None,
                     policy_arns: Sequence[str]) -> RoleSessionRequest:
        """The role session the assertion asks for (raises AWS's errors for what it lacks)."""
        a: Mapping[str, Sequence[str]] = self.identity.attributes
        provider = self.record.arn
        attrs.check_role_pair(a, role_arn, provider)
        session_name = attrs.session_name(a)
        tags, transitive = attrs.session_tags(a)
        source_identity = attrs.source_identity(a)
        limits = [t for t in (self.identity.session_not_on_or_after,) if t is not None]
        console = attrs.session_duration(a)
        if console is not None:  # for the API it can only shorten the session (reference §2.3)
            limits.append(self.now + console)
        not_after = min(limits) if limits else None
        if not_after is not None and not_after < self.now + MIN_SESSION:
            raise ExpiredTokenException("Response has expired", reason="saml_session_not_on_or_after")
        identity = self.identity
        return RoleSessionRequest(
            role_arn=role_arn, session_name=session_name, action=ACTION, duration_seconds=duration_seconds,
            policy=policy, policy_arns=tuple(policy_arns), tags=tags, transitive_tag_keys=transitive,
            source_identity=source_identity,
            principal=Principal(PrincipalType.FEDERATED, provider, self.account),
            federated_provider=provider,
            # kept on the session: available to every later request made with it (reference §4.3)
            federation_context=(("saml:namequalifier", self.name_qualifier), ("saml:sub", identity.subject),
                                ("saml:sub_type", self.subject_type)),
            not_after=not_after,
            # trust policy only
            extra_context=(("saml:aud", identity.audience), ("saml:iss", identity.issuer),
                           ("saml:doc", f"{self.account}/{self.record.name}"), ("aws:FederatedProvider", provider),
                           *attrs.attribute_keys(a)),
            redeem=self.redeem)

    def response(self) -> dict[str, Any]:
        """The SAML members of the AssumeRoleWithSAML result (reference §4.4)."""
        return {"subject": self.identity.subject, "subject_type": self.subject_type,
                "issuer": self.identity.issuer, "audience": self.identity.audience,
                "name_qualifier": self.name_qualifier}


class SamlFederation:
    def __init__(self, providers: SamlProviders, verifier: SamlVerifier, marks: OneTimeMarks, *,
                 account: str, clock: Clock) -> None:
        self._providers = providers
        self._verifier = verifier
        self._marks = marks
        self._account = account
        self._clock = clock

    async def sign_in(self, principal_arn: str, saml_assertion: str) -> SamlSignIn:
        """The provider of `principal_arn` and its verified assertion (AWS's errors otherwise)."""
        record = await self._provider(principal_arn)
        now = self._clock.time()
        if record.valid_until and now >= record.valid_until:
            raise InvalidIdentityToken(f"the metadata of SAML provider `{record.name}` is no longer valid",
                                       reason="saml_provider_expired")
        identity = self._verifier.validate(record, saml_assertion, now)
        until = max(self._verifier.redeemable_until(identity), now + 1)
        redeem = one_time_use(self._marks, "saml", record.arn, identity.token_id, until,
                              message=REPLAYED, reason="saml_replay")
        return SamlSignIn(record, identity, self._account, now, redeem,
                          attrs.name_qualifier(identity.issuer, self._account, record.name),
                          attrs.subject_type(identity.subject_type))

    async def _provider(self, principal_arn: str) -> SamlProviderRecord:
        parsed = arns.parse(principal_arn)
        if (parsed is None or parsed.service != "iam" or parsed.region
                or not parsed.resource.startswith("saml-provider/") or not parsed.resource_name):
            raise ValidationError(f"`{principal_arn}` is not a valid SAML provider ARN", reason="saml_provider_arn")
        if parsed.account != self._account:
            raise InvalidIdentityToken(PROVIDER_MISSING, reason="saml_provider_other_account")
        record = await self._providers.saml_trust(parsed.resource[len("saml-provider/"):])
        if record is None or record.arn != principal_arn:
            raise InvalidIdentityToken(PROVIDER_MISSING, reason="saml_provider_unknown")
        return record
