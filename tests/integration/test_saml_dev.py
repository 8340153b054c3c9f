"""`tessera dev` registers the demo SAML IdP and the demo OpenID issuer, a role trusting each, and
prints one command per IdP that federates end to end: run here exactly as printed (the AWS CLI
of the `test` extras)."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import httpx
import pytest
from botocore.exceptions import ClientError

from .conftest import free_port

pytestmark = pytest.mark.skipif(shutil.which("aws") is None, reason="the AWS CLI (awscli, in the `test` extras)")


@dataclass
class Dev:
    url: str
    env: dict[str, str]
    commands: dict[str, str]  # aws sts subcommand -> the printed command line
    banner: str

    def run(self, subcommand: str) -> Any:
        command = self.commands.get(subcommand)
        assert command, self.banner
        out = subprocess.run(["bash", "-c", command], env=self.env, capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout)


@pytest.fixture(scope="module")
def dev(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dev]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TESSERA_", "AWS_"))}
    none = str(tmp_path_factory.mktemp("aws") / "none")
    env["AWS_CONFIG_FILE"] = env["AWS_SHARED_CREDENTIALS_FILE"] = none  # no credentials at all
    proc = subprocess.Popen([sys.executable, "-m", "app", "dev", "--port", str(port)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert proc.stdout is not None
        commands: dict[str, str] = {}
        seen: list[str] = []
        deadline = time.time() + 30
        while time.time() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            seen.append(line)
            if "tessera login --url" in line:  # the banner's last line
                break
            found = re.search(r"sts (assume-role-with-\S+)", line)
            if found:
                commands[found.group(1)] = line.strip()
        url = f"http://127.0.0.1:{port}"
        for _ in range(50):
            try:
                if httpx.get(url + "/readyz").status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        yield Dev(url, env, commands, "".join(seen))
    finally:
        proc.terminate()
        proc.wait(10)


def role_name(command: str) -> str:
    return re.search(r"--role-arn \S+/(\S+)", command).group(1)  # type: ignore[union-attr]


def test_tessera_dev_prints_a_saml_command_that_federates(dev: Dev) -> None:
    answer = dev.run("assume-role-with-saml")
    role = role_name(dev.commands["assume-role-with-saml"])
    assert answer["AssumedRoleUser"]["Arn"].endswith(f":assumed-role/{role}/alice")
    assert answer["Credentials"]["AccessKeyId"].startswith("ASIA")
    assert answer["Audience"] == f"{dev.url}/saml"


def test_tessera_dev_prints_a_web_identity_command_that_federates(dev: Dev) -> None:
    answer = dev.run("assume-role-with-web-identity")
    role = role_name(dev.commands["assume-role-with-web-identity"])
    assert answer["AssumedRoleUser"]["Arn"].endswith(f":assumed-role/{role}/demo")
    assert answer["Credentials"]["AccessKeyId"].startswith("ASIA")
    assert answer["SubjectFromWebIdentityToken"] == "demo-user" and answer["Audience"] == "tessera-demo"
    assert re.fullmatch(r"arn:aws:iam::\d{12}:oidc-provider/127\.0\.0\.1:\d+", answer["Provider"])


def test_tessera_dev_prints_the_admin_users_sign_in_password(dev: Dev) -> None:
    """The banner's IAM-user sign-in line names a password that is the admin user's: ChangePassword
    with it as the old password succeeds (a wrong one is refused), signed with the admin's key."""
    found = re.search(r"IAM user admin / (\S+):\s+(\S+)", dev.banner)
    assert found, dev.banner
    password, url = found.groups()
    assert url == f"{dev.url}/sso/iam"
    akid, secret = re.search(r"admin user\s+(\S+)\s+/\s+(\S+)", dev.banner).groups()  # type: ignore[union-attr]
    iam = boto3.client("iam", endpoint_url=dev.url, region_name="us-east-1", aws_access_key_id=akid,
                       aws_secret_access_key=secret)
    with pytest.raises(ClientError) as wrong:
        iam.change_password(OldPassword=password + "x", NewPassword="Another-password-42")
    assert wrong.value.response["Error"]["Code"] == "AccessDenied"
    iam.change_password(OldPassword=password, NewPassword="Another-password-42")
    assert httpx.get(url).status_code == 200
