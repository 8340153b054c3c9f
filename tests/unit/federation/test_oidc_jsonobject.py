"""app.federation.oidc.jsonobject: the orjson reading (taken only when orjson writes its value back
byte for byte) gives exactly what the strict parser alone gives, value (types and order included)
or refusal (with the same `why`), on generated JSON texts: every serializer's spacing and escaping,
duplicate members at any depth, `\\u` escapes with lone and paired surrogates, number spellings,
nesting around the depth limit, and arbitrary bytes."""
from __future__ import annotations

import json
from typing import Any
from unittest import mock

import orjson
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from app.federation.oidc import jsonobject
from app.federation.oidc.jsonobject import JsonRejected, parse_object

SETTINGS = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def outcome(data: bytes | str, max_depth: int = 20) -> tuple[str, str]:
    """("ok", repr of the value: types, order and signed zeros show) or ("rejected", why)."""
    try:
        return "ok", repr(parse_object(data, max_depth=max_depth))
    except JsonRejected as exc:
        return "rejected", exc.why


def strict_outcome(data: bytes | str, max_depth: int = 20) -> tuple[str, str]:
    """The same, with the strict parser deciding alone."""
    with mock.patch.object(jsonobject, "_canonical", return_value=None):
        return outcome(data, max_depth)


def assert_same(data: bytes | str, max_depth: int = 20) -> None:
    assert outcome(data, max_depth) == strict_outcome(data, max_depth), data


# ---- JSON texts: values written by several serializers, and objects written by hand ----
names = st.sampled_from(["a", "b", "iss", "", "\u00e9", "\x00", "\\", '"']) | st.text(max_size=4)
scalars = (st.none() | st.booleans()
           | st.integers(min_value=-(2**70), max_value=2**70)
           | st.sampled_from([2**63 - 1, 2**63, 2**64 - 1, 2**64, -(2**63), -(2**63) - 1, 0])
           | st.floats() | st.sampled_from([0.0, -0.0, 1e16, 1e22, 1e-7, 5e-324, 1.7976931348623157e308])
           | st.text(max_size=8) | st.sampled_from(["\u2028", "\x7f", "\x1f", "\U0001f600", "/", "\\u"]))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(names, inner, max_size=3), max_leaves=10)


def _dumps_python(value: Any, compact: bool, ascii_only: bool) -> str:
    separators = (",", ":") if compact else (", ", ": ")
    return json.dumps(value, separators=separators, ensure_ascii=ascii_only)  # NaN/Infinity as is


@st.composite
def serialized(draw: st.DrawFn) -> bytes:
    value = draw(st.dictionaries(names, values, max_size=5))
    how = draw(st.sampled_from(["orjson", "python", "python_compact", "python_compact_utf8"]))
    if how == "orjson":
        try:
            return orjson.dumps(value)
        except orjson.JSONEncodeError:  # beyond 64-bit integers
            how = "python_compact_utf8"
    text = _dumps_python(value, compact=how != "python", ascii_only=how == "python")
    return text.encode("utf-8", "surrogatepass")


@st.composite
def handwritten(draw: st.DrawFn, depth: int = 0) -> str:
    """An object written member by member: names repeat often, strings carry raw escapes."""
    members = []
    for _ in range(draw(st.integers(min_value=0, max_value=3))):
        name = draw(st.sampled_from(['"a"', '"b"', '"\\u0061"', '"a"', '""']))
        if depth < 3 and draw(st.booleans()):
            member: str = draw(handwritten(depth + 1))
        else:
            member = draw(st.sampled_from([
                '"x"', '"\\ud800"', '"\\udc00x"', '"\\ud83d\\ude00"', '"\\u00e9"', '"\\/"', '1', '-0', '1.0',
                '1E5', '1e400', '-1e400', '18446744073709551616', 'NaN', 'Infinity', 'true', 'null',
                '[1,[2,{}]]', '"\x01"', '"\\u0000"']))
        members.append(f"{name}:{member}")
    separator = draw(st.sampled_from([",", ", ", " ,"]))
    return "{" + separator.join(members) + "}"


@SETTINGS
@given(serialized())
def test_serialized_values_read_alike(data: bytes) -> None:
    assert_same(data)


@SETTINGS
@given(handwritten())
@example('{"a":1,"a":1}')
@example('{"a":{"b":1,"b":1}}')
@example('{"a":"\\ud800"}')
def test_handwritten_objects_read_alike(text: str) -> None:
    assert_same(text)
    assert_same(text.encode("utf-8"))


@SETTINGS
@given(st.binary(max_size=40) | st.text(alphabet='{}[]":,0123456789.eE+-\\u abtrnfl\u00e9', max_size=40))
def test_arbitrary_input_reads_alike(data: bytes | str) -> None:
    assert_same(data)


@pytest.mark.parametrize("depth", [19, 20, 21, 254, 255, 256, 1023, 1024, 1100])
def test_nesting_reads_alike(depth: int) -> None:
    for text in ('{"a":' + "[" * depth + "]" * depth + "}", "{" + '"a":{' * depth + "}" * depth + "}"):
        assert_same(text.encode())
        assert_same(text.encode(), max_depth=depth + 1)


def test_canonical_texts_take_the_fast_reading() -> None:
    """Not vacuous: a compact token claim set is read by orjson, and only canonical texts are."""
    claims = b'{"iss":"https://idp.example","aud":["a","b"],"exp":1796233496,"x":{"y":null,"z":1.5}}'
    with mock.patch.object(jsonobject, "_strict", side_effect=AssertionError("strict parser used")):
        assert parse_object(claims) == orjson.loads(claims)
    for text in (b'{"a": 1}', b'{"a":1,"a":1}', b'{"a":"\\/"}', b'{"a":1E5}', b'{"a":-0}'):
        assert jsonobject._canonical(text) is None, text
