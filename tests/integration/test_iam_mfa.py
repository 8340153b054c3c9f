"""Virtual MFA devices through unmodified boto3 against the real server and Redis; the codes
are computed from the seed CreateVirtualMFADevice returns, as an authenticator app would."""
from __future__ import annotations

import base64
import json
import time
from datetime import datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError

from app.core import totp
from app.services.iam.mfa import otpauth_uri, qr_code_png

from .conftest import ACCOUNT, allow, unique


def code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def message(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Message"])


def status(exc: pytest.ExceptionInfo[ClientError]) -> int:
    return int(exc.value.response["ResponseMetadata"]["HTTPStatusCode"])


def codes(seed: str, ahead: int = 0) -> dict[str, str]:
    """Two consecutive codes of now (+ `ahead` steps: within the server's window of 4)."""
    step = totp.step_of(time.time()) + ahead
    return {"AuthenticationCode1": totp.code_at(seed, step - 1),
            "AuthenticationCode2": totp.code_at(seed, step)}


def new_device(iam: Any, name: str | None = None, **kw: Any) -> tuple[str, str, dict[str, Any]]:
    """-> (serial number, base32 seed, the whole VirtualMFADevice)."""
    device = iam.create_virtual_mfa_device(VirtualMFADeviceName=name or unique("mfa"), **kw)
    device = device["VirtualMFADevice"]
    return device["SerialNumber"], device["Base32StringSeed"].decode("ascii"), device


def every_virtual_device(iam: Any, status_: str = "Any", page_size: int = 100) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    kw: dict[str, Any] = {"AssignmentStatus": status_, "MaxItems": page_size}
    while True:
        got = iam.list_virtual_mfa_devices(**kw)
        seen += got["VirtualMFADevices"]
        if not got["IsTruncated"]:
            return seen
        kw["Marker"] = got["Marker"]


def summary(iam: Any) -> dict[str, int]:
    return dict(iam.get_account_summary()["SummaryMap"])


def test_key_uri_format():
    assert otpauth_uri("a@b", ACCOUNT, "JBSWY3DP") == \
        f"otpauth://totp/a%40b@{ACCOUNT}?secret=JBSWY3DP&issuer=Tessera"


def test_virtual_mfa_lifecycle(root_iam):
    user = unique("mfa-user")
    root_iam.create_user(UserName=user)
    before = summary(root_iam)
    name = unique("Phone")
    serial, seed, device = new_device(root_iam, name, Path="/team/",
                                      Tags=[{"Key": "owner", "Value": user}])
    assert serial == f"arn:aws:iam::{ACCOUNT}:mfa/team/{name}"
    assert len(seed) == 32 and base64.b32decode(seed)  # boto3 returns the base32 text's bytes
    assert device["QRCodePNG"].startswith(b"\x89PNG\r\n\x1a\n")
    # the QR code holds the key URI of this very seed (segno renders deterministically)
    assert device["QRCodePNG"] == qr_code_png(otpauth_uri(name, ACCOUNT, seed))
    assert device["Tags"] == [{"Key": "owner", "Value": user}]

    root_iam.enable_mfa_device(UserName=user, SerialNumber=serial, **codes(seed))
    [listed] = root_iam.list_mfa_devices(UserName=user)["MFADevices"]
    assert listed["UserName"] == user and listed["SerialNumber"] == serial
    assert isinstance(listed["EnableDate"], datetime)
    got = root_iam.get_mfa_device(UserName=user, SerialNumber=serial)
    assert got["UserName"] == user and got["SerialNumber"] == serial
    assigned = {d["SerialNumber"]: d for d in every_virtual_device(root_iam, "Assigned")}
    assert assigned[serial]["User"]["UserName"] == user and "EnableDate" in assigned[serial]
    assert "Base32StringSeed" not in assigned[serial] and "QRCodePNG" not in assigned[serial]
    after = summary(root_iam)
    assert after["MFADevices"] == before["MFADevices"] + 1
    assert after["MFADevicesInUse"] == before["MFADevicesInUse"] + 1

    root_iam.resync_mfa_device(UserName=user, SerialNumber=serial, **codes(seed, ahead=2))
    with pytest.raises(ClientError) as exc:  # codes work once
        root_iam.resync_mfa_device(UserName=user, SerialNumber=serial, **codes(seed, ahead=2))
    assert code(exc) == "InvalidAuthenticationCode"

    root_iam.deactivate_mfa_device(UserName=user, SerialNumber=serial)
    assert root_iam.list_mfa_devices(UserName=user)["MFADevices"] == []
    unassigned = {d["SerialNumber"]: d for d in every_virtual_device(root_iam, "Unassigned")}
    assert "User" not in unassigned[serial] and "EnableDate" not in unassigned[serial]
    root_iam.delete_virtual_mfa_device(SerialNumber=serial)
    assert serial not in {d["SerialNumber"] for d in every_virtual_device(root_iam)}
    assert summary(root_iam)["MFADevices"] == before["MFADevices"]
    root_iam.delete_user(UserName=user)


def test_wrong_and_non_consecutive_codes_are_refused(root_iam):
    user = unique("mfa-user")
    root_iam.create_user(UserName=user)
    serial, seed, _ = new_device(root_iam)
    step = totp.step_of(time.time())
    now, before, older = (totp.code_at(seed, s) for s in (step, step - 1, step - 2))
    for first, second in (("123456", "654321"), (older, now), (now, before), (now, now)):
        with pytest.raises(ClientError) as exc:
            root_iam.enable_mfa_device(UserName=user, SerialNumber=serial,
                                       AuthenticationCode1=first, AuthenticationCode2=second)
        assert code(exc) == "InvalidAuthenticationCode" and status(exc) == 403
        assert message(exc) == "Authentication code for device is not valid."
    with pytest.raises(ClientError) as exc:
        root_iam.enable_mfa_device(UserName=unique("nobody"), SerialNumber=serial, **codes(seed))
    assert code(exc) == "NoSuchEntity"
    root_iam.enable_mfa_device(UserName=user, SerialNumber=serial, **codes(seed))
    with pytest.raises(ClientError) as exc:
        root_iam.enable_mfa_device(UserName=user, SerialNumber=serial, **codes(seed, ahead=1))
    assert code(exc) == "EntityAlreadyExists" and message(exc) == "MFA Device is already in use."


def test_listing_paging_and_assignment_status(root_iam):
    user = unique("mfa-user")
    root_iam.create_user(UserName=user)
    prefix = unique("list")
    serials = [new_device(root_iam, f"{prefix}-{i}") for i in range(5)]
    for serial, seed, _ in serials[:2]:
        root_iam.enable_mfa_device(UserName=user, SerialNumber=serial, **codes(seed))
    ours = {s for s, _, _ in serials}

    def mine(status_: str) -> list[str]:
        return [d["SerialNumber"] for d in every_virtual_device(root_iam, status_, page_size=2)
                if d["SerialNumber"] in ours]

    assert mine("Any") == [s for s, _, _ in serials]  # name order, across pages of 2
    assert mine("Assigned") == [s for s, _, _ in serials[:2]]
    assert mine("Unassigned") == [s for s, _, _ in serials[2:]]
    first = root_iam.list_mfa_devices(UserName=user, MaxItems=1)
    assert first["IsTruncated"] and len(first["MFADevices"]) == 1
    second = root_iam.list_mfa_devices(UserName=user, MaxItems=1, Marker=first["Marker"])
    assert not second["IsTruncated"]
    assert [d["SerialNumber"] for d in first["MFADevices"] + second["MFADevices"]] == \
        [s for s, _, _ in serials[:2]]
    paginator = root_iam.get_paginator("list_virtual_mfa_devices")
    pages = paginator.paginate(AssignmentStatus="Unassigned", PaginationConfig={"PageSize": 1})
    assert [s for s, _, _ in serials[2:]] == [
        d["SerialNumber"] for p in pages for d in p["VirtualMFADevices"] if d["SerialNumber"] in ours]


def test_delete_conflicts(root_iam):
    user = unique("mfa-user")
    root_iam.create_user(UserName=user)
    serial, seed, _ = new_device(root_iam)
    root_iam.enable_mfa_device(UserName=user, SerialNumber=serial, **codes(seed))
    with pytest.raises(ClientError) as exc:
        root_iam.delete_user(UserName=user)
    assert code(exc) == "DeleteConflict" and status(exc) == 409
    assert message(exc) == "Cannot delete entity, must remove MFA device first."
    with pytest.raises(ClientError) as exc:
        root_iam.delete_virtual_mfa_device(SerialNumber=serial)
    assert code(exc) == "DeleteConflict"
    assert message(exc) == "MFA VirtualDevice in use. Must deactivate first."
    root_iam.deactivate_mfa_device(UserName=user, SerialNumber=serial)
    root_iam.delete_user(UserName=user)
    root_iam.delete_virtual_mfa_device(SerialNumber=serial)
    with pytest.raises(ClientError) as exc:
        root_iam.delete_virtual_mfa_device(SerialNumber=serial)
    assert code(exc) == "NoSuchEntity" and status(exc) == 404
    assert message(exc) == f"VirtualMFADevice with serial number {serial} doesn't exist."


def test_names_and_tags(root_iam):
    name = unique("Tagged")
    serial, _, _ = new_device(root_iam, name)
    with pytest.raises(ClientError) as exc:
        root_iam.create_virtual_mfa_device(VirtualMFADeviceName=name.upper(), Path="/x/")
    assert code(exc) == "EntityAlreadyExists" and status(exc) == 409
    assert message(exc) == "MFADevice entity at the same path and name already exists."
    with pytest.raises(ClientError) as exc:  # its serial number would exceed the model's 256
        root_iam.create_virtual_mfa_device(VirtualMFADeviceName="n" * 227)
    assert code(exc) == "ValidationError"
    root_iam.tag_mfa_device(SerialNumber=serial, Tags=[{"Key": "b", "Value": "2"},
                                                       {"Key": "a", "Value": "1"}])
    first = root_iam.list_mfa_device_tags(SerialNumber=serial, MaxItems=1)
    assert first["Tags"] == [{"Key": "a", "Value": "1"}] and first["IsTruncated"]
    rest = root_iam.list_mfa_device_tags(SerialNumber=serial, Marker=first["Marker"])
    assert rest["Tags"] == [{"Key": "b", "Value": "2"}] and not rest["IsTruncated"]
    root_iam.untag_mfa_device(SerialNumber=serial, TagKeys=["A"])
    assert root_iam.list_mfa_device_tags(SerialNumber=serial)["Tags"] == [{"Key": "b", "Value": "2"}]
    with pytest.raises(ClientError) as exc:
        root_iam.tag_mfa_device(SerialNumber=serial, Tags=[{"Key": "aws:x", "Value": "1"}])
    assert code(exc) == "InvalidInput"
    with pytest.raises(ClientError) as exc:
        root_iam.list_mfa_device_tags(SerialNumber=serial + "-gone")
    assert code(exc) == "NoSuchEntity"
    root_iam.delete_virtual_mfa_device(SerialNumber=serial)


def test_users_manage_their_own_device_only_by_policy(server, root_iam, make_user):
    own = f"arn:aws:iam::{ACCOUNT}:user/${{aws:username}}"
    policy = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "iam:CreateVirtualMFADevice",
         "Resource": f"arn:aws:iam::{ACCOUNT}:mfa/${{aws:username}}"},
        {"Effect": "Allow", "Action": ["iam:EnableMFADevice", "iam:ListMFADevices",
                                       "iam:DeactivateMFADevice"], "Resource": own}]})
    alice = make_user(policy)
    bob = make_user(allow("iam:CreateVirtualMFADevice", f"arn:aws:iam::{ACCOUNT}:mfa/*"))
    iam = alice.client(server, "iam")
    serial, seed, _ = new_device(iam, alice.name)
    with pytest.raises(ClientError) as exc:  # only a device named after herself
        iam.create_virtual_mfa_device(VirtualMFADeviceName=unique("other"))
    assert code(exc) == "AccessDenied"
    with pytest.raises(ClientError) as exc:  # not for another user
        iam.enable_mfa_device(UserName=bob.name, SerialNumber=serial, **codes(seed))
    assert code(exc) == "AccessDenied" and status(exc) == 403
    assert f"iam:EnableMFADevice on resource: arn:aws:iam::{ACCOUNT}:user/{bob.name}" in message(exc)
    iam.enable_mfa_device(UserName=alice.name, SerialNumber=serial, **codes(seed))
    assert [d["SerialNumber"] for d in iam.list_mfa_devices()["MFADevices"]] == [serial]

    bobs = bob.client(server, "iam")
    serial2, seed2, _ = new_device(bobs, unique("bobs"))
    with pytest.raises(ClientError) as exc:  # allowed to create, not to enable
        bobs.enable_mfa_device(UserName=bob.name, SerialNumber=serial2, **codes(seed2))
    assert code(exc) == "AccessDenied"
    with pytest.raises(ClientError) as exc:
        bobs.list_virtual_mfa_devices()
    assert code(exc) == "AccessDenied"
    assert f"on resource: arn:aws:iam::{ACCOUNT}:mfa/" in message(exc)
    iam.deactivate_mfa_device(SerialNumber=serial)  # UserName defaults to the caller
    assert root_iam.list_mfa_devices(UserName=alice.name)["MFADevices"] == []


def test_the_seed_is_never_logged(server, root_iam):
    serial, seed, device = new_device(root_iam)
    qr = base64.b64encode(device["QRCodePNG"]).decode()
    secrets = (seed, base64.b64encode(seed.encode()).decode(), qr[:40])
    deadline = time.time() + 5
    line: dict[str, Any] = {}
    while time.time() < deadline and not line:
        for text in server.log().splitlines():
            if serial in text and '"CreateVirtualMFADevice"' in text:
                line = json.loads(text)
        time.sleep(0.05)
    assert line["eventName"] == "CreateVirtualMFADevice" and line["outcome"] == "success"
    logged = line["responseElements"]["virtualMFADevice"]
    assert logged["serialNumber"] == serial  # CloudTrail records neither the seed nor the QR code
    assert "base32StringSeed" not in logged and "qRCodePNG" not in logged
    user = unique("u")
    root_iam.create_user(UserName=user)
    root_iam.enable_mfa_device(UserName=user, SerialNumber=serial, **codes(seed))
    log = server.log()
    assert not [s for s in secrets if s in log]
    root_iam.deactivate_mfa_device(UserName=user, SerialNumber=serial)
    root_iam.delete_virtual_mfa_device(SerialNumber=serial)
