"""The credential report through unmodified boto3 against the real server and Redis: the report
parsed with Python's csv module and checked cell by cell (root's row, a user with password, MFA,
two used keys and two certificates, a bare user), the generation states, the not-present error,
authorization.

The module runs its own server on its own Redis database: the report is account-wide and is
regenerated at most every four hours, so no other module's report (or users) may get in."""
from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
import redis
from botocore.exceptions import ClientError

from app.core import totp
from tests.redis_target import redis_url

from .conftest import ACCOUNT, ROOT_AKID, ROOT_SECRET, Server, allow, aws_error, client, running_server, unique
from .test_iam_signing import certificate

URL = redis_url(8)
ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00")
HEADER = ("user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,"
          "password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,"
          "access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service,"
          "access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,"
          "access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,"
          "cert_1_last_rotated,cert_2_active,cert_2_last_rotated")


@pytest.fixture(scope="module")
def own_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    redis.Redis.from_url(URL).flushdb()
    with running_server(str(tmp_path_factory.mktemp("credreport")), redis_url=URL) as srv:
        yield srv


@pytest.fixture(scope="module")
def iam(own_server: Server) -> Any:
    return client(own_server, "iam", ROOT_AKID, ROOT_SECRET)


def iso(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).replace(microsecond=0).isoformat()


def close(cell: str, when: datetime, slack: float = 5) -> bool:
    return bool(ISO.fullmatch(cell)) and abs(
        (datetime.fromisoformat(cell) - when).total_seconds()) <= slack


def test_report_not_present_then_states(iam: Any) -> None:
    with pytest.raises(ClientError) as e:
        iam.get_credential_report()
    assert aws_error(e)[0] == "ReportNotPresent" and aws_error(e)[2] == 410


def test_credential_report_cell_by_cell(iam: Any, own_server: Server) -> None:
    iam.update_account_password_policy(MinimumPasswordLength=8, MaxPasswordAge=90)
    full, bare = "alice-" + unique("u"), "bob-" + unique("u")
    iam.create_user(UserName=full)
    iam.create_user(UserName=bare)
    iam.create_login_profile(UserName=full, Password="Correct-Horse-9")
    serial, seed = (lambda d: (d["SerialNumber"], d["Base32StringSeed"].decode()))(
        iam.create_virtual_mfa_device(VirtualMFADeviceName=unique("phone"))["VirtualMFADevice"])
    step = totp.step_of(time.time())
    iam.enable_mfa_device(UserName=full, SerialNumber=serial,
                          AuthenticationCode1=totp.code_at(seed, step - 1),
                          AuthenticationCode2=totp.code_at(seed, step))
    k1 = iam.create_access_key(UserName=full)["AccessKey"]
    k2 = iam.create_access_key(UserName=full)["AccessKey"]
    iam.update_access_key(UserName=full, AccessKeyId=k2["AccessKeyId"], Status="Inactive")
    client(own_server, "sts", k1["AccessKeyId"], k1["SecretAccessKey"]).get_caller_identity()
    c1 = iam.upload_signing_certificate(UserName=full, CertificateBody=certificate())["Certificate"]
    c2 = iam.upload_signing_certificate(UserName=full, CertificateBody=certificate())["Certificate"]
    iam.update_signing_certificate(UserName=full, CertificateId=c2["CertificateId"], Status="Inactive")
    profile = iam.get_login_profile(UserName=full)["LoginProfile"]
    users = {u["UserName"]: u for u in iam.list_users()["Users"]}
    root_user = iam.get_user()["User"]
    used = iam.get_access_key_last_used(AccessKeyId=k1["AccessKeyId"])["AccessKeyLastUsed"]

    out = iam.generate_credential_report()
    assert (out["State"], out["Description"]) == (
        "STARTED", "No report exists. Starting a new report generation task")
    assert iam.generate_credential_report()["State"] == "COMPLETE"
    report = iam.get_credential_report()
    assert report["ReportFormat"] == "text/csv"
    assert abs((report["GeneratedTime"] - datetime.now(timezone.utc)).total_seconds()) < 30
    text = report["Content"].decode()
    assert text.splitlines()[0] == HEADER
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["user"] for r in rows] == ["<root_account>", full, bare]
    root, a, b = rows

    root_key = iam.list_access_keys()["AccessKeyMetadata"][0]
    assert root == {
        "user": "<root_account>", "arn": f"arn:aws:iam::{ACCOUNT}:root",
        "user_creation_time": iso(root_user["CreateDate"]),
        "password_enabled": "not_supported", "password_last_used": "no_information",
        "password_last_changed": "not_supported", "password_next_rotation": "not_supported",
        "mfa_active": "false",
        "access_key_1_active": "true", "access_key_1_last_rotated": iso(root_key["CreateDate"]),
        **{k: root[k] for k in ("access_key_1_last_used_date", "access_key_1_last_used_region",
                                "access_key_1_last_used_service")},
        "access_key_2_active": "false", "access_key_2_last_rotated": "N/A",
        "access_key_2_last_used_date": "N/A", "access_key_2_last_used_region": "N/A",
        "access_key_2_last_used_service": "N/A",
        "cert_1_active": "false", "cert_1_last_rotated": "N/A",
        "cert_2_active": "false", "cert_2_last_rotated": "N/A"}
    # the root's key signed every call above
    assert ISO.fullmatch(root["access_key_1_last_used_date"])
    assert root["access_key_1_last_used_service"] == "iam"

    changed = profile["CreateDate"]
    assert a == {
        "user": full, "arn": users[full]["Arn"], "user_creation_time": iso(users[full]["CreateDate"]),
        "password_enabled": "true", "password_last_used": "no_information",
        "password_last_changed": iso(changed),
        "password_next_rotation": iso(changed.replace(microsecond=0) + timedelta(days=90)),
        "mfa_active": "true",
        "access_key_1_active": "true", "access_key_1_last_rotated": iso(k1["CreateDate"]),
        "access_key_1_last_used_date": iso(used["LastUsedDate"]),
        "access_key_1_last_used_region": used["Region"],
        "access_key_1_last_used_service": used["ServiceName"],
        "access_key_2_active": "false", "access_key_2_last_rotated": iso(k2["CreateDate"]),
        "access_key_2_last_used_date": "N/A", "access_key_2_last_used_region": "N/A",
        "access_key_2_last_used_service": "N/A",
        "cert_1_active": "true", "cert_1_last_rotated": iso(c1["UploadDate"]),
        "cert_2_active": "false", "cert_2_last_rotated": iso(c2["UploadDate"])}
    assert used["ServiceName"] == "sts" and close(a["access_key_1_last_used_date"], datetime.now(timezone.utc), 60)

    assert b == {
        "user": bare, "arn": users[bare]["Arn"], "user_creation_time": iso(users[bare]["CreateDate"]),
        "password_enabled": "false", "password_last_used": "N/A", "password_last_changed": "N/A",
        "password_next_rotation": "N/A", "mfa_active": "false",
        "access_key_1_active": "false", "access_key_1_last_rotated": "N/A",
        "access_key_1_last_used_date": "N/A", "access_key_1_last_used_region": "N/A",
        "access_key_1_last_used_service": "N/A",
        "access_key_2_active": "false", "access_key_2_last_rotated": "N/A",
        "access_key_2_last_used_date": "N/A", "access_key_2_last_used_region": "N/A",
        "access_key_2_last_used_service": "N/A",
        "cert_1_active": "false", "cert_1_last_rotated": "N/A",
        "cert_2_active": "false", "cert_2_last_rotated": "N/A"}

    # a fresh report is not regenerated: a user created now is not in it yet
    iam.create_user(UserName=unique("late"))
    assert iam.generate_credential_report()["State"] == "COMPLETE"
    assert len(list(csv.DictReader(io.StringIO(iam.get_credential_report()["Content"].decode())))) == 3


def test_credential_report_authorization(iam: Any, own_server: Server) -> None:
    name = unique("auditor")
    iam.create_user(UserName=name)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    user = client(own_server, "iam", key["AccessKeyId"], key["SecretAccessKey"])
    for call in (user.generate_credential_report, user.get_credential_report):
        with pytest.raises(ClientError) as e:
            call()
        assert aws_error(e)[0] == "AccessDenied"
    iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=allow(
        ["iam:GenerateCredentialReport", "iam:GetCredentialReport"]))
    deadline = time.time() + 5
    while True:  # the policy may take a moment past any cached decision
        try:
            assert user.generate_credential_report()["State"] in ("STARTED", "COMPLETE")
            break
        except ClientError:
            if time.time() > deadline:
                raise
            time.sleep(0.2)
    assert user.get_credential_report()["ReportFormat"] == "text/csv"
    iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "iam:GenerateCredentialReport", "Resource": "*"}]}))
    with pytest.raises(ClientError) as e:
        user.get_credential_report()
    assert aws_error(e)[0] == "AccessDenied"


def test_report_credentials_command(iam: Any, own_server: Server) -> None:
    import sys

    name = unique("cli")
    iam.create_user(UserName=name)
    out = subprocess.run([sys.executable, "-m", "app", "report", "credentials"], env=own_server.env,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].split() == HEADER.split(",")
    assert lines[1].split()[:2] == ["<root_account>", f"arn:aws:iam::{ACCOUNT}:root"]
    [mine] = [line.split() for line in lines if line.startswith(name + " ")]
    assert mine[:4] == [name, f"arn:aws:iam::{ACCOUNT}:user/{name}", mine[2], "false"] and ISO.fullmatch(mine[2])
    raw = subprocess.run([sys.executable, "-m", "app", "report", "credentials", "--csv"], env=own_server.env,
                         capture_output=True, text=True, timeout=60)
    rows = list(csv.DictReader(io.StringIO(raw.stdout)))
    assert rows[0]["user"] == "<root_account>" and name in [r["user"] for r in rows]
