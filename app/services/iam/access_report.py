"""Building one access advisor report (pure): the services a subject's policies allow, each
with the latest authorized use by the entities that count for it.

For every namespace the subject's identity policies allow (app.policy.service_access), sorted
by namespace: LastAuthenticated, LastAuthenticatedEntity and LastAuthenticatedRegion of the
latest use within the tracking period (400 days) by any tracked entity, and
TotalAuthenticatedEntities, the number of tracked entities that used it in that period (0 and no
LastAuthenticated when none did). Tessera serves IAM and STS, so only `iam` and `sts` ever carry
a use; other namespaces the policies name (s3, ec2...) are listed as allowed, never used.

ACTION_LEVEL adds TrackedActionsLastAccessed for the services whose actions are tracked
(`iam`, `sts`): one entry per action used in the period, by action name (the name without its
service prefix, e.g. `GetUser`), with its latest use; absent when no tracked action was used.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from app.policy.service_access import document_namespaces, service_name
from app.services.iam.access_subject import Tracked
from app.store.access_usage import Access

TRACKING_PERIOD = 400 * 86400
TRACKED_ACTION_SERVICES = frozenset({"iam", "sts"})
ACTION_LEVEL = "ACTION_LEVEL"


@dataclass(frozen=True, slots=True)
class Use:
    when: float
    region: str
    entity: Tracked


def allowed_namespaces(documents: Iterable[str]) -> list[str]:
    out: set[str] = set()
    for doc in documents:
        out |= document_namespaces(doc)
    return sorted(out)


def _latest(a: Use | None, b: Use) -> Use:
    return b if a is None or b.when > a.when else a


def uses(tracked: Sequence[Tracked], records: Sequence[Mapping[str, Access]], now: float
         ) -> tuple[dict[str, dict[str, Use]], dict[str, dict[str, Use]]]:
    """(namespace -> entity id -> its latest use, namespace -> action name -> latest use), over
    the tracking period."""
    by_entity: dict[str, dict[str, Use]] = {}
    by_action: dict[str, dict[str, Use]] = {}
    for entity, fields in zip(tracked, records):
        for action, access in fields.items():
            if now - access.when > TRACKING_PERIOD:
                continue
            namespace, _, name = action.partition(":")
            namespace = namespace.lower()
            use = Use(access.when, access.region, entity)
            per_entity = by_entity.setdefault(namespace, {})
            per_entity[entity.id] = _latest(per_entity.get(entity.id), use)
            per_action = by_action.setdefault(namespace, {})
            per_action[name] = _latest(per_action.get(name), use)
    return by_entity, by_action


def services(namespaces: Sequence[str], tracked: Sequence[Tracked], records: Sequence[Mapping[str, Access]],
             now: float, granularity: str) -> list[dict[str, Any]]:
    """ServicesLastAccessed (python member names), sorted by namespace."""
    by_entity, by_action = uses(tracked, records, now)
    out: list[dict[str, Any]] = []
    for namespace in namespaces:
        entry: dict[str, Any] = {"service_name": service_name(namespace), "service_namespace": namespace}
        per_entity = by_entity.get(namespace, {})
        latest: Use | None = None
        for use in per_entity.values():
            latest = _latest(latest, use)
        if latest is not None:
            entry.update(last_authenticated=latest.when, last_authenticated_entity=latest.entity.arn,
                         last_authenticated_region=latest.region)
        entry["total_authenticated_entities"] = len(per_entity)
        if granularity == ACTION_LEVEL and namespace in TRACKED_ACTION_SERVICES and by_action.get(namespace):
            entry["tracked_actions_last_accessed"] = [
                {"action_name": name, "last_accessed_entity": use.entity.arn,
                 "last_accessed_time": use.when, "last_accessed_region": use.region}
                for name, use in sorted(by_action[namespace].items())]
        out.append(entry)
    return out


def entity_details(namespaces: Sequence[str], tracked: Sequence[Tracked],
                   records: Sequence[Mapping[str, Access]], now: float) -> list[dict[str, Any]]:
    """Per tracked entity, its EntityInfo and its latest use of each allowed namespace
    (`last`: namespace -> epoch seconds), for GetServiceLastAccessedDetailsWithEntities."""
    by_entity, _ = uses(tracked, records, now)
    return [{"info": t.info(),
             "last": {ns: by_entity[ns][t.id].when for ns in namespaces if t.id in by_entity.get(ns, {})}}
            for t in tracked]
