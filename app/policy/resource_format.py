"""`Resource` / `NotResource` values as IAM checks them: `"*"` or an ARN.

    format_error("adf")                          # -> 'Resource adf must be in ARN format or "*".'
    format_error("arn:aws:s3:::bucket")          # -> None
    fails_legacy_parsing("arn:aws:s3::bucket")   # -> True ("The policy failed legacy parsing")

The checks, their order and their texts are IAM's as observed against AWS (localstack's
AWS-validated CreatePolicy snapshots, recorded February 2026; moto's IAM policy validator,
which reproduces them). Where the observations are silent Tessera chooses, and says so:

- IAM reports the partition before anything else and ignores the first field's text
  (`aws:s3:::b` is reported as `Partition "s3" is not valid for resource "arn:s3:::b:*".`);
  a value whose partition is valid but whose first field is not `arn` is refused here as not
  an ARN (AWS's handling of it is unobserved; evaluating it could never match).
- A region of `*` in an `iam`/`s3` ARN is accepted, short patterns such as `arn:aws:s3:*`
  included (it names no region; AWS's own managed policies use `arn:aws:s3:*:*:access-grants/*`).
"""
from __future__ import annotations

PARTITIONS = frozenset({"aws", "aws-cn", "aws-us-gov", "aws-iso", "aws-iso-b", "aws-iso-e", "aws-iso-f",
                        "aws-eusc"})
IAM_RESOURCE_TYPES = ("user/", "federated-user/", "role/", "group/", "instance-profile/", "mfa/",
                      "server-certificate/", "policy/", "sms-mfa/", "saml-provider/", "oidc-provider/",
                      "report/", "access-report/")
IAM_PATH_ERROR = ('IAM resource path must either be "*", root, or start with '
                  + ", ".join(IAM_RESOURCE_TYPES) + ".")
_NOT_ARN = 'Resource {} must be in ARN format or "*".'
_VENDOR = "Resource vendor must be fully qualified and cannot contain regexes."


def _as_arn(partition: str, rest: str) -> str:
    """The resource as IAM names it in its partition error: six fields, missing ones `*`."""
    parts = rest.split(":")
    service = parts[0] if parts[0] != "" or len(parts) > 1 else "*"
    region = parts[1] if len(parts) > 1 else "*"
    account = parts[2] if len(parts) > 2 else "*"
    resource = ":".join(parts[3:]) if len(parts) > 3 else "*"
    return f"arn:{partition}:{service}:{region}:{account}:{resource}"


def format_error(resource: str) -> str | None:
    """IAM's message for a malformed Resource/NotResource value; None when it is well formed."""
    if resource == "*":
        return None
    head, sep, rest = resource.partition(":")
    if not sep:
        return _NOT_ARN.format(resource)
    partition, sep, rest = rest.partition(":")
    if partition != "*" and partition not in PARTITIONS:
        return f'Partition "{partition}" is not valid for resource "{_as_arn(partition, rest)}".'
    if head != "arn":
        return _NOT_ARN.format(resource)
    service, _, after_service = rest.partition(":")
    if not sep or "*" in service or "?" in service:
        return _VENDOR
    region, region_sep, after_region = after_service.partition(":")
    resource_id = after_region.partition(":")[2]
    if service in ("iam", "s3") and region != "*" and not (region_sep and region == ""):
        if not (service == "s3" and resource_id.startswith("accesspoint/")):
            if service == "iam":
                return f"IAM resource {resource} cannot contain region information."
            return f"Resource {resource} can not contain region information."
    if service == "iam" and resource_id not in ("*", "root") and not resource_id.startswith(IAM_RESOURCE_TYPES):
        return IAM_PATH_ERROR
    return None


def fails_legacy_parsing(resource: str) -> bool:
    """IAM's legacy parser: a value with an empty service, or one that has `::` but fewer than
    six fields (`arn:aws:s3::bucket`, a field short), is refused."""
    if resource == "*":
        return False
    parts = resource.split(":")
    if len(parts) < 6 and "::" in resource:
        return True
    return len(parts) < 3 or parts[2] == ""
