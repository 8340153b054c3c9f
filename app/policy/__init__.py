"""The IAM policy engine: pure, no I/O; imports only app.core and the standard library.

    policy = compile_policy(text_or_mapping, PolicyKind.IDENTITY, source="user/alice/inline/p1")
    decision = authorize(Request(principal, "iam:CreateRole", role_arn, context),
                         identity=[policy, ...], resource=[...], boundary=..., session=[...],
                         scp=[...], rcp=[...], resource_requires_grant=False)
    decision.effect        # "Allow" | "ExplicitDeny" | "ImplicitDeny"
    decision.matched       # MatchedStatement(source, kind, index (0-based), sid, effect), ...
    decision.missing_context_keys   # condition keys/variables read but absent from the context

- `compile_policy` parses (duplicate JSON keys rejected), validates per `PolicyKind`
  (reference §2.3) and compiles once per (sha256 of the text, kind, source): bad documents
  raise `MalformedPolicyDocument` with a message naming the statement and element; too-large
  documents raise `LimitExceeded` (quota per kind in `SIZE_LIMITS`, override with `max_size`).
  `validate_policy` performs the same checks without compiling; `policy_size` counts
  characters as IAM does (whitespace excluded).
- `authorize` is reference §8.2: explicit deny anywhere wins; SCP/RCP layers when given;
  identity ∪ same-account resource grants with AWS's bypass rules for boundaries and
  session policies; cross-account needs both sides. Role trust policies are passed as
  `resource=[...]` with `resource_requires_grant=True`. `session=None` means no session
  policies were passed. Context keys are looked up case-insensitively; a list value is
  multivalued. Nothing is synthesized: the caller supplies every condition key
  (`aws:username`, `aws:PrincipalArn`, `aws:CurrentTime`, ...).
- For callers with many policies, `PolicySet(policies)` (a tuple of CompiledPolicy with
  one merged action index) can be passed wherever a sequence of policies is expected.
- `simulate(request_json)` (app.policy.simulation) is the pure part of `POST /v1/simulate`.
"""
from app.policy.authorize import authorize
from app.policy.compiler import SIZE_LIMITS, check_size, compile_policy, validate_policy
from app.policy.document import PolicyDocument, PolicyKind, policy_size
from app.policy.evaluate import CompiledPolicy, PolicySet
from app.policy.request import Decision, MatchedStatement, Principal, PrincipalType, Request

__all__ = [
    "SIZE_LIMITS",
    "CompiledPolicy",
    "Decision",
    "MatchedStatement",
    "PolicyDocument",
    "PolicyKind",
    "PolicySet",
    "Principal",
    "PrincipalType",
    "Request",
    "authorize",
    "check_size",
    "compile_policy",
    "policy_size",
    "validate_policy",
]
