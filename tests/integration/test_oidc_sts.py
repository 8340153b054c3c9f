"""AssumeRoleWithWebIdentity through unmodified boto3 (and the AWS CLI, and botocore's own
web-identity token-file credential provider) against the real server and Redis, with the
loopback issuer of idp_fixtures.oidc as the OpenID provider (discovery and key set over HTTP;
`http://` is allowed on loopback hosts) and providers registered by CreateOpenIDConnectProvider."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import boto3
import botocore.credentials
import pytest
import redis
from botocore.exceptions import ClientError
from dateutil.tz import tzlocal

from app.store.keys import Keys
from app.store.oidc_jwks import JwksCache
from idp_fixtures.oidc.material import load
from idp_fixtures.oidc.server import IssuerServer

from .conftest import (ACCOUNT, REDIS_URL, allow, audit_line, client, code, message, race, seconds_left,
                       session_client, unique)

CLIENT_IDS = ["sts.amazonaws.com", "tessera-demo"]
ALL = ["sts:AssumeRoleWithWebIdentity", "sts:TagSession", "sts:SetSourceIdentity"]


@pytest.fixture(scope="module")
def sts(server: Any) -> Any:
    """An STS client: AssumeRoleWithWebIdentity is unsigned (botocore sends no signature)."""
    return client(server, "sts", "AKIAUNUSEDUNUSED0000", "unused")


class Provider:
    """A loopback issuer registered as an IAM OIDC provider, and roles that trust it."""

    def __init__(self, root_iam: Any, sts: Any, idp: IssuerServer, **register: Any) -> None:
        self.iam, self.sts, self.idp = root_iam, sts, idp
        self.arn = root_iam.create_open_id_connect_provider(
            Url=idp.url, ClientIDList=register.pop("client_ids", CLIENT_IDS), **register)["OpenIDConnectProviderArn"]
        self.prefix = idp.url.split("://", 1)[1]  # the condition keys' prefix

    def trust(self, actions: Any = "sts:AssumeRoleWithWebIdentity", condition: dict[str, Any] | None = None) -> str:
        stmt: dict[str, Any] = {"Effect": "Allow", "Principal": {"Federated": self.arn}, "Action": actions}
        if condition:
            stmt["Condition"] = condition
        return json.dumps({"Version": "2012-10-17", "Statement": [stmt]})

    def role(self, actions: Any = "sts:AssumeRoleWithWebIdentity", condition: dict[str, Any] | None = None, *,
             policy: str | None = None, max_duration: int | None = None) -> dict[str, Any]:
        name = unique("webrole")
        kw = {"MaxSessionDuration": max_duration} if max_duration else {}
        role = self.iam.create_role(RoleName=name, AssumeRolePolicyDocument=self.trust(actions, condition), **kw)
        if policy:
            self.iam.put_role_policy(RoleName=name, PolicyName="p", PolicyDocument=policy)
        return dict(role["Role"])

    def token(self, sub: str = "alice", aud: Any = "sts.amazonaws.com", **kw: Any) -> str:
        return self.idp.issuer.token(sub=sub, aud=aud, **kw)

    def assume(self, role: dict[str, Any], token: str | None = None, session: str = "ci", **kw: Any) -> Any:
        return self.sts.assume_role_with_web_identity(RoleArn=role["Arn"], RoleSessionName=session,
                                                      WebIdentityToken=token or self.token(), **kw)

    def interval_passes(self) -> None:
        """The key-refresh rate limit's interval is over (as its unit tests do)."""
        key = JwksCache.key(self.idp.url, ())
        redis.Redis.from_url(REDIS_URL).delete(Keys.oidc_jwks_refresh(key))


@contextmanager
def registered(root_iam: Any, sts: Any, path: str = "") -> Iterator[Provider]:
    """A loopback issuer of its own (its own key cache and fetch counts), registered."""
    idp = IssuerServer(keys=[load("rsa-a"), load("ec-p256")], path=path).start()
    try:
        yield Provider(root_iam, sts, idp)
    finally:
        idp.stop()


@pytest.fixture
def fresh(root_iam: Any, sts: Any) -> Iterator[Provider]:
    with registered(root_iam, sts) as provider:
        yield provider


@pytest.fixture(scope="module")
def fed(root_iam: Any, sts: Any) -> Iterator[Provider]:
    with registered(root_iam, sts) as provider:
        yield provider


@pytest.fixture(scope="module")
def realm(root_iam: Any, sts: Any) -> Iterator[Provider]:
    """A provider whose issuer URL has a path (Keycloak's realms)."""
    with registered(root_iam, sts, "/realms/acme") as provider:
        yield provider


# ---- happy paths ----
@pytest.mark.parametrize("alg", ["RS256", "PS256", "ES256"])
def test_signing_algorithms_then_the_credentials_used(server, root_iam, fed, alg) -> None:
    role = fed.role()
    out = fed.assume(role, fed.token(alg=alg))
    creds = out["Credentials"]
    assert creds["AccessKeyId"].startswith("ASIA") and len(creds["SecretAccessKey"]) == 40
    arn = f"arn:aws:sts::{ACCOUNT}:assumed-role/{role['RoleName']}/ci"
    assert out["AssumedRoleUser"] == {"Arn": arn, "AssumedRoleId": f"{role['RoleId']}:ci"}
    assert out["SubjectFromWebIdentityToken"] == "alice"
    assert out["Audience"] == "sts.amazonaws.com"
    assert out["Provider"] == fed.arn  # the provider ARN, as AWS returns it
    assert "PackedPolicySize" not in out and "SourceIdentity" not in out
    assert 3500 < seconds_left(out) <= 3605
    assert session_client(server, out, "sts").get_caller_identity()["Arn"] == arn
    used = root_iam.get_role(RoleName=role["RoleName"])["Role"]["RoleLastUsed"]
    assert used["Region"] == "us-east-1" and used["LastUsedDate"].tzinfo is not None  # unsigned: global STS


def test_aud_as_a_list(fed) -> None:
    role = fed.role(condition={"StringEquals": {f"{fed.prefix}:aud": "tessera-demo"}})
    out = fed.assume(role, fed.token(aud=["https://unregistered.test", "tessera-demo"]))
    assert out["Audience"] == "tessera-demo"
    with pytest.raises(ClientError) as exc:
        fed.assume(role, fed.token(aud=["https://a.test", "https://b.test"]))
    assert code(exc) == "InvalidIdentityToken" and message(exc) == "Incorrect token audience"


def test_string_like_on_sub_as_github_recipes_write_it(fed) -> None:
    role = fed.role(condition={"StringEquals": {f"{fed.prefix}:aud": "sts.amazonaws.com"},
                               "StringLike": {f"{fed.prefix}:sub": "repo:acme/*"}})
    assert fed.assume(role, fed.token(sub="repo:acme/app:ref:refs/heads/main"))
    assert fed.assume(role, fed.token(sub="repo:acme/infra:environment:prod"))
    with pytest.raises(ClientError) as exc:
        fed.assume(role, fed.token(sub="repo:acmeevil/app:ref:refs/heads/main"))
    assert code(exc) == "AccessDenied" and message(exc) == "Not authorized to perform sts:AssumeRoleWithWebIdentity"
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_a_provider_url_with_a_path(realm) -> None:
    assert realm.arn == f"arn:aws:iam::{ACCOUNT}:oidc-provider/{realm.prefix}" and "/realms/acme" in realm.arn
    role = realm.role(condition={"StringEquals": {f"{realm.prefix}:sub": "bob",
                                                  f"{realm.prefix.upper()}:AUD": "sts.amazonaws.com"}})
    out = realm.assume(role, realm.token(sub="bob"))
    assert out["Provider"] == realm.arn and out["SubjectFromWebIdentityToken"] == "bob"
    with pytest.raises(ClientError) as exc:
        realm.assume(role, realm.token(sub="alice"))
    assert code(exc) == "AccessDenied"


def test_the_sub_key_in_a_permission_policy_of_later_calls(server, fed) -> None:
    policy = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": "iam:GetRole", "Resource": "*", "Condition": {"StringEquals": {
            f"{fed.prefix}:sub": "alice", "aws:FederatedProvider": fed.arn}}}]})
    role = fed.role(policy=policy)
    alice = fed.assume(role, fed.token(sub="alice"))
    assert session_client(server, alice, "iam").get_role(RoleName=role["RoleName"])["Role"]["Arn"] == role["Arn"]
    bob = fed.assume(role, fed.token(sub="bob"))
    with pytest.raises(ClientError) as exc:
        session_client(server, bob, "iam").get_role(RoleName=role["RoleName"])
    assert code(exc) == "AccessDenied"


def test_session_tags_and_source_identity_from_claims(server, fed) -> None:
    claims = {"https://aws.amazon.com/tags": {"principal_tags": {"team": ["blue"], "env": ["prod"]},
                                              "transitive_tag_keys": ["team"]},
              "https://aws.amazon.com/source_identity": "alice-si"}
    plain = fed.role()
    with pytest.raises(ClientError) as exc:  # sts:TagSession and sts:SetSourceIdentity are needed
        fed.assume(plain, fed.token(claims=claims))
    assert code(exc) == "AccessDenied"
    policy = allow("iam:GetRole", "*", Condition={"StringEquals": {"aws:PrincipalTag/team": "blue",
                                                                   "aws:SourceIdentity": "alice-si"}})
    role = fed.role(ALL, policy=policy)
    out = fed.assume(role, fed.token(claims=claims))
    assert 0 < out["PackedPolicySize"] <= 100 and out["SourceIdentity"] == "alice-si"
    assert session_client(server, out, "iam").get_role(RoleName=role["RoleName"])
    other = fed.assume(role, fed.token(claims={"https://aws.amazon.com/tags": {"principal_tags": {"team": ["red"]}}}))
    with pytest.raises(ClientError) as exc:
        session_client(server, other, "iam").get_role(RoleName=role["RoleName"])
    assert code(exc) == "AccessDenied"


def test_durations_and_session_policies(server, fed) -> None:
    role = fed.role(policy=allow(["iam:GetRole", "iam:ListRoles"]), max_duration=7200)
    assert 7100 < seconds_left(fed.assume(role, DurationSeconds=7200)) <= 7205
    assert 800 < seconds_left(fed.assume(role, DurationSeconds=900)) <= 905
    with pytest.raises(ClientError) as exc:
        fed.assume(role, DurationSeconds=7201)
    assert code(exc) == "ValidationError"
    assert message(exc) == "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."
    out = fed.assume(role, Policy=allow("iam:GetRole"))
    assert 0 < out["PackedPolicySize"] <= 100
    iam = session_client(server, out, "iam")
    assert iam.get_role(RoleName=role["RoleName"])
    with pytest.raises(ClientError) as exc:
        iam.list_roles()
    assert code(exc) == "AccessDenied"
    with pytest.raises(ClientError) as exc:
        fed.assume(role, Policy='{"Version":"2012-10-17","Statement":[{"Effect":"Allow"}]}')
    assert code(exc) == "MalformedPolicyDocument"


# ---- refusals ----
def test_unknown_issuer_and_expired_tokens(fed, root_iam, sts) -> None:
    role = fed.role()
    with IssuerServer() as stranger:  # never registered
        with pytest.raises(ClientError) as exc:
            fed.assume(role, stranger.issuer.token(aud="sts.amazonaws.com"))
        assert code(exc) == "InvalidIdentityToken"
        assert message(exc) == f"No OpenIDConnect provider found in your account for {stranger.url}"
    with pytest.raises(ClientError) as exc:
        fed.assume(role, fed.token(exp_in=-400))
    assert code(exc) == "ExpiredTokenException"
    with pytest.raises(ClientError) as exc:
        fed.assume(role, fed.token(key="attacker-rsa", kid="demo-rsa-a"))
    assert code(exc) == "InvalidIdentityToken"


def test_provider_id_is_refused(fed) -> None:
    with pytest.raises(ClientError) as exc:
        fed.assume(fed.role(), ProviderId="www.amazon.com")
    assert code(exc) == "InvalidIdentityToken"


def test_one_time_use_is_a_provider_option(root_iam, fed) -> None:
    role = fed.role()
    token = fed.token()
    fed.assume(role, token)
    fed.assume(role, token)  # off by default
    root_iam.tag_open_id_connect_provider(OpenIDConnectProviderArn=fed.arn,
                                          Tags=[{"Key": "tessera:jti-replay-protection", "Value": "true"}])
    try:
        token = fed.token()
        fed.assume(role, token)
        with pytest.raises(ClientError) as exc:
            fed.assume(role, token)
        assert code(exc) == "InvalidIdentityToken"
    finally:
        root_iam.untag_open_id_connect_provider(OpenIDConnectProviderArn=fed.arn,
                                                TagKeys=["tessera:jti-replay-protection"])
    fed.assume(role, token)  # off again: the very next request sees the change


def test_ten_concurrent_redemptions_of_a_one_time_token(server, fresh) -> None:
    fresh.iam.tag_open_id_connect_provider(OpenIDConnectProviderArn=fresh.arn,
                                           Tags=[{"Key": "tessera:jti-replay-protection", "Value": "true"}])
    role = fresh.role()
    fresh.assume(role)  # keys cached
    token = fresh.token()
    outcomes = race(server, lambda sts: sts.assume_role_with_web_identity(
        RoleArn=role["Arn"], RoleSessionName="load", WebIdentityToken=token))
    assert outcomes == ["InvalidIdentityToken"] * 9 + ["ok"]


# ---- keys: rotation and resilience ----
def test_key_rotation_costs_one_refetch(fresh) -> None:
    role = fresh.role()
    fresh.assume(role, fresh.token(alg="RS256"))
    fresh.assume(role, fresh.token(alg="ES256"))
    assert fresh.idp.jwks_fetches == 1
    fresh.idp.rotate([load("rsa-b"), load("rsa-a")])  # a new kid appears
    fresh.interval_passes()
    out = fresh.assume(role, fresh.token(key="rsa-b"))
    assert out["SubjectFromWebIdentityToken"] == "alice"
    assert fresh.idp.jwks_fetches == 2
    for _ in range(3):
        fresh.assume(role, fresh.token(key="rsa-b"))
        fresh.assume(role, fresh.token(key="rsa-a"))
    assert fresh.idp.jwks_fetches == 2


def test_cached_keys_keep_working_while_the_idp_is_down(fresh) -> None:
    role = fresh.role()
    fresh.assume(role)
    fresh.idp.stop()
    out = fresh.assume(role, fresh.token(alg="ES256"))
    assert out["SubjectFromWebIdentityToken"] == "alice"


def test_a_slow_idp_fails_in_bounded_time(fresh) -> None:
    fresh.idp.delay = 30  # far beyond the fetch budget
    role = fresh.role()
    with pytest.raises(ClientError) as exc:
        fresh.assume(role)
    assert code(exc) == "IDPCommunicationError"


def test_an_unreachable_idp_without_cached_keys(fresh) -> None:
    fresh.idp.stop()
    with pytest.raises(ClientError) as exc:
        fresh.assume(fresh.role())
    assert code(exc) == "IDPCommunicationError"


def test_a_burst_of_unknown_kids_fetches_the_key_set_at_most_once(server, fresh) -> None:
    role = fresh.role()
    fresh.assume(role)
    fresh.interval_passes()
    clients = [client(server, "sts", "AKIAUNUSEDUNUSED0000", "unused") for _ in range(8)]
    codes: list[str] = []

    def burst(sts: Any, n: int) -> None:
        for i in range(5):
            try:
                sts.assume_role_with_web_identity(RoleArn=role["Arn"], RoleSessionName="load",
                                                  WebIdentityToken=fresh.token(kid=f"random-{n}-{i}"))
                codes.append("ok")
            except ClientError as exc:
                codes.append(str(exc.response["Error"]["Code"]))

    threads = [threading.Thread(target=burst, args=(c, n)) for n, c in enumerate(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert codes == ["InvalidIdentityToken"] * 40
    assert fresh.idp.jwks_fetches <= 2  # the first fetch, then at most one refresh for the burst
    assert fresh.assume(role)  # the good kid still works


def test_a_key_set_that_changes_under_load(server, fresh) -> None:
    role = fresh.role()
    fresh.assume(role)
    stop = threading.Event()
    results: list[str] = []
    rotated = threading.Event()

    def load_loop(sts: Any) -> None:
        while not stop.is_set():
            key = "rsa-b" if rotated.is_set() else "rsa-a"
            try:
                sts.assume_role_with_web_identity(RoleArn=role["Arn"], RoleSessionName="load",
                                                  WebIdentityToken=fresh.token(key=key))
                results.append("ok")
            except ClientError as exc:
                results.append(str(exc.response["Error"]["Code"]))

    threads = [threading.Thread(target=load_loop, args=(client(server, "sts", "AKIAX", "x"),)) for _ in range(6)]
    for t in threads:
        t.start()
    while len(results) < 30:
        time.sleep(0.01)
    fresh.idp.rotate([load("rsa-a"), load("rsa-b")])  # rsa-b published beside rsa-a
    fresh.interval_passes()
    rotated.set()
    mark = len(results)
    while len(results) < mark + 60:
        time.sleep(0.01)
    stop.set()
    for t in threads:
        t.join()
    assert set(results) == {"ok"}, sorted(set(results))
    assert fresh.idp.jwks_fetches == 2  # the first fetch and one refresh for the new kid


# ---- the SDKs' web identity credential provider (as a Kubernetes pod or a CI job uses it) ----
def workload_env(server: Any, tmp_path: Any, role_arn: str, token_file: Any) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "TESSERA_"))}
    env.update({"AWS_ROLE_ARN": role_arn, "AWS_WEB_IDENTITY_TOKEN_FILE": str(token_file),
                "AWS_ROLE_SESSION_NAME": "workload", "AWS_ENDPOINT_URL_STS": server.url,
                "AWS_ENDPOINT_URL_IAM": server.url, "AWS_REGION": "eu-west-1", "AWS_DEFAULT_REGION": "eu-west-1",
                "AWS_CONFIG_FILE": str(tmp_path / "none"), "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
                "AWS_MAX_ATTEMPTS": "1"})
    return env


@pytest.mark.skipif(shutil.which("aws") is None, reason="the AWS CLI (awscli, in the `test` extras)")
def test_the_aws_cli_with_a_token_file(server, fed, tmp_path) -> None:
    role = fed.role()
    token_file = tmp_path / "token"
    token_file.write_text(fed.token(sub="system:serviceaccount:apps:web"))
    out = subprocess.run(["aws", "sts", "get-caller-identity", "--output", "json"],
                         env=workload_env(server, tmp_path, role["Arn"], token_file),
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/{role['RoleName']}/workload"


def test_boto3_refreshes_credentials_from_the_token_file(server, fed, tmp_path, monkeypatch) -> None:
    policy = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": "iam:GetRole", "Resource": "*",
        "Condition": {"StringEquals": {f"{fed.prefix}:sub": "system:serviceaccount:apps:web-v2"}}}]})
    role = fed.role(policy=policy)
    token_file = tmp_path / "token"
    token_file.write_text(fed.token(sub="system:serviceaccount:apps:web"))
    for k in [k for k in os.environ if k.startswith("AWS_")]:
        monkeypatch.delenv(k)
    for k, v in workload_env(server, tmp_path, role["Arn"], token_file).items():
        if k.startswith("AWS_"):
            monkeypatch.setenv(k, v)
    session = boto3.Session()
    iam = session.client("iam")
    caller = session.client("sts").get_caller_identity()
    assert caller["Arn"].endswith(f":assumed-role/{role['RoleName']}/workload")
    with pytest.raises(ClientError) as exc:  # this token's sub is not the one the policy names
        iam.get_role(RoleName=role["RoleName"])
    assert code(exc) == "AccessDenied"
    credentials = session.get_credentials()
    first = credentials.get_frozen_credentials().access_key
    # the kubelet rotates the projected token; 50 minutes pass (botocore's clock: its module's
    # `_local_now`, which the fetcher's cache reads, and the one the credentials were given)
    token_file.write_text(fed.token(sub="system:serviceaccount:apps:web-v2"))
    later = lambda: datetime.now(tzlocal()) + timedelta(minutes=50)  # noqa: E731
    monkeypatch.setattr(botocore.credentials, "_local_now", later)
    monkeypatch.setattr(credentials, "_time_fetcher", later)
    assert iam.get_role(RoleName=role["RoleName"])["Role"]["Arn"] == role["Arn"]
    assert credentials.get_frozen_credentials().access_key != first


# ---- the audit trail ----
def test_audit_names_the_web_identity_user_never_the_token(server, fed) -> None:
    role = fed.role()
    token = fed.token(sub="alice")
    out = fed.assume(role, token)
    line = audit_line(server, out["ResponseMetadata"]["RequestId"])
    assert line["userIdentity"] == {"type": "WebIdentityUser", "principalId": f"{fed.arn}:sts.amazonaws.com:alice",
                                    "userName": "alice", "identityProvider": fed.arn}
    # CloudTrail's form: lowerCamelCase, the token never recorded, credentials reduced
    assert line["requestParameters"]["roleArn"] == role["Arn"] and "webIdentityToken" not in line["requestParameters"]
    assert token not in json.dumps(line)
    assert line["responseElements"] == {
        "credentials": {"accessKeyId": out["Credentials"]["AccessKeyId"],
                        "expiration": out["Credentials"]["Expiration"].strftime("%b %-d, %Y %-I:%M:%S %p")},
        "subjectFromWebIdentityToken": "alice",
        "assumedRoleUser": {"assumedRoleId": out["AssumedRoleUser"]["AssumedRoleId"],
                            "arn": out["AssumedRoleUser"]["Arn"]},
        "provider": out["Provider"], "audience": out["Audience"]}
    denied = fed.role(condition={"StringEquals": {f"{fed.prefix}:sub": "bob"}})
    with pytest.raises(ClientError) as exc:
        fed.assume(denied, token)
    line = audit_line(server, exc.value.response["ResponseMetadata"]["RequestId"])
    assert line["userIdentity"]["userName"] == "alice" and line["reason"].startswith("trust_denied")
    with pytest.raises(ClientError) as exc:
        fed.assume(role, fed.token(aud="nobody"))
    line = audit_line(server, exc.value.response["ResponseMetadata"]["RequestId"])
    assert line["reason"] == "oidc_aud_mismatch" and line["userIdentity"] == {"type": "WebIdentityUser"}
    log = server.log()
    assert token not in log and token.split(".")[1] not in log and token.split(".")[2] not in log
