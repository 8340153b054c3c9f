"""The browser sign-in tests' world: a real `tessera serve` on its own Redis database, the demo
SAML IdP's sign-in pages (idp_fixtures/saml/web.py) registered as provider `BrowserIdP`, the
loopback OpenID issuer with the code flow (IssuerServer.enable_code_flow) registered as an IAM
OIDC provider and, through `tessera sso add-oidc-client`, as browser sign-in `corp`; roles that
trust each."""
from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
import urllib.parse
import zlib
from dataclasses import dataclass
from typing import Any

import httpx
import redis

from idp_fixtures.oidc.server import IssuerServer
from idp_fixtures.saml.web import SamlWebIdP
from tests.redis_target import redis_url

from .conftest import ACCOUNT, ROOT_AKID, ROOT_SECRET, Server, allow, client, start_server, stop_server

SSO_REDIS = redis_url(1)
PROVIDER = "BrowserIdP"
PROVIDER_ARN = f"arn:aws:iam::{ACCOUNT}:saml-provider/{PROVIDER}"
READ = allow(["sts:GetCallerIdentity", "iam:List*", "iam:Get*"])
CLIENT_SECRET = "corp-client-secret-0123456789"


def role_arn(name: str) -> str:
    return f"arn:aws:iam::{ACCOUNT}:role/{name}"


@dataclass
class SsoEnv:
    server: Server
    saml: SamlWebIdP
    oidc: IssuerServer
    oidc_arn: str

    @property
    def url(self) -> str:
        return self.server.url

    def http(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, follow_redirects=False, timeout=10)

    def saml_response(self, *, roles: list[tuple[str, str]] | None = None, **kw: Any) -> str:
        acs = f"{self.url}/saml"
        return self.saml.idp.response(recipient=acs, audience=acs, roles=roles or self.saml.roles,
                                      session_name="alice", name_id="alice@example.test", **kw)

    def stop(self) -> None:
        self.saml.stop()
        self.oidc.stop()
        stop_server(self.server)


def start(tmp_dir: str) -> SsoEnv:
    redis.Redis.from_url(SSO_REDIS).flushdb()
    server = start_server(tmp_dir, redis_url=SSO_REDIS)
    iam = client(server, "iam", ROOT_AKID, ROOT_SECRET)
    acs = f"{server.url}/saml"
    saml = SamlWebIdP(acs_url=acs, audience=acs, roles=[(role_arn(n), PROVIDER_ARN) for n in
                                                        ("sso-admin", "sso-reader", "sso-locked")]).start()
    iam.create_saml_provider(Name=PROVIDER, SAMLMetadataDocument=saml.metadata())
    saml_trust = {"Effect": "Allow", "Principal": {"Federated": PROVIDER_ARN},
                  "Action": ["sts:AssumeRoleWithSAML", "sts:TagSession"],
                  "Condition": {"StringEquals": {"saml:aud": acs}}}
    descriptions = {"sso-admin": "Administrators of the platform team", "sso-reader": "Read-only access to IAM"}
    for name in ("sso-admin", "sso-reader"):
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17",
                                                                             "Statement": [saml_trust]}),
                        Description=descriptions[name], MaxSessionDuration=43200 if name == "sso-admin" else 3600)
        iam.put_role_policy(RoleName=name, PolicyName="read", PolicyDocument=READ)
    locked = dict(saml_trust, Condition={"StringEquals": {"saml:aud": "https://elsewhere.example/saml"}})
    iam.create_role(RoleName="sso-locked", Description="Break-glass access (another audience only)",
                    AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [locked]}))

    oidc = IssuerServer().start()
    oidc.enable_code_flow(client_secret=CLIENT_SECRET, redirect_uri=f"{server.url}/sso/oidc/callback",
                          sub="demo-alice", claims={"email": "alice@corp.example", "preferred_username": "alice"})
    oidc_arn = iam.create_open_id_connect_provider(Url=oidc.url, ClientIDList=["tessera-demo"])[
        "OpenIDConnectProviderArn"]
    prefix = oidc.url.split("://", 1)[1]
    for name, sub in (("oidc-dev", "demo-alice"), ("oidc-other", "someone-else")):
        stmt = {"Effect": "Allow", "Principal": {"Federated": oidc_arn}, "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {"StringEquals": {f"{prefix}:aud": "tessera-demo", f"{prefix}:sub": sub}}}
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17",
                                                                             "Statement": [stmt]}))
        iam.put_role_policy(RoleName=name, PolicyName="read", PolicyDocument=READ)
    secret_file = os.path.join(tmp_dir, "client-secret")
    with open(secret_file, "w", encoding="utf-8") as fh:
        fh.write(CLIENT_SECRET + "\n")
    done = subprocess.run([sys.executable, "-m", "app", "sso", "add-oidc-client", "--name", "corp", "--provider-url",
                           oidc.url, "--client-id", "tessera-demo", "--client-secret-file", secret_file, "--label",
                           "Corp OpenID", "--redirect-uri", f"{server.url}/sso/oidc/callback"], env=server.env, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    return SsoEnv(server, saml, oidc, oidc_arn)


def cookie_header(response: httpx.Response) -> str:
    """`name=value` of the sign-in cookie a response sets."""
    for value in response.headers.get_list("set-cookie"):
        if value.startswith("tessera_sso="):
            return value.split(";", 1)[0]
    raise AssertionError(f"no sign-in cookie in {response.headers.get_list('set-cookie')}")


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, "no CSRF token in the page"
    return found.group(1)


def authn_request_id(location: str) -> str:
    """The ID of the AuthnRequest in an HTTP-Redirect binding URL."""
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(location).query))
    xml = zlib.decompress(base64.b64decode(query["SAMLRequest"]), -15).decode()
    found = re.search(r' ID="([^"]+)"', xml)
    assert found
    return found.group(1)


def exports(text: str) -> dict[str, str]:
    """The `export NAME=value` lines of the credentials page (its text, or its HTML)."""
    return dict(re.findall(r"export (AWS_[A-Z_]+)=([^\s<]+)", text))
