"""Shared plumbing of the IAM service: authorization, ARNs of targets, tags, pagination.

Every action authorizes first (AWS checks authorization before existence: a missing
target is named by the ARN it would have with path `/`), then validates and acts.
"""
from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol, TypeVar

from app.core import arn as arns
from app.core.clock import Clock
from app.core.errors import InvalidInput, LimitExceeded, ValidationError
from app.core.records import Call, PolicyVersion, Tag
from app.policy.managed import AwsManagedPolicies
from app.services.iam.documents import PolicyChecks
from app.store.iam_codec import version_number
from app.store.iam_store import IamStore

T = TypeVar("T")
ContextValue = str | list[str]
DEFAULT_MAX_ITEMS = 100
MAX_TAGS = 50
_MARKER_PREFIX = "t1."


class Authorizer(Protocol):
    async def require(self, call: Call, action: str, resource: str, *,
                      context: Mapping[str, ContextValue] | None = None,
                      resource_tags: Sequence[Tag] = ()) -> None: ...


def encode_marker(key: str) -> str:
    return _MARKER_PREFIX + base64.urlsafe_b64encode(key.encode()).decode().rstrip("=")


def decode_marker(marker: str | None) -> str | None:
    if marker is None:
        return None
    if not marker.startswith(_MARKER_PREFIX):
        raise ValidationError("invalid pagination marker")
    body = marker[len(_MARKER_PREFIX):]
    try:
        return base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise ValidationError("invalid pagination marker") from None


def page(items: Sequence[T], key: Callable[[T], str], marker: str | None,
         max_items: int | None) -> tuple[list[T], bool, str | None]:
    """In-memory pagination over `items` sorted by `key` (unique per item).
    -> (page, is_truncated, next marker)."""
    after = decode_marker(marker)
    limit = max_items or DEFAULT_MAX_ITEMS
    rest = [i for i in items if after is None or key(i) > after]
    chunk = rest[:limit]
    truncated = len(rest) > limit
    return chunk, truncated, encode_marker(key(chunk[-1])) if truncated else None


def version_page(versions: Sequence[PolicyVersion], marker: str | None,
                 max_items: int | None) -> tuple[list[PolicyVersion], bool, str | None]:
    """One page of ListPolicyVersions, newest first (the key orders descending version numbers
    as ascending strings)."""
    def key(v: PolicyVersion) -> str:
        return f"{10**9 - version_number(v.version_id):010d}"

    return page(sorted(versions, key=key), key, marker, max_items)


def listing(name: str, items: list[Any], truncated: bool, marker: str | None) -> dict[str, Any]:
    return {name: items, "is_truncated": truncated, "marker": marker}


def parse_tags(tags: Sequence[Mapping[str, str]] | None) -> tuple[Tag, ...]:
    """Model-shaped tag dicts -> records; duplicate keys (case-insensitive) and the
    reserved `aws:` prefix are InvalidInput, more than 50 tags LimitExceeded."""
    out = tuple(Tag(t["Key"], t.get("Value", "")) for t in tags or ())
    keys = [t.key.lower() for t in out]
    if len(set(keys)) != len(keys):
        raise InvalidInput("Duplicate tag keys found. Please note that Tag keys are "
                           "case insensitive.")
    if any(k.startswith("aws:") for k in keys):
        raise InvalidInput("User-provided tag keys cannot start with the reserved prefix "
                           "`aws:`.")
    if len(out) > MAX_TAGS:
        raise LimitExceeded(f"Cannot exceed quota for TagsPerResource: {MAX_TAGS}")
    return tuple(sorted(out, key=lambda t: t.key))


def tag_context(tags: Sequence[Tag]) -> dict[str, ContextValue]:
    ctx: dict[str, ContextValue] = {f"aws:RequestTag/{t.key}": t.value for t in tags}
    if tags:
        ctx["aws:TagKeys"] = [t.key for t in tags]
    return ctx


def untag_context(tag_keys: Sequence[str]) -> dict[str, ContextValue]:
    return {"aws:TagKeys": list(tag_keys)}


def tag_listing(tags: Sequence[Tag], marker: str | None, max_items: int | None) -> dict[str, Any]:
    """List<Entity>Tags: the entity's tags ordered by key (case-insensitively), paged."""
    return listing("tags", *page(sorted(tags, key=lambda t: t.key.lower()), lambda t: t.key.lower(),
                                 marker, max_items))


class IamServiceBase:
    def __init__(self, store: IamStore, authz: Authorizer, *, account: str,
                 clock: Clock, aws_policies: AwsManagedPolicies | None = None) -> None:
        self._store = store
        self._authz = authz
        self._account = account
        self._clock = clock
        # without a catalog no AWS managed policy exists (`is None`: a catalog's len() loads it)
        self._aws = aws_policies if aws_policies is not None else AwsManagedPolicies(None)
        self._checks = PolicyChecks()

    async def _require(self, call: Call, action: str, resource: str, *,
                       context: Mapping[str, ContextValue] | None = None,
                       resource_tags: Sequence[Tag] = ()) -> None:
        await self._authz.require(call, f"iam:{action}", resource, context=context or None,
                                  resource_tags=resource_tags)

    async def _scan(self, out: str, lister: Any, path_prefix: str | None, marker: str | None,
                    max_items: int | None, key: Callable[[Any], str],
                    summary: Callable[[Any], Any] | None = None) -> dict[str, Any]:
        """Page through a store index scan (`lister(prefix, after, limit)`); the marker
        carries the lowercased name of the last item returned."""
        items, more = await lister(path_prefix or "/", decode_marker(marker),
                                   max_items or DEFAULT_MAX_ITEMS)
        if summary is not None:
            items = [summary(i) for i in items]
        return listing(out, items, more, encode_marker(key(items[-1])) if more else None)

    # ARN of a (possibly missing) target: its real ARN, else the one it would have at `/`.
    def _user_arn(self, name: str, path: str = "/") -> str:
        return arns.user(self._account, path, name)

    def _group_arn(self, name: str, path: str = "/") -> str:
        return arns.group(self._account, path, name)

    def _role_arn(self, name: str, path: str = "/") -> str:
        return arns.role(self._account, path, name)
