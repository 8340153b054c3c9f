"""Policy simulation against the real server: IAM SimulateCustomPolicy / SimulatePrincipalPolicy /
GetContextKeysFor* through boto3, and `POST /v1/simulate` (reference §12) signed with SigV4."""
from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from .conftest import ACCOUNT, REGION, ROOT_AKID, ROOT_SECRET, allow, trust, unique


def doc(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)}, indent=4)


def st(effect: str, action: Any, resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": effect, "Action": action, "Resource": resource, **extra}


def code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def decisions(answer: dict[str, Any]) -> dict[tuple[str, str], str]:
    return {(r["EvalActionName"], r["EvalResourceName"]): r["EvalDecision"] for r in answer["EvaluationResults"]}


# ---------------------------------------------------------------- SimulateCustomPolicy
def test_custom_policy_decisions_and_positions(root_iam):
    policy = doc(st("Allow", "s3:*", Sid="Read"), st("Deny", "s3:DeleteObject", Sid="NoDelete"))
    out = root_iam.simulate_custom_policy(
        PolicyInputList=[policy], ActionNames=["s3:GetObject", "s3:DeleteObject", "ec2:RunInstances"])
    assert decisions(out) == {("s3:GetObject", "*"): "allowed", ("s3:DeleteObject", "*"): "explicitDeny",
                              ("ec2:RunInstances", "*"): "implicitDeny"}
    get, delete, run = out["EvaluationResults"]
    # `doc` indents by 4: statement 1 is `{` at line 4 col 9 (after 8 spaces) to `}` at line 9 col 9
    assert get["MatchedStatements"] == [{
        "SourcePolicyId": "PolicyInputList.1", "SourcePolicyType": "none",
        "StartPosition": {"Line": 4, "Column": 9}, "EndPosition": {"Line": 9, "Column": 10}}]
    assert delete["MatchedStatements"][0]["StartPosition"] == {"Line": 10, "Column": 9}
    assert run["MatchedStatements"] == [] and "ResourceSpecificResults" not in run
    lines = policy.splitlines()
    assert lines[3][8] == "{" and lines[8][8] == "}" and lines[9][8] == "{"


def test_custom_policy_context_entries_and_missing_values(root_iam):
    policy = doc(st("Allow", "s3:GetObject", "arn:aws:s3:::b/*", Condition={
        "IpAddress": {"aws:SourceIp": "10.0.0.0/8"}, "Bool": {"aws:SecureTransport": "true"}}))
    kw = dict(PolicyInputList=[policy], ActionNames=["s3:GetObject"], ResourceArns=["arn:aws:s3:::b/k"])
    out = root_iam.simulate_custom_policy(**kw)
    result = out["EvaluationResults"][0]
    assert result["EvalDecision"] == "implicitDeny"
    assert sorted(result["MissingContextValues"]) == ["aws:SecureTransport", "aws:SourceIp"]
    entries = [{"ContextKeyName": "aws:SourceIp", "ContextKeyValues": ["10.1.2.3"], "ContextKeyType": "ip"},
               {"ContextKeyName": "aws:SecureTransport", "ContextKeyValues": ["TRUE"], "ContextKeyType": "boolean"}]
    out = root_iam.simulate_custom_policy(**kw, ContextEntries=entries)
    result = out["EvaluationResults"][0]
    assert result["EvalDecision"] == "allowed" and result["MissingContextValues"] == []
    specific = result["ResourceSpecificResults"]
    assert specific[0]["EvalResourceName"] == "arn:aws:s3:::b/k" and specific[0]["EvalResourceDecision"] == "allowed"
    entries[0]["ContextKeyValues"] = ["192.168.0.1"]
    out = root_iam.simulate_custom_policy(**kw, ContextEntries=entries)
    assert out["EvaluationResults"][0]["EvalDecision"] == "implicitDeny"
    entries[0]["ContextKeyValues"] = ["not-an-ip"]
    with pytest.raises(ClientError) as exc:
        root_iam.simulate_custom_policy(**kw, ContextEntries=entries)
    assert code(exc) == "InvalidInput" and "aws:SourceIp" in exc.value.response["Error"]["Message"]


def test_custom_policy_boundary_resource_policy_and_paging(root_iam):
    identity = doc(st("Allow", ["s3:*", "sqs:*"]))
    boundary = doc(st("Allow", "s3:*"))
    out = root_iam.simulate_custom_policy(PolicyInputList=[identity], PermissionsBoundaryPolicyInputList=[boundary],
                                          ActionNames=["s3:GetObject", "sqs:SendMessage"])
    s3, sqs = out["EvaluationResults"]
    assert (s3["EvalDecision"], sqs["EvalDecision"]) == ("allowed", "implicitDeny")
    assert s3["PermissionsBoundaryDecisionDetail"] == {"AllowedByPermissionsBoundary": True}
    assert sqs["PermissionsBoundaryDecisionDetail"] == {"AllowedByPermissionsBoundary": False}
    assert {m["SourcePolicyId"] for m in s3["MatchedStatements"]} == {
        "PolicyInputList.1", "PermissionsBoundaryPolicyInputList.1"}

    caller = f"arn:aws:iam::{ACCOUNT}:user/bob"
    resource_policy = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": caller}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}]})
    out = root_iam.simulate_custom_policy(PolicyInputList=[doc(st("Allow", "sqs:*"))], ResourcePolicy=resource_policy,
                                          CallerArn=caller, ActionNames=["s3:GetObject"],
                                          ResourceArns=["arn:aws:s3:::b/x"])
    result = out["EvaluationResults"][0]
    assert result["EvalDecision"] == "allowed" and result["EvalDecisionDetails"] == {}
    assert result["MatchedStatements"][0]["SourcePolicyType"] == "resource"
    # cross-account: both sides must allow; the details say which did
    other = "arn:aws:sqs:eu-west-1:999999999999:q"
    queue_policy = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": ACCOUNT}, "Action": "sqs:SendMessage", "Resource": other}]})
    for identity_doc, expected in ((doc(st("Allow", "sqs:*")), "allowed"), (doc(st("Allow", "s3:*")), "implicitDeny")):
        out = root_iam.simulate_custom_policy(PolicyInputList=[identity_doc], ResourcePolicy=queue_policy,
                                              CallerArn=caller, ActionNames=["sqs:SendMessage"], ResourceArns=[other])
        result = out["EvaluationResults"][0]
        assert result["EvalDecision"] == expected
        assert result["EvalDecisionDetails"] == {"IAM Policy": expected, "Resource Policy": "allowed"}
    with pytest.raises(ClientError) as exc:  # a resource policy needs a caller
        root_iam.simulate_custom_policy(PolicyInputList=[identity], ResourcePolicy=resource_policy,
                                        ActionNames=["s3:GetObject"])
    assert code(exc) == "InvalidInput"

    actions = [f"s3:Action{i}" for i in range(5)]
    first = root_iam.simulate_custom_policy(PolicyInputList=[identity], ActionNames=actions, MaxItems=2)
    assert first["IsTruncated"] is True and len(first["EvaluationResults"]) == 2
    pages = root_iam.get_paginator("simulate_custom_policy").paginate(
        PolicyInputList=[identity], ActionNames=actions, PaginationConfig={"PageSize": 2})
    names = [r["EvalActionName"] for p in pages for r in p["EvaluationResults"]]
    assert names == actions


def test_custom_policy_malformed_input_is_invalid_input(root_iam):
    with pytest.raises(ClientError) as exc:
        root_iam.simulate_custom_policy(PolicyInputList=[doc(st("Allow", "s3:GetObject")), '{"Statement": 1}'],
                                        ActionNames=["s3:GetObject"])
    assert code(exc) == "InvalidInput"
    assert exc.value.response["Error"]["Message"].startswith("PolicyInputList.2: ")


def test_context_keys_for_custom_policy(root_iam):
    policy = doc(st("Allow", "s3:GetObject", "arn:aws:s3:::b/${aws:username}/*",
                    Condition={"StringEquals": {"aws:PrincipalTag/team": "x", "s3:prefix": "a"}}),
                 st("Allow", "s3:ListBucket", Condition={"StringEquals": {"AWS:PRINCIPALTAG/TEAM": "y"}}))
    keys = root_iam.get_context_keys_for_custom_policy(PolicyInputList=[policy])["ContextKeyNames"]
    assert sorted(k.lower() for k in keys) == ["aws:principaltag/team", "aws:username", "s3:prefix"]


def test_context_keys_without_a_vendor_prefix(root_iam):
    eks = "oidc.eks.us-east-1.amazonaws.com/id/EXAMPLE"
    policy = doc(st("Allow", "s3:GetObject", Condition={"StringEquals": {"myteam": "x", f"{eks}:sub": "s"},
                                                        "StringLike": {"keycloak.example.com/realms/acme:sub": "u*"}}))
    keys = root_iam.get_context_keys_for_custom_policy(PolicyInputList=[policy])["ContextKeyNames"]
    assert sorted(keys) == ["keycloak.example.com/realms/acme:sub", "myteam", f"{eks}:sub"]
    out = root_iam.simulate_custom_policy(PolicyInputList=[policy], ActionNames=["s3:GetObject"], ContextEntries=[
        {"ContextKeyName": "MyTeam", "ContextKeyValues": ["x"], "ContextKeyType": "string"},
        {"ContextKeyName": f"{eks.upper()}:SUB", "ContextKeyValues": ["s"], "ContextKeyType": "string"},
        {"ContextKeyName": "keycloak.example.com/realms/acme:sub", "ContextKeyValues": ["u1"], "ContextKeyType": "string"}])
    assert decisions(out) == {("s3:GetObject", "*"): "allowed"}


# ---------------------------------------------------------------- SimulatePrincipalPolicy
@pytest.fixture
def alice(root_iam):
    """A user with an inline policy, a group (inline + managed) and a managed policy of its own."""
    name, group = unique("alice"), unique("grp")
    user_arn = root_iam.create_user(UserName=name)["User"]["Arn"]
    root_iam.put_user_policy(UserName=name, PolicyName="own", PolicyDocument=doc(st("Allow", "s3:GetObject")))
    root_iam.create_group(GroupName=group)
    root_iam.add_user_to_group(GroupName=group, UserName=name)
    root_iam.put_group_policy(GroupName=group, PolicyName="grp-inline", PolicyDocument=doc(st("Allow", "sqs:*")))
    managed = root_iam.create_policy(PolicyName=unique("deny-delete"), PolicyDocument=doc(
        st("Deny", "s3:DeleteObject", Sid="NoDelete")))["Policy"]
    root_iam.attach_group_policy(GroupName=group, PolicyArn=managed["Arn"])
    tagging = root_iam.create_policy(PolicyName=unique("tagging"), PolicyDocument=doc(st(
        "Allow", "ec2:CreateTags", Condition={"StringEquals": {"aws:RequestTag/env": "dev"}})))["Policy"]
    root_iam.attach_user_policy(UserName=name, PolicyArn=tagging["Arn"])
    return {"name": name, "arn": user_arn, "group": group, "deny": managed, "tagging": tagging}


def test_principal_policy_user_with_groups_and_managed(root_iam, alice):
    out = root_iam.simulate_principal_policy(
        PolicySourceArn=alice["arn"],
        ActionNames=["s3:GetObject", "sqs:SendMessage", "s3:DeleteObject", "ec2:CreateTags", "iam:ListUsers"])
    by_action = {r["EvalActionName"]: r for r in out["EvaluationResults"]}
    assert {a: r["EvalDecision"] for a, r in by_action.items()} == {
        "s3:GetObject": "allowed", "sqs:SendMessage": "allowed", "s3:DeleteObject": "explicitDeny",
        "ec2:CreateTags": "implicitDeny", "iam:ListUsers": "implicitDeny"}
    assert by_action["s3:GetObject"]["MatchedStatements"] == [{
        "SourcePolicyId": "own", "SourcePolicyType": "user",
        "StartPosition": {"Line": 4, "Column": 9}, "EndPosition": {"Line": 8, "Column": 10}}]
    assert [(m["SourcePolicyId"], m["SourcePolicyType"]) for m in by_action["sqs:SendMessage"]["MatchedStatements"]] \
        == [("grp-inline", "group")]
    deny = by_action["s3:DeleteObject"]["MatchedStatements"]
    assert [(m["SourcePolicyId"], m["SourcePolicyType"]) for m in deny] == [
        (alice["deny"]["PolicyName"], "user-managed")]
    assert by_action["ec2:CreateTags"]["MissingContextValues"] == ["aws:RequestTag/env"]
    out = root_iam.simulate_principal_policy(
        PolicySourceArn=alice["arn"], ActionNames=["ec2:CreateTags"],
        ContextEntries=[{"ContextKeyName": "aws:RequestTag/env", "ContextKeyValues": ["dev"],
                         "ContextKeyType": "string"}])
    assert out["EvaluationResults"][0]["EvalDecision"] == "allowed"
    # PolicyInputList adds to the stored policies
    out = root_iam.simulate_principal_policy(PolicySourceArn=alice["arn"], ActionNames=["iam:ListUsers"],
                                             PolicyInputList=[doc(st("Allow", "iam:List*"))])
    assert out["EvaluationResults"][0]["EvalDecision"] == "allowed"
    # the group alone
    group_arn = f"arn:aws:iam::{ACCOUNT}:group/{alice['group']}"
    out = root_iam.simulate_principal_policy(PolicySourceArn=group_arn, ActionNames=["sqs:SendMessage", "s3:GetObject"])
    assert [r["EvalDecision"] for r in out["EvaluationResults"]] == ["allowed", "implicitDeny"]


def test_principal_policy_role_with_boundary(root_iam):
    name = unique("role")
    role_arn = root_iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust({"Service": "ec2.amazonaws.com"}))[
        "Role"]["Arn"]
    root_iam.put_role_policy(RoleName=name, PolicyName="wide", PolicyDocument=doc(st("Allow", ["s3:*", "sqs:*"])))
    boundary = root_iam.create_policy(PolicyName=unique("bnd"), PolicyDocument=doc(st("Allow", "s3:*")))["Policy"]
    root_iam.put_role_permissions_boundary(RoleName=name, PermissionsBoundary=boundary["Arn"])
    out = root_iam.simulate_principal_policy(PolicySourceArn=role_arn, ActionNames=["s3:PutObject", "sqs:SendMessage"])
    s3, sqs = out["EvaluationResults"]
    assert (s3["EvalDecision"], sqs["EvalDecision"]) == ("allowed", "implicitDeny")
    assert sqs["PermissionsBoundaryDecisionDetail"] == {"AllowedByPermissionsBoundary": False}
    assert {(m["SourcePolicyId"], m["SourcePolicyType"]) for m in s3["MatchedStatements"]} == {
        ("wide", "role"), (boundary["PolicyName"], "user-managed")}
    # a boundary input replaces the attached one
    out = root_iam.simulate_principal_policy(PolicySourceArn=role_arn, ActionNames=["sqs:SendMessage"],
                                             PermissionsBoundaryPolicyInputList=[doc(st("Allow", "sqs:*"))])
    assert out["EvaluationResults"][0]["EvalDecision"] == "allowed"


def test_principal_policy_missing_entity_and_authorization(server, root_iam, make_user, alice):
    with pytest.raises(ClientError) as exc:
        root_iam.simulate_principal_policy(PolicySourceArn=f"arn:aws:iam::{ACCOUNT}:user/{unique('ghost')}",
                                           ActionNames=["s3:GetObject"])
    assert code(exc) == "NoSuchEntity"
    nobody = make_user(allow("s3:*")).client(server, "iam")
    with pytest.raises(ClientError) as exc:
        nobody.simulate_principal_policy(PolicySourceArn=alice["arn"], ActionNames=["s3:GetObject"])
    assert code(exc) == "AccessDenied"
    allowed = make_user(allow("iam:SimulatePrincipalPolicy", alice["arn"])).client(server, "iam")
    out = allowed.simulate_principal_policy(PolicySourceArn=alice["arn"], ActionNames=["s3:GetObject"])
    assert out["EvaluationResults"][0]["EvalDecision"] == "allowed"
    with pytest.raises(ClientError) as exc:
        allowed.simulate_custom_policy(PolicyInputList=[doc(st("Allow", "s3:*"))], ActionNames=["s3:GetObject"])
    assert code(exc) == "AccessDenied"


def test_context_keys_for_principal_policy(root_iam, alice):
    keys = root_iam.get_context_keys_for_principal_policy(
        PolicySourceArn=alice["arn"],
        PolicyInputList=[doc(st("Allow", "s3:*", Condition={"StringLike": {"s3:prefix": "home/*"}}))])["ContextKeyNames"]
    assert sorted(keys) == ["aws:RequestTag/env", "s3:prefix"]


# ---------------------------------------------------------------- POST /v1/simulate
def post_simulate(url: str, body: Any, akid: str | None = ROOT_AKID, secret: str | None = ROOT_SECRET) -> httpx.Response:
    data = body if isinstance(body, str) else json.dumps(body)
    req = AWSRequest(method="POST", url=url + "/v1/simulate", data=data, headers={"Content-Type": "application/json"})
    if akid is not None:
        SigV4Auth(Credentials(akid, secret), "iam", REGION).add_auth(req)
    return httpx.post(url + "/v1/simulate", content=data.encode(), headers=dict(req.headers.items()))


def sim_request(identity: list[Any], action: str, **request: Any) -> dict[str, Any]:
    return {"policies": {"identity": identity},
            "request": {"principal": f"arn:aws:iam::{ACCOUNT}:user/alice", "action": action, "resource": "*", **request}}


@pytest.mark.parametrize("action,decision", [
    ("s3:GetObject", "Allow"), ("s3:DeleteObject", "ExplicitDeny"), ("ec2:RunInstances", "ImplicitDeny")])
def test_http_simulate_decisions(server, action, decision):
    policy = {"Version": "2012-10-17", "Statement": [st("Allow", "s3:*", Sid="All"),
                                                      st("Deny", "s3:DeleteObject", Sid="NoDelete")]}
    resp = post_simulate(server.url, sim_request([policy], action))
    assert resp.status_code == 200, resp.text
    answer = resp.json()
    assert answer["decision"] == decision
    sids = [m["sid"] for m in answer["matched"]]
    assert sids == {"Allow": ["All"], "ExplicitDeny": ["NoDelete"], "ImplicitDeny": []}[decision]


def test_http_simulate_context_drives_condition(server):
    policy = {"Version": "2012-10-17", "Statement": [
        st("Allow", "s3:GetObject", Condition={"StringEquals": {"aws:PrincipalTag/team": "blue"}})]}
    ok = post_simulate(server.url, sim_request([policy], "s3:GetObject", context={"AWS:principaltag/TEAM": "blue"}))
    no = post_simulate(server.url, sim_request([policy], "s3:GetObject", context={"aws:PrincipalTag/team": "red"}))
    assert (ok.json()["decision"], no.json()["decision"]) == ("Allow", "ImplicitDeny")


def test_http_simulate_malformed_policy(server):
    bad = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject"}]}
    resp = post_simulate(server.url, sim_request([bad], "s3:GetObject"))
    assert resp.status_code == 400
    error = resp.json()["Error"]
    assert error["Code"] == "MalformedPolicyDocument" and error["Message"].startswith("policies.identity[0]")


def test_http_simulate_unauthorized_and_unsigned(server, make_user):
    user = make_user(allow("s3:*"))
    body = sim_request([], "s3:GetObject")
    resp = post_simulate(server.url, body, user.akid, user.secret)
    assert resp.status_code == 403 and resp.json()["Error"]["Code"] == "AccessDenied"
    permitted = make_user(allow("iam:SimulateCustomPolicy"))
    assert post_simulate(server.url, body, permitted.akid, permitted.secret).status_code == 200
    resp = post_simulate(server.url, body, akid=None)
    assert resp.status_code == 403
