"""Access advisor (last-accessed data) through unmodified boto3 against the real server and
Redis: real calls by a user and by a role session, then GenerateServiceLastAccessedDetails /
GetServiceLastAccessedDetails (service and action level), ...WithEntities for a group and a
policy, ListPoliciesGrantingServiceAccess over inline, managed and group policies, every
documented error, and the records dropped with their entity."""
from __future__ import annotations

import json
import time
import uuid
from datetime import datetime, timezone
from typing import Any

import pytest
import redis
from botocore.exceptions import ClientError

from .conftest import ACCOUNT, REDIS_URL, REGION, Server, allow, aws_error, client, trust, unique

ADVISOR = ["iam:GenerateServiceLastAccessedDetails", "iam:GetServiceLastAccessedDetails",
           "iam:GetServiceLastAccessedDetailsWithEntities", "iam:ListPoliciesGrantingServiceAccess"]


def report(iam: Any, arn: str, granularity: str = "SERVICE_LEVEL") -> dict[str, Any]:
    job = iam.generate_service_last_accessed_details(Arn=arn, Granularity=granularity)["JobId"]
    assert len(job) == 36
    deadline = time.time() + 10
    while True:
        out: dict[str, Any] = iam.get_service_last_accessed_details(JobId=job)
        if out["JobStatus"] != "IN_PROGRESS" or time.time() > deadline:
            break
        time.sleep(0.1)
    assert out["JobStatus"] == "COMPLETED"
    out["JobId"] = job
    return out


def by_namespace(out: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["ServiceNamespace"]: s for s in out["ServicesLastAccessed"]}


def recent(when: datetime) -> bool:
    return abs((datetime.now(timezone.utc) - when).total_seconds()) < 300


def tracked(service: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {a["ActionName"]: a for a in service.get("TrackedActionsLastAccessed", [])}


def test_a_users_own_calls_show_with_action_level_detail(server: Server, root_iam: Any, make_user: Any) -> None:
    policy = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["iam:GetUser", "sts:GetCallerIdentity", "s3:GetObject", *ADVISOR],
         "Resource": "*"}]})
    user = make_user(policy)
    managed = root_iam.create_policy(PolicyName=unique("aa-ec2"), PolicyDocument=allow("ec2:Describe*"))["Policy"]
    root_iam.attach_user_policy(UserName=user.name, PolicyArn=managed["Arn"])
    iam, sts = user.client(server, "iam"), user.client(server, "sts")
    iam.get_user(UserName=user.name)
    sts.get_caller_identity()
    with pytest.raises(ClientError):
        iam.list_roles()  # denied: not counted

    out = report(iam, user.arn, "ACTION_LEVEL")
    assert out["JobType"] == "ACTION_LEVEL"
    assert recent(out["JobCreationDate"]) and out["JobCompletionDate"] >= out["JobCreationDate"]
    services = by_namespace(out)
    assert sorted(services) == ["ec2", "iam", "s3", "sts"]
    assert [s["ServiceNamespace"] for s in out["ServicesLastAccessed"]] == ["ec2", "iam", "s3", "sts"]
    iam_svc, sts_svc = services["iam"], services["sts"]
    assert iam_svc["ServiceName"] == "AWS Identity and Access Management"
    assert sts_svc["ServiceName"] == "AWS Security Token Service"
    assert services["s3"]["ServiceName"] == "Amazon S3"
    for svc in (iam_svc, sts_svc):
        assert recent(svc["LastAuthenticated"])
        assert svc["LastAuthenticatedEntity"] == user.arn
        assert svc["LastAuthenticatedRegion"] == REGION
        assert svc["TotalAuthenticatedEntities"] == 1
    assert set(tracked(iam_svc)) >= {"GetUser", "GenerateServiceLastAccessedDetails"}
    assert "ListRoles" not in tracked(iam_svc)
    get_user = tracked(iam_svc)["GetUser"]
    assert recent(get_user["LastAccessedTime"]) and get_user["LastAccessedEntity"] == user.arn
    assert get_user["LastAccessedRegion"] == REGION
    assert list(tracked(sts_svc)) == ["GetCallerIdentity"]
    for never in ("s3", "ec2"):  # allowed, never used (Tessera never sees those calls)
        assert "LastAuthenticated" not in services[never]
        assert "LastAuthenticatedEntity" not in services[never]
        assert services[never]["TotalAuthenticatedEntities"] == 0
        assert "TrackedActionsLastAccessed" not in services[never]

    plain = report(iam, user.arn)
    assert plain["JobType"] == "SERVICE_LEVEL"
    assert all("TrackedActionsLastAccessed" not in s for s in plain["ServicesLastAccessed"])
    assert recent(by_namespace(plain)["iam"]["LastAuthenticated"])

    entities = iam.get_service_last_accessed_details_with_entities(JobId=out["JobId"], ServiceNamespace="iam")
    assert entities["JobStatus"] == "COMPLETED"
    [only] = entities["EntityDetailsList"]
    assert only["EntityInfo"]["Arn"] == user.arn and only["EntityInfo"]["Type"] == "USER"
    assert recent(only["LastAuthenticated"])


def test_paging_of_the_services(server: Server, root_iam: Any, make_user: Any) -> None:
    user = make_user(allow(["iam:GetUser", "s3:GetObject", "ec2:RunInstances", "sqs:SendMessage"]))
    out = report(root_iam, user.arn)
    first = root_iam.get_service_last_accessed_details(JobId=out["JobId"], MaxItems=3)
    assert first["IsTruncated"] is True and len(first["ServicesLastAccessed"]) == 3
    rest = root_iam.get_service_last_accessed_details(JobId=out["JobId"], Marker=first["Marker"])
    assert rest["IsTruncated"] is False
    names = [s["ServiceNamespace"] for s in first["ServicesLastAccessed"] + rest["ServicesLastAccessed"]]
    assert names == ["ec2", "iam", "s3", "sqs"]


def test_a_role_sessions_calls_count_for_the_role(server: Server, root_iam: Any, make_user: Any) -> None:
    user = make_user()
    role_name = unique("aa-role")
    role = root_iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=trust({"AWS": user.arn}))["Role"]
    root_iam.put_role_policy(RoleName=role_name, PolicyName="r",
                             PolicyDocument=allow(["iam:GetRole", "sts:GetCallerIdentity", "dynamodb:*"]))
    root_iam.put_user_policy(UserName=user.name, PolicyName="p", PolicyDocument=allow("sts:AssumeRole", role["Arn"]))
    creds = user.client(server, "sts").assume_role(RoleArn=role["Arn"], RoleSessionName="s1")["Credentials"]
    session = {"akid": creds["AccessKeyId"], "secret": creds["SecretAccessKey"], "token": creds["SessionToken"]}
    client(server, "iam", **session).get_role(RoleName=role_name)
    client(server, "sts", **session).get_caller_identity()

    services = by_namespace(report(root_iam, role["Arn"], "ACTION_LEVEL"))
    assert sorted(services) == ["dynamodb", "iam", "sts"]
    for ns, action in (("iam", "GetRole"), ("sts", "GetCallerIdentity")):
        assert services[ns]["LastAuthenticatedEntity"] == role["Arn"]
        assert tracked(services[ns])[action]["LastAccessedEntity"] == role["Arn"]
        assert recent(tracked(services[ns])[action]["LastAccessedTime"])
    assert "LastAuthenticated" not in services["dynamodb"]
    assert services["dynamodb"]["ServiceName"] == "Amazon DynamoDB"
    # the user's own report: it was authorized to assume the role
    user_sts = by_namespace(report(root_iam, user.arn, "ACTION_LEVEL"))["sts"]
    assert list(tracked(user_sts)) == ["AssumeRole"] and user_sts["LastAuthenticatedEntity"] == user.arn


def test_a_group_report_names_the_member_that_used_it(server: Server, root_iam: Any, make_user: Any) -> None:
    group = unique("aa-group")
    group_arn = root_iam.create_group(GroupName=group)["Group"]["Arn"]
    root_iam.put_group_policy(GroupName=group, PolicyName="g", PolicyDocument=allow(["iam:GetGroup", "s3:*"]))
    active, idle = make_user(), make_user()
    for u in (active, idle):
        root_iam.add_user_to_group(GroupName=group, UserName=u.name)
    active.client(server, "iam").get_group(GroupName=group)

    out = report(root_iam, group_arn)
    services = by_namespace(out)
    assert sorted(services) == ["iam", "s3"]
    assert services["iam"]["LastAuthenticatedEntity"] == active.arn
    assert services["iam"]["TotalAuthenticatedEntities"] == 1
    assert "LastAuthenticated" not in services["s3"]

    got = root_iam.get_service_last_accessed_details_with_entities(JobId=out["JobId"], ServiceNamespace="iam")
    rows = got["EntityDetailsList"]
    assert [r["EntityInfo"]["Arn"] for r in rows] == [active.arn, idle.arn]  # most recent first
    assert recent(rows[0]["LastAuthenticated"]) and "LastAuthenticated" not in rows[1]
    info = rows[1]["EntityInfo"]
    assert info["Type"] == "USER" and info["Name"] == idle.name and info["Path"] == "/"
    assert info["Id"].startswith("AIDA")
    paged = root_iam.get_service_last_accessed_details_with_entities(JobId=out["JobId"], ServiceNamespace="iam",
                                                                     MaxItems=1)
    assert paged["IsTruncated"] is True and len(paged["EntityDetailsList"]) == 1
    rest = root_iam.get_service_last_accessed_details_with_entities(JobId=out["JobId"], ServiceNamespace="iam",
                                                                    Marker=paged["Marker"])
    assert [r["EntityInfo"]["Arn"] for r in rest["EntityDetailsList"]] == [idle.arn]
    none = root_iam.get_service_last_accessed_details_with_entities(JobId=out["JobId"], ServiceNamespace="ec2")
    assert none["EntityDetailsList"] == []  # the group's policies do not allow ec2


def test_a_policy_report_lists_the_users_and_roles_holding_it(server: Server, root_iam: Any, make_user: Any) -> None:
    policy = root_iam.create_policy(PolicyName=unique("aa-pol"),
                                    PolicyDocument=allow(["iam:GetUser", "sts:GetCallerIdentity"]))["Policy"]
    user = make_user()
    root_iam.attach_user_policy(UserName=user.name, PolicyArn=policy["Arn"])
    role_name = unique("aa-prole")
    role = root_iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=trust({"AWS": user.arn}))["Role"]
    root_iam.attach_role_policy(RoleName=role_name, PolicyArn=policy["Arn"])
    user.client(server, "sts").get_caller_identity()

    out = report(root_iam, policy["Arn"])
    services = by_namespace(out)
    assert sorted(services) == ["iam", "sts"]
    assert services["sts"]["LastAuthenticatedEntity"] == user.arn
    assert "LastAuthenticated" not in services["iam"]
    rows = root_iam.get_service_last_accessed_details_with_entities(
        JobId=out["JobId"], ServiceNamespace="sts")["EntityDetailsList"]
    assert [(r["EntityInfo"]["Type"], r["EntityInfo"]["Arn"]) for r in rows] == [
        ("USER", user.arn), ("ROLE", role["Arn"])]
    assert "LastAuthenticated" in rows[0] and "LastAuthenticated" not in rows[1]
    # an AWS managed policy's report is served too (its document is data)
    aws = by_namespace(report(root_iam, "arn:aws:iam::aws:policy/IAMReadOnlyAccess"))
    assert "iam" in aws


def test_a_policy_report_counts_a_groups_members_once(server: Server, root_iam: Any, make_user: Any) -> None:
    policy = root_iam.create_policy(PolicyName=unique("aa-gpol"),
                                    PolicyDocument=allow("sts:GetCallerIdentity"))["Policy"]
    group = unique("aa-pgroup")
    root_iam.create_group(GroupName=group, Path="/team/")
    root_iam.attach_group_policy(GroupName=group, PolicyArn=policy["Arn"])
    both, member = make_user(), make_user()
    root_iam.attach_user_policy(UserName=both.name, PolicyArn=policy["Arn"])  # directly and through the group
    for u in (both, member):
        root_iam.add_user_to_group(GroupName=group, UserName=u.name)
    member.client(server, "sts").get_caller_identity()

    out = report(root_iam, policy["Arn"])
    assert by_namespace(out)["sts"]["LastAuthenticatedEntity"] == member.arn
    rows = root_iam.get_service_last_accessed_details_with_entities(
        JobId=out["JobId"], ServiceNamespace="sts")["EntityDetailsList"]
    assert [r["EntityInfo"]["Arn"] for r in rows] == [member.arn, both.arn]


def test_list_policies_granting_service_access(server: Server, root_iam: Any, make_user: Any) -> None:
    user = make_user(allow(["iam:GetUser"]))
    managed = root_iam.create_policy(PolicyName=unique("aa-m"), PolicyDocument=allow(["s3:GetObject", "iam:List*"]))
    managed_arn = managed["Policy"]["Arn"]
    root_iam.attach_user_policy(UserName=user.name, PolicyArn=managed_arn)
    group = unique("aa-lg")
    root_iam.create_group(GroupName=group)
    root_iam.put_group_policy(GroupName=group, PolicyName="gp", PolicyDocument=allow("sts:GetCallerIdentity"))
    root_iam.add_user_to_group(GroupName=group, UserName=user.name)

    out = root_iam.list_policies_granting_service_access(Arn=user.arn, ServiceNamespaces=["iam", "sts", "s3", "ec2"])
    assert out["IsTruncated"] is False
    got = {e["ServiceNamespace"]: e["Policies"] for e in out["PoliciesGrantingServiceAccess"]}
    assert [e["ServiceNamespace"] for e in out["PoliciesGrantingServiceAccess"]] == ["iam", "sts", "s3", "ec2"]
    assert got["iam"] == [
        {"PolicyName": "p", "PolicyType": "INLINE", "EntityType": "USER", "EntityName": user.name},
        {"PolicyName": managed["Policy"]["PolicyName"], "PolicyType": "MANAGED", "PolicyArn": managed_arn}]
    assert got["sts"] == [{"PolicyName": "gp", "PolicyType": "INLINE", "EntityType": "GROUP", "EntityName": group}]
    assert [p["PolicyArn"] for p in got["s3"]] == [managed_arn]
    assert got["ec2"] == []
    # a group's report covers its own policies only
    group_arn = f"arn:aws:iam::{ACCOUNT}:group/{group}"
    own = root_iam.list_policies_granting_service_access(Arn=group_arn, ServiceNamespaces=["iam", "sts"])
    assert [len(e["Policies"]) for e in own["PoliciesGrantingServiceAccess"]] == [0, 1]


def test_errors(server: Server, root_iam: Any, unchecked_iam: Any, make_user: Any) -> None:
    user = make_user()
    job = report(root_iam, user.arn)["JobId"]
    cases: list[tuple[Any, str, int]] = [
        (lambda: root_iam.get_service_last_accessed_details(JobId=str(uuid.uuid4())), "NoSuchEntity", 404),
        (lambda: root_iam.get_service_last_accessed_details_with_entities(
            JobId=str(uuid.uuid4()), ServiceNamespace="iam"), "NoSuchEntity", 404),
        (lambda: root_iam.generate_service_last_accessed_details(
            Arn=f"arn:aws:iam::{ACCOUNT}:user/{unique('nobody')}"), "NoSuchEntity", 404),
        (lambda: root_iam.generate_service_last_accessed_details(
            Arn=f"arn:aws:iam::{ACCOUNT}:policy/{unique('nopolicy')}"), "NoSuchEntity", 404),
        (lambda: root_iam.generate_service_last_accessed_details(
            Arn=f"arn:aws:iam::{ACCOUNT}:role/{unique('norole')}"), "NoSuchEntity", 404),
        (lambda: root_iam.generate_service_last_accessed_details(Arn="arn:aws:s3:::some-bucket-name"),
         "InvalidInput", 400),
        (lambda: root_iam.generate_service_last_accessed_details(Arn="this-is-not-an-arn-at-all"),
         "InvalidInput", 400),
        (lambda: root_iam.generate_service_last_accessed_details(
            Arn=f"arn:aws:iam::{ACCOUNT}:mfa/{unique('device')}"), "InvalidInput", 400),
        (lambda: root_iam.generate_service_last_accessed_details(Arn=user.arn, Granularity="RESOURCE_LEVEL"),
         "ValidationError", 400),
        (lambda: root_iam.list_policies_granting_service_access(
            Arn="arn:aws:iam::aws:policy/IAMReadOnlyAccess", ServiceNamespaces=["iam"]), "InvalidInput", 400),
        (lambda: root_iam.list_policies_granting_service_access(
            Arn=f"arn:aws:iam::{ACCOUNT}:user/{unique('nobody')}", ServiceNamespaces=["iam"]), "NoSuchEntity", 404),
        (lambda: unchecked_iam.list_policies_granting_service_access(
            Arn=user.arn, ServiceNamespaces=[f"svc{i}" for i in range(201)]), "ValidationError", 400),
        (lambda: unchecked_iam.list_policies_granting_service_access(Arn=user.arn, ServiceNamespaces=[]),
         "ValidationError", 400),
        (lambda: unchecked_iam.get_service_last_accessed_details(JobId="short"), "ValidationError", 400),
        (lambda: root_iam.get_service_last_accessed_details(JobId=str(uuid.uuid4()), Marker="garbage"),
         "NoSuchEntity", 404),
        (lambda: root_iam.get_service_last_accessed_details(JobId=job, Marker="garbage"), "ValidationError", 400),
        (lambda: root_iam.get_service_last_accessed_details_with_entities(
            JobId=job, ServiceNamespace="iam", Marker="garbage"), "ValidationError", 400),
        (lambda: unchecked_iam.get_service_last_accessed_details_with_entities(
            JobId=job, ServiceNamespace="not a namespace"), "ValidationError", 400),
        (lambda: root_iam.list_policies_granting_service_access(
            Arn=user.arn, ServiceNamespaces=["iam"], Marker="garbage"), "ValidationError", 400),
        (lambda: root_iam.generate_service_last_accessed_details(
            Arn=f"arn:aws:iam::{ACCOUNT}:group/{unique('nogroup')}"), "NoSuchEntity", 404),
        (lambda: root_iam.generate_service_last_accessed_details(Arn="arn:aws:iam::210987654321:user/someone"),
         "NoSuchEntity", 404),
        (lambda: root_iam.generate_service_last_accessed_details(Arn=f"arn:aws:iam:eu-west-1:{ACCOUNT}:user/x"),
         "InvalidInput", 400),
    ]
    for call, want, status in cases:
        with pytest.raises(ClientError) as exc:
            call()
        got_code, msg, got_status = aws_error(exc)
        assert (got_code, got_status) == (want, status), msg
        assert msg


def test_a_job_is_only_for_its_generator_and_generating_needs_permission(server: Server, root_iam: Any,
                                                                         make_user: Any) -> None:
    user = make_user(allow(["iam:GetServiceLastAccessedDetails",
                                              "iam:GetServiceLastAccessedDetailsWithEntities"]))
    job = report(root_iam, user.arn)["JobId"]
    iam = user.client(server, "iam")
    with pytest.raises(ClientError) as exc:
        iam.get_service_last_accessed_details(JobId=job)
    assert aws_error(exc)[0] == "NoSuchEntity"
    with pytest.raises(ClientError) as exc:
        iam.generate_service_last_accessed_details(Arn=user.arn)
    assert aws_error(exc)[:1] == ("AccessDenied",)
    with pytest.raises(ClientError) as exc:
        iam.list_policies_granting_service_access(Arn=user.arn, ServiceNamespaces=["iam"])
    assert aws_error(exc)[0] == "AccessDenied"


def noted_gci(key: str) -> tuple[Any, str]:
    """(a Redis client, `key`) once the access-advisor record `key` holds sts:GetCallerIdentity
    (written in the background: waited for, up to 5 s)."""
    r = redis.Redis.from_url(REDIS_URL, decode_responses=True)
    deadline = time.time() + 5
    while not r.exists(key) and time.time() < deadline:
        time.sleep(0.05)
    assert r.hget(key, "sts:GetCallerIdentity") is not None
    return r, key


def test_deleting_an_entity_drops_its_records(server: Server, root_iam: Any, make_user: Any) -> None:
    user = make_user(allow("sts:GetCallerIdentity"))
    user_id = root_iam.get_user(UserName=user.name)["User"]["UserId"]
    user.client(server, "sts").get_caller_identity()
    r, key = noted_gci(f"lastacc:{ACCOUNT}:{user_id}")
    root_iam.delete_access_key(UserName=user.name, AccessKeyId=user.akid)
    root_iam.delete_user_policy(UserName=user.name, PolicyName="p")
    root_iam.delete_user(UserName=user.name)
    assert not r.exists(key)


def test_deleting_a_role_drops_its_records(server: Server, root_iam: Any, make_user: Any) -> None:
    role_name = unique("aa-drole")
    user = make_user()
    role = root_iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=trust({"AWS": user.arn}))["Role"]
    root_iam.put_user_policy(UserName=user.name, PolicyName="p", PolicyDocument=allow("sts:AssumeRole", role["Arn"]))
    creds = user.client(server, "sts").assume_role(RoleArn=role["Arn"], RoleSessionName="s1")["Credentials"]
    client(server, "sts", akid=creds["AccessKeyId"], secret=creds["SecretAccessKey"],
           token=creds["SessionToken"]).get_caller_identity()
    r, key = noted_gci(f"lastacc:{ACCOUNT}:{role['RoleId']}")
    root_iam.delete_role(RoleName=role_name)
    assert not r.exists(key)
