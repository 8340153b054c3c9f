"""The account's credential report: the last one generated, a HASH under
`Keys.credential_report()` (`t` its GeneratedTime in epoch seconds, `c` the CSV text).

The report is derived data: writing it does not change the IAM epoch."""
from __future__ import annotations

from app.store.iam_base import IamStoreBase


class CredentialReportMixin(IamStoreBase):
    async def credential_report(self) -> tuple[float, str] | None:
        """-> (generated time, CSV), None when no report was ever generated."""
        h = await self._r.hgetall(self._k.credential_report())
        if not h:
            return None
        return float(h["t"]), str(h["c"])

    async def put_credential_report(self, generated: float, csv_text: str) -> None:
        await self._r.hset(self._k.credential_report(), mapping={"t": str(generated), "c": csv_text})
