"""`tessera policy check|simulate` through `app.cli.main.main`, on temporary files."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as s

from app.cli.main import main
from app.policy.positions import locate_error, statement_spans

USER = "arn:aws:iam::123456789012:user/alice"


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


POLICY = """{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Sid": "Read",
      "Effect": "Allow",
      "Action": "s3:GetObject",
      "Resource": "arn:aws:s3:::b/*",
      "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}
    },
    {
      "Sid": "NoDelete",
      "Effect": "Deny",
      "Action": "s3:DeleteObject",
      "Resource": "*"
    }
  ]
}
"""


# ---------------------------------------------------------------- check
def test_check_ok(tmp_path, capsys):
    path = write(tmp_path, "p.json", POLICY)
    code, out, _ = run(capsys, "policy", "check", path)
    chars = sum(1 for ch in POLICY if not ch.isspace())
    assert code == 0
    assert out == f"ok: {path} (identity policy, 2 statements, {chars} chars)\n"


def test_check_kind_changes_the_rules(tmp_path, capsys):
    path = write(tmp_path, "p.json", POLICY)
    code, out, _ = run(capsys, "policy", "check", path, "--kind", "trust")
    assert code == 1
    assert out.startswith(f"{path}:8:7: Has prohibited field Resource (")  # statement 1's `Resource` key
    trust = json.dumps({"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"},
                                                             "Action": "sts:AssumeRole"}})
    code, out, _ = run(capsys, "policy", "check", write(tmp_path, "t.json", trust), "--kind", "trust")
    assert code == 0 and "(trust policy, 1 statement, " in out


# (document, expected line, expected column, message start): the position of the statement /
# element / value the validation message names
MALFORMED: list[tuple[str, int, int, str]] = [
    # JSON syntax: where the parser stopped
    ('{"Version": "2012-10-17",\n "Statement": [\n  {"Effect": "Allow" "Action": "s3:*"}]}', 3, 22,
     "Syntax errors in policy. (Expecting ',' delimiter)"),
    ('{\n  "Version": "2012-10-17",\n  "Statement": [\n', 4, 1, "Syntax errors in policy. (Expecting value)"),
    # an unknown element of statement 2
    ('{"Version": "2012-10-17", "Statement": [\n'
     '  {"Effect": "Allow", "Action": "s3:*", "Resource": "*"},\n'
     '  {"Effect": "Allow", "Action": "s3:*", "Resource": "*", "Bogus": 1}\n]}', 3, 58,
     "Syntax errors in policy. (statement 2: unknown element `Bogus`)"),
    # a bad action value inside an array
    ('{"Version": "2012-10-17", "Statement": [{\n  "Effect": "Allow",\n  "Action": ["s3:GetObject",\n'
     '             "GetObject"],\n  "Resource": "*"}]}', 4, 14, "Actions/Conditions must be prefaced by a vendor"),
    # missing Effect: the statement itself
    ('{"Version": "2012-10-17",\n  "Statement": [\n    {"Action": "s3:*", "Resource": "*"}]}', 3, 5,
     "Syntax errors in policy. (statement 1: missing required element `Effect`)"),
    # unknown top-level element
    ('{\n  "Version": "2012-10-17",\n  "Statement": [],\n  "Extra": 1\n}', 4, 3,
     "Syntax errors in policy. (unknown top-level element `Extra`)"),
    # duplicate key: the second occurrence
    ('{"Version": "2012-10-17", "Statement": {\n  "Effect": "Allow",\n  "Effect": "Deny"}}', 3, 3,
     "Syntax errors in policy. (duplicate key `Effect`)"),
    # unknown condition operator
    ('{"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "s3:*", "Resource": "*",\n'
     '  "Condition": {\n    "StringEqualz": {"aws:username": "a"}}}}', 3, 5,
     "Syntax errors in policy. (statement 1: unknown condition operator `StringEqualz`)"),
    # duplicate Sid: the later statement's Sid value
    ('{"Version": "2012-10-17", "Statement": [\n  {"Sid": "A", "Effect": "Allow", "Action": "s3:*", "Resource": "*"},\n'
     '  {"Sid": "A", "Effect": "Deny", "Action": "s3:*", "Resource": "*"}]}', 3, 11,
     "Statement IDs (SID) in a single policy must be unique."),
    # invalid Version value (a syntax error on AWS)
    ('{"Version": "2020-01-01",\n "Statement": []}', 1, 13, "Syntax errors in policy. (invalid `Version` `2020-01-01`)"),
    # the resource a field short (AWS: legacy parsing)
    ('{"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "s3:*",\n  "Resource": ["*",\n'
     '    "arn:aws:s3::b"]}}', 3, 5, "The policy failed legacy parsing (statement 1: `Resource` `arn:aws:s3::b`"),
]


@pytest.mark.parametrize("text,line,column,message", MALFORMED)
def test_check_reports_line_and_column(tmp_path, capsys, text, line, column, message):
    path = write(tmp_path, "bad.json", text)
    code, out, _ = run(capsys, "policy", "check", path)
    assert code == 1
    assert out.startswith(f"{path}:{line}:{column}: {message}"), out


def test_check_position_points_at_the_named_text(tmp_path, capsys):
    text = '{"Version": "2012-10-17",\n "Statement": {"Effect": "Allow",\n   "Action": "s3:*",\n   "Resource": "not-an-arn"}}'
    path = write(tmp_path, "bad.json", text)
    code, out, _ = run(capsys, "policy", "check", path)
    line, column = (int(x) for x in out.split(":")[1:3])
    assert code == 1 and text.splitlines()[line - 1][column - 1:].startswith('"not-an-arn"')


def test_check_unreadable_and_oversized(tmp_path, capsys):
    code, _, err = run(capsys, "policy", "check", str(tmp_path / "missing.json"))
    assert code == 2 and "cannot read" in err
    big = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": f"s3:Get{i:05d}", "Resource": "*"} for i in range(300)]})
    code, out, _ = run(capsys, "policy", "check", write(tmp_path, "big.json", big))
    assert code == 1 and out.endswith(":1:1: Cannot exceed quota for PolicySize: 10240\n")
    (tmp_path / "latin1.json").write_bytes(b'{"Sid": "\xe9"}')
    code, out, _ = run(capsys, "policy", "check", str(tmp_path / "latin1.json"))
    assert code == 1 and "not UTF-8" in out


# ---------------------------------------------------------------- simulate
def sim(capsys, *extra: str) -> tuple[int, str, str]:
    return run(capsys, "policy", "simulate", "--principal", USER, *extra)


def test_simulate_allow_shows_deciding_statement(tmp_path, capsys):
    path = write(tmp_path, "p.json", POLICY)
    code, out, _ = sim(capsys, "--identity", path, "--action", "s3:GetObject", "--resource", "arn:aws:s3:::b/k",
                       "--context", "aws:SourceIp=10.1.2.3")
    assert code == 0
    assert out == f"decision: Allow\ndeciding statements:\n  {path}:4 Read Allow\nmissing context keys: none\n"


def test_simulate_missing_context_is_implicit_deny(tmp_path, capsys):
    path = write(tmp_path, "p.json", POLICY)
    code, out, _ = sim(capsys, "--identity", path, "--action", "s3:GetObject", "--resource", "arn:aws:s3:::b/k")
    assert code == 1
    assert out == "decision: ImplicitDeny\nmissing context keys: aws:SourceIp\n"


def test_simulate_explicit_deny_names_file_and_line(tmp_path, capsys):
    allow_all = write(tmp_path, "all.json", json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
    path = write(tmp_path, "p.json", POLICY)
    code, out, _ = sim(capsys, "--identity", allow_all, "--identity", path, "--action", "s3:DeleteObject")
    assert code == 1
    assert f"  {path}:11 NoDelete Deny\n" in out and out.startswith("decision: ExplicitDeny\n")


def test_simulate_boundary_session_and_multivalued_context(tmp_path, capsys):
    identity = write(tmp_path, "id.json", json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "Tags", "Effect": "Allow", "Action": "ec2:CreateTags", "Resource": "*",
         "Condition": {"ForAllValues:StringEquals": {"aws:TagKeys": ["env", "team"]}}}]}))
    boundary = write(tmp_path, "b.json", json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "Ec2", "Effect": "Allow", "Action": "ec2:*", "Resource": "*"}]}))
    args = ["--identity", identity, "--boundary", boundary, "--action", "ec2:CreateTags",
            "--context", "aws:TagKeys=env", "--context", "aws:TagKeys=team"]
    code, out, _ = sim(capsys, *args)
    assert code == 0 and f"{identity}:1 Tags Allow" in out and f"{boundary}:1 Ec2 Allow" in out
    code, out, _ = sim(capsys, *args[:-2], "--context", "aws:TagKeys=owner")
    assert code == 1 and out.startswith("decision: ImplicitDeny")
    session = write(tmp_path, "s.json", json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}))
    role_session = "arn:aws:sts::123456789012:assumed-role/r/s"
    code, out, _ = run(capsys, "policy", "simulate", "--principal", role_session, "--identity", identity,
                       "--session", session, "--action", "ec2:CreateTags", "--context", "aws:TagKeys=env")
    assert code == 1 and out.startswith("decision: ImplicitDeny")


def test_simulate_trust_policy_for_assume_role(tmp_path, capsys):
    trust = write(tmp_path, "trust.json", json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "Ec2", "Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}))
    role = "arn:aws:iam::123456789012:role/app"
    code, out, _ = run(capsys, "policy", "simulate", "--principal", "ec2.amazonaws.com", "--principal-type", "Service",
                       "--resource-policy", trust, "--action", "sts:AssumeRole", "--resource", role)
    assert code == 0 and f"{trust}:1 Ec2 Allow" in out
    code, out, _ = sim(capsys, "--resource-policy", trust, "--action", "sts:AssumeRole", "--resource", role)
    assert code == 1


def test_simulate_errors_exit_2(tmp_path, capsys):
    bad = write(tmp_path, "bad.json", '{"Version": "2012-10-17",\n "Statement": [{"Effect": "Maybe", '
                                      '"Action": "s3:*", "Resource": "*"}]}')
    code, _, err = sim(capsys, "--identity", bad, "--action", "s3:GetObject")
    assert code == 2 and err.startswith(f"{bad}:2:27: Syntax errors in policy. (statement 1: `Effect` must be")
    good = write(tmp_path, "p.json", POLICY)
    code, _, err = sim(capsys, "--identity", good, "--action", "s3:GetObject", "--context", "novalue")
    assert code == 2 and "expected KEY=VALUE" in err
    code, _, err = run(capsys, "policy", "simulate", "--principal", "bob", "--identity", good, "--action", "s3:Get")
    assert code == 2 and "--principal" in err


# ---------------------------------------------------------------- the locator, property-tested
_ident = s.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=8)
_statement = s.fixed_dictionaries({
    "Sid": _ident, "Effect": s.sampled_from(["Allow", "Deny"]),
    "Action": s.one_of(_ident.map(lambda a: f"s3:{a}"), s.lists(_ident.map(lambda a: f"s3:{a}"), min_size=1, max_size=3)),
    "Resource": s.just("*")})


@settings(max_examples=60, deadline=None)
@given(statements=s.lists(_statement, min_size=1, max_size=5), indent=s.sampled_from([None, 0, 1, 2, 4, "\t"]),
       single=s.booleans())
def test_statement_spans_cover_exactly_each_statement(statements: list[dict[str, Any]], indent: Any,
                                                      single: bool) -> None:
    body: Any = statements[0] if single else statements
    text = json.dumps({"Version": "2012-10-17", "Statement": body}, indent=indent)
    spans = statement_spans(text)
    lines = text.splitlines(keepends=True)
    starts = [sum(len(x) for x in lines[:i]) for i in range(len(lines))]
    expected = [statements[0]] if single else statements
    assert len(spans) == len(expected)
    for span, statement in zip(spans, expected):
        start = starts[span.start_line - 1] + span.start_column - 1
        end = starts[span.end_line - 1] + span.end_column - 1
        assert json.loads(text[start:end]) == statement
    # an error naming a statement's Sid element lands on that statement's line
    n = len(expected)
    line, _ = locate_error(text, f"Syntax errors in policy. (statement {n}: `Sid` must be a string)")
    assert spans[n - 1].start_line <= line <= spans[n - 1].end_line
