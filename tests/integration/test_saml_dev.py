"""`tessera dev` registers the demo SAML IdP and a role trusting it, and prints one command that
federates end to end: run here exactly as printed (the AWS CLI of the `test` extras)."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time

import httpx
import pytest

from .conftest import free_port


@pytest.mark.skipif(shutil.which("aws") is None, reason="the AWS CLI (awscli, in the `test` extras)")
def test_tessera_dev_prints_a_saml_command_that_federates(tmp_path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TESSERA_", "AWS_"))}
    env["AWS_CONFIG_FILE"] = env["AWS_SHARED_CREDENTIALS_FILE"] = str(tmp_path / "none")  # no credentials at all
    proc = subprocess.Popen([sys.executable, "-m", "app", "dev", "--port", str(port)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert proc.stdout is not None
        command, seen, deadline = None, [], time.time() + 30
        while time.time() < deadline and command is None:
            line = proc.stdout.readline()
            if not line:
                break
            seen.append(line)
            if "assume-role-with-saml" in line:
                command = line.strip()
        assert command, "".join(seen)
        role = re.search(r"--role-arn (\S+)", command).group(1)  # type: ignore[union-attr]
        url = f"http://127.0.0.1:{port}"
        for _ in range(50):
            try:
                if httpx.get(url + "/readyz").status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        out = subprocess.run(["bash", "-c", command], env=env, capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        answer = json.loads(out.stdout)
        assert answer["AssumedRoleUser"]["Arn"].endswith(f":assumed-role/{role.rsplit('/', 1)[1]}/alice")
        assert answer["Credentials"]["AccessKeyId"].startswith("ASIA")
        assert answer["Audience"] == f"{url}/saml"
    finally:
        proc.terminate()
        proc.wait(10)
