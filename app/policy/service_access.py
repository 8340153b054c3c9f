"""Which AWS services an identity policy allows: the policy half of access advisor
(GetServiceLastAccessedDetails lists "the services the entity's permissions policies allow";
ListPoliciesGrantingServiceAccess names the policies that allow one).

A document allows namespace N when one of its Allow statements
- has an `Action` pattern whose service part matches N (`iam:Get*`, `iam:*`, `s3:GetObject`,
  `*`, `s*:*`...), or
- has a `NotAction` that leaves some action of N allowed, i.e. no `NotAction` pattern covers
  all of N (`N:*`, `*`, or a wildcard service part matching N with an action part of only `*`).

Deny statements never remove a service (AWS's report applies "permissions policy logic" to
tell which services could be reached; a Deny is commonly narrowed by resource or condition).
Conditions and resources are not read: a statement that allows an action of N on anything
under any condition counts. A pattern whose service part has wildcards (`*`, `s*:*`, and
NotAction) is expanded against the namespaces this module knows (`SERVICE_NAMES`); a literal
service part is taken as written (lowercased), known or not. Pure: no I/O.
"""
from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any

from app.policy.matching import action_matcher, has_wildcard

# AWS's display names of common service namespaces (the console's and the API's ServiceName);
# a namespace not listed here is named by itself.
SERVICE_NAMES: Mapping[str, str] = {
    "iam": "AWS Identity and Access Management",
    "sts": "AWS Security Token Service",
    "s3": "Amazon S3",
    "ec2": "Amazon EC2",
    "lambda": "AWS Lambda",
    "dynamodb": "Amazon DynamoDB",
    "sqs": "Amazon SQS",
    "sns": "Amazon SNS",
    "kms": "AWS Key Management Service",
    "secretsmanager": "AWS Secrets Manager",
    "ssm": "AWS Systems Manager",
    "logs": "Amazon CloudWatch Logs",
    "cloudwatch": "Amazon CloudWatch",
    "cloudtrail": "AWS CloudTrail",
    "cloudformation": "AWS CloudFormation",
    "rds": "Amazon RDS",
    "ecr": "Amazon Elastic Container Registry",
    "ecs": "Amazon Elastic Container Service",
    "eks": "Amazon Elastic Kubernetes Service",
    "elasticloadbalancing": "Elastic Load Balancing",
    "autoscaling": "Amazon EC2 Auto Scaling",
    "route53": "Amazon Route 53",
    "cloudfront": "Amazon CloudFront",
    "apigateway": "Amazon API Gateway",
    "events": "Amazon EventBridge",
    "states": "AWS Step Functions",
    "kinesis": "Amazon Kinesis",
    "firehose": "Amazon Kinesis Firehose",
    "glue": "AWS Glue",
    "athena": "Amazon Athena",
    "elasticache": "Amazon ElastiCache",
    "es": "Amazon OpenSearch Service",
    "acm": "AWS Certificate Manager",
    "config": "AWS Config",
    "organizations": "AWS Organizations",
    "sso": "AWS IAM Identity Center",
    "codebuild": "AWS CodeBuild",
    "codecommit": "AWS CodeCommit",
    "codepipeline": "AWS CodePipeline",
    "tag": "Amazon Resource Group Tagging API",
}
_NAMESPACE = re.compile(r"[A-Za-z0-9_-]{1,64}")


def service_name(namespace: str) -> str:
    return SERVICE_NAMES.get(namespace, namespace)


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    return []


def _statements(doc: Any) -> list[Mapping[str, Any]]:
    if not isinstance(doc, Mapping):
        return []
    body = doc.get("Statement")
    items = body if isinstance(body, list) else [body]
    return [s for s in items if isinstance(s, Mapping)]


def _service_part(pattern: str) -> tuple[str, str]:
    """`svc:act` -> (svc lowercased, act); the bare `*` stands for `*:*`."""
    if pattern == "*":
        return "*", "*"
    svc, colon, act = pattern.partition(":")
    return (svc.lower(), act) if colon else ("", "")  # no service part: names no service


def _matching(glob: str, known: Iterable[str]) -> set[str]:
    if not glob:
        return set()
    if not has_wildcard(glob):
        return {glob} if _NAMESPACE.fullmatch(glob) else set()
    rx = action_matcher(glob)
    return {n for n in known if rx.fullmatch(n)}


def _covers_all(act: str) -> bool:
    return bool(act) and set(act) == {"*"}


def statement_namespaces(statement: Mapping[str, Any], known: Iterable[str]) -> set[str]:
    """The namespaces one statement allows (empty for a Deny)."""
    if statement.get("Effect") != "Allow":
        return set()
    known = tuple(known)
    out: set[str] = set()
    if "Action" in statement:
        for pattern in _strings(statement["Action"]):
            svc, _ = _service_part(pattern)
            out |= _matching(svc, known)
        return out
    if "NotAction" in statement:
        excluded: set[str] = set()
        for pattern in _strings(statement["NotAction"]):
            svc, act = _service_part(pattern)
            hit = _matching(svc, known)
            if _covers_all(act):
                excluded |= hit
            else:
                out |= hit  # named by a partial NotAction: its other actions stay allowed
        return (out | set(known)) - excluded
    return out


@lru_cache(maxsize=2048)
def _document_namespaces(text: str) -> frozenset[str]:
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError):
        return frozenset()
    return document_namespaces(doc)


def document_namespaces(document: str | Mapping[str, Any], known: Iterable[str] = SERVICE_NAMES) -> frozenset[str]:
    """Every namespace the identity policy `document` (JSON text or parsed) allows."""
    if isinstance(document, str):
        if known is SERVICE_NAMES:
            return _document_namespaces(document)
        try:
            document = json.loads(document)
        except (ValueError, RecursionError):
            return frozenset()
    known = tuple(known)
    out: set[str] = set()
    for statement in _statements(document):
        out |= statement_namespaces(statement, known)
    return frozenset(out)
