"""The demo account `tessera dev` seeds: an admin user with a key and a role to assume, and,
when the repository's `idp_fixtures/` is there, the demo SAML IdP registered as a provider
with a role that trusts it (the metadata is read as data: `app` never imports idp_fixtures)."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPOSITORY = Path(__file__).resolve().parents[2]
SAML_METADATA = REPOSITORY / "idp_fixtures" / "saml" / "metadata" / "idp.xml"
SAML_PROVIDER = "DemoIdP"

ADMIN_POLICY = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Sid": "Everything", "Effect": "Allow", "Action": "*", "Resource": "*"}]},
    indent=2,
)
READ_ONLY_POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "ReadIam", "Effect": "Allow", "Action": ["iam:Get*", "iam:List*"], "Resource": "*"},
            {"Sid": "Identity", "Effect": "Allow", "Action": "sts:GetCallerIdentity", "Resource": "*"},
        ],
    },
    indent=2,
)


def trust_policy(account: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "AccountPrincipals",
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                    "Action": ["sts:AssumeRole", "sts:TagSession", "sts:SetSourceIdentity"],
                }
            ],
        },
        indent=2,
    )


def saml_trust_policy(provider_arn: str, acs_url: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "DemoIdP",
                    "Effect": "Allow",
                    "Principal": {"Federated": provider_arn},
                    "Action": ["sts:AssumeRoleWithSAML", "sts:TagSession", "sts:SetSourceIdentity"],
                    "Condition": {"StringEquals": {"saml:aud": acs_url}},
                }
            ],
        },
        indent=2,
    )


@dataclass(frozen=True)
class Demo:
    admin_access_key_id: str
    admin_secret_access_key: str
    role_arn: str
    saml_provider_arn: str | None = None
    saml_role_arn: str | None = None


async def seed(container: Any) -> Demo:
    call = container.root_call()
    iam = container.iam
    account = container.settings.account_id
    await iam.create_user(call, user_name="admin", tags=[{"Key": "team", "Value": "platform"}])
    await iam.put_user_policy(call, user_name="admin", policy_name="AdministratorAccess", policy_document=ADMIN_POLICY)
    key = (await iam.create_access_key(call, user_name="admin"))["access_key"]
    role = (
        await iam.create_role(
            call,
            role_name="demo",
            assume_role_policy_document=trust_policy(account),
            description="demo role: read-only IAM; assume it with the admin user's key",
        )
    )["role"]
    await iam.put_role_policy(call, role_name="demo", policy_name="ReadOnly", policy_document=READ_ONLY_POLICY)
    provider_arn, saml_role_arn = await seed_saml(container, call)
    return Demo(key.access_key_id, key.secret_access_key, role.arn, provider_arn, saml_role_arn)


async def seed_saml(container: Any, call: Any) -> tuple[str | None, str | None]:
    """The demo IdP as provider `DemoIdP` and role `saml-demo` trusting it; (None, None) when
    the repository's idp_fixtures/ is not next to the installed package."""
    if not SAML_METADATA.is_file():
        return None, None
    iam = container.iam
    provider = await iam.create_saml_provider(
        call, name=SAML_PROVIDER, saml_metadata_document=SAML_METADATA.read_text(encoding="utf-8"))
    provider_arn = str(provider["saml_provider_arn"])
    acs_url = f"{container.settings.public_url}/saml"
    role = (
        await iam.create_role(
            call,
            role_name="saml-demo",
            assume_role_policy_document=saml_trust_policy(provider_arn, acs_url),
            description="demo role for the demo SAML IdP (idp_fixtures/saml): read-only IAM",
        )
    )["role"]
    await iam.put_role_policy(call, role_name="saml-demo", policy_name="ReadOnly", policy_document=READ_ONLY_POLICY)
    return provider_arn, role.arn
