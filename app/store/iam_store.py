"""IamStore: the IAM entity repository of one account (facade over the per-noun mixins).

Read API used on every request by authentication / authorization:
`find_access_key`, `get_user`, `get_role`, `principal_policies`, `managed_policy_document`,
`ensure_root_access_key`, `touch_access_key`; for STS MFA sign-in,
`mfa_seed_for_user` and `claim_mfa_step`; for AssumeRoleWithSAML, `saml_trust`; for
AssumeRoleWithWebIdentity, `oidc_provider`.
"""
from __future__ import annotations

from app.store.iam_access import AccessAdvisorMixin
from app.store.iam_access_keys import AccessKeysMixin
from app.store.iam_alias import AliasMixin
from app.store.iam_attachments import AttachmentsMixin
from app.store.iam_details import DetailsMixin
from app.store.iam_groups import GroupsMixin
from app.store.iam_inline import InlineMixin
from app.store.iam_instance_profiles import InstanceProfilesMixin
from app.store.iam_login_profiles import LoginProfilesMixin
from app.store.iam_mfa import MfaMixin
from app.store.iam_oidc import OidcMixin
from app.store.iam_policies import PoliciesMixin
from app.store.iam_reads import ReadsMixin
from app.store.iam_report import CredentialReportMixin
from app.store.iam_roles import RolesMixin
from app.store.iam_saml import SamlMixin
from app.store.iam_signing import SigningMixin


class IamStore(GroupsMixin, RolesMixin, PoliciesMixin, AttachmentsMixin, InlineMixin,
               AccessKeysMixin, MfaMixin, LoginProfilesMixin, SamlMixin, OidcMixin, ReadsMixin, DetailsMixin,
               SigningMixin, InstanceProfilesMixin, AliasMixin, CredentialReportMixin,
               AccessAdvisorMixin):
    """`IamStore(redis, account=..., box=SecretBox(...), clock=Clock(), rng=None)`."""
