"""Static validation: raw JSON -> PolicyDocument, or MalformedPolicyDocument.

The checks run in IAM's order, each over every statement before the next, so a document
with several faults gets the error AWS reports first (order and texts as observed against
AWS: localstack's AWS-validated CreatePolicy/UpdateAssumeRolePolicy snapshots, moto's IAM
policy validator and its tests; the corpus case of each rule cites its source):

1. syntax: element names and JSON types, Effect, operators  -> "Syntax errors in policy."
2. `Version` 2012-10-17, for managed policies only  -> "Policy document must be version 2012-10-17 or greater."
3. legacy parsing: Effect's case, Date/IP condition values, then the Resource and NotResource
   values (their format errors are held back, the last one found is reported at step 9)
   -> "The policy failed legacy parsing"
4. Sids: alphanumeric in IAM's policies, unique within the policy
5. every statement has actions  -> "Policy statement must contain actions."
6. trust policies: no Resource / NotResource  -> "Has prohibited field Resource"
7. Principal / NotPrincipal as the policy kind requires or forbids
8. every statement has resources (kinds that need them)  -> "Policy statement must contain resources."
9. the held-back resource format error (`Resource adf must be in ARN format or "*".`, ...)
10. action names: a vendor prefix, one colon, a valid vendor
11. trust policies: only the STS actions a trust policy may name
    -> "AssumeRole policy may only specify STS AssumeRole actions."

Condition keys need no vendor prefix (`{"StringEquals": {"a": "x"}}` is valid), and key names
are compared case-insensitively when evaluated. Every message starts with AWS's exact text;
Tessera appends where the fault is: ``Policy statement must contain actions. (statement 2
`ReadOnly`: no `Action` or `NotAction`)``. Never imports the evaluator.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from app.core.errors import MalformedPolicyDocument
from app.policy.conditions import OperatorError, ParsedOperator, parse_operator, policy_value_error
from app.policy.document import (
    VERSION_2008,
    VERSION_2012,
    Condition,
    PolicyDocument,
    PolicyKind,
    PrincipalSpec,
    Statement,
)
from app.policy.matching import action_matcher
from app.policy.resource_format import fails_legacy_parsing, format_error

K = PolicyKind
SYNTAX = "Syntax errors in policy."
LEGACY = "The policy failed legacy parsing"
NO_PRINCIPAL_HERE = "Policy document should not specify a principal."
TRUST_ACTIONS_ONLY = "AssumeRole policy may only specify STS AssumeRole actions."
TRUST_NO_PRINCIPAL = ("Invalid principal in policy: com.amazon.balsa.error.InvalidPolicyException: "
                      "The passed in policy has a statement with no principals!")
TRUST_STAR = 'AssumeRolepolicy contained an invalid principal: "STAR":"*".'
SID_CHARS = ("Statement IDs (SID) must be alpha-numeric. "
             "Check that your input satisfies the regular expression [0-9A-Za-z]*")
# the actions a role trust policy may name (a wildcard must cover at least one of them)
TRUST_POLICY_ACTIONS = ("sts:assumerole", "sts:assumerolewithsaml", "sts:assumerolewithwebidentity",
                        "sts:tagsession", "sts:setsourceidentity", "sts:setcontext")
_TOP_KEYS = {"Version", "Id", "Statement"}
_STATEMENT_KEYS = {"Sid", "Effect", "Principal", "NotPrincipal", "Action", "NotAction",
                   "Resource", "NotResource", "Condition"}
_PRINCIPAL_KEYS = {"AWS", "Service", "Federated", "CanonicalUser"}
_BAD_VENDOR = re.compile(r"[^A-Za-z0-9.-]")
_SID_IAM = re.compile(r"^[A-Za-z0-9]*$")
_ACCOUNT = re.compile(r"^\d{12}$")
_IAM_KINDS = {K.IDENTITY, K.BOUNDARY, K.SESSION, K.TRUST}
_RESOURCE_REQUIRED = {K.IDENTITY, K.BOUNDARY, K.SESSION, K.SCP, K.RCP}
_PRINCIPAL_REQUIRED = {K.RESOURCE, K.TRUST, K.RCP}
_NO_PRINCIPAL_KINDS = {K.IDENTITY, K.BOUNDARY, K.SESSION}  # "should not specify a principal"
MAX_STATEMENTS = 10000
MAX_VALUES = 10000


def _fail(aws: str, detail: str | None = None) -> MalformedPolicyDocument:
    return MalformedPolicyDocument(aws if detail is None else f"{aws} ({detail})")


class _Where:
    """Names a statement in messages: `statement 2 `Sid``."""

    def __init__(self, index: int, sid: Any) -> None:
        self.text = f"statement {index + 1}" + (f" `{sid}`" if isinstance(sid, str) and sid else "")

    def err(self, aws: str, detail: str) -> MalformedPolicyDocument:
        return _fail(aws, f"{self.text}: {detail}")


@dataclass(slots=True)
class _Raw:
    """One statement after the syntax check, before the later checks."""

    index: int
    where: _Where
    raw: Mapping[str, Any]
    effect: str
    actions: tuple[str, ...] | None
    not_actions: tuple[str, ...] | None
    resources: tuple[str, ...] | None
    not_resources: tuple[str, ...] | None
    conditions: list[tuple[str, ParsedOperator, str, tuple[str, ...]]] = field(default_factory=list)

    @property
    def sid(self) -> str | None:
        sid = self.raw.get("Sid")
        return sid if isinstance(sid, str) else None


def _scalar(value: Any) -> str | None:
    """Canonical string form of a JSON scalar condition value; None if not a scalar."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value) if value != int(value) or abs(value) >= 1e16 else str(int(value))
    return None


def _strings(value: Any, where: _Where, element: str) -> tuple[str, ...]:
    """A string or an array of strings (null array elements are ignored, as AWS does)."""
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list):
        if len(value) > MAX_VALUES:
            raise where.err(SYNTAX, f"too many values in `{element}`")
        out = []
        for item in value:
            if item is None:
                continue
            if not isinstance(item, str):
                raise where.err(SYNTAX, f"`{element}` values must be strings")
            out.append(item)
        return tuple(out)
    raise where.err(SYNTAX, f"`{element}` must be a string or an array of strings")


# ---------------------------------------------------------------- the document, in IAM's order
def parse_document(raw: Any, kind: PolicyKind, *, managed: bool = False, strict: bool = True) -> PolicyDocument:
    """Validate `raw` (parsed JSON) as a `kind` policy. `managed`: IAM's managed-policy rule
    that `Version` be 2012-10-17, checked where IAM checks it. `strict=False`: a document already
    accepted (read back from the store, or published by AWS): only its structure (step 1) is checked."""
    version, pid, items = _top_level(raw)
    stmts = [_syntax(i, s, kind) for i, s in enumerate(items)]
    if not strict:
        return _build(version, pid, stmts, [_lenient_principals(st) for st in stmts])
    if managed and version != VERSION_2012:
        raise _fail("Policy document must be version 2012-10-17 or greater.")
    held = _legacy(stmts)
    _sids(stmts, kind)
    for st in stmts:
        if st.actions is None and st.not_actions is None:
            raise st.where.err("Policy statement must contain actions.", "no `Action` or `NotAction`")
    if kind is K.TRUST:  # before its principal and its actions (an identity policy given as a trust policy)
        for st in stmts:
            for element in ("Resource", "NotResource"):
                if element in st.raw:
                    raise st.where.err(f"Has prohibited field {element}",
                                       f"`{element}`: a trust policy applies to its own role")
    principals = [_principals(st, kind) for st in stmts]
    if kind in _RESOURCE_REQUIRED:
        for st in stmts:
            if st.resources is None and st.not_resources is None:
                raise st.where.err("Policy statement must contain resources.", "no `Resource` or `NotResource`")
    if held is not None:
        raise held
    for element in ("Action", "NotAction"):
        for st in stmts:
            for action in (st.actions if element == "Action" else st.not_actions) or ():
                _check_action(action, st.where, element)
    if kind is K.TRUST:
        _trust(stmts)
    return _build(version, pid, stmts, principals)


def _build(version: str | None, pid: str | None, stmts: list[_Raw],
           principals: list[tuple[PrincipalSpec | None, PrincipalSpec | None]]) -> PolicyDocument:
    return PolicyDocument(version, pid, tuple(
        Statement(st.index, st.sid, st.effect, p, np, st.actions, st.not_actions, st.resources, st.not_resources,
                  tuple(Condition(op, key, values) for op, _, key, values in st.conditions))
        for st, (p, np) in zip(stmts, principals)))


def _top_level(raw: Any) -> tuple[str | None, str | None, list[Any]]:
    if not isinstance(raw, Mapping):
        raise _fail(SYNTAX, "the document must be a JSON object")
    for key in raw:
        if key not in _TOP_KEYS:
            raise _fail(SYNTAX, f"unknown top-level element `{key}`")
    version = raw.get("Version")
    if version is not None and version not in (VERSION_2012, VERSION_2008):
        raise _fail(SYNTAX, f"invalid `Version` `{version}`")
    pid = raw.get("Id")
    if pid is not None and not isinstance(pid, str):
        raise _fail(SYNTAX, "`Id` must be a string")
    if "Statement" not in raw:
        raise _fail(SYNTAX, "missing required element `Statement`")
    body = raw["Statement"]
    items = [body] if isinstance(body, Mapping) else body
    if not isinstance(items, list) or not items:
        raise _fail(SYNTAX, "`Statement` must be an object or a non-empty array")
    if len(items) > MAX_STATEMENTS:
        raise _fail(SYNTAX, "too many statements")
    return version, pid, items


def _syntax(index: int, raw: Any, kind: PolicyKind) -> _Raw:
    """Step 1 for one statement: element names and JSON types."""
    if not isinstance(raw, Mapping):
        raise _fail(SYNTAX, f"statement {index + 1} must be a JSON object")
    where = _Where(index, raw.get("Sid"))
    for key in raw:
        if key not in _STATEMENT_KEYS:
            raise where.err(SYNTAX, f"unknown element `{key}`")
    for a, b in (("Resource", "NotResource"), ("Action", "NotAction"), ("Principal", "NotPrincipal")):
        if a in raw and b in raw:
            raise where.err(SYNTAX, f"both `{a}` and `{b}`")
    effect = raw.get("Effect")
    if effect is None:
        raise where.err(SYNTAX, "missing required element `Effect`")
    if not isinstance(effect, str) or effect.lower() not in ("allow", "deny"):
        raise where.err(SYNTAX, f"`Effect` must be `Allow` or `Deny`, not `{effect}`")
    lists = {k: (_strings(raw[k], where, k) or None) if k in raw else None
             for k in ("Action", "NotAction", "Resource", "NotResource")}
    st = _Raw(index, where, raw, effect, lists["Action"], lists["NotAction"], lists["Resource"], lists["NotResource"])
    if "Condition" in raw:
        st.conditions = _conditions(raw["Condition"], where)
    sid = raw.get("Sid")
    if sid is not None and not isinstance(sid, str):
        raise where.err(SYNTAX, "`Sid` must be a string")
    for element in ("Principal", "NotPrincipal"):
        if element in raw:
            _principal_syntax(raw[element], where, element)
    return st


def _conditions(raw: Any, where: _Where) -> list[tuple[str, ParsedOperator, str, tuple[str, ...]]]:
    if not isinstance(raw, Mapping):
        raise where.err(SYNTAX, "`Condition` must be an object")
    out = []
    for op, block in raw.items():
        try:
            parsed = parse_operator(op)
        except OperatorError as e:
            raise where.err(SYNTAX, f"`Condition`: {e}") from None
        if not isinstance(block, Mapping):
            raise where.err(SYNTAX, f"`Condition.{op}` must be an object")
        if parsed is None:
            if block:
                raise where.err(SYNTAX, f"unknown condition operator `{op}`")
            continue
        for key, value in block.items():  # any key name: no vendor prefix is required
            items = value if isinstance(value, list) else [value]
            if len(items) > MAX_VALUES:
                raise where.err(SYNTAX, f"too many values for `{key}` in `{op}`")
            values = []
            for item in items:
                text = _scalar(item)
                if text is None:
                    raise where.err(SYNTAX, f"condition values for `{key}` in `{op}` must be strings, numbers or booleans")
                values.append(text)
            out.append((op, parsed, key, tuple(values)))
    return out


def _principal_syntax(raw: Any, where: _Where, element: str) -> None:
    if raw == "*":
        return
    if not isinstance(raw, Mapping) or not raw:
        raise where.err(SYNTAX, f"`{element}` must be \"*\" or a non-empty object")
    for key, value in raw.items():
        if key not in _PRINCIPAL_KEYS:
            raise where.err(SYNTAX, f"unknown `{element}` key `{key}`")
        _strings(value, where, f"{element}.{key}")


def _legacy(stmts: list[_Raw]) -> MalformedPolicyDocument | None:
    """Step 3. Raises IAM's legacy-parsing error; returns the resource format error to report
    at step 9 (IAM keeps the last one it finds, walking each list in reverse sorted order, and
    skips the legacy resource check once it has one)."""
    for st in stmts:
        if st.effect not in ("Allow", "Deny"):
            raise st.where.err(LEGACY, f"`Effect` must be `Allow` or `Deny`, not `{st.effect}`")
        for op, parsed, key, values in st.conditions:
            for text in values:
                problem = policy_value_error(parsed.spec, text)
                if problem:
                    raise st.where.err(LEGACY, f"`{op}` `{key}`: {problem}")
    held: MalformedPolicyDocument | None = None
    for element in ("Resource", "NotResource"):
        for st in stmts:
            found = st.resources if element == "Resource" else st.not_resources
            if found is None:
                continue
            ordered = found if isinstance(st.raw[element], str) else sorted(found, reverse=True)
            for value in ordered:
                problem = format_error(value)
                if problem is not None:
                    held = st.where.err(problem, f"`{element}` `{value}`")
            if held is None:
                for value in found:
                    if fails_legacy_parsing(value):
                        raise st.where.err(LEGACY, f"`{element}` `{value}` is not a whole ARN")
    return held


def _sids(stmts: list[_Raw], kind: PolicyKind) -> None:
    if kind in _IAM_KINDS:
        for st in stmts:
            if st.sid is not None and not _SID_IAM.match(st.sid):
                raise st.where.err(SID_CHARS, f"`Sid` `{st.sid}`")
    seen: dict[str, int] = {}
    for st in stmts:
        if st.sid:
            if st.sid in seen:
                raise _fail("Statement IDs (SID) in a single policy must be unique.",
                            f"`{st.sid}` in statement {seen[st.sid] + 1} and statement {st.index + 1}")
            seen[st.sid] = st.index


def _principals(st: _Raw, kind: PolicyKind) -> tuple[PrincipalSpec | None, PrincipalSpec | None]:
    """Step 7 for one statement -> (Principal, NotPrincipal)."""
    where, raw = st.where, st.raw
    if "Principal" in raw:
        if kind not in _PRINCIPAL_REQUIRED:
            raise where.err(NO_PRINCIPAL_HERE, "`Principal` is not allowed here")
        if kind is K.TRUST and raw["Principal"] == "*":
            raise where.err(TRUST_STAR, "`Principal`: use `{\"AWS\": \"*\"}`")
        principal = _principal(raw["Principal"], where, "Principal")
        if kind is K.RCP and not principal.wildcard:
            raise where.err(SYNTAX, "resource control policies allow only `\"Principal\": \"*\"`")
        return principal, None
    if "NotPrincipal" in raw:
        if kind in _NO_PRINCIPAL_KINDS:
            raise where.err(NO_PRINCIPAL_HERE, "`NotPrincipal` is not allowed here")
        if kind in (K.TRUST, K.SCP, K.RCP):
            raise where.err(SYNTAX, f"`NotPrincipal` is not allowed in {kind.value} policies")
        if st.effect != "Deny":
            raise where.err(SYNTAX, "`NotPrincipal` may only be used with `\"Effect\": \"Deny\"`")
        return None, _principal(raw["NotPrincipal"], where, "NotPrincipal")
    if kind is K.TRUST:
        raise where.err(TRUST_NO_PRINCIPAL, "missing required element `Principal`")
    if kind in _PRINCIPAL_REQUIRED:
        raise where.err("Missing required field Principal", "missing required element `Principal`")
    return None, None


def _lenient_principals(st: _Raw) -> tuple[PrincipalSpec | None, PrincipalSpec | None]:
    p, np = st.raw.get("Principal"), st.raw.get("NotPrincipal")
    return (None if p is None else _principal(p, st.where, "Principal", check=False),
            None if np is None else _principal(np, st.where, "NotPrincipal", check=False))


def _principal(raw: Any, where: _Where, element: str, check: bool = True) -> PrincipalSpec:
    if raw == "*":
        return PrincipalSpec(wildcard=True)
    found: dict[str, tuple[str, ...]] = {}
    for key, value in raw.items():
        values = _strings(value, where, f"{element}.{key}")
        for v in values if check else ():
            if not v:
                raise where.err("Invalid principal in policy.", f"empty `{element}.{key}` value")
            if v != "*" and ("*" in v or "?" in v):
                raise where.err(f"Invalid principal in policy: \"{key}\":\"{v}\"",
                                f"`{element}` values cannot contain wildcards")
            if key == "AWS" and v != "*" and not (_ACCOUNT.match(v) or v.startswith("arn:")):
                raise where.err(f"Invalid principal in policy: \"AWS\":\"{v}\"",
                                f"`{element}.AWS` must be an account id or an ARN")
        found[key] = values
    return PrincipalSpec(False, found.get("AWS", ()), found.get("Service", ()), found.get("Federated", ()),
                         found.get("CanonicalUser", ()))


def _check_action(action: str, where: _Where, element: str) -> None:
    """Step 10: `vendor:name`, `*`, or a vendor wildcard; the vendor is letters, digits, `.`, `-`."""
    parts = action.split(":")
    if len(parts) == 1 and action != "*":
        raise where.err("Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.",
                        f"`{element}` `{action}`")
    if len(parts) > 2:
        raise where.err("Actions/Condition can contain only one colon.", f"`{element}` `{action}`")
    vendor = parts[0]
    if vendor != "*" and _BAD_VENDOR.search(vendor):
        raise where.err(f"Vendor {vendor} is not valid", f"`{element}` `{action}`")


def _trust(stmts: list[_Raw]) -> None:
    """Step 11: every action pattern must cover an action a trust policy may name (`*`,
    `sts:*`, `sts:AssumeRole*` do; `s3:GetObject`, `sts:GetSessionToken` do not)."""
    for st in stmts:
        if st.actions is None:
            raise st.where.err(TRUST_ACTIONS_ONLY, "use `Action` in a trust policy")
        for action in st.actions:
            rx = action_matcher(action)
            if not any(rx.fullmatch(allowed) for allowed in TRUST_POLICY_ACTIONS):
                raise st.where.err(TRUST_ACTIONS_ONLY, f"`Action` `{action}`")
