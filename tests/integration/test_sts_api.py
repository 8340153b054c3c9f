"""STS through unmodified boto3 against the real server and Redis."""
from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
from botocore.exceptions import ClientError

from .conftest import ACCOUNT, allow, client, trust, unique


def code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def test_get_caller_identity_root(root_sts):
    ident = root_sts.get_caller_identity()
    assert ident["Arn"] == f"arn:aws:iam::{ACCOUNT}:root"
    assert ident["UserId"] == ACCOUNT
    assert ident["Account"] == ACCOUNT


def test_get_caller_identity_user_with_path(server, make_user):
    user = make_user(None, path="/division/")
    ident = user.client(server, "sts").get_caller_identity()
    assert ident["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/division/{user.name}"
    assert ident["UserId"].startswith("AIDA") and len(ident["UserId"]) == 21


def test_get_caller_identity_never_denied(server, make_user, root_iam):
    deny = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*"}]})
    user = make_user(deny)
    assert user.client(server, "sts").get_caller_identity()["Arn"] == user.arn


def _role(root_iam, trust_doc: str, *, policy: str | None = None, max_duration: int | None = None, path: str = "/"):
    name = unique("role")
    kw = {"MaxSessionDuration": max_duration} if max_duration else {}
    role = root_iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust_doc, Path=path, **kw)["Role"]
    if policy:
        root_iam.put_role_policy(RoleName=name, PolicyName="p", PolicyDocument=policy)
    return role


def _session(server, creds):
    return lambda svc: client(server, svc, creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])


def test_assume_role_allowed_by_user_arn_in_trust(server, make_user, root_iam):
    user = make_user(None)  # no identity policy needed: the trust policy names the user
    role = _role(root_iam, trust({"AWS": user.arn}), path="/app/")
    out = user.client(server, "sts").assume_role(RoleArn=role["Arn"], RoleSessionName="s1", DurationSeconds=900)
    creds = out["Credentials"]
    assert creds["AccessKeyId"].startswith("ASIA") and len(creds["AccessKeyId"]) == 20
    assert len(creds["SecretAccessKey"]) == 40
    assert creds["Expiration"].tzinfo is not None
    remaining = (creds["Expiration"] - datetime.now(timezone.utc)).total_seconds()
    assert 800 < remaining <= 905
    assert out["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/{role['RoleName']}/s1"
    assert out["AssumedRoleUser"]["AssumedRoleId"] == f"{role['RoleId']}:s1"
    ident = _session(server, creds)("sts").get_caller_identity()
    assert ident["Arn"] == out["AssumedRoleUser"]["Arn"]
    assert ident["UserId"] == f"{role['RoleId']}:s1"


def test_assume_role_denied_by_trust(server, make_user, root_iam):
    user = make_user(allow("sts:AssumeRole"))
    other = make_user(None)
    role = _role(root_iam, trust({"AWS": other.arn}))
    with pytest.raises(ClientError) as exc:
        user.client(server, "sts").assume_role(RoleArn=role["Arn"], RoleSessionName="s1")
    assert code(exc) == "AccessDenied"
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_assume_role_account_trust_needs_identity_policy(server, make_user, root_iam):
    role = _role(root_iam, trust({"AWS": f"arn:aws:iam::{ACCOUNT}:root"}))
    without = make_user(None)
    with pytest.raises(ClientError) as exc:
        without.client(server, "sts").assume_role(RoleArn=role["Arn"], RoleSessionName="s1")
    assert code(exc) == "AccessDenied"
    allowed = make_user(allow("sts:AssumeRole", role["Arn"]))
    out = allowed.client(server, "sts").assume_role(RoleArn=role["Arn"], RoleSessionName="s1")
    assert out["Credentials"]["AccessKeyId"].startswith("ASIA")


def test_assume_role_denied_by_identity_policy(server, make_user, root_iam):
    role = _role(root_iam, trust({"AWS": f"arn:aws:iam::{ACCOUNT}:root"}))
    deny = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"},
                {"Effect": "Deny", "Action": "sts:AssumeRole", "Resource": role["Arn"]},
            ],
        }
    )
    user = make_user(deny)
    with pytest.raises(ClientError) as exc:
        user.client(server, "sts").assume_role(RoleArn=role["Arn"], RoleSessionName="s1")
    assert code(exc) == "AccessDenied"


def test_assume_role_external_id(server, make_user, root_iam):
    user = make_user(None)
    role = _role(root_iam, trust({"AWS": user.arn}, condition={"StringEquals": {"sts:ExternalId": "ext-123"}}))
    sts = user.client(server, "sts")
    for bad in ({}, {"ExternalId": "ext-999"}):
        with pytest.raises(ClientError) as exc:
            sts.assume_role(RoleArn=role["Arn"], RoleSessionName="s1", **bad)
        assert code(exc) == "AccessDenied"
    assert sts.assume_role(RoleArn=role["Arn"], RoleSessionName="s1", ExternalId="ext-123")["Credentials"]


def test_root_cannot_assume_role(root_sts, root_iam):
    role = _role(root_iam, trust({"AWS": f"arn:aws:iam::{ACCOUNT}:root"}))
    with pytest.raises(ClientError) as exc:
        root_sts.assume_role(RoleArn=role["Arn"], RoleSessionName="s1")
    assert code(exc) == "AccessDenied"
    assert "root" in exc.value.response["Error"]["Message"]


def test_duration_bounds(server, make_user, root_iam):
    user = make_user(None)
    role = _role(root_iam, trust({"AWS": user.arn}), max_duration=7200)
    sts = user.client(server, "sts")
    with pytest.raises(ClientError) as exc:
        sts.assume_role(RoleArn=role["Arn"], RoleSessionName="s1", DurationSeconds=7201)
    assert code(exc) == "ValidationError"
    assert "MaxSessionDuration" in exc.value.response["Error"]["Message"]
    unchecked = client(server, "sts", user.akid, user.secret, parameter_validation=False)
    with pytest.raises(ClientError) as exc:
        unchecked.assume_role(RoleArn=role["Arn"], RoleSessionName="s1", DurationSeconds=600)
    assert code(exc) == "ValidationError"
    assert "greater than or equal to 900" in exc.value.response["Error"]["Message"]
    out = sts.assume_role(RoleArn=role["Arn"], RoleSessionName="s1", DurationSeconds=7200)
    remaining = (out["Credentials"]["Expiration"] - datetime.now(timezone.utc)).total_seconds()
    assert 7100 < remaining <= 7205


def test_role_chaining_capped_at_one_hour(server, make_user, root_iam):
    user = make_user(None)
    first = _role(root_iam, trust({"AWS": user.arn}), max_duration=7200)
    creds = user.client(server, "sts").assume_role(RoleArn=first["Arn"], RoleSessionName="a0")["Credentials"]
    second = _role(root_iam, trust({"AWS": first["Arn"]}), max_duration=7200)
    chained = _session(server, creds)("sts")
    with pytest.raises(ClientError) as exc:
        chained.assume_role(RoleArn=second["Arn"], RoleSessionName="b0", DurationSeconds=3601)
    assert code(exc) == "ValidationError"
    assert "1 hour session limit for roles assumed by role chaining" in exc.value.response["Error"]["Message"]
    out = chained.assume_role(RoleArn=second["Arn"], RoleSessionName="b0", DurationSeconds=3600)
    assert out["AssumedRoleUser"]["Arn"].endswith(f"/{second['RoleName']}/b0")


def test_session_policy_narrows(server, make_user, root_iam):
    user = make_user(None)
    role = _role(root_iam, trust({"AWS": user.arn}), policy=allow(["iam:ListUsers", "iam:ListRoles"]))
    narrowed = allow("iam:ListUsers")
    creds = user.client(server, "sts").assume_role(RoleArn=role["Arn"], RoleSessionName="s0", Policy=narrowed)["Credentials"]
    iam = _session(server, creds)("iam")
    iam.list_users()
    with pytest.raises(ClientError) as exc:
        iam.list_roles()
    assert code(exc) == "AccessDenied"
    full = user.client(server, "sts").assume_role(RoleArn=role["Arn"], RoleSessionName="s0")["Credentials"]
    _session(server, full)("iam").list_roles()


def test_session_policy_arns(server, make_user, root_iam):
    user = make_user(None)
    role = _role(root_iam, trust({"AWS": user.arn}), policy=allow(["iam:ListUsers", "iam:ListRoles"]))
    managed = root_iam.create_policy(PolicyName=unique("pol"), PolicyDocument=allow("iam:ListRoles"))["Policy"]
    creds = user.client(server, "sts").assume_role(
        RoleArn=role["Arn"], RoleSessionName="s0", PolicyArns=[{"arn": managed["Arn"]}]
    )["Credentials"]
    iam = _session(server, creds)("iam")
    iam.list_roles()
    with pytest.raises(ClientError) as exc:
        iam.list_users()
    assert code(exc) == "AccessDenied"


def test_malformed_session_policy(server, make_user, root_iam):
    user = make_user(None)
    role = _role(root_iam, trust({"AWS": user.arn}))
    with pytest.raises(ClientError) as exc:
        user.client(server, "sts").assume_role(RoleArn=role["Arn"], RoleSessionName="s0", Policy='{"Statement": [}')
    assert code(exc) == "MalformedPolicyDocument"


def test_tags_need_tag_session(server, make_user, root_iam):
    user = make_user(None)
    plain = _role(root_iam, trust({"AWS": user.arn}))
    tagging = _role(root_iam, trust({"AWS": user.arn}, ["sts:AssumeRole", "sts:TagSession"]))
    sts = user.client(server, "sts")
    tags = [{"Key": "project", "Value": "blue"}]
    with pytest.raises(ClientError) as exc:
        sts.assume_role(RoleArn=plain["Arn"], RoleSessionName="s0", Tags=tags)
    assert code(exc) == "AccessDenied"
    out = sts.assume_role(RoleArn=tagging["Arn"], RoleSessionName="s0", Tags=tags, TransitiveTagKeys=["project"])
    assert out["Credentials"]["AccessKeyId"].startswith("ASIA")
    assert "PackedPolicySize" in out


def test_session_tags_reach_policy_conditions(server, make_user, root_iam):
    user = make_user(None)
    policy = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": "iam:ListUsers",
                    "Resource": "*",
                    "Condition": {"StringEquals": {"aws:PrincipalTag/project": "blue"}},
                }
            ],
        }
    )
    role = _role(root_iam, trust({"AWS": user.arn}, ["sts:AssumeRole", "sts:TagSession"]), policy=policy)
    sts = user.client(server, "sts")
    blue = sts.assume_role(RoleArn=role["Arn"], RoleSessionName="s0", Tags=[{"Key": "project", "Value": "blue"}])
    _session(server, blue["Credentials"])("iam").list_users()
    red = sts.assume_role(RoleArn=role["Arn"], RoleSessionName="s0", Tags=[{"Key": "project", "Value": "red"}])
    with pytest.raises(ClientError) as exc:
        _session(server, red["Credentials"])("iam").list_users()
    assert code(exc) == "AccessDenied"


def test_source_identity_needs_permission(server, make_user, root_iam):
    user = make_user(None)
    plain = _role(root_iam, trust({"AWS": user.arn}))
    allowed = _role(root_iam, trust({"AWS": user.arn}, ["sts:AssumeRole", "sts:SetSourceIdentity"]))
    sts = user.client(server, "sts")
    with pytest.raises(ClientError) as exc:
        sts.assume_role(RoleArn=plain["Arn"], RoleSessionName="s0", SourceIdentity="alice")
    assert code(exc) == "AccessDenied"
    out = sts.assume_role(RoleArn=allowed["Arn"], RoleSessionName="s0", SourceIdentity="alice")
    assert out["SourceIdentity"] == "alice"


def test_unknown_role_is_access_denied(server, make_user):
    user = make_user(allow("sts:AssumeRole"))
    with pytest.raises(ClientError) as exc:
        user.client(server, "sts").assume_role(RoleArn=f"arn:aws:iam::{ACCOUNT}:role/does-not-exist", RoleSessionName="s0")
    assert code(exc) == "AccessDenied"


def test_get_session_token(server, make_user, root_sts):
    user = make_user(None)
    out = user.client(server, "sts").get_session_token(DurationSeconds=900)
    creds = out["Credentials"]
    assert creds["AccessKeyId"].startswith("ASIA")
    ident = _session(server, creds)("sts").get_caller_identity()
    assert ident["Arn"] == user.arn
    with pytest.raises(ClientError) as exc:
        _session(server, creds)("sts").get_session_token()
    assert code(exc) == "AccessDenied"
    root = root_sts.get_session_token(DurationSeconds=7200)["Credentials"]
    remaining = (root["Expiration"] - datetime.now(timezone.utc)).total_seconds()
    assert remaining <= 3605


def test_get_access_key_info(server, make_user, root_sts):
    user = make_user(None)
    assert root_sts.get_access_key_info(AccessKeyId=user.akid)["Account"] == ACCOUNT


def test_session_of_deleted_role_is_rejected(server, make_user, root_iam):
    user = make_user(None)
    role = _role(root_iam, trust({"AWS": user.arn}))
    creds = user.client(server, "sts").assume_role(RoleArn=role["Arn"], RoleSessionName="s0")["Credentials"]
    sts = _session(server, creds)("sts")
    sts.get_caller_identity()
    root_iam.delete_role(RoleName=role["RoleName"])
    with pytest.raises(ClientError) as exc:
        sts.get_caller_identity()
    assert code(exc) == "InvalidClientTokenId"
