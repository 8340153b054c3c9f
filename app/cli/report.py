"""`tessera report credentials`: the account's credential report as a table (admin; against
TESSERA_REDIS_URL with TESSERA_MASTER_KEY, like `tessera serve`).

The report is built from the store as GenerateCredentialReport builds it (same columns, same
cells, the root's row first); `--csv` prints AWS's CSV itself instead of the table. Nothing is
written: the report GetCredentialReport serves is left as it is.
"""
from __future__ import annotations

import argparse
import asyncio
import csv
import io
import sys

from app.settings import Settings, SettingsError


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    report = sub.add_parser("report", help="account reports (admin)")
    rsub = report.add_subparsers(dest="report_command", required=True)
    cred = rsub.add_parser("credentials", help="print the credential report as a table")
    cred.add_argument("--csv", action="store_true", help="print AWS's CSV instead of a table")


def table(csv_text: str) -> str:
    """The CSV as aligned columns (header first), two spaces between columns."""
    rows = list(csv.reader(io.StringIO(csv_text)))
    if not rows:
        return ""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() + "\n" for r in rows)


def run_report(args: argparse.Namespace) -> int:
    try:
        settings = Settings.from_env(mode="serve")
    except SettingsError as exc:
        print(f"tessera: {exc}", file=sys.stderr)
        return 2
    text = asyncio.run(_credentials(settings))
    sys.stdout.write(text if args.csv else table(text))
    return 0


async def _credentials(settings: Settings) -> str:
    from app.core.clock import Clock
    from app.services.iam.credential_report import build_report
    from app.store.connection import connect
    from app.store.iam_store import IamStore
    from app.store.secretbox import SecretBox

    assert settings.redis_url is not None and settings.master_key is not None
    redis = connect(settings.redis_url)
    clock = Clock()
    store = IamStore(redis, account=settings.account_id, box=SecretBox(settings.master_key), clock=clock)
    try:
        return await build_report(store, settings.account_id, clock.time())
    finally:
        await redis.aclose()
