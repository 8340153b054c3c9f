"""The demo account `tessera dev` seeds: an admin user with a key and a role to assume."""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

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


@dataclass(frozen=True)
class Demo:
    admin_access_key_id: str
    admin_secret_access_key: str
    role_arn: str


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
    return Demo(key.access_key_id, key.secret_access_key, role.arn)
