"""PolicySet (app.policy.evaluate) is a tuple of CompiledPolicy: its merged action index must
not shadow the tuple's own methods."""
from __future__ import annotations

import json

from app.policy import CompiledPolicy, PolicyKind, PolicySet, Principal, PrincipalType, Request, authorize, compile_policy

A = "111111111111"
ALICE = Principal(PrincipalType.USER, f"arn:aws:iam::{A}:user/alice", A)


def _policy(i: int, effect: str, action: str) -> CompiledPolicy:
    doc = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": effect, "Action": action, "Resource": "*"}]})
    return compile_policy(doc, PolicyKind.IDENTITY, f"p{i}")


def test_policy_set_keeps_tuple_index_and_count() -> None:
    pols = [_policy(0, "Allow", "s3:*"), _policy(1, "Deny", "s3:Delete*"), _policy(2, "Allow", "iam:Get*")]
    pset = PolicySet(pols)
    assert pset.index(pols[1]) == 1  # was shadowed by the ActionIndex attribute: TypeError
    assert pset.count(pols[2]) == 1
    assert pset == tuple(pols)
    deny, allow = pset.lookup("s3:deleteobject")
    assert (len(deny), len(allow)) == (1, 1)
    assert authorize(Request(ALICE, "s3:DeleteObject", "*", {}), identity=pset).effect == "ExplicitDeny"
