"""The credential report's CSV formatting (app.services.iam.credential_report), cell by cell."""
from __future__ import annotations

import csv
import io
from datetime import datetime, timezone

from app.core.records import AccessKeyLastUsed
from app.services.iam.credential_report import (
    COLUMNS,
    CertFacts,
    CredentialRow,
    KeyFacts,
    Password,
    iso,
    render_csv,
    row_cells,
)

T0 = datetime(2023, 1, 2, 3, 4, 5, tzinfo=timezone.utc).timestamp()
DAY = 86400.0


def test_iso_is_aws_form() -> None:
    assert iso(T0) == "2023-01-02T03:04:05+00:00"
    assert iso(T0 + 0.999) == "2023-01-02T03:04:05+00:00"


def test_header_is_aws_columns_in_order() -> None:
    text = render_csv([], None)
    assert text == ",".join(COLUMNS) + "\n"
    assert COLUMNS[0] == "user" and COLUMNS[-1] == "cert_2_last_rotated" and len(COLUMNS) == 22


def test_root_row() -> None:
    row = CredentialRow("<root_account>", "arn:aws:iam::123456789012:root", T0, root=True,
                        keys=(KeyFacts(True, T0 + DAY),))
    assert row_cells(row, 90) == [
        "<root_account>", "arn:aws:iam::123456789012:root", "2023-01-02T03:04:05+00:00",
        "not_supported", "no_information", "not_supported", "not_supported", "false",
        "true", "2023-01-03T03:04:05+00:00", "N/A", "N/A", "N/A",
        "false", "N/A", "N/A", "N/A", "N/A",
        "false", "N/A", "false", "N/A"]


def test_user_with_everything() -> None:
    used = AccessKeyLastUsed(service_name="sts", region="eu-west-1", last_used_date=T0 + 3 * DAY)
    row = CredentialRow("alice", "arn:aws:iam::123456789012:user/alice", T0,
                        password=Password(T0 + DAY, T0 + 2 * DAY), mfa=True,
                        # given newest first: numbered oldest first
                        keys=(KeyFacts(False, T0 + 5 * DAY), KeyFacts(True, T0 + 4 * DAY, used)),
                        certs=(CertFacts(False, T0 + 7 * DAY), CertFacts(True, T0 + 6 * DAY)))
    assert row_cells(row, 30) == [
        "alice", "arn:aws:iam::123456789012:user/alice", "2023-01-02T03:04:05+00:00",
        "true", "2023-01-04T03:04:05+00:00", "2023-01-03T03:04:05+00:00", "2023-02-02T03:04:05+00:00",
        "true",
        "true", "2023-01-06T03:04:05+00:00", "2023-01-05T03:04:05+00:00", "eu-west-1", "sts",
        "false", "2023-01-07T03:04:05+00:00", "N/A", "N/A", "N/A",
        "true", "2023-01-08T03:04:05+00:00", "false", "2023-01-09T03:04:05+00:00"]


def test_password_never_used_and_no_rotation_policy() -> None:
    row = CredentialRow("bob", "arn:aws:iam::123456789012:user/bob", T0, password=Password(T0))
    cells = dict(zip(COLUMNS, row_cells(row, None)))
    assert (cells["password_enabled"], cells["password_last_used"], cells["password_last_changed"],
            cells["password_next_rotation"]) == ("true", "no_information", "2023-01-02T03:04:05+00:00", "N/A")


def test_bare_user_and_csv_quoting() -> None:
    row = CredentialRow("carol", "arn:aws:iam::123456789012:user/carol", T0)
    cells = row_cells(row, 90)
    assert cells[3:] == ["false", "N/A", "N/A", "N/A", "false"] + ["false", "N/A", "N/A", "N/A", "N/A"] * 2 \
        + ["false", "N/A"] * 2
    odd = CredentialRow("a,b", "arn:aws:iam::123456789012:user/a,b", T0)
    [parsed] = list(csv.DictReader(io.StringIO(render_csv([odd], None))))
    assert parsed["user"] == "a,b"


def test_cli_table_aligns_columns() -> None:
    from app.cli.report import table

    assert table("a,bb\nccc,d\n") == "a    bb\nccc  d\n"
    assert table("") == ""
