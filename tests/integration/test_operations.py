"""Operations: health, readiness, metrics, fail-fast start, ServiceUnavailable while Redis is down."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time

import httpx
import pytest
from botocore.exceptions import ClientError

from .conftest import REDIS_URL, ROOT_AKID, ROOT_SECRET, client, free_port, start_server
from .redis_process import RedisProcess


def test_healthz_readyz_metrics(server, root_sts):
    assert httpx.get(server.url + "/healthz").status_code == 200
    assert httpx.get(server.url + "/readyz").status_code == 200
    root_sts.get_caller_identity()
    text = httpx.get(server.url + "/metrics").text
    assert re.search(r'tessera_requests_total\{action="GetCallerIdentity",outcome="success"\} [1-9]', text)
    assert "tessera_request_duration_seconds_bucket" in text


def test_serve_refuses_without_redis(tmp_path):
    port = free_port()
    env = dict(os.environ, TESSERA_REDIS_URL=f"redis://127.0.0.1:{free_port()}/0", TESSERA_MASTER_KEY="a2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2s=")
    out = subprocess.run([sys.executable, "-m", "app", "serve", "--port", str(port)], env=env, capture_output=True, text=True, timeout=30)
    assert out.returncode != 0
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Redis" in lines[0]


def test_serve_refuses_bad_settings():
    env = {k: v for k, v in os.environ.items() if not k.startswith("TESSERA_")}
    env["TESSERA_REDIS_URL"] = REDIS_URL
    out = subprocess.run([sys.executable, "-m", "app", "serve"], env=env, capture_output=True, text=True, timeout=30)
    assert out.returncode != 0 and "TESSERA_MASTER_KEY" in out.stderr


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs the redis-server binary")
def test_service_unavailable_while_redis_down_and_back_when_it_returns(tmp_path):
    redis_proc = RedisProcess(str(tmp_path / "redis"))
    try:
        srv = start_server(str(tmp_path), redis_url=redis_proc.url)
        try:
            sts = client(srv, "sts", ROOT_AKID, ROOT_SECRET, retries={"total_max_attempts": 1})
            assert sts.get_caller_identity()["Account"]
            redis_proc.stop()
            with pytest.raises(ClientError) as exc:
                sts.get_session_token()
            assert exc.value.response["Error"]["Code"] == "ServiceUnavailable"
            assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
            assert httpx.get(srv.url + "/readyz").status_code == 503
            assert httpx.get(srv.url + "/healthz").status_code == 200
            # Redis comes back (a restart with its data): the very next requests succeed,
            # on fresh connections, without a restart of Tessera
            redis_proc.start()
            assert sts.get_caller_identity()["Account"]
            assert sts.get_session_token()["Credentials"]["AccessKeyId"].startswith("ASIA")
            assert httpx.get(srv.url + "/readyz").status_code == 200
        finally:
            srv.proc.terminate()
            srv.proc.wait(10)
    finally:
        redis_proc.close()


def test_tessera_dev_banner_commands_work(tmp_path):
    """The README's first command: `tessera dev` prints credentials that work at once."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TESSERA_")}
    proc = subprocess.Popen([sys.executable, "-m", "app", "dev", "--port", str(port)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        lines: list[str] = []
        deadline = time.time() + 30
        assert proc.stdout is not None
        while time.time() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if "curl" in line and "healthz" in line:
                break
        text = "".join(lines)
        m = re.search(r"admin user\s+(\S+)\s+/\s+(\S+)", text)
        assert m, text
        url = f"http://127.0.0.1:{port}"
        for _ in range(50):
            try:
                if httpx.get(url + "/readyz").status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        import boto3

        sts = boto3.client("sts", endpoint_url=url, region_name="us-east-1", aws_access_key_id=m.group(1), aws_secret_access_key=m.group(2))
        assert sts.get_caller_identity()["Arn"].endswith(":user/admin")
        role = re.search(r"demo role\s+(\S+)", text).group(1)  # type: ignore[union-attr]
        creds = sts.assume_role(RoleArn=role, RoleSessionName="me")["Credentials"]
        assumed = boto3.client("iam", endpoint_url=url, region_name="us-east-1", aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"], aws_session_token=creds["SessionToken"])
        assert any(u["UserName"] == "admin" for u in assumed.list_users()["Users"])
    finally:
        proc.terminate()
        proc.wait(10)
