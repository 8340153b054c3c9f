"""The hot-path decoder: a closure tree compiled once per input shape.

Wire grammar (botocore `QuerySerializer`, never flattened in STS/IAM):
structure `A.B=v`, list `A.member.N[.rest]` (1-based N, sorted numerically, gaps tolerated),
empty list `A=`, map `A.entry.N.key` / `A.entry.N.value`. Every complex decoder takes
`entries`: (key relative to the member, value) pairs, where key None marks a bare `A=`.
It returns the decoded value, or MISSING when nothing of it was sent (botocore drops empty
structures and maps). Broken constraints raise INVALID (the explainer then writes AWS's
message); structural garbage (a non-digit list index) raises ValidationError directly.
The explainer (`explainer.py`) mirrors these decisions exactly; a property test checks it.
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, Callable

from botocore.model import ListShape, MapShape, Shape, StructureShape

from app.core.errors import ValidationError
from app.wire.codec.scalars import INVALID, Scalar

Entry = tuple[str | None, str]
Entries = Sequence[Entry]  # read only, so the form's list[tuple[str, str]] is Entries too
Decoder = Callable[[Entries], Any]
COMPLEX = frozenset({"structure", "list", "map"})
MISSING: Any = type("Missing", (), {"__repr__": lambda self: "MISSING"})()
_BIG = 1 << 62


def wire_name(shape: Shape, default: str) -> str:
    name: str = shape.serialization.get("name", default)
    return name


def index_key(idx: str) -> tuple[int, str]:
    """Numeric sort key of a list/map index, accepting ASCII digits only (`'²'.isdigit()`)."""
    if not idx or not idx.isascii() or not idx.isdigit():
        shown = idx if len(idx) <= 32 else idx[:32] + "..."
        raise ValidationError(f"invalid list index `{shown}`: indices must be decimal numbers")
    digits = idx.lstrip("0")
    return (len(digits), digits)


def _under(entries: Entries, head_name: str) -> Iterator[tuple[str, str | None, str] | None]:
    """(index, what follows the index or None, value) of each pair `head_name.INDEX[.REST]`;
    None for the bare `Name=` that sends an empty list or map."""
    for key, value in entries:
        if key is None:
            yield None
            continue
        head, dot, rest = key.partition(".")
        if head == head_name and dot:
            idx, dot2, tail = rest.partition(".")
            yield idx, (tail if dot2 else None), value


def group_list(entries: Entries, elem_wire: str, nested: bool) -> tuple[dict[str, Any], bool]:
    """A list's pairs by index: `idx -> [(rest or None, value), ...]` when the elements are
    structures, lists or maps (`nested`), `idx -> value` (last wins) for scalars; and whether
    the bare `Name=` (an empty list) was sent. The one grouping rule of the decoder and the
    explainer."""
    items: dict[str, Any] = {}
    bare = False
    for found in _under(entries, elem_wire):
        if found is None:
            bare = True
        elif nested:
            items.setdefault(found[0], []).append(found[1:])
        elif found[1] is None:
            items[found[0]] = found[2]
    return items, bare


def group_map(entries: Entries, key_wire: str, value_wire: str,
              nested: bool) -> tuple[dict[str, list[Any]], bool]:
    """A map's pairs by index: `idx -> [key, value]` (MISSING where absent; for `nested`
    values, `[(rest or None, value), ...]`); and whether the bare `Name=` was sent."""
    slots: dict[str, list[Any]] = {}
    bare = False
    for found in _under(entries, "entry"):
        if found is None:
            bare = True
            continue
        idx, tail, value = found
        if tail is None:
            continue
        part, dot, sub = tail.partition(".")
        if part == key_wire and not dot:
            pos = 0
        elif part == value_wire and (nested or not dot):
            pos = 1
        else:
            continue
        slot = slots.get(idx)
        if slot is None:
            slots[idx] = slot = [MISSING, [] if nested else MISSING]
        if pos == 1 and nested:
            slot[1].append((sub if dot else None, value))
        else:
            slot[pos] = value
    return slots, bare


class DecoderCompiler:
    """Compiles shapes into decoders, sharing the decoder of a shape used in many places."""

    def __init__(self) -> None:
        self._memo: dict[str, Decoder] = {}

    def top(self, shape: StructureShape) -> Decoder:
        return self._structure(shape, top=True)

    def complex(self, shape: Shape) -> Decoder:
        found = self._memo.get(shape.name)
        if found is None:
            kind = shape.type_name
            if kind == "structure":
                found = self._structure(shape, top=False)
            elif kind == "list":
                found = self._list(shape)
            else:
                found = self._map(shape)
            self._memo[shape.name] = found
        return found

    def _structure(self, shape: StructureShape, *, top: bool) -> Decoder:
        scalars: dict[str, tuple[str, Callable[[str], Any] | None]] = {}
        groups: dict[str, tuple[str, Decoder]] = {}
        for name, member in shape.members.items():
            wire = wire_name(member, name)
            if member.type_name in COMPLEX:
                groups[wire] = (name, self.complex(member))
            else:
                scalars[wire] = (name, Scalar.of(member).fast())
        required = tuple(shape.required_members)

        def structure(entries: Entries) -> Any:
            out: dict[str, Any] = {}
            buckets: dict[str, list[Entry]] | None = None
            seen = top
            for key, value in entries:
                if key is None:
                    continue
                seen = True
                hit = scalars.get(key)
                if hit is not None:
                    conv = hit[1]
                    out[hit[0]] = value if conv is None else conv(value)
                    continue
                head, dot, rest = key.partition(".")
                if head not in groups:
                    continue
                if buckets is None:
                    buckets = {}
                bucket = buckets.get(head)
                if bucket is None:
                    buckets[head] = bucket = []
                bucket.append((rest if dot else None, value))
            if not seen:
                return MISSING
            if buckets is not None:
                for head, bucket in buckets.items():
                    name, decode = groups[head]
                    decoded = decode(bucket)
                    if decoded is not MISSING:
                        out[name] = decoded
            for name in required:
                if name not in out:
                    raise INVALID
            return out

        return structure

    def _list(self, shape: ListShape) -> Decoder:
        element = shape.member
        elem_wire = wire_name(element, "member")
        lo = shape.metadata.get("min", 0)
        hi = shape.metadata.get("max", _BIG)
        if element.type_name in COMPLEX:
            sub = self.complex(element)

            def complex_list(entries: Entries) -> Any:
                items, bare = group_list(entries, elem_wire, True)
                if not items and not bare:
                    return MISSING
                out: list[Any] = []
                for idx in sorted(items, key=index_key):
                    decoded = sub(items[idx])
                    if decoded is not MISSING:
                        out.append(decoded)
                if not lo <= len(out) <= hi:
                    raise INVALID
                return out

            return complex_list

        conv = Scalar.of(element).fast()

        def scalar_list(entries: Entries) -> Any:
            items, bare = group_list(entries, elem_wire, False)
            if not items:
                if not bare:
                    return MISSING
                out: list[Any] = []
            elif conv is None:
                out = [items[idx] for idx in sorted(items, key=index_key)]
            else:
                out = [conv(items[idx]) for idx in sorted(items, key=index_key)]
            if not lo <= len(out) <= hi:
                raise INVALID
            return out

        return scalar_list

    def _map(self, shape: MapShape) -> Decoder:
        key_wire = wire_name(shape.key, "key")
        value_wire = wire_name(shape.value, "value")
        key_conv = Scalar.of(shape.key).fast()
        value_complex = shape.value.type_name in COMPLEX
        value_sub = self.complex(shape.value) if value_complex else None
        value_conv = None if value_complex else Scalar.of(shape.value).fast()
        lo = shape.metadata.get("min", 0)
        hi = shape.metadata.get("max", _BIG)

        def map_(entries: Entries) -> Any:
            slots, bare = group_map(entries, key_wire, value_wire, value_complex)
            if not slots:
                if not bare:
                    return MISSING
                if lo > 0:
                    raise INVALID
                return {}
            out: dict[str, Any] = {}
            for idx in sorted(slots, key=index_key):
                raw_key, raw_value = slots[idx]
                if value_sub is not None:
                    raw_value = value_sub(raw_value) if raw_value else MISSING
                if raw_key is MISSING or raw_value is MISSING:
                    raise INVALID
                out[raw_key if key_conv is None else key_conv(raw_key)] = (
                    raw_value if value_complex or value_conv is None else value_conv(raw_value)
                )
            if not lo <= len(slots) <= hi:
                raise INVALID
            return out

        return map_
