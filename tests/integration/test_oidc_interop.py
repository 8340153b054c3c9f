"""Interoperability: an OpenID provider nobody on this team wrote (panva's `oidc-provider` from
npm, OpenID Certified) runs on loopback inside the test (tests/interop/oidc-provider/issuer.mjs,
its own fresh keys). The test signs in through the provider's own interaction pages like a
browser (authorization code flow), redeems the code for a real ID token at its token endpoint,
registers the provider through CreateOpenIDConnectProvider, and gets credentials for that token
through unmodified boto3: Tessera discovers the provider's keys from its discovery document.

The npm packages are installed by the test itself (`npm ci` from the committed lockfile) when
`node_modules/` is missing; the test is skipped only when Node.js or npm is not installed.
"""
from __future__ import annotations

import base64
import json
import re
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
import pytest
from botocore.exceptions import ClientError

from .conftest import ACCOUNT, client, code, session_client, unique

HERE = Path(__file__).resolve().parents[1] / "interop" / "oidc-provider"

if shutil.which("node") is None or shutil.which("npm") is None:
    pytest.skip("Node.js and npm are needed to run the npm package oidc-provider", allow_module_level=True)


def node_major() -> int:
    out = subprocess.run(["node", "--version"], capture_output=True, text=True, timeout=30)
    return int(out.stdout.strip().lstrip("v").split(".")[0])


@pytest.fixture(scope="module")
def provider_process() -> Iterator[dict[str, Any]]:
    if node_major() < 20:
        pytest.skip("oidc-provider 9 needs Node.js 20.19 or later")
    if not (HERE / "node_modules" / "oidc-provider" / "package.json").is_file():
        done = subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=HERE,
                              capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, f"npm ci failed:\n{done.stdout}\n{done.stderr}"
    proc = subprocess.Popen(["node", "issuer.mjs"], cwd=HERE, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line, "issuer.mjs printed nothing"
        yield json.loads(line)
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        proc.terminate()
        proc.wait(10)


def sign_in(op: dict[str, Any], client_id: str, login: str) -> str:
    """The authorization code flow through oidc-provider's own sign-in and consent pages, then
    the code redeemed at its token endpoint: the ID token it issues."""
    issuer, redirect = op["issuer"], op["redirect_uri"]
    secret = next(c["client_secret"] for c in op["clients"] if c["client_id"] == client_id)
    with httpx.Client(follow_redirects=False, timeout=10) as browser:
        answer = browser.get(f"{issuer}/auth", params={
            "client_id": client_id, "response_type": "code", "scope": "openid email", "redirect_uri": redirect,
            "state": secrets.token_urlsafe(8), "nonce": secrets.token_urlsafe(8)})
        for _ in range(12):
            if answer.is_redirect:
                location = urljoin(str(answer.url), answer.headers["location"])
                if location.startswith(redirect):
                    auth_code = parse_qs(urlsplit(location).query)["code"][0]
                    break
                answer = browser.get(location)
                continue
            assert answer.status_code == 200, answer.text[:500]
            action = re.search(r'<form[^>]*action="([^"]+)"', answer.text)
            prompt = re.search(r'name="prompt" value="(\w+)"', answer.text)
            assert action and prompt, answer.text[:500]
            form = {"prompt": prompt.group(1)}
            if prompt.group(1) == "login":
                form.update(login=login, password="any password")
            answer = browser.post(urljoin(str(answer.url), action.group(1)), data=form)
        else:
            raise AssertionError("the flow did not reach the redirect URI")
        tokens = browser.post(f"{issuer}/token", auth=(client_id, secret), data={
            "grant_type": "authorization_code", "code": auth_code, "redirect_uri": redirect})
        assert tokens.status_code == 200, tokens.text
        return str(tokens.json()["id_token"])


@pytest.fixture(scope="module")
def registered(root_iam: Any, provider_process: dict[str, Any]) -> dict[str, Any]:
    client_ids = [c["client_id"] for c in provider_process["clients"]]
    arn = root_iam.create_open_id_connect_provider(Url=provider_process["issuer"],
                                                   ClientIDList=client_ids)["OpenIDConnectProviderArn"]
    return {**provider_process, "arn": arn, "prefix": provider_process["issuer"].split("://", 1)[1]}


@pytest.mark.parametrize("alg", ["RS256", "PS256", "ES256"])
def test_a_real_id_token_of_oidc_provider_becomes_credentials(server, root_iam, registered, alg) -> None:
    client_id = f"tessera-{alg.lower()}"
    prefix = registered["prefix"]
    trust = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Federated": registered["arn"]}, "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": {f"{prefix}:aud": client_id, f"{prefix}:sub": "alice"}}}]})
    role = root_iam.create_role(RoleName=unique("interop"), AssumeRolePolicyDocument=trust)["Role"]
    token = sign_in(registered, client_id, "alice")
    header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))  # what the provider signed with
    assert header["alg"] == alg
    sts = client(server, "sts", "AKIAUNUSEDUNUSED0000", "unused")
    out = sts.assume_role_with_web_identity(RoleArn=role["Arn"], RoleSessionName="interop", WebIdentityToken=token)
    assert out["SubjectFromWebIdentityToken"] == "alice" and out["Audience"] == client_id
    assert out["Provider"] == registered["arn"] == f"arn:aws:iam::{ACCOUNT}:oidc-provider/{prefix}"
    assert session_client(server, out, "sts").get_caller_identity()["Arn"].endswith(f"/{role['RoleName']}/interop")
    with pytest.raises(ClientError) as exc:  # another user of the same provider: the trust policy says no
        sts.assume_role_with_web_identity(RoleArn=role["Arn"], RoleSessionName="interop",
                                          WebIdentityToken=sign_in(registered, client_id, "mallory"))
    assert code(exc) == "AccessDenied"
