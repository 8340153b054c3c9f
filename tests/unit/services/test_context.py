"""The request context: which keys exist for which caller, and their formats."""
from __future__ import annotations

from dataclasses import replace

import pytest

from app.core import arn
from app.core.records import Call, Caller, RequestMeta, Session, Tag
from app.services.context import build_context, merge_tags, principal_tags, request_tags

ACCT = "123456789012"
NOW = 1_900_000_000.0
META = RequestMeta("r1", NOW, source_ip="192.0.2.7", secure_transport=True, region="eu-west-1")
USER = Caller("user", ACCT, arn.user(ACCT, "/", "alice"), "AIDAALICE", arn.user(ACCT, "/", "alice"), "AKIA1",
              name="alice")
ROOT = Caller("root", ACCT, arn.root(ACCT), ACCT, arn.root(ACCT), "AKIA2")
SESSION = Session("ASIA1", "x" * 40, "assumed-role", ACCT, arn.assumed_role(ACCT, "R", "s"), "AROAR:s",
                  arn.role(ACCT, "/", "R"), "AROAR", "R", NOW - 100, NOW + 3500, session_name="s",
                  tags=(Tag("Team", "blue"),), source_identity="alice", mfa_authenticated=True,
                  mfa_authenticated_at=NOW - 30, federated_provider="arn:aws:iam::123456789012:saml-provider/P",
                  federation_context=(("saml:sub", "alice"), ("saml:edupersonaffiliation", "staff"),
                                      ("saml:edupersonaffiliation", "member")))
ROLE = Caller("assumed-role", ACCT, SESSION.arn, SESSION.user_id, SESSION.principal_arn, "ASIA1", name="R",
              session=SESSION)


def test_global_keys() -> None:
    ctx = build_context(Call(USER, META), now=NOW)
    assert ctx["aws:CurrentTime"] == "2030-03-17T17:46:40Z"
    assert ctx["aws:EpochTime"] == "1900000000"
    assert ctx["aws:SecureTransport"] == "true"
    assert ctx["aws:SourceIp"] == "192.0.2.7"
    assert ctx["aws:RequestedRegion"] == "eu-west-1"


def test_user_keys_and_no_session_keys() -> None:
    ctx = build_context(Call(USER, META), now=NOW, tags=(Tag("dept", "eng"),))
    assert (ctx["aws:username"], ctx["aws:userid"], ctx["aws:PrincipalType"]) == ("alice", "AIDAALICE", "User")
    assert ctx["aws:PrincipalArn"] == USER.arn and ctx["aws:PrincipalAccount"] == ACCT
    assert ctx["aws:PrincipalTag/dept"] == "eng"
    for absent in ("aws:MultiFactorAuthPresent", "aws:MultiFactorAuthAge", "aws:TokenIssueTime",
                   "aws:SourceIdentity", "aws:FederatedProvider"):
        assert absent not in ctx


def test_root_is_an_account_principal() -> None:
    ctx = build_context(Call(ROOT, META), now=NOW)
    assert ctx["aws:PrincipalType"] == "Account" and ctx["aws:userid"] == ACCT
    assert "aws:username" not in ctx


def test_role_session_keys() -> None:
    ctx = build_context(Call(ROLE, META), now=NOW, tags=principal_tags(ROLE, (Tag("team", "red"), Tag("x", "1"))))
    assert ctx["aws:PrincipalType"] == "AssumedRole"
    assert ctx["aws:PrincipalArn"] == arn.role(ACCT, "/", "R")
    assert "aws:username" not in ctx
    assert ctx["aws:TokenIssueTime"] == "2030-03-17T17:45:00Z"
    assert ctx["aws:MultiFactorAuthPresent"] == "true" and ctx["aws:MultiFactorAuthAge"] == "30"
    assert ctx["aws:SourceIdentity"] == "alice"
    assert ctx["aws:FederatedProvider"] == SESSION.federated_provider
    assert ctx["saml:sub"] == "alice"
    assert ctx["saml:edupersonaffiliation"] == ["staff", "member"]
    assert ctx["aws:PrincipalTag/Team"] == "blue" and ctx["aws:PrincipalTag/x"] == "1"
    assert "aws:PrincipalTag/team" not in ctx  # overridden case-insensitively by the session tag


def test_session_without_mfa_says_false_and_has_no_age() -> None:
    caller = replace(ROLE, session=replace(SESSION, mfa_authenticated=False, mfa_authenticated_at=None))
    ctx = build_context(Call(caller, META), now=NOW)
    assert ctx["aws:MultiFactorAuthPresent"] == "false" and "aws:MultiFactorAuthAge" not in ctx


def test_extra_keys_win_and_lists_are_copied() -> None:
    keys = ["a", "b"]
    ctx = build_context(Call(USER, META), now=NOW, extra={"sts:ExternalId": "e", "aws:SourceIp": "10.0.0.1",
                                                          "aws:TagKeys": keys})
    assert ctx["sts:ExternalId"] == "e" and ctx["aws:SourceIp"] == "10.0.0.1"
    assert ctx["aws:TagKeys"] == keys and ctx["aws:TagKeys"] is not keys


def test_unsigned_call_has_only_request_facts() -> None:
    ctx = build_context(Call(None, RequestMeta("r", NOW)), now=NOW)
    assert set(ctx) == {"aws:CurrentTime", "aws:EpochTime", "aws:SecureTransport"}


@pytest.mark.parametrize("base, over, expected", [
    ((Tag("a", "1"),), (Tag("A", "2"),), (Tag("A", "2"),)),
    ((Tag("a", "1"),), (Tag("b", "2"),), (Tag("a", "1"), Tag("b", "2"))),
    ((), (), ()),
])
def test_merge_tags(base: tuple, over: tuple, expected: tuple) -> None:
    assert merge_tags(base, over) == expected


def test_request_tags() -> None:
    assert request_tags(()) == {}
    assert request_tags((Tag("k", "v"), Tag("j", ""))) == {
        "aws:RequestTag/k": "v", "aws:RequestTag/j": "", "aws:TagKeys": ["k", "j"]}
