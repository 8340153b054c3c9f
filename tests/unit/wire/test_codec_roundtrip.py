"""Every STS and IAM operation round-trips through REAL botocore, both directions.

Input: random valid parameters -> botocore `QuerySerializer` -> urlencode (as botocore sends
them) -> parse_form -> Operation.decode == the parameters.
Output: random results -> Operation.encode -> botocore `QueryParser` + the iam after-call
policy-document handler == the results (policy documents compared as `json.loads(original)`).
"""
from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlencode

import pytest
from botocore import xform_name
from botocore.handlers import json_decode_policies
from botocore.model import Shape
from botocore.parsers import QueryParser
from botocore.serialize import QuerySerializer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.wire.codec import QueryCodec, parse_form
from app.wire.codec.omissions import EMPTY, NEVER, OMITTED, Rules, rule_tree
from app.wire.codec.patterns import compile_java, translate

CODEC = QueryCodec()
OPS = {svc: CODEC.operations(svc) for svc in ("sts", "iam")}
_CLASS_ONLY = re.compile(r"\^?(\[(?:\\.|[^\]\\])*\])([*+])\$?")
_SETTINGS = settings(
    max_examples=100, deadline=None, derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
)
_PROBES = [chr(c) for c in range(0x250)] + list("中ü\u2003\u2028٣Ⅻ𝟘\ud7ff\ue000\ufffd")
_ANY = st.characters(blacklist_categories=("Cs",))
# characters an XML 1.0 document can carry (the encoder replaces the others with U+FFFD)
_XML_TEXT = st.characters(
    blacklist_categories=("Cs",),
    blacklist_characters="".join(map(chr, [*range(0, 9), 11, 12, *range(14, 32), 0xFFFE, 0xFFFF])),
)


def _string(shape: Shape, *, output: bool) -> st.SearchStrategy[str]:
    meta = shape.metadata
    if meta.get("enum"):
        return st.sampled_from(meta["enum"])
    lo, hi = meta.get("min", 0), meta.get("max")
    cap = min(hi if hi is not None else lo + 12, lo + 12)
    pattern = meta.get("pattern")
    if pattern is None:
        if output:
            text = st.text(_XML_TEXT | st.sampled_from("&<>\r\n\t é\"'"), min_size=lo, max_size=cap)
        else:
            text = st.text(min_size=lo, max_size=cap)
        return text
    m = _CLASS_ONLY.fullmatch(pattern)
    regex = compile_java(pattern)
    if m is not None:
        char_class = compile_java(m.group(1))  # re.ASCII: \w is [A-Za-z0-9_]
        alphabet = st.sampled_from([c for c in _PROBES if char_class.fullmatch(c)])
        low = max(lo, 1 if m.group(2) == "+" else 0)
        return st.text(alphabet, min_size=low, max_size=max(cap, low))
    return st.from_regex(re.compile(translate(pattern)), fullmatch=True, alphabet=_ANY).filter(
        lambda s: regex.fullmatch(s) is not None and lo <= len(s) and (hi is None or len(s) <= hi)
    )


def _policy_doc() -> st.SearchStrategy[str]:
    return st.dictionaries(st.text(max_size=5), st.text(_XML_TEXT, max_size=8) | st.integers(), max_size=3).map(
        lambda d: json.dumps({"Version": "2012-10-17", **d})
    )


_CACHE: dict[tuple[str, bool, bool], st.SearchStrategy[Any]] = {}


def strategy(shape: Shape, *, output: bool, depth: int = 0) -> st.SearchStrategy[Any]:
    key = (shape.name, output, depth == 0)
    found = _CACHE.get(key)
    if found is None:
        found = _CACHE[key] = _strategy(shape, output=output, depth=depth)
    return found


def _strategy(shape: Shape, *, output: bool, depth: int) -> st.SearchStrategy[Any]:
    kind = shape.type_name
    meta = shape.metadata
    if kind == "structure":
        members = shape.members  # type: ignore[attr-defined]
        required = set(shape.required_members)  # type: ignore[attr-defined]
        req = {n: strategy(m, output=output, depth=depth + 1) for n, m in members.items() if n in required}
        opt = {n: strategy(m, output=output, depth=depth + 1) for n, m in members.items() if n not in required}
        out = st.fixed_dictionaries(req, optional=opt)
        # botocore drops empty structures from requests, so a sent structure is never empty
        return out if output or depth == 0 or req else out.filter(bool)
    if kind == "list":
        lo = meta.get("min", 0)
        hi = min(meta.get("max", lo + 3), lo + 3)
        return st.lists(strategy(shape.member, output=output, depth=depth + 1), min_size=lo, max_size=hi)  # type: ignore[attr-defined]
    if kind == "map":
        lo = max(meta.get("min", 0), 0 if output else 1)  # empty maps are not sent
        return st.dictionaries(
            _string(shape.key, output=output),  # type: ignore[attr-defined]
            strategy(shape.value, output=output, depth=depth + 1),  # type: ignore[attr-defined]
            min_size=lo, max_size=max(lo, 3),
        )
    if kind == "string":
        if output and shape.name == "policyDocumentType":
            return _policy_doc()
        return _string(shape, output=output)
    if kind in ("integer", "long"):
        bits = 31 if kind == "integer" else 63
        return st.integers(meta.get("min", -(2**bits)), meta.get("max", 2**bits - 1))
    if kind == "boolean":
        return st.booleans()
    if kind == "timestamp":
        return st.datetimes(
            min_value=datetime(1971, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(timezone.utc)
        ).map(lambda d: d.replace(microsecond=0))
    if kind == "blob":
        return st.binary(max_size=12)
    if kind in ("float", "double"):
        return st.floats(allow_nan=False, allow_infinity=False)
    raise AssertionError(kind)


def _omissions(service: str, action: str) -> Rules:
    return rule_tree(OMITTED.get(service, {}).get(action, {}))


def _expected_output(shape: Shape, value: Any, service: str, in_map: bool = False, rules: Rules | None = None) -> Any:
    """What botocore should hand the user: policy documents JSON-decoded (iam only), without
    the members the operation's omission rules leave out (app.wire.codec.omissions)."""
    kind = shape.type_name
    if kind == "structure":
        out = {}
        for n, v in value.items():
            rule = (rules or {}).get(n)
            if rule == NEVER or (rule == EMPTY and not v):
                continue
            sub = rule if isinstance(rule, dict) else None
            out[n] = _expected_output(shape.members[n], v, service, in_map, sub)  # type: ignore[attr-defined]
        return out
    if kind == "list":
        return [_expected_output(shape.member, v, service, in_map, rules) for v in value]  # type: ignore[attr-defined]
    if kind == "map":
        return {k: _expected_output(shape.value, v, service, True) for k, v in value.items()}  # type: ignore[attr-defined]
    if service == "iam" and not in_map and shape.name == "policyDocumentType":
        return json.loads(value)
    return value


def _as_service_result(shape: Shape, value: Any, snake: bool) -> Any:
    """Re-key nested dicts the way services hand results over (xform_name keys)."""
    kind = shape.type_name
    if kind == "structure":
        return {
            (xform_name(n) if snake else n): _as_service_result(shape.members[n], v, snake)  # type: ignore[attr-defined]
            for n, v in value.items()
        }
    if kind == "list":
        return tuple(_as_service_result(shape.member, v, snake) for v in value)  # type: ignore[attr-defined]
    if kind == "map":
        return {k: _as_service_result(shape.value, v, snake) for k, v in value.items()}  # type: ignore[attr-defined]
    return value


def _op_ids(service: str) -> list[str]:
    return [op.name for op in OPS[service]]


@pytest.mark.parametrize("service", ["sts", "iam"])
@_SETTINGS
@given(data=st.data())
def test_input_round_trip_through_botocore_serializer(service: str, data: st.DataObject) -> None:
    op = data.draw(st.sampled_from(OPS[service]), label="operation")
    shape = op.model.input_shape
    params = data.draw(strategy(shape, output=False), label="params") if shape is not None else {}
    request = QuerySerializer().serialize_to_request(params, op.model)
    body = urlencode(request["body"], doseq=True).encode("utf-8")
    pairs = parse_form(body, "")
    found = CODEC.operation(dict(pairs)["Version"], dict(pairs)["Action"])
    assert found is op
    assert op.decode(pairs) == params


@pytest.mark.parametrize("service", ["sts", "iam"])
@_SETTINGS
@given(data=st.data())
def test_output_round_trip_through_botocore_parser(service: str, data: st.DataObject) -> None:
    op = data.draw(st.sampled_from(OPS[service]), label="operation")
    shape = op.model.output_shape
    xml = op.encode(
        None if shape is None else _as_service_result(
            shape, result := data.draw(strategy(shape, output=True), label="result"), data.draw(st.booleans())
        ),
        "req-1",
    )
    parsed = QueryParser().parse({"body": xml, "headers": {}, "status_code": 200}, shape)
    assert parsed.pop("ResponseMetadata")["RequestId"] == "req-1"
    if shape is None:
        assert parsed == {}
        return
    json_decode_policies(parsed, op.model)
    assert parsed == _expected_output(shape, result, service, rules=_omissions(service, op.name))


def test_every_operation_is_compiled() -> None:
    assert len(OPS["sts"]) == len(CODEC.models["sts"].operation_names)
    assert len(OPS["iam"]) == len(CODEC.models["iam"].operation_names) == 181
    assert {"AssumeRole", "AssumeRoleWithSAML", "AssumeRoleWithWebIdentity", "GetCallerIdentity"} <= set(
        _op_ids("sts")
    )



ALL_OPS = [op for svc in ("sts", "iam") for op in OPS[svc]]


@pytest.mark.parametrize("op", ALL_OPS, ids=lambda op: f"{op.service}:{op.name}")
@settings(_SETTINGS, max_examples=2)
@given(data=st.data())
def test_every_operation_round_trips_both_ways(op: Any, data: st.DataObject) -> None:
    """A sweep, so no operation is left to chance: input and output through botocore."""
    model = op.model
    if model.input_shape is not None:
        params = data.draw(strategy(model.input_shape, output=False), label="params")
        body = urlencode(QuerySerializer().serialize_to_request(params, model)["body"], doseq=True)
        assert op.decode(parse_form(body.encode("utf-8"), "")) == params
    shape = model.output_shape
    if shape is not None:
        result = data.draw(strategy(shape, output=True), label="result")
        xml = op.encode(_as_service_result(shape, result, snake=True), "r")
        parsed = QueryParser().parse({"body": xml, "headers": {}, "status_code": 200}, shape)
        parsed.pop("ResponseMetadata")
        json_decode_policies(parsed, model)
        assert parsed == _expected_output(shape, result, op.service, rules=_omissions(op.service, op.name))
