"""Interoperability with a second, unmodified AWS SDK: the AWS SDK for JavaScript v3
(`@aws-sdk/client-sts`, `@aws-sdk/client-iam`, `@aws-sdk/credential-providers`, exact versions in
tests/interop/aws-sdk-js/package.json) against the real server, configured as a user would: keys,
region and endpoint (AWS_ENDPOINT_URL_STS, AWS_ENDPOINT_URL_IAM) in the environment.

Each scenario is one small Node script in tests/interop/aws-sdk-js/ that takes its inputs from
the environment and prints one JSON document. The npm packages are installed by the test itself
(`npm ci` from the committed lockfile) when `node_modules/` is missing; the test is skipped only
when Node.js or npm is not installed.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from .conftest import ACCOUNT, REGION, ROOT_AKID, ROOT_SECRET, Identity, Server, allow, client, trust, unique
from .test_oidc_interop import node_major
from .test_oidc_sts import Provider, registered

HERE = Path(__file__).resolve().parents[1] / "interop" / "aws-sdk-js"
REQUEST_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")  # x-amzn-RequestId
CREATE_DATE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z")  # a JS Date (JSON), parsed from ISO 8601

if shutil.which("node") is None or shutil.which("npm") is None:
    pytest.skip("Node.js and npm are needed to run the AWS SDK for JavaScript", allow_module_level=True)


@pytest.fixture(scope="module")
def installed() -> Path:
    assert node_major() >= 20, "the AWS SDK for JavaScript v3 at these versions needs Node.js 20 or later"
    if not (HERE / "node_modules" / "@aws-sdk" / "client-sts" / "package.json").is_file():
        done = subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=HERE,
                              capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, f"npm ci failed:\n{done.stdout}\n{done.stderr}"
    return HERE


@pytest.fixture(scope="module")
def node(installed: Path, server: Server, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """`node(script, **env)`: the script's JSON result. The environment holds no AWS_* variable of
    the machine's, no shared config or credentials file, and the endpoint of the server."""
    home = tmp_path_factory.mktemp("sdk-js")
    base = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    base.update({"AWS_REGION": REGION, "AWS_CONFIG_FILE": str(home / "config"),
                 "AWS_SHARED_CREDENTIALS_FILE": str(home / "credentials"),
                 "AWS_EC2_METADATA_DISABLED": "true",
                 "AWS_ENDPOINT_URL_STS": server.url, "AWS_ENDPOINT_URL_IAM": server.url})

    def run(script: str, **env: str) -> Any:
        done = subprocess.run(["node", script], cwd=installed, env=base | env, capture_output=True, text=True,
                              timeout=60)
        assert done.returncode == 0, f"{script} failed:\n{done.stdout}\n{done.stderr}"
        return json.loads(done.stdout)

    return run


def keys(who: Identity) -> dict[str, str]:
    return {"AWS_ACCESS_KEY_ID": who.akid, "AWS_SECRET_ACCESS_KEY": who.secret}


@pytest.fixture(scope="module")
def fed(root_iam: Any, server: Server) -> Iterator[Provider]:
    with registered(root_iam, client(server, "sts", "AKIAUNUSEDUNUSED0000", "unused")) as provider:
        yield provider


def test_assume_role_signed_with_a_users_keys_then_the_session_calls(node, root_iam, make_user) -> None:
    user = make_user(allow("sts:AssumeRole"))
    role = root_iam.create_role(RoleName=unique("jsrole"), AssumeRolePolicyDocument=trust({"AWS": user.arn}))["Role"]
    out = node("assume_role.mjs", **keys(user), ROLE_ARN=role["Arn"], SESSION_NAME="js-sdk")
    arn = f"arn:aws:sts::{ACCOUNT}:assumed-role/{role['RoleName']}/js-sdk"
    assumed = out["assumed"]
    assert assumed["AssumedRoleUser"] == {"Arn": arn, "AssumedRoleId": f"{role['RoleId']}:js-sdk"}
    assert assumed["AccessKeyId"].startswith("ASIA") and len(assumed["AccessKeyId"]) == 20
    assert assumed["SecretAccessKeyLength"] == 40 and assumed["SessionTokenLength"] > 0
    assert assumed["ExpirationIsDate"] is True  # the SDK parsed the ISO 8601 timestamp
    left = datetime.fromisoformat(assumed["Expiration"].replace("Z", "+00:00")) - datetime.now(timezone.utc)
    assert timedelta(seconds=850) < left <= timedelta(seconds=900)
    assert assumed["PackedPolicySize"] is None  # no session policy: no PackedPolicySize element
    assert REQUEST_ID.fullmatch(assumed["requestId"])
    assert role["RoleId"].startswith("AROA")
    assert out["identity"] == {"UserId": f"{role['RoleId']}:js-sdk", "Account": ACCOUNT, "Arn": arn}


def assert_session(out: dict[str, Any], role: dict[str, Any], session: str | None) -> None:
    """A provider's result (providers.mjs): session credentials of `role`, and the caller they make.
    `session` None: the name the SDK made up (aws-sdk-js-session-<milliseconds>), accepted."""
    creds = out["credentials"]
    assert creds["AccessKeyId"].startswith("ASIA") and len(creds["AccessKeyId"]) == 20
    assert creds["SecretAccessKeyLength"] == 40
    assert creds["HasSessionToken"] is True and creds["ExpirationIsDate"] is True
    identity = out["identity"]
    name = identity["Arn"].rsplit("/", 1)[1]
    if session is None:
        assert re.fullmatch(r"aws-sdk-js-session-\d{13}", name), name
    else:
        assert name == session
    arn = f"arn:aws:sts::{ACCOUNT}:assumed-role/{role['RoleName']}/{name}"
    assert identity == {"UserId": f"{role['RoleId']}:{name}", "Account": ACCOUNT, "Arn": arn}


@pytest.mark.parametrize(("provider", "session"), [("token-file", "js-web"), ("token-file", None),
                                                   ("default-chain", "js-pod")])
def test_web_identity_through_the_sdks_providers(node, fed, tmp_path, provider, session) -> None:
    """fromTokenFile(), and the client's default chain, as a pod or a CI job has them: the role and
    the token file in the environment."""
    role = fed.role()
    token_file = tmp_path / "token"
    token_file.write_text(fed.token(sub="alice"))
    named = {"AWS_ROLE_SESSION_NAME": session} if session else {}
    assert_session(node("providers.mjs", PROVIDER=provider, AWS_ROLE_ARN=role["Arn"],
                        AWS_WEB_IDENTITY_TOKEN_FILE=str(token_file), **named), role, session)


def test_assume_role_through_the_sdks_providers(node, root_iam, make_user, tmp_path) -> None:
    """fromTemporaryCredentials() signed with the environment's keys, and fromIni() with a profile
    that assumes the role from another profile's keys (the AWS CLI's role_arn + source_profile)."""
    user = make_user(allow("sts:AssumeRole"))
    role = root_iam.create_role(RoleName=unique("jsrole"), AssumeRolePolicyDocument=trust({"AWS": user.arn}))["Role"]
    assert_session(node("providers.mjs", PROVIDER="temporary", **keys(user), ROLE_ARN=role["Arn"],
                        SESSION_NAME="js-temporary"), role, "js-temporary")
    (tmp_path / "credentials").write_text(
        f"[base]\naws_access_key_id = {user.akid}\naws_secret_access_key = {user.secret}\n")
    (tmp_path / "config").write_text(
        f"[profile assumer]\nrole_arn = {role['Arn']}\nsource_profile = base\nrole_session_name = js-ini\n")
    assert_session(node("providers.mjs", PROVIDER="ini", PROFILE="assumer",
                        AWS_CONFIG_FILE=str(tmp_path / "config"),
                        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "credentials")), role, "js-ini")


def test_web_identity_answer_read_by_the_sdk(node, fed) -> None:
    role = fed.role()
    [answer] = node("sts_calls.mjs", CALLS=json.dumps([{"command": "AssumeRoleWithWebIdentity", "input": {
        "RoleArn": role["Arn"], "RoleSessionName": "js-web", "WebIdentityToken": fed.token(sub="alice")}}]))
    out = answer["output"]
    assert out["SubjectFromWebIdentityToken"] == "alice" and out["Audience"] == "sts.amazonaws.com"
    assert out["Provider"] == fed.arn
    assert out["AssumedRoleUser"] == {"Arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/{role['RoleName']}/js-web",
                                      "AssumedRoleId": f"{role['RoleId']}:js-web"}
    assert out["Credentials"]["AccessKeyId"].startswith("ASIA") and answer["httpStatusCode"] == 200
    assert REQUEST_ID.fullmatch(answer["requestId"])


def test_errors_as_the_sdk_raises_them(node, fed, make_user, root_iam) -> None:
    """The SDK picks the modeled exception class by the error's Code (the awsQueryError code of
    botocore's sts model: InvalidIdentityToken -> InvalidIdentityTokenException); an error STS
    does not model (AccessDenied, SignatureDoesNotMatch, ValidationError) keeps its Code as name."""
    web = fed.role()
    user = make_user(allow("sts:AssumeRole"))
    denying = root_iam.create_role(RoleName=unique("jsdeny"), AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "sts:AssumeRole"},
            {"Effect": "Deny", "Principal": {"AWS": user.arn}, "Action": "sts:AssumeRole"}]}))["Role"]
    root = {"accessKeyId": ROOT_AKID, "secretAccessKey": ROOT_SECRET}

    def web_identity(token: str, session: str = "js-err") -> dict[str, Any]:
        return {"command": "AssumeRoleWithWebIdentity",
                "input": {"RoleArn": web["Arn"], "RoleSessionName": session, "WebIdentityToken": token}}

    cases = [  # (call, name, Code, HTTP status, the message starts)
        (web_identity(fed.token(exp_in=-400)), "ExpiredTokenException", "ExpiredTokenException", 400,
         "Token expired: current date/time "),
        (web_identity(fed.token(key="attacker-rsa", kid="demo-rsa-a")), "InvalidIdentityTokenException",
         "InvalidIdentityToken", 400, "the web identity token's signature is not valid"),
        (web_identity(fed.token(), session="x"), "ValidationError", "ValidationError", 400,
         "1 validation error detected: Value 'x' at 'roleSessionName' failed to satisfy constraint"),
        ({"command": "AssumeRole", "input": {"RoleArn": denying["Arn"], "RoleSessionName": "js-err"}},
         "AccessDenied", "AccessDenied", 403,
         f"User: {user.arn} is not authorized to perform: sts:AssumeRole on resource: {denying['Arn']}"),
        ({"command": "AssumeRole", "input": {"RoleArn": denying["Arn"], "RoleSessionName": "js-err"},
          "credentials": root}, "AccessDenied", "AccessDenied", 403, "Roles may not be assumed by root accounts."),
        ({"command": "GetCallerIdentity", "input": {}, "credentials": root | {"secretAccessKey": "x" * 40}},
         "SignatureDoesNotMatch", "SignatureDoesNotMatch", 403,
         "The request signature we calculated does not match the signature you provided."),
    ]
    answers = node("sts_calls.mjs", **keys(user), CALLS=json.dumps([call for call, *_ in cases]))
    for (call, name, error_code, status, starts), answer in zip(cases, answers, strict=True):
        error = answer.get("error")
        assert error is not None, (call, answer)
        assert (error["name"], error["code"], error["httpStatusCode"], error["fault"], error["type"]) == (
            name, error_code, status, "client", "Sender"), call
        assert error["message"].startswith(starts), error
        assert REQUEST_ID.fullmatch(error["requestId"]), error


def test_root_keys_sign(node) -> None:
    root = {"AWS_ACCESS_KEY_ID": ROOT_AKID, "AWS_SECRET_ACCESS_KEY": ROOT_SECRET}
    [answer] = node("sts_calls.mjs", **root, CALLS=json.dumps([{"command": "GetCallerIdentity", "input": {}}]))
    assert answer["output"] == {"UserId": ACCOUNT, "Account": ACCOUNT, "Arn": f"arn:aws:iam::{ACCOUNT}:root"}


def test_iam_oidc_provider_and_role_through_the_sdk(node, root_iam, make_user) -> None:
    url = f"https://{unique('js')}.example.com/realms/acme"
    user = make_user()
    policy = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": user.arn}, "Action": "sts:AssumeRole",
        "Condition": {"StringEquals": {"aws:PrincipalTag/team": "équipe <a&b> 100%"}}}]}, indent=2)
    name = unique("jsrole")
    role_input = {"RoleName": name, "Path": "/interop/", "AssumeRolePolicyDocument": policy,
                  "Description": "rôle <de> test & \"quotes\" 'apostrophe'", "MaxSessionDuration": 7200,
                  "Tags": [{"Key": "team", "Value": "équipe a+b=c"}]}
    out = node("iam_calls.mjs", AWS_ACCESS_KEY_ID=ROOT_AKID, AWS_SECRET_ACCESS_KEY=ROOT_SECRET, OIDC_URL=url,
               CLIENT_IDS=json.dumps(["sts.amazonaws.com", "js-client"]), ROLE=json.dumps(role_input))
    provider = out["provider"]
    arn = f"arn:aws:iam::{ACCOUNT}:oidc-provider/{url.split('://', 1)[1]}"
    assert provider["created"] == {"OpenIDConnectProviderArn": arn, "httpStatusCode": 200}
    got = provider["got"]
    assert got["Url"] == url.split("://", 1)[1]  # without the scheme, as AWS returns it
    assert got["ClientIDList"] == ["sts.amazonaws.com", "js-client"] and got["httpStatusCode"] == 200
    assert CREATE_DATE.fullmatch(got["CreateDate"])
    assert {"Arn": arn} in provider["listed"]["OpenIDConnectProviderList"]
    assert provider["deleted"] == {"httpStatusCode": 200}
    gone = provider["gotAfterDelete"]
    assert (gone["name"], gone["code"], gone["httpStatusCode"]) == ("NoSuchEntityException", "NoSuchEntity", 404)

    role = out["role"]
    created, got_role = role["created"]["Role"], role["got"]["Role"]
    assert created["Arn"] == got_role["Arn"] == f"arn:aws:iam::{ACCOUNT}:role/interop/{name}"
    assert got_role["RoleId"].startswith("AROA") and CREATE_DATE.fullmatch(got_role["CreateDate"])
    assert got_role["Description"] == role_input["Description"] and got_role["MaxSessionDuration"] == 7200
    assert got_role["Tags"] == role_input["Tags"]
    # AWS: "Policies returned by this operation are URL-encoded compliant with RFC 3986. You can use
    # a URL decoding method to convert the policy back to plain JSON text" (the SDK's GetRoleCommand
    # page). The JS SDK does not decode it (botocore does, in its after-call.iam handler): the
    # caller gets the percent-encoded text (every byte but RFC 3986's unreserved ones escaped, so
    # no reserved character is left to misread), which decodeURIComponent turns into the document.
    for document in (created["AssumeRolePolicyDocument"], got_role["AssumeRolePolicyDocument"]):
        assert document == quote(policy, safe="")
    assert role["trustDecoded"] == policy
    assert role["deleted"] == {"httpStatusCode": 200}
    assert role["gotAfterDelete"]["name"] == "NoSuchEntityException"
