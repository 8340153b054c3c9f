"""CloudTrail's `requestParameters` and `responseElements`, compiled once per operation.

CloudTrail records an API call's input and output under the model's member names with the
first letter lower-cased (`RoleArn` -> `roleArn`, `SAMLAssertionID` -> `sAMLAssertionID`,
`ClientIDList` -> `clientIDList`), nested as the shapes nest: a list of structures is an
array of objects (`policyArns: [{"arn": ...}]`, `tags: [{"key": ..., "value": ...}]`), a map
an object. Absent (None) members are left out, and so is what the operation's answer leaves
out (app.wire.codec.omissions, as the encoder); values keep their types, except timestamps,
which CloudTrail writes as `Mar 23, 2016 2:39:51 AM` (UTC), and policy documents in the
output, which IAM answers URL-encoded and CloudTrail records as answered.

What is never recorded is never fetched: members the model marks `sensitive` (secret keys,
passwords, private keys, SAML assertions, web identity tokens, MFA seeds and QR codes) and
members named like a secret (`SessionToken`, `AuthenticationCode1`...), classified by the
audit scrubber's own rule (app.audit.events.secret_key). Credentials thus keep their access
key id and expiration only (CloudTrail also records `sessionToken`; Tessera never logs a
token). The scrubber still runs over the result (AuditEvent): a second line of defence, and
the only one for the map keys that callers choose.

`TrailCompiler.request(input_shape)` gives the shaper of the decoder's `{MemberName: value}`;
`TrailCompiler.response(output_shape, rules)` the shaper of the service result the encoder
takes (a dict keyed by `xform_name(member)` or by the member name, or a record with snake_case
fields, nested the same way). QueryCodec compiles both for every operation at start-up.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any

from botocore import xform_name
from botocore.model import Shape

from app.audit.events import secret_key
from app.wire.codec import xmltext
from app.wire.codec.encoder import MAPPING, is_mapping
from app.wire.codec.omissions import EMPTY, NEVER, Rules

Shaper = Callable[[Any], Any]
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def camel(name: str) -> str:
    """CloudTrail's key for a model member: its first letter lower-cased."""
    return name[:1].lower() + name[1:]


def never_recorded(name: str, shape: Shape) -> bool:
    """A member CloudTrail leaves out: sensitive in the model, or named like a secret."""
    return bool(shape.metadata.get("sensitive")) or secret_key(name)


def trail_time(value: Any) -> str:
    """`Aug 28, 2023 7:30:58 PM`: how CloudTrail writes a timestamp inside requestParameters
    and responseElements (UTC), from epoch seconds, a datetime (naive is UTC) or ISO text."""
    if value.__class__ is float or value.__class__ is int:
        return _trail_second(int(value))
    if isinstance(value, datetime):
        seconds = (value if value.tzinfo else value.replace(tzinfo=timezone.utc)).timestamp()
    elif isinstance(value, str):
        seconds = datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    else:
        seconds = float(value)
    return _trail_second(int(seconds))


@lru_cache(maxsize=256)
def _trail_second(seconds: int) -> str:
    """Cached: the credentials minted in one second expire in the same few seconds."""
    t = time.gmtime(seconds)
    hour = t.tm_hour % 12 or 12
    return (f"{_MONTHS[t.tm_mon - 1]} {t.tm_mday}, {t.tm_year} {hour}:{t.tm_min:02d}:{t.tm_sec:02d} "
            f"{'AM' if t.tm_hour < 12 else 'PM'}")


def _scalar(shape: Shape, policies: frozenset[str]) -> Shaper | None:
    """The conversion of a scalar (None: kept as it is)."""
    if shape.type_name == "timestamp":
        return trail_time
    if shape.name in policies:
        return xmltext.pol
    return None


class _Compiler:
    """Shapers of one direction, one per shape, shared by every operation using the shape."""

    def __init__(self, *, output: bool, policies: frozenset[str]) -> None:
        self._output = output
        self._policies = policies if output else frozenset()
        self._memo: dict[str, Shaper] = {}

    def value(self, shape: Shape, rules: Rules | None = None) -> Shaper | None:
        """The shaper of a value of `shape`; None when the value is recorded as it is. An
        operation's omission rules (app.wire.codec.omissions) get a shaper of their own."""
        kind = shape.type_name
        if kind not in ("structure", "list", "map"):
            return _scalar(shape, self._policies)
        if rules:
            return self._structure(shape, rules) if kind == "structure" else self._list(shape, rules)
        found = self._memo.get(shape.name)
        if found is None:
            # a recursive shape meets its own placeholder, which calls the finished shaper
            self._memo[shape.name] = lambda v: self._memo[shape.name](v)
            if kind == "structure":
                found = self._structure(shape, {}) if self._output else self._input_structure(shape)
            elif kind == "list":
                found = self._list(shape, None)
            else:
                found = self._map(shape)
            self._memo[shape.name] = found
        return found

    def _members(self, shape: Any, rules: Rules) -> list[tuple[str, str, Shaper | None, bool]]:
        """(member, CloudTrail key, shaper, left out when empty) of each recorded member."""
        out = []
        for name, member in shape.members.items():
            rule = rules.get(name)
            if rule == NEVER or never_recorded(name, member):
                continue
            out.append((name, camel(name), self.value(member, rule if isinstance(rule, dict) else None),
                        rule == EMPTY))
        return out

    def _input_structure(self, shape: Any) -> Shaper:
        table = {name: (key, sub) for name, key, sub, _ in self._members(shape, {})}

        def structure(value: Any) -> Any:
            out: dict[str, Any] = {}
            for name, v in value.items():
                hit = table.get(name)
                if hit is not None and v is not None:
                    sub = hit[1]
                    out[hit[0]] = v if sub is None else sub(v)
            return out

        return structure

    def _structure(self, shape: Any, rules: Rules) -> Shaper:
        members = tuple((xform_name(name), name, key, sub, empty)
                        for name, key, sub, empty in self._members(shape, rules))

        def structure(value: Any) -> Any:
            out: dict[str, Any] = {}
            m = MAPPING.get(value.__class__)
            if m is None:
                m = is_mapping(value)
            if m:
                get = value.get
                for snake, name, key, sub, empty in members:
                    v = get(snake)
                    if v is None and snake != name:
                        v = get(name)
                    if v is not None and not (empty and not v):
                        out[key] = v if sub is None else sub(v)
            else:
                for snake, _, key, sub, empty in members:
                    v = getattr(value, snake, None)
                    if v is not None and not (empty and not v):
                        out[key] = v if sub is None else sub(v)
            return out

        return structure

    def _list(self, shape: Any, rules: Rules | None) -> Shaper:
        sub = self.value(shape.member, rules)
        if sub is None:
            return list
        element = sub

        def list_(value: Any) -> Any:
            return [element(v) for v in value]

        return list_

    def _map(self, shape: Any) -> Shaper:
        sub = self.value(shape.value)
        if sub is None:
            return dict
        element = sub

        def map_(value: Any) -> Any:
            return {k: element(v) for k, v in value.items()}

        return map_


class TrailCompiler:
    """Compiles the shapers of one service's operations, sharing those of common shapes."""

    def __init__(self, policies: frozenset[str] = frozenset()) -> None:
        self._input = _Compiler(output=False, policies=policies)
        self._output = _Compiler(output=True, policies=policies)

    def request(self, shape: Shape | None) -> Shaper | None:
        """`{MemberName: value}` (the decoder's) -> requestParameters; None without an input."""
        return self._input.value(shape) if shape is not None and shape.members else None

    def response(self, shape: Shape | None, rules: Rules | None = None) -> Shaper | None:
        """The service result -> responseElements, leaving out what the operation's answer
        leaves out (`rules`, as its encoder); None for an operation without output."""
        return self._output.value(shape, rules) if shape is not None and shape.members else None
