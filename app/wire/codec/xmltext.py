"""Text helpers for the XML the encoder writes: escaping, timestamps, policy documents, blobs.

- `esc`: one C-level regex scan; only strings that need it are rewritten. `\\r` becomes `&#13;`
  (parsers normalise a literal CR to LF); C0 controls, lone surrogates and U+FFFE/U+FFFF, which
  are not XML characters (botocore would fail with "invalid XML received"), become U+FFFD.
- `ts`: `%Y-%m-%dT%H:%M:%SZ` from epoch seconds, an aware (or naive = UTC) datetime, or an
  already formatted ISO string; memoised.
- `pol`: `quote(doc, safe='')`, the form botocore's `after-call.iam` handler undoes with
  `json.loads(unquote(text))`; memoised, because the same documents are listed again and again.
"""
from __future__ import annotations

import base64
import re
import time
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any
from urllib.parse import quote

_NEEDS_ESCAPE = re.compile("[&<>\r\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_REPLACE = {"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;"}
_SURROGATE = re.compile("[\ud800-\udfff]")


def _replace(m: re.Match[str]) -> str:
    return _REPLACE.get(m.group(0), "\ufffd")


def esc(value: Any) -> str:
    text: str = value if value.__class__ is str else str(value)
    if _NEEDS_ESCAPE.search(text) is None:
        return text
    return _NEEDS_ESCAPE.sub(_replace, text)


@lru_cache(maxsize=8192)
def pol(doc: str) -> str:
    if doc.__class__ is not str:
        doc = str(doc)
    try:
        return quote(doc, safe="")
    except UnicodeEncodeError:  # a lone surrogate cannot be UTF-8 encoded
        return quote(_SURROGATE.sub("\ufffd", doc), safe="")


@lru_cache(maxsize=8192)
def _ts_epoch(seconds: float) -> str:
    t = time.gmtime(seconds)
    return "%04d-%02d-%02dT%02d:%02d:%02dZ" % (t.tm_year, t.tm_mon, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec)


@lru_cache(maxsize=1024)
def _ts_text(text: str) -> str:
    if len(text) == 20 and text[-1] == "Z" and text[10] == "T":
        return text
    dt = datetime.fromisoformat(text.replace("z", "Z").replace("Z", "+00:00"))
    return _ts_datetime(dt)


def _ts_datetime(dt: datetime) -> str:
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def ts(value: Any) -> str:
    cls = value.__class__
    if cls is float or cls is int:
        return _ts_epoch(value)
    if cls is str:
        return _ts_text(value)
    if isinstance(value, datetime):
        return _ts_datetime(value)
    return _ts_epoch(float(value))


def blob(value: Any) -> str:
    if isinstance(value, str):
        value = value.encode("utf-8")
    return base64.b64encode(value).decode("ascii")


def boolean(value: Any) -> str:
    return "true" if value else "false"


def integer(value: Any) -> str:
    return str(int(value))


def number(value: Any) -> str:
    return repr(float(value))
