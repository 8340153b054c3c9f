"""Static validation: raw JSON -> PolicyDocument, or MalformedPolicyDocument.

Messages start with AWS's own text where the reference gives one and then name the
statement (1-based, with its Sid) and the element, e.g.
``Policy statement must contain actions. (statement 2 `ReadOnly`: no `Action` or `NotAction`)``.
Rules per policy kind follow reference §2.3. Never imports the evaluator.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from app.core.errors import MalformedPolicyDocument
from app.policy.conditions import OperatorError, parse_operator, policy_value_error
from app.policy.document import (
    VERSION_2008,
    VERSION_2012,
    Condition,
    PolicyDocument,
    PolicyKind,
    PrincipalSpec,
    Statement,
)

K = PolicyKind
_TOP_KEYS = {"Version", "Id", "Statement"}
_STATEMENT_KEYS = {"Sid", "Effect", "Principal", "NotPrincipal", "Action", "NotAction",
                   "Resource", "NotResource", "Condition"}
_PRINCIPAL_KEYS = {"AWS", "Service", "Federated", "CanonicalUser"}
_VENDOR = re.compile(r"^[A-Za-z0-9.-]+$")
_SID_IAM = re.compile(r"^[A-Za-z0-9]*$")
_PARTITIONS = {"aws", "aws-cn", "aws-us-gov", "aws-iso", "aws-iso-b", "aws-iso-e", "aws-iso-f", "aws-eusc"}
_ACCOUNT = re.compile(r"^\d{12}$")
_IAM_KINDS = {K.IDENTITY, K.BOUNDARY, K.SESSION, K.TRUST}
_RESOURCE_REQUIRED = {K.IDENTITY, K.BOUNDARY, K.SESSION, K.SCP, K.RCP}
_PRINCIPAL_REQUIRED = {K.RESOURCE, K.TRUST, K.RCP}
_NOT_PRINCIPAL_FORBIDDEN = {K.IDENTITY, K.BOUNDARY, K.SESSION, K.TRUST, K.SCP, K.RCP}
MAX_STATEMENTS = 10000
MAX_VALUES = 10000


def _fail(msg: str) -> MalformedPolicyDocument:
    return MalformedPolicyDocument(msg)


class _Where:
    """Names a statement in messages: `statement 2 `Sid``."""

    def __init__(self, index: int, sid: Any) -> None:
        self.text = f"statement {index + 1}" + (f" `{sid}`" if isinstance(sid, str) and sid else "")

    def err(self, aws: str, detail: str) -> MalformedPolicyDocument:
        return _fail(f"{aws} ({self.text}: {detail})")


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
            raise where.err("Syntax errors in policy.", f"too many values in `{element}`")
        out = []
        for item in value:
            if item is None:
                continue
            if not isinstance(item, str):
                raise where.err("Syntax errors in policy.", f"`{element}` values must be strings")
            out.append(item)
        return tuple(out)
    raise where.err("Syntax errors in policy.", f"`{element}` must be a string or an array of strings")


def parse_document(raw: Any, kind: PolicyKind) -> PolicyDocument:
    if not isinstance(raw, Mapping):
        raise _fail("Syntax errors in policy: the document must be a JSON object")
    for key in raw:
        if key not in _TOP_KEYS:
            raise _fail(f"Syntax errors in policy: unknown top-level element `{key}`")
    version = raw.get("Version")
    if version is not None and version not in (VERSION_2012, VERSION_2008):
        raise _fail(f"The policy failed legacy parsing: invalid `Version` `{version}`")
    pid = raw.get("Id")
    if pid is not None and not isinstance(pid, str):
        raise _fail("Syntax errors in policy: `Id` must be a string")
    if "Statement" not in raw:
        raise _fail("Syntax errors in policy: missing required element `Statement`")
    body = raw["Statement"]
    items = [body] if isinstance(body, Mapping) else body
    if not isinstance(items, list) or not items:
        raise _fail("Syntax errors in policy: `Statement` must be an object or a non-empty array")
    if len(items) > MAX_STATEMENTS:
        raise _fail("Syntax errors in policy: too many statements")
    statements = tuple(_statement(i, s, kind, version) for i, s in enumerate(items))
    seen: dict[str, int] = {}
    for st in statements:
        if st.sid:
            if st.sid in seen:
                raise _fail(f"Statement IDs (SID) in a single policy must be unique. "
                            f"(`{st.sid}` in statement {seen[st.sid] + 1} and statement {st.index + 1})")
            seen[st.sid] = st.index
    return PolicyDocument(version, pid, statements)


def _statement(index: int, raw: Any, kind: PolicyKind, version: str | None) -> Statement:
    if not isinstance(raw, Mapping):
        raise _fail(f"Syntax errors in policy: statement {index + 1} must be a JSON object")
    where = _Where(index, raw.get("Sid"))
    for key in raw:
        if key not in _STATEMENT_KEYS:
            raise where.err("Syntax errors in policy.", f"unknown element `{key}`")
    sid = raw.get("Sid")
    if sid is not None:
        if not isinstance(sid, str):
            raise where.err("Syntax errors in policy.", "`Sid` must be a string")
        if kind in _IAM_KINDS and not _SID_IAM.match(sid):
            raise where.err("Statement IDs (SID) must be alpha-numeric.",
                            "`Sid` may contain only ASCII letters and digits")
    effect = raw.get("Effect")
    if effect is None:
        raise where.err("Syntax errors in policy.", "missing required element `Effect`")
    if effect not in ("Allow", "Deny"):
        raise where.err("The policy failed legacy parsing", f"`Effect` must be `Allow` or `Deny`, not `{effect}`")

    actions, not_actions = _pair(raw, "Action", "NotAction", where)
    if actions is None and not_actions is None:
        raise where.err("Policy statement must contain actions.", "no `Action` or `NotAction`")
    for a in actions or not_actions or ():
        _check_action(a, where, "Action" if actions is not None else "NotAction")

    resources, not_resources = _pair(raw, "Resource", "NotResource", where)
    has_resource = "Resource" in raw or "NotResource" in raw
    if kind is K.TRUST and has_resource:
        raise where.err("Has prohibited field Resource.", "trust policies may not contain `Resource` or `NotResource`")
    if kind in _RESOURCE_REQUIRED and resources is None and not_resources is None:
        raise where.err("Policy statement must contain resources.", "no `Resource` or `NotResource`")
    for r in resources or not_resources or ():
        _check_resource(r, where, "Resource" if resources is not None else "NotResource")

    principal = not_principal = None
    if "Principal" in raw and "NotPrincipal" in raw:
        raise where.err("Syntax errors in policy.", "both `Principal` and `NotPrincipal`")
    if "Principal" in raw:
        if kind not in _PRINCIPAL_REQUIRED:
            raise where.err("Policy document should not specify a principal.", "`Principal` is not allowed here")
        principal = _principal(raw["Principal"], where, "Principal")
        if kind is K.RCP and not principal.wildcard:
            raise where.err("Syntax errors in policy.", "resource control policies allow only `\"Principal\": \"*\"`")
    elif "NotPrincipal" in raw:
        if kind in _NOT_PRINCIPAL_FORBIDDEN:
            raise where.err("Syntax errors in policy.", f"`NotPrincipal` is not allowed in {kind.value} policies")
        if effect != "Deny":
            raise where.err("Syntax errors in policy.", "`NotPrincipal` may only be used with `\"Effect\": \"Deny\"`")
        not_principal = _principal(raw["NotPrincipal"], where, "NotPrincipal")
    elif kind in _PRINCIPAL_REQUIRED:
        raise where.err("Syntax errors in policy.", "missing required element `Principal`")

    conditions = _conditions(raw.get("Condition"), where) if "Condition" in raw else ()
    return Statement(index, sid, effect, principal, not_principal, actions, not_actions,
                     resources, not_resources, conditions)


def _pair(raw: Mapping[str, Any], a: str, b: str, where: _Where) -> tuple[tuple[str, ...] | None, tuple[str, ...] | None]:
    if a in raw and b in raw:
        raise where.err("Syntax errors in policy.", f"both `{a}` and `{b}`")
    va = _strings(raw[a], where, a) if a in raw else None
    vb = _strings(raw[b], where, b) if b in raw else None
    return (va or None), (vb or None)


def _check_action(action: str, where: _Where, element: str) -> None:
    if action == "*":
        return
    if ":" not in action:
        raise where.err("Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.",
                        f"`{element}` `{action}`")
    if action.count(":") > 1:
        raise where.err("Actions/Condition can contain only one colon.", f"`{element}` `{action}`")
    vendor = action.split(":", 1)[0]
    if not _VENDOR.match(vendor):
        raise where.err(f"Vendor {vendor} is not valid", f"`{element}` `{action}`")


def _check_resource(resource: str, where: _Where, element: str) -> None:
    if resource == "*":
        return
    detail = f"`{element}` `{resource}`"
    parts = resource.split(":", 5)
    if parts[0] != "arn" or len(parts) < 3:
        raise where.err("Resource must be in ARN format or \"*\".", detail)
    if parts[1] not in _PARTITIONS:
        raise where.err(f'Partition "{parts[1]}" is not valid for resource "{resource}".', detail)
    service = parts[2]
    if not service or "*" in service or "?" in service or not _VENDOR.match(service):
        raise where.err("Resource vendor must be fully qualified and cannot contain regexes.", detail)
    if service in ("iam", "s3") and len(parts) > 3 and parts[3] not in ("", "*"):
        if not (service == "s3" and len(parts) == 6 and parts[5].startswith("accesspoint/")):
            raise where.err(f"Resource {resource} can not contain region information.", detail)
    if service == "iam" and len(parts) == 6 and parts[5] != "*":
        rtype = re.split(r"[/:]", parts[5], maxsplit=1)[0]
        if ("*" in rtype or "?" in rtype) and rtype != "*":
            raise where.err('IAM resource path must either be "*" or start with a resource type such as user/.',
                            detail)


def _principal(raw: Any, where: _Where, element: str) -> PrincipalSpec:
    if raw == "*":
        return PrincipalSpec(wildcard=True)
    if not isinstance(raw, Mapping) or not raw:
        raise where.err("Syntax errors in policy.", f"`{element}` must be \"*\" or a non-empty object")
    found: dict[str, tuple[str, ...]] = {}
    for key, value in raw.items():
        if key not in _PRINCIPAL_KEYS:
            raise where.err("Syntax errors in policy.", f"unknown `{element}` key `{key}`")
        values = _strings(value, where, f"{element}.{key}")
        for v in values:
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


def _conditions(raw: Any, where: _Where) -> tuple[Condition, ...]:
    if not isinstance(raw, Mapping):
        raise where.err("Syntax errors in policy.", "`Condition` must be an object")
    out: list[Condition] = []
    for op, block in raw.items():
        try:
            parsed = parse_operator(op)
        except OperatorError as e:
            raise where.err("Syntax errors in policy.", f"`Condition`: {e}") from None
        if not isinstance(block, Mapping):
            raise where.err("Syntax errors in policy.", f"`Condition.{op}` must be an object")
        if parsed is None:
            if block:
                raise where.err("Syntax errors in policy.", f"unknown condition operator `{op}`")
            continue
        for key, value in block.items():
            if ":" not in key or not key.split(":", 1)[0] or not _VENDOR.match(key.split(":", 1)[0]):
                raise where.err("Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.",
                                f"condition key `{key}` in `{op}`")
            items = value if isinstance(value, list) else [value]
            if len(items) > MAX_VALUES:
                raise where.err("Syntax errors in policy.", f"too many values for `{key}` in `{op}`")
            values = []
            for item in items:
                text = _scalar(item)
                if text is None:
                    raise where.err("Syntax errors in policy.",
                                    f"condition values for `{key}` in `{op}` must be strings, numbers or booleans")
                problem = policy_value_error(parsed.spec, text)
                if problem:
                    raise where.err("The policy failed legacy parsing", f"`{op}` `{key}`: {problem}")
                values.append(text)
            out.append(Condition(op, key, tuple(values)))
    return tuple(out)
