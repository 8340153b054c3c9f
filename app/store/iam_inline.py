"""Inline policies of users, groups and roles, with AWS's aggregate size limits."""
from __future__ import annotations

from typing import Any

from app.core.errors import LimitExceeded, NoSuchEntity
from app.store.iam_entities import EntitiesMixin, not_found

# aggregate size of all inline policies of one entity, whitespace not counted
INLINE_LIMIT = {"user": 2048, "group": 5120, "role": 10240}


def inline_not_found(kind: str, policy_name: str) -> NoSuchEntity:
    return NoSuchEntity(f"The {kind} policy with name {policy_name} cannot be found.")


class InlineMixin(EntitiesMixin):
    async def put_inline(self, kind: str, name: str, policy_name: str, document: str,
                         size: int) -> None:
        """Create or replace; `size` is the document's counted size (policy_size)."""
        lname = name.lower()
        k = self._k
        key, sizes = k.entity(kind, lname), k.inline_sizes(kind, lname)
        limit = INLINE_LIMIT[kind]

        async def body(pipe: Any) -> None:
            there, current = await self._read(("exists", key), ("hgetall", sizes))
            if not there:
                raise not_found(kind, name)
            total = size + sum(int(v) for p, v in current.items() if p != policy_name)
            if total > limit:
                raise LimitExceeded(
                    f"Maximum policy size of {limit} bytes exceeded for {kind} {name}")
            pipe.multi()
            pipe.hset(k.inline(kind, lname), policy_name, document)
            pipe.hset(sizes, policy_name, str(size))

        await self._atomic([key, sizes], body)

    async def get_inline(self, kind: str, name: str, policy_name: str) -> str:
        lname = name.lower()
        there, doc = await self._read(("exists", self._k.entity(kind, lname)),
                                      ("hget", self._k.inline(kind, lname), policy_name))
        if not there:
            raise not_found(kind, name)
        if doc is None:
            raise inline_not_found(kind, policy_name)
        return str(doc)

    async def delete_inline(self, kind: str, name: str, policy_name: str) -> None:
        lname = name.lower()
        k = self._k
        key, inl = k.entity(kind, lname), k.inline(kind, lname)

        async def body(pipe: Any) -> None:
            there, present = await self._read(("exists", key), ("hexists", inl, policy_name))
            if not there:
                raise not_found(kind, name)
            if not present:
                raise inline_not_found(kind, policy_name)
            pipe.multi()
            pipe.hdel(inl, policy_name)
            pipe.hdel(k.inline_sizes(kind, lname), policy_name)

        await self._atomic([key, inl], body)

    async def inline_policies(self, kind: str, name: str) -> dict[str, str] | None:
        """name -> document, in name order; None when the entity does not exist."""
        lname = name.lower()
        there, docs = await self._read(("exists", self._k.entity(kind, lname)),
                                       ("hgetall", self._k.inline(kind, lname)))
        if not there:
            return None
        return dict(sorted(docs.items()))
