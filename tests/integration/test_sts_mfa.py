"""MFA with STS, through unmodified boto3: a user enables a virtual device over the IAM API,
then presents SerialNumber + TokenCode to AssumeRole and GetSessionToken; trust and identity
policies that require MFA see `aws:MultiFactorAuthPresent` / `aws:MultiFactorAuthAge`."""
from __future__ import annotations

import time
from typing import Any

import pytest
from botocore.exceptions import ClientError

from app.core import totp

from .conftest import allow, client, trust, unique

MFA_FAILED = "MultiFactorAuthentication failed with invalid MFA one time pass code."
REQUIRE_MFA = {"Bool": {"aws:MultiFactorAuthPresent": "true"}}


def enable_device(root_iam: Any, user_name: str) -> tuple[str, str]:
    """A virtual device assigned to `user_name`; -> (serial number, seed). Enabling uses the
    codes of the two steps before now, so the current step's code is still unused."""
    device = root_iam.create_virtual_mfa_device(VirtualMFADeviceName=unique("phone"))["VirtualMFADevice"]
    seed = device["Base32StringSeed"].decode()
    step = totp.step_of(time.time())
    root_iam.enable_mfa_device(UserName=user_name, SerialNumber=device["SerialNumber"],
                               AuthenticationCode1=totp.code_at(seed, step - 2),
                               AuthenticationCode2=totp.code_at(seed, step - 1))
    return device["SerialNumber"], seed


def current_code(seed: str, ahead: int = 0) -> str:
    return totp.code_at(seed, totp.step_of(time.time()) + ahead)


def denied(call: Any) -> ClientError:
    with pytest.raises(ClientError) as exc:
        call()
    assert exc.value.response["Error"]["Code"] == "AccessDenied"
    return exc.value


def test_assume_role_that_requires_mfa(server, root_iam, make_user) -> None:
    alice = make_user(allow("sts:AssumeRole"))
    role = root_iam.create_role(RoleName=unique("mfa-role"), AssumeRolePolicyDocument=trust(
        {"AWS": alice.arn}, condition=REQUIRE_MFA))["Role"]
    serial, seed = enable_device(root_iam, alice.name)
    sts = alice.client(server, "sts")
    denied(lambda: sts.assume_role(RoleArn=role["Arn"], RoleSessionName="no-mfa"))
    creds = sts.assume_role(RoleArn=role["Arn"], RoleSessionName="with-mfa", SerialNumber=serial,
                            TokenCode=current_code(seed))["Credentials"]
    session = client(server, "sts", creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
    assert session.get_caller_identity()["Arn"].endswith(":assumed-role/" + role["RoleName"] + "/with-mfa")


def test_a_code_works_once_and_wrong_codes_fail(server, root_iam, make_user) -> None:
    alice = make_user(allow("sts:AssumeRole"))
    role = root_iam.create_role(RoleName=unique("mfa-role"), AssumeRolePolicyDocument=trust(
        {"AWS": alice.arn}))["Role"]
    serial, seed = enable_device(root_iam, alice.name)
    sts = alice.client(server, "sts")
    code = current_code(seed)
    sts.assume_role(RoleArn=role["Arn"], RoleSessionName="first", SerialNumber=serial, TokenCode=code)
    err = denied(lambda: sts.assume_role(RoleArn=role["Arn"], RoleSessionName="replay",
                                         SerialNumber=serial, TokenCode=code))
    assert err.response["Error"]["Message"] == MFA_FAILED
    wrong = f"{(int(current_code(seed, 1)) + 1) % 10**6:06d}"
    denied(lambda: sts.get_session_token(SerialNumber=serial, TokenCode=wrong))
    log = open(server.log_path).read()
    assert seed not in log and f'"TokenCode":"{code}"' not in log


def test_someone_elses_device_is_refused(server, root_iam, make_user) -> None:
    alice, bob = make_user(allow("sts:AssumeRole")), make_user(allow("sts:AssumeRole"))
    role = root_iam.create_role(RoleName=unique("mfa-role"), AssumeRolePolicyDocument=trust(
        {"AWS": bob.arn}))["Role"]
    serial, seed = enable_device(root_iam, alice.name)
    denied(lambda: bob.client(server, "sts").assume_role(
        RoleArn=role["Arn"], RoleSessionName="bob-session", SerialNumber=serial, TokenCode=current_code(seed)))


def test_get_session_token_with_mfa_opens_iam(server, root_iam, make_user) -> None:
    """Policies requiring MFA: the user's own key is refused, the MFA session is allowed; a
    GetSessionToken session without MFA cannot call IAM at all (as AWS)."""
    alice = make_user(allow("iam:ListUsers", Condition=REQUIRE_MFA))
    serial, seed = enable_device(root_iam, alice.name)
    denied(lambda: alice.client(server, "iam").list_users())
    plain = alice.client(server, "sts").get_session_token(DurationSeconds=900)["Credentials"]
    denied(lambda: client(server, "iam", plain["AccessKeyId"], plain["SecretAccessKey"],
                          plain["SessionToken"]).list_users())
    creds = alice.client(server, "sts").get_session_token(DurationSeconds=900, SerialNumber=serial,
                                                          TokenCode=current_code(seed))["Credentials"]
    iam = client(server, "iam", creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
    users = [u for page in iam.get_paginator("list_users").paginate() for u in page["Users"]]
    assert any(u["UserName"] == alice.name for u in users)  # paged: the shared server holds many users


def test_mfa_age_conditions(server, root_iam, make_user) -> None:
    young = {"NumericLessThan": {"aws:MultiFactorAuthAge": "3600"}}
    alice = make_user(allow("iam:GetUser", Condition=young))
    serial, seed = enable_device(root_iam, alice.name)
    creds = alice.client(server, "sts").get_session_token(DurationSeconds=900, SerialNumber=serial,
                                                          TokenCode=current_code(seed))["Credentials"]
    iam = client(server, "iam", creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
    assert iam.get_user(UserName=alice.name)["User"]["UserName"] == alice.name


def test_a_deactivated_device_no_longer_works(server, root_iam, make_user) -> None:
    alice = make_user(allow("sts:AssumeRole"))
    serial, seed = enable_device(root_iam, alice.name)
    root_iam.deactivate_mfa_device(UserName=alice.name, SerialNumber=serial)
    denied(lambda: alice.client(server, "sts").get_session_token(SerialNumber=serial,
                                                                 TokenCode=current_code(seed)))


def test_serial_without_code_is_refused(server, make_user) -> None:
    alice = make_user(allow("sts:AssumeRole"))
    err = denied(lambda: alice.client(server, "sts").get_session_token(
        SerialNumber="arn:aws:iam::123456789012:mfa/x"))
    assert err.response["Error"]["Message"] == MFA_FAILED
