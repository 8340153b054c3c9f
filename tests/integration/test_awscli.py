"""Smoke test with the AWS CLI: create a role, assume it, use the returned credentials."""
from __future__ import annotations

import json
import os
import subprocess
import sys

from .conftest import ACCOUNT, REGION, ROOT_AKID, ROOT_SECRET, trust, unique


def aws(server, env: dict[str, str], *args: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-m", "awscli", "--endpoint-url", server.url, "--output", "json", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout) if out.stdout.strip() else {}


def test_cli_assume_role_and_profile(server, tmp_path):
    base = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    base.update({"AWS_DEFAULT_REGION": REGION, "AWS_CONFIG_FILE": str(tmp_path / "config"), "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "credentials")})
    root = dict(base, AWS_ACCESS_KEY_ID=ROOT_AKID, AWS_SECRET_ACCESS_KEY=ROOT_SECRET)
    user = unique("cli")
    aws(server, root, "iam", "create-user", "--user-name", user)
    key = aws(server, root, "iam", "create-access-key", "--user-name", user)["AccessKey"]
    role = unique("clirole")
    arn = aws(server, root, "iam", "create-role", "--role-name", role, "--assume-role-policy-document", trust({"AWS": f"arn:aws:iam::{ACCOUNT}:user/{user}"}))["Role"]["Arn"]
    as_user = dict(base, AWS_ACCESS_KEY_ID=key["AccessKeyId"], AWS_SECRET_ACCESS_KEY=key["SecretAccessKey"])
    creds = aws(server, as_user, "sts", "assume-role", "--role-arn", arn, "--role-session-name", "cli")["Credentials"]
    (tmp_path / "credentials").write_text(
        "[assumed]\n"
        f"aws_access_key_id = {creds['AccessKeyId']}\n"
        f"aws_secret_access_key = {creds['SecretAccessKey']}\n"
        f"aws_session_token = {creds['SessionToken']}\n"
    )
    ident = aws(server, base, "--profile", "assumed", "sts", "get-caller-identity")
    assert ident["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/{role}/cli"
