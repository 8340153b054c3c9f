"""The encoder: Python source generated once per operation from its output shape.

The generated functions take the service result (a dict keyed by `xform_name(member)` or by
the member name, or a record with snake_case fields, nested the same way) and the request id,
and returns the `<ActionResponse>` XML as UTF-8 bytes. Each member becomes a fetch plus an
`if v is not None:` append; lists and maps are inlined; the envelope is constant text.
Each structure shape gets one function (`s_<Shape>`) shared by every operation, and a small closure per
operation writes the envelope; the module source is kept on each function (`fn.source`).
An operation with omission rules (app.wire.codec.omissions: members AWS leaves out of that
answer) gets its own variants (`s_<Shape>_<n>`): the member is not fetched at all (NEVER), or
written only when non-empty (EMPTY).
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Callable

from botocore import xform_name
from botocore.model import OperationModel, Shape

from app.wire.codec import xmltext
from app.wire.codec.omissions import EMPTY, NEVER, OMITTED, Rules, rule_tree

Encoder = Callable[[Any, str], bytes]
POLICY_SHAPES = {"iam": frozenset({"policyDocumentType"})}  # decoded by botocore's after-call.iam
_SCALAR_FN = {
    "string": "esc",
    "integer": "integer",
    "long": "integer",
    "boolean": "boolean",
    "timestamp": "ts",
    "blob": "blob",
    "float": "number",
    "double": "number",
}
MAPPING: dict[type, bool] = {dict: True}  # class -> is_mapping(instance), filled as met


def is_mapping(value: Any) -> bool:
    """Dict-like result (keys) or record (attributes)? Memoised per class in MAPPING (read it
    first: `MAPPING.get(value.__class__)`); the audit's shapers (trail.py) read results alike."""
    found = isinstance(value, Mapping)
    if len(MAPPING) < 1024:
        MAPPING[value.__class__] = found
    return found


_GLOBALS = {
    "MAPPING": MAPPING,
    "is_mapping": is_mapping,
    "esc": xmltext.esc,
    "pol": xmltext.pol,
    "ts": xmltext.ts,
    "blob": xmltext.blob,
    "boolean": xmltext.boolean,
    "integer": xmltext.integer,
    "number": xmltext.number,
}


class _Source:
    """Source of one service's encoders: one function per structure shape, one per operation."""

    def __init__(self, policy_shapes: frozenset[str]) -> None:
        self.lines: list[str] = []
        self.count = 0
        self.policy_shapes = policy_shapes
        self.done: set[str] = set()
        self.variants: dict[tuple[str, str], str] = {}  # (function, rules) -> its variant's name

    def var(self) -> str:
        self.count += 1
        return f"v{self.count}"

    def emit(self, depth: int, line: str) -> None:
        self.lines.append("    " * depth + line)

    def struct_fn(self, shape: Any, in_map: bool, rules: Rules | None = None) -> str:
        """Name of the function writing the members of `shape` (generated on first use); an
        operation's omission rules (app.wire.codec.omissions) get a variant of their own."""
        fn: str = ("m_" if in_map else "s_") + shape.name
        if rules:
            fn = self.variants.setdefault((fn, repr(sorted(rules.items()))), f"{fn}_{len(self.variants) + 1}")
        if fn in self.done:
            return fn
        self.done.add(fn)
        outer, self.lines = self.lines, []
        self.emit(0, f"def {fn}(a, r):")
        self.structure(shape, "r", 1, in_map, rules or {})
        self.emit(1, "return None")
        self.lines, outer = outer, self.lines
        self.lines[:0] = outer + [""]
        return fn

    def structure(self, shape: Any, src: str, depth: int, in_map: bool, rules: Rules) -> None:
        unknown = set(rules) - set(shape.members)
        if unknown:
            raise KeyError(f"omission rule for {sorted(unknown)}: no such member of {shape.name}")
        members = [(n, m) for n, m in shape.members.items() if rules.get(n) != NEVER]
        if not members:
            return
        names = [self.var() for _ in members]
        self.emit(depth, f"m = MAPPING.get({src}.__class__)")
        self.emit(depth, f"if m is None: m = is_mapping({src})")
        self.emit(depth, "if m:")
        for (name, _), var in zip(members, names):
            snake = xform_name(name)
            self.emit(depth + 1, f"{var} = {src}.get({snake!r})")
            if snake != name:
                self.emit(depth + 1, f"if {var} is None: {var} = {src}.get({name!r})")
        self.emit(depth, "else:")
        for (name, _), var in zip(members, names):
            self.emit(depth + 1, f"{var} = getattr({src}, {xform_name(name)!r}, None)")
        for (name, member), var in zip(members, names):
            tag = member.serialization.get("name", name)
            rule = rules.get(name)
            if rule == EMPTY and member.type_name not in ("list", "map"):
                raise TypeError(f"{shape.name}.{name} is not a list or map: it cannot be omitted when empty")
            self.emit(depth, f"if {var}:" if rule == EMPTY else f"if {var} is not None:")
            self.value(member, var, tag, depth + 1, in_map, rule if isinstance(rule, dict) else None)

    def value(self, shape: Shape, var: str, tag: str, depth: int, in_map: bool,
              rules: Rules | None = None) -> None:
        """Write one value; `rules` (omissions) apply to a structure or a list's structures."""
        kind = shape.type_name
        if rules and kind not in ("structure", "list"):
            raise TypeError(f"omission rules below {shape.name}, a {kind}")
        if kind == "structure":
            fn = self.struct_fn(shape, in_map, rules)
            self.emit(depth, f"a('<{tag}>')")
            self.emit(depth, f"{fn}(a, {var})")
            self.emit(depth, f"a('</{tag}>')")
        elif kind == "list":
            element = shape.member
            if shape.serialization.get("flattened"):
                raise NotImplementedError(f"flattened list {shape.name}")
            elem_tag = element.serialization.get("name", "member")
            item = self.var()
            self.emit(depth, f"a('<{tag}>')")
            self.emit(depth, f"for {item} in {var}:")
            if element.type_name in ("structure", "list", "map"):
                self.value(element, item, elem_tag, depth + 1, in_map, rules)
            else:
                self.emit(depth + 1, f"a(f'<{elem_tag}>{{{self.scalar(element, item, in_map)}}}</{elem_tag}>')")
            self.emit(depth, f"a('</{tag}>')")
        elif kind == "map":
            if shape.serialization.get("flattened"):
                raise NotImplementedError(f"flattened map {shape.name}")
            key_shape, value_shape = shape.key, shape.value
            key_tag = key_shape.serialization.get("name", "key")
            value_tag = value_shape.serialization.get("name", "value")
            k, v = self.var(), self.var()
            self.emit(depth, f"a('<{tag}>')")
            self.emit(depth, f"for {k}, {v} in {var}.items():")
            self.emit(depth + 1, f"a(f'<entry><{key_tag}>{{{self.scalar(key_shape, k, True)}}}</{key_tag}>')")
            if value_shape.type_name in ("structure", "list", "map"):
                self.value(value_shape, v, value_tag, depth + 1, True)
            else:
                self.emit(depth + 1, f"a(f'<{value_tag}>{{{self.scalar(value_shape, v, True)}}}</{value_tag}>')")
            self.emit(depth + 1, "a('</entry>')")
            self.emit(depth, f"a('</{tag}>')")
        else:
            self.emit(depth, f"a(f'<{tag}>{{{self.scalar(shape, var, in_map)}}}</{tag}>')")

    def scalar(self, shape: Shape, var: str, in_map: bool) -> str:
        if shape.type_name == "string" and not in_map and shape.name in self.policy_shapes:
            return f"pol({var})"
        return f"{_SCALAR_FN[shape.type_name]}({var})"


def _envelope(head: str, body: Callable[[Any, Any], None] | None, wrapper: str | None, tail: str) -> Encoder:
    esc = xmltext.esc
    open_, close = (f"<{wrapper}>", f"</{wrapper}>") if wrapper else ("", "")
    meta = "<ResponseMetadata><RequestId>"
    end = f"</RequestId></ResponseMetadata>{tail}"

    def encode(result: Any, request_id: str) -> bytes:
        parts = [head, open_]
        if body is not None and result is not None:
            body(parts.append, result)
        parts.append(close)
        parts.append(meta)
        parts.append(esc(request_id))
        parts.append(end)
        return "".join(parts).encode("utf-8")

    return encode


def compile_encoders(service: str, operations: list[OperationModel], namespace: str) -> dict[str, Encoder]:
    """{Action: encoder} for every operation of one service, compiled as one generated module."""
    gen = _Source(POLICY_SHAPES.get(service, frozenset()))
    omitted = OMITTED.get(service, {})
    plans: dict[str, tuple[str, str | None, str | None, str]] = {}
    for op in operations:
        action, output = op.name, op.output_shape
        wrapper = fn = None
        if output is not None:
            wrapper = output.serialization.get("resultWrapper", f"{action}Result")
            rules = rule_tree(omitted.get(action, {}))
            fn = gen.struct_fn(output, False, rules) if output.members else None
        plans[action] = (f'<{action}Response xmlns="{namespace}">', fn, wrapper, f"</{action}Response>")
    source = "\n".join(gen.lines) + "\n"
    module: dict[str, Any] = dict(_GLOBALS)  # the generated module's namespace
    exec(compile(source, f"<encoders {service}>", "exec"), module)  # noqa: S102
    out: dict[str, Encoder] = {}
    for action, (head, fn, wrapper, tail) in plans.items():
        encode = _envelope(head, module[fn] if fn else None, wrapper, tail)
        encode.source = source  # type: ignore[attr-defined]
        out[action] = encode
    return out
