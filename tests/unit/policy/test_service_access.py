"""Which service namespaces an identity policy allows (access advisor's policy half): a table of
documents, each with a note, and the namespaces they must yield."""
from __future__ import annotations

import json
from typing import Any

import pytest

from app.policy.service_access import SERVICE_NAMES, document_namespaces, service_name

ALL = sorted(SERVICE_NAMES)


def doc(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(**element: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Resource": "*", **element}


CASES: list[tuple[str, str, list[str]]] = [
    ("one literal action", doc(allow(Action="iam:GetUser")), ["iam"]),
    ("a list over three services, case folded", doc(allow(Action=["iam:Get*", "STS:GetCallerIdentity", "S3:GetObject"])),
     ["iam", "s3", "sts"]),
    ("an action wildcard stays in its service", doc(allow(Action="iam:*")), ["iam"]),
    ("a service unknown to the table is taken as written", doc(allow(Action="quicksight:ListUsers")),
     ["quicksight"]),
    ("`*` is every known service", doc(allow(Action="*")), ALL),
    ("`*:*` is every known service", doc(allow(Action="*:*")), ALL),
    ("a wildcard service part expands over the known ones", doc(allow(Action="s*:Get*")),
     sorted(n for n in ALL if n.startswith("s"))),
    ("`?` matches one character", doc(allow(Action="s?s:*")), ["sns", "sqs", "sts"]),
    ("a Deny statement allows nothing", doc({"Effect": "Deny", "Action": "*", "Resource": "*"}), []),
    ("a Deny does not remove what an Allow grants",
     doc(allow(Action="iam:*"), {"Effect": "Deny", "Action": "iam:*", "Resource": "*"}), ["iam"]),
    ("NotAction of a whole service leaves every other known one",
     doc(allow(NotAction="iam:*")), [n for n in ALL if n != "iam"]),
    ("NotAction of one action leaves the service allowed", doc(allow(NotAction="iam:DeleteUser")), ALL),
    ("NotAction naming an unknown service's action allows that service too",
     doc(allow(NotAction=["quicksight:DeleteUser"])), sorted([*ALL, "quicksight"])),
    ("NotAction `*` allows nothing", doc(allow(NotAction="*")), []),
    ("NotAction with a wildcard service part removes the matching services",
     doc(allow(NotAction=["s*:*", "iam:*"])), [n for n in ALL if not n.startswith("s") and n != "iam"]),
    ("a statement given as an object, not a list",
     json.dumps({"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "sqs:*", "Resource": "*"}}),
     ["sqs"]),
    ("conditions and resources are not read",
     doc(allow(Action="kms:Decrypt", Resource="arn:aws:kms:*:*:key/x",
               Condition={"Bool": {"aws:SecureTransport": "true"}})), ["kms"]),
    ("statements add up", doc(allow(Action="ec2:RunInstances"), allow(Action="lambda:InvokeFunction")),
     ["ec2", "lambda"]),
    ("an action without a service part names no service", doc(allow(Action="GetUser")), []),
    ("a service part outside AWS's namespace alphabet is dropped", doc(allow(Action="bad ns:Get")), []),
    ("not JSON allows nothing", "{not json", []),
    ("a document without statements allows nothing", json.dumps({"Version": "2012-10-17"}), []),
]


@pytest.mark.parametrize("document, expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_document_namespaces(document: str, expected: list[str]) -> None:
    assert sorted(document_namespaces(document)) == sorted(expected)


def test_a_parsed_document_and_its_text_agree() -> None:
    text = doc(allow(Action=["iam:GetUser", "s3:*"]))
    assert document_namespaces(json.loads(text)) == document_namespaces(text) == {"iam", "s3"}


def test_an_explicit_known_list_replaces_the_table() -> None:
    assert document_namespaces(doc(allow(Action="*")), known=("iam", "sts")) == {"iam", "sts"}


@pytest.mark.parametrize("namespace, name", [
    ("iam", "AWS Identity and Access Management"), ("sts", "AWS Security Token Service"),
    ("s3", "Amazon S3"), ("quicksight", "quicksight")])
def test_service_names(namespace: str, name: str) -> None:
    assert service_name(namespace) == name
