"""The real server (`tessera serve`, uvicorn on a free port) on a real Redis, for boto3 tests."""
from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import boto3
import httpx
import pytest
import redis
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.redis_target import redis_url

REDIS_URL = os.environ.get("TESSERA_TEST_REDIS_URL", redis_url(11))
ACCOUNT = "123456789012"
ROOT_AKID = "AKIAROOTTESTKEY00001"
ROOT_SECRET = "rootSecretKeyForIntegrationTests0000000A"
REGION = "eu-west-1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    url: str
    env: dict[str, str]
    proc: subprocess.Popen[bytes]
    log_path: str

    def log(self) -> str:
        with open(self.log_path, encoding="utf-8", errors="replace") as fh:
            return fh.read()


def start_server(tmp_dir: str, *, redis_url: str = REDIS_URL, extra_env: dict[str, str] | None = None) -> Server:
    port = free_port()
    env = dict(os.environ)
    env.update(
        {
            "TESSERA_REDIS_URL": redis_url,
            "TESSERA_ACCOUNT_ID": ACCOUNT,
            "TESSERA_ROOT_ACCESS_KEY_ID": ROOT_AKID,
            "TESSERA_ROOT_SECRET_ACCESS_KEY": ROOT_SECRET,
            "TESSERA_MASTER_KEY": base64.b64encode(b"k" * 32).decode(),
        }
    )
    env.update(extra_env or {})
    log_path = os.path.join(tmp_dir, f"server-{port}.log")
    log = open(log_path, "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "app", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 30
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"tessera serve exited {proc.returncode}:\n{open(log_path).read()}")
        try:
            if httpx.get(f"{url}/readyz", timeout=0.5).status_code == 200:
                return Server(url, env, proc, log_path)
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"tessera serve did not become ready:\n{open(log_path).read()}")


def stop_server(srv: Server) -> None:
    """SIGTERM, up to 10 s to exit, then SIGKILL."""
    srv.proc.terminate()
    try:
        srv.proc.wait(10)
    except subprocess.TimeoutExpired:
        srv.proc.kill()
        srv.proc.wait()


@contextmanager
def running_server(tmp_dir: str, *, redis_url: str = REDIS_URL, extra_env: dict[str, str] | None = None
                   ) -> Iterator[Server]:
    """`start_server(...)`, stopped (stop_server) at the end of the block."""
    srv = start_server(tmp_dir, redis_url=redis_url, extra_env=extra_env)
    try:
        yield srv
    finally:
        stop_server(srv)


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    redis.Redis.from_url(REDIS_URL).flushdb()
    with running_server(str(tmp_path_factory.mktemp("tessera"))) as srv:
        yield srv


def client(server: Server, service: str, akid: str, secret: str, token: str | None = None, **kw: Any) -> Any:
    return boto3.client(
        service,
        endpoint_url=server.url,
        region_name=REGION,
        aws_access_key_id=akid,
        aws_secret_access_key=secret,
        aws_session_token=token,
        config=Config(**({"retries": {"max_attempts": 1}} | kw)),  # retries={"total_max_attempts": 1}: no retry
    )


@pytest.fixture(scope="session")
def root_iam(server: Server) -> Any:
    return client(server, "iam", ROOT_AKID, ROOT_SECRET)


@pytest.fixture(scope="session")
def root_sts(server: Server) -> Any:
    return client(server, "sts", ROOT_AKID, ROOT_SECRET)


@pytest.fixture(scope="session")
def unchecked_iam(server: Server) -> Any:
    """The root's IAM client without boto3's own parameter checks: the server's checks answer."""
    return client(server, "iam", ROOT_AKID, ROOT_SECRET, parameter_validation=False)


def aws_error(exc: pytest.ExceptionInfo[Any]) -> tuple[str, str, int]:
    """(code, message, HTTP status) of a botocore ClientError."""
    e = exc.value.response
    return str(e["Error"]["Code"]), str(e["Error"]["Message"]), int(e["ResponseMetadata"]["HTTPStatusCode"])


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@dataclass
class Identity:
    name: str
    arn: str
    akid: str
    secret: str

    def client(self, server: Server, service: str) -> Any:
        return client(server, service, self.akid, self.secret)


def allow(actions: str | list[str], resource: str | list[str] = "*", **extra: Any) -> str:
    stmt: dict[str, Any] = {"Effect": "Allow", "Action": actions, "Resource": resource}
    stmt.update(extra)
    return json.dumps({"Version": "2012-10-17", "Statement": [stmt]})


@pytest.fixture
def make_user(root_iam: Any) -> Any:
    def make(policy: str | None = None, *, name: str | None = None, path: str = "/") -> Identity:
        user_name = name or unique("user")
        user = root_iam.create_user(UserName=user_name, Path=path)["User"]
        if policy is not None:
            root_iam.put_user_policy(UserName=user_name, PolicyName="p", PolicyDocument=policy)
        key = root_iam.create_access_key(UserName=user_name)["AccessKey"]
        return Identity(user_name, user["Arn"], key["AccessKeyId"], key["SecretAccessKey"])

    return make


def trust(principal: Any, actions: Any = "sts:AssumeRole", condition: dict[str, Any] | None = None) -> str:
    stmt: dict[str, Any] = {"Effect": "Allow", "Principal": principal, "Action": actions}
    if condition:
        stmt["Condition"] = condition
    return json.dumps({"Version": "2012-10-17", "Statement": [stmt]})


# ---- helpers of the federation tests (AssumeRoleWith*) ----
def code(exc: pytest.ExceptionInfo[Any]) -> str:
    return str(exc.value.response["Error"]["Code"])


def message(exc: pytest.ExceptionInfo[Any]) -> str:
    return str(exc.value.response["Error"]["Message"])


def session_client(server: Server, out: Any, service: str) -> Any:
    """A client with the credentials of an AssumeRole* result."""
    c = out["Credentials"]
    return client(server, service, c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"])


def seconds_left(out: Any) -> float:
    return float((out["Credentials"]["Expiration"] - datetime.now(timezone.utc)).total_seconds())


def audit_line(server: Server, request_id: str) -> dict[str, Any]:
    """The server's audit event of one request (the log is written asynchronously)."""
    deadline = time.time() + 5
    while time.time() < deadline:
        for text in server.log().splitlines():
            if request_id in text and '"audit"' in text:
                return dict(json.loads(text))
        time.sleep(0.05)
    raise AssertionError(f"no audit line for {request_id}")


def race(server: Server, call: Callable[[Any], Any], n: int = 10) -> list[str]:
    """`call(sts)` from `n` threads at once, each with its own STS client: sorted outcomes
    (`ok` or the error code)."""
    clients = [client(server, "sts", "AKIAUNUSEDUNUSED0000", "unused") for _ in range(n)]
    barrier = threading.Barrier(n)
    outcomes: list[str] = []

    def run(sts: Any) -> None:
        barrier.wait()
        try:
            call(sts)
            outcomes.append("ok")
        except ClientError as exc:
            outcomes.append(str(exc.response["Error"]["Code"]))

    threads = [threading.Thread(target=run, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sorted(outcomes)

