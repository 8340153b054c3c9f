"""IAM through unmodified boto3 against the real server and Redis."""
from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from .conftest import ACCOUNT, allow, trust, unique

DOC = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}]}


def code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def status(exc: pytest.ExceptionInfo[ClientError]) -> int:
    return int(exc.value.response["ResponseMetadata"]["HTTPStatusCode"])


def test_user_lifecycle(root_iam):
    name = unique("alice")
    user = root_iam.create_user(UserName=name, Path="/eng/", Tags=[{"Key": "team", "Value": "a"}])["User"]
    assert user["UserId"].startswith("AIDA") and len(user["UserId"]) == 21
    assert user["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/eng/{name}"
    got = root_iam.get_user(UserName=name)["User"]
    assert got["UserId"] == user["UserId"] and got["Tags"] == [{"Key": "team", "Value": "a"}]
    with pytest.raises(ClientError) as exc:
        root_iam.create_user(UserName=name.upper())
    assert code(exc) == "EntityAlreadyExists" and status(exc) == 409
    new = name + "-renamed"
    root_iam.update_user(UserName=name, NewUserName=new, NewPath="/ops/")
    assert root_iam.get_user(UserName=new)["User"]["Arn"].endswith(f":user/ops/{new}")
    root_iam.tag_user(UserName=new, Tags=[{"Key": "env", "Value": "prod"}])
    root_iam.untag_user(UserName=new, TagKeys=["team"])
    assert root_iam.list_user_tags(UserName=new)["Tags"] == [{"Key": "env", "Value": "prod"}]
    root_iam.delete_user(UserName=new)
    with pytest.raises(ClientError) as exc:
        root_iam.get_user(UserName=new)
    assert code(exc) == "NoSuchEntity" and status(exc) == 404


def test_ids_never_reused(root_iam):
    name = unique("bob")
    first = root_iam.create_user(UserName=name)["User"]["UserId"]
    root_iam.delete_user(UserName=name)
    assert root_iam.create_user(UserName=name)["User"]["UserId"] != first


def test_list_users_pagination_and_path_prefix(root_iam):
    prefix = f"/{unique('p')}/"
    names = sorted(unique("u") for _ in range(7))
    for n in names:
        root_iam.create_user(UserName=n, Path=prefix)
    seen, marker = [], None
    while True:
        kw = {"PathPrefix": prefix, "MaxItems": 3}
        if marker:
            kw["Marker"] = marker
        page = root_iam.list_users(**kw)
        seen += [u["UserName"] for u in page["Users"]]
        if not page["IsTruncated"]:
            break
        marker = page["Marker"]
    assert seen == names
    paginated = [u["UserName"] for p in root_iam.get_paginator("list_users").paginate(PathPrefix=prefix, PaginationConfig={"PageSize": 2}) for u in p["Users"]]
    assert paginated == names


def test_groups_and_membership(root_iam):
    group, user = unique("g"), unique("u")
    g = root_iam.create_group(GroupName=group)["Group"]
    assert g["GroupId"].startswith("AGPA")
    root_iam.create_user(UserName=user)
    root_iam.add_user_to_group(GroupName=group, UserName=user)
    assert [x["UserName"] for x in root_iam.get_group(GroupName=group)["Users"]] == [user]
    assert [x["GroupName"] for x in root_iam.list_groups_for_user(UserName=user)["Groups"]] == [group]
    with pytest.raises(ClientError) as exc:
        root_iam.delete_group(GroupName=group)
    assert code(exc) == "DeleteConflict"
    with pytest.raises(ClientError) as exc:
        root_iam.delete_user(UserName=user)
    assert code(exc) == "DeleteConflict"
    root_iam.remove_user_from_group(GroupName=group, UserName=user)
    root_iam.delete_group(GroupName=group)
    root_iam.delete_user(UserName=user)


def test_roles(root_iam):
    name = unique("r")
    doc = trust({"AWS": f"arn:aws:iam::{ACCOUNT}:root"})
    role = root_iam.create_role(RoleName=name, AssumeRolePolicyDocument=doc, Path="/svc/", Description="d", MaxSessionDuration=7200, Tags=[{"Key": "k", "Value": "v"}])["Role"]
    assert role["RoleId"].startswith("AROA")
    assert role["Arn"] == f"arn:aws:iam::{ACCOUNT}:role/svc/{name}"
    assert role["AssumeRolePolicyDocument"] == json.loads(doc)
    got = root_iam.get_role(RoleName=name)["Role"]
    assert got["MaxSessionDuration"] == 7200 and got["Description"] == "d"
    root_iam.update_role(RoleName=name, MaxSessionDuration=3600, Description="e")
    assert root_iam.get_role(RoleName=name)["Role"]["MaxSessionDuration"] == 3600
    new_doc = trust({"Service": "ec2.amazonaws.com"})
    root_iam.update_assume_role_policy(RoleName=name, PolicyDocument=new_doc)
    assert root_iam.get_role(RoleName=name)["Role"]["AssumeRolePolicyDocument"] == json.loads(new_doc)
    with pytest.raises(ClientError) as exc:
        root_iam.update_role(RoleName=name, MaxSessionDuration=100000)
    assert code(exc) == "ValidationError"
    root_iam.put_role_policy(RoleName=name, PolicyName="inline", PolicyDocument=json.dumps(DOC))
    with pytest.raises(ClientError) as exc:
        root_iam.delete_role(RoleName=name)
    assert code(exc) == "DeleteConflict"
    root_iam.delete_role_policy(RoleName=name, PolicyName="inline")
    root_iam.delete_role(RoleName=name)


def test_role_trust_policy_validation(root_iam):
    def refused(call: Any, **kwargs: Any) -> str:
        with pytest.raises(ClientError) as exc:
            call(**kwargs)
        assert code(exc) == "MalformedPolicyDocument"
        return str(exc.value.response["Error"]["Message"])

    # an identity policy given as a trust policy: AWS names the Resource first
    assert refused(root_iam.create_role, RoleName=unique("r"),
                   AssumeRolePolicyDocument=json.dumps(DOC)).startswith("Has prohibited field Resource")
    assert refused(root_iam.create_role, RoleName=unique("r"),
                   AssumeRolePolicyDocument="{not json") == "This policy contains invalid Json"
    only_sts = "AssumeRole policy may only specify STS AssumeRole actions."
    ec2 = {"Service": "ec2.amazonaws.com"}
    assert refused(root_iam.create_role, RoleName=unique("r"),
                   AssumeRolePolicyDocument=trust(ec2, "s3:GetObject")).startswith(only_sts)
    name = unique("r")
    root_iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust(ec2, ["sts:AssumeRole", "sts:TagSession"]))
    assert refused(root_iam.update_assume_role_policy, RoleName=name,
                   PolicyDocument=trust(ec2, ["sts:BadAssumeRole"])).startswith(only_sts)
    for actions in ("sts:*", "*", ["sts:AssumeRole", "sts:SetSourceIdentity", "sts:SetContext"]):
        root_iam.update_assume_role_policy(RoleName=name, PolicyDocument=trust(ec2, actions))
    # web-identity keys of a provider whose URL has a path need no vendor prefix
    eks = "oidc.eks.us-east-1.amazonaws.com/id/EXAMPLE"
    if {"Arn": f"arn:aws:iam::{ACCOUNT}:oidc-provider/{eks}"} not in \
            root_iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]:
        root_iam.create_open_id_connect_provider(Url=f"https://{eks}")  # trust policies name existing providers
    root_iam.update_assume_role_policy(RoleName=name, PolicyDocument=trust(
        {"Federated": f"arn:aws:iam::{ACCOUNT}:oidc-provider/{eks}"}, "sts:AssumeRoleWithWebIdentity",
        {"StringEquals": {f"{eks}:sub": "system:serviceaccount:default:app", f"{eks}:aud": "sts.amazonaws.com"}}))
    root_iam.delete_role(RoleName=name)


def test_policy_grammar_messages_are_aws(root_iam):
    def create(document: dict[str, Any]) -> str:
        with pytest.raises(ClientError) as exc:
            root_iam.create_policy(PolicyName=unique("p"), PolicyDocument=json.dumps(document))
        assert code(exc) == "MalformedPolicyDocument"
        return str(exc.value.response["Error"]["Message"])

    def stmt(**statement: Any) -> dict[str, Any]:
        return {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", **statement}]}

    assert create(stmt(Resource="arn:aws:s3::example_bucket")).startswith("The policy failed legacy parsing")
    assert create(stmt(Resource="adf")).startswith('Resource adf must be in ARN format or "*".')
    assert create(stmt(Resource="a:b:c:d:e:f:g:h")).startswith(
        'Partition "b" is not valid for resource "arn:b:c:d:e:f:g:h".')
    assert create({"Statement": [{"Effect": "denY", "Action": "s3:GetObject", "Resource": "*"}]}).startswith(
        "Policy document must be version 2012-10-17 or greater.")
    # an unprefixed condition key is valid
    root_iam.delete_policy(PolicyArn=root_iam.create_policy(
        PolicyName=unique("p"), PolicyDocument=json.dumps(stmt(Resource="*", Condition={"StringEquals": {"a": "x"}})),
    )["Policy"]["Arn"])


def test_managed_policies_and_versions(root_iam):
    name = unique("pol")
    pol = root_iam.create_policy(PolicyName=name, PolicyDocument=json.dumps(DOC), Description="x")["Policy"]
    assert pol["PolicyId"].startswith("ANPA") and pol["DefaultVersionId"] == "v1"
    arn = pol["Arn"]
    for i in range(2, 6):
        v = root_iam.create_policy_version(PolicyArn=arn, PolicyDocument=json.dumps(DOC), SetAsDefault=(i == 3))["PolicyVersion"]
        assert v["VersionId"] == f"v{i}"
    with pytest.raises(ClientError) as exc:
        root_iam.create_policy_version(PolicyArn=arn, PolicyDocument=json.dumps(DOC))
    assert code(exc) == "LimitExceeded" and status(exc) == 409
    assert root_iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"] == "v3"
    with pytest.raises(ClientError) as exc:
        root_iam.delete_policy_version(PolicyArn=arn, VersionId="v3")
    assert code(exc) == "DeleteConflict"
    root_iam.delete_policy_version(PolicyArn=arn, VersionId="v5")
    root_iam.set_default_policy_version(PolicyArn=arn, VersionId="v4")
    versions = root_iam.list_policy_versions(PolicyArn=arn)["Versions"]
    assert sorted(v["VersionId"] for v in versions) == ["v1", "v2", "v3", "v4"]
    assert root_iam.get_policy_version(PolicyArn=arn, VersionId="v4")["PolicyVersion"]["Document"] == DOC
    user, group, role = unique("u"), unique("g"), unique("r")
    root_iam.create_user(UserName=user)
    root_iam.create_group(GroupName=group)
    root_iam.create_role(RoleName=role, AssumeRolePolicyDocument=trust({"AWS": ACCOUNT}))
    root_iam.attach_user_policy(UserName=user, PolicyArn=arn)
    root_iam.attach_group_policy(GroupName=group, PolicyArn=arn)
    root_iam.attach_role_policy(RoleName=role, PolicyArn=arn)
    assert root_iam.get_policy(PolicyArn=arn)["Policy"]["AttachmentCount"] == 3
    assert root_iam.list_attached_user_policies(UserName=user)["AttachedPolicies"] == [{"PolicyName": name, "PolicyArn": arn}]
    ents = root_iam.list_entities_for_policy(PolicyArn=arn)
    assert [u["UserName"] for u in ents["PolicyUsers"]] == [user]
    assert [g["GroupName"] for g in ents["PolicyGroups"]] == [group]
    assert [r["RoleName"] for r in ents["PolicyRoles"]] == [role]
    with pytest.raises(ClientError) as exc:
        root_iam.delete_policy(PolicyArn=arn)
    assert code(exc) == "DeleteConflict"
    root_iam.detach_user_policy(UserName=user, PolicyArn=arn)
    root_iam.detach_group_policy(GroupName=group, PolicyArn=arn)
    root_iam.detach_role_policy(RoleName=role, PolicyArn=arn)
    for v in ("v1", "v2", "v3"):
        root_iam.delete_policy_version(PolicyArn=arn, VersionId=v)
    root_iam.delete_policy(PolicyArn=arn)
    with pytest.raises(ClientError) as exc:
        root_iam.get_policy(PolicyArn=arn)
    assert code(exc) == "NoSuchEntity"


def test_inline_policies(root_iam):
    user = unique("u")
    root_iam.create_user(UserName=user)
    root_iam.put_user_policy(UserName=user, PolicyName="a", PolicyDocument=json.dumps(DOC))
    got = root_iam.get_user_policy(UserName=user, PolicyName="a")
    assert got["PolicyDocument"] == DOC
    assert root_iam.list_user_policies(UserName=user)["PolicyNames"] == ["a"]
    with pytest.raises(ClientError) as exc:
        root_iam.get_user_policy(UserName=user, PolicyName="missing")
    assert code(exc) == "NoSuchEntity"
    big = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": f"s3:Get{i:04d}", "Resource": "*"} for i in range(80)]}
    with pytest.raises(ClientError) as exc:
        root_iam.put_user_policy(UserName=user, PolicyName="big", PolicyDocument=json.dumps(big))
    assert code(exc) == "LimitExceeded"
    root_iam.delete_user_policy(UserName=user, PolicyName="a")
    assert root_iam.list_user_policies(UserName=user)["PolicyNames"] == []


def test_access_keys(root_iam):
    user = unique("u")
    root_iam.create_user(UserName=user)
    k1 = root_iam.create_access_key(UserName=user)["AccessKey"]
    assert k1["AccessKeyId"].startswith("AKIA") and len(k1["AccessKeyId"]) == 20
    assert len(k1["SecretAccessKey"]) == 40 and k1["Status"] == "Active"
    root_iam.create_access_key(UserName=user)
    with pytest.raises(ClientError) as exc:
        root_iam.create_access_key(UserName=user)
    assert code(exc) == "LimitExceeded"
    assert "AccessKeysPerUser" in exc.value.response["Error"]["Message"]
    listed = root_iam.list_access_keys(UserName=user)["AccessKeyMetadata"]
    assert len(listed) == 2 and all("SecretAccessKey" not in k for k in listed)
    root_iam.update_access_key(UserName=user, AccessKeyId=k1["AccessKeyId"], Status="Inactive")
    statuses = {k["AccessKeyId"]: k["Status"] for k in root_iam.list_access_keys(UserName=user)["AccessKeyMetadata"]}
    assert statuses[k1["AccessKeyId"]] == "Inactive"
    last = root_iam.get_access_key_last_used(AccessKeyId=k1["AccessKeyId"])
    assert last["UserName"] == user
    root_iam.delete_access_key(UserName=user, AccessKeyId=k1["AccessKeyId"])
    assert len(root_iam.list_access_keys(UserName=user)["AccessKeyMetadata"]) == 1


def test_permissions_boundary(server, root_iam, make_user):
    boundary = root_iam.create_policy(PolicyName=unique("b"), PolicyDocument=allow("iam:ListUsers"))["Policy"]
    user = make_user(allow(["iam:ListUsers", "iam:ListRoles"]))
    root_iam.put_user_permissions_boundary(UserName=user.name, PermissionsBoundary=boundary["Arn"])
    assert root_iam.get_user(UserName=user.name)["User"]["PermissionsBoundary"]["PermissionsBoundaryArn"] == boundary["Arn"]
    iam = user.client(server, "iam")
    iam.list_users()
    with pytest.raises(ClientError) as exc:
        iam.list_roles()
    assert code(exc) == "AccessDenied"
    root_iam.delete_user_permissions_boundary(UserName=user.name)
    iam.list_roles()


def test_authorization_of_iam_calls(server, make_user, root_iam):
    user = make_user(allow("iam:GetUser"))
    iam = user.client(server, "iam")
    assert iam.get_user(UserName=user.name)["User"]["UserName"] == user.name
    with pytest.raises(ClientError) as exc:
        iam.create_user(UserName=unique("x"))
    assert code(exc) == "AccessDenied" and status(exc) == 403
    assert user.arn in exc.value.response["Error"]["Message"]
    # an IAM change takes effect on the very next request
    root_iam.put_user_policy(UserName=user.name, PolicyName="p", PolicyDocument=allow("iam:CreateUser"))
    iam.create_user(UserName=unique("x"))


def test_group_policies_apply_to_members(server, make_user, root_iam):
    user = make_user(None)
    group = unique("g")
    root_iam.create_group(GroupName=group)
    root_iam.put_group_policy(GroupName=group, PolicyName="p", PolicyDocument=allow("iam:ListGroups"))
    iam = user.client(server, "iam")
    with pytest.raises(ClientError):
        iam.list_groups()
    root_iam.add_user_to_group(GroupName=group, UserName=user.name)
    iam.list_groups()


def test_get_account_authorization_details(root_iam):
    user = unique("u")
    root_iam.create_user(UserName=user)
    root_iam.put_user_policy(UserName=user, PolicyName="a", PolicyDocument=json.dumps(DOC))
    details = root_iam.get_account_authorization_details(Filter=["User"])
    mine = [u for u in details["UserDetailList"] if u["UserName"] == user]
    assert mine and mine[0]["UserPolicyList"] == [{"PolicyName": "a", "PolicyDocument": DOC}]
    assert details["RoleDetailList"] == []


def test_get_user_defaults_to_caller(server, make_user, root_iam):
    user = make_user(allow("iam:GetUser"))
    assert user.client(server, "iam").get_user()["User"]["UserName"] == user.name
    root = root_iam.get_user()["User"]
    assert root["Arn"] == f"arn:aws:iam::{ACCOUNT}:root" and root["UserId"] == ACCOUNT
