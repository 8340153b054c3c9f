"""AWS managed policies through unmodified boto3 against the real server and Redis: listing and
reading them, attaching them (users, groups, roles, permissions boundaries) with AttachmentCount,
GetAccountAuthorizationDetails, the refusals, and authorization by an attached one.

The server is shared by the whole session, so counts are compared before and after."""
from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from .conftest import ACCOUNT, Identity, allow, client, trust, unique

AWS = "arn:aws:iam::aws:policy/"
ADMIN, READ_ONLY, POWER = AWS + "AdministratorAccess", AWS + "ReadOnlyAccess", AWS + "PowerUserAccess"
IAM_RO, VIEW = AWS + "IAMReadOnlyAccess", AWS + "job-function/ViewOnlyAccess"
SERVICE_ROLE = AWS + "aws-service-role/AmazonSSMServiceRolePolicy"
MISSING = AWS + "NoSuchPolicyAnywhere"


def code(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    return exc.value.response["Error"]["Code"], exc.value.response["ResponseMetadata"]["HTTPStatusCode"]


def all_pages(iam: Any, operation: str, key: str, **kw: Any) -> list[Any]:
    return [item for page in iam.get_paginator(operation).paginate(**kw) for item in page[key]]


def usage(iam: Any, policy_arn: str) -> tuple[int, int]:
    p = iam.get_policy(PolicyArn=policy_arn)["Policy"]
    return p["AttachmentCount"], p["PermissionsBoundaryUsageCount"]


def keyed_user(iam: Any, *, boundary: str | None = None) -> Identity:
    name = unique("u")
    kw = {"PermissionsBoundary": boundary} if boundary else {}
    user = iam.create_user(UserName=name, **kw)["User"]
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return Identity(name, user["Arn"], key["AccessKeyId"], key["SecretAccessKey"])


def test_listed_and_read_as_aws_serves_them(root_iam):
    aws = all_pages(root_iam, "list_policies", "Policies", Scope="AWS", PaginationConfig={"PageSize": 400})
    arns = [p["Arn"] for p in aws]
    assert len(arns) > 1000 and len(set(arns)) == len(arns)
    assert {ADMIN, READ_ONLY, POWER, IAM_RO, VIEW} <= set(arns)
    assert all(a.startswith(AWS) for a in arns)
    names = [p["PolicyName"].lower() for p in aws]
    assert names == sorted(names)
    local = root_iam.create_policy(PolicyName=unique("mine"), PolicyDocument=allow("s3:GetObject"))["Policy"]
    every = all_pages(root_iam, "list_policies", "Policies", PaginationConfig={"PageSize": 500})  # Scope All
    assert {local["Arn"], ADMIN} <= {p["Arn"] for p in every} and len(every) > len(aws)
    mine = all_pages(root_iam, "list_policies", "Policies", Scope="Local")
    assert local["Arn"] in {p["Arn"] for p in mine} and not any(p["Arn"].startswith(AWS) for p in mine)
    job = all_pages(root_iam, "list_policies", "Policies", Scope="AWS", PathPrefix="/job-function/")
    assert VIEW in {p["Arn"] for p in job} and {p["Path"] for p in job} == {"/job-function/"}

    view = root_iam.get_policy(PolicyArn=VIEW)["Policy"]
    assert (view["PolicyName"], view["Path"], view["Arn"], view["IsAttachable"]) == (
        "ViewOnlyAccess", "/job-function/", VIEW, True)
    assert view["PolicyId"].startswith("ANPA") and len(view["PolicyId"]) == 21
    assert view["CreateDate"] <= view["UpdateDate"] and view["DefaultVersionId"].startswith("v")
    version = root_iam.get_policy_version(PolicyArn=VIEW, VersionId=view["DefaultVersionId"])["PolicyVersion"]
    assert version["IsDefaultVersion"] and version["Document"]["Version"] == "2012-10-17"
    versions = all_pages(root_iam, "list_policy_versions", "Versions", PolicyArn=READ_ONLY,
                         PaginationConfig={"PageSize": 7})
    assert len(versions) > 10 and versions[0]["IsDefaultVersion"]
    assert not any(v["IsDefaultVersion"] for v in versions[1:])
    old = root_iam.get_policy_version(PolicyArn=READ_ONLY, VersionId=versions[-1]["VersionId"])["PolicyVersion"]
    assert not old["IsDefaultVersion"] and old["Document"]["Statement"]
    assert root_iam.list_policy_tags(PolicyArn=ADMIN)["Tags"] == []
    with pytest.raises(ClientError) as exc:
        root_iam.get_policy(PolicyArn=MISSING)
    assert code(exc) == ("NoSuchEntity", 404)


def test_attach_detach_and_attachment_count(root_iam):
    user, group, role = unique("u"), unique("g"), unique("r")
    root_iam.create_user(UserName=user)
    root_iam.create_group(GroupName=group)
    root_iam.create_role(RoleName=role, AssumeRolePolicyDocument=trust({"AWS": f"arn:aws:iam::{ACCOUNT}:root"}))
    before = usage(root_iam, POWER)
    root_iam.attach_user_policy(UserName=user, PolicyArn=POWER)
    root_iam.attach_group_policy(GroupName=group, PolicyArn=POWER)
    root_iam.attach_role_policy(RoleName=role, PolicyArn=POWER)
    assert usage(root_iam, POWER) == (before[0] + 3, before[1])
    assert root_iam.list_attached_user_policies(UserName=user)["AttachedPolicies"] == [
        {"PolicyName": "PowerUserAccess", "PolicyArn": POWER}]
    assert root_iam.list_attached_group_policies(GroupName=group)["AttachedPolicies"][0]["PolicyArn"] == POWER
    assert root_iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"][0]["PolicyArn"] == POWER
    entities = root_iam.list_entities_for_policy(PolicyArn=POWER)
    assert user in [u["UserName"] for u in entities["PolicyUsers"]]
    assert group in [g["GroupName"] for g in entities["PolicyGroups"]]
    assert role in [r["RoleName"] for r in entities["PolicyRoles"]]
    only_roles = root_iam.list_entities_for_policy(PolicyArn=POWER, EntityFilter="Role")
    assert only_roles["PolicyUsers"] == [] and role in [r["RoleName"] for r in only_roles["PolicyRoles"]]
    attached = all_pages(root_iam, "list_policies", "Policies", Scope="AWS", OnlyAttached=True)
    assert POWER in {p["Arn"] for p in attached} and all(p["AttachmentCount"] > 0 for p in attached)
    root_iam.detach_user_policy(UserName=user, PolicyArn=POWER)
    root_iam.detach_group_policy(GroupName=group, PolicyArn=POWER)
    root_iam.detach_role_policy(RoleName=role, PolicyArn=POWER)
    assert usage(root_iam, POWER) == before
    with pytest.raises(ClientError) as exc:
        root_iam.detach_user_policy(UserName=user, PolicyArn=POWER)
    assert code(exc) == ("NoSuchEntity", 404)


def test_permissions_boundaries(root_iam):
    before = usage(root_iam, VIEW)
    user, role = unique("u"), unique("r")
    root_iam.create_user(UserName=user, PermissionsBoundary=VIEW)
    root_iam.create_role(RoleName=role, AssumeRolePolicyDocument=trust({"AWS": f"arn:aws:iam::{ACCOUNT}:root"}),
                         PermissionsBoundary=VIEW)
    other = unique("u")
    root_iam.create_user(UserName=other)
    root_iam.put_user_permissions_boundary(UserName=other, PermissionsBoundary=VIEW)
    assert root_iam.get_role(RoleName=role)["Role"]["PermissionsBoundary"]["PermissionsBoundaryArn"] == VIEW
    assert usage(root_iam, VIEW) == (before[0], before[1] + 3)
    bounded = root_iam.list_entities_for_policy(PolicyArn=VIEW, PolicyUsageFilter="PermissionsBoundary")
    assert {user, other} <= {u["UserName"] for u in bounded["PolicyUsers"]}
    assert role in [r["RoleName"] for r in bounded["PolicyRoles"]]
    boundaries = all_pages(root_iam, "list_policies", "Policies", Scope="AWS", PolicyUsageFilter="PermissionsBoundary")
    assert VIEW in {p["Arn"] for p in boundaries}
    root_iam.delete_user_permissions_boundary(UserName=other)
    root_iam.put_role_permissions_boundary(RoleName=role, PermissionsBoundary=IAM_RO)
    root_iam.delete_user(UserName=user)
    assert usage(root_iam, VIEW) == before


def test_account_authorization_details_lists_those_in_use(root_iam):
    in_use, unused = AWS + "AmazonGlacierReadOnlyAccess", AWS + "AWSMarketplaceRead-only"
    group = unique("g")
    root_iam.create_group(GroupName=group)
    root_iam.attach_group_policy(GroupName=group, PolicyArn=in_use)
    details = all_pages(root_iam, "get_account_authorization_details", "Policies", Filter=["AWSManagedPolicy"],
                        PaginationConfig={"PageSize": 2})
    by_arn = {p["Arn"]: p for p in details}
    assert in_use in by_arn and unused not in by_arn
    assert all(p["Arn"].startswith(AWS) and (p["AttachmentCount"] or p["PermissionsBoundaryUsageCount"])
               for p in details)
    entry = by_arn[in_use]
    [version] = entry["PolicyVersionList"]  # AWS lists the default version only
    assert version["IsDefaultVersion"] and version["VersionId"] == entry["DefaultVersionId"]
    assert version["Document"] == root_iam.get_policy_version(
        PolicyArn=in_use, VersionId=entry["DefaultVersionId"])["PolicyVersion"]["Document"]
    groups = all_pages(root_iam, "get_account_authorization_details", "GroupDetailList", Filter=["Group"])
    mine = next(g for g in groups if g["GroupName"] == group)
    assert mine["AttachedManagedPolicies"] == [{"PolicyName": "AmazonGlacierReadOnlyAccess", "PolicyArn": in_use}]
    local_only = all_pages(root_iam, "get_account_authorization_details", "Policies", Filter=["LocalManagedPolicy"])
    assert not any(p["Arn"].startswith(AWS) for p in local_only)


CHANGES = [
    ("delete_policy", {}),
    ("create_policy_version", {"PolicyDocument": allow("*"), "SetAsDefault": True}),
    ("delete_policy_version", {"VersionId": "v1"}),
    ("set_default_policy_version", {"VersionId": "v1"}),
]


@pytest.mark.parametrize("operation,kw", CHANGES, ids=[c[0] for c in CHANGES])
def test_changing_them_is_refused(root_iam, operation, kw):
    before = root_iam.get_policy(PolicyArn=ADMIN)["Policy"]
    with pytest.raises(ClientError) as exc:
        getattr(root_iam, operation)(PolicyArn=ADMIN, **kw)
    assert code(exc) == ("AccessDenied", 403)
    action = "".join(w.capitalize() for w in operation.split("_"))
    assert exc.value.response["Error"]["Message"].startswith(
        f"User: arn:aws:iam::{ACCOUNT}:root is not authorized to perform: iam:{action} on resource: {ADMIN}")
    assert root_iam.get_policy(PolicyArn=ADMIN)["Policy"] == before


def test_tagging_and_unattachable_policies_are_refused(root_iam):
    with pytest.raises(ClientError) as exc:
        root_iam.tag_policy(PolicyArn=ADMIN, Tags=[{"Key": "k", "Value": "v"}])
    assert code(exc) == ("InvalidInput", 400)
    assert exc.value.response["Error"]["Message"] == "Tags not supported for policies in this domain"
    with pytest.raises(ClientError) as exc:
        root_iam.untag_policy(PolicyArn=ADMIN, TagKeys=["k"])
    assert code(exc) == ("InvalidInput", 400)
    role = unique("r")
    root_iam.create_role(RoleName=role, AssumeRolePolicyDocument=trust({"AWS": f"arn:aws:iam::{ACCOUNT}:root"}))
    with pytest.raises(ClientError) as exc:
        root_iam.attach_role_policy(RoleName=role, PolicyArn=SERVICE_ROLE)
    assert code(exc) == ("PolicyNotAttachable", 400)
    assert exc.value.response["Error"]["Message"] == "Cannot attach a Service Role Policy to a Customer Role."
    with pytest.raises(ClientError) as exc:
        root_iam.attach_role_policy(RoleName=role, PolicyArn=MISSING)
    assert code(exc) == ("NoSuchEntity", 404)
    assert root_iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"] == []


def test_an_attached_managed_policy_authorizes(server, root_iam):
    admin = keyed_user(root_iam)
    root_iam.attach_user_policy(UserName=admin.name, PolicyArn=ADMIN)
    admin_iam = admin.client(server, "iam")
    made = unique("made")
    admin_iam.create_user(UserName=made)  # AdministratorAccess: everything
    admin_iam.attach_user_policy(UserName=made, PolicyArn=IAM_RO)
    assert admin.client(server, "sts").get_caller_identity()["Arn"] == admin.arn

    reader = keyed_user(root_iam)
    group = unique("readers")
    root_iam.create_group(GroupName=group)
    root_iam.add_user_to_group(GroupName=group, UserName=reader.name)
    root_iam.attach_group_policy(GroupName=group, PolicyArn=IAM_RO)
    reader_iam = reader.client(server, "iam")
    assert made in {u["UserName"] for u in all_pages(reader_iam, "list_users", "Users")}
    assert reader_iam.get_policy(PolicyArn=ADMIN)["Policy"]["Arn"] == ADMIN
    reader_iam.list_entities_for_policy(PolicyArn=IAM_RO)
    with pytest.raises(ClientError) as exc:
        reader_iam.create_user(UserName=unique("nope"))
    assert code(exc) == ("AccessDenied", 403)
    with pytest.raises(ClientError) as exc:
        reader_iam.attach_user_policy(UserName=reader.name, PolicyArn=ADMIN)
    assert code(exc) == ("AccessDenied", 403)
    simulated = root_iam.simulate_principal_policy(PolicySourceArn=reader.arn,
                                                   ActionNames=["iam:ListUsers", "iam:CreateUser"])
    assert [(r["EvalDecision"], [(m["SourcePolicyId"], m["SourcePolicyType"]) for m in r["MatchedStatements"]])
            for r in simulated["EvaluationResults"]] == [
        ("allowed", [("IAMReadOnlyAccess", "aws-managed")]), ("implicitDeny", [])]
    root_iam.detach_group_policy(GroupName=group, PolicyArn=IAM_RO)  # takes effect on the next call
    with pytest.raises(ClientError) as exc:
        reader_iam.list_users()
    assert code(exc) == ("AccessDenied", 403)


def test_as_boundary_and_session_policy(server, root_iam):
    bounded = keyed_user(root_iam, boundary=IAM_RO)
    root_iam.put_user_policy(UserName=bounded.name, PolicyName="all", PolicyDocument=allow("*"))
    bounded_iam = bounded.client(server, "iam")
    bounded_iam.list_roles()
    with pytest.raises(ClientError) as exc:
        bounded_iam.create_role(RoleName=unique("r"), AssumeRolePolicyDocument=trust({"AWS": bounded.arn}))
    assert code(exc) == ("AccessDenied", 403)
    assert "permissions boundary" in exc.value.response["Error"]["Message"]

    assumer = keyed_user(root_iam)
    root_iam.attach_user_policy(UserName=assumer.name, PolicyArn=ADMIN)
    role = root_iam.create_role(RoleName=unique("r"), AssumeRolePolicyDocument=trust({"AWS": assumer.arn}))["Role"]
    root_iam.attach_role_policy(RoleName=role["RoleName"], PolicyArn=ADMIN)
    creds = assumer.client(server, "sts").assume_role(
        RoleArn=role["Arn"], RoleSessionName="narrowed", PolicyArns=[{"arn": IAM_RO}])["Credentials"]
    assert creds["AccessKeyId"].startswith("ASIA")
    session_iam = client(server, "iam", creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
    session_iam.list_users(MaxItems=1)
    with pytest.raises(ClientError) as exc:
        session_iam.create_user(UserName=unique("nope"))
    assert code(exc) == ("AccessDenied", 403)
