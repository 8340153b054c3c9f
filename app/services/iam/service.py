"""IamService: one method per IAM action (`botocore.xform_name(Action)`), taking the Call
first and the model's input members as keyword arguments."""
from __future__ import annotations

from app.services.iam.access_advisor import AccessAdvisorService
from app.services.iam.access_keys import AccessKeysService
from app.services.iam.account import AccountService
from app.services.iam.aliases import AliasesService
from app.services.iam.attachments import AttachmentsService
from app.services.iam.credential_report import CredentialReportService
from app.services.iam.inline import InlineService
from app.services.iam.instance_profiles import InstanceProfilesService
from app.services.iam.login_profiles import LoginProfilesService
from app.services.iam.mfa import MfaService
from app.services.iam.oidc_providers import OidcProvidersService
from app.services.iam.saml_providers import SamlProvidersService
from app.services.iam.signing import SigningService
from app.services.iam.simulation import SimulationService


class IamService(SigningService, InlineService, AttachmentsService, MfaService, AccessKeysService, LoginProfilesService, AccountService,
                 SimulationService, SamlProvidersService, OidcProvidersService,
                 InstanceProfilesService, AliasesService, CredentialReportService, AccessAdvisorService):
    """`IamService(store: IamStore, authz: Authorizer, *, account: str, clock: Clock)`."""
