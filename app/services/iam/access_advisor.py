"""Access advisor (last-accessed data): GenerateServiceLastAccessedDetails
GetServiceLastAccessedDetails GetServiceLastAccessedDetailsWithEntities
ListPoliciesGrantingServiceAccess.

Fed by what each user and role was authorized to do, recorded on the request path
(app.services.last_accessed). Generation is synchronous: GenerateServiceLastAccessedDetails
reads the subject's policies and the records, stores the finished report under a new JobId for
JOB_TTL (seven days, Tessera's choice) and returns; the job is COMPLETED from the first
GetServiceLastAccessedDetails on (JobCreationDate = JobCompletionDate). As on AWS, a job is for
the principal that generated it (the same user, or the same role session); anyone else gets
NoSuchEntity, as for an unknown or expired JobId. WithEntities lists the tracked users and roles
(the group's members, the policy's holders, or the user or role itself), most recent use of the
namespace first, those without one after them by name; for a namespace the subject's policies
do not allow, none (the list is empty).

Authorization (AWS's service authorization reference): Generate… and
ListPoliciesGrantingServiceAccess on the ARN they are given, the two Get… on `*`.
Errors: InvalidInput for an ARN that is not an IAM user / group / role / policy ARN (a policy
ARN is not accepted by ListPoliciesGrantingServiceAccess), NoSuchEntity for one that names
nothing; the model's constraints (Granularity's values, at most 200 ServiceNamespaces, the
JobId's 36 characters) are enforced by the codec as ValidationError, as IAM does.
"""
from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from typing import Any

from app.core.errors import InvalidInput, NoSuchEntity
from app.core.records import Call
from app.policy.service_access import document_namespaces
from app.services.iam.access_report import ACTION_LEVEL, allowed_namespaces, entity_details, services
from app.services.iam.access_subject import SubjectReader
from app.services.iam.base import IamServiceBase, decode_marker, page

JOB_TTL = 7 * 86400
SERVICE_LEVEL = "SERVICE_LEVEL"
_NEVER = 10**11  # sorts entities without a use after every used one


def _entity_key(namespace: str) -> Any:
    def key(row: dict[str, Any]) -> str:
        last = row["last"].get(namespace)
        rank = _NEVER - int(last) if last is not None else _NEVER
        return f"{rank:012d} {row['info']['type']} {row['info']['name'].lower()}"
    return key


class AccessAdvisorService(IamServiceBase):
    async def generate_service_last_accessed_details(self, call: Call, *, arn: str,
                                                     granularity: str | None = None) -> dict[str, Any]:
        await self._require(call, "GenerateServiceLastAccessedDetails", arn)
        granularity = granularity or SERVICE_LEVEL
        if granularity not in (SERVICE_LEVEL, ACTION_LEVEL):
            raise InvalidInput(f"Granularity `{granularity}` is not SERVICE_LEVEL or ACTION_LEVEL.")
        subject = await SubjectReader(self._store, self._account).read(arn)
        now = self._clock.time()
        namespaces = allowed_namespaces(doc for _, doc in subject.policies)
        records = await self._store.last_accessed([t.id for t in subject.tracked])
        job = {"owner": call.caller.arn if call.caller else "", "type": granularity, "created": now,
               "completed": now, "namespaces": namespaces,
               "services": services(namespaces, subject.tracked, records, now, granularity),
               "entities": entity_details(namespaces, subject.tracked, records, now)}
        job_id = str(uuid.uuid4())
        await self._store.put_access_job(job_id, json.dumps(job), JOB_TTL)
        return {"job_id": job_id}

    async def get_service_last_accessed_details(self, call: Call, *, job_id: str, max_items: int | None = None,
                                                marker: str | None = None) -> dict[str, Any]:
        await self._require(call, "GetServiceLastAccessedDetails", "*")
        job = await self._job(call, job_id)
        chunk, truncated, next_marker = page(job["services"], lambda s: str(s["service_namespace"]),
                                             marker, max_items)
        out = {"job_status": "COMPLETED", "job_type": job["type"], "job_creation_date": job["created"],
               "job_completion_date": job["completed"], "services_last_accessed": chunk,
               "is_truncated": truncated}
        if next_marker is not None:
            out["marker"] = next_marker
        return out

    async def get_service_last_accessed_details_with_entities(
            self, call: Call, *, job_id: str, service_namespace: str, max_items: int | None = None,
            marker: str | None = None) -> dict[str, Any]:
        await self._require(call, "GetServiceLastAccessedDetailsWithEntities", "*")
        job = await self._job(call, job_id)
        namespace = service_namespace.lower()
        rows = job["entities"] if namespace in job["namespaces"] else []
        key = _entity_key(namespace)
        chunk, truncated, next_marker = page(sorted(rows, key=key), key, marker, max_items)
        details = []
        for row in chunk:
            detail: dict[str, Any] = {"entity_info": row["info"]}
            if namespace in row["last"]:
                detail["last_authenticated"] = row["last"][namespace]
            details.append(detail)
        out = {"job_status": "COMPLETED", "job_creation_date": job["created"],
               "job_completion_date": job["completed"], "entity_details_list": details,
               "is_truncated": truncated}
        if next_marker is not None:
            out["marker"] = next_marker
        return out

    async def list_policies_granting_service_access(self, call: Call, *, arn: str,
                                                    service_namespaces: Sequence[str],
                                                    marker: str | None = None) -> dict[str, Any]:
        await self._require(call, "ListPoliciesGrantingServiceAccess", arn)
        decode_marker(marker)  # never issued (one page holds the answer); a bad one is refused
        subject = await SubjectReader(self._store, self._account).read(arn, kinds=("user", "group", "role"))
        wanted: list[str] = []
        for namespace in service_namespaces:
            if namespace.lower() not in (w.lower() for w in wanted):
                wanted.append(namespace)
        granting = [{"service_namespace": namespace,
                     "policies": [ref.shape() for ref, doc in subject.policies
                                  if namespace.lower() in document_namespaces(doc)]}
                    for namespace in wanted]
        return {"policies_granting_service_access": granting, "is_truncated": False}

    async def _job(self, call: Call, job_id: str) -> dict[str, Any]:
        raw = await self._store.access_job(job_id)
        job: dict[str, Any] | None = json.loads(raw) if raw is not None else None
        owner = call.caller.arn if call.caller else ""
        if job is None or job.get("owner") != owner:
            raise NoSuchEntity(f"The job with id {job_id} cannot be found.")
        return job
