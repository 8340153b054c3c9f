"""What AWS leaves out of a response that the output shape would allow, per operation.

botocore's models say which members a result may carry; AWS's servers leave some of them out
of some operations even when the entity has them. The services return whole records; these
rules, compiled into each operation's encoder (nothing is looked up per request), make the XML
the one AWS sends:

- `NEVER`: this operation does not return the member at all. The list operations return "a
  subset of the available attributes for the resource" (the model's own documentation of
  ListUsers, ListRoles, ListPolicies, ListVirtualMFADevices); CreatePolicy does not echo the
  description, CreateRole neither MaxSessionDuration nor RoleLastUsed, CreatePolicyVersion and
  ListPolicyVersions not the document (GetPolicyVersion does).
- `EMPTY`: the member is left out when it is an empty list: an entity without tags gets no
  `<Tags/>` in CreateUser, GetUser, CreateRole, GetRole, CreatePolicy and the Create*Provider
  echoes. (GetPolicy, GetOpenIDConnectProvider and GetAccountAuthorizationDetails do write an
  empty `<Tags/>`, and GetRole an empty `<RoleLastUsed/>` for a role never used: those are not
  listed here.)

A path names members from the operation's output structure down; a list is crossed by naming
the list member itself (`Roles.Tags`: the Tags of every role in ListRoles' `Roles`). The
encoder refuses a path that names no member of the model, so a typo or a model change fails
at start-up.

Sources: the model's operation documentation (quoted above); botocore's
`iam/2010-05-08/examples-1.json` and the AWS CLI's `awscli/examples/iam/*.rst` (outputs of
real calls: create-user, get-user, list-users, create-role with `--max-session-duration` and
with `--tags`, get-role, list-roles, update-role-description, create-policy with
`--description`, list-policies, create-policy-version, list-policy-versions,
get-account-authorization-details, create- and list-virtual-mfa-devices,
create-saml-provider, create-open-id-connect-provider); GetOpenIDConnectProvider of an
untagged provider as recorded from AWS in 2026 (`Tags: []`, `ClientIDList: []`: LocalStack's
tests/aws/services/iam/test_iam_oidc.snapshot.json, `get-response` and `after-update`; the
CLI's example output, from 2015, predates tags on OIDC providers);
GetAccountAuthorizationDetails as captured from AWS in public test fixtures (an AWS managed
policy listed without its description).
"""
from __future__ import annotations

NEVER = "never"
EMPTY = "empty"

_USER_SUMMARY = {"Tags": NEVER, "PermissionsBoundary": NEVER}  # as ListUsers
_ROLE_ECHO = {"Tags": EMPTY, "MaxSessionDuration": NEVER, "RoleLastUsed": NEVER}

# a role inside an instance profile, as AWS's get-instance-profile / list-instance-profiles
# examples show it: path, name, id, ARN, creation date, trust policy (and description if any)
_ROLE_IN_PROFILE = {"Tags": NEVER, "MaxSessionDuration": NEVER, "RoleLastUsed": NEVER,
                    "PermissionsBoundary": NEVER}
_PROFILE_ROLES = {"GetInstanceProfile": ["InstanceProfile.Roles"],
                  "ListInstanceProfiles": ["InstanceProfiles.Roles"],
                  "ListInstanceProfilesForRole": ["InstanceProfiles.Roles"],
                  "GetAccountAuthorizationDetails": ["RoleDetailList.InstanceProfileList.Roles"]}


def _roles_in_profiles(op: str) -> dict[str, str]:
    return {f"{prefix}.{m}": rule for prefix in _PROFILE_ROLES[op] for m, rule in _ROLE_IN_PROFILE.items()}


OMITTED: dict[str, dict[str, dict[str, str]]] = {
    "iam": {
        "CreateUser": {"User.Tags": EMPTY},
        "GetUser": {"User.Tags": EMPTY},
        "ListUsers": {f"Users.{m}": rule for m, rule in _USER_SUMMARY.items()},
        "GetGroup": {f"Users.{m}": rule for m, rule in _USER_SUMMARY.items()},
        "CreateRole": {f"Role.{m}": rule for m, rule in _ROLE_ECHO.items()},
        "UpdateRoleDescription": {f"Role.{m}": rule for m, rule in _ROLE_ECHO.items()},
        "GetRole": {"Role.Tags": EMPTY},
        "ListRoles": {"Roles.Tags": NEVER, "Roles.PermissionsBoundary": NEVER,
                      "Roles.RoleLastUsed": NEVER},
        "CreatePolicy": {"Policy.Tags": EMPTY, "Policy.Description": NEVER},
        "ListPolicies": {"Policies.Tags": NEVER, "Policies.Description": NEVER},
        "GetAccountAuthorizationDetails": {"Policies.Description": NEVER,
                                           "RoleDetailList.InstanceProfileList.Tags": NEVER,
                                           **_roles_in_profiles("GetAccountAuthorizationDetails")},
        "CreatePolicyVersion": {"PolicyVersion.Document": NEVER},
        "ListPolicyVersions": {"Versions.Document": NEVER},
        "CreateVirtualMFADevice": {"VirtualMFADevice.Tags": EMPTY},
        "CreateSAMLProvider": {"Tags": EMPTY},
        "CreateOpenIDConnectProvider": {"Tags": EMPTY},
        "CreateInstanceProfile": {"InstanceProfile.Tags": EMPTY},
        "GetInstanceProfile": {"InstanceProfile.Tags": EMPTY, **_roles_in_profiles("GetInstanceProfile")},
        "ListInstanceProfiles": {"InstanceProfiles.Tags": NEVER, **_roles_in_profiles("ListInstanceProfiles")},
        "ListInstanceProfilesForRole": {"InstanceProfiles.Tags": NEVER,
                                        **_roles_in_profiles("ListInstanceProfilesForRole")},
        "ListVirtualMFADevices": {"VirtualMFADevices.Tags": NEVER,
                                  **{f"VirtualMFADevices.User.{m}": rule
                                     for m, rule in _USER_SUMMARY.items()}},
    },
}

Rules = dict[str, "str | Rules"]


def rule_tree(paths: dict[str, str]) -> Rules:
    """{"Roles.Tags": NEVER} -> {"Roles": {"Tags": NEVER}}."""
    tree: Rules = {}
    for path, rule in paths.items():
        if rule not in (NEVER, EMPTY):
            raise ValueError(f"unknown omission rule `{rule}` for `{path}`")
        *parents, last = path.split(".")
        node = tree
        for name in parents:
            child = node.setdefault(name, {})
            if not isinstance(child, dict):
                raise ValueError(f"`{path}` goes through `{name}`, which has its own rule")
            node = child
        node[last] = rule
    return tree
