"""`tessera dev`: the whole service in one process on an embedded store, seeded and ready."""
from __future__ import annotations

import asyncio
import os
import sys

from app.settings import Settings, SettingsError


def run_dev(*, host: str, port: int) -> int:
    try:
        settings = Settings.from_env(mode="dev", host=host, port=port)
    except SettingsError as exc:
        print(f"tessera: {exc}", file=sys.stderr)
        return 2
    if settings.master_key is None:
        settings = settings.with_master_key(os.urandom(32))  # ephemeral: the embedded store is too
    try:
        asyncio.run(_serve(settings))
    except KeyboardInterrupt:
        pass
    return 0


async def _serve(settings: Settings) -> None:
    import uvicorn

    from app.bootstrap import asgi, build, ensure_root_key, install_logging
    import secrets
    from dataclasses import replace

    from app.cli.demo import SAML_PROVIDER, seed, seed_oidc_login, start_oidc_issuer, start_saml_idp
    from app.core import arn as arns
    from app.store.connection import embedded

    container = build(settings, embedded())
    install_logging(container)
    generated = await ensure_root_key(container)
    root = generated or (settings.root_access_key_id or "", settings.root_secret_access_key or "")
    client_secret = secrets.token_urlsafe(24)  # the demo issuer's browser client (code flow)
    issuer = start_oidc_issuer(f"{settings.public_url}/sso/oidc/callback", client_secret)  # own process
    account = settings.account_id
    saml_idp = start_saml_idp(f"{settings.public_url}/saml", settings.saml_entity_id,
                              arns.role(account, "/", "saml-demo"), arns.saml_provider(account, SAML_PROVIDER))
    try:
        demo = await seed(container, issuer[1] if issuer else None, saml_idp[1] if saml_idp else None)
        if issuer is not None and demo.oidc_role_arn:
            demo = replace(demo, oidc_login=await seed_oidc_login(container, issuer[1], client_secret))
        config = uvicorn.Config(
            asgi(container), host=settings.host, port=settings.port, log_level="warning", access_log=False,
            lifespan="on"
        )
        server = uvicorn.Server(config)
        print(banner(settings, root, demo, await container.iam_store.account_alias()), flush=True)
        await server.serve()
    finally:
        for process in (issuer, saml_idp):
            if process is not None:
                process[0].terminate()
                process[0].wait(5)


def banner(settings: Settings, root: tuple[str, str], demo: object, alias: str | None = None) -> str:
    """`alias`: the account alias (CreateAccountAlias) as the store holds it, shown when there is one."""
    url = settings.public_url
    account = f"{settings.account_id}  ({alias})" if alias else settings.account_id
    akid, secret = getattr(demo, "admin_access_key_id"), getattr(demo, "admin_secret_access_key")
    role_arn = getattr(demo, "role_arn")
    return f"""
Tessera dev server (embedded store; everything vanishes when it stops)
  endpoint      {url}
  account       {account}
  root key      {root[0]}  /  {root[1]}
  admin user    {akid}  /  {secret}
  demo role     {role_arn}

Use it with the AWS CLI (any region works; one must be set):
  export AWS_ACCESS_KEY_ID={akid} AWS_SECRET_ACCESS_KEY={secret} AWS_DEFAULT_REGION=us-east-1
  aws --endpoint-url {url} sts get-caller-identity
  aws --endpoint-url {url} iam list-users
  aws --endpoint-url {url} sts assume-role --role-arn {role_arn} --role-session-name me

Or with boto3:
  python -c "import boto3; s=boto3.client('sts', endpoint_url='{url}', region_name='us-east-1', aws_access_key_id='{akid}', aws_secret_access_key='{secret}'); print(s.get_caller_identity()['Arn'])"

Or curl:
  curl {url}/healthz ; curl {url}/metrics
{saml_lines(settings, demo)}{oidc_lines(settings, demo)}{browser_lines(settings, demo)}"""


def browser_lines(settings: Settings, demo: object) -> str:
    """The browser sign-in URLs of the demo IdPs (when their pages run)."""
    url = settings.public_url
    lines = []
    idp = getattr(demo, "saml_idp_url", None)
    if idp:
        lines.append(f"  SAML, from the app:          {url}/sso/saml/DemoIdP/login")
        lines.append(f"  SAML, from the IdP:          {idp}/start")
    if getattr(demo, "oidc_login", None):
        lines.append(f"  OpenID Connect (code+PKCE):  {url}/sso/oidc/{getattr(demo, 'oidc_login')}/login")
    password = getattr(demo, "admin_password", None)
    if password:
        lines.append(f"  IAM user admin / {password}:  {url}/sso/iam")
    if not lines:
        return ""
    body = "\n".join(lines)
    return f"""
Sign in with a browser (the demo IdPs sign you in at once), choose a role, get credentials:
  every way to sign in:        {url}/sso
{body}
  into a profile, from the terminal (then credential_process = tessera credential-process --profile dev):
    tessera login --url {url} --profile dev
"""


def saml_lines(settings: Settings, demo: object) -> str:
    """The one command that federates through the demo SAML IdP (when it was seeded)."""
    provider, role = getattr(demo, "saml_provider_arn", None), getattr(demo, "saml_role_arn", None)
    if not provider or not role:
        return ""
    from app.cli.demo import REPOSITORY

    url = settings.public_url
    audience = "" if settings.saml_entity_id == f"{url}/saml" else f" --audience {settings.saml_entity_id}"
    idp = (f"PYTHONPATH={REPOSITORY} python -m idp_fixtures.saml.demo --endpoint {url} "
           f"--role-arn {role} --provider-arn {provider}{audience}")
    return f"""
Federate through the demo SAML IdP (idp_fixtures/saml; public test key) as role {role}:
  AWS_DEFAULT_REGION=us-east-1 aws --endpoint-url {url} sts assume-role-with-saml --role-arn {role} --principal-arn {provider} --saml-assertion "$({idp})"
"""


def oidc_lines(settings: Settings, demo: object) -> str:
    """The one command that federates with a token of the demo OpenID issuer (when it runs)."""
    issuer, role = getattr(demo, "oidc_issuer_url", None), getattr(demo, "oidc_role_arn", None)
    if not issuer or not role:
        return ""
    url = settings.public_url
    return f"""
Federate with a web identity token of the demo OpenID issuer at {issuer} (idp_fixtures/oidc) as role {role}:
  AWS_DEFAULT_REGION=us-east-1 aws --endpoint-url {url} sts assume-role-with-web-identity --role-arn {role} --role-session-name demo --web-identity-token "$(curl -s {issuer}/token)"
"""

