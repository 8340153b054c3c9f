"""Data-driven policy corpus: every case under tests/cases/policy/*.yaml runs through
`simulate` (reference §12), i.e. through compile_policy + authorize; a case with `validate`
runs its `document` through `validate_policy` as IAM's write path does.

Case shorthand (see tests/cases/policy/README.md): a policy may be a full document, JSON
text, or a bare list of statements (wrapped in Version 2012-10-17); `request.principal`
defaults to user alice in account 111111111111.
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from app.core.errors import AwsError
from app.policy import PolicyKind, validate_policy
from app.policy.simulation import simulate

CASES_DIR = Path(__file__).resolve().parents[2] / "cases" / "policy"
DEFAULT_PRINCIPAL = "arn:aws:iam::111111111111:user/alice"


def _policy(p: Any) -> Any:
    if isinstance(p, list):
        return {"Version": "2012-10-17", "Statement": p}
    return p


def expand(case: dict[str, Any]) -> dict[str, Any]:
    policies: dict[str, Any] = {}
    for name, value in (case.get("policies") or {}).items():
        policies[name] = _policy(value) if name == "boundary" else [_policy(v) for v in value]
    request = dict(case.get("request") or {})
    request.setdefault("principal", DEFAULT_PRINCIPAL)
    request.setdefault("resource", "*")
    return {"policies": policies, "request": request}


def load_cases() -> list[Any]:
    out = []
    for path in sorted(CASES_DIR.glob("*.yaml")):
        for case in yaml.safe_load(path.read_text()):
            out.append(pytest.param(case, id=f"{path.stem}:{case['id']}"))
    return out


CASES = load_cases()


VALIDATE_KINDS = {k.value: (k, False) for k in PolicyKind} | {"managed": (PolicyKind.IDENTITY, True)}
_LABEL = re.compile(r"^policies\.\w+(?:\[\d+\])?: ")  # simulate names the policy first


def test_corpus_is_well_formed() -> None:
    ids = [c.values[0]["id"] for c in CASES]
    assert len(ids) == len(set(ids)), "case ids must be unique"
    for param in CASES:
        case = param.values[0]
        assert case.get("note"), f"{case['id']}: every case needs a note"
        assert str(case.get("doc", "")).startswith("https://"), f"{case['id']}: cite the AWS doc page"
        assert ("expect" in case) != ("error" in case), f"{case['id']}: exactly one of expect/error"
        if "validate" in case:
            assert case["validate"] in VALIDATE_KINDS and "document" in case, f"{case['id']}: validate + document"
            assert case.get("expect", "Valid") == "Valid", f"{case['id']}: a validate case expects Valid or an error"


def check_error(case: dict[str, Any], error: AwsError) -> None:
    assert error.code == case["error"], error.message
    if "message" in case:
        assert case["message"] in error.message
    if "aws_message" in case:  # AWS's exact text, then at most Tessera's location suffix
        message, aws = _LABEL.sub("", error.message), case["aws_message"]
        assert message == aws or message.startswith(aws + " ("), f"{message!r} is not AWS's {aws!r}"


def run_validate(case: dict[str, Any]) -> None:
    kind, managed = VALIDATE_KINDS[case["validate"]]
    doc = case["document"]
    text = doc if isinstance(doc, str) else json.dumps(doc)
    if "error" in case:
        with pytest.raises(AwsError) as info:
            validate_policy(text, kind, managed=managed)
        check_error(case, info.value)
    else:
        validate_policy(text, kind, managed=managed)


@pytest.mark.parametrize("case", CASES)
def test_case(case: dict[str, Any]) -> None:
    if "validate" in case:
        run_validate(case)
        return
    body = expand(case)
    if "error" in case:
        with pytest.raises(AwsError) as info:
            simulate(body)
        check_error(case, info.value)
        return
    result = simulate(json.loads(json.dumps(body)))
    assert result["decision"] == case["expect"], case["note"]
    if "matched" in case:
        got = [m["sid"] for m in result["matched"]]
        assert got == case["matched"], f"matched statements: {got}"
