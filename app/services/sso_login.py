"""Browser sign-in, the steps up to a verified identity: SAML (IdP-initiated, or answering an
AuthnRequest this service sent) and OpenID Connect (authorization code + PKCE, `state`, `nonce`).

Validation is the API's, never a second one: a SAML response goes through
`SamlFederation.sign_in` (the provider's trust, app.federation.saml's validate_saml_response) and
an ID token through `OidcFederation.sign_in` (the provider's keys via key discovery,
validate_web_identity_token). Then what only a browser flow has:

SAML
- the provider: the one an AuthnRequest named (its pending record), else the providers whose
  entity id is the response's Issuer (peek_issuer, unverified: only to choose; the response is
  then verified against the chosen provider, which its Role pairs must name when several
  providers share the entity id);
- `InResponseTo` (read from the signed SubjectConfirmationData): when present, it must be the ID
  of an AuthnRequest this service sent to that provider, taken once (GETDEL; 10 minutes): a
  second response to one request, or an unsolicited one carrying an invented ID, is refused;
- the one-time mark of the assertion ID is claimed at sign-in, the same mark AssumeRoleWithSAML
  claims: a response redeemed in a browser cannot be replayed to the API, nor the reverse.

OIDC
- the client (id, sealed secret, redirect URI: app.store.sso_state, set by `tessera sso`), the
  provider registered in IAM for its issuer URL, which must list the client id;
- the authorization and token endpoints from the issuer's discovery document (its `issuer` must
  be the provider URL; endpoints https, or http on loopback), fetched as the key discovery
  fetches (app.services.oidc_fetch: no redirects, 256 KB, the time budget, TLS and thumbprints);
- `state` names the pending login (GETDEL, 10 minutes), bound to the browser that started it
  (a digest of the flow cookie's value); PKCE S256 with a 64-character verifier; the token's
  `nonce` must equal the pending one (constant-time);
- the code exchange posts `grant_type=authorization_code`, the code, the redirect URI and the
  verifier, with the client secret as HTTP Basic (client_secret_basic);
- with the provider's one-time use of tokens on, the `jti` mark is claimed at sign-in.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import re
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

from app.core import ids
from app.core.clock import Clock
from app.core.errors import AccessDenied, AwsError, IDPCommunicationError, InvalidIdentityToken, ValidationError
from app.core.records import OidcProviderRecord, SamlProvider, SamlProviderListEntry, SamlProviderRecord
from app.federation.oidc.jsonobject import JsonRejected, parse_object
from app.federation.saml.metadata import single_sign_on_url
from app.federation.saml.validate import SamlSettings, peek_issuer
from app.services import saml_attributes as attrs
from app.services.oidc_fetch import FetchFailed, Fetched
from app.services.oidc_keys import pinned_thumbprints
from app.services.oidc_signin import OidcFederation, OidcSignIn
from app.services.oidc_urls import UrlRejected, check_jwks_uri
from app.services.saml_signin import SamlFederation, SamlSignIn
from app.services.sso import CliRequest
from app.store.sso_state import OidcClient

PENDING_SECONDS = 600  # a login must come back within 10 minutes
MAX_CANDIDATES = 20  # SAML providers sharing one entity id tried for one response
MAX_CODE = 2048
MAX_STATE = 256
_NAME_CHARS = re.compile(r"[^a-zA-Z_0-9+=,.@-]+")
UNSOLICITED = ("the SAML response answers a sign-in request this service did not make, or one already "
               "answered; start the sign-in again")


@dataclass(frozen=True, slots=True)
class Pending:
    """What a login carries through the IdP round trip: the provider (SAML provider name or OIDC
    client name), where to go afterwards (a checked relative path), the CLI's request."""

    provider: str
    next_path: str | None
    cli: CliRequest | None

    def to_json(self) -> dict[str, Any]:
        return {"p": self.provider, "n": self.next_path,
                "c": [self.cli.port, self.cli.challenge, self.cli.device] if self.cli else None}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Pending:
        c = data.get("c")
        return cls(str(data["p"]), data.get("n") if isinstance(data.get("n"), str) else None,
                   CliRequest(None if c[0] is None else int(c[0]), str(c[1]), None if len(c) < 3 or c[2] is None
                              else str(c[2])) if isinstance(c, list) and len(c) in (2, 3) else None)


@dataclass(frozen=True, slots=True)
class SamlRequest:
    """An AuthnRequest to send: its ID, the IdP's SSO URL, the provider's entity id."""

    request_id: str
    sso_url: str
    idp_entity_id: str


class PendingStore(Protocol):
    """app.store.sso_state.SsoState."""

    async def put(self, kind: str, handle: str, value: dict[str, Any], until: float) -> None: ...

    async def take(self, kind: str, handle: str) -> dict[str, Any] | None: ...

    async def get(self, kind: str, handle: str) -> dict[str, Any] | None: ...

    async def oidc_client(self, name: str) -> OidcClient | None: ...

    async def oidc_client_names(self) -> list[str]: ...


class SamlProviderReads(Protocol):
    """app.store.iam_store.IamStore: the provider list and one provider with its metadata."""

    async def list_saml_providers(self) -> list[SamlProviderListEntry]: ...

    async def get_saml_provider(self, name: str) -> SamlProvider | None: ...


class TrustReads(Protocol):
    """app.store.iam_cache.CachedIamReads."""

    async def saml_trust(self, name: str) -> SamlProviderRecord | None: ...

    async def oidc_provider(self, url_without_scheme: str) -> OidcProviderRecord | None: ...


class Fetcher(Protocol):
    """app.services.oidc_fetch.HttpFetcher."""

    async def get(self, url: str, *, thumbprints: Sequence[str] = ()) -> Fetched: ...

    async def post(self, url: str, form: Mapping[str, str], *, headers: Mapping[str, str] | None = None,
                   thumbprints: Sequence[str] = ()) -> Fetched: ...


def s256(verifier: str) -> str:
    """RFC 7636 S256: base64url (no padding) of SHA-256 of the verifier."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def session_name_from(identity_attrs: Mapping[str, Sequence[str]], subject: str) -> str:
    """A RoleSessionName (AWS's pattern) for an ID token: `preferred_username`, `email`, else `sub`,
    other characters replaced by `-`, cut to 64."""
    for claim in ("preferred_username", "email"):
        values = identity_attrs.get(claim, ())
        if values and values[0]:
            candidate = _NAME_CHARS.sub("-", values[0])[:64]
            if len(candidate) >= 2:
                return candidate
    candidate = _NAME_CHARS.sub("-", subject)[:64]
    return candidate if len(candidate) >= 2 else f"oidc-{candidate}"


def display_name(identity_attrs: Mapping[str, Sequence[str]], subject: str) -> str:
    for claim in ("email", "preferred_username", "name"):
        values = identity_attrs.get(claim, ())
        if values and values[0]:
            return values[0][:256]
    return subject[:256]


class SsoLogin:
    def __init__(self, saml: SamlFederation, oidc: OidcFederation, saml_settings: SamlSettings,
                 trust: TrustReads, providers: SamlProviderReads, pending: PendingStore, fetcher: Fetcher, *,
                 account: str, clock: Clock) -> None:
        self._saml = saml
        self._oidc = oidc
        self._settings = saml_settings
        self._trust = trust
        self._providers = providers
        self._pending = pending
        self._fetcher = fetcher
        self._account = account
        self._clock = clock

    # ---- SAML ----
    async def saml_request(self, provider: str, pending: Pending) -> SamlRequest:
        """A new AuthnRequest to provider `provider` (its SSO URL from its metadata), remembered
        for one answer."""
        found = await self._providers.get_saml_provider(provider) if len(provider) <= 128 else None
        if found is None:
            raise AccessDenied(f"there is no SAML provider named `{provider[:128]}`", reason="sso_saml_provider_unknown")
        url = single_sign_on_url(found.saml_metadata_document)
        if url is None:
            raise ValidationError(f"the metadata of SAML provider `{found.name}` names no SingleSignOnService with "
                                  "the HTTP-Redirect binding: sign in from the identity provider instead",
                                  reason="sso_saml_no_sso_url")
        request_id = "_" + ids.urlsafe_token(24).replace("-", "a").replace("_", "b")
        await self._pending.put("req:saml", request_id, replace(pending, provider=found.name).to_json(),
                                self._clock.time() + PENDING_SECONDS)
        return SamlRequest(request_id, url, found.entity_id)

    async def saml_sign_in(self, saml_b64: str) -> tuple[SamlSignIn, Pending | None]:
        """The verified response, its AuthnRequest's pending record (None: IdP-initiated), its
        one-time mark claimed."""
        issuer = peek_issuer(saml_b64, self._settings)
        candidates = await self._candidates(issuer) if issuer else []
        if not candidates:
            # validate anyway for the precise refusal when the response is bad on its face
            raise InvalidIdentityToken("the SAML response's Issuer is not the entity id of any SAML provider of "
                                       "this account", reason="sso_saml_issuer_unknown")
        chosen: SamlSignIn | None = None
        first: SamlSignIn | None = None
        failure: AwsError | None = None
        for record in candidates:
            try:
                tried = await self._saml.sign_in(record.arn, saml_b64)
            except AwsError as exc:
                failure = failure or exc
                continue
            first = first or tried
            irt = tried.identity.in_response_to
            if irt is not None:
                pending = await self._pending.get("req:saml", irt[:256])
                if pending is not None and pending.get("p") == record.name:
                    chosen = tried
                    break
            elif record.arn in {p for _, p in attrs.role_pairs(tried.identity.attributes)}:
                chosen = tried
                break
        verified = chosen or first
        if verified is None:
            assert failure is not None
            raise failure
        signin = verified
        pending_record: Pending | None = None
        irt = signin.identity.in_response_to
        if irt is not None:
            raw = await self._pending.take("req:saml", irt[:256])
            if raw is None or raw.get("p") != signin.record.name:
                raise InvalidIdentityToken(UNSOLICITED, reason="sso_saml_in_response_to_unknown")
            pending_record = Pending.from_json(raw)
        await signin.redeem()  # the mark AssumeRoleWithSAML claims too
        return signin, pending_record

    async def _candidates(self, issuer: str) -> list[SamlProviderRecord]:
        out: list[SamlProviderRecord] = []
        for entry in await self._providers.list_saml_providers():
            name = entry.arn.split(":saml-provider/", 1)[1]
            record = await self._trust.saml_trust(name)
            if record is not None and record.entity_id == issuer:
                out.append(record)
                if len(out) >= MAX_CANDIDATES:
                    break
        return out

    # ---- OIDC ----
    async def oidc_request(self, client_name: str, pending: Pending, flow: str) -> str:
        """The IdP's authorization URL for a new login of client `client_name`; `flow` is the
        browser's flow cookie value (the login is bound to it)."""
        client, record = await self._client(client_name)
        discovery = await self._discovery(record)
        endpoint = _endpoint(discovery, "authorization_endpoint")
        token_endpoint = _endpoint(discovery, "token_endpoint")
        state, nonce, verifier = ids.urlsafe_token(32), ids.urlsafe_token(32), ids.urlsafe_token(48)
        value = {**pending.to_json(), "v": verifier, "o": nonce, "t": token_endpoint,
                 "f": hashlib.sha256(flow.encode()).hexdigest()}
        await self._pending.put("req:oidc", state, value, self._clock.time() + PENDING_SECONDS)
        query = urllib.parse.urlencode({
            "response_type": "code", "client_id": client.client_id, "redirect_uri": client.redirect_uri,
            "scope": "openid email profile", "state": state, "nonce": nonce,
            "code_challenge": s256(verifier), "code_challenge_method": "S256"})
        return f"{endpoint}{'&' if '?' in endpoint else '?'}{query}"

    async def oidc_sign_in(self, state: str, code: str, flow: str | None) -> tuple[OidcSignIn, Pending]:
        """The callback: the pending login of `state` (once), the code exchanged, the ID token
        verified and its nonce checked, its one-time mark (if the provider asks) claimed."""
        if not state or len(state) > MAX_STATE:
            raise AccessDenied("the sign-in response carries no valid `state`", reason="sso_oidc_state_missing")
        raw = await self._pending.take("req:oidc", state)
        if raw is None:
            raise AccessDenied("this sign-in response does not answer a sign-in started here, or was already "
                               "used; start again", reason="sso_oidc_state_unknown")
        expected = str(raw.get("f", ""))
        got = hashlib.sha256(flow.encode()).hexdigest() if flow else ""
        if not hmac.compare_digest(expected.encode(), got.encode()):
            raise AccessDenied("this sign-in was started in another browser; start again here",
                               reason="sso_oidc_flow_mismatch")
        if not code or len(code) > MAX_CODE:
            raise AccessDenied("the sign-in response carries no valid authorization code", reason="sso_oidc_code_missing")
        pending = Pending.from_json(raw)
        client, record = await self._client(pending.provider)
        token = await self._exchange(client, record, str(raw["t"]), code, str(raw["v"]))
        signin = await self._oidc.sign_in(token, "pending")
        nonce = signin.identity.attributes.get("nonce", ())
        if len(nonce) != 1 or not hmac.compare_digest(nonce[0].encode("utf-8", "replace"), str(raw["o"]).encode()):
            raise InvalidIdentityToken("the ID token's `nonce` is not the one this sign-in sent",
                                       reason="sso_oidc_nonce_mismatch")
        if signin.record.arn != record.arn:
            raise InvalidIdentityToken("the ID token was issued by another provider", reason="sso_oidc_issuer_mismatch")
        if signin.redeem is not None:
            await signin.redeem()
        signin = replace(signin, session_name=session_name_from(signin.identity.attributes, signin.identity.subject),
                         redeem=None)
        return signin, pending

    async def abandon_oidc(self, state: str) -> None:
        """The IdP answered with an error: the pending login of `state` is dropped."""
        if state and len(state) <= MAX_STATE:
            await self._pending.take("req:oidc", state)

    async def choices(self) -> list[Choice]:
        return await sign_in_choices(self._providers, self._pending)

    async def _client(self, name: str) -> tuple[OidcClient, OidcProviderRecord]:
        client = await self._pending.oidc_client(name) if len(name) <= 64 else None
        if client is None:
            raise AccessDenied(f"there is no OpenID Connect sign-in named `{name[:64]}`",
                               reason="sso_oidc_client_unknown")
        url = client.issuer_url
        record = await self._trust.oidc_provider(url.split("://", 1)[-1])
        if record is None or record.url != url:
            raise AccessDenied(f"no OpenID Connect provider is registered for `{url}`", reason="sso_oidc_provider_unknown")
        if client.client_id not in record.client_ids:
            raise AccessDenied(f"the client id of sign-in `{name}` is not a client id of provider `{url}`",
                               reason="sso_oidc_client_not_registered")
        return client, record

    async def _discovery(self, record: OidcProviderRecord) -> dict[str, Any]:
        url = record.url.rstrip("/") + "/.well-known/openid-configuration"
        body = await self._fetch(url, record, None)
        if body.get("issuer") != record.url:
            raise InvalidIdentityToken("the identity provider's discovery document names another issuer",
                                       reason="oidc_discovery_invalid")
        return body

    async def _exchange(self, client: OidcClient, record: OidcProviderRecord, token_endpoint: str, code: str,
                        verifier: str) -> str:
        basic = base64.b64encode(f"{urllib.parse.quote(client.client_id, safe='')}:"
                                 f"{urllib.parse.quote(client.client_secret, safe='')}".encode()).decode()
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": client.redirect_uri,
                "code_verifier": verifier}
        body = await self._fetch(token_endpoint, record, (form, {"Authorization": f"Basic {basic}"}))
        token = body.get("id_token")
        if not isinstance(token, str) or not token:
            raise InvalidIdentityToken("the identity provider's token response has no `id_token`",
                                       reason="sso_oidc_no_id_token")
        return token

    async def _fetch(self, url: str, record: OidcProviderRecord,
                     post: tuple[dict[str, str], dict[str, str]] | None) -> dict[str, Any]:
        pins = pinned_thumbprints(url, record.thumbprints)
        try:
            if post is None:
                got = await self._fetcher.get(url, thumbprints=pins)
            else:
                got = await self._fetcher.post(url, post[0], headers=post[1], thumbprints=pins)
            return parse_object(got.body)
        except FetchFailed as exc:
            reason = "sso_oidc_token_refused" if post is not None and exc.reason == "oidc_idp_status" else exc.reason
            if exc.transient:
                raise IDPCommunicationError("the identity provider could not be reached; try again",
                                            reason=reason) from None
            raise InvalidIdentityToken("the identity provider answered with something unusable",
                                       reason=reason) from None
        except JsonRejected:
            raise InvalidIdentityToken("the identity provider's answer is not a JSON object",
                                       reason="sso_oidc_bad_json") from None


def _endpoint(discovery: Mapping[str, Any], member: str) -> str:
    value = discovery.get(member)
    if not isinstance(value, str):
        raise InvalidIdentityToken(f"the identity provider's discovery document has no `{member}`",
                                   reason="oidc_discovery_invalid")
    try:
        check_jwks_uri(value)
    except UrlRejected:
        raise InvalidIdentityToken(f"the identity provider's `{member}` is not an https URL",
                                   reason="oidc_discovery_invalid") from None
    return value


@dataclass(frozen=True, slots=True)
class Choice:
    """A way to sign in the landing page offers."""

    label: str
    protocol: str  # "SAML" | "OpenID Connect"
    url: str


async def sign_in_choices(providers: SamlProviderReads, pending: PendingStore) -> list[Choice]:
    """Every SAML provider of the account (SP-initiated login) and every OIDC browser client."""
    out = [Choice(name, "SAML", f"/sso/saml/{urllib.parse.quote(name, safe='')}/login")
           for name in (e.arn.split(":saml-provider/", 1)[1] for e in await providers.list_saml_providers())]
    for name in await pending.oidc_client_names():
        client = await pending.oidc_client(name)
        if client is not None:
            out.append(Choice(client.label or name, "OpenID Connect",
                              f"/sso/oidc/{urllib.parse.quote(name, safe='')}/login"))
    return out
