"""Policy engine benchmark: µs per decision, ours vs moto's IAMPolicy vs Cedar (cedarpy).

    python tests/bench/bench_policy.py [--quick]

Scenarios (same decisions for all three engines, from one statement generator):
  typical  a role with 10 policies / 50 statements, an iam:CreateRole request
  large    1,000 policies / 10,000 statements
  worst    400 Allow statements that all match the action and resource by wildcard and
           carry two conditions, none satisfied: every statement must be evaluated
Cedar gets an equivalent policy set (exact actions as `action in [...]`, wildcards via
`like` on the lower-cased action/resource in the context, conditions on context
attributes), pre-parsed once (PolicySet / Entities handles). moto's IAMPolicy is
evaluated the way moto does it (every policy, every statement, per request); it ignores
most conditions, so its answers may differ: only its speed is comparable.
Figures are printed, never asserted.
"""
from __future__ import annotations

import json
import random
import statistics
import sys
import time
from typing import Any, Callable

from app.policy import (
    PolicyKind,
    PolicySet,
    Principal,
    PrincipalType,
    Request,
    authorize,
    compile_policy,
)

ACCOUNT = "111111111111"
SERVICES = ["iam", "s3", "ec2", "sqs", "sns", "kms", "dynamodb", "lambda", "logs", "sts", "rds", "ecs"]
VERBS = ["Create", "Delete", "Get", "List", "Put", "Update", "Describe", "Tag", "Untag", "Attach"]
NOUNS = ["Role", "User", "Policy", "Bucket", "Object", "Queue", "Topic", "Key", "Table", "Function",
         "Group", "Instance", "Stream", "Cluster", "Snapshot"]
USER = Principal(PrincipalType.ROLE_SESSION, f"arn:aws:sts::{ACCOUNT}:assumed-role/app/s1", ACCOUNT,
                 role_arn=f"arn:aws:iam::{ACCOUNT}:role/app")
ACTION = "iam:CreateRole"
RESOURCE = f"arn:aws:iam::{ACCOUNT}:role/team/app-worker"
CONTEXT = {"aws:PrincipalTag/team": "blue", "aws:RequestedRegion": "us-east-1",
           "aws:SecureTransport": "true", "aws:username": "app"}


def _stmt(rng: random.Random, wildcard_share: float, cond_share: float) -> dict[str, Any]:
    svc = rng.choice(SERVICES)
    if rng.random() < wildcard_share:
        actions = [rng.choice([f"{svc}:{rng.choice(VERBS)}*", f"{svc}:*{rng.choice(NOUNS)}", f"{svc}:*"])]
    else:
        actions = [f"{svc}:{rng.choice(VERBS)}{rng.choice(NOUNS)}" for _ in range(rng.randint(1, 4))]
    if svc == "iam":
        resource = rng.choice([f"arn:aws:iam::{ACCOUNT}:role/*", f"arn:aws:iam::{ACCOUNT}:user/*",
                               f"arn:aws:iam::{ACCOUNT}:role/team/*", "*"])
    elif svc == "s3":
        resource = rng.choice(["*", "arn:aws:s3:::bucket-*", "arn:aws:s3:::bucket/*"])
    else:
        resource = rng.choice(["*", f"arn:aws:{svc}:us-east-1:{ACCOUNT}:*", f"arn:aws:{svc}:*:{ACCOUNT}:x-*"])
    s: dict[str, Any] = {"Effect": "Deny" if rng.random() < 0.1 else "Allow", "Action": actions, "Resource": resource}
    if rng.random() < cond_share:
        s["Condition"] = {"StringEquals": {"aws:PrincipalTag/team": rng.choice(["blue", "red", "green"])},
                          "StringLike": {"aws:RequestedRegion": rng.choice(["us-*", "eu-*"])}}
    return s


def typical_policies(rng: random.Random, n_policies: int, per_policy: int) -> list[dict[str, Any]]:
    docs = []
    for i in range(n_policies):
        stmts = [_stmt(rng, 0.3, 0.3) for _ in range(per_policy)]
        if i == 0:  # the grant the typical request relies on
            stmts[0] = {"Effect": "Allow", "Action": ["iam:CreateRole", "iam:TagRole"],
                        "Resource": f"arn:aws:iam::{ACCOUNT}:role/team/*",
                        "Condition": {"StringEquals": {"aws:PrincipalTag/team": "blue"}}}
        docs.append({"Version": "2012-10-17", "Statement": stmts})
    return docs


def worst_policies(n: int) -> list[dict[str, Any]]:
    stmts = []
    for i in range(n):
        stmts.append({"Effect": "Allow",
                      "Action": ["iam:*", "iam:Create*", "*"][i % 3],
                      "Resource": [f"arn:aws:iam::{ACCOUNT}:role/*", "arn:aws:iam::*:role/team/*", "*"][i % 3],
                      "Condition": {"StringLike": {"aws:RequestedRegion": "us-*"},
                                    "StringEquals": {"aws:PrincipalTag/team": f"team-{i}"}}})
    return [{"Version": "2012-10-17", "Statement": stmts[i:i + 10]} for i in range(0, n, 10)]


# ---------------------------------------------------------------- Cedar translation
def _like(pattern: str) -> str:
    return json.dumps(pattern).replace("?", "*")  # benchmark patterns use no `?`


def to_cedar(docs: list[dict[str, Any]]) -> str:
    out = []
    for d in docs:
        for s in d["Statement"]:
            exact = [a.lower() for a in s["Action"] if "*" not in a] if isinstance(s["Action"], list) else (
                [] if "*" in s["Action"] else [s["Action"].lower()])
            wild = [a.lower() for a in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]]) if "*" in a]
            alts = []
            if exact:
                alts.append("action in [" + ", ".join(f'Action::{json.dumps(a)}' for a in exact) + "]")
            alts += [f"context.action like {_like(w)}" for w in wild]
            conds = ["(" + " || ".join(alts) + ")"]
            if s["Resource"] != "*":
                conds.append(f"context.resource like {_like(s['Resource'])}")
            for op, block in s.get("Condition", {}).items():
                for key, value in block.items():
                    cmp = "==" if op == "StringEquals" else "like"
                    val = json.dumps(value) if cmp == "==" else _like(value)
                    conds.append(f'(context has "{key}" && context["{key}"] {cmp} {val})')
            effect = "permit" if s["Effect"] == "Allow" else "forbid"
            out.append(f"{effect}(principal, action, resource) when {{ {' && '.join(conds)} }};")
    return "\n".join(out)


def cedar_request(action: str, resource: str, ctx: dict[str, str]) -> dict[str, Any]:
    return {"principal": 'User::"app"', "action": f"Action::{json.dumps(action.lower())}",
            "resource": f"Resource::{json.dumps(resource)}",
            "context": {"action": action.lower(), "resource": resource, **ctx}}


# ---------------------------------------------------------------- timing
def measure(fn: Callable[[], Any], iterations: int) -> tuple[float, float]:
    for _ in range(min(200, iterations)):
        fn()
    samples = []
    clock = time.perf_counter_ns
    for _ in range(iterations):
        t0 = clock()
        fn()
        samples.append(clock() - t0)
    samples.sort()
    return statistics.median(samples) / 1000, samples[int(len(samples) * 0.99) - 1] / 1000


def run(name: str, docs: list[dict[str, Any]], iterations: int, moto_iterations: int) -> None:
    n_stmts = sum(len(d["Statement"]) for d in docs)
    texts = [json.dumps(d) for d in docs]
    compiled = [compile_policy(t, PolicyKind.IDENTITY, f"p{i}") for i, t in enumerate(texts)]
    pset = PolicySet(compiled)
    request = Request(USER, ACTION, RESOURCE, CONTEXT)
    decision = authorize(request, identity=pset)
    print(f"\n== {name}: {len(docs)} policies / {n_stmts} statements; ours -> {decision.effect}")
    rows = []
    rows.append(("ours: authorize(PolicySet)", measure(lambda: authorize(request, identity=pset), iterations)))
    rows.append(("ours: authorize(list of policies)",
                 measure(lambda: authorize(request, identity=compiled), iterations)))
    if len(texts) <= 50:
        rows.append(("ours: compile_policy (cache hit) + authorize",
                     measure(lambda: authorize(request, identity=[compile_policy(t, PolicyKind.IDENTITY, f"p{i}")
                                                                  for i, t in enumerate(texts)]), iterations)))
    try:
        from moto.iam.access_control import IAMPolicy, PermissionResult

        policies = [IAMPolicy(t) for t in texts]

        def moto_decide() -> str:
            allowed = False
            for p in policies:
                r = p.is_action_permitted(ACTION, RESOURCE)
                if r == PermissionResult.DENIED:
                    return "Deny"
                allowed = allowed or r == PermissionResult.PERMITTED
            return "Allow" if allowed else "ImplicitDeny"

        rows.append((f"moto IAMPolicy ({moto_decide()})", measure(moto_decide, moto_iterations)))
    except ImportError:  # pragma: no cover
        print("moto not installed")
    try:
        import cedarpy

        cedar_set = cedarpy.PolicySet.from_str(to_cedar(docs))
        entities = cedarpy.Entities.from_json_str("[]")
        creq = cedar_request(ACTION, RESOURCE, CONTEXT)
        result = cedarpy.is_authorized(creq, cedar_set, entities)
        rows.append((f"cedarpy is_authorized ({result.decision.name})",
                     measure(lambda: cedarpy.is_authorized(creq, cedar_set, entities), moto_iterations)))
    except ImportError:  # pragma: no cover
        print("cedarpy not installed")
    for label, (median, p99) in rows:
        print(f"  {label:<48} median {median:10.2f} µs   p99 {p99:10.2f} µs")


def main() -> None:
    quick = "--quick" in sys.argv
    rng = random.Random(7)
    k = 10 if quick else 1
    run("typical", typical_policies(rng, 10, 5), 20000 // k, 5000 // k)
    run("large", typical_policies(rng, 1000, 10), 20000 // k, 200 // k)
    run("worst", worst_policies(400), 5000 // k, 500 // k)


if __name__ == "__main__":
    main()
