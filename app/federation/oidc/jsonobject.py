"""JSON objects parsed strictly: the one way JOSE headers, claim sets and key sets become dicts.

Refused: anything but UTF-8 text, a top level that is not an object, duplicate member names at
any level (RFC 7515 §4 / RFC 7519 §4: a parser that keeps the last or the first would let two
readers see two tokens), `NaN`/`Infinity`, integers too long to convert, strings holding a lone
UTF-16 surrogate (a `\\ud800` escape: such text cannot be written as UTF-8 to XML, Redis or
logs later), and nesting deeper than `max_depth`. Python's C scanner does the parsing; a
Python hook only sees each object's pairs.
"""
from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

_DECODER_ERRORS = (ValueError, RecursionError, TypeError)  # JSONDecodeError is a ValueError


class JsonRejected(ValueError):
    """Not a JSON object this layer accepts; `why` is a short word (`duplicate`, `depth`, `syntax`)."""

    def __init__(self, why: str) -> None:
        super().__init__(why)
        self.why = why


class _Duplicate(Exception):
    pass


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        raise _Duplicate
    return out


def _constant(name: str) -> Any:
    raise JsonRejected("constant")


# Built once: `json.loads(text, **options)` would construct a decoder on every call.
_DECODER = json.JSONDecoder(object_pairs_hook=_pairs, parse_constant=_constant)


def _check(value: Any, limit: int, strings: bool) -> str | None:
    """Walk `value` without recursion: `depth` when it nests deeper than `limit` containers,
    `surrogate` when `strings` and a key or string holds a lone UTF-16 surrogate."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if level > limit:
            return "depth"
        if isinstance(item, dict):
            if strings and any(not _encodable(k) for k in item):
                return "surrogate"
            children: Iterable[Any] = item.values()
        elif isinstance(item, list):
            children = item
        else:
            if strings and isinstance(item, str) and not _encodable(item):
                return "surrogate"
            continue
        stack.extend((v, level + 1) for v in children)
    return None


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def parse_object(data: bytes | str, *, max_depth: int = 20) -> dict[str, Any]:
    """The JSON object in `data` (UTF-8 bytes or text), or JsonRejected."""
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data.encode("utf-8").decode("utf-8")
    except UnicodeError:  # invalid UTF-8, or text holding a lone surrogate
        raise JsonRejected("encoding") from None
    try:
        value = _DECODER.decode(text)
    except _Duplicate:
        raise JsonRejected("duplicate") from None
    except JsonRejected:
        raise
    except RecursionError:
        raise JsonRejected("depth") from None
    except _DECODER_ERRORS:
        raise JsonRejected("syntax") from None
    if not isinstance(value, dict):
        raise JsonRejected("not_object")
    # Cheap bounds first: fewer containers than the limit cannot nest deeper than it, and a lone
    # surrogate (which UTF-8 text cannot carry) can only come from a `\\u` escape.
    deep = text.count("{") + text.count("[") > max_depth
    escaped = "\\u" in text
    if deep or escaped:
        problem = _check(value, max_depth, escaped)
        if problem:
            raise JsonRejected(problem)
    return value
