"""AssumeRoleWithWebIdentity against AWS's documented behaviour, black-box: an unmodified boto3
client (client-side checks off where the server's own must answer) or raw HTTP against the real
server, the loopback issuer of idp_fixtures.oidc registered as the provider.

Sources: botocore's sts model (shapes, constraints, error codes, `smithy.api#noAuth`), the STS API
reference, ../shared/reference/aws-sts-iam.md, and AWS's answers recorded by others where a
message is not documented (named at each case)."""
from __future__ import annotations

import json
import random
import string
import urllib.parse
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

import botocore.session
import httpx
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from .conftest import ACCOUNT, REGION, ROOT_AKID, ROOT_SECRET, aws_error, client, session_client
from .test_oidc_sts import ALL, Provider, registered

NS = "{https://sts.amazonaws.com/doc/2011-06-15/}"
OP = botocore.session.get_session().get_service_model("sts").operation_model("AssumeRoleWithWebIdentity")


@pytest.fixture(scope="module")
def sts(server: Any) -> Any:
    """No client-side parameter checks: every request reaches the server's."""
    return client(server, "sts", "AKIAUNUSEDUNUSED0000", "unused", parameter_validation=False)


@pytest.fixture(scope="module")
def idp(root_iam: Any, sts: Any) -> Iterator[Provider]:
    with registered(root_iam, sts) as provider:
        yield provider


@pytest.fixture(scope="module")
def role(idp: Provider) -> dict[str, Any]:
    return idp.role(ALL)


def refused(idp: Provider, role: dict[str, Any], **kw: Any) -> tuple[str, str, int, str]:
    """(code, message, HTTP status, error Type) of a request the server must refuse."""
    args: dict[str, Any] = {"RoleArn": role["Arn"], "RoleSessionName": "conf", "WebIdentityToken": idp.token()}
    args.update(kw)
    with pytest.raises(ClientError) as exc:
        idp.sts.assume_role_with_web_identity(**{k: v for k, v in args.items() if v is not None})
    return (*aws_error(exc), str(exc.value.response["Error"]["Type"]))


def form(params: dict[str, str]) -> dict[str, str]:
    return {"Action": "AssumeRoleWithWebIdentity", "Version": "2011-06-15", **params}


# ---- 1. parameters: the model's constraints, in AWS's words ----
def _v(value: str, member: str, constraint: str) -> str:
    return f"1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: {constraint}"


LE = "Member must have length less than or equal to {}"
GE = "Member must have length greater than or equal to {}"
SESSION_PATTERN = r"Member must satisfy regular expression pattern: [\w+=,.@-]*"
NOT_NULL = "1 validation error detected: Value null at '{}' failed to satisfy constraint: Member must not be null"

PARAMETER_CASES = [
    # (id, request members, message) -> ValidationError, 400, Sender
    ("session-name-1", {"RoleSessionName": "a"}, _v("a", "roleSessionName", GE.format(2))),
    ("session-name-65", {"RoleSessionName": "s" * 65}, _v("s" * 65, "roleSessionName", LE.format(64))),
    ("session-name-colon", {"RoleSessionName": "Session1:2"}, _v("Session1:2", "roleSessionName", SESSION_PATTERN)),
    ("session-name-space", {"RoleSessionName": "a b"}, _v("a b", "roleSessionName", SESSION_PATTERN)),
    ("session-name-non-ascii", {"RoleSessionName": "caf\u00e9"}, _v("caf\u00e9", "roleSessionName", SESSION_PATTERN)),
    # the token is sensitive in the model: AWS leaves its value out of the message
    ("token-3", {"WebIdentityToken": "abc"},
     "1 validation error detected: Value at 'webIdentityToken' failed to satisfy constraint: " + GE.format(4)),
    ("token-20001", {"WebIdentityToken": "a" * 20001},
     "1 validation error detected: Value at 'webIdentityToken' failed to satisfy constraint: " + LE.format(20000)),
    ("provider-id-3", {"ProviderId": "abc"}, _v("abc", "providerId", GE.format(4))),
    ("role-arn-19", {"RoleArn": "arn:aws:iam::1:role"}, _v("arn:aws:iam::1:role", "roleArn", GE.format(20))),
    ("duration-899", {"DurationSeconds": 899},
     _v("899", "durationSeconds", "Member must have value greater than or equal to 900")),
    ("duration-43201", {"DurationSeconds": 43201},
     _v("43201", "durationSeconds", "Member must have value less than or equal to 43200")),
    ("role-arn-missing", {"RoleArn": None}, NOT_NULL.format("roleArn")),
    ("session-name-missing", {"RoleSessionName": None}, NOT_NULL.format("roleSessionName")),
    ("token-missing", {"WebIdentityToken": None}, NOT_NULL.format("webIdentityToken")),
    ("all-missing", {"RoleArn": None, "RoleSessionName": None, "WebIdentityToken": None},
     "3 validation errors detected: " + "; ".join(
         NOT_NULL.format(m).removeprefix("1 validation error detected: ")
         for m in ("roleArn", "roleSessionName", "webIdentityToken"))),
    ("policy-arn-short", {"PolicyArns": [{"arn": "nope"}]}, _v("nope", "policyArns.1.member.arn", GE.format(20))),
    # the documented maximum role session length for a role whose MaxSessionDuration is 1 h
    ("duration-over-role-max", {"DurationSeconds": 3601},
     "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."),
    # RoleArn not ARN-shaped: AWS answers `<value> is invalid` (LocalStack's STS tests, recorded
    # against AWS: tests/aws/services/sts/test_sts.snapshot.json, test_sts_invalid_parameters)
    ("role-arn-not-an-arn", {"RoleArn": "nothing-valid-in-here"}, "nothing-valid-in-here is invalid"),
    ("role-arn-no-partition", {"RoleArn": "arn::b:::something/test-role"}, "arn::b:::something/test-role is invalid"),
    ("role-arn-no-service", {"RoleArn": "arn:a::::something/test-role"}, "arn:a::::something/test-role is invalid"),
    ("role-arn-few-colons", {"RoleArn": "arn:a:::something/test-role"}, "arn:a:::something/test-role is invalid"),
    ("role-arn-no-resource", {"RoleArn": "arn:a:a::aaaaaaaaaa:"}, "arn:a:a::aaaaaaaaaa: is invalid"),
    # an ARN, but of no role: `Request ARN is invalid` (AWS's answer to a web identity request
    # naming a policy ARN: prometheus-community/yet-another-cloudwatch-exporter#343; to a SAML
    # provider ARN in RoleArn: physera/onelogin-aws-cli#12)
    ("role-arn-policy", {"RoleArn": f"arn:aws:iam::{ACCOUNT}:policy/ReadOnly"}, "Request ARN is invalid"),
    ("role-arn-user", {"RoleArn": f"arn:aws:iam::{ACCOUNT}:user/alice"}, "Request ARN is invalid"),
    ("role-arn-provider", {"RoleArn": f"arn:aws:iam::{ACCOUNT}:saml-provider/corp"}, "Request ARN is invalid"),
    ("role-arn-assumed-role", {"RoleArn": f"arn:aws:sts::{ACCOUNT}:assumed-role/r/s"}, "Request ARN is invalid"),
]


@pytest.mark.parametrize("members, text", [c[1:] for c in PARAMETER_CASES], ids=[c[0] for c in PARAMETER_CASES])
def test_parameter_validation(idp, role, members, text) -> None:
    assert refused(idp, role, **members) == ("ValidationError", text, 400, "Sender")


def test_empty_members_list_every_broken_constraint(idp, role) -> None:
    """Members sent empty: every constraint each breaks, in AWS's order and words (pattern, then
    length, per member: AWS's answer to an AssumeRoleWithSAML with empty ARNs quoted in
    mmmorris1975/aws-runas#80)."""
    arn_pattern = ("Member must satisfy regular expression pattern: "
                   r"[\u0009\u000A\u000D\u0020-\u007E\u0085\u00A0-\uD7FF\uE000-\uFFFD\u10000-\u10FFFF]+")
    assert refused(idp, role, RoleArn="", RoleSessionName="", WebIdentityToken="") == ("ValidationError", (
        "4 validation errors detected: "
        f"Value '' at 'roleArn' failed to satisfy constraint: {arn_pattern}; "
        f"Value '' at 'roleArn' failed to satisfy constraint: {GE.format(20)}; "
        f"Value '' at 'roleSessionName' failed to satisfy constraint: {GE.format(2)}; "
        f"Value at 'webIdentityToken' failed to satisfy constraint: {GE.format(4)}"), 400, "Sender")


def test_a_policy_descriptor_without_its_arn(server, idp, role) -> None:
    """The model leaves `PolicyDescriptorType.arn` optional, so `PolicyArns.member.1` may come
    without it: a ValidationError for the null value, never a 500."""
    for extra in ({"PolicyArns.member.1.other": "x"},
                  {"PolicyArns.member.1.arn": "arn:aws:iam::aws:policy/ReadOnlyAccess", "PolicyArns.member.2.x": "y"}):
        resp = httpx.post(server.url + "/", data=form({"RoleArn": role["Arn"], "RoleSessionName": "conf",
                                                       "WebIdentityToken": idp.token(), **extra}))
        root = ET.fromstring(resp.text)
        n = len(extra)
        assert (resp.status_code, root.findtext(f"{NS}Error/{NS}Code"), root.findtext(f"{NS}Error/{NS}Message")) == (
            400, "ValidationError", f"1 validation error detected: Value null at 'policyArns.{n}.member.arn' "
                                    "failed to satisfy constraint: Member must not be null")


def test_the_role_arn_is_read_before_the_token(idp, role) -> None:
    """AWS looks the provider up in the role's account, so a RoleArn that names no role is
    refused before the token is looked at (here a token that is no JWT at all)."""
    assert refused(idp, role, RoleArn="nothing-valid-in-here", WebIdentityToken="not-a-jwt") == (
        "ValidationError", "nothing-valid-in-here is invalid", 400, "Sender")
    assert refused(idp, role, RoleArn=f"arn:aws:iam::{ACCOUNT}:policy/p", WebIdentityToken="not-a-jwt") == (
        "ValidationError", "Request ARN is invalid", 400, "Sender")


def test_policy_members(idp, role) -> None:
    long_policy = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::" + "b" * 2000}]})
    code, text, status, kind = refused(idp, role, Policy=long_policy)
    assert (code, status, kind) == ("ValidationError", 400, "Sender")
    assert text.startswith("1 validation error detected: Value '") and text.endswith(
        "' at 'policy' failed to satisfy constraint: " + LE.format(2048))
    outside = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"\u0101"}]}'
    assert refused(idp, role, Policy=outside) == ("ValidationError", _v(
        outside, "policy", r"Member must satisfy regular expression pattern: [\u0009\u000A\u000D\u0020-\u00FF]+"),
        400, "Sender")
    code, _, status, kind = refused(idp, role, Policy="not json")
    assert (code, status, kind) == ("MalformedPolicyDocument", 400, "Sender")
    code, _, status, _ = refused(idp, role, Policy='{"Version":"2012-10-17","Statement":[{"Effect":"Allow"}]}')
    assert (code, status) == ("MalformedPolicyDocument", 400)


def test_packed_policy_too_large_names_the_session_tags(idp, role) -> None:
    """Tags from the token's claim that pack beyond the limit: PackedPolicyTooLarge (400) with
    AWS's text for tags (repost.aws knowledge-center/iam-role-aws-sts-error: `Packed size of
    session tags consumes n% of allotted space.`); the token itself stays under 20000 chars."""
    rnd = random.Random(11)
    tags = {f"k{i:02d}": ["".join(rnd.choice(string.ascii_letters) for _ in range(120))] for i in range(50)}
    token = idp.token(claims={"https://aws.amazon.com/tags": {"principal_tags": tags}})
    assert len(token) <= 20000
    code, text, status, kind = refused(idp, role, WebIdentityToken=token)
    assert (code, status, kind) == ("PackedPolicyTooLarge", 400, "Sender")
    percent = text.removeprefix("Packed size of session tags consumes ").removesuffix("% of allotted space.")
    assert percent.isdigit() and int(percent) > 100, text


@pytest.mark.parametrize("tags_claim, text", [
    ({"principal_tags": {"Team": ["blue"], "team": ["red"]}},
     "Duplicate tag keys found. Please note that Tag keys are case insensitive."),
    ({"principal_tags": {"Team": ["blue"]}, "transitive_tag_keys": ["project"]},
     "The specified transitive tag key must be included in the requested tags."),
])
def test_session_tag_rules_of_the_tags_claim(idp, role, tags_claim, text) -> None:
    """The token's session tags obey AssumeRole's tag rules, with AWS's code and text for them
    (InvalidParameterValue, recorded against AWS in LocalStack's STS tests,
    test_assume_role_tag_validation); transitive keys match case-insensitively."""
    token = idp.token(claims={"https://aws.amazon.com/tags": tags_claim})
    assert refused(idp, role, WebIdentityToken=token) == ("InvalidParameterValue", text, 400, "Sender")
    ok = idp.token(claims={"https://aws.amazon.com/tags": {"principal_tags": {"Team": ["blue"]},
                                                           "transitive_tag_keys": ["team"]}})
    assert idp.assume(role, ok)["PackedPolicySize"] > 0


def test_unknown_members_are_ignored_and_a_repeated_member_reads_once(server, idp, role) -> None:
    """Unknown members (a newer SDK's, a typo) are ignored, as AWS's Query services do; a member
    sent twice yields one value and a well-formed answer, never a 5xx."""
    resp = httpx.post(server.url + "/", data=form({"RoleArn": role["Arn"], "RoleSessionName": "conf",
                                                   "WebIdentityToken": idp.token(), "SomethingNew": "x"}))
    assert resp.status_code == 200
    body = urllib.parse.urlencode(form({"RoleArn": role["Arn"], "RoleSessionName": "first",
                                        "WebIdentityToken": idp.token()})) + "&RoleSessionName=second"
    resp = httpx.post(server.url + "/", content=body,
                      headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
    assert resp.status_code == 200
    arn = ET.fromstring(resp.text).find(f"{NS}AssumeRoleWithWebIdentityResult/{NS}AssumedRoleUser/{NS}Arn")
    assert arn is not None and arn.text in (f"arn:aws:sts::{ACCOUNT}:assumed-role/{role['RoleName']}/first",
                                            f"arn:aws:sts::{ACCOUNT}:assumed-role/{role['RoleName']}/second")


# ---- 2. the response ----
def test_every_result_member_with_its_model_type(server, idp, role) -> None:
    claims = {"https://aws.amazon.com/source_identity": "alice-si",
              "https://aws.amazon.com/tags": {"principal_tags": {"team": ["blue"]}}}
    out = idp.assume(role, idp.token(sub="alice-subject", claims=claims), session="conf-shape")
    members = OP.output_shape.members
    sent = {k for k in out if k != "ResponseMetadata"}
    # SessionTokenUtilization, SessionTokenSize and TrustedIdentityPropagationContext are the
    # model's newest members, for MinimumSessionTokenSize and Identity Center; not produced here
    assert sent == set(members) - {"SessionTokenUtilization", "SessionTokenSize", "TrustedIdentityPropagationContext"}
    creds = out["Credentials"]
    assert set(creds) == set(members["Credentials"].members)
    assert creds["AccessKeyId"].startswith("ASIA") and len(creds["AccessKeyId"]) == 20
    assert len(creds["SecretAccessKey"]) == 40 and creds["SessionToken"]
    assert isinstance(creds["Expiration"], datetime) and creds["Expiration"].tzinfo is not None
    assert 3500 < (creds["Expiration"] - datetime.now(timezone.utc)).total_seconds() <= 3605
    assert out["AssumedRoleUser"] == {
        "AssumedRoleId": f"{role['RoleId']}:conf-shape",
        "Arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/{role['RoleName']}/conf-shape"}
    assert role["RoleId"].startswith("AROA")
    assert out["SubjectFromWebIdentityToken"] == "alice-subject"
    assert out["Provider"] == idp.arn and out["Audience"] == "sts.amazonaws.com"
    assert out["SourceIdentity"] == "alice-si"
    assert isinstance(out["PackedPolicySize"], int) and 0 <= out["PackedPolicySize"] <= 100


def test_the_xml_envelope(server, idp, role) -> None:
    resp = httpx.post(server.url + "/", data=form({"RoleArn": role["Arn"], "RoleSessionName": "conf",
                                                   "WebIdentityToken": idp.token()}))
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/xml")
    root = ET.fromstring(resp.text)
    assert root.tag == f"{NS}AssumeRoleWithWebIdentityResponse"
    assert [child.tag for child in root] == [f"{NS}AssumeRoleWithWebIdentityResult", f"{NS}ResponseMetadata"]
    request_id = root.findtext(f"{NS}ResponseMetadata/{NS}RequestId")
    assert request_id and resp.headers["x-amzn-requestid"] == request_id
    expiration = root.findtext(f"{NS}AssumeRoleWithWebIdentityResult/{NS}Credentials/{NS}Expiration")
    assert expiration is not None and expiration.endswith("Z")
    # without session policies or tags there is no PackedPolicySize, without the claim no SourceIdentity
    result = root.find(f"{NS}AssumeRoleWithWebIdentityResult")
    assert result is not None
    assert {child.tag.removeprefix(NS) for child in result} == {
        "Credentials", "SubjectFromWebIdentityToken", "AssumedRoleUser", "Provider", "Audience"}


def test_the_error_envelope(server, idp, role) -> None:
    resp = httpx.post(server.url + "/", data=form({"RoleArn": role["Arn"], "RoleSessionName": "conf",
                                                   "WebIdentityToken": idp.token(aud="nobody")}))
    assert resp.status_code == 400
    root = ET.fromstring(resp.text)
    assert root.tag == f"{NS}ErrorResponse"
    assert root.findtext(f"{NS}Error/{NS}Type") == "Sender"
    assert root.findtext(f"{NS}Error/{NS}Code") == "InvalidIdentityToken"
    assert root.findtext(f"{NS}Error/{NS}Message") == "Incorrect token audience"
    assert root.findtext(f"{NS}RequestId") == resp.headers["x-amzn-requestid"]


# ---- 3. error semantics ----
def test_refusals_with_their_codes_and_statuses(root_iam, idp, role) -> None:
    denied = "Not authorized to perform sts:AssumeRoleWithWebIdentity"
    unknown = {"Arn": f"arn:aws:iam::{ACCOUNT}:role/no-such-role-conformance"}
    assert refused(idp, unknown) == ("AccessDenied", denied, 403, "Sender")  # existence not revealed
    elsewhere = {"Arn": f"arn:aws:iam::{ACCOUNT}:role/elsewhere/{role['RoleName']}"}  # the path is part of the ARN
    assert refused(idp, elsewhere) == ("AccessDenied", denied, 403, "Sender")
    other = root_iam.create_role(RoleName=f"conf-other-{role['RoleName'][-10:]}", AssumeRolePolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRoleWithWebIdentity",
                                                 "Principal": {"Federated": "accounts.google.com"}}]}))["Role"]
    assert refused(idp, other) == ("AccessDenied", denied, 403, "Sender")  # trust names another provider
    assert refused(idp, role, WebIdentityToken=idp.token(aud="not-a-client-id")) == (
        "InvalidIdentityToken", "Incorrect token audience", 400, "Sender")
    trailing = idp.idp.url + "/"  # provider lookup is by the exact `iss` (AWS: the trailing slash counts)
    assert refused(idp, role, WebIdentityToken=idp.token(claims={"iss": trailing})) == (
        "InvalidIdentityToken", f"No OpenIDConnect provider found in your account for {trailing}", 400, "Sender")
    code, text, status, kind = refused(idp, role, WebIdentityToken=idp.token(exp_in=-400))
    assert (code, status, kind) == ("ExpiredTokenException", 400, "Sender")
    assert text.startswith("Token expired: current date/time ") and " must be before the expiration date/time " in text
    code, _, status, kind = refused(idp, role, WebIdentityToken="abcd.efgh.ijkl")
    assert (code, status, kind) == ("InvalidIdentityToken", 400, "Sender")


def test_a_role_of_another_account_finds_no_provider(idp, role) -> None:
    """AWS looks the token's provider up in the role's account (the provider and the role must
    be in one account): for a role of an account this server does not hold, there is none."""
    other = {"Arn": f"arn:aws:iam::999999999999:role/{role['RoleName']}"}
    assert refused(idp, other) == (
        "InvalidIdentityToken", f"No OpenIDConnect provider found in your account for {idp.idp.url}", 400, "Sender")


def test_a_role_arn_of_another_partition_is_not_the_role(idp, role) -> None:
    """`arn:aws-cn:...:role/X` names a role this (aws partition) server does not hold: refused as
    an unknown role, never a session of the `aws` role X."""
    other = {"Arn": role["Arn"].replace("arn:aws:", "arn:aws-cn:", 1)}
    assert refused(idp, other) == ("AccessDenied", "Not authorized to perform sts:AssumeRoleWithWebIdentity",
                                   403, "Sender")


# ---- 4. transport: unsigned, signed, badly signed, GET ----
def _signed(server: Any, body: str, akid: str, secret: str, token: str | None = None) -> httpx.Response:
    req = AWSRequest("POST", server.url + "/", data=body,
                     headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
    SigV4Auth(Credentials(akid, secret, token), "sts", REGION).add_auth(req)
    return httpx.post(server.url + "/", content=body, headers=dict(req.headers.items()))


def test_the_model_marks_the_action_unsigned() -> None:
    assert OP.auth == ["smithy.api#noAuth"] and OP.auth_type == "none"


@pytest.mark.parametrize("how", ["signed", "wrong-secret", "unknown-key", "garbage-authorization",
                                 "presign-query", "get-query"])
def test_authentication_is_ignored(server, idp, role, how) -> None:
    """AWS does not authenticate this action: a signature, good or bad, changes nothing (a
    client with bogus credentials succeeds: aws/aws-sdk-java#2010); GET with a query string
    is the legacy Query form of the same request."""
    params = form({"RoleArn": role["Arn"], "RoleSessionName": "conf", "WebIdentityToken": idp.token()})
    body = urllib.parse.urlencode(params)
    plain = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
    if how == "signed":
        resp = _signed(server, body, ROOT_AKID, ROOT_SECRET)
    elif how == "wrong-secret":
        resp = _signed(server, body, ROOT_AKID, "x" * 40)
    elif how == "unknown-key":
        resp = _signed(server, body, "AKIAUNKNOWNKEY000000", "x" * 40)
    elif how == "garbage-authorization":
        resp = httpx.post(server.url + "/", content=body, headers={**plain, "Authorization": "garbage"})
    elif how == "presign-query":
        resp = httpx.post(server.url + "/", params={
            "X-Amz-Algorithm": "AWS4-HMAC-SHA256", "X-Amz-Credential": "AKIAX/20200101/us-east-1/sts/aws4_request",
            "X-Amz-Date": "20200101T000000Z", "X-Amz-SignedHeaders": "host", "X-Amz-Signature": "00"},
            content=body, headers=plain)
    else:
        resp = httpx.get(server.url + "/", params=params)
    assert resp.status_code == 200, resp.text
    arn = ET.fromstring(resp.text).findtext(f"{NS}AssumeRoleWithWebIdentityResult/{NS}AssumedRoleUser/{NS}Arn")
    assert arn == f"arn:aws:sts::{ACCOUNT}:assumed-role/{role['RoleName']}/conf"


def test_signed_by_a_role_session_is_not_role_chaining(server, idp) -> None:
    """The web identity is the caller whatever signs the request: signed with a role session's
    credentials, the 1-hour role-chaining limit does not apply (up to the role's maximum)."""
    long = idp.role(max_duration=7200)
    first = idp.assume(long)["Credentials"]
    body = urllib.parse.urlencode(form({"RoleArn": long["Arn"], "RoleSessionName": "conf-signed",
                                        "WebIdentityToken": idp.token(), "DurationSeconds": "7200"}))
    resp = _signed(server, body, first["AccessKeyId"], first["SecretAccessKey"], first["SessionToken"])
    assert resp.status_code == 200, resp.text
    expiration = ET.fromstring(resp.text).findtext(
        f"{NS}AssumeRoleWithWebIdentityResult/{NS}Credentials/{NS}Expiration")
    assert expiration is not None
    left = (datetime.strptime(expiration, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
            - datetime.now(timezone.utc)).total_seconds()
    assert 7100 < left <= 7205


def test_boto3_with_credentials_configured(server, idp, role) -> None:
    """A client holding (here: the root's) credentials still sends the call unsigned and it works."""
    out = client(server, "sts", ROOT_AKID, ROOT_SECRET).assume_role_with_web_identity(
        RoleArn=role["Arn"], RoleSessionName="with-creds", WebIdentityToken=idp.token())
    assert out["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/{role['RoleName']}/with-creds"


# ---- 5. the credentials in use ----
def test_get_caller_identity_and_the_web_identity_keys_in_the_session(server, root_iam, idp) -> None:
    policy = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": "iam:GetRole", "Resource": "*", "Condition": {"StringEquals": {
            f"{idp.prefix}:sub": "carol", f"{idp.prefix}:aud": "sts.amazonaws.com",
            "aws:FederatedProvider": idp.arn}}}]})
    role = idp.role(policy=policy)
    out = idp.assume(role, idp.token(sub="carol"), session="gci")
    me = session_client(server, out, "sts").get_caller_identity()
    assert (me["UserId"], me["Account"], me["Arn"]) == (
        f"{role['RoleId']}:gci", ACCOUNT, f"arn:aws:sts::{ACCOUNT}:assumed-role/{role['RoleName']}/gci")
    assert session_client(server, out, "iam").get_role(RoleName=role["RoleName"])["Role"]["Arn"] == role["Arn"]
    dave = idp.assume(role, idp.token(sub="dave"), session="gci")
    with pytest.raises(ClientError) as exc:
        session_client(server, dave, "iam").get_role(RoleName=role["RoleName"])
    assert aws_error(exc)[0] == "AccessDenied"


def test_multivalued_amr_and_azp_keys_in_later_calls(server, idp) -> None:
    """`<provider>:amr` (every value) and, for a token with `azp`, `<provider>:aud` = the azp and
    `<provider>:oaud` = the token's aud stay on the session for the role's permission policy."""
    policy = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": "iam:GetRole", "Resource": "*", "Condition": {
            "ForAnyValue:StringEquals": {f"{idp.prefix}:amr": "mfa"},
            "StringEquals": {f"{idp.prefix}:aud": "tessera-demo", f"{idp.prefix}:oaud": "https://api.example.test"}}}]})
    role = idp.role(policy=policy)
    with_mfa = idp.assume(role, idp.token(aud="https://api.example.test",
                                          claims={"azp": "tessera-demo", "amr": ["pwd", "mfa"]}))
    assert with_mfa["Audience"] == "tessera-demo"
    assert session_client(server, with_mfa, "iam").get_role(RoleName=role["RoleName"])
    without = idp.assume(role, idp.token(aud="https://api.example.test", claims={"azp": "tessera-demo", "amr": ["pwd"]}))
    with pytest.raises(ClientError) as exc:
        session_client(server, without, "iam").get_role(RoleName=role["RoleName"])
    assert aws_error(exc)[0] == "AccessDenied"
