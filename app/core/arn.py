"""ARNs: parse and build the IAM/STS shapes Tessera uses."""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

PARTITION = "aws"


@dataclass(frozen=True, slots=True)
class Arn:
    partition: str
    service: str
    region: str
    account: str
    resource: str

    def __str__(self) -> str:
        return f"arn:{self.partition}:{self.service}:{self.region}:{self.account}:{self.resource}"

    @property
    def resource_type(self) -> str:
        return self.resource.split("/", 1)[0].split(":", 1)[0]

    @property
    def resource_name(self) -> str:
        """Last path component: `role/a/b/Name` -> `Name`."""
        return self.resource.rsplit("/", 1)[-1]

    @property
    def resource_path(self) -> str:
        """IAM path of a `type/path/Name` resource: `role/a/b/Name` -> `/a/b/`."""
        parts = self.resource.split("/")
        return "/" + "".join(p + "/" for p in parts[1:-1]) if len(parts) > 2 else "/"


def parse(text: str) -> Arn | None:
    """Parse `arn:partition:service:region:account:resource`; None if not ARN-shaped."""
    parts = text.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or not parts[1] or not parts[2]:
        return None
    return Arn(parts[1], parts[2], parts[3], parts[4], parts[5])


def iam(account: str, resource: str) -> str:
    return f"arn:{PARTITION}:iam::{account}:{resource}"


def root(account: str) -> str:
    return iam(account, "root")


def user(account: str, path: str, name: str) -> str:
    return iam(account, f"user{path}{name}")


def role(account: str, path: str, name: str) -> str:
    return iam(account, f"role{path}{name}")


def group(account: str, path: str, name: str) -> str:
    return iam(account, f"group{path}{name}")


def instance_profile(account: str, path: str, name: str) -> str:
    return iam(account, f"instance-profile{path}{name}")


def policy(account: str, path: str, name: str) -> str:
    return iam(account, f"policy{path}{name}")


# AWS managed policies live in the pseudo-account `aws`: arn:aws:iam::aws:policy/PATH/NAME
AWS_POLICY_PREFIX = f"arn:{PARTITION}:iam::aws:policy/"


def is_aws_policy(text: str) -> bool:
    """Whether `text` names an AWS managed policy (by its shape; it may not exist)."""
    return text.startswith(AWS_POLICY_PREFIX)


def saml_provider(account: str, name: str) -> str:
    return iam(account, f"saml-provider/{name}")


def oidc_provider(account: str, url_without_scheme: str) -> str:
    """`arn:aws:iam::ACCOUNT:oidc-provider/HOST[:PORT][/PATH]`: the issuer URL without its scheme."""
    return iam(account, f"oidc-provider/{url_without_scheme}")


def assumed_role(account: str, role_name: str, session_name: str) -> str:
    return f"arn:{PARTITION}:sts::{account}:assumed-role/{role_name}/{session_name}"


def federated_user(account: str, name: str) -> str:
    return f"arn:{PARTITION}:sts::{account}:federated-user/{name}"


@lru_cache(maxsize=4096)
def parse_role_arn(text: str) -> tuple[str, str, str] | None:
    """`arn:aws:iam::ACCT:role/path/Name` -> (account, path, name), else None. Memoised (a
    pure function of the text; every AssumeRole* parses its RoleArn, and a deployment names few
    roles): a dict lookup instead of building and splitting an Arn."""
    a = parse(text)
    if a is None or a.service != "iam" or a.region or not a.resource.startswith("role/"):
        return None
    if not (len(a.account) == 12 and a.account.isascii() and a.account.isdigit()):
        return None
    name = a.resource_name
    if not name:
        return None
    return a.account, a.resource_path, name
