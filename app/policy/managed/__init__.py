"""AWS managed policies (`arn:aws:iam::aws:policy/...`) as data: `AwsManagedPolicies` reads the
files `generate.py` made from a public, registry-served source (see the files' headers)."""
from app.policy.managed.catalog import AwsManagedPolicies, AwsManagedPolicy, aws_managed_policies

__all__ = ["AwsManagedPolicies", "AwsManagedPolicy", "aws_managed_policies"]
