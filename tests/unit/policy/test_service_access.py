"""Which service namespaces an identity policy allows (access advisor's policy half): the
data-driven corpus tests/cases/access/namespaces.yaml (each case has a `note`), plus the
display names."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from app.policy.service_access import SERVICE_NAMES, document_namespaces, service_name

CASES = yaml.safe_load((Path(__file__).resolve().parents[2] / "cases" / "access" / "namespaces.yaml").read_text())


def _document(case: dict[str, Any]) -> str:
    if "document" in case:
        return str(case["document"])
    return json.dumps({"Version": "2012-10-17", "Statement": case["statements"]})


@pytest.mark.parametrize("case", CASES, ids=[c["note"] for c in CASES])
def test_corpus(case: dict[str, Any]) -> None:
    known = tuple(case.get("known", SERVICE_NAMES))
    if "namespaces" in case:
        expected = set(case["namespaces"])
    else:
        expected = (set(known) - set(case["all_known_except"])) | set(case.get("plus", []))
    text = _document(case)
    got = document_namespaces(text, known=known) if "known" in case else document_namespaces(text)
    assert got == expected


def test_a_parsed_document_and_its_text_agree() -> None:
    text = json.dumps({"Version": "2012-10-17",
                       "Statement": [{"Effect": "Allow", "Action": ["iam:GetUser", "s3:*"], "Resource": "*"}]})
    assert document_namespaces(json.loads(text)) == document_namespaces(text) == {"iam", "s3"}


@pytest.mark.parametrize("namespace, name", [
    ("iam", "AWS Identity and Access Management"), ("sts", "AWS Security Token Service"),
    ("s3", "Amazon S3"), ("quicksight", "quicksight")])
def test_service_names(namespace: str, name: str) -> None:
    assert service_name(namespace) == name
