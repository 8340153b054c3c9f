"""The pure part of `POST /v1/simulate` (reference §12): JSON in, decision JSON out.

Everything is evaluated exactly as given: no context key is synthesized. Bad request
shape -> `ValidationError`; a malformed policy -> `MalformedPolicyDocument` whose message
starts with the policy's position (`policies.identity[1]: ...`). When the action is an STS
role-assumption action on a role ARN, `resource` policies are role trust policies
(validated as such, and a grant is required, §8.2).
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from app.core.errors import LimitExceeded, MalformedPolicyDocument, ValidationError
from app.policy.authorize import authorize
from app.policy.compiler import compile_policy
from app.policy.document import PolicyKind
from app.policy.evaluate import CompiledPolicy
from app.policy.request import Decision, Principal, PrincipalType, Request

_TOP = {"policies", "request"}
_POLICIES = {"identity": PolicyKind.IDENTITY, "resource": PolicyKind.RESOURCE, "boundary": PolicyKind.BOUNDARY,
             "session": PolicyKind.SESSION, "scp": PolicyKind.SCP, "rcp": PolicyKind.RCP}
_REQUEST = {"principal", "principal_type", "action", "resource", "resource_account",
            "federated_user_source_arn", "context"}
_TYPES = {"AWS", "Service", "Federated", "Anonymous"}
_TRUST_ACTIONS = {"sts:assumerole", "sts:assumerolewithsaml", "sts:assumerolewithwebidentity",
                  "sts:tagsession", "sts:setsourceidentity"}
_ACCOUNT = re.compile(r"^\d{12}$")
_IAM_ARN = re.compile(r"^arn:([a-z-]+):(iam|sts)::(\d{12}):(.+)$")
MAX_POLICIES = 1000
MAX_CONTEXT_KEYS = 1000
MAX_TEXT = 4096


def _bad(msg: str) -> ValidationError:
    return ValidationError(msg)


def _text(obj: Mapping[str, Any], key: str, required: bool = True) -> str | None:
    value = obj.get(key)
    if value is None:
        if required:
            raise _bad(f"request.{key} is required")
        return None
    if not isinstance(value, str) or not value or len(value) > MAX_TEXT:
        raise _bad(f"request.{key} must be a non-empty string of at most {MAX_TEXT} characters")
    return value


def principal_from(req: Mapping[str, Any], has_boundary: bool) -> Principal:
    name = _text(req, "principal")
    assert name is not None
    ptype = _text(req, "principal_type", required=False) or "AWS"
    if ptype not in _TYPES:
        raise _bad(f"request.principal_type must be one of {', '.join(sorted(_TYPES))}")
    if ptype == "Service":
        return Principal(PrincipalType.SERVICE, name, None)
    if ptype == "Federated":
        return Principal(PrincipalType.FEDERATED, name, None)
    if ptype == "Anonymous":
        return Principal(PrincipalType.ANONYMOUS, name, None)
    if _ACCOUNT.match(name):
        return Principal(PrincipalType.ROOT, f"arn:aws:iam::{name}:root", name, has_boundary=has_boundary)
    m = _IAM_ARN.match(name)
    if m is None:
        raise _bad("request.principal must be an IAM user, root, assumed-role or federated-user ARN "
                   "(or set principal_type)")
    partition, service, account, rest = m.groups()
    if service == "iam" and rest == "root":
        return Principal(PrincipalType.ROOT, name, account, has_boundary=has_boundary)
    if service == "iam" and rest.startswith("user/"):
        return Principal(PrincipalType.USER, name, account, has_boundary=has_boundary)
    if service == "sts" and rest.startswith("assumed-role/") and rest.count("/") == 2:
        role = rest.split("/")[1]
        return Principal(PrincipalType.ROLE_SESSION, name, account, role_arn=f"arn:{partition}:iam::{account}:role/{role}",
                         has_boundary=has_boundary)
    if service == "sts" and rest.startswith("federated-user/"):
        source = _text(req, "federated_user_source_arn", required=False)
        return Principal(PrincipalType.FEDERATED_USER, name, account, source_user_arn=source,
                         has_boundary=has_boundary)
    raise _bad(f"request.principal `{name}` is not a principal ARN")


def _context(raw: Any) -> dict[str, str | tuple[str, ...]]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping) or len(raw) > MAX_CONTEXT_KEYS:
        raise _bad(f"request.context must be an object with at most {MAX_CONTEXT_KEYS} keys")
    out: dict[str, str | tuple[str, ...]] = {}
    for key, value in raw.items():
        if isinstance(value, str):
            out[key] = value
        elif isinstance(value, list) and all(isinstance(v, str) for v in value):
            out[key] = tuple(value)
        else:
            raise _bad(f"request.context `{key}` must be a string or a list of strings")
    return out


def _compile(doc: Any, kind: PolicyKind, label: str) -> CompiledPolicy:
    if not isinstance(doc, (str, Mapping)):
        raise _bad(f"{label} must be a policy document (JSON text or object)")
    try:
        return compile_policy(doc, kind, label)
    except (MalformedPolicyDocument, LimitExceeded) as e:
        raise type(e)(f"{label}: {e.message}", reason=e.reason) from None


def _policy_list(policies: Mapping[str, Any], name: str, kind: PolicyKind) -> list[CompiledPolicy] | None:
    if name not in policies:
        return None
    docs = policies[name]
    if not isinstance(docs, list) or len(docs) > MAX_POLICIES:
        raise _bad(f"policies.{name} must be a list of at most {MAX_POLICIES} policies")
    return [_compile(d, kind, f"policies.{name}[{i}]") for i, d in enumerate(docs)]


def simulate(request_json: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(request_json, Mapping):
        raise _bad("the simulation request must be a JSON object")
    unknown = set(request_json) - _TOP
    if unknown:
        raise _bad(f"unknown field `{sorted(unknown)[0]}`")
    policies, req = request_json.get("policies"), request_json.get("request")
    if not isinstance(policies, Mapping) or not isinstance(req, Mapping):
        raise _bad("`policies` and `request` must both be objects")
    for field_set, obj, where in ((_POLICIES, policies, "policies"), (_REQUEST, req, "request")):
        extra = set(obj) - set(field_set)
        if extra:
            raise _bad(f"unknown field `{where}.{sorted(extra)[0]}`")
    action = _text(req, "action")
    resource = _text(req, "resource")
    assert action is not None and resource is not None
    account = _text(req, "resource_account", required=False)
    if account is not None and not _ACCOUNT.match(account):
        raise _bad("request.resource_account must be a 12-digit account id")
    trust = action.lower() in _TRUST_ACTIONS and ":role/" in resource
    identity = _policy_list(policies, "identity", PolicyKind.IDENTITY) or []
    resource_pols = _policy_list(policies, "resource", PolicyKind.TRUST if trust else PolicyKind.RESOURCE) or []
    boundary = None
    if policies.get("boundary") is not None:
        boundary = _compile(policies["boundary"], PolicyKind.BOUNDARY, "policies.boundary")
    session = _policy_list(policies, "session", PolicyKind.SESSION)
    scp = _policy_list(policies, "scp", PolicyKind.SCP)
    rcp = _policy_list(policies, "rcp", PolicyKind.RCP)
    principal = principal_from(req, boundary is not None)
    request = Request(principal, action, resource, _context(req.get("context")), account)
    decision = authorize(request, identity=identity, resource=resource_pols, boundary=boundary, session=session,
                         scp=scp, rcp=rcp, resource_requires_grant=trust)
    return render(decision)


def render(decision: Decision) -> dict[str, Any]:
    return {
        "decision": decision.effect,
        "matched": [{"source": m.source, "kind": m.kind.value, "index": m.index, "sid": m.sid, "effect": m.effect}
                    for m in decision.matched],
    }
