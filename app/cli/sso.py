"""`tessera sso`: the OpenID Connect clients of browser sign-in (admin; against TESSERA_REDIS_URL
with TESSERA_MASTER_KEY, like `tessera serve`).

    tessera sso add-oidc-client --name corp --provider-url https://idp.example.com \\
        --client-id tessera --client-secret-file secret.txt [--redirect-uri URL] [--label "Corp SSO"]
    tessera sso list
    tessera sso remove-oidc-client --name corp

A client is this service's registration at the IdP (confidential client, code flow with PKCE).
Its secret is read from a file (`-`: standard input), never from the command line, and sealed
under the master key in Redis (app.store.sso_state). The provider URL must be an OIDC provider
registered in IAM (CreateOpenIDConnectProvider) whose client ids include the client id: the ID
tokens are validated exactly as AssumeRoleWithWebIdentity validates them. People sign in at
`${TESSERA_PUBLIC_URL}/sso/oidc/NAME/login`; the redirect URI to register at the IdP is
`${TESSERA_PUBLIC_URL}/sso/oidc/callback` unless given.
"""
from __future__ import annotations

import argparse
import asyncio
import re
import sys

from app.settings import Settings, SettingsError

_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    sso = sub.add_parser("sso", help="browser sign-in: the OpenID Connect clients")
    ssub = sso.add_subparsers(dest="sso_command", required=True)
    add = ssub.add_parser("add-oidc-client", help="add or replace an OpenID Connect client for browser sign-in")
    add.add_argument("--name", required=True, help="short name: the login URL is /sso/oidc/NAME/login")
    add.add_argument("--provider-url", required=True, help="the issuer URL, as registered in IAM")
    add.add_argument("--client-id", required=True)
    add.add_argument("--client-secret-file", required=True, help="file holding the client secret (`-`: stdin)")
    add.add_argument("--redirect-uri", help="default: ${TESSERA_PUBLIC_URL}/sso/oidc/callback")
    add.add_argument("--label", default="", help="what the sign-in page shows")
    ssub.add_parser("list", help="list the OpenID Connect clients")
    rm = ssub.add_parser("remove-oidc-client", help="remove an OpenID Connect client")
    rm.add_argument("--name", required=True)


def run_sso(args: argparse.Namespace) -> int:
    try:
        settings = Settings.from_env(mode="serve")
    except SettingsError as exc:
        print(f"tessera: {exc}", file=sys.stderr)
        return 2
    try:
        return asyncio.run(_run(settings, args))
    except ValueError as exc:
        print(f"tessera: {exc}", file=sys.stderr)
        return 2


async def _run(settings: Settings, args: argparse.Namespace) -> int:
    from app.services.oidc_urls import UrlRejected, issuer_url
    from app.store.connection import connect
    from app.store.keys import Keys
    from app.store.secretbox import SecretBox
    from app.store.sso_state import OidcClient, SsoState

    assert settings.redis_url is not None and settings.master_key is not None
    redis = connect(settings.redis_url)
    state = SsoState(redis, SecretBox(settings.master_key), Keys(settings.account_id))
    try:
        if args.sso_command == "list":
            for name in await state.oidc_client_names():
                client = await state.oidc_client(name)
                if client is not None:
                    print(f"{name}\t{client.issuer_url}\t{client.client_id}\t{client.redirect_uri}\t"
                          f"{settings.public_url}/sso/oidc/{name}/login")
            return 0
        if not _NAME.fullmatch(args.name):
            raise ValueError("--name must be 1-64 lower-case letters, digits and dashes")
        if args.sso_command == "remove-oidc-client":
            if not await state.delete_oidc_client(args.name):
                raise ValueError(f"there is no OpenID Connect client `{args.name}`")
            return 0
        try:
            issuer_url(args.provider_url)
        except UrlRejected as exc:
            raise ValueError(f"--provider-url {exc}") from None
        secret = (sys.stdin.read() if args.client_secret_file == "-" else _read(args.client_secret_file)).strip()
        if not 1 <= len(secret) <= 1024:
            raise ValueError("the client secret must be 1-1024 characters")
        if not 1 <= len(args.client_id) <= 255:
            raise ValueError("--client-id must be 1-255 characters")
        redirect = args.redirect_uri or f"{settings.public_url}/sso/oidc/callback"
        await state.put_oidc_client(OidcClient(args.name, args.provider_url, args.client_id, secret, redirect,
                                               args.label[:64]))
        print(f"tessera: OpenID Connect sign-in `{args.name}` saved; people sign in at "
              f"{settings.public_url}/sso/oidc/{args.name}/login (redirect URI {redirect})")
        return 0
    finally:
        await redis.aclose()


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read(4096)
    except OSError as exc:
        raise ValueError(f"cannot read --client-secret-file `{path}`: {exc.strerror}") from None
