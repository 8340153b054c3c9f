"""One scalar member's type and model constraints, shared by the fast decoder and the explainer.

`Scalar.convert` turns wire text into the typed value (or None when it is not of the type);
`Scalar.violations` lists the broken constraints in AWS's order (pattern before length);
`Scalar.fast` is the hot-path closure: it returns the value or raises INVALID, never builds text.
"""
from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable

from botocore.model import Shape

from app.wire.codec.patterns import compile_java


class Invalid(Exception):
    """Raised by the fast path on the first broken constraint; the explainer writes the message."""


INVALID = Invalid()
_INT = re.compile(r"[+-]?[0-9]{1,19}", re.ASCII)
_FLOAT = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?", re.ASCII)
_BOOLS = {"true": True, "false": False}
_INT_BOUNDS = {"integer": (-(2**31), 2**31 - 1), "long": (-(2**63), 2**63 - 1)}
TYPE_TEXT = {
    "integer": "Member must be an integer",
    "long": "Member must be an integer",
    "boolean": "Member must be a boolean (true or false)",
    "float": "Member must be a number",
    "double": "Member must be a number",
    "timestamp": "Member must be an ISO 8601 timestamp",
    "blob": "Member must be base64-encoded",
}


def _to_int(kind: str, raw: str) -> int | None:
    if _INT.fullmatch(raw) is None:
        return None
    value = int(raw)
    lo, hi = _INT_BOUNDS[kind]
    return value if lo <= value <= hi else None


def _to_bool(raw: str) -> bool | None:
    return _BOOLS.get(raw.lower())


def _to_float(raw: str) -> float | None:
    return float(raw) if _FLOAT.fullmatch(raw) is not None else None


def _to_timestamp(raw: str) -> datetime | None:
    try:
        if _FLOAT.fullmatch(raw):
            return datetime.fromtimestamp(float(raw), timezone.utc)
        dt = datetime.fromisoformat(raw.replace("z", "Z").replace("Z", "+00:00"))
    except (ValueError, OverflowError, OSError):
        return None
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=timezone.utc)


def _to_blob(raw: str) -> bytes | None:
    try:
        return base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        return None


@dataclass(frozen=True, slots=True)
class Scalar:
    kind: str  # botocore type name
    min: int | float | None
    max: int | float | None
    pattern: str | None  # the model's Java text, shown in messages
    enum: tuple[str, ...] | None
    sensitive: bool

    @classmethod
    def of(cls, shape: Shape) -> Scalar:
        meta = shape.metadata
        enum = meta.get("enum")
        return cls(
            kind=shape.type_name,
            min=meta.get("min"),
            max=meta.get("max"),
            pattern=meta.get("pattern") if shape.type_name == "string" else None,
            enum=tuple(enum) if enum else None,
            sensitive=bool(meta.get("sensitive")),
        )

    def convert(self, raw: str) -> Any:
        """Typed value, or None when `raw` is not of this type."""
        kind = self.kind
        if kind == "string":
            return raw
        if kind in _INT_BOUNDS:
            return _to_int(kind, raw)
        if kind == "boolean":
            return _to_bool(raw)
        if kind in ("float", "double"):
            return _to_float(raw)
        if kind == "timestamp":
            return _to_timestamp(raw)
        if kind == "blob":
            return _to_blob(raw)
        raise TypeError(f"unsupported scalar type {kind}")

    def violations(self, value: Any) -> list[str]:
        """Texts of the constraints `value` breaks, in AWS's order."""
        out: list[str] = []
        if self.kind == "string":
            if self.pattern is not None and compile_java(self.pattern).fullmatch(value) is None:
                out.append(f"Member must satisfy regular expression pattern: {self.pattern}")
            size = len(value)
            if self.min is not None and size < self.min:
                out.append(f"Member must have length greater than or equal to {self.min}")
            if self.max is not None and size > self.max:
                out.append(f"Member must have length less than or equal to {self.max}")
            if self.enum is not None and value not in self.enum:
                out.append(f"Member must satisfy enum value set: [{', '.join(self.enum)}]")
        elif self.kind == "blob":
            if self.min is not None and len(value) < self.min:
                out.append(f"Member must have length greater than or equal to {self.min}")
            if self.max is not None and len(value) > self.max:
                out.append(f"Member must have length less than or equal to {self.max}")
        elif self.kind in ("integer", "long", "float", "double"):
            if self.min is not None and value < self.min:
                out.append(f"Member must have value greater than or equal to {self.min}")
            if self.max is not None and value > self.max:
                out.append(f"Member must have value less than or equal to {self.max}")
        return out

    def fast(self) -> Callable[[str], Any] | None:
        """Hot-path converter; None means "store the raw string as is"."""
        kind = self.kind
        lo = self.min if self.min is not None else 0
        if kind == "string":
            hi = self.max if self.max is not None else 1 << 62
            enum = frozenset(self.enum) if self.enum is not None else None
            fm = compile_java(self.pattern).fullmatch if self.pattern is not None else None
            if enum is None and fm is None:
                if self.min is None and self.max is None:
                    return None

                def string_len(raw: str) -> str:
                    if lo <= len(raw) <= hi:
                        return raw
                    raise INVALID

                return string_len
            if enum is None and fm is not None:

                def string_pattern(raw: str) -> str:
                    if lo <= len(raw) <= hi and fm(raw) is not None:
                        return raw
                    raise INVALID

                return string_pattern

            def string_any(raw: str) -> str:
                if (
                    lo <= len(raw) <= hi
                    and (fm is None or fm(raw) is not None)
                    and (enum is None or raw in enum)
                ):
                    return raw
                raise INVALID

            return string_any

        convert = self.convert
        violations = self.violations
        bounded = self.min is not None or self.max is not None

        def typed(raw: str) -> Any:
            value = convert(raw)
            if value is None or (bounded and violations(value)):
                raise INVALID
            return value

        if kind in ("integer", "long"):
            ilo = self.min if self.min is not None else -(2**63)
            ihi = self.max if self.max is not None else 2**63
            to_int = _to_int

            def integer(raw: str) -> int:
                value = to_int(kind, raw)
                if value is None or not ilo <= value <= ihi:
                    raise INVALID
                return value

            return integer
        if kind == "boolean":
            bools = _BOOLS

            def boolean(raw: str) -> bool:
                value = bools.get(raw)
                if value is None:
                    value = _to_bool(raw)
                    if value is None:
                        raise INVALID
                return value

            return boolean
        return typed
