"""SAML's xs:dateTime values (`2024-05-01T12:00:00Z`, `...:00.123Z`) as epoch seconds.

Strict: a full date and time, optional fraction (any number of digits up to 12), then `Z`,
an offset or nothing (read as UTC, as SAML requires UTC anyway). Anything else is malformed.
The pattern decides what is accepted; datetime.fromisoformat (fast, C) only converts.
"""
from __future__ import annotations

import datetime
import re
from typing import Any

from app.federation.saml.errors import detail

_PATTERN = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,12})?(?:Z|[+-]\d\d:\d\d)?", re.ASCII)
_UTC = datetime.timezone.utc


def instant(text: str | None, what: str) -> float:
    """Epoch seconds of an xs:dateTime, or SamlRejected("saml_malformed")."""
    if text is None or _PATTERN.fullmatch(text) is None:
        raise detail("saml_malformed", f"{what} is not a valid xs:dateTime")
    try:
        value = datetime.datetime.fromisoformat(text)
        if value.tzinfo is None:
            value = value.replace(tzinfo=_UTC)
        return value.timestamp()
    except (ValueError, OverflowError):
        raise detail("saml_malformed", f"{what} is not a valid xs:dateTime") from None


def optional_instant(node: Any, attribute: str, what: str) -> float | None:
    """The instant in `node`'s `attribute`, or None when the attribute is absent."""
    text = node.get(attribute)
    return None if text is None else instant(text, what)
