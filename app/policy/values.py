"""Typed readers for condition values: text -> comparable value, None when unreadable.

Numbers are exact decimals; dates are exact epoch seconds (W3C ISO 8601 profile or epoch
integers, a missing zone meaning UTC, a bare 4-digit value a year); booleans are
case-insensitive; binary is strict base64; IP networks are parsed non-strictly.
"""
from __future__ import annotations

import base64
import binascii
import calendar
import ipaddress
import re
from decimal import Decimal, InvalidOperation

_NUMBER = re.compile(r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)$")
# IAM's date grammar (its legacy parser, as observed against AWS): `T` in either case, a one-
# or two-digit hour, minutes and seconds optional, at most nine fractional digits, a zone of
# `Z`, `+hh`, `+hhmm` or `+hh:mm` after a time; `2016-12-13T` and `01T` are read too.
_DATE = re.compile(
    r"^(\d{1,4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?"
    r"(?:[Tt](?:(\d{1,2})(?::(\d{2})(?::(\d{2})(\.\d{1,9})?)?)?([Zz]|[+-]\d{2}(?::?\d{2})?)?)?)?$"
)
_EPOCH = re.compile(r"^-?\d+(?:\.\d+)?$")
_MAX_EPOCH = 2**63 - 1


def read_number(text: str) -> Decimal | None:
    if len(text) > 64 or not _NUMBER.match(text):
        return None
    try:
        return Decimal(text)
    except InvalidOperation:  # pragma: no cover - the regex admits only valid decimals
        return None


def read_date(text: str) -> Decimal | None:
    """Seconds since the epoch (exact). W3C ISO 8601 profile or epoch seconds; no zone = UTC."""
    if len(text) > 40:
        return None
    if _EPOCH.match(text) and not (len(text) == 4 and text.isdigit()):
        value = Decimal(text)
        return value if abs(value) <= _MAX_EPOCH else None
    m = _DATE.match(text)
    if m is None:
        return None
    year, month, day, hh, mm, ss, frac, tz = m.groups()
    try:
        mo, d = int(month or 1), int(day or 1)
        h, mi, s = int(hh or 0), int(mm or 0), int(ss or 0)
        if not (1 <= mo <= 12 and 1 <= d <= calendar.monthrange(int(year), mo)[1]):
            return None
        if h > 23 or mi > 59 or s > 60:
            return None
        secs = calendar.timegm((int(year), mo, d, h, mi, s, 0, 0, 0))
    except (ValueError, OverflowError):
        return None
    value = Decimal(secs) + (Decimal(frac) if frac else 0)
    if tz and tz not in ("Z", "z"):
        sign = 1 if tz[0] == "+" else -1
        digits = tz[1:].replace(":", "")
        tzh, tzm = int(digits[:2]), int(digits[2:] or 0)
        if tzh > 23 or tzm > 59:
            return None
        value -= sign * (tzh * 3600 + tzm * 60)
    return value


def read_bool(text: str) -> bool | None:
    low = text.lower()
    return True if low == "true" else False if low == "false" else None


def read_binary(text: str) -> bytes | None:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None


def read_ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def read_network(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError:
        return None


