"""Everything the policy engine needs about a principal, read in as few round trips as
the data allows: 2 for roles and users without group-attached managed policies, 3 when a
user's groups have customer managed policies attached (their documents are only known after
the group attachments were read; AWS managed policies' documents are data, never read from
Redis). No caching: an IAM change shows on the very next request."""
from __future__ import annotations

import json
from typing import Any

from app.core import arn as arns
from app.core.records import PrincipalPolicies
from app.store.iam_codec import tags_from_json
from app.store.iam_entities import EntitiesMixin


class ReadsMixin(EntitiesMixin):
    async def principal_policies(self, kind: str, name: str) -> PrincipalPolicies | None:
        if kind not in ("user", "role"):
            raise ValueError(f"unknown principal kind {kind!r}")
        k = self._k
        lname = name.lower()
        calls: list[tuple[str, Any]] = [
            ("get", k.entity(kind, lname)), ("hgetall", k.inline(kind, lname)),
            ("smembers", k.attached(kind, lname))]
        if kind == "user":
            calls.append(("smembers", k.user_groups(lname)))
        raw, inline, attached, *rest = await self._read(*calls)
        if raw is None:
            return None
        record = json.loads(raw)
        groups = sorted(rest[0]) if rest else []
        boundary_arn: str | None = record.get("b")

        # round 2: groups' policies, documents of directly attached policies and boundary
        own_arns = sorted(attached)
        docs, docs_wanted = self._aws_documents(own_arns + ([boundary_arn] if boundary_arn else []))
        calls = [("get", self._doc_key(a)) for a in docs_wanted]
        for g in groups:
            calls += [("get", k.entity("group", g)), ("hgetall", k.inline("group", g)),
                      ("smembers", k.attached("group", g))]
        got = await self._read(*calls) if calls else []
        docs |= {a: self._doc_of(a, v) for a, v in zip(docs_wanted, got)}
        group_rows = [got[len(docs_wanted) + 3 * i: len(docs_wanted) + 3 * i + 3]
                      for i in range(len(groups))]

        # round 3 (only if needed): documents of managed policies attached to the groups
        aws_docs, extra = self._aws_documents(sorted({a for row in group_rows for a in row[2]} - docs.keys()))
        docs |= aws_docs
        if extra:
            got = await self._read(*[("get", self._doc_key(a)) for a in extra])
            docs |= {a: self._doc_of(a, v) for a, v in zip(extra, got)}

        identity: list[tuple[str, str]] = []
        seen: set[str] = set()

        def managed(arns_: list[str]) -> None:
            for a in arns_:
                if a not in seen and docs.get(a) is not None:
                    seen.add(a)
                    identity.append((a, docs[a]))  # type: ignore[arg-type]

        owner = record["n"]
        identity += [(f"{kind}/{owner}/inline/{p}", d) for p, d in sorted(inline.items())]
        managed(own_arns)
        for graw, ginline, gattached in group_rows:
            if graw is None:
                continue
            gname = json.loads(graw)["n"]
            identity += [(f"group/{gname}/inline/{p}", d) for p, d in sorted(ginline.items())]
            managed(sorted(gattached))
        boundary = None
        if boundary_arn and docs.get(boundary_arn) is not None:
            boundary = (boundary_arn, docs[boundary_arn])
        return PrincipalPolicies(identity=tuple(identity), boundary=boundary,  # type: ignore[arg-type]
                                 tags=tags_from_json(record.get("t")))

    def _aws_documents(self, policy_arns: list[str]) -> tuple[dict[str, str | None], list[str]]:
        """(the documents of the AWS managed policies among `policy_arns`, which are data, not
        Redis state; the other ARNs, whose documents are read from Redis)."""
        aws: dict[str, str | None] = {}
        for a in policy_arns:
            if arns.is_aws_policy(a):
                found = self._aws.get(a)
                aws[a] = found.document if found is not None else None
        return aws, [a for a in policy_arns if a not in aws]

    def _doc_key(self, policy_arn: str) -> str:
        lname = self.policy_lname(policy_arn) or "\x00invalid"
        return self._k.policy_document(lname)

    @staticmethod
    def _doc_of(policy_arn: str, raw: str | None) -> str | None:
        if raw is None:
            return None
        stored_arn, _, doc = raw.partition("\n")
        return doc if stored_arn == policy_arn else None
