"""Hostile and malformed input: AWS's error codes and clear messages, never a 5xx."""
from __future__ import annotations

import json

import httpx
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from .conftest import REGION, ROOT_AKID, ROOT_SECRET, unique


def post(server, body: str | bytes, service: str = "iam", headers: dict[str, str] | None = None) -> httpx.Response:
    req = AWSRequest(method="POST", url=server.url + "/", data=body, headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8", **(headers or {})})
    SigV4Auth(Credentials(ROOT_AKID, ROOT_SECRET), service, REGION).add_auth(req)
    return httpx.post(req.url, content=req.body, headers=dict(req.headers.items()))


def err(resp: httpx.Response) -> tuple[int, str, str]:
    t = resp.text
    return resp.status_code, t.split("<Code>")[1].split("</Code>")[0], t.split("<Message>")[1].split("</Message>")[0]


def test_unknown_action(server):
    status, code, msg = err(post(server, "Action=FlyToTheMoon&Version=2010-05-08"))
    assert (status, code) == (400, "InvalidAction")
    assert "FlyToTheMoon" in msg


def test_oversized_body_refused(server):
    body = "Action=ListUsers&Version=2010-05-08&Pad=" + "a" * (1024 * 1024 + 10)
    resp = httpx.post(server.url + "/", content=body, headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert resp.status_code == 413
    assert "RequestEntityTooLarge" in resp.text


def test_wrong_types(server):
    status, code, msg = err(post(server, "Action=ListUsers&Version=2010-05-08&MaxItems=lots"))
    assert (status, code) == (400, "ValidationError")
    status, code, msg = err(post(server, "Action=ListUsers&Version=2010-05-08&MaxItems=5000"))
    assert (status, code) == (400, "ValidationError") and "maxItems" in msg


def test_invalid_names_and_lengths(root_iam):
    for bad in ("bad name!", "x" * 65):
        with pytest.raises(ClientError) as exc:
            root_iam.create_user(UserName=bad)
        assert exc.value.response["Error"]["Code"] == "ValidationError"
        assert "userName" in exc.value.response["Error"]["Message"]


def test_non_utf8_body(server):
    resp = post(server, b"Action=ListUsers&Version=2010-05-08&PathPrefix=%FF\xff\xfe")
    assert 400 <= resp.status_code < 500


def test_invalid_arns(root_iam, root_sts):
    with pytest.raises(ClientError) as exc:
        root_iam.get_policy(PolicyArn="arn:aws:iam::123456789012:policy")
    assert exc.value.response["Error"]["Code"] in ("ValidationError", "InvalidInput", "NoSuchEntity")
    with pytest.raises(ClientError) as exc:
        root_iam.attach_user_policy(UserName="nobody", PolicyArn="not-an-arn-at-all-xxxxx")
    assert exc.value.response["Error"]["Code"] in ("ValidationError", "InvalidInput")


@pytest.mark.parametrize(
    "document",
    [
        "{",
        "[]",
        json.dumps({"Version": "2012-10-17"}),
        json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Maybe", "Action": "*", "Resource": "*"}]}),
        json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Resource": "*"}]}),
        json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*", "Principal": "*"}]}),
        json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": {"StringEqualz": {"a:b": "c"}}}]}),
        '{"Version": "2012-10-17", "Version": "2012-10-17", "Statement": []}',
    ],
)
def test_malformed_policies(root_iam, document):
    user = unique("u")
    root_iam.create_user(UserName=user)
    with pytest.raises(ClientError) as exc:
        root_iam.put_user_policy(UserName=user, PolicyName="p", PolicyDocument=document)
    assert exc.value.response["Error"]["Code"] == "MalformedPolicyDocument"
    assert exc.value.response["Error"]["Message"]
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_oversized_managed_policy(root_iam):
    big = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": f"s3:GetObject{i:05d}", "Resource": "*"} for i in range(300)]}
    with pytest.raises(ClientError) as exc:
        root_iam.create_policy(PolicyName=unique("p"), PolicyDocument=json.dumps(big))
    assert exc.value.response["Error"]["Code"] in ("LimitExceeded", "MalformedPolicyDocument")


def test_garbage_query_strings_never_5xx(server):
    bodies = [
        "",
        "Action=",
        "Action=ListUsers",
        "Version=2010-05-08",
        "Action=ListUsers&Version=1999-01-01",
        "Action=CreateUser&Version=2010-05-08",
        "Action=CreateUser&Version=2010-05-08&UserName=a&Tags.member.%C2%B2.Key=x",
        "Action=CreateUser&Version=2010-05-08&UserName=a&Tags.member.99999999999999999999.Key=x",
        "Action=CreateUser&Version=2010-05-08&UserName=a&Tags.member.1.Key=" + "k" * 500,
        "Action=AssumeRole&Version=2011-06-15&RoleArn=x&RoleSessionName=y",
        "%%%%&&&===",
    ]
    for body in bodies:
        service = "sts" if "2011-06-15" in body else "iam"
        resp = post(server, body, service=service)
        assert resp.status_code < 500, (body, resp.text)
        assert "<Code>" in resp.text or resp.status_code == 200


def test_unsigned_actions_validate_before_anything(server):
    body = "Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn=arn:aws:iam::123456789012:role/x&RoleSessionName=s&WebIdentityToken=abc"
    resp = httpx.post(server.url + "/", content=body, headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert 400 <= resp.status_code < 500
