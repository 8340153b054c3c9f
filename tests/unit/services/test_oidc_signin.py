"""StsService.assume_role_with_web_identity below the wire: real IamStore, SessionStore, OIDC
validation layer and policy engine on Redis db 2, a fixed clock, demo issuer tokens, and key
discovery replaced by the issuer's own key set (app.services.oidc_keys has its own tests)."""
from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import redis.asyncio as aioredis

from app.core.clock import FixedClock
from app.core.errors import (AccessDenied, ExpiredTokenException, IDPCommunicationError, InvalidIdentityToken,
                             InvalidParameterValue, ValidationError)
from app.core.records import Call, OidcProviderRecord, RequestMeta, Tag
from app.federation.oidc.validate import KeySet
from app.services.authz import Authorizer
from app.services.oidc_signin import PROVIDER_ID, REPLAYED, OidcFederation
from app.services.sts import OVER_MAX, StsService
from app.services.tokens import SessionTokens
from app.store.iam_cache import CachedIamReads
from app.store.iam_oidc import REPLAY_PROTECTION_TAG
from app.store.iam_store import IamStore
from app.store.keys import Keys
from app.store.replay_marks import ReplayMarks
from app.store.secretbox import SecretBox
from app.store.sessions import SessionStore
from idp_fixtures.oidc.issuer import OMIT, DemoIssuer
from tests.redis_target import redis_url

URL = redis_url(2)
ACCT = "123456789012"
BOX = SecretBox(b"w" * 32)
ISSUER = "https://idp.example.test/realms/acme"
PREFIX = "idp.example.test/realms/acme"
PROVIDER = f"arn:aws:iam::{ACCT}:oidc-provider/{PREFIX}"
GITHUB = "https://token.actions.githubusercontent.com"
GITHUB_ARN = f"arn:aws:iam::{ACCT}:oidc-provider/token.actions.githubusercontent.com"
ROLE = f"arn:aws:iam::{ACCT}:role/Web"
ALL = ["sts:AssumeRoleWithWebIdentity", "sts:TagSession", "sts:SetSourceIdentity"]


class IssuerKeys:
    """Key discovery as the service sees it: each issuer's key set, calls counted."""

    def __init__(self, *issuers: DemoIssuer) -> None:
        self.issuers = {i.url: i for i in issuers}
        self.calls: list[tuple[str, str | None]] = []
        self.fail: Exception | None = None

    async def keys_for(self, provider: OidcProviderRecord, kid: str | None) -> KeySet:
        self.calls.append((provider.url, kid))
        if self.fail is not None:
            raise self.fail
        return KeySet.from_jwks(self.issuers[provider.url].jwks())


def trust(provider: str = PROVIDER, actions: Any = "sts:AssumeRoleWithWebIdentity", **condition: Any) -> str:
    stmt: dict[str, Any] = {"Effect": "Allow", "Principal": {"Federated": provider}, "Action": actions}
    if condition:
        stmt["Condition"] = condition
    return json.dumps({"Version": "2012-10-17", "Statement": [stmt]})


@dataclass
class World:
    iam: IamStore
    sts: StsService
    sessions: SessionStore
    clock: FixedClock
    redis: aioredis.Redis
    idp: DemoIssuer
    github: DemoIssuer
    keys: IssuerKeys

    def token(self, **kw: Any) -> str:
        kw.setdefault("aud", "sts.amazonaws.com")
        return self.idp.token(now=self.clock.time(), **kw)

    async def assume(self, token: str | None = None, **kw: Any) -> dict[str, Any]:
        call = Call(None, RequestMeta("r", self.clock.time()))
        return await self.sts.assume_role_with_web_identity(
            call, role_arn=kw.pop("role_arn", ROLE), role_session_name=kw.pop("session_name", "ci"),
            web_identity_token=token or self.token(), **kw)

    async def role(self, name: str, trust_doc: str) -> str:
        await self.iam.create_role(name, trust_policy=trust_doc, max_session_duration=7200)
        return f"arn:aws:iam::{ACCT}:role/{name}"

    async def session(self, out: dict[str, Any]) -> Any:
        found = await self.sessions.get(out["credentials"].access_key_id)
        assert found is not None
        return found[0]


@pytest_asyncio.fixture(loop_scope="function")
async def w(redis: aioredis.Redis) -> World:
    clock = FixedClock(float(int(time.time())))  # now: replay marks expire in real (Redis) time
    iam = IamStore(redis, account=ACCT, box=BOX, clock=clock)
    await iam.create_oidc_provider(ISSUER, client_ids=["sts.amazonaws.com", "web-app"])
    await iam.create_oidc_provider(GITHUB, client_ids=["sts.amazonaws.com"])
    idp, github = DemoIssuer(ISSUER), DemoIssuer(GITHUB)
    keys = IssuerKeys(idp, github)
    reads = CachedIamReads(iam, redis, Keys(ACCT))
    sessions = SessionStore(redis, box=BOX, clock=clock)
    oidc = OidcFederation(reads, keys, ReplayMarks(redis), account=ACCT, clock=clock)
    sts = StsService(reads, sessions, SessionTokens(BOX), Authorizer(reads, account=ACCT, clock=clock),
                     account=ACCT, clock=clock, oidc=oidc)
    await iam.create_role("Web", trust_policy=trust(), max_session_duration=7200)
    return World(iam, sts, sessions, clock, redis, idp, github, keys)


async def test_the_response_and_the_session_keys(w: World) -> None:
    out = await w.assume(w.token(sub="alice", claims={"amr": ["pwd", "mfa"]}))
    assert out["subject_from_web_identity_token"] == "alice"
    assert out["audience"] == "sts.amazonaws.com" and out["provider"] == PROVIDER
    assert out["assumed_role_user"].arn == f"arn:aws:sts::{ACCT}:assumed-role/Web/ci"
    assert out["credentials"].expiration == w.clock.time() + 3600
    assert out["packed_policy_size"] is None and out["source_identity"] is None
    session = await w.session(out)
    assert session.federated_provider == PROVIDER
    assert sorted(session.federation_context) == sorted([
        (f"{PREFIX}:aud", "sts.amazonaws.com"), (f"{PREFIX}:sub", "alice"),
        (f"{PREFIX}:amr", "pwd"), (f"{PREFIX}:amr", "mfa")])
    assert w.keys.calls == [(ISSUER, "demo-rsa-a")]


@pytest.mark.parametrize("alg", ["RS256", "RS512", "PS256", "PS384", "ES256", "ES384", "ES512"])
async def test_every_signing_algorithm(w: World, alg: str) -> None:
    assert (await w.assume(w.token(alg=alg)))["subject_from_web_identity_token"] == "demo-user"


@pytest.mark.parametrize("around", ["\n", "\r\n", " ", "\t\n"])
async def test_whitespace_around_the_token_is_no_part_of_it(w: World, around: str) -> None:
    # a token file written with `echo` ends in a newline; botocore sends the file's text raw
    assert (await w.assume(w.token() + around))["subject_from_web_identity_token"] == "demo-user"
    with pytest.raises(InvalidIdentityToken):  # whitespace inside the token is still refused
        token = w.token()
        await w.assume(token[:20] + around + token[20:])


async def test_azp_is_the_audience_and_aud_the_original(w: World) -> None:
    role = await w.role("Azp", trust(**{"StringEquals": {f"{PREFIX}:aud": "web-app",
                                                        f"{PREFIX}:oaud": "https://api.example.test"}}))
    out = await w.assume(w.token(aud="https://api.example.test", claims={"azp": "web-app"}), role_arn=role)
    assert out["audience"] == "web-app"
    session = await w.session(out)
    assert (f"{PREFIX}:azp", "web-app") in session.federation_context
    assert (f"{PREFIX}:oaud", "https://api.example.test") in session.federation_context


async def test_aud_as_a_list_and_case_insensitive_key_names(w: World) -> None:
    role = await w.role("List", trust(**{"StringEquals": {f"IDP.EXAMPLE.TEST/realms/acme:AUD": "web-app"}}))
    out = await w.assume(w.token(aud=["https://other.test", "web-app"]), role_arn=role)
    assert out["audience"] == "web-app"
    with pytest.raises(AccessDenied):  # the matched client id is the audience: sts.amazonaws.com here
        await w.assume(w.token(aud=["sts.amazonaws.com", "web-app"]), role_arn=role)


async def test_string_like_on_sub_and_the_key_of_a_provider_with_a_path(w: World) -> None:
    role = await w.role("Repo", trust(**{"StringLike": {f"{PREFIX}:sub": "repo:acme/*"}}))
    assert await w.assume(w.token(sub="repo:acme/app:ref:refs/heads/main"), role_arn=role)
    with pytest.raises(AccessDenied) as exc:
        await w.assume(w.token(sub="repo:evil/app:ref:refs/heads/main"), role_arn=role)
    assert exc.value.message == "Not authorized to perform sts:AssumeRoleWithWebIdentity"
    assert exc.value.status == 403


async def test_github_claims_are_trust_policy_keys_only(w: World) -> None:
    gh = "token.actions.githubusercontent.com"
    role = await w.role("Gh", trust(GITHUB_ARN, **{
        "StringEquals": {f"{gh}:aud": "sts.amazonaws.com", f"{gh}:repository": "acme/app",
                         f"{gh}:job_workflow_ref": "acme/ci/.github/workflows/deploy.yml@refs/heads/main",
                         f"{gh}:environment": "prod"},
        "StringLike": {f"{gh}:sub": "repo:acme/app:*"}}))
    claims = {"repository": "acme/app", "environment": "prod", "actor": "octocat",
              "job_workflow_ref": "acme/ci/.github/workflows/deploy.yml@refs/heads/main"}
    token = w.github.token(sub="repo:acme/app:environment:prod", aud="sts.amazonaws.com", claims=claims,
                           now=w.clock.time())
    out = await w.assume(token, role_arn=role)
    assert out["provider"] == GITHUB_ARN
    session = await w.session(out)
    assert {k for k, _ in session.federation_context} == {f"{gh}:aud", f"{gh}:sub"}
    wrong = w.github.token(sub="repo:acme/app:environment:prod", aud="sts.amazonaws.com",
                           claims={**claims, "environment": "staging"}, now=w.clock.time())
    with pytest.raises(AccessDenied):
        await w.assume(wrong, role_arn=role)


async def test_federated_provider_key_and_another_provider(w: World) -> None:
    role = await w.role("Fp", trust(**{"StringEquals": {"aws:FederatedProvider": PROVIDER}}))
    assert await w.assume(role_arn=role)
    github_only = await w.role("GhOnly", trust(GITHUB_ARN))
    with pytest.raises(AccessDenied):
        await w.assume(role_arn=github_only)


async def test_session_tags_from_the_tags_claim(w: World) -> None:
    tags = {"https://aws.amazon.com/tags": {"principal_tags": {"team": ["blue"], "env": ["prod"]},
                                            "transitive_tag_keys": ["team"]}}
    with pytest.raises(AccessDenied) as exc:  # sts:TagSession is needed
        await w.assume(w.token(claims=tags))
    assert exc.value.reason == "trust_denied:sts:TagSession"
    role = await w.role("Tags", trust(actions=ALL, **{"StringEquals": {"aws:RequestTag/team": "blue"}}))
    out = await w.assume(w.token(claims=tags), role_arn=role)
    assert 0 < out["packed_policy_size"] <= 100
    session = await w.session(out)
    assert set(session.tags) == {Tag("team", "blue"), Tag("env", "prod")}
    assert session.transitive_tag_keys == ("team",)


@pytest.mark.parametrize("claim", [
    "not an object", {"principal_tags": ["team"]}, {"principal_tags": {"team": ["a", "b"]}},
    {"principal_tags": {"team": []}}, {"principal_tags": {"team": [1]}}, {"principal_tags": {"bad key!": ["x"]}},
    {"principal_tags": {"team": ["x"]}, "transitive_tag_keys": "team"},
    {"principal_tags": {f"k{i}": ["v"] for i in range(51)}}])
async def test_bad_tags_claims(w: World, claim: Any) -> None:
    role = await w.role("T2", trust(actions=ALL))
    with pytest.raises(InvalidIdentityToken) as exc:
        await w.assume(w.token(claims={"https://aws.amazon.com/tags": claim}), role_arn=role)
    assert exc.value.reason.startswith("oidc_t")


async def test_transitive_key_must_be_a_tag_and_aws_keys_are_refused(w: World) -> None:
    role = await w.role("T3", trust(actions=ALL))
    for claim, error in (({"principal_tags": {"a": ["x"]}, "transitive_tag_keys": ["b"]}, InvalidParameterValue),
                         ({"principal_tags": {"aws:team": ["x"]}}, ValidationError)):
        with pytest.raises(error):  # AssumeRole's rules and codes (app.services.role_session)
            await w.assume(w.token(claims={"https://aws.amazon.com/tags": claim}), role_arn=role)


async def test_source_identity_from_its_claim(w: World) -> None:
    claim = {"https://aws.amazon.com/source_identity": "alice-si"}
    with pytest.raises(AccessDenied) as exc:
        await w.assume(w.token(claims=claim))
    assert exc.value.reason == "trust_denied:sts:SetSourceIdentity"
    role = await w.role("Si", trust(actions=ALL))
    out = await w.assume(w.token(claims=claim), role_arn=role)
    assert out["source_identity"] == "alice-si" and (await w.session(out)).source_identity == "alice-si"
    for bad in ("aws:alice", "x", "with space", ["a1", "b2"]):
        with pytest.raises(InvalidIdentityToken) as exc2:
            await w.assume(w.token(claims={"https://aws.amazon.com/source_identity": bad}), role_arn=role)
        assert exc2.value.reason == "oidc_source_identity_invalid"


async def test_durations(w: World) -> None:
    out = await w.assume(duration_seconds=7200)
    assert out["credentials"].expiration == w.clock.time() + 7200  # may outlive the token, as on AWS
    with pytest.raises(ValidationError) as exc:
        await w.assume(duration_seconds=7201)
    assert exc.value.message == OVER_MAX


async def test_unknown_issuers(w: World) -> None:
    for iss, reason in (("https://elsewhere.test", "oidc_provider_unknown"),
                        ("http://idp.example.test/realms/acme", "oidc_provider_scheme"),
                        ("https://idp.example.test/realms/acme/", "oidc_provider_unknown"),
                        ("idp.example.test/realms/acme", "oidc_provider_scheme")):
        with pytest.raises(InvalidIdentityToken) as exc:
            await w.assume(w.token(claims={"iss": iss}))
        assert exc.value.message == f"No OpenIDConnect provider found in your account for {iss}"
        assert exc.value.reason == reason
    assert w.keys.calls == []  # no provider: no key fetch


async def test_loopback_http_issuer_must_match_its_registered_scheme(w: World) -> None:
    await w.iam.create_oidc_provider("http://127.0.0.1:9400/x", client_ids=["sts.amazonaws.com"])
    local = DemoIssuer("http://127.0.0.1:9400/x")
    w.keys.issuers[local.url] = local
    arn = f"arn:aws:iam::{ACCT}:oidc-provider/127.0.0.1:9400/x"
    role = await w.role("Local", trust(arn, **{"StringEquals": {"127.0.0.1:9400/x:sub": "demo-user"}}))
    out = await w.assume(local.token(aud="sts.amazonaws.com", now=w.clock.time()), role_arn=role)
    assert out["provider"] == arn
    with pytest.raises(InvalidIdentityToken) as exc:
        await w.assume(local.token(aud="sts.amazonaws.com", claims={"iss": "https://127.0.0.1:9400/x"}),
                       role_arn=role)
    assert exc.value.reason == "oidc_iss_mismatch"


async def test_provider_id_is_refused(w: World) -> None:
    with pytest.raises(InvalidIdentityToken) as exc:
        await w.assume(provider_id="www.amazon.com")
    assert exc.value.message == PROVIDER_ID


async def test_token_refusals_map_to_aws_errors(w: World) -> None:
    with pytest.raises(ExpiredTokenException):
        await w.assume(w.token(exp_in=-301))
    with pytest.raises(InvalidIdentityToken) as exc:
        await w.assume(w.token(aud="someone-else"))
    assert exc.value.message == "Incorrect token audience"
    with pytest.raises(InvalidIdentityToken) as exc:
        await w.assume(w.token(key="attacker-rsa", kid="demo-rsa-a"))
    assert exc.value.reason == "oidc_signature_invalid"
    with pytest.raises(InvalidIdentityToken) as exc:
        await w.assume(w.token(kid="no-such-kid"))
    assert exc.value.reason == "oidc_kid_unknown"
    with pytest.raises(InvalidIdentityToken) as exc:
        await w.assume("not.a.jwt")
    assert exc.value.reason == "oidc_malformed"


async def test_key_discovery_errors_pass_through(w: World) -> None:
    w.keys.fail = IDPCommunicationError("down", reason="oidc_idp_timeout")
    with pytest.raises(IDPCommunicationError):
        await w.assume()


async def test_errors_after_verification_name_the_web_identity_user(w: World) -> None:
    with pytest.raises(AccessDenied) as exc:
        await w.assume(role_arn=f"arn:aws:iam::{ACCT}:role/Nope")
    assert exc.value.user_identity == {
        "type": "WebIdentityUser", "principalId": f"{PROVIDER}:sts.amazonaws.com:demo-user",
        "userName": "demo-user", "identityProvider": PROVIDER}
    with pytest.raises(InvalidIdentityToken) as exc2:
        await w.assume(w.token(aud="nobody"))
    assert exc2.value.user_identity is None


async def test_one_time_use_when_the_provider_asks(w: World) -> None:
    token = w.token()
    await w.assume(token)
    await w.assume(token)  # off by default
    await w.iam.tag_oidc_provider(PREFIX, [Tag(REPLAY_PROTECTION_TAG, "true")])
    token = w.token(ttl=600)
    await w.assume(token)
    with pytest.raises(InvalidIdentityToken) as exc:
        await w.assume(token)
    assert exc.value.message == REPLAYED and exc.value.reason == "oidc_replay"
    [key] = [k async for k in w.redis.scan_iter("fed:once:oidc:*")]
    assert (await w.redis.pexpiretime(key)) / 1000 == w.clock.time() + 600 + 300 + 1  # exp + skew + 1 s
    with pytest.raises(InvalidIdentityToken) as exc:
        await w.assume(w.token(claims={"jti": OMIT}))
    assert exc.value.reason == "oidc_jti_missing"


async def test_a_refused_attempt_does_not_spend_a_one_time_token(w: World) -> None:
    await w.iam.tag_oidc_provider(PREFIX, [Tag(REPLAY_PROTECTION_TAG, "TRUE")])
    token = w.token()
    with pytest.raises(ValidationError):
        await w.assume(token, duration_seconds=43200)
    await w.assume(token)
    with pytest.raises(InvalidIdentityToken):
        await w.assume(token)


def readme_trust_policies() -> list[str]:
    """The trust policies of the README's "OIDC workloads" recipes, as printed."""
    readme = (Path(__file__).resolve().parents[3] / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## OIDC workloads"):]
    section = section[:section.index("\n## ", 1)]
    return [doc.replace("ACCOUNT", ACCT) for doc in re.findall(r"```json\n(.*?)```", section, re.S)]


@pytest.mark.parametrize("doc", readme_trust_policies(), ids=["github", "gitlab", "kubernetes"])
async def test_the_readme_recipes_admit_their_workload_and_no_other(w: World, doc: str) -> None:
    statement = json.loads(doc)["Statement"][0]
    prefix = statement["Principal"]["Federated"].split(":oidc-provider/", 1)[1]
    wanted = statement["Condition"]["StringEquals"]
    sub, aud = wanted[f"{prefix}:sub"], wanted[f"{prefix}:aud"]
    issuer = DemoIssuer(f"https://{prefix}")
    w.keys.issuers[issuer.url] = issuer
    if issuer.url != GITHUB:
        await w.iam.create_oidc_provider(issuer.url, client_ids=[aud])
    role = await w.role("Recipe", doc)
    out = await w.assume(issuer.token(sub=sub, aud=aud, now=w.clock.time()), role_arn=role)
    assert out["subject_from_web_identity_token"] == sub
    for other in (sub.replace("acme", "evil").replace("shop", "evil"), sub + "x"):
        with pytest.raises(AccessDenied):
            await w.assume(issuer.token(sub=other, aud=aud, now=w.clock.time()), role_arn=role)
