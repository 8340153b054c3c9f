"""Wildcards, ARN patterns and policy variables.

Every pattern is turned into one anchored regular expression, once:

- action patterns: case-insensitive, `*` any sequence, `?` one character;
- string patterns (`StringLike`): case-sensitive, same wildcards;
- ARN patterns (Resource, `Arn*` operators): the six `:`-fields `arn:partition:service:
  region:account:resource` are matched separately. In fields 1-5 `*`/`?` do not cross
  `:`; in the resource part they may. A pattern with fewer than six fields matches
  only if it ends with `*`, which then absorbs the rest of the ARN (reference §4.2).

Policy variables (`${aws:username}`, `${x, 'default'}`, `${*}`, `${?}`, `${$}`) make a
pattern a `Template`: resolved per request against the (lower-cased) context, with the
substituted text taken literally (reference §5, ambiguity 11).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Mapping, Union

ContextValue = Union[str, tuple[str, ...]]

_VAR = re.compile(r"\$\{([^{}]*)\}")
_VAR_BODY = re.compile(r"^([^\s,'{}$]+)(?:, '([^']*)')?$")
_SPECIAL = {"*": "*", "?": "?", "$": "$"}

# Template parts: ("p", text) policy text where wildcards keep their meaning,
# ("l", text) literal text, ("v", lower-cased key, default-or-None) a variable.
Part = tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Template:
    parts: tuple[Part, ...]

    @property
    def has_variables(self) -> bool:
        return any(p[0] == "v" for p in self.parts)

    @property
    def variable_names(self) -> tuple[str, ...]:
        return tuple(p[1] for p in self.parts if p[0] == "v")

    def resolve(self, ctx: Mapping[str, ContextValue]) -> tuple[Part, ...] | None:
        """Substitute variables; None when one is unresolvable (missing, no default, or multivalued)."""
        out: list[Part] = []
        for part in self.parts:
            if part[0] != "v":
                out.append(part)
                continue
            value = ctx.get(part[1])
            if isinstance(value, tuple):
                value = value[0] if len(value) == 1 else None
            if value is None:
                if part[2] is None:
                    return None
                value = part[2]
            out.append(("l", value))
        return tuple(out)


def parse_template(text: str, variables: bool, start: int = 0) -> Template:
    """Split `text` into policy text and variables. Only text from `start` on is scanned."""
    if not variables or "${" not in text[start:]:
        return Template((("p", text),))
    parts: list[Part] = []
    if start:
        parts.append(("p", text[:start]))
    pos = start
    for m in _VAR.finditer(text, start):
        body = m.group(1)
        if body in _SPECIAL:
            part: Part = ("l", _SPECIAL[body])
        else:
            vm = _VAR_BODY.match(body)
            if vm is None:
                continue  # not a variable: stays literal policy text
            part = ("v", vm.group(1).lower(), vm.group(2))
        if m.start() > pos:
            parts.append(("p", text[pos:m.start()]))
        parts.append(part)
        pos = m.end()
    if pos < len(text):
        parts.append(("p", text[pos:]))
    return Template(tuple(parts))


def joined(parts: tuple[Part, ...]) -> str:
    return "".join(p[1] for p in parts)


def _glob_fragment(text: str, cross: bool) -> str:
    star, one = (".*", ".") if cross else ("[^:]*", "[^:]")
    out = []
    for ch in text:
        if ch == "*":
            out.append(star)
        elif ch == "?":
            out.append(one)
        else:
            out.append(re.escape(ch))
    return "".join(out)


def string_regex(parts: tuple[Part, ...]) -> str:
    """Regex source for a StringLike / action pattern (wildcards cross everything)."""
    return "".join(_glob_fragment(p[1], True) if p[0] == "p" else re.escape(p[1]) for p in parts)


def arn_regex(parts: tuple[Part, ...]) -> str | None:
    """Regex source for a segment-wise ARN pattern; None if the pattern can match nothing."""
    colons = sum(p[1].count(":") for p in parts if p[0] == "p")
    short = colons < 5
    if short:
        last = parts[-1] if parts else ("l", "")
        if last[0] != "p" or not last[1].endswith("*"):
            return None
    out: list[str] = []
    field = 0
    for i, part in enumerate(parts):
        if part[0] != "p":
            out.append(re.escape(part[1]))
            continue
        text = part[1]
        pieces = text.split(":")
        for j, piece in enumerate(pieces):
            if j:
                out.append(":")
                field += 1
            is_last = short and i == len(parts) - 1 and j == len(pieces) - 1
            if is_last:
                out.append(_glob_fragment(piece[:-1], False) + ".*")
            else:
                out.append(_glob_fragment(piece, field >= 5))
    return "".join(out)


@lru_cache(maxsize=4096)
def compiled(source: str, ignore_case: bool = False) -> re.Pattern[str]:
    return re.compile(source, re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def has_wildcard(text: str) -> bool:
    return "*" in text or "?" in text


def action_matcher(pattern: str) -> re.Pattern[str]:
    """Anchored regex over the lower-cased action."""
    return compiled(string_regex((("p", pattern.lower()),)))


def arn_fields_ok(value: str) -> bool:
    return value.count(":") >= 5 and value.startswith("arn:")
