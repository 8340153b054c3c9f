"""The public API of app.policy: compile/validate/size, Decision values, PolicySet, simulate shape."""
from __future__ import annotations

import json

import pytest

from app.core.errors import LimitExceeded, MalformedPolicyDocument, ValidationError
from app.policy import (
    PolicyKind,
    PolicySet,
    Principal,
    PrincipalType,
    Request,
    authorize,
    compile_policy,
    policy_size,
    validate_policy,
)
from app.policy.simulation import simulate

A = "111111111111"
ALICE = Principal(PrincipalType.USER, f"arn:aws:iam::{A}:user/alice", A)
ROOT = Principal(PrincipalType.ROOT, f"arn:aws:iam::{A}:root", A)


def doc(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


ALLOW_ALL = doc({"Effect": "Allow", "Action": "*", "Resource": "*"})


def test_compile_is_cached_by_content_kind_and_source() -> None:
    a = compile_policy(ALLOW_ALL, PolicyKind.IDENTITY, "p")
    assert compile_policy(ALLOW_ALL.encode(), PolicyKind.IDENTITY, "p") is a
    assert compile_policy(ALLOW_ALL, PolicyKind.BOUNDARY, "p") is not a
    assert compile_policy(ALLOW_ALL, PolicyKind.IDENTITY, "q").source == "q"


def test_mapping_input_and_matched_statement_labels() -> None:
    pol = compile_policy({"Version": "2012-10-17", "Statement": [
        {"Sid": "One", "Effect": "Allow", "Action": "iam:CreateRole", "Resource": "*"}]},
        PolicyKind.IDENTITY, "user/alice/inline/p1")
    d = authorize(Request(ALICE, "iam:CreateRole", f"arn:aws:iam::{A}:role/r", {}), identity=[pol])
    assert d.allowed and d.effect == "Allow"
    (m,) = d.matched
    assert (m.source, m.kind, m.index, m.sid, m.effect) == ("user/alice/inline/p1", PolicyKind.IDENTITY, 0, "One", "Allow")


def test_malformed_message_names_statement_and_element() -> None:
    with pytest.raises(MalformedPolicyDocument) as info:
        validate_policy(doc({"Effect": "Allow", "Action": "*", "Resource": "*"},
                            {"Sid": "Bad", "Effect": "Allow", "Resource": "*"}), PolicyKind.IDENTITY)
    assert "statement 2 `Bad`" in info.value.message and "Action" in info.value.message


def test_policy_size_ignores_whitespace_and_quota_is_limit_exceeded() -> None:
    assert policy_size('{ "a" :\n\t"b c" }') == 10  # every whitespace character is excluded
    big = doc(*[{"Sid": f"S{i}", "Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"} for i in range(40)])
    with pytest.raises(LimitExceeded, match="ACLSizePerRole: 2048"):
        compile_policy(big.replace('"Resource": "*"', '"Principal": "*"'), PolicyKind.TRUST)
    compile_policy(big, PolicyKind.IDENTITY)  # 10240 for identity policies
    with pytest.raises(LimitExceeded):
        compile_policy(big, PolicyKind.IDENTITY, max_size=100)


def test_decision_constructor_without_missing_keys() -> None:
    from app.policy import Decision
    assert Decision("ImplicitDeny", ()).missing_context_keys == ()


def test_missing_context_keys_reports_keys_and_variables_read() -> None:
    pol = compile_policy(doc({"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::b/${aws:username}/*",
                              "Condition": {"StringEquals": {"aws:PrincipalTag/Team": "blue"}}}), PolicyKind.IDENTITY)
    d = authorize(Request(ALICE, "s3:GetObject", "arn:aws:s3:::b/alice/x", {"aws:username": "alice"}), identity=[pol])
    assert d.effect == "ImplicitDeny"
    assert d.missing_context_keys == ("aws:PrincipalTag/Team",)


def test_policy_set_agrees_with_list() -> None:
    pols = [compile_policy(doc({"Effect": e, "Action": a, "Resource": "*"}), PolicyKind.IDENTITY, f"p{i}")
            for i, (e, a) in enumerate([("Allow", "s3:*"), ("Deny", "s3:Delete*"), ("Allow", "iam:Get*"),
                                        ("Allow", "*"), ("Deny", "iam:GetUser")])]
    for action in ["s3:GetObject", "s3:DeleteBucket", "iam:GetUser", "iam:GetRole", "ec2:RunInstances"]:
        req = Request(ALICE, action, "*", {})
        assert authorize(req, identity=PolicySet(pols)) == authorize(req, identity=pols)


def test_root_may_do_anything_in_its_account_but_explicit_deny_applies() -> None:
    assert authorize(Request(ROOT, "iam:DeleteAccountAlias", "*", {})).allowed
    scp = compile_policy(doc({"Effect": "Deny", "Action": "iam:*", "Resource": "*"}), PolicyKind.SCP)
    assert authorize(Request(ROOT, "iam:DeleteAccountAlias", "*", {}), scp=[scp]).effect == "ExplicitDeny"


def test_trust_policy_check_as_services_call_it() -> None:
    role = f"arn:aws:iam::{A}:role/deploy"
    trust = compile_policy(json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{A}:root"}, "Action": "sts:AssumeRole"}]}),
        PolicyKind.TRUST, "trust")
    identity = compile_policy(doc({"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": role}), PolicyKind.IDENTITY)
    req = Request(ALICE, "sts:AssumeRole", role, {})
    assert authorize(req, resource=[trust], identity=[identity], resource_requires_grant=True).allowed
    assert not authorize(req, resource=[trust], identity=[], resource_requires_grant=True).allowed


def test_context_values_may_be_lists_or_tuples_and_keys_any_case() -> None:
    pol = compile_policy(doc({"Effect": "Allow", "Action": "*", "Resource": "*",
                              "Condition": {"ForAllValues:StringEquals": {"aws:TagKeys": ["a", "b"]}}}), PolicyKind.IDENTITY)
    assert authorize(Request(ALICE, "x:y", "*", {"AWS:TAGKEYS": ("a",)}), identity=[pol]).allowed
    assert not authorize(Request(ALICE, "x:y", "*", {"aws:tagkeys": ["a", "c"]}), identity=[pol]).allowed


@pytest.mark.parametrize("body, fragment", [
    ([], "JSON object"),
    ({"policies": {}, "request": {}, "x": 1}, "unknown field `x`"),
    ({"policies": [], "request": {}}, "must both be objects"),
    ({"policies": {"identity": "x"}, "request": {"principal": ALICE.arn, "action": "a:b", "resource": "*"}},
     "policies.identity must be a list"),
    ({"policies": {}, "request": {"action": "a:b", "resource": "*"}}, "request.principal is required"),
    ({"policies": {}, "request": {"principal": "bob", "action": "a:b", "resource": "*"}}, "must be an IAM user"),
    ({"policies": {}, "request": {"principal": ALICE.arn, "action": "a:b", "resource": "*", "principal_type": "X"}},
     "principal_type"),
    ({"policies": {}, "request": {"principal": ALICE.arn, "action": "a:b", "resource": "*", "context": {"k": 1}}},
     "context `k`"),
    ({"policies": {}, "request": {"principal": ALICE.arn, "action": "a:b", "resource": "*", "resource_account": "1"}},
     "12-digit"),
    ({"policies": {}, "request": {"principal": ALICE.arn, "action": "a:b", "resource": "*", "extra": 1}},
     "unknown field `request.extra`"),
])
def test_simulate_rejects_bad_shapes(body: object, fragment: str) -> None:
    with pytest.raises(ValidationError) as info:
        simulate(body)  # type: ignore[arg-type]
    assert fragment in info.value.message


def test_simulate_names_the_malformed_policy() -> None:
    with pytest.raises(MalformedPolicyDocument, match=r"^policies.identity\[1\]: "):
        simulate({"policies": {"identity": [json.loads(ALLOW_ALL), {"Statement": []}]},
                  "request": {"principal": ALICE.arn, "action": "a:b", "resource": "*"}})


def test_simulate_answer_shape() -> None:
    out = simulate({"policies": {"identity": [json.loads(doc({"Sid": "S", "Effect": "Deny", "Action": "*", "Resource": "*"}))]},
                    "request": {"principal": ALICE.arn, "action": "a:b", "resource": "*"}})
    assert out == {"decision": "ExplicitDeny", "matched": [
        {"source": "policies.identity[0]", "kind": "identity", "index": 0, "sid": "S", "effect": "Deny"}]}


def test_policy_package_imports_only_core_and_stdlib() -> None:
    import ast
    import pathlib
    import sys

    root = pathlib.Path(__file__).resolve().parents[3] / "app" / "policy"
    for path in root.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            for name in names:
                top = name.split(".")[0]
                assert top in sys.stdlib_module_names or name.startswith(("app.core", "app.policy")) or top == "__future__", \
                    f"{path.name} imports {name}"
    validate_src = (root / "validate.py").read_text()
    assert "app.policy.evaluate" not in validate_src and "app.policy.authorize" not in validate_src
