"""SAML's xs:dateTime values (`2024-05-01T12:00:00Z`, `...:00.123Z`) as epoch seconds.

Strict: a full date and time, optional fraction (any number of digits), then `Z`, an offset
or nothing (read as UTC, as SAML requires UTC anyway). Anything else is malformed.
"""
from __future__ import annotations

import datetime
import re
from typing import Any

from app.federation.saml.errors import detail

_PATTERN = re.compile(r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d{1,12}))?(Z|[+-]\d\d:\d\d)?", re.ASCII)
_UTC = datetime.timezone.utc


def instant(text: str | None, what: str) -> float:
    """Epoch seconds of an xs:dateTime, or SamlRejected("saml_malformed")."""
    m = _PATTERN.fullmatch(text or "")
    if m is None:
        raise detail("saml_malformed", f"{what} is not a valid xs:dateTime")
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    fraction, zone = m.group(7), m.group(8)
    try:
        tz = _UTC
        if zone and zone != "Z":
            sign = -1 if zone[0] == "-" else 1
            tz = datetime.timezone(sign * datetime.timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6])))
        value = datetime.datetime(year, month, day, hour, minute, second, tzinfo=tz).timestamp()
    except (ValueError, OverflowError):
        raise detail("saml_malformed", f"{what} is not a valid xs:dateTime") from None
    return value + (float("0." + fraction) if fraction else 0.0)


def optional_instant(node: Any, attribute: str, what: str) -> float | None:
    """The instant in `node`'s `attribute`, or None when the attribute is absent."""
    text = node.get(attribute)
    return None if text is None else instant(text, what)
