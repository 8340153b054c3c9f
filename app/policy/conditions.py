"""The condition-operator registry and condition compilation.

`OPERATORS` is the one place that names every base operator, its value family, whether it
is negated and whether its values accept policy variables. `parse_operator` splits
`ForAnyValue:StringLikeIfExists` into its parts; `compile_condition` binds one
`operator: {key: values}` entry to a predicate over the lower-cased request context.

Semantics (reference §6, §7):
- missing key: positive -> false, negated -> true; `IfExists` -> true;
  `ForAllValues` -> true, `ForAnyValue` -> false (an empty set, or one made only of "",
  counts as empty);
- values of one key are OR'ed (negated operators: the request value matches none);
- a multivalued key under a single-valued operator never matches (a one-element set
  counts as that value);
- a request value the family cannot read (not a number, date, IP, ARN, boolean, base64)
  makes the comparison false, for negated operators too;
- an unresolvable variable makes that policy value match nothing.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from app.policy.document import Condition
from app.policy.matching import ContextValue, Template, arn_fields_ok, arn_regex, compiled, parse_template, string_regex
from app.policy.values import read_binary, read_bool, read_date, read_ip, read_network, read_number

ALL_VALUES = "ForAllValues"
ANY_VALUE = "ForAnyValue"


@dataclass(frozen=True, slots=True)
class OperatorSpec:
    name: str
    family: str  # string | numeric | date | bool | binary | ip | arn | null
    negated: bool = False
    variables: bool = False


def _registry(*specs: OperatorSpec) -> dict[str, OperatorSpec]:
    return {s.name: s for s in specs}


OPERATORS: dict[str, OperatorSpec] = _registry(
    OperatorSpec("StringEquals", "string", variables=True),
    OperatorSpec("StringNotEquals", "string", True, True),
    OperatorSpec("StringEqualsIgnoreCase", "string", variables=True),
    OperatorSpec("StringNotEqualsIgnoreCase", "string", True, True),
    OperatorSpec("StringLike", "string", variables=True),
    OperatorSpec("StringNotLike", "string", True, True),
    OperatorSpec("NumericEquals", "numeric"),
    OperatorSpec("NumericNotEquals", "numeric", True),
    OperatorSpec("NumericLessThan", "numeric"),
    OperatorSpec("NumericLessThanEquals", "numeric"),
    OperatorSpec("NumericGreaterThan", "numeric"),
    OperatorSpec("NumericGreaterThanEquals", "numeric"),
    OperatorSpec("DateEquals", "date"),
    OperatorSpec("DateNotEquals", "date", True),
    OperatorSpec("DateLessThan", "date"),
    OperatorSpec("DateLessThanEquals", "date"),
    OperatorSpec("DateGreaterThan", "date"),
    OperatorSpec("DateGreaterThanEquals", "date"),
    OperatorSpec("Bool", "bool", variables=True),
    OperatorSpec("BinaryEquals", "binary"),
    OperatorSpec("IpAddress", "ip"),
    OperatorSpec("NotIpAddress", "ip", True),
    OperatorSpec("ArnEquals", "arn", variables=True),
    OperatorSpec("ArnLike", "arn", variables=True),
    OperatorSpec("ArnNotEquals", "arn", True, True),
    OperatorSpec("ArnNotLike", "arn", True, True),
    OperatorSpec("Null", "null"),
)

_OPERATOR_NAME = re.compile(r"^(?:(ForAllValues|ForAnyValue):)?([A-Za-z]+?)(IfExists)?$")


@dataclass(frozen=True, slots=True)
class ParsedOperator:
    spec: OperatorSpec
    qualifier: str | None
    if_exists: bool


class OperatorError(ValueError):
    """An operator name that is malformed (as opposed to merely unknown)."""


def parse_operator(name: str) -> ParsedOperator | None:
    """None for an unknown (well-formed) name; OperatorError for a malformed one."""
    m = _OPERATOR_NAME.match(name)
    if m is None:
        if ":" in name:
            raise OperatorError(f"malformed condition operator `{name}`")
        return None
    qualifier, base, if_exists = m.group(1), m.group(2), m.group(3) is not None
    spec = OPERATORS.get(base)
    if spec is None:
        if qualifier:
            raise OperatorError(f"unknown condition operator `{name}`")
        return None
    if spec.family == "null" and (if_exists or qualifier):
        raise OperatorError(f"`{name}`: Null takes neither IfExists nor a set qualifier")
    return ParsedOperator(spec, qualifier, if_exists)


_NUMERIC_CMP: dict[str, Callable[[Any, Any], bool]] = {
    "Equals": lambda a, b: a == b,
    "NotEquals": lambda a, b: a == b,  # negation applied outside
    "LessThan": lambda a, b: a < b,
    "LessThanEquals": lambda a, b: a <= b,
    "GreaterThan": lambda a, b: a > b,
    "GreaterThanEquals": lambda a, b: a >= b,
}


def policy_value_error(spec: OperatorSpec, value: str) -> str | None:
    """Why a policy value is unacceptable at validation time (None if acceptable)."""
    if spec.family == "date" and read_date(value) is None:
        return f"invalid date `{value}`"
    if spec.family == "ip" and read_network(value) is None:
        return f"invalid IP address or CIDR `{value}`"
    return None


# positive test of one request value, as the family's reader returned it (str, bool, Decimal,
# bytes, IP address: see `_READERS`), against all policy values
Matcher = Callable[[Any], bool]


def _static_matcher(spec: OperatorSpec, values: list[str]) -> Matcher:
    """Positive OR-test for policy values that need no per-request resolution."""
    fam, name = spec.family, spec.name
    if fam == "string":
        if "IgnoreCase" in name:
            low = frozenset(v.lower() for v in values)
            return lambda x: x.lower() in low
        if "Like" in name:
            if not values:
                return lambda x: False
            like = compiled("|".join(f"(?:{string_regex((('p', v),))})" for v in values))
            return lambda x: like.fullmatch(x) is not None
        exact = frozenset(values)
        return lambda x: x in exact
    if fam == "arn":
        sources = [s for s in (arn_regex((("p", v),)) for v in values) if s is not None]
        if not sources:
            return lambda x: False
        rx = compiled("|".join(f"(?:{s})" for s in sources))
        return lambda x: rx.fullmatch(x) is not None
    if fam == "bool":
        wanted = frozenset(b for b in (read_bool(v) for v in values) if b is not None)
        return lambda x: x in wanted
    if fam == "numeric":
        nums = [n for n in (read_number(v) for v in values) if n is not None]
        cmp = _NUMERIC_CMP[name[len("Numeric"):]]
        return lambda x: any(cmp(x, n) for n in nums)
    if fam == "date":
        dates = [d for d in (read_date(v) for v in values) if d is not None]
        cmp = _NUMERIC_CMP[name[len("Date"):]]
        return lambda x: any(cmp(x, d) for d in dates)
    if fam == "binary":
        blobs = frozenset(b for b in (read_binary(v) for v in values) if b is not None)
        return lambda x: x in blobs
    if fam == "ip":
        nets = [n for n in (read_network(v) for v in values) if n is not None]
        return lambda x: any(x.version == n.version and x in n for n in nets)
    raise AssertionError(fam)  # pragma: no cover


_READERS: dict[str, Callable[[str], Any]] = {
    "numeric": read_number,
    "date": read_date,
    "bool": read_bool,
    "binary": read_binary,
    "ip": read_ip,
    "string": lambda x: x,
    "arn": lambda x: x if arn_fields_ok(x) else None,
}

Ctx = Mapping[str, ContextValue]
Predicate = Callable[[Ctx], bool]


def _is_empty(value: ContextValue) -> bool:
    return value == "" if isinstance(value, str) else all(v == "" for v in value)


def compile_condition(cond: Condition, variables: bool) -> Predicate | None:
    """A predicate over the lower-cased context; None for an ignorable unknown operator."""
    parsed = parse_operator(cond.operator)
    if parsed is None:
        return None
    spec, qualifier, if_exists = parsed.spec, parsed.qualifier, parsed.if_exists
    key = cond.key.lower()
    if spec.family == "null":
        wanted = frozenset(b for b in (read_bool(v) for v in cond.values) if b is not None)

        def null_test(ctx: Ctx) -> bool:
            value = ctx.get(key)
            return (value is None or _is_empty(value)) in wanted

        null_test.cost = 0  # type: ignore[attr-defined]
        return null_test

    use_vars = variables and spec.variables
    templates = [parse_template(v, use_vars) for v in cond.values]
    dynamic = any(t.has_variables or len(t.parts) != 1 for t in templates)
    negated = spec.negated
    if not dynamic and qualifier is None and not if_exists and spec.family == "string":
        return _fast_string(key, _static_matcher(spec, list(cond.values)), negated,
                            spec.name.endswith("Equals"))
    if dynamic:
        match_for = _dynamic(spec, templates)
    else:
        static = _static_matcher(spec, list(cond.values))
        match_for = lambda ctx: static  # noqa: E731
    reader = _READERS[spec.family]

    def one(matcher: Matcher, raw: str) -> bool:
        value = reader(raw)
        if value is None:
            return False
        return matcher(value) is not negated

    def test(ctx: Ctx) -> bool:
        value = ctx.get(key)
        if value is None:
            return True if if_exists else (qualifier == ALL_VALUES if qualifier else negated)
        matcher = match_for(ctx)
        if qualifier is None:
            if not isinstance(value, str):
                if len(value) != 1:
                    return False
                value = value[0]
            return one(matcher, value)
        values = (value,) if isinstance(value, str) else value
        if _is_empty(values):
            return qualifier == ALL_VALUES
        if qualifier == ALL_VALUES:
            return all(one(matcher, v) for v in values)
        return any(one(matcher, v) for v in values)

    test.cost = 3 if dynamic else 2 if spec.family == "arn" or "Like" in spec.name else 1  # type: ignore[attr-defined]
    return test


def _fast_string(key: str, matcher: Matcher, negated: bool, cheap: bool) -> Predicate:
    """The common case, bound tightly: a plain String* operator with static values."""

    def test(ctx: Ctx) -> bool:
        value = ctx.get(key)
        if value is None:
            return negated
        if type(value) is not str:
            if len(value) != 1:
                return False
            value = value[0]
        return matcher(value) is not negated

    test.cost = 0 if cheap else 1  # type: ignore[attr-defined]
    return test


def _dynamic(spec: OperatorSpec, templates: list[Template]) -> Callable[[Ctx], Matcher]:
    """Policy values with variables: resolve per request, then build the OR-matcher."""
    fam, name = spec.family, spec.name

    def build(ctx: Ctx) -> Matcher:
        resolved = [r for r in (t.resolve(ctx) for t in templates) if r is not None]
        if fam == "string" and "Like" in name:
            sources = [string_regex(r) for r in resolved]
        elif fam == "arn":
            sources = [s for s in (arn_regex(r) for r in resolved) if s is not None]
        else:
            return _static_matcher(spec, ["".join(p[1] for p in r) for r in resolved])
        if not sources:
            return lambda x: False
        rx = compiled("|".join(f"(?:{s})" for s in sources))
        return lambda x: rx.fullmatch(x) is not None

    return build


def condition_keys(cond: Condition, variables: bool) -> tuple[str, ...]:
    """The context keys a condition reads: its key plus variables in its values."""
    keys = [cond.key]
    parsed = None
    try:
        parsed = parse_operator(cond.operator)
    except OperatorError:
        pass
    if parsed is not None and variables and parsed.spec.variables:
        for v in cond.values:
            keys.extend(parse_template(v, True).variable_names)
    return tuple(keys)
