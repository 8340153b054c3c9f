"""SAML's xs:dateTime values (`2024-05-01T12:00:00Z`, `...:00.123Z`) as epoch seconds.

Strict: a full date and time, optional fraction (any number of digits up to 12), then `Z`,
an offset or nothing (read as UTC, as SAML requires UTC anyway). Anything else is malformed.
The pattern decides what is accepted; datetime.fromisoformat (fast, C) only converts.
A response repeats the same few instants (IssueInstant twice, NotOnOrAfter twice), so
conversions are cached; only strings short enough to match are ever cache keys.
"""
from __future__ import annotations

import datetime
import functools
import re
from typing import Any

from app.federation.saml.errors import detail

_PATTERN = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,12})?(?:Z|[+-]\d\d:\d\d)?", re.ASCII)
_LONGEST = 38  # the longest text _PATTERN matches: 19 + 13 (fraction) + 6 (offset)
_UTC = datetime.timezone.utc


def instant(text: str | None, what: str) -> float:
    """Epoch seconds of an xs:dateTime, or SamlRejected("saml_malformed")."""
    value = None if text is None or len(text) > _LONGEST else _epoch(text)
    if value is None:
        raise detail("saml_malformed", f"{what} is not a valid xs:dateTime")
    return value


@functools.lru_cache(maxsize=512)
def _epoch(text: str) -> float | None:
    if _PATTERN.fullmatch(text) is None:
        return None
    try:
        value = datetime.datetime.fromisoformat(text)
        if value.tzinfo is None:
            value = value.replace(tzinfo=_UTC)
        return value.timestamp()
    except (ValueError, OverflowError):
        return None


def optional_instant(node: Any, attribute: str, what: str) -> float | None:
    """The instant in `node`'s `attribute`, or None when the attribute is absent."""
    text = node.get(attribute)
    return None if text is None else instant(text, what)
