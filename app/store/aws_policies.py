"""What the IAM store needs to know about AWS managed policies, as a Protocol.

The policies themselves are read-only data (app.policy.managed, wired in by the composition
root); only their use in an account is IAM state in Redis: the same `:ents` / `:bnd` sets as a
customer managed policy's, under the key name `aws/PATH/NAME` (`Keys.policy_entities`), so
attachment counts, ListEntitiesForPolicy and renames work alike for both kinds.
"""
from __future__ import annotations

from typing import Protocol

from app.core import arn as arns


class AwsPolicy(Protocol):
    @property
    def document(self) -> str: ...

    @property
    def service_role_only(self) -> bool: ...


class AwsPolicies(Protocol):
    def get(self, policy_arn: str) -> AwsPolicy | None: ...


class NoAwsPolicies:
    """A store without the catalog: no AWS managed policy exists."""

    def get(self, policy_arn: str) -> AwsPolicy | None:
        return None


def aws_key_name(policy_arn: str) -> str | None:
    """`arn:aws:iam::aws:policy/job-function/ViewOnlyAccess` -> `aws/job-function/ViewOnlyAccess`
    (no customer managed policy's key name contains `/`); None for other ARNs."""
    if not arns.is_aws_policy(policy_arn):
        return None
    return "aws/" + policy_arn[len(arns.AWS_POLICY_PREFIX):]
