"""The two servers under test, pinned to one core, and the identities the runs use.

Both are provisioned the same way through boto3: an IAM user with a long-term key and an
inline policy allowing sts:AssumeRole on a role whose trust policy names that user; the
user assumes the role once for the session credentials GetCallerIdentity is signed with.
"""
from __future__ import annotations

import base64
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import boto3
from botocore.config import Config

REGION = "us-east-1"
USER, ROLE = "bench-user", "bench-role"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def exit_on_sigterm() -> None:
    """Turn SIGTERM into SystemExit, so that a benchmark's `finally` stops what it started."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))


def cpu_seconds(pid: int) -> float:
    """The CPU time (utime + stime, /proc/PID/stat) process `pid` has used, in seconds."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def moto_command(port: int) -> list[str]:
    exe = shutil.which("moto_server")
    base = [exe] if exe else [sys.executable, "-m", "moto.server"]
    return [*base, "-H", "127.0.0.1", "-p", str(port)]


def tessera_command(port: int) -> list[str]:
    exe = shutil.which("tessera")
    base = [exe] if exe else [sys.executable, "-m", "app"]
    return [*base, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]


def tessera_env(redis_url: str, extra_env: dict[str, str] | None = None) -> dict[str, str]:
    """The settings of a benchmarked `tessera serve` on `redis_url`: a fresh master key and root
    key pair (see `root_of`); `extra_env` adds or overrides settings."""
    root_key = "AKIA" + "".join(secrets.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") for _ in range(16))
    return {"TESSERA_REDIS_URL": redis_url,
            "TESSERA_MASTER_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
            "TESSERA_ROOT_ACCESS_KEY_ID": root_key,
            "TESSERA_ROOT_SECRET_ACCESS_KEY": base64.b64encode(secrets.token_bytes(30)).decode(),
            **(extra_env or {})}


def root_of(env: dict[str, str]) -> tuple[str, str]:
    """The root access key id and secret of a server started with `env` (tessera_env)."""
    return env["TESSERA_ROOT_ACCESS_KEY_ID"], env["TESSERA_ROOT_SECRET_ACCESS_KEY"]


class Server:
    """A child process pinned with `taskset -c CPU`, in its own process group."""

    def __init__(self, name: str, cmd: list[str], *, cpu: int, log: Path,
                 env: dict[str, str] | None = None) -> None:
        self.name, self.log = name, log
        self._out = log.open("wb")
        self.proc = subprocess.Popen(["taskset", "-c", str(cpu), *cmd], stdout=self._out,
                                     stderr=subprocess.STDOUT, env={**os.environ, **(env or {})},
                                     start_new_session=True)

    def wait_ready(self, url: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited ({self.proc.returncode}); "
                                   f"log tail:\n{self.tail()}")
            try:
                with urllib.request.urlopen(url, timeout=2) as resp:
                    if resp.status < 500:
                        return
            except urllib.error.HTTPError as exc:
                if exc.code < 500:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{self.name} not ready after {timeout:.0f}s; log tail:\n{self.tail()}")

    def tail(self, lines: int = 15) -> str:
        self._out.flush()
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)  # our own child's group, by id
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self._out.close()


@dataclass(frozen=True, slots=True)
class Identity:
    """What the runs sign with: the user's long-term key and one role session."""

    endpoint: str
    host: str
    account: str
    user_key: str
    user_secret: str
    role_arn: str
    role_id: str
    session_key: str
    session_secret: str
    session_token: str


def _client(service: str, endpoint: str, key: str, secret: str, token: str | None = None):
    return boto3.client(service, endpoint_url=endpoint, region_name=REGION,
                        aws_access_key_id=key, aws_secret_access_key=secret,
                        aws_session_token=token,
                        config=Config(retries={"max_attempts": 1}))


def provision(endpoint: str, root_key: str, root_secret: str) -> Identity:
    iam = _client("iam", endpoint, root_key, root_secret)
    user = iam.create_user(UserName=USER)["User"]
    key = iam.create_access_key(UserName=USER)["AccessKey"]
    trust = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": user["Arn"]}, "Action": "sts:AssumeRole"}]}
    role = iam.create_role(RoleName=ROLE, AssumeRolePolicyDocument=json.dumps(trust),
                           MaxSessionDuration=43200)["Role"]
    allow = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": "sts:AssumeRole", "Resource": role["Arn"]}]}
    iam.put_user_policy(UserName=USER, PolicyName="assume-bench-role",
                        PolicyDocument=json.dumps(allow))
    account = role["Arn"].split(":")[4]
    host = endpoint.removeprefix("http://").rstrip("/")
    base = Identity(endpoint, host, account, key["AccessKeyId"], key["SecretAccessKey"],
                    role["Arn"], role["RoleId"], "", "", "")
    return fresh_session(base, "bench")


def fresh_session(ident: Identity, session_name: str) -> Identity:
    """Assume the role again (as the user) and return the identity with the new session."""
    sts = _client("sts", ident.endpoint, ident.user_key, ident.user_secret)
    creds = sts.assume_role(RoleArn=ident.role_arn, RoleSessionName=session_name,
                            DurationSeconds=3600)["Credentials"]
    return Identity(ident.endpoint, ident.host, ident.account, ident.user_key,
                    ident.user_secret, ident.role_arn, ident.role_id, creds["AccessKeyId"],
                    creds["SecretAccessKey"], creds["SessionToken"])
