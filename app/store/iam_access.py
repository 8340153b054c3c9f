"""Access advisor's reads: the last-accessed records of IAM users and roles (written on the
request path by app.store.access_usage) and the reports GenerateServiceLastAccessedDetails
builds, one JSON string per job under `Keys.access_job(JOBID)`, expiring.

Neither is IAM state: no epoch bump, no MULTI with IAM keys (the keys carry no hash tag, so
they spread over a cluster; the reads are one pipeline of single-key commands).
"""
from __future__ import annotations

from collections.abc import Sequence

from app.store.access_usage import Access, decode_hash
from app.store.iam_base import IamStoreBase


class AccessAdvisorMixin(IamStoreBase):
    async def last_accessed(self, entity_ids: Sequence[str]) -> list[dict[str, Access]]:
        """For each entity id, its records (`service:Action` -> Access), in one round trip."""
        if not entity_ids:
            return []
        raws = await self._read(*[("hgetall", self._k.last_accessed(i)) for i in entity_ids])
        return [decode_hash(raw) for raw in raws]

    async def forget_last_accessed(self, entity_id: str) -> None:
        """Drop a deleted entity's records."""
        await self._r.delete(self._k.last_accessed(entity_id))

    async def put_access_job(self, job_id: str, report_json: str, ttl: int) -> None:
        await self._r.set(self._k.access_job(job_id), report_json, ex=ttl)

    async def access_job(self, job_id: str) -> str | None:
        raw = await self._r.get(self._k.access_job(job_id))
        return None if raw is None else str(raw)
