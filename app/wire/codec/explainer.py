"""The cold path: AWS's exact ValidationError text for a request the fast decoder rejected.

A plain walker over botocore `Shape`s, readable as the spec of what is validated:
1. `tree` groups the pairs with `decoder.py`'s own `group_list`/`group_map` (same presence
   rules, same index order, same last-wins), keeping raw strings;
2. `explain` walks the members in model order and writes one message per broken constraint:
   `Value '<v>' at '<path>' failed to satisfy constraint: <text>`, with lower-camel path
   segments and the index before `member` (`tags.6.member.value`), `Value null` for a missing
   required member, no value at all for `sensitive` shapes, values longer than
   MAX_SHOWN characters cut short, pattern before length.
"""
from __future__ import annotations

from typing import Any

from botocore.model import Shape

from app.wire.codec.decoder import COMPLEX, MISSING, Entries, Entry, group_list, group_map, index_key, wire_name
from app.wire.codec.scalars import TYPE_TEXT, Scalar

MAX_SHOWN = 256


def tree(shape: Shape, entries: Entries, *, top: bool = False) -> Any:
    kind = shape.type_name
    if kind == "structure":
        return _struct_tree(shape, entries, top)
    if kind == "list":
        return _list_tree(shape, entries)
    if kind == "map":
        return _map_tree(shape, entries)
    raise TypeError(kind)


def _struct_tree(shape: Any, entries: Entries, top: bool) -> Any:
    wires = {wire_name(m, n): (n, m) for n, m in shape.members.items()}
    out: dict[str, Any] = {}
    buckets: dict[str, list[Entry]] = {}
    seen = top
    for key, value in entries:
        if key is None:
            continue
        seen = True
        hit = wires.get(key)
        if hit is not None and hit[1].type_name not in COMPLEX:
            out[hit[0]] = value
            continue
        head, dot, rest = key.partition(".")
        hit = wires.get(head)
        if hit is not None and hit[1].type_name in COMPLEX:
            buckets.setdefault(head, []).append((rest if dot else None, value))
    if not seen:
        return MISSING
    for head, bucket in buckets.items():
        name, member = wires[head]
        sub = tree(member, bucket)
        if sub is not MISSING:
            out[name] = sub
    return out


def _list_tree(shape: Any, entries: Entries) -> Any:
    element = shape.member
    is_complex = element.type_name in COMPLEX
    items, bare = group_list(entries, wire_name(element, "member"), is_complex)
    if not items:
        return [] if bare else MISSING
    out = []
    for idx in sorted(items, key=index_key):
        sub = tree(element, items[idx]) if is_complex else items[idx]
        if sub is not MISSING:
            out.append(sub)
    return out


def _map_tree(shape: Any, entries: Entries) -> Any:
    value_complex = shape.value.type_name in COMPLEX
    slots, bare = group_map(entries, wire_name(shape.key, "key"), wire_name(shape.value, "value"), value_complex)
    if not slots:
        return [] if bare else MISSING
    out = []
    for idx in sorted(slots, key=index_key):
        raw_key, raw_value = slots[idx]
        if value_complex:
            raw_value = tree(shape.value, raw_value) if raw_value else MISSING
        out.append((raw_key, raw_value))
    return out


def lower_camel(name: str) -> str:
    return name[:1].lower() + name[1:]


def display(shape: Shape, raw: Any) -> str:
    """Java-ish rendering of a raw value: `[a, b]`, `{Key: a, Value: b}`, `{k=v}`."""
    if shape.metadata.get("sensitive"):
        return "***"
    kind = shape.type_name
    if kind == "list":
        return "[" + ", ".join(display(shape.member, e) for e in raw) + "]"
    if kind == "structure":
        parts = [f"{n}: {display(m, raw[n])}" for n, m in shape.members.items() if n in raw]
        return "{" + ", ".join(parts) + "}"
    if kind == "map":
        parts = [
            f"{'null' if k is MISSING else k}={'null' if v is MISSING else display(shape.value, v)}"
            for k, v in raw
        ]
        return "{" + ", ".join(parts) + "}"
    text: str = raw  # a scalar's raw value is the form string
    return text


def _message(shape: Shape, raw: Any, path: str, text: str) -> str:
    if raw is MISSING:
        return f"Value null at '{path}' failed to satisfy constraint: {text}"
    if shape.metadata.get("sensitive"):
        return f"Value at '{path}' failed to satisfy constraint: {text}"
    shown = display(shape, raw)
    if len(shown) > MAX_SHOWN:
        shown = shown[:MAX_SHOWN] + "..."
    return f"Value '{shown}' at '{path}' failed to satisfy constraint: {text}"


def _size_texts(shape: Shape, size: int) -> list[str]:
    out = []
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    if low is not None and size < low:
        out.append(f"Member must have length greater than or equal to {low}")
    if high is not None and size > high:
        out.append(f"Member must have length less than or equal to {high}")
    return out


def explain(shape: Shape, raw: Any, path: str, errors: list[str]) -> None:
    kind = shape.type_name
    if kind == "structure":
        required = set(shape.required_members)
        for name, member in shape.members.items():
            sub_path = lower_camel(wire_name(member, name))
            if path:
                sub_path = f"{path}.{sub_path}"
            value = raw.get(name, MISSING)
            if value is MISSING:
                if name in required:
                    errors.append(_message(member, MISSING, sub_path, "Member must not be null"))
                continue
            explain(member, value, sub_path, errors)
    elif kind == "list":
        errors.extend(_message(shape, raw, path, t) for t in _size_texts(shape, len(raw)))
        element = shape.member
        elem_wire = wire_name(element, "member")
        for i, value in enumerate(raw, 1):
            explain(element, value, f"{path}.{i}.{elem_wire}", errors)
    elif kind == "map":
        errors.extend(_message(shape, raw, path, t) for t in _size_texts(shape, len(raw)))
        key_shape, value_shape = shape.key, shape.value
        key_wire, value_wire = wire_name(key_shape, "key"), wire_name(value_shape, "value")
        for i, (key, value) in enumerate(raw, 1):
            for sub_shape, sub, wire in ((key_shape, key, key_wire), (value_shape, value, value_wire)):
                sub_path = f"{path}.{i}.{wire}"
                if sub is MISSING:
                    errors.append(_message(sub_shape, MISSING, sub_path, "Member must not be null"))
                else:
                    explain(sub_shape, sub, sub_path, errors)
    else:
        spec = Scalar.of(shape)
        value = spec.convert(raw)
        if value is None:
            errors.append(_message(shape, raw, path, TYPE_TEXT[kind]))
            return
        errors.extend(_message(shape, raw, path, t) for t in spec.violations(value))


def explain_request(shape: Shape, entries: Entries) -> list[str]:
    errors: list[str] = []
    explain(shape, tree(shape, entries, top=True), "", errors)
    return errors


def summary(errors: list[str]) -> str:
    n = len(errors)
    noun = "error" if n == 1 else "errors"
    return f"{n} validation {noun} detected: " + "; ".join(errors)
