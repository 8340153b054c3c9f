"""JSON objects parsed strictly: the one way JOSE headers, claim sets and key sets become dicts.

Refused: anything but UTF-8 text, a top level that is not an object, duplicate member names at
any level (RFC 7515 §4 / RFC 7519 §4: a parser that keeps the last or the first would let two
readers see two tokens), `NaN`/`Infinity`, integers too long to convert, strings holding a lone
UTF-16 surrogate (a `\\ud800` escape: such text cannot be written as UTF-8 to XML, Redis or
logs later), and nesting deeper than `max_depth`. Python's C scanner does the parsing; a
Python hook only sees each object's pairs.

A faster reading comes first and gives the very same result: orjson parses the text, and its value
is taken only when orjson writes that value back as exactly the same bytes. Such a text is the
serialization of a plain value: no member name can repeat (a dict's keys are distinct, and
distinct strings are written distinctly), no `NaN`, no whitespace, no escape that could hide a
lone surrogate (orjson refuses those), no integer beyond 64 bits; and Python's parser reads it back
to the same value, types included (orjson writes every float with a `.` or an exponent, in the
shortest form that reads back exactly). Any other text (spaces, `\\/`, `\\u00e9`, `1E5`, a
duplicate) goes to the strict parser, which decides alone. Either way the depth check runs on
the result (the surrogate check only on the strict parser's: orjson refuses lone surrogates);
tests/unit/federation/test_oidc_jsonobject.py holds the two readings equal on generated texts.
"""
from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import orjson

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


def _canonical(raw: bytes) -> Any:
    """orjson's reading of `raw` when orjson writes it back byte for byte, else None."""
    try:
        value = orjson.loads(raw)
        return value if orjson.dumps(value) == raw else None
    except (orjson.JSONDecodeError, orjson.JSONEncodeError):  # e.g. nested deeper than orjson writes
        return None


def _strict(raw: bytes) -> Any:
    try:
        text = raw.decode("utf-8")
    except UnicodeError:
        raise JsonRejected("encoding") from None
    try:
        return _DECODER.decode(text)
    except _Duplicate:
        raise JsonRejected("duplicate") from None
    except JsonRejected:
        raise
    except RecursionError:
        raise JsonRejected("depth") from None
    except _DECODER_ERRORS:
        raise JsonRejected("syntax") from None


def parse_object(data: bytes | str, *, max_depth: int = 20) -> dict[str, Any]:
    """The JSON object in `data` (UTF-8 bytes or text), or JsonRejected."""
    if isinstance(data, str):
        try:
            data = data.encode("utf-8")
        except UnicodeError:  # text holding a lone surrogate
            raise JsonRejected("encoding") from None
    value = _canonical(data)
    # A lone surrogate (which UTF-8 text cannot carry) can only come from a `\\u` escape, and
    # never from orjson (it refuses one in reading and in writing).
    escaped = False
    if value is None:
        value = _strict(data)
        escaped = b"\\u" in data
    if not isinstance(value, dict):
        raise JsonRejected("not_object")
    # A cheap bound first: fewer containers than the limit cannot nest deeper than it (counted in
    # the UTF-8 bytes: no byte of a multi-byte character is ASCII).
    deep = data.count(b"{") + data.count(b"[") > max_depth
    if deep or escaped:
        problem = _check(value, max_depth, escaped)
        if problem:
            raise JsonRejected(problem)
    return value
