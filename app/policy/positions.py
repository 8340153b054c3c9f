"""Where things are in a policy's JSON text: statement spans and error positions.

    statement_spans(text)          # -> (Span, ...) per statement, in document order
    locate_error(text, message)    # -> (line, column) best matching a MalformedPolicyDocument message

Lines and columns are 1-based and count characters (as `json.JSONDecodeError` does). A
`Span` starts at a statement's `{` and ends just past its `}` (IAM's simulator reports
`StartPosition`/`EndPosition` the same way). Pure: a small span-recording JSON scanner;
text that does not scan yields no spans and position (1, 1).
"""
from __future__ import annotations

import bisect
import json
import re
from collections import deque
from dataclasses import dataclass, field
from typing import Any

MAX_DEPTH = 64
_WS = " \t\n\r"
_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?")
_STRING = re.compile(r'"(?:[^"\\\x00-\x1f]|\\.)*"', re.DOTALL)
_TICKED = re.compile(r"`([^`]*)`")
_STATEMENT = re.compile(r"\bstatement (\d+)")
_STATEMENT_LABEL = re.compile(r"\bstatement \d+(?: `[^`]*`)?")


@dataclass(frozen=True, slots=True)
class Span:
    start_line: int
    start_column: int
    end_line: int
    end_column: int


@dataclass(slots=True)
class Node:
    kind: str  # "object" | "array" | "string" | "scalar"
    start: int  # offset of the first character
    end: int = 0  # offset just past the last character
    value: Any = None  # decoded string for "string"
    members: list[tuple[str, int, "Node"]] = field(default_factory=list)  # object: (key, key offset, value)
    items: list["Node"] = field(default_factory=list)  # array elements


class _Unscannable(Exception):
    pass


class _Scanner:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def skip(self) -> None:
        text, pos = self.text, self.pos
        while pos < len(text) and text[pos] in _WS:
            pos += 1
        self.pos = pos

    def expect(self, ch: str) -> None:
        self.skip()
        if not self.text.startswith(ch, self.pos):
            raise _Unscannable
        self.pos += 1

    def value(self, depth: int) -> Node:
        if depth > MAX_DEPTH:
            raise _Unscannable
        self.skip()
        start = self.pos
        ch = self.text[start:start + 1]
        if ch == "{":
            return self._object(start, depth)
        if ch == "[":
            return self._array(start, depth)
        if ch == '"':
            return self._string()
        m = _NUMBER.match(self.text, start)
        for word in ("true", "false", "null"):
            if self.text.startswith(word, start):
                self.pos = start + len(word)
                return Node("scalar", start, self.pos)
        if m is None:
            raise _Unscannable
        self.pos = m.end()
        return Node("scalar", start, self.pos)

    def _string(self) -> Node:
        m = _STRING.match(self.text, self.pos)
        if m is None:
            raise _Unscannable
        start, self.pos = self.pos, m.end()
        return Node("string", start, self.pos, value=json.loads(m.group()))

    def _object(self, start: int, depth: int) -> Node:
        node = Node("object", start)
        self.pos += 1
        self.skip()
        if self.text.startswith("}", self.pos):
            self.pos += 1
            node.end = self.pos
            return node
        while True:
            self.skip()
            key = self._string()
            self.expect(":")
            node.members.append((key.value, key.start, self.value(depth + 1)))
            self.skip()
            if self.text.startswith(",", self.pos):
                self.pos += 1
                continue
            self.expect("}")
            node.end = self.pos
            return node

    def _array(self, start: int, depth: int) -> Node:
        node = Node("array", start)
        self.pos += 1
        self.skip()
        if self.text.startswith("]", self.pos):
            self.pos += 1
            node.end = self.pos
            return node
        while True:
            node.items.append(self.value(depth + 1))
            self.skip()
            if self.text.startswith(",", self.pos):
                self.pos += 1
                continue
            self.expect("]")
            node.end = self.pos
            return node


def scan(text: str) -> Node | None:
    """The span tree of a JSON text, or None when it does not scan."""
    scanner = _Scanner(text)
    try:
        node = scanner.value(0)
        scanner.skip()
    except (_Unscannable, ValueError, RecursionError):
        return None
    return node if scanner.pos == len(text) else None


class LineIndex:
    """Offset -> (line, column), both 1-based."""

    def __init__(self, text: str) -> None:
        self._starts = [0] + [i + 1 for i, ch in enumerate(text) if ch == "\n"]

    def position(self, offset: int) -> tuple[int, int]:
        line = bisect.bisect_right(self._starts, offset) - 1
        return line + 1, offset - self._starts[line] + 1


def _member(node: Node, key: str) -> tuple[int, Node] | None:
    for name, offset, value in node.members:
        if name == key:
            return offset, value
    return None


def _statement_nodes(root: Node | None) -> list[Node]:
    if root is None or root.kind != "object":
        return []
    found = _member(root, "Statement")
    if found is None:
        return []
    value = found[1]
    if value.kind == "object":
        return [value]
    return [n for n in value.items] if value.kind == "array" else []


def statement_spans(text: str) -> tuple[Span, ...]:
    """The span of every statement (a single-object `Statement` is statement 0)."""
    nodes = _statement_nodes(scan(text))
    index = LineIndex(text)
    return tuple(Span(*index.position(n.start), *index.position(n.end)) for n in nodes)


def _find(node: Node, token: str) -> tuple[int, Node] | None:
    """Breadth-first: a key equal to `token` (-> its offset, its value) or a string value."""
    queue: deque[Node] = deque([node])
    while queue:
        cur = queue.popleft()
        if cur.kind == "string" and cur.value == token:
            return cur.start, cur
        for name, offset, value in cur.members:
            if name == token:
                return offset, value
        queue.extend(v for _, _, v in cur.members)
        queue.extend(cur.items)
    return None


def _descend(node: Node, token: str) -> tuple[int, Node] | None:
    hit = _find(node, token)
    if hit is not None or "." not in token:
        return hit
    cur: tuple[int, Node] = (node.start, node)
    for part in token.split("."):  # `Condition.StringEquals`, `Principal.AWS`
        found = _member(cur[1], part) if cur[1].kind == "object" else None
        if found is None:
            return None
        cur = found
    return cur


def _duplicate(node: Node) -> int | None:
    queue: deque[Node] = deque([node])
    while queue:
        cur = queue.popleft()
        seen: set[str] = set()
        for name, offset, value in cur.members:
            if name in seen:
                return offset
            seen.add(name)
            queue.append(value)
        queue.extend(cur.items)
    return None


def locate_error(text: str, message: str) -> tuple[int, int]:
    """(line, column) of what a MalformedPolicyDocument `message` names: the statement it
    mentions ("statement N"), then the elements/values it quotes in backticks, in order."""
    root = scan(text)
    if root is None:
        return 1, 1
    index = LineIndex(text)
    if "duplicate key" in message:
        offset = _duplicate(root)
        return index.position(offset if offset is not None else root.start)
    node = root
    numbers = _STATEMENT.findall(message)
    if numbers:
        statements = _statement_nodes(root)
        n = int(numbers[-1]) - 1
        if 0 <= n < len(statements):
            node = statements[n]
    offset = node.start
    for token in _TICKED.findall(_STATEMENT_LABEL.sub("", message)):
        hit = _descend(node, token)
        if hit is not None:
            offset, node = hit
    return index.position(offset)
