"""The AWS managed policies, read from the data files shipped beside this module.

`AwsManagedPolicies()` costs nothing to build: the policies file (metadata and default documents,
~280 KB xz) is read on the first question that needs it (or by `load()`), a policy's older
versions only when they are asked for (from that policy's own stream in the versions file), and
each policy's document is compiled once, on its first evaluation, and kept for the life of the
process (AWS managed policies never change while Tessera runs). Thread-safe; everything it hands
out is immutable. `generate.py` (here) writes the files and describes their format.
"""
from __future__ import annotations

import functools
import json
import lzma
import os
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from app.core import arn as arns
from app.core.records import ManagedPolicy, PolicyVersion
from app.policy.compiler import compile_policy
from app.policy.document import PolicyKind
from app.policy.evaluate import CompiledPolicy

HERE = os.path.dirname(os.path.abspath(__file__))
POLICIES_FILE = os.path.join(HERE, "aws_managed_policies.json.xz")
VERSIONS_FILE = os.path.join(HERE, "aws_managed_policy_versions.dat")
SERVICE_ROLE_PATH = "/aws-service-role/"
_RECENT = 8  # policies whose older versions are kept decompressed  # attachable only to service-linked roles (AWS)


@dataclass(frozen=True, slots=True)
class AwsManagedPolicy:
    name: str
    path: str
    arn: str
    policy_id: str
    default_version_id: str
    create_date: float
    update_date: float
    document: str  # the default version's, as JSON text

    @property
    def service_role_only(self) -> bool:
        """Under `/aws-service-role/`: AWS lets only a service-linked role have it."""
        return self.path == SERVICE_ROLE_PATH

    def record(self, attachment_count: int = 0, boundary_count: int = 0) -> ManagedPolicy:
        """The policy as IAM's API shows it, with this account's usage counts."""
        return ManagedPolicy(policy_name=self.name, policy_id=self.policy_id, arn=self.arn, path=self.path,
                             default_version_id=self.default_version_id, attachment_count=attachment_count,
                             permissions_boundary_usage_count=boundary_count, is_attachable=True,
                             create_date=self.create_date, update_date=self.update_date)

    def default_version(self) -> PolicyVersion:
        return PolicyVersion(version_id=self.default_version_id, document=self.document,
                             is_default_version=True, create_date=self.update_date)


def _read(path: str) -> dict[str, Any]:
    with open(path, "rb") as fh:
        data: dict[str, Any] = json.loads(lzma.decompress(fh.read()))
    return data


class AwsManagedPolicies:
    """`AwsManagedPolicies(policies_file=..., versions_file=...)`: the catalog, loaded lazily;
    `policies_file=None`: an empty one (no AWS managed policy exists). `aws_managed_policies()`
    gives the process's shared instance of the shipped data."""

    def __init__(self, policies_file: str | None = POLICIES_FILE, versions_file: str = VERSIONS_FILE) -> None:
        self._files: tuple[str | None, str] = (policies_file, versions_file)
        self._lock = threading.Lock()
        self._by_arn: dict[str, AwsManagedPolicy] | None = None
        self._sorted: tuple[AwsManagedPolicy, ...] = ()
        self._header: dict[str, Any] = {}
        self._older: tuple[dict[str, Any], bytes] | None = None  # (header with index, the streams)
        self._recent: dict[str, tuple[PolicyVersion, ...]] = {}  # the last few policies' versions
        self._compiled: dict[tuple[str, PolicyKind], CompiledPolicy] = {}

    # ---- loading ----
    def _policies(self) -> dict[str, AwsManagedPolicy]:
        found = self._by_arn
        if found is None:
            with self._lock:
                if self._by_arn is None:
                    self._load()
                found = self._by_arn
        assert found is not None
        return found

    def _load(self) -> None:
        data = _read(self._files[0]) if self._files[0] is not None else {"fields": [], "policies": []}
        fields = data["fields"]
        entries = []
        for row in data["policies"]:
            d = dict(zip(fields, row))
            entries.append(AwsManagedPolicy(
                name=d["name"], path=d["path"], arn=arns.AWS_POLICY_PREFIX + d["path"][1:] + d["name"],
                policy_id=d["policy_id"], default_version_id=d["default_version_id"],
                create_date=float(d["create_date"]), update_date=float(d["update_date"]),
                document=d["document"]))
        self._sorted = tuple(sorted(entries, key=lambda p: (p.name.lower(), p.arn)))
        self._header = {k: v for k, v in data.items() if k not in ("policies", "fields")}
        self._by_arn = {p.arn: p for p in entries}

    def _older_versions(self, name: str) -> tuple[PolicyVersion, ...]:
        """A policy's non-default versions, newest first: only its own stream is decompressed
        (the file: a JSON header line with an index, then one xz stream per policy)."""
        found = self._older
        if found is None:
            with self._lock:
                if self._older is None:
                    if self._files[0] is None:
                        self._older = ({"fields": [], "index": {}}, b"")
                    else:
                        with open(self._files[1], "rb") as fh:
                            head, _, streams = fh.read().partition(b"\n")
                        self._older = (json.loads(head), streams)
                found = self._older
        versions = self._recent.get(name)
        if versions is not None:
            return versions
        header, streams = found
        where = header["index"].get(name)
        rows = json.loads(lzma.decompress(streams[where[0]:where[0] + where[1]])) if where is not None else []
        fields = header["fields"]
        versions = tuple(PolicyVersion(version_id=d["version_id"], document=d["document"], is_default_version=False,
                                       create_date=float(d["create_date"]))
                         for d in (dict(zip(fields, row)) for row in rows))
        if len(self._recent) >= _RECENT:  # paging through one policy's versions decompresses it once
            self._recent.pop(next(iter(self._recent)))
        self._recent[name] = versions
        return versions

    def load(self) -> None:
        """Read the policies file now (e.g. in a background thread at start-up) instead of at
        the first question."""
        self._policies()

    # ---- questions ----
    @property
    def origin(self) -> dict[str, Any]:
        """Where the data came from and when it was generated (the file's header)."""
        self._policies()
        return dict(self._header)

    def __len__(self) -> int:
        return len(self._policies())

    def get(self, policy_arn: str) -> AwsManagedPolicy | None:
        if not arns.is_aws_policy(policy_arn):
            return None
        return self._policies().get(policy_arn)

    def document(self, policy_arn: str) -> str | None:
        """The default version's document of an AWS managed policy, else None."""
        found = self.get(policy_arn)
        return found.document if found is not None else None

    def all(self) -> Sequence[AwsManagedPolicy]:
        """Every policy, ordered by name case-insensitively (then ARN)."""
        self._policies()
        return self._sorted

    def versions(self, policy_arn: str) -> tuple[PolicyVersion, ...] | None:
        """Every recorded version, newest first (the default one first); None if no such policy."""
        found = self.get(policy_arn)
        if found is None:
            return None
        return (found.default_version(), *self._older_versions(found.name))

    def compiled(self, policy_arn: str, kind: PolicyKind) -> CompiledPolicy | None:
        """The default document compiled as a `kind` policy, once per process; None if no such
        policy. Evaluated as AWS published it: no size quota (some exceed the customers' ones) and,
        like any stored document, its structure checked but not the grammar's spelling rules."""
        key = (policy_arn, kind)
        found = self._compiled.get(key)
        if found is None:
            policy = self.get(policy_arn)
            if policy is None:
                return None
            found = compile_policy(json.loads(policy.document), kind, policy_arn, max_size=sys.maxsize, stored=True)
            self._compiled[key] = found
        return found


@functools.cache
def aws_managed_policies() -> AwsManagedPolicies:
    """The shipped catalog, one per process (it is immutable data; loading stays lazy)."""
    return AwsManagedPolicies()
