"""Account-wide reads: GetAccountAuthorizationDetails, GetAccountSummary."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from app.core.records import Call, ManagedPolicy
from app.services.iam.aws_policies import aws_in_use, aws_policy_detail
from app.services.iam.base import IamServiceBase, page
from app.services.iam.documents import INLINE_AGGREGATE, MANAGED_POLICY_SIZE, TRUST_POLICY_SIZE
from app.store.iam_access_keys import MAX_KEYS
from app.store.iam_attachments import MAX_ATTACHED
from app.store.iam_groups import MAX_GROUPS, MAX_GROUPS_PER_USER
from app.store.iam_instance_profiles import MAX_INSTANCE_PROFILES
from app.store.iam_policies import MAX_POLICIES, MAX_VERSIONS
from app.store.iam_roles import MAX_ROLES
from app.store.iam_users import MAX_USERS

POLICY_VERSIONS_IN_USE_QUOTA = 10_000  # AWS's figure (botocore's GetAccountSummary example)
# Filter value -> store index kind; output order is users, groups, roles, policies (customer
# managed, then the AWS managed ones in use in the account: AWS lists only those)
_FILTERS = (("User", "user"), ("Group", "group"), ("Role", "role"),
            ("LocalManagedPolicy", "policy"), ("AWSManagedPolicy", "aws"))


class AccountService(IamServiceBase):
    async def get_account_authorization_details(
        self, call: Call, *, filter: Sequence[str] | None = None,  # noqa: A002 (model name)
        max_items: int | None = None, marker: str | None = None,
    ) -> dict[str, Any]:
        await self._require(call, "GetAccountAuthorizationDetails", "*")
        wanted = set(filter or [name for name, _ in _FILTERS])
        rows: list[tuple[str, str]] = []
        aws: dict[str, ManagedPolicy] = {}
        for order, (name, kind) in enumerate(_FILTERS):
            if name in wanted and kind == "aws":
                aws = {p.arn: p for p in await aws_in_use(self._store, self._aws)}
                rows += [(f"{order}{p.policy_name.lower()}", p.arn) for p in aws.values()]
            elif name in wanted:
                rows += [(f"{order}{n}", n) for n in await self._store.index_names(kind)]
        chunk, truncated, next_marker = page(rows, lambda r: r[0], marker, max_items)
        by_kind: dict[str, list[str]] = {kind: [] for _, kind in _FILTERS}
        for key, lname in chunk:
            by_kind[_FILTERS[int(key[0])][1]].append(lname)
        return {
            "user_detail_list": await self._store.user_details(by_kind["user"]),
            "group_detail_list": await self._store.group_details(by_kind["group"]),
            "role_detail_list": await self._store.role_details(by_kind["role"]),
            "policies": [*await self._store.policy_details(by_kind["policy"]),
                         *(aws_policy_detail(self._aws, aws[a]) for a in by_kind["aws"])],
            "is_truncated": truncated, "marker": next_marker,
        }

    async def get_account_summary(self, call: Call) -> dict[str, Any]:
        await self._require(call, "GetAccountSummary", "*")
        counts = await self._store.summary_counts()
        mfa_devices, mfa_in_use = await self._store.mfa_counts()
        summary = {
            **counts,
            "UsersQuota": MAX_USERS, "GroupsQuota": MAX_GROUPS, "RolesQuota": MAX_ROLES,
            "PoliciesQuota": MAX_POLICIES, "PolicyVersionsInUseQuota": POLICY_VERSIONS_IN_USE_QUOTA,
            "VersionsPerPolicyQuota": MAX_VERSIONS, "PolicySizeQuota": MANAGED_POLICY_SIZE,
            "AssumeRolePolicySizeQuota": TRUST_POLICY_SIZE,
            "UserPolicySizeQuota": INLINE_AGGREGATE["user"],
            "GroupPolicySizeQuota": INLINE_AGGREGATE["group"],
            "RolePolicySizeQuota": INLINE_AGGREGATE["role"],
            "AccessKeysPerUserQuota": MAX_KEYS, "GroupsPerUserQuota": MAX_GROUPS_PER_USER,
            "AttachedPoliciesPerUserQuota": MAX_ATTACHED,
            "AttachedPoliciesPerGroupQuota": MAX_ATTACHED,
            "AttachedPoliciesPerRoleQuota": MAX_ATTACHED,
            "SigningCertificatesPerUserQuota": 2, "ServerCertificates": 0,
            "ServerCertificatesQuota": 20, "MFADevices": mfa_devices,
            "MFADevicesInUse": mfa_in_use,
            "AccountMFAEnabled": 0, "AccountPasswordPresent": 0,
            "AccountSigningCertificatesPresent": 0,
            "InstanceProfilesQuota": MAX_INSTANCE_PROFILES, "GlobalEndpointTokenVersion": 1,
            "Providers": await self._store.count("saml") + await self._store.count("oidc"),  # SAML and OIDC
        }
        return {"summary_map": summary}
