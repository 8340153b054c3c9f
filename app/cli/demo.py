"""The demo account `tessera dev` seeds: an admin user with a key, a role to assume and an account alias, and,
when the repository's `idp_fixtures/` is there, the demo SAML IdP registered as a provider
with a role that trusts it (the metadata is read as data: `app` never imports idp_fixtures),
and the demo OpenID issuer (idp_fixtures/oidc, run as a process of its own on a free loopback
port) registered as an OIDC provider with a role that trusts it."""
from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPOSITORY = Path(__file__).resolve().parents[2]
SAML_METADATA = REPOSITORY / "idp_fixtures" / "saml" / "metadata" / "idp.xml"
SAML_PROVIDER = "DemoIdP"
OIDC_SERVER = REPOSITORY / "idp_fixtures" / "oidc" / "server.py"
SAML_WEB = REPOSITORY / "idp_fixtures" / "saml" / "web.py"
SAML_SSO_URL = "https://idp.tessera.test/saml/sso"  # the demo metadata's SingleSignOnService
OIDC_CLIENT_ID = "tessera-demo"  # the demo issuer's default audience
ACCOUNT_ALIAS = "tessera-demo"  # the demo account's alias (CreateAccountAlias), shown on the sign-in pages

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


def oidc_trust_policy(provider_arn: str, prefix: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "DemoIssuer",
                    "Effect": "Allow",
                    "Principal": {"Federated": provider_arn},
                    "Action": ["sts:AssumeRoleWithWebIdentity", "sts:TagSession", "sts:SetSourceIdentity"],
                    "Condition": {"StringEquals": {f"{prefix}:aud": OIDC_CLIENT_ID},
                                  "StringLike": {f"{prefix}:sub": "demo-*"}},
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
    oidc_issuer_url: str | None = None
    oidc_role_arn: str | None = None
    saml_idp_url: str | None = None  # the demo SAML IdP's sign-in pages (browser sign-in)
    oidc_login: str | None = None  # the OIDC browser client's name, when the code flow is on
    admin_password: str | None = None  # the admin user's console password (IAM-user browser sign-in)


def _die_with_parent() -> None:
    """In the child, before exec: SIGTERM when `tessera dev` ends, however it ends (uvicorn
    re-raises the signal that stopped it, so no `finally` of ours runs then)."""
    import ctypes
    import signal

    ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGTERM))  # PR_SET_PDEATHSIG


def start_oidc_issuer(redirect_uri: str | None = None,
                      client_secret: str | None = None) -> tuple[subprocess.Popen[str], str] | None:
    """The demo OpenID issuer (`python -m idp_fixtures.oidc.server`: discovery, key set and
    `/token` minting demo tokens; with `redirect_uri` and `client_secret`, the authorization code
    flow of browser sign-in too, auto-approving user `demo-alice`) on a free loopback port: (its
    process, its issuer URL), or None when the repository's idp_fixtures/ is not next to the
    installed package. The caller stops it."""
    extra = ["--redirect-uri", redirect_uri] if redirect_uri and client_secret else []
    env = {"TESSERA_DEMO_CLIENT_SECRET": client_secret} if redirect_uri and client_secret else {}
    return _fixture_process(OIDC_SERVER, "idp_fixtures.oidc.server", ["--port", "0", *extra], "issuer http://", env)


def start_saml_idp(acs_url: str, audience: str, role_arn: str,
                   provider_arn: str) -> tuple[subprocess.Popen[str], str] | None:
    """The demo SAML IdP's sign-in pages (`python -m idp_fixtures.saml.web`: IdP-initiated at
    `/start`, SP-initiated at `/sso`, signing in user alice with role `role_arn`) on a free
    loopback port: (its process, its URL), or None without idp_fixtures/. The caller stops it."""
    return _fixture_process(SAML_WEB, "idp_fixtures.saml.web",
                            ["--port", "0", "--acs-url", acs_url, "--audience", audience,
                             "--role", f"{role_arn},{provider_arn}"], "saml-idp http://", {})


def _fixture_process(path: Path, module: str, args: list[str], ready: str,
                     extra_env: dict[str, str]) -> tuple[subprocess.Popen[str], str] | None:
    if not path.is_file():
        return None
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (str(REPOSITORY), os.environ.get("PYTHONPATH")) if p))
    env.update(extra_env)
    proc = subprocess.Popen([sys.executable, "-m", module, *args], cwd=REPOSITORY,
                            env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True, preexec_fn=_die_with_parent if sys.platform == "linux" else None)
    assert proc.stdout is not None
    line = proc.stdout.readline()  # `<what> http://127.0.0.1:PORT  (…)`, printed once bound
    if not line.startswith(ready):
        proc.terminate()
        proc.wait(5)
        return None
    return proc, line.split()[1]


async def seed(container: Any, oidc_issuer_url: str | None = None, saml_idp_url: str | None = None) -> Demo:
    call = container.root_call()
    iam = container.iam
    account = container.settings.account_id
    await iam.create_user(call, user_name="admin", tags=[{"Key": "team", "Value": "platform"}])
    await iam.put_user_policy(call, user_name="admin", policy_name="AdministratorAccess", policy_document=ADMIN_POLICY)
    key = (await iam.create_access_key(call, user_name="admin"))["access_key"]
    password = f"Demo-{secrets.token_urlsafe(12)}"  # fresh per run, like the keys: printed, never stored in clear
    await iam.create_login_profile(call, user_name="admin", password=password)
    role = (
        await iam.create_role(
            call,
            role_name="demo",
            assume_role_policy_document=trust_policy(account),
            description="demo role: read-only IAM; assume it with the admin user's key",
        )
    )["role"]
    await iam.put_role_policy(call, role_name="demo", policy_name="ReadOnly", policy_document=READ_ONLY_POLICY)
    await iam.create_account_alias(call, account_alias=ACCOUNT_ALIAS)
    provider_arn, saml_role_arn = await seed_saml(container, call, saml_idp_url)
    oidc_role_arn = await seed_oidc(container, call, oidc_issuer_url) if oidc_issuer_url else None
    return Demo(key.access_key_id, key.secret_access_key, role.arn, provider_arn, saml_role_arn,
                oidc_issuer_url if oidc_role_arn else None, oidc_role_arn, saml_idp_url if provider_arn else None,
                admin_password=password)


async def seed_oidc_login(container: Any, issuer_url: str, client_secret: str) -> str:
    """The demo issuer as the OIDC browser sign-in `demo` (client `tessera-demo`); -> the name."""
    from app.store.sso_state import OidcClient

    redirect = f"{container.settings.public_url}/sso/oidc/callback"
    await container.sso_state.put_oidc_client(OidcClient("demo", issuer_url, OIDC_CLIENT_ID, client_secret, redirect,
                                                         "Demo OpenID issuer"))
    return "demo"


async def seed_saml(container: Any, call: Any, idp_url: str | None = None) -> tuple[str | None, str | None]:
    """The demo IdP as provider `DemoIdP` and role `saml-demo` trusting it; (None, None) when
    the repository's idp_fixtures/ is not next to the installed package. With `idp_url` (the demo
    IdP's sign-in pages), the metadata's SingleSignOnService is `idp_url/sso` (browser sign-in)."""
    if not SAML_METADATA.is_file():
        return None, None
    iam = container.iam
    metadata = SAML_METADATA.read_text(encoding="utf-8")
    if idp_url:
        metadata = metadata.replace(SAML_SSO_URL, f"{idp_url}/sso")
    provider = await iam.create_saml_provider(call, name=SAML_PROVIDER, saml_metadata_document=metadata)
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


async def seed_oidc(container: Any, call: Any, issuer_url: str) -> str:
    """The demo issuer as an OIDC provider (client id `tessera-demo`) and role `oidc-demo`
    trusting its tokens for subjects `demo-*`; -> the role's ARN."""
    iam = container.iam
    provider = await iam.create_open_id_connect_provider(call, url=issuer_url, client_id_list=[OIDC_CLIENT_ID])
    provider_arn = str(provider["open_id_connect_provider_arn"])
    prefix = issuer_url.split("://", 1)[1]
    role = (
        await iam.create_role(
            call,
            role_name="oidc-demo",
            assume_role_policy_document=oidc_trust_policy(provider_arn, prefix),
            description="demo role for the demo OpenID issuer (idp_fixtures/oidc): read-only IAM",
        )
    )["role"]
    await iam.put_role_policy(call, role_name="oidc-demo", policy_name="ReadOnly", policy_document=READ_ONLY_POLICY)
    return str(role.arn)

