"""The credential report: GenerateCredentialReport GetCredentialReport.

AWS's CSV, AWS's columns in AWS's order and AWS's cell formats (IAM user guide, "Getting
credential reports for your AWS account"): times in ISO 8601 with the UTC offset
(`2023-01-02T03:04:05+00:00`), booleans `true`/`false`, `N/A` where a cell does not apply,
`no_information` for a password never used, `not_supported` for the root's password columns;
the root's row first (user `<root_account>`), then the users in name order. Access keys and
certificates are numbered oldest first (at most two of each are reported).

Generation is synchronous: the first GenerateCredentialReport (or the first once the stored
report is older than four hours, when AWS makes a new one) builds the report, stores it with its
GeneratedTime and answers `STARTED`; while the stored report is fresh it answers `COMPLETE` and
the report is not rebuilt. GetCredentialReport answers ReportNotPresent before any report,
ReportExpired once it is older than four hours. Both actions are authorized on `*`.
"""
from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from app.core import arn as arns
from app.core.errors import CredentialReportExpired, CredentialReportNotPresent, NoSuchEntity
from app.core.records import AccessKeyLastUsed, Call
from app.services.iam.base import IamServiceBase
from app.store.iam_store import IamStore

REPORT_TTL = 4 * 3600  # AWS regenerates (and expires) a report after four hours
COLUMNS = (
    "user", "arn", "user_creation_time", "password_enabled", "password_last_used",
    "password_last_changed", "password_next_rotation", "mfa_active",
    "access_key_1_active", "access_key_1_last_rotated", "access_key_1_last_used_date",
    "access_key_1_last_used_region", "access_key_1_last_used_service",
    "access_key_2_active", "access_key_2_last_rotated", "access_key_2_last_used_date",
    "access_key_2_last_used_region", "access_key_2_last_used_service",
    "cert_1_active", "cert_1_last_rotated", "cert_2_active", "cert_2_last_rotated")
ROOT_USER = "<root_account>"
NA = "N/A"
NO_INFORMATION = "no_information"
NOT_SUPPORTED = "not_supported"
STARTED_DESCRIPTION = "No report exists. Starting a new report generation task"
_DAY = 86400


@dataclass(frozen=True, slots=True)
class KeyFacts:
    active: bool
    created: float
    last_used: AccessKeyLastUsed = AccessKeyLastUsed()


@dataclass(frozen=True, slots=True)
class CertFacts:
    active: bool
    uploaded: float


@dataclass(frozen=True, slots=True)
class Password:
    last_changed: float
    last_used: float | None = None


@dataclass(frozen=True, slots=True)
class CredentialRow:
    """One principal's credentials; `root` True for the account root (password not reported)."""

    user: str
    arn: str
    created: float
    root: bool = False
    password: Password | None = None
    mfa: bool = False
    keys: tuple[KeyFacts, ...] = ()
    certs: tuple[CertFacts, ...] = ()


def iso(t: float) -> str:
    return datetime.fromtimestamp(int(t), timezone.utc).isoformat()


def _bool(b: bool) -> str:
    return "true" if b else "false"


def _key_cells(key: KeyFacts | None) -> list[str]:
    if key is None:
        return ["false", NA, NA, NA, NA]
    used = key.last_used
    if used.last_used_date is None:
        return [_bool(key.active), iso(key.created), NA, NA, NA]
    return [_bool(key.active), iso(key.created), iso(used.last_used_date),
            used.region or NA, used.service_name or NA]


def _cert_cells(cert: CertFacts | None) -> list[str]:
    return ["false", NA] if cert is None else [_bool(cert.active), iso(cert.uploaded)]


def row_cells(row: CredentialRow, max_password_age: int | None) -> list[str]:
    """The report's cells of one principal, in COLUMNS order."""
    if row.root:
        password = [NOT_SUPPORTED,
                    iso(row.password.last_used) if row.password and row.password.last_used
                    else NO_INFORMATION,
                    NOT_SUPPORTED, NOT_SUPPORTED]
    elif row.password is None:
        password = ["false", NA, NA, NA]
    else:
        p = row.password
        password = ["true", iso(p.last_used) if p.last_used is not None else NO_INFORMATION,
                    iso(p.last_changed),
                    iso(p.last_changed + max_password_age * _DAY) if max_password_age else NA]
    keys = sorted(row.keys, key=lambda k: k.created)
    certs = sorted(row.certs, key=lambda c: c.uploaded)
    return ([row.user, row.arn, iso(row.created), *password, _bool(row.mfa)]
            + _key_cells(keys[0] if keys else None) + _key_cells(keys[1] if len(keys) > 1 else None)
            + _cert_cells(certs[0] if certs else None)
            + _cert_cells(certs[1] if len(certs) > 1 else None))


def render_csv(rows: Sequence[CredentialRow], max_password_age: int | None) -> str:
    """The report's CSV text: the header line, then one line per row (`\\n` line ends)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow(row_cells(row, max_password_age))
    return out.getvalue()


async def _keys(store: IamStore, user_name: str) -> tuple[KeyFacts, ...]:
    out = []
    for key in await store.list_access_keys(user_name) or []:
        found = await store.access_key_last_used(key.access_key_id)
        out.append(KeyFacts(key.status == "Active", key.create_date,
                            found[1] if found else AccessKeyLastUsed()))
    return tuple(out)


async def _certs(store: IamStore, user_name: str) -> tuple[CertFacts, ...]:
    return tuple(CertFacts(c.status == "Active", c.upload_date)
                 for c in await store.list_signing_certificates(user_name))


async def collect_rows(store: IamStore, account: str, now: float) -> list[CredentialRow]:
    """The root's row, then every user's in name order (a user deleted meanwhile is left out)."""
    rows = [CredentialRow(ROOT_USER, arns.root(account), await store.root_created() or now,
                          root=True, keys=await _keys(store, ""), certs=await _certs(store, ""))]
    after: str | None = None
    while True:
        users, more = await store.list_users("/", after, 100)
        for user in users:
            try:
                profile = await store.get_login_profile(user.user_name)
                mfa = await store.list_mfa_devices(user.user_name)
                rows.append(CredentialRow(
                    user.user_name, user.arn, user.create_date,
                    password=Password(profile.password_last_changed, profile.password_last_used)
                    if profile else None,
                    mfa=bool(mfa), keys=await _keys(store, user.user_name),
                    certs=await _certs(store, user.user_name)))
            except NoSuchEntity:
                continue
        if not more or not users:
            return rows
        after = users[-1].user_name.lower()


async def build_report(store: IamStore, account: str, now: float) -> str:
    policy = await store.get_password_policy()
    return render_csv(await collect_rows(store, account, now),
                      policy.max_password_age if policy else None)


class CredentialReportService(IamServiceBase):
    async def generate_credential_report(self, call: Call) -> dict[str, Any]:
        await self._require(call, "GenerateCredentialReport", "*")
        now = self._clock.time()
        stored = await self._store.credential_report()
        if stored is not None and now - stored[0] < REPORT_TTL:
            return {"state": "COMPLETE"}
        await self._store.put_credential_report(now, await build_report(self._store, self._account, now))
        return {"state": "STARTED", "description": STARTED_DESCRIPTION}

    async def get_credential_report(self, call: Call) -> dict[str, Any]:
        await self._require(call, "GetCredentialReport", "*")
        stored = await self._store.credential_report()
        if stored is None:
            raise CredentialReportNotPresent(
                "Credential report not present. Use GenerateCredentialReport to generate a report.")
        generated, text = stored
        if self._clock.time() - generated >= REPORT_TTL:
            raise CredentialReportExpired(
                "Credential report expired. Use GenerateCredentialReport to generate a new report.")
        return {"content": text.encode(), "report_format": "text/csv", "generated_time": generated}
