"""STS: AssumeRole, AssumeRoleWithSAML, AssumeRoleWithWebIdentity, GetSessionToken,
GetFederationToken, GetCallerIdentity, GetAccessKeyInfo.

`issue_role_session` is the one path that turns a trust decision into role credentials; the
SAML/OIDC actions reach it through `federate` with the identity provider as the principal. Credentials are returned
only after `SessionStore.put` succeeded (nothing is issued that was not durably stored).

Choices where AWS is silent or unobservable here:
- the 2048-character session-policy limit counts the inline policy (IAM-style, without
  whitespace) plus the ARNs passed in `PolicyArns` (the plaintext the caller sends);
- `PackedPolicySize` and the session-tag / source-identity inheritance rules:
  `app.services.role_session`;
- any temporary caller (role session or GetSessionToken session) counts as role chaining;
- inherited transitive tags need `sts:TagSession` in the next role's trust policy, as new tags do;
- a RoleArn of another partition (`arn:aws-cn:iam::<this account>:role/...`) names no role
  served here: refused as an unknown role is (AccessDenied), never the `aws` role of that name;
- GetAccessKeyInfo answers this account for any well-formed id: AWS derives the account from the
  id without revealing whether the key exists, and this server serves one account.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple, Protocol

from app.core import arn as arns
from app.core import ids
from app.core.clock import Clock
from app.core.errors import AccessDenied, AwsError, InvalidAction, PackedPolicyTooLarge, ValidationError
from app.core.records import AssumedRoleUser, Call, Caller, Credentials, FederatedUser, Role, Session, Tag
from app.policy import PolicyKind, compile_policy
from app.policy.document import policy_size
from app.services.authz import Authorizer
from app.services.context import request_tags
from app.services.last_used import RoleUsage
from app.services.mfa import MFA_FAILED
from app.services.role_session import (
    IssuedRoleSession,
    RoleSessionRequest,
    check_session_tags,
    packed_policy_size,
    resolve_session_tags,
    resolve_source_identity,
)
from app.services.federation import FederatedSignIn
from app.services.oidc_signin import OidcFederation
from app.services.saml_signin import SamlFederation
from app.services.tokens import NONCE_BYTES, SessionTokens
from app.store.sessions import SessionStore

CHAINED_LIMIT = "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining."
OVER_MAX = "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."
ROOT_REFUSED = "Roles may not be assumed by root accounts."
SESSION_CREDS_REFUSED = "Cannot call GetSessionToken with session credentials"
FEDERATION_CREDS_REFUSED = "Cannot call GetFederationToken with session credentials"
# AWS's texts (repost.aws knowledge-center/iam-role-aws-sts-error): which part is over the limit
PACKED_POLICY = "Packed policy consumes {percent}% of allotted space, please use smaller policy."
PACKED_TAGS = "Packed size of session tags consumes {percent}% of allotted space."
# AWS's ValidationError texts for a RoleArn: not ARN-shaped (partition, service or resource
# empty, too few colons), as AWS answered in LocalStack's recorded STS tests; an ARN that names
# no role (a policy or provider ARN), as AWS answers it (e.g. prometheus-community/yet-another-
# cloudwatch-exporter#343, an AssumeRoleWithWebIdentity given a policy ARN)
ARN_INVALID = "{arn} is invalid"
REQUEST_ARN_INVALID = "Request ARN is invalid"
ROLE_ARN_PREFIX = f"arn:{arns.PARTITION}:"
SESSION_POLICY_CHARS = 2048
MAX_POLICY_ARNS = 10


class _Checked(NamedTuple):
    role: Role
    inherited: Session | None
    duration: int
    tags: tuple[Tag, ...]
    transitive: tuple[str, ...]
    source_identity: str | None
    packed: int | None


class MfaVerifier(Protocol):
    async def check(self, caller: Caller, serial_number: str, token_code: str) -> None:
        """Return when the code is good; raise AccessDenied (with the precise reason) if not."""


def _user_session_duration(caller: Caller, duration_seconds: int | None) -> int:
    """GetSessionToken and GetFederationToken: 900..129600 seconds, 12 h by default, at most
    one hour for the root."""
    duration = 43200 if duration_seconds is None else duration_seconds
    if not 900 <= duration <= 129600:
        raise ValidationError("DurationSeconds must be between 900 and 129600 seconds")
    return min(duration, 3600) if caller.is_root else duration


def _tags(raw: Sequence[dict[str, str]] | None) -> tuple[Tag, ...]:
    return tuple(Tag(t["Key"], t.get("Value", "")) for t in raw or ())


def _policy_arns(raw: Sequence[dict[str, str]] | None) -> tuple[str, ...]:
    """The ARNs of `PolicyArns`. The model leaves a descriptor's `arn` optional, so a request can
    send an element without one (`PolicyArns.member.1.other=x`): refused, as a null value is."""
    out: list[str] = []
    for n, descriptor in enumerate(raw or (), 1):
        arn = descriptor.get("arn")
        if arn is None:
            raise ValidationError(f"1 validation error detected: Value null at 'policyArns.{n}.member.arn' "
                                  "failed to satisfy constraint: Member must not be null", reason="policy_arn_null")
        out.append(arn)
    return tuple(out)


def _invalid_role_arn(text: str) -> ValidationError:
    parsed = arns.parse(text)
    if parsed is None or not parsed.resource:
        return ValidationError(ARN_INVALID.format(arn=text), reason="role_arn_malformed")
    return ValidationError(REQUEST_ARN_INVALID, reason="role_arn_invalid")


class StsService:
    def __init__(self, iam_store: Any, session_store: SessionStore, tokens: SessionTokens,
                 authz: Authorizer, *, account: str, clock: Clock, rng: ids.Random | None = None,
                 mfa: MfaVerifier | None = None, saml: SamlFederation | None = None,
                 oidc: OidcFederation | None = None, usage: RoleUsage | None = None) -> None:
        self._iam = iam_store
        self._sessions = session_store
        self._tokens = tokens
        self._authz = authz
        self._account = account
        self._clock = clock
        self._rng = rng
        self._mfa = mfa
        self._saml = saml
        self._oidc = oidc
        self._usage = usage  # RoleLastUsed, noted for every role session issued

    # ---- actions ----
    async def assume_role(self, call: Call, *, role_arn: str, role_session_name: str,
                          policy_arns: list[dict[str, str]] | None = None, policy: str | None = None,
                          duration_seconds: int | None = None, tags: list[dict[str, str]] | None = None,
                          transitive_tag_keys: list[str] | None = None, external_id: str | None = None,
                          serial_number: str | None = None, token_code: str | None = None,
                          source_identity: str | None = None) -> dict[str, Any]:
        caller = self._caller(call)
        if caller.is_root:
            raise AccessDenied(ROOT_REFUSED, reason="root_assume_role")
        if caller.kind == "federated-user":
            raise AccessDenied(f"User: {caller.arn} is not authorized to perform: sts:AssumeRole on resource: "
                               f"{role_arn}", reason="federated_user_assume_role")
        mfa = await self._verify_mfa(caller, serial_number, token_code)
        issued = await self.issue_role_session(call, RoleSessionRequest(
            role_arn=role_arn, session_name=role_session_name, duration_seconds=duration_seconds,
            policy=policy, policy_arns=_policy_arns(policy_arns), tags=_tags(tags),
            transitive_tag_keys=tuple(transitive_tag_keys or ()), source_identity=source_identity,
            external_id=external_id, mfa_authenticated=mfa))
        return {"credentials": issued.credentials, "assumed_role_user": issued.assumed_role_user,
                "packed_policy_size": issued.packed_policy_size, "source_identity": issued.source_identity}

    async def assume_role_with_saml(self, call: Call, *, role_arn: str, principal_arn: str, saml_assertion: str,
                                    policy_arns: list[dict[str, str]] | None = None, policy: str | None = None,
                                    duration_seconds: int | None = None) -> dict[str, Any]:
        """Unsigned: the verified SAML assertion (app.services.saml_signin) is the caller."""
        if self._saml is None:
            raise InvalidAction("the operation `AssumeRoleWithSAML` is not configured on this server")
        signin = await self._saml.sign_in(principal_arn, saml_assertion)
        return await self.federate(call, signin, role_arn=role_arn, policy_arns=policy_arns, policy=policy,
                                   duration_seconds=duration_seconds)

    async def assume_role_with_web_identity(self, call: Call, *, role_arn: str, role_session_name: str,
                                            web_identity_token: str, provider_id: str | None = None,
                                            policy_arns: list[dict[str, str]] | None = None,
                                            policy: str | None = None,
                                            duration_seconds: int | None = None) -> dict[str, Any]:
        """Unsigned: the verified web identity token (app.services.oidc_signin) is the caller."""
        if self._oidc is None:
            raise InvalidAction("the operation `AssumeRoleWithWebIdentity` is not configured on this server")
        parsed = arns.parse_role_arn(role_arn)
        if parsed is None:  # AWS finds the provider in the role's account: the ARN comes first
            raise _invalid_role_arn(role_arn)
        signin = await self._oidc.sign_in(web_identity_token, role_session_name, provider_id, role_account=parsed[0])
        return await self.federate(call, signin, role_arn=role_arn, policy_arns=policy_arns, policy=policy,
                                   duration_seconds=duration_seconds)

    async def federate(self, call: Call, signin: FederatedSignIn, *, role_arn: str,
                       policy_arns: list[dict[str, str]] | None, policy: str | None,
                       duration_seconds: int | None) -> dict[str, Any]:
        """AssumeRoleWith*: a verified federated identity becomes a role session."""
        try:
            issued = await self.issue_role_session(call, signin.role_session(
                role_arn=role_arn, duration_seconds=duration_seconds, policy=policy,
                policy_arns=_policy_arns(policy_arns)))
        except AwsError as exc:
            exc.user_identity = signin.user_identity  # the audit event names the federated user
            raise
        return {"credentials": issued.credentials, "assumed_role_user": issued.assumed_role_user,
                "packed_policy_size": issued.packed_policy_size, "source_identity": issued.source_identity,
                **signin.response()}

    async def get_session_token(self, call: Call, *, duration_seconds: int | None = None,
                                serial_number: str | None = None, token_code: str | None = None) -> dict[str, Any]:
        caller = self._caller(call)
        if caller.temporary:
            raise AccessDenied(SESSION_CREDS_REFUSED, reason="session_credentials")
        duration = _user_session_duration(caller, duration_seconds)
        mfa = await self._verify_mfa(caller, serial_number, token_code)
        now = float(int(self._clock.time()))
        principal_id = caller.account if caller.is_root else caller.user_id
        credentials, _ = await self._mint(lambda akid, secret: Session(
            akid, secret, kind="root-session" if caller.is_root else "user-session", account=caller.account,
            arn=caller.arn, user_id=caller.user_id, principal_arn=caller.principal_arn,
            principal_id=principal_id, principal_name=caller.name or "", issued_at=now, expires_at=now + duration,
            mfa_authenticated=mfa, mfa_authenticated_at=now if mfa else None))
        return {"credentials": credentials}

    async def get_federation_token(self, call: Call, *, name: str, policy: str | None = None,
                                   policy_arns: list[dict[str, str]] | None = None,
                                   duration_seconds: int | None = None,
                                   tags: list[dict[str, str]] | None = None) -> dict[str, Any]:
        """A federated-user session of the calling IAM user (or root): its permissions are the
        caller's policies intersected with the session policies, none without one (AWS)."""
        caller = self._caller(call)
        if caller.temporary:
            raise AccessDenied(FEDERATION_CREDS_REFUSED, reason="session_credentials")
        federated_arn = arns.federated_user(self._account, name)
        session_tags = _tags(tags)
        check_session_tags(session_tags)
        await self._authz.require(call, "sts:GetFederationToken", federated_arn, context=request_tags(session_tags))
        if session_tags:
            await self._authz.require(call, "sts:TagSession", federated_arn, context=request_tags(session_tags))
        duration = _user_session_duration(caller, duration_seconds)
        session_arns = _policy_arns(policy_arns)
        await self._check_session_policies(policy, session_arns)
        packed = self._packed(policy, session_arns, session_tags, ())
        now = float(int(self._clock.time()))
        credentials, session = await self._mint(lambda akid, secret: Session(
            akid, secret, kind="federated-user", account=self._account, arn=federated_arn,
            user_id=f"{self._account}:{name}", principal_arn=caller.principal_arn,
            principal_id=caller.account if caller.is_root else caller.user_id, principal_name=caller.name or "",
            issued_at=now, expires_at=now + duration, session_name=name, session_policy=policy,
            session_policy_arns=session_arns, tags=session_tags))
        return {"credentials": credentials, "federated_user": FederatedUser(session.user_id, session.arn),
                "packed_policy_size": packed}

    async def get_caller_identity(self, call: Call) -> dict[str, Any]:
        caller = self._caller(call)  # never denied by policy, as on AWS
        self._authz.note(call, "sts:GetCallerIdentity")  # access advisor counts it all the same
        return {"user_id": caller.user_id, "account": caller.account, "arn": caller.arn}

    async def get_access_key_info(self, call: Call, *, access_key_id: str) -> dict[str, Any]:
        await self._authz.require(call, "sts:GetAccessKeyInfo", "*")
        return {"account": self._account}

    # ---- the shared role-session path ----
    async def federation_refusal(self, call: Call, signin: FederatedSignIn, role_arn: str) -> AwsError | None:
        """Would `federate` give `signin` role `role_arn` (default duration, no session policy)?
        None when it would, else its refusal. The same checks, nothing minted or redeemed (the
        browser role picker lists the roles a verified identity may choose with it)."""
        try:
            req = signin.role_session(role_arn=role_arn, duration_seconds=None, policy=None, policy_arns=())
        except AwsError as exc:
            return exc
        return await self.role_session_refusal(call, req)

    async def role_session_refusal(self, call: Call, req: RoleSessionRequest) -> AwsError | None:
        """`issue_role_session`'s refusal of `req` now, or None when it would succeed: the same
        checks, nothing minted (also how the picker lists the roles an IAM user signed in with
        a password may assume: app.services.sso_password). A dry run: its allowed decisions are
        not noted for access advisor, as the caller attempted nothing."""
        try:
            await self._checked(call, req, dry_run=True)
        except AwsError as exc:
            return exc
        return None

    async def _checked(self, call: Call, req: RoleSessionRequest, *, dry_run: bool = False) -> _Checked:
        """Every check of a role session before it is minted: the role, limits, session policies
        and tags, the trust policy."""
        caller = call.caller if req.principal is None else None
        role = await self._role(caller, req)
        inherited = caller.session if caller is not None else None
        chained = inherited is not None
        duration = 3600 if req.duration_seconds is None else req.duration_seconds
        if not 900 <= duration <= 43200:
            raise ValidationError("DurationSeconds must be between 900 and 43200 seconds")
        if chained and duration > 3600:
            raise ValidationError(CHAINED_LIMIT, reason="chained_duration")
        if duration > role.max_session_duration:
            raise ValidationError(OVER_MAX, reason="duration_over_max")
        await self._check_session_policies(req.policy, req.policy_arns)
        tags, transitive = resolve_session_tags(req, inherited)
        source_identity = resolve_source_identity(req.source_identity, inherited)
        await self._check_trust(call, req, role, tags, transitive, source_identity, note=not dry_run)
        packed = self._packed(req.policy, req.policy_arns, tags, transitive)
        return _Checked(role, inherited, duration, tags, transitive, source_identity, packed)

    async def issue_role_session(self, call: Call, req: RoleSessionRequest) -> IssuedRoleSession:
        """Trust evaluation, limits and minting for AssumeRole and AssumeRoleWith*."""
        role, inherited, duration, tags, transitive, source_identity, packed = await self._checked(call, req)
        chained = inherited is not None
        now = float(int(self._clock.time()))
        expires = now + duration if req.not_after is None else min(now + duration, float(int(req.not_after)))
        mfa = req.mfa_authenticated or (inherited is not None and inherited.mfa_authenticated)
        mfa_at = (req.mfa_authenticated_at or now) if req.mfa_authenticated else \
            (inherited.mfa_authenticated_at if inherited else None)
        if req.redeem is not None:
            await req.redeem()
        used = self._usage.note(role, call.meta.region) if self._usage is not None else None
        try:  # the last-used write, if due, leaves with the session's
            credentials, session = await self._mint(lambda akid, secret: Session(
                akid, secret, kind="assumed-role", account=self._account,
                arn=arns.assumed_role(self._account, role.role_name, req.session_name),
                user_id=f"{role.role_id}:{req.session_name}", principal_arn=role.arn, principal_id=role.role_id,
                principal_name=role.role_name, issued_at=now, expires_at=expires, session_name=req.session_name,
                session_policy=req.policy, session_policy_arns=req.policy_arns, tags=tags,
                transitive_tag_keys=transitive, source_identity=source_identity, mfa_authenticated=mfa,
                mfa_authenticated_at=mfa_at if mfa else None, chained=chained,
                federated_provider=req.federated_provider, federation_context=req.federation_context))
        finally:
            if used is not None:
                await used
        return IssuedRoleSession(credentials, AssumedRoleUser(session.user_id, session.arn), packed,
                                 source_identity, session)

    # ---- steps ----
    def _caller(self, call: Call) -> Caller:
        if call.caller is None:
            raise AccessDenied("this action requires a signed request", reason="anonymous")
        return call.caller

    def _not_authorized(self, caller: Caller | None, action: str, role_arn: str, reason: str) -> AccessDenied:
        if caller is None:
            return AccessDenied(f"Not authorized to perform {action}", reason=reason)
        return AccessDenied(f"User: {caller.arn} is not authorized to perform: {action} on resource: {role_arn}",
                            reason=reason)

    async def _role(self, caller: Caller | None, req: RoleSessionRequest) -> Role:
        parsed = arns.parse_role_arn(req.role_arn)
        if parsed is None:
            raise _invalid_role_arn(req.role_arn)
        account, path, name = parsed
        served = account == self._account and req.role_arn.startswith(ROLE_ARN_PREFIX)  # not aws-cn's namesake
        role: Role | None = await self._iam.get_role(name) if served else None
        if role is None or role.path != path:  # AWS does not reveal whether the role exists
            raise self._not_authorized(caller, req.action, req.role_arn, "role_unknown")
        return role

    async def _check_session_policies(self, policy: str | None, policy_arns: Sequence[str]) -> None:
        if len(policy_arns) > MAX_POLICY_ARNS:
            raise ValidationError("1 validation error detected: Value at 'policyArns' failed to satisfy "
                                  f"constraint: Member must have length less than or equal to {MAX_POLICY_ARNS}")
        size = (policy_size(policy) if policy is not None else 0) + sum(len(a) for a in policy_arns)
        if size > SESSION_POLICY_CHARS:
            raise ValidationError(f"the session policies use {size} characters; inline and managed session "
                                  f"policies together may not exceed {SESSION_POLICY_CHARS}",
                                  reason="session_policy_too_large")
        if policy is not None:
            compile_policy(policy, PolicyKind.SESSION, "session/inline")  # MalformedPolicyDocument
        for policy_arn in policy_arns:
            if await self._iam.managed_policy_document(policy_arn) is None:
                raise ValidationError(f"the session policy `{policy_arn}` does not exist",
                                      reason="session_policy_unknown")

    async def _check_trust(self, call: Call, req: RoleSessionRequest, role: Role, tags: tuple[Tag, ...],
                           transitive: tuple[str, ...], source_identity: str | None, *, note: bool = True) -> None:
        ctx: dict[str, str | list[str]] = {"sts:RoleSessionName": req.session_name}
        if req.external_id is not None:
            ctx["sts:ExternalId"] = req.external_id
        if source_identity is not None:
            ctx["sts:SourceIdentity"] = source_identity
        if transitive:
            ctx["sts:TransitiveTagKeys"] = list(transitive)
        if tags:
            ctx.update({f"aws:RequestTag/{t.key}": t.value for t in tags})
            ctx["aws:TagKeys"] = [t.key for t in tags]
        if req.mfa_authenticated:
            ctx["aws:MultiFactorAuthPresent"] = "true"
            since = req.mfa_authenticated_at
            ctx["aws:MultiFactorAuthAge"] = str(max(0, int(self._clock.time() - since))) if since else "0"
        for key, value in (*req.federation_context, *req.extra_context):
            present = ctx.get(key)
            ctx[key] = value if present is None else [*([present] if isinstance(present, str) else present), value]
        actions = [req.action]
        if tags:
            actions.append("sts:TagSession")
        if source_identity is not None:
            actions.append("sts:SetSourceIdentity")
        caller = call.caller if req.principal is None else None
        for action in actions:
            decision = await self._authz.decide(call, action, role.arn, context=ctx, resource_tags=role.tags,
                                                resource_policy=role.assume_role_policy_document,
                                                resource_requires_grant=True, principal=req.principal, note=note)
            if not decision.allowed:
                raise self._not_authorized(caller, action, req.role_arn, f"trust_denied:{action}")

    @staticmethod
    def _packed(policy: str | None, policy_arns: Sequence[str], tags: Sequence[Tag],
                transitive: Sequence[str]) -> int | None:
        """PackedPolicySize (None without session policies or tags); over 100% is refused."""
        if policy is None and not policy_arns and not tags:
            return None
        packed = packed_policy_size(policy, policy_arns, tags, transitive)
        if packed > 100:
            tags_alone = packed_policy_size(None, (), tags, transitive) if tags else 0
            if tags_alone > 100:
                raise PackedPolicyTooLarge(PACKED_TAGS.format(percent=tags_alone), reason="packed_tags_too_large")
            raise PackedPolicyTooLarge(PACKED_POLICY.format(percent=packed), reason="packed_policy_too_large")
        return packed

    async def _verify_mfa(self, caller: Caller, serial_number: str | None, token_code: str | None) -> bool:
        if serial_number is None and token_code is None:
            return False
        if serial_number is None or token_code is None or self._mfa is None:
            raise AccessDenied(MFA_FAILED, reason="mfa_incomplete")
        await self._mfa.check(caller, serial_number, token_code)
        return True

    async def _mint(self, session_of: Callable[[str, str], Session]) -> tuple[Credentials, Session]:
        """The session `session_of(access_key_id, secret_access_key)` builds, with fresh key
        material (access key id, secret and the token's nonce from one draw of random bytes):
        stored (raises if Redis fails), then handed out. (A builder rather than the fields as
        keyword arguments: gathering 21 of them into `**fields` and spreading them again cost
        ~1.3 µs a session.)"""
        akid, secret, nonce = ids.access_key_pair(ids.TEMPORARY_KEY, self._rng, extra=NONCE_BYTES)
        session = session_of(akid, secret)
        token = self._tokens.issue(akid, session.expires_at, nonce)
        await self._sessions.put(session, self._tokens.digest(token))
        return Credentials(akid, session.secret_access_key, token, session.expires_at), session

