"""The audit trail of the real server, through boto3: CloudTrail's requestParameters and
responseElements, and never a secret key, session token or password in the log."""
from __future__ import annotations

import json
from typing import Any

from .conftest import ACCOUNT, allow, audit_line, client, trust, unique

POLICY_ARN = "arn:aws:iam::aws:policy/ReadOnlyAccess"


def _when(value: Any) -> str:
    """CloudTrail's rendering of a timestamp inside responseElements (UTC)."""
    return str(value.strftime("%b %-d, %Y %-I:%M:%S %p"))


def test_iam_and_sts_records_are_cloudtrails_and_hold_no_secret(server: Any, root_iam: Any, make_user: Any) -> None:
    secrets: list[str] = []
    user = make_user(allow(["sts:GetFederationToken", "sts:AssumeRole"]))
    secrets.append(user.secret)

    key = root_iam.create_access_key(UserName=user.name)
    line = audit_line(server, key["ResponseMetadata"]["RequestId"])
    created = key["AccessKey"]
    secrets.append(created["SecretAccessKey"])
    assert line["requestParameters"] == {"userName": user.name}
    assert line["responseElements"] == {"accessKey": {
        "userName": user.name, "accessKeyId": created["AccessKeyId"], "status": "Active",
        "createDate": _when(created["CreateDate"])}}

    password = "Tr4il-Secret-Pw!" + unique("x")
    secrets.append(password)
    out = root_iam.create_login_profile(UserName=user.name, Password=password, PasswordResetRequired=True)
    line = audit_line(server, out["ResponseMetadata"]["RequestId"])
    assert line["requestParameters"] == {"userName": user.name, "passwordResetRequired": True}
    assert line["responseElements"]["loginProfile"]["userName"] == user.name

    role_name = unique("trail")
    trust_doc = trust({"AWS": user.arn}, ["sts:AssumeRole", "sts:TagSession"])
    role = root_iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=trust_doc)
    line = audit_line(server, role["ResponseMetadata"]["RequestId"])
    assert line["requestParameters"]["roleName"] == role_name
    assert set(line["responseElements"]["role"]) == {"path", "roleName", "roleId", "arn", "createDate",
                                                     "assumeRolePolicyDocument"}
    assert line["responseElements"]["role"]["assumeRolePolicyDocument"].startswith("%7B%22Version%22")
    root_iam.put_role_policy(RoleName=role_name, PolicyName="p", PolicyDocument=allow("sts:GetCallerIdentity"))

    sts = user.client(server, "sts")
    assumed = sts.assume_role(RoleArn=role["Role"]["Arn"], RoleSessionName="trail", DurationSeconds=900,
                              PolicyArns=[{"arn": POLICY_ARN}], Tags=[{"Key": "Project", "Value": "Trail"}],
                              TransitiveTagKeys=["Project"])
    line = audit_line(server, assumed["ResponseMetadata"]["RequestId"])
    assert line["requestParameters"] == {
        "roleArn": role["Role"]["Arn"], "roleSessionName": "trail", "durationSeconds": 900,
        "policyArns": [{"arn": POLICY_ARN}], "tags": [{"key": "Project", "value": "Trail"}],
        "transitiveTagKeys": ["Project"]}
    credentials = assumed["Credentials"]
    elements = line["responseElements"]
    assert elements["credentials"] == {"accessKeyId": credentials["AccessKeyId"],
                                       "expiration": _when(credentials["Expiration"])}
    assert elements["assumedRoleUser"] == {"assumedRoleId": assumed["AssumedRoleUser"]["AssumedRoleId"],
                                           "arn": assumed["AssumedRoleUser"]["Arn"]}
    assert set(elements) <= {"credentials", "assumedRoleUser", "packedPolicySize"}
    secrets += [credentials["SecretAccessKey"], credentials["SessionToken"]]

    for out in (sts.get_session_token(DurationSeconds=900),
                sts.get_federation_token(Name="trail-fed", Policy=allow("s3:GetObject"))):
        line = audit_line(server, out["ResponseMetadata"]["RequestId"])
        assert line["responseElements"]["credentials"] == {"accessKeyId": out["Credentials"]["AccessKeyId"],
                                                           "expiration": _when(out["Credentials"]["Expiration"])}
        secrets += [out["Credentials"]["SecretAccessKey"], out["Credentials"]["SessionToken"]]
    fed = audit_line(server, out["ResponseMetadata"]["RequestId"])
    assert fed["requestParameters"] == {"name": "trail-fed", "policy": allow("s3:GetObject")}
    assert fed["responseElements"]["federatedUser"] == {
        "federatedUserId": out["FederatedUser"]["FederatedUserId"], "arn": out["FederatedUser"]["Arn"]}

    # a call signed with the session's token: the caller is recorded, its token is not
    ident = client(server, "sts", credentials["AccessKeyId"], credentials["SecretAccessKey"],
                   credentials["SessionToken"]).get_caller_identity()
    line = audit_line(server, ident["ResponseMetadata"]["RequestId"])
    assert line["requestParameters"] is None and line["responseElements"] is None
    assert line["userIdentity"]["accessKeyId"] == credentials["AccessKeyId"]
    assert line["userIdentity"]["accountId"] == ACCOUNT

    log = server.log()
    leaked = [s for s in secrets if s in log]
    assert not leaked
    # every STS and IAM call the server has recorded so far went through its shapers: CloudTrail's keys
    assert '"event":"audit.unshaped"' not in log
    for text in log.splitlines():
        record = json.loads(text) if '"event":"audit"' in text else {}
        if record.get("eventSource") in ("sts.amazonaws.com", "iam.amazonaws.com"):
            for element in ("requestParameters", "responseElements"):
                keys = list(record[element] or ())
                assert all(k[:1].islower() for k in keys), (record["eventName"], element, keys)
