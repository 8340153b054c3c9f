"""IAM instance profiles and the account alias through unmodified boto3 against the real server
and Redis: every action with its success shape, AWS's errors, DeleteRole's conflict, the
account-wide views (authorization details, summary) and authorization by policy (tags included)."""
from __future__ import annotations

import json
import urllib.request
from typing import Any

import pytest
from botocore.exceptions import ClientError

from .conftest import ACCOUNT, allow, aws_error as err, trust, unique


def sign_in_page(server: Any) -> str:
    with urllib.request.urlopen(f"{server.url}/sso", timeout=10) as response:
        return str(response.read().decode())


def make_role(iam: Any, path: str = "/") -> str:
    name = unique("ec2role")
    iam.create_role(RoleName=name, Path=path,
                    AssumeRolePolicyDocument=trust({"Service": "ec2.amazonaws.com"}))
    return name


def test_instance_profile_lifecycle(root_iam: Any) -> None:
    name = unique("Web")
    before = root_iam.get_account_summary()["SummaryMap"]
    assert before["InstanceProfilesQuota"] == 1000
    made = root_iam.create_instance_profile(InstanceProfileName=name, Path="/app/",
                                            Tags=[{"Key": "env", "Value": "prod"}])["InstanceProfile"]
    assert made["InstanceProfileName"] == name and made["Path"] == "/app/"
    assert made["Arn"] == f"arn:aws:iam::{ACCOUNT}:instance-profile/app/{name}"
    assert made["InstanceProfileId"].startswith("AIPA") and len(made["InstanceProfileId"]) == 21
    assert made["Roles"] == [] and made["Tags"] == [{"Key": "env", "Value": "prod"}]
    assert root_iam.get_account_summary()["SummaryMap"]["InstanceProfiles"] == before["InstanceProfiles"] + 1

    role = make_role(root_iam, "/svc/")
    root_iam.add_role_to_instance_profile(InstanceProfileName=name, RoleName=role)
    got = root_iam.get_instance_profile(InstanceProfileName=name.upper())["InstanceProfile"]
    assert got["InstanceProfileId"] == made["InstanceProfileId"] and got["CreateDate"] == made["CreateDate"]
    (inside,) = got["Roles"]
    assert inside["RoleName"] == role and inside["Path"] == "/svc/"
    assert inside["Arn"] == f"arn:aws:iam::{ACCOUNT}:role/svc/{role}" and inside["RoleId"].startswith("AROA")
    assert inside["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"Service": "ec2.amazonaws.com"}
    assert "Tags" not in inside and "MaxSessionDuration" not in inside and "RoleLastUsed" not in inside

    # at most one role
    other = make_role(root_iam)
    with pytest.raises(ClientError) as e:
        root_iam.add_role_to_instance_profile(InstanceProfileName=name, RoleName=other)
    assert err(e) == ("LimitExceeded", "Cannot exceed quota for InstanceSessionsPerInstanceProfile: 1", 409)

    listed = root_iam.list_instance_profiles(PathPrefix="/app/")["InstanceProfiles"]
    assert [p["InstanceProfileName"] for p in listed] == [name] and listed[0]["Roles"][0]["RoleName"] == role
    assert root_iam.list_instance_profiles(PathPrefix="/nothing/")["InstanceProfiles"] == []
    for_role = root_iam.list_instance_profiles_for_role(RoleName=role)
    assert [p["Arn"] for p in for_role["InstanceProfiles"]] == [made["Arn"]] and not for_role["IsTruncated"]
    assert root_iam.list_instance_profiles_for_role(RoleName=other)["InstanceProfiles"] == []

    # the role's details carry the profile; DeleteRole and DeleteInstanceProfile conflict
    details = root_iam.get_account_authorization_details(Filter=["Role"])["RoleDetailList"]
    (detail,) = [r for r in details if r["RoleName"] == role]
    assert [p["InstanceProfileName"] for p in detail["InstanceProfileList"]] == [name]
    assert detail["InstanceProfileList"][0]["Roles"][0]["RoleName"] == role
    with pytest.raises(ClientError) as e:
        root_iam.delete_role(RoleName=role)
    assert err(e) == ("DeleteConflict", "Cannot delete entity, must remove roles from instance profile first.", 409)
    with pytest.raises(ClientError) as e:
        root_iam.delete_instance_profile(InstanceProfileName=name)
    assert err(e) == ("DeleteConflict", "Cannot delete entity, must remove roles from instance profile first.", 409)

    with pytest.raises(ClientError) as e:
        root_iam.remove_role_from_instance_profile(InstanceProfileName=name, RoleName=other)
    assert err(e)[0] == "NoSuchEntity"
    root_iam.remove_role_from_instance_profile(InstanceProfileName=name, RoleName=role)
    assert root_iam.get_instance_profile(InstanceProfileName=name)["InstanceProfile"]["Roles"] == []
    assert root_iam.list_instance_profiles_for_role(RoleName=role)["InstanceProfiles"] == []
    root_iam.delete_role(RoleName=role)
    root_iam.delete_instance_profile(InstanceProfileName=name)
    with pytest.raises(ClientError) as e:
        root_iam.get_instance_profile(InstanceProfileName=name)
    assert err(e) == ("NoSuchEntity", f"Instance Profile {name} cannot be found.", 404)
    assert root_iam.get_account_summary()["SummaryMap"]["InstanceProfiles"] == before["InstanceProfiles"]


def test_instance_profile_errors(root_iam: Any) -> None:
    name = unique("p")
    root_iam.create_instance_profile(InstanceProfileName=name)
    with pytest.raises(ClientError) as e:
        root_iam.create_instance_profile(InstanceProfileName=name.lower())
    assert err(e) == ("EntityAlreadyExists", f"Instance Profile {name.lower()} already exists.", 409)
    missing = unique("none")
    for call in (lambda: root_iam.delete_instance_profile(InstanceProfileName=missing),
                 lambda: root_iam.add_role_to_instance_profile(InstanceProfileName=missing, RoleName="x"),
                 lambda: root_iam.list_instance_profile_tags(InstanceProfileName=missing),
                 lambda: root_iam.tag_instance_profile(InstanceProfileName=missing, Tags=[{"Key": "a", "Value": "b"}])):
        with pytest.raises(ClientError) as e:
            call()
        assert err(e) == ("NoSuchEntity", f"Instance Profile {missing} cannot be found.", 404)
    with pytest.raises(ClientError) as e:
        root_iam.add_role_to_instance_profile(InstanceProfileName=name, RoleName=missing)
    assert err(e) == ("NoSuchEntity", f"The role with name {missing} cannot be found.", 404)
    with pytest.raises(ClientError) as e:
        root_iam.list_instance_profiles_for_role(RoleName=missing)
    assert err(e) == ("NoSuchEntity", f"The role with name {missing} cannot be found.", 404)
    root_iam.delete_instance_profile(InstanceProfileName=name)


def test_instance_profile_tags_and_paging(root_iam: Any) -> None:
    prefix = f"/{unique('pg')}/"
    names = sorted(unique(f"p{i}") for i in range(3))
    for n in names:
        root_iam.create_instance_profile(InstanceProfileName=n, Path=prefix)
    first = root_iam.list_instance_profiles(PathPrefix=prefix, MaxItems=2)
    assert first["IsTruncated"] and len(first["InstanceProfiles"]) == 2
    rest = root_iam.list_instance_profiles(PathPrefix=prefix, MaxItems=2, Marker=first["Marker"])
    assert not rest["IsTruncated"]
    assert [p["InstanceProfileName"] for p in first["InstanceProfiles"] + rest["InstanceProfiles"]] == names
    assert "Tags" not in first["InstanceProfiles"][0]

    n = names[0]
    root_iam.tag_instance_profile(InstanceProfileName=n, Tags=[{"Key": "b", "Value": "2"}, {"Key": "A", "Value": "1"}])
    root_iam.tag_instance_profile(InstanceProfileName=n, Tags=[{"Key": "B", "Value": "3"}])
    assert root_iam.list_instance_profile_tags(InstanceProfileName=n)["Tags"] == [
        {"Key": "A", "Value": "1"}, {"Key": "B", "Value": "3"}]
    root_iam.untag_instance_profile(InstanceProfileName=n, TagKeys=["a"])
    assert root_iam.get_instance_profile(InstanceProfileName=n)["InstanceProfile"]["Tags"] == [{"Key": "B", "Value": "3"}]
    with pytest.raises(ClientError) as e:
        root_iam.tag_instance_profile(InstanceProfileName=n,
                                      Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(50)])
    assert err(e) == ("LimitExceeded", "Cannot exceed quota for TagsPerInstanceProfile: 50", 409)
    for name in names:
        root_iam.delete_instance_profile(InstanceProfileName=name)


def test_instance_profile_authorization(root_iam: Any, make_user: Any, server: Any) -> None:
    name = unique("auth")
    role = make_role(root_iam)
    nobody = make_user().client(server, "iam")
    for call in (lambda: nobody.create_instance_profile(InstanceProfileName=name),
                 lambda: nobody.list_instance_profiles(),
                 lambda: nobody.list_instance_profiles_for_role(RoleName=role),
                 lambda: nobody.get_instance_profile(InstanceProfileName=name)):
        with pytest.raises(ClientError) as e:
            call()
        assert err(e)[0] == "AccessDenied"

    arn = f"arn:aws:iam::{ACCOUNT}:instance-profile/{name}"
    policy = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["iam:CreateInstanceProfile", "iam:TagInstanceProfile"], "Resource": arn,
         "Condition": {"StringEquals": {"aws:RequestTag/team": "blue"}}},
        {"Effect": "Allow", "Action": ["iam:GetInstanceProfile", "iam:AddRoleToInstanceProfile"], "Resource": arn,
         "Condition": {"StringEquals": {"aws:ResourceTag/team": "blue"}}}]}
    identity = make_user(json.dumps(policy))
    user = identity.client(server, "iam")
    with pytest.raises(ClientError) as e:
        user.create_instance_profile(InstanceProfileName=name, Tags=[{"Key": "team", "Value": "red"}])
    assert err(e)[0] == "AccessDenied"
    user.create_instance_profile(InstanceProfileName=name, Tags=[{"Key": "team", "Value": "blue"}])
    assert user.get_instance_profile(InstanceProfileName=name)["InstanceProfile"]["Arn"] == arn
    # AddRoleToInstanceProfile also needs iam:PassRole on the role
    with pytest.raises(ClientError) as e:
        user.add_role_to_instance_profile(InstanceProfileName=name, RoleName=role)
    assert err(e)[0] == "AccessDenied"
    root_iam.put_user_policy(UserName=identity.name, PolicyName="pass",
                             PolicyDocument=allow("iam:PassRole", f"arn:aws:iam::{ACCOUNT}:role/{role}"))
    user.add_role_to_instance_profile(InstanceProfileName=name, RoleName=role)
    assert user.get_instance_profile(InstanceProfileName=name)["InstanceProfile"]["Roles"][0]["RoleName"] == role
    with pytest.raises(ClientError) as e:
        user.delete_instance_profile(InstanceProfileName=name)
    assert err(e)[0] == "AccessDenied"
    root_iam.remove_role_from_instance_profile(InstanceProfileName=name, RoleName=role)
    root_iam.delete_instance_profile(InstanceProfileName=name)
    root_iam.delete_role(RoleName=role)


def test_account_alias(root_iam: Any, make_user: Any, server: Any) -> None:
    for current in root_iam.list_account_aliases()["AccountAliases"]:
        root_iam.delete_account_alias(AccountAlias=current)
    got = root_iam.list_account_aliases()
    assert got["AccountAliases"] == [] and got["IsTruncated"] is False
    root_iam.create_account_alias(AccountAlias="example-corp")
    root_iam.create_account_alias(AccountAlias="example-corp")  # again: no change
    assert root_iam.list_account_aliases()["AccountAliases"] == ["example-corp"]
    root_iam.create_account_alias(AccountAlias="example-2")  # one alias per account: replaced
    assert root_iam.list_account_aliases(MaxItems=1)["AccountAliases"] == ["example-2"]
    with pytest.raises(ClientError) as e:
        root_iam.delete_account_alias(AccountAlias="example-corp")
    assert err(e) == ("NoSuchEntity", "The account alias example-corp cannot be found.", 404)

    nobody = make_user().client(server, "iam")
    for call in (lambda: nobody.list_account_aliases(),
                 lambda: nobody.create_account_alias(AccountAlias="mine"),
                 lambda: nobody.delete_account_alias(AccountAlias="example-2")):
        with pytest.raises(ClientError) as e:
            call()
        assert err(e)[0] == "AccessDenied"
    reader = make_user(allow("iam:ListAccountAliases")).client(server, "iam")
    assert reader.list_account_aliases()["AccountAliases"] == ["example-2"]
    # the browser sign-in page shows it in its header (read from the store)
    assert '<p class="alias">Account <strong>example-2</strong></p>' in sign_in_page(server)
    root_iam.delete_account_alias(AccountAlias="example-2")
    assert root_iam.list_account_aliases()["AccountAliases"] == []
    assert 'class="alias"' not in sign_in_page(server)


@pytest.mark.parametrize("alias", ["ab", "-abc", "abc-", "a--b", "ABC", "a_b", "x" * 64])
def test_account_alias_form(unchecked_iam: Any, alias: str) -> None:
    with pytest.raises(ClientError) as e:
        unchecked_iam.create_account_alias(AccountAlias=alias)
    assert err(e)[0] == "ValidationError"
