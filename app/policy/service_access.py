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
service part is taken as written (lowercased), known or not. A document is read by the policy
engine's own parser (app.policy.validate.parse_document, structure only, as the Authorizer reads
a stored one); a text that is no policy allows nothing. Pure: no I/O.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any

from app.core.errors import MalformedPolicyDocument
from app.policy.document import PolicyDocument, PolicyKind, Statement, load
from app.policy.matching import action_matcher, has_wildcard
from app.policy.validate import parse_document

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


def statement_namespaces(statement: Statement, known: Iterable[str]) -> set[str]:
    """The namespaces one statement allows (empty for a Deny)."""
    if statement.effect != "Allow":
        return set()
    known = tuple(known)
    out: set[str] = set()
    if statement.actions is not None:
        for pattern in statement.actions:
            svc, _ = _service_part(pattern)
            out |= _matching(svc, known)
        return out
    if statement.not_actions is not None:
        excluded: set[str] = set()
        for pattern in statement.not_actions:
            svc, act = _service_part(pattern)
            hit = _matching(svc, known)
            if _covers_all(act):
                excluded |= hit
            else:
                out |= hit  # named by a partial NotAction: its other actions stay allowed
        return (out | set(known)) - excluded
    return out


def _parsed(document: str | Mapping[str, Any]) -> PolicyDocument | None:
    """The policy engine's reading of a stored document (its structure only, as the Authorizer
    reads it); None for one that is not a policy (it allows nothing)."""
    try:
        return parse_document(load(document), PolicyKind.IDENTITY, strict=False)
    except MalformedPolicyDocument:
        return None


@lru_cache(maxsize=2048)
def _document_namespaces(text: str) -> frozenset[str]:
    return _namespaces(_parsed(text), SERVICE_NAMES)


def _namespaces(document: PolicyDocument | None, known: Iterable[str]) -> frozenset[str]:
    if document is None:
        return frozenset()
    known = tuple(known)
    out: set[str] = set()
    for statement in document.statements:
        out |= statement_namespaces(statement, known)
    return frozenset(out)


def document_namespaces(document: str | Mapping[str, Any], known: Iterable[str] = SERVICE_NAMES) -> frozenset[str]:
    """Every namespace the identity policy `document` (JSON text or parsed) allows; the text's
    answer is cached (a report reads the same few documents again and again)."""
    if isinstance(document, str) and known is SERVICE_NAMES:
        return _document_namespaces(document)
    return _namespaces(_parsed(document), known)
