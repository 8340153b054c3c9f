"""Property tests: monotonicity of deny/allow, boundaries and session policies never widen,
case rules, and agreement of the compiled engine with a small reference interpreter."""
from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.policy import PolicyKind, Principal, PrincipalType, Request, authorize, compile_policy

ACCOUNT = "111111111111"
USER = Principal(PrincipalType.USER, f"arn:aws:iam::{ACCOUNT}:user/alice", ACCOUNT)
SESSION = Principal(PrincipalType.ROLE_SESSION, f"arn:aws:sts::{ACCOUNT}:assumed-role/R/s", ACCOUNT,
                    role_arn=f"arn:aws:iam::{ACCOUNT}:role/R")

ACTIONS = ["s3:GetObject", "s3:PutObject", "iam:CreateRole", "iam:GetUser", "sts:AssumeRole"]
ACTION_PATTERNS = ACTIONS + ["s3:*", "s3:Get*", "*", "iam:?etUser", "IAM:create*", "s3:*Object", "sts:*Role*"]
RESOURCES = ["arn:aws:s3:::b/k", "arn:aws:s3:::b/dir/k", "arn:aws:iam::111111111111:user/alice",
             "arn:aws:iam::111111111111:role/path/R", "arn:aws:logs:us-east-1:111111111111:log-group:g:log-stream:s", "*"]
RESOURCE_PATTERNS = ["*", "arn:aws:s3:::b/*", "arn:aws:s3:::b/k", "arn:aws:s3:::B/*", "arn:aws:iam::111111111111:user/*",
                     "arn:aws:iam::*:role/*", "arn:aws:s3:*", "arn:aws:logs:*:111111111111:log-group:g*",
                     "arn:aws:logs:us-east-?:*:log-group:*", "arn:aws:iam::111111111111:*", "arn:aws:sqs:*:q"]
KEYS = ["aws:PrincipalTag/team", "aws:TagKeys", "s3:max-keys", "aws:SecureTransport"]
OPERATORS = ["StringEquals", "StringNotEquals", "StringEqualsIgnoreCase", "StringLike", "StringNotLike",
             "NumericLessThan", "NumericEquals", "NumericNotEquals", "Bool", "Null"]
VALUES = ["blue", "Blue", "b*", "", "10", "5", "true", "false", "x?"]

condition = st.builds(
    lambda q, op, ie, key, vals: (
        ("Null" if op == "Null" else f"{q}{op}{'IfExists' if ie else ''}"), key, vals),
    st.sampled_from(["", "", "ForAllValues:", "ForAnyValue:"]), st.sampled_from(OPERATORS), st.booleans(),
    st.sampled_from(KEYS), st.lists(st.sampled_from(VALUES), min_size=1, max_size=3))


def _statement(effect: str, not_action: bool, actions: list[str], not_res: bool, resources: list[str],
               conds: list[tuple[str, str, list[str]]]) -> dict[str, Any]:
    s: dict[str, Any] = {"Effect": effect, ("NotAction" if not_action else "Action"): actions,
                         ("NotResource" if not_res else "Resource"): resources}
    block: dict[str, dict[str, list[str]]] = {}
    for op, key, vals in conds:
        if op == "Null":
            vals = [v for v in vals if v in ("true", "false")] or ["true"]
        block.setdefault(op, {})[key] = vals
    if block:
        s["Condition"] = block
    return s


statement = st.builds(
    _statement, st.sampled_from(["Allow", "Allow", "Deny"]), st.sampled_from([False, False, True]),
    st.lists(st.sampled_from(ACTION_PATTERNS), min_size=1, max_size=3), st.booleans(),
    st.lists(st.sampled_from(RESOURCE_PATTERNS), min_size=1, max_size=3), st.lists(condition, max_size=2))
policy = st.lists(statement, min_size=1, max_size=4).map(lambda ss: {"Version": "2012-10-17", "Statement": ss})
context = st.fixed_dictionaries({}, optional={
    "aws:PrincipalTag/team": st.sampled_from(["blue", "Blue", "", "bx"]),
    "AWS:TagKeys": st.lists(st.sampled_from(["blue", "b1", ""]), max_size=3),
    "s3:max-keys": st.sampled_from(["3", "10", "10.0", "abc"]),
    "aws:securetransport": st.sampled_from(["true", "FALSE", "maybe"]),
})
request = st.builds(lambda a, r, c: Request(USER, a, r, c), st.sampled_from(ACTIONS), st.sampled_from(RESOURCES), context)


def compiled(docs: list[dict[str, Any]], kind: PolicyKind = PolicyKind.IDENTITY) -> list[Any]:
    return [compile_policy(d, kind, f"p{i}") for i, d in enumerate(docs)]


# ---------------------------------------------------------------- reference interpreter
def glob(pattern: str, text: str, cross_colon: bool = True) -> bool:
    """Plain dynamic-programming wildcard match: * any run, ? one character."""
    n = len(text)
    reach = [True] + [False] * n
    for ch in pattern:
        if ch == "*":
            nxt = [False] * (n + 1)
            for i in range(n + 1):
                nxt[i] = reach[i] or (i > 0 and nxt[i - 1] and (cross_colon or text[i - 1] != ":"))
        else:
            nxt = [False] + [reach[i] and (ch == "?" and (cross_colon or text[i] != ":") or ch == text[i])
                             for i in range(n)]
        reach = nxt
    return reach[n]


def ref_resource(pattern: str, resource: str) -> bool:
    if pattern == "*":
        return True
    pf = pattern.split(":")
    if len(pf) < 6:
        if not pattern.endswith("*"):
            return False
        rf = resource.split(":")
        k = len(pf) - 1
        if len(rf) <= k or not all(glob(p, r, False) for p, r in zip(pf[:k], rf[:k])):
            return False
        rest = ":".join(rf[k:])
        return any(glob(pf[k][:-1], rest[:i], False) for i in range(len(rest) + 1))
    pf, rf = pattern.split(":", 5), resource.split(":", 5)
    if len(rf) < 6:
        return False
    return all(glob(p, r, False) for p, r in zip(pf[:5], rf[:5])) and glob(pf[5], rf[5])


def ref_number(text: str) -> Decimal | None:
    try:
        return Decimal(text) if text.strip() == text and text not in ("NaN", "Infinity") else None
    except InvalidOperation:
        return None


def ref_one(base: str, v: str, pvals: list[str]) -> bool | None:
    """Positive comparison of one request value; None if the value cannot be read."""
    if base.startswith("String"):
        if "IgnoreCase" in base:
            return any(v.lower() == p.lower() for p in pvals)
        if "Like" in base:
            return any(glob(p, v) for p in pvals)
        return v in pvals
    if base.startswith("Numeric"):
        x = ref_number(v)
        if x is None or not x.is_finite():
            return None
        ps = [n for n in (ref_number(p) for p in pvals) if n is not None and n.is_finite()]
        if "LessThan" in base:
            return any(x < p for p in ps)
        return any(x == p for p in ps)
    if base == "Bool":
        if v.lower() not in ("true", "false"):
            return None
        return any(v.lower() == p.lower() for p in pvals)
    raise AssertionError(base)


def ref_condition(op: str, key: str, pvals: list[str], ctx: dict[str, Any]) -> bool:
    lowered = {k.lower(): v for k, v in ctx.items()}
    value = lowered.get(key.lower())
    if op == "Null":
        empty = value is None or value == "" or (isinstance(value, list) and all(x == "" for x in value))
        return any((p == "true") == empty for p in pvals)
    qualifier = op.split(":")[0] if ":" in op else None
    base = op.split(":")[-1]
    if_exists = base.endswith("IfExists")
    base = base[: -len("IfExists")] if if_exists else base
    negated = "Not" in base
    positive = base.replace("Not", "")
    if value is None:
        if if_exists:
            return True
        if qualifier:
            return qualifier == "ForAllValues"
        return negated

    def test(v: str) -> bool:
        r = ref_one(positive, v, pvals)
        return False if r is None else (not r if negated else r)

    if qualifier:
        values = [value] if isinstance(value, str) else list(value)
        if all(x == "" for x in values):
            return qualifier == "ForAllValues"
        return all(map(test, values)) if qualifier == "ForAllValues" else any(map(test, values))
    if isinstance(value, list):
        if len(value) != 1:
            return False
        value = value[0]
    return test(value)


def ref_applies(s: dict[str, Any], req: Request) -> bool:
    acts = s.get("Action", s.get("NotAction"))
    hit = any(glob(p.lower(), req.action.lower()) for p in acts)
    if hit != ("Action" in s):
        return False
    res = s.get("Resource", s.get("NotResource"))
    hit = any(ref_resource(p, req.resource) for p in res)
    if hit != ("Resource" in s):
        return False
    return all(ref_condition(op, k, v, dict(req.context))
               for op, block in s.get("Condition", {}).items() for k, v in block.items())


def ref_decision(docs: list[dict[str, Any]], req: Request) -> str:
    effects = [s["Effect"] for d in docs for s in d["Statement"] if ref_applies(s, req)]
    return "ExplicitDeny" if "Deny" in effects else "Allow" if "Allow" in effects else "ImplicitDeny"


SETTINGS = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(st.lists(policy, min_size=1, max_size=3), request)
def test_compiled_engine_agrees_with_reference_interpreter(docs: list[dict[str, Any]], req: Request) -> None:
    assert authorize(req, identity=compiled(docs)).effect == ref_decision(docs, req)


@SETTINGS
@given(st.lists(policy, min_size=1, max_size=3), request, statement)
def test_adding_a_deny_never_produces_allow(docs: list[dict[str, Any]], req: Request, extra: dict[str, Any]) -> None:
    before = authorize(req, identity=compiled(docs))
    extra = {**extra, "Effect": "Deny"}
    after = authorize(req, identity=compiled(docs + [{"Version": "2012-10-17", "Statement": [extra]}]))
    assert not (after.allowed and not before.allowed)
    if before.effect == "ExplicitDeny":
        assert after.effect == "ExplicitDeny"


@SETTINGS
@given(st.lists(policy, min_size=1, max_size=3), request, statement)
def test_adding_an_allow_never_turns_allow_into_deny(docs: list[dict[str, Any]], req: Request,
                                                    extra: dict[str, Any]) -> None:
    before = authorize(req, identity=compiled(docs))
    extra = {**extra, "Effect": "Allow"}
    after = authorize(req, identity=compiled(docs + [{"Version": "2012-10-17", "Statement": [extra]}]))
    if before.allowed:
        assert after.allowed


@SETTINGS
@given(st.lists(policy, min_size=1, max_size=2), policy, st.lists(policy, min_size=1, max_size=2), request,
       st.lists(policy, max_size=1))
def test_boundary_and_session_policies_never_widen(docs: list[dict[str, Any]], boundary_doc: dict[str, Any],
                                                  session_docs: list[dict[str, Any]], req: Request,
                                                  resource_docs: list[dict[str, Any]]) -> None:
    req = Request(SESSION, req.action, req.resource, req.context)
    identity = compiled(docs)
    resource = [compile_policy({"Version": "2012-10-17", "Statement": [
        {**s, "Principal": {"AWS": SESSION.role_arn}} for s in d["Statement"]]}, PolicyKind.RESOURCE)
        for d in resource_docs]
    plain = authorize(req, identity=identity, resource=resource)
    bounded = authorize(req, identity=identity, resource=resource,
                        boundary=compile_policy(boundary_doc, PolicyKind.BOUNDARY))
    sessioned = authorize(req, identity=identity, resource=resource,
                          session=compiled(session_docs, PolicyKind.SESSION))
    for narrowed in (bounded, sessioned):
        if narrowed.allowed:
            assert plain.allowed


@SETTINGS
@given(st.sampled_from(ACTIONS), st.data())
def test_action_matching_is_case_insensitive(action: str, data: st.DataObject) -> None:
    flips = data.draw(st.lists(st.booleans(), min_size=len(action), max_size=len(action)))
    variant = "".join(c.swapcase() if f else c for c, f in zip(action, flips))
    pattern = data.draw(st.sampled_from([action, action.upper(), action.lower(), action[:-2] + "*"]))
    pol = compiled([{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": pattern, "Resource": "*"}]}])
    assert authorize(Request(USER, variant, "*", {}), identity=pol).allowed


@SETTINGS
@given(st.text(alphabet="abcXYZ/-_", min_size=1, max_size=12), st.booleans())
def test_resource_matching_is_case_sensitive(name: str, wildcard: bool) -> None:
    resource = f"arn:aws:s3:::bucket/{name}"
    pattern = f"arn:aws:s3:::bucket/{name[:1]}*" if wildcard else resource
    pol = compiled([{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": pattern}]}])
    assert authorize(Request(USER, "s3:GetObject", resource, {}), identity=pol).allowed
    other = f"arn:aws:s3:::bucket/{name.swapcase()}"
    if other[: len("arn:aws:s3:::bucket/") + 1] != resource[: len("arn:aws:s3:::bucket/") + 1] or not wildcard:
        expected = other == resource
        assert authorize(Request(USER, "s3:GetObject", other, {}), identity=pol).allowed is expected


@SETTINGS
@given(st.lists(condition, min_size=1, max_size=3), context, st.sampled_from(["Allow", "Deny"]))
def test_condition_semantics_agree_with_reference_interpreter(conds: list[tuple[str, str, list[str]]],
                                                             ctx: dict[str, Any], effect: str) -> None:
    docs = [{"Version": "2012-10-17", "Statement": [_statement(effect, False, ["*"], False, ["*"], conds)]}]
    req = Request(USER, "s3:GetObject", "*", ctx)
    assert authorize(req, identity=compiled(docs)).effect == ref_decision(docs, req)
