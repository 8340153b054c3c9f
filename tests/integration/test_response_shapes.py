"""Response shapes as AWS sends them: every case of tests/cases/shapes/*.yaml is one call through
unmodified boto3 to the real server on real Redis, with assertions on the raw XML it answered
(captured by botocore's `after-call` event, before botocore parses it). Also: RoleLastUsed as
boto3 users read it, and an AssumeRole that leaves the IAM epoch (the caches) alone."""
from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import boto3
import pytest
import redis
import yaml
from botocore import xform_name

from app.core import totp
from app.store.keys import Keys
from tests.saml_provider_material import certificate, metadata, rsa_key

from .conftest import ACCOUNT, REDIS_URL, REGION, ROOT_AKID, ROOT_SECRET, Server, client, trust, unique

CASES_DIR = Path(__file__).resolve().parents[1] / "cases" / "shapes"
CASES = [case for f in sorted(CASES_DIR.glob("*.yaml")) for case in yaml.safe_load(f.read_text())]
DOCUMENT = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::shapes/*"}]})
_PLACEHOLDER = re.compile(r"\{(\w+)\}")


@dataclass
class Capturing:
    """A boto3 client whose last raw answer body is kept."""

    client: Any
    bodies: list[bytes] = field(default_factory=list)

    def __post_init__(self) -> None:
        service = self.client.meta.service_model.service_name
        self.client.meta.events.register(f"after-call.{service}.*", self._keep)

    def _keep(self, http_response: Any, **_: Any) -> None:
        self.bodies.append(http_response.content)

    def result(self, action: str, params: dict[str, Any]) -> ET.Element:
        """Call `action`; -> its `<ActionResult>` element, namespaces stripped."""
        getattr(self.client, xform_name(action))(**params)
        root = ET.fromstring(self.bodies[-1])
        for el in root.iter():
            el.tag = el.tag.split("}", 1)[-1]
        assert root.tag == f"{action}Response"
        found = root.find(f"{action}Result")
        assert found is not None, f"no {action}Result in {self.bodies[-1]!r}"
        return found


@pytest.fixture(scope="module")
def world(server: Server, root_iam: Any) -> dict[str, str]:
    """The entities the cases name (tests/cases/shapes/README.md)."""
    path = f"/{unique('shapes')}/"
    w = {"path": path, "document": DOCUMENT}
    w["plain_policy"], w["tagged_policy"] = unique("plain"), unique("tagged")
    w["plain_policy_arn"] = root_iam.create_policy(PolicyName=w["plain_policy"], PolicyDocument=DOCUMENT,
                                                   Path=path, Description="plain policy")["Policy"]["Arn"]
    w["tagged_policy_arn"] = root_iam.create_policy(
        PolicyName=w["tagged_policy"], PolicyDocument=DOCUMENT, Path=path, Description="tagged policy",
        Tags=[{"Key": "team", "Value": "shapes"}])["Policy"]["Arn"]
    w["plain_user"], w["tagged_user"], w["group"] = unique("plain"), unique("tagged"), unique("group")
    root_iam.create_user(UserName=w["plain_user"], Path=path)
    user_arn = root_iam.create_user(UserName=w["tagged_user"], Path=path, Tags=[{"Key": "team", "Value": "shapes"}],
                                    PermissionsBoundary=w["tagged_policy_arn"])["User"]["Arn"]
    root_iam.create_group(GroupName=w["group"])
    root_iam.add_user_to_group(GroupName=w["group"], UserName=w["tagged_user"])
    w["trust"] = trust({"AWS": user_arn})
    w["plain_role"], w["tagged_role"] = unique("plain"), unique("tagged")
    root_iam.create_role(RoleName=w["plain_role"], AssumeRolePolicyDocument=w["trust"], Path=path)
    w["tagged_role_arn"] = root_iam.create_role(
        RoleName=w["tagged_role"], AssumeRolePolicyDocument=w["trust"], Path=path, Description="tagged role",
        PermissionsBoundary=w["tagged_policy_arn"], Tags=[{"Key": "team", "Value": "shapes"}])["Role"]["Arn"]
    root_iam.attach_role_policy(RoleName=w["tagged_role"], PolicyArn=w["tagged_policy_arn"])
    # the user's key (its boundary allows nothing but s3:GetObject: AssumeRole rests on the trust policy)
    key = root_iam.create_access_key(UserName=w["tagged_user"])["AccessKey"]
    w["key_id"], w["secret"] = key["AccessKeyId"], key["SecretAccessKey"]
    device = root_iam.create_virtual_mfa_device(VirtualMFADeviceName=unique("mfa"),
                                                Tags=[{"Key": "team", "Value": "shapes"}])["VirtualMFADevice"]
    w["device"] = device["SerialNumber"]
    seed = device["Base32StringSeed"].decode("ascii")
    step = totp.step_of(datetime.now(timezone.utc).timestamp())
    root_iam.enable_mfa_device(UserName=w["tagged_user"], SerialNumber=w["device"],
                               AuthenticationCode1=totp.code_at(seed, step - 1),
                               AuthenticationCode2=totp.code_at(seed, step))
    w["saml_metadata"] = metadata("https://idp.example/shapes", [certificate(rsa_key(2048, 0), cn="shapes")])
    w["thumbprint"] = "a" * 40
    w["oidc_provider_arn"] = root_iam.create_open_id_connect_provider(
        Url=f"https://{unique('issuer')}.example.com", ThumbprintList=[w["thumbprint"]])["OpenIDConnectProviderArn"]
    # the tagged role's first use: from REGION (eu-west-1), the region of the clients' SigV4 scope
    client(server, "sts", w["key_id"], w["secret"]).assume_role(RoleArn=w["tagged_role_arn"],
                                                                RoleSessionName="first-use")
    return w


@pytest.fixture(scope="module")
def clients(server: Server, world: dict[str, str]) -> dict[str, Capturing]:
    return {"iam": Capturing(client(server, "iam", ROOT_AKID, ROOT_SECRET)),
            "sts": Capturing(client(server, "sts", world["key_id"], world["secret"]))}


def fill(value: Any, names: dict[str, str]) -> Any:
    """`{placeholder}`s of a case replaced by the world's names (`{new}`: a fresh one)."""
    if isinstance(value, str):
        return _PLACEHOLDER.sub(lambda m: unique("new") if m.group(1) == "new" else names[m.group(1)], value)
    if isinstance(value, list):
        return [fill(v, names) for v in value]
    if isinstance(value, dict):
        return {fill(k, names): fill(v, names) for k, v in value.items()}
    return value


def test_the_corpus_is_well_formed() -> None:
    ids = [c["id"] for c in CASES]
    assert len(ids) == len(set(ids)) and len(ids) >= 25
    for case in CASES:
        assert {"id", "note", "doc", "client", "action", "params"} <= set(case), case["id"]
        assert set(case) <= {"id", "note", "doc", "client", "action", "params", "absent", "empty", "present",
                             "text"}, case["id"]
        assert any(case.get(k) for k in ("absent", "empty", "present", "text")), case["id"]


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_shape(case: dict[str, Any], clients: dict[str, Capturing], world: dict[str, str]) -> None:
    result = clients[case["client"]].result(case["action"], fill(case["params"], world))
    raw = ET.tostring(result, encoding="unicode")
    for path in fill(case.get("absent", []), world):
        parent = path.rsplit("/", 1)[0] if "/" in path else "."
        assert result.findall(parent), f"{parent} missing: `{path}` would be absent vacuously in {raw}"
        assert result.findall(path) == [], f"{path} present in {raw}"
    for path in fill(case.get("empty", []), world):
        el = result.find(path)
        assert el is not None, f"{path} missing in {raw}"
        assert len(el) == 0 and not (el.text or "").strip(), f"{path} not empty in {raw}"
    for path in fill(case.get("present", []), world):
        assert result.find(path) is not None, f"{path} missing in {raw}"
    for path, text in fill(case.get("text", {}), world).items():
        assert result.findtext(path) == text, f"{path} != {text!r} in {raw}"


# ---- RoleLastUsed as boto3 users read it, and its cost to the caches ----
def test_role_last_used_through_boto3(server: Server, root_iam: Any, world: dict[str, str]) -> None:
    name = unique("used")
    arn = root_iam.create_role(RoleName=name, AssumeRolePolicyDocument=world["trust"])["Role"]["Arn"]
    assert root_iam.get_role(RoleName=name)["Role"]["RoleLastUsed"] == {}
    before = datetime.now(timezone.utc).replace(microsecond=0)
    sts = boto3.client("sts", endpoint_url=server.url, region_name="ap-southeast-2",
                       aws_access_key_id=world["key_id"], aws_secret_access_key=world["secret"])
    sts.assume_role(RoleArn=arn, RoleSessionName="s1")
    used = root_iam.get_role(RoleName=name)["Role"]["RoleLastUsed"]
    assert used["Region"] == "ap-southeast-2"
    assert before <= used["LastUsedDate"] <= datetime.now(timezone.utc)
    details = root_iam.get_account_authorization_details(Filter=["Role"], MaxItems=1000)["RoleDetailList"]
    assert [r["RoleLastUsed"] for r in details if r["RoleName"] == name] == [used]
    assert "RoleLastUsed" not in root_iam.list_roles()["Roles"][0]


def test_assume_role_leaves_the_iam_epoch(server: Server, root_iam: Any, world: dict[str, str]) -> None:
    """Recording RoleLastUsed is not an IAM write: the workers' per-epoch caches stay warm."""
    name = unique("epoch")
    arn = root_iam.create_role(RoleName=name, AssumeRolePolicyDocument=world["trust"])["Role"]["Arn"]
    store = redis.Redis.from_url(REDIS_URL)
    epoch = store.get(Keys(ACCOUNT).epoch())
    client(server, "sts", world["key_id"], world["secret"]).assume_role(RoleArn=arn, RoleSessionName="s1")
    assert store.get(Keys(ACCOUNT).role_last_used(name.lower())) is not None  # the use was recorded...
    assert store.get(Keys(ACCOUNT).epoch()) == epoch  # ...without an IAM epoch change
    assert REGION.encode() in store.get(Keys(ACCOUNT).role_last_used(name.lower()))
