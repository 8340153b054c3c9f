"""The policy grammar as AWS parses it, beyond the corpus (tests/cases/policy/aws_create_policy.yaml,
grammar.yaml): no false refusals of documents AWS itself publishes, condition keys without a vendor
prefix in the context-key listing, and messages that always start with one of AWS's texts."""
from __future__ import annotations

import json
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as s

from app.core.errors import MalformedPolicyDocument
from app.policy import PolicyKind, Principal, PrincipalType, Request, authorize, compile_policy, validate_policy
from app.policy.resource_format import IAM_PATH_ERROR
from app.policy.validate import parse_document
from app.services.iam.scenario import context_keys

EKS = "oidc.eks.us-east-1.amazonaws.com/id/EXAMPLE"
# Every first line of a MalformedPolicyDocument: one of AWS's texts, then at most " (location)".
AWS_TEXTS = re.compile("|".join([
    re.escape(t) for t in (
        "Syntax errors in policy.", "The policy failed legacy parsing", "Policy statement must contain actions.",
        "Policy statement must contain resources.", "Statement IDs (SID) in a single policy must be unique.",
        "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.",
        "Actions/Condition can contain only one colon.", "Policy document should not specify a principal.",
        "Resource vendor must be fully qualified and cannot contain regexes.", IAM_PATH_ERROR,
        "Policy document must be version 2012-10-17 or greater.", "Has prohibited field Resource",
        "AssumeRole policy may only specify STS AssumeRole actions.")]
    + [r'Resource .* must be in ARN format or "\*"\.', r'Partition ".*" is not valid for resource "arn:.*"\.',
       r"IAM resource \S+ cannot contain region information\.", r"Resource \S+ can not contain region information\.",
       r"Vendor .* is not valid"]))


def doc(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def aws_managed_policies() -> dict[str, Any]:
    moto_policies = pytest.importorskip("moto.iam.aws_managed_policies")
    data: dict[str, Any] = json.loads(moto_policies.aws_managed_policies_data)
    return data


def test_aws_managed_policies_pass_create_policy_rules() -> None:
    """AWS accepted every one of its own managed policies (moto bundles ~1,500 of them): the
    grammar refuses none, under CreatePolicy's rules (the size quota aside)."""
    policies = aws_managed_policies()
    assert len(policies) > 1000
    refused = {}
    for name, policy in policies.items():
        try:
            parse_document(policy["Document"], PolicyKind.IDENTITY, managed=True)
        except MalformedPolicyDocument as e:
            refused[name] = e.message
    assert refused == {}


def test_condition_keys_without_a_vendor_prefix_are_listed_and_evaluated() -> None:
    trust = compile_policy(json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Federated": f"arn:aws:iam::111111111111:oidc-provider/{EKS}"},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": {f"{EKS}:sub": "system:serviceaccount:default:app"},
                      "StringLike": {"keycloak.example.com/realms/acme:sub": "u*"}}}]}), PolicyKind.TRUST)
    identity = compile_policy(doc({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*",
                                   "Condition": {"StringEquals": {"team": "x", "TEAM": "x"}}}), PolicyKind.IDENTITY)
    # GetContextKeysFor*: every key read, first spelling, case-insensitively unique
    assert context_keys([trust, identity]) == [f"{EKS}:sub", "keycloak.example.com/realms/acme:sub", "team"]
    alice = Principal(PrincipalType.USER, "arn:aws:iam::111111111111:user/alice", "111111111111")
    missing = authorize(Request(alice, "s3:GetObject", "*", {}), identity=[identity])
    assert missing.effect == "ImplicitDeny" and missing.missing_context_keys == ("team",)
    assert authorize(Request(alice, "s3:GetObject", "*", {"Team": "x"}), identity=[identity]).effect == "Allow"
    provider = Principal(PrincipalType.FEDERATED, f"arn:aws:iam::111111111111:oidc-provider/{EKS}", None)
    context = {f"{EKS.upper()}:SUB": "system:serviceaccount:default:app", "KEYCLOAK.example.com/realms/acme:Sub": "u1"}
    role = "arn:aws:iam::111111111111:role/app"
    decision = authorize(Request(provider, "sts:AssumeRoleWithWebIdentity", role, context), resource=[trust],
                         resource_requires_grant=True)
    assert decision.effect == "Allow"


def test_lenient_parse_checks_structure_only() -> None:
    """`strict=False` (documents AWS publishes): the grammar's spelling rules do not apply, the
    structure still does."""
    odd = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:Get:Object", "Resource": "bucket"}]}
    assert parse_document(odd, PolicyKind.IDENTITY, strict=False).statements[0].resources == ("bucket",)
    with pytest.raises(MalformedPolicyDocument, match=r"^Syntax errors in policy\. "):
        parse_document({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Bogus": 1}]},
                       PolicyKind.IDENTITY, strict=False)


def test_stored_documents_are_evaluated_as_written() -> None:
    """A trust policy stored before the trust-action rule existed still decides AssumeRole (the
    rule applies on writes); a document that is not even structurally a policy still fails."""
    old = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": "111111111111"}, "Action": ["sts:AssumeRole", "s3:GetObject"]}]})
    with pytest.raises(MalformedPolicyDocument, match="^AssumeRole policy may only specify STS AssumeRole actions"):
        compile_policy(old, PolicyKind.TRUST)
    trust = compile_policy(old, PolicyKind.TRUST, stored=True)
    alice = Principal(PrincipalType.USER, "arn:aws:iam::111111111111:user/alice", "111111111111")
    role = "arn:aws:iam::111111111111:role/r"
    assert authorize(Request(alice, "sts:AssumeRole", role, {}), resource=[trust], resource_requires_grant=True,
                     identity=[compile_policy(doc({"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}),
                                              PolicyKind.IDENTITY)]).effect == "Allow"
    with pytest.raises(MalformedPolicyDocument, match=r"^Syntax errors in policy\. "):
        compile_policy('{"Statement": {"Effect": "Allow", "Bogus": 1}}', PolicyKind.TRUST, stored=True)


def test_managed_rule_is_checked_in_aws_order() -> None:
    """CreatePolicy's Version rule comes after the syntax and before legacy parsing (AWS's
    observed order); inline policies keep accepting 2008-10-17."""
    old = json.dumps({"Version": "2008-10-17", "Statement": [{"Effect": "denY", "Action": "s3:*", "Resource": "*"}]})
    with pytest.raises(MalformedPolicyDocument, match=r"^Policy document must be version 2012-10-17 or greater\.$"):
        validate_policy(old, PolicyKind.IDENTITY, managed=True)
    with pytest.raises(MalformedPolicyDocument, match=r"^The policy failed legacy parsing \("):
        validate_policy(old, PolicyKind.IDENTITY)
    with pytest.raises(MalformedPolicyDocument, match=r"^Syntax errors in policy\. "):
        validate_policy(old.replace("denY", "Maybe"), PolicyKind.IDENTITY, managed=True)


_piece = s.sampled_from(["arn", "aws", "aws-cn", "b", "s3", "iam", "ec2", "us-east-1", "*", "?", "", "111111111111",
                         "user/x", "role/*", "root", "accesspoint/a", "u*", "x y", "a/b"])
_resource = s.one_of(s.just("*"), s.lists(_piece, min_size=1, max_size=7).map(":".join), s.text(max_size=12))
_action = s.one_of(s.sampled_from(["*", "s3:GetObject", "sts:AssumeRole", "sts:*", "s3:*", "GetObject", "s:3:x",
                                   "a a:b", "sts:Assume*", ""]), s.text(max_size=8))
_statement = s.fixed_dictionaries(
    {"Effect": s.sampled_from(["Allow", "Deny", "allow", "Maybe"])},
    optional={"Action": s.one_of(_action, s.lists(_action, max_size=3)),
              "Resource": s.one_of(_resource, s.lists(_resource, max_size=3)),
              "Principal": s.sampled_from(["*", {"AWS": "111111111111"}, {"Service": "ec2.amazonaws.com"}]),
              "Sid": s.sampled_from(["A", "B", "a-b", ""]),
              "Condition": s.sampled_from([{"StringEquals": {"a": "x"}}, {"DateLessThan": {"k": "2020-13"}},
                                           {"Bogus": {"k": "v"}}, {}])})


@settings(max_examples=300, deadline=None)
@given(statements=s.lists(_statement, min_size=1, max_size=3),
       kind=s.sampled_from([PolicyKind.IDENTITY, PolicyKind.TRUST]), managed=s.booleans())
def test_every_refusal_starts_with_an_aws_text(statements: list[dict[str, Any]], kind: PolicyKind,
                                               managed: bool) -> None:
    text = json.dumps({"Version": "2012-10-17", "Statement": statements})
    try:
        validate_policy(text, kind, managed=managed and kind is PolicyKind.IDENTITY, max_size=100000)
    except MalformedPolicyDocument as e:
        head = e.message.split(" (statement ")[0].split(" (`")[0]
        trust_texts = ("Invalid principal in policy", "AssumeRolepolicy contained an invalid principal",
                       "Statement IDs (SID) must be alpha-numeric")
        assert AWS_TEXTS.fullmatch(head) or head.startswith(trust_texts), e.message
        return
    compiled = compile_policy(text, kind, max_size=100000)  # what validates also compiles
    assert len(compiled.statements) == len(statements)
