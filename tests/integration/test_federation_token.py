"""GetFederationToken through unmodified boto3: federated-user sessions of an IAM user or the
root, as AWS issues them (identity, limits, tags, refusals)."""
from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
from botocore.exceptions import ClientError

from .conftest import ACCOUNT, ROOT_AKID, ROOT_SECRET, allow, client

S3_ONLY = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]})


def error(call) -> dict:
    with pytest.raises(ClientError) as exc:
        call()
    return exc.value.response["Error"]


def session_client(server, service, creds):
    return client(server, service, creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])


def test_a_user_gets_a_federated_user_session(server, make_user) -> None:
    alice = make_user(allow("sts:GetFederationToken", f"arn:aws:sts::{ACCOUNT}:federated-user/*"))
    out = alice.client(server, "sts").get_federation_token(Name="partner-1", Policy=S3_ONLY, DurationSeconds=900)
    assert out["FederatedUser"] == {"FederatedUserId": f"{ACCOUNT}:partner-1",
                                    "Arn": f"arn:aws:sts::{ACCOUNT}:federated-user/partner-1"}
    assert 0 < out["PackedPolicySize"] <= 100
    creds = out["Credentials"]
    assert creds["AccessKeyId"].startswith("ASIA") and len(creds["SecretAccessKey"]) == 40
    left = (creds["Expiration"] - datetime.now(timezone.utc)).total_seconds()
    assert 850 < left <= 900
    me = session_client(server, "sts", creds).get_caller_identity()
    assert me["Arn"] == out["FederatedUser"]["Arn"] and me["UserId"] == f"{ACCOUNT}:partner-1"


def test_federated_sessions_reach_neither_iam_nor_sts(server, make_user, root_iam) -> None:
    alice = make_user(allow(["sts:GetFederationToken", "iam:*", "sts:*"]))
    creds = alice.client(server, "sts").get_federation_token(
        Name="fed", Policy=json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "*", "Resource": "*"}]}))["Credentials"]
    assert error(lambda: session_client(server, "iam", creds).list_users())["Code"] == "AccessDenied"
    role = root_iam.create_role(RoleName="fed-target", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": alice.arn},
                                                "Action": "sts:AssumeRole"}]}))["Role"]
    assert error(lambda: session_client(server, "sts", creds).assume_role(
        RoleArn=role["Arn"], RoleSessionName="x1"))["Code"] == "AccessDenied"
    refused = error(lambda: session_client(server, "sts", creds).get_federation_token(Name="again"))
    assert refused == {"Type": "Sender", "Code": "AccessDenied",
                       "Message": "Cannot call GetFederationToken with session credentials"}


def test_permission_tags_and_bad_input(server, make_user) -> None:
    nobody = make_user(allow("sts:GetCallerIdentity"))
    assert error(lambda: nobody.client(server, "sts").get_federation_token(Name="x1"))["Code"] == "AccessDenied"
    alice = make_user(allow("sts:GetFederationToken"))
    sts = alice.client(server, "sts")
    denied = error(lambda: sts.get_federation_token(Name="tagged", Tags=[{"Key": "team", "Value": "a"}]))
    assert denied["Code"] == "AccessDenied" and "sts:TagSession" in denied["Message"]
    bob = make_user(allow(["sts:GetFederationToken", "sts:TagSession"]))
    out = bob.client(server, "sts").get_federation_token(Name="tagged", Tags=[{"Key": "team", "Value": "a"}])
    assert out["PackedPolicySize"] > 0
    assert error(lambda: sts.get_federation_token(Name="x1", Policy="{not json"))["Code"] == "MalformedPolicyDocument"
    assert error(lambda: sts.get_federation_token(Name="x1", DurationSeconds=129601))["Code"] == "ValidationError"
    assert error(lambda: sts.get_federation_token(Name="bad name"))["Code"] == "ValidationError"


def test_the_root_gets_at_most_an_hour(server) -> None:
    sts = client(server, "sts", ROOT_AKID, ROOT_SECRET)
    out = sts.get_federation_token(Name="root-fed", Policy=S3_ONLY, DurationSeconds=43200)
    left = (out["Credentials"]["Expiration"] - datetime.now(timezone.utc)).total_seconds()
    assert 3500 < left <= 3600
    me = session_client(server, "sts", out["Credentials"]).get_caller_identity()
    assert me["Arn"] == f"arn:aws:sts::{ACCOUNT}:federated-user/root-fed"


def test_deleting_the_user_ends_its_federated_sessions(server, make_user, root_iam) -> None:
    carol = make_user(allow("sts:GetFederationToken"))
    creds = carol.client(server, "sts").get_federation_token(Name="carol-fed", Policy=S3_ONLY)["Credentials"]
    assert session_client(server, "sts", creds).get_caller_identity()["Account"] == ACCOUNT
    root_iam.delete_user_policy(UserName=carol.name, PolicyName="p")
    root_iam.delete_access_key(UserName=carol.name, AccessKeyId=carol.akid)
    root_iam.delete_user(UserName=carol.name)
    assert error(lambda: session_client(server, "sts", creds).get_caller_identity())["Code"] == "InvalidClientTokenId"
