"""Structured JSON logging: one object per line, never a secret.

Event names are `<area>.<action>.<outcome>` (`sts.assume_role.success`, `http.request`).
Fields pass through the audit scrubber, so a key named like a secret (`session_token`,
`SAMLAssertion`...) is redacted even if a caller passes it by mistake; use
`fingerprint(secret)` when a value must be correlated without being logged.
"""
from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import sys
from collections.abc import Iterator
from typing import Any, TextIO

import orjson

from app.audit.events import AuditEvent, scrub
from app.core.clock import Clock, format_second

LEVELS = {"debug": 10, "info": 20, "warning": 30, "error": 40}
PIPE_BUF = 4096  # POSIX: writes up to this size to a pipe are never interleaved with others'
MAX_PENDING = 10_000
_RESERVED = frozenset({"ts", "level", "event", "request_id"})  # a line's own keys, first in it


def fingerprint(secret: str | bytes) -> str:
    """First 8 hex digits of SHA-256: enough to correlate, useless to recover the value."""
    data = secret.encode() if isinstance(secret, str) else secret
    return hashlib.sha256(data).hexdigest()[:8]


_MILLIS = tuple(f".{ms:03d}Z" for ms in range(1000))  # the tails of timestamps, formatted once


def _timestamp(t: float) -> str:
    """`2030-01-01T00:00:00.250Z`: milliseconds truncated."""
    whole = int(t)
    ms = int((t - whole) * 1000)
    return format_second(whole) + (_MILLIS[ms] if 0 <= ms < 1000 else f".{ms:03d}Z")


def _chunk_ends(lines: list[str]) -> Iterator[int]:
    """Where to cut `lines` so that each piece is at most PIPE_BUF bytes of whole lines (a
    longer line is a piece of its own); lazily, so a failing first write costs one piece."""
    size = 0
    for i, line in enumerate(lines):
        n = len(line) if line.isascii() else len(line.encode("utf-8", "replace"))
        if size and size + n > PIPE_BUF:
            yield i
            size = 0
        size += n
    if lines:
        yield len(lines)


def _opaque(value: object) -> str:
    return f"<{type(value).__name__}>"  # never str(): unknown objects may render secrets


def _dumps(line: dict[str, Any]) -> str:
    try:
        return orjson.dumps(line, default=_opaque).decode()
    except TypeError:  # what orjson cannot represent (integers beyond 64 bits): the slow path
        return json.dumps(line, separators=(",", ":"), default=_opaque)


class JsonLogger:
    def __init__(self, stream: TextIO | None, clock: Clock, *, level: str = "info") -> None:
        """`stream` None means standard error."""
        if level not in LEVELS:
            raise ValueError(f"unknown log level `{level}`")
        self._stream = stream if stream is not None else sys.stderr
        self._clock = clock
        self._min = LEVELS[level]
        self._pending: list[str] = []
        self._scheduled = False
        self.lost = 0  # lines dropped after the stream kept failing (exported as a metric)

    def log(self, level: str, event: str, *, request_id: str | None = None, **fields: Any) -> None:
        if LEVELS.get(level, 40) < self._min:
            return
        line: dict[str, Any] = {"ts": _timestamp(self._clock.time()), "level": level, "event": event}
        if request_id is not None:
            line["request_id"] = request_id
        for key, value in scrub(fields).items():
            line.setdefault(key, value)  # reserved keys cannot be overwritten by fields
        self._write(json.dumps(line, separators=(",", ":"), default=str) + "\n")

    def emit(self, level: str, event: str, record: dict[str, Any], *, request_id: str | None = None) -> None:
        """Write a record the caller has already scrubbed (audit events scrub themselves)."""
        if LEVELS.get(level, 40) < self._min:
            return
        line: dict[str, Any] = {"ts": _timestamp(self._clock.time()), "level": level, "event": event}
        if request_id is not None:
            line["request_id"] = request_id
        if record.keys().isdisjoint(_RESERVED):  # an audit record always is: copied in C
            line.update(record)
        else:
            for key, value in record.items():
                line.setdefault(key, value)  # reserved keys cannot be overwritten by the record
        self._write(_dumps(line) + "\n")

    def _write(self, text: str) -> None:
        """Lines logged during one event-loop iteration are written together at its end, a
        few per system call (see `flush`); outside a loop, at once."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self._pending.append(text)
            self.flush()
            return
        self._pending.append(text)
        if not self._scheduled:
            self._scheduled = True
            loop.call_soon(self.flush)

    def flush(self) -> None:
        """Write what is pending (also called at shutdown), in writes of at most PIPE_BUF
        bytes made of whole lines, so lines of workers sharing one pipe never interleave. When
        the stream fails, the unwritten lines stay pending for the next flush (at most
        MAX_PENDING; beyond that the oldest are dropped and counted in `lost`)."""
        self._scheduled = False
        pending, self._pending = self._pending, []
        start = 0
        try:
            for end in _chunk_ends(pending):
                self._stream.write("".join(pending[start:end]))
                self._stream.flush()
                start = end
        except (OSError, ValueError):  # a full disk, a closed pipe or stream
            unwritten = pending[start:] if start else pending
            unwritten.extend(self._pending)
            overflow = len(unwritten) - MAX_PENDING
            if overflow > 0:
                self.lost += overflow
                del unwritten[:overflow]
            self._pending = unwritten

    def debug(self, event: str, **kw: Any) -> None:
        self.log("debug", event, **kw)

    def info(self, event: str, **kw: Any) -> None:
        self.log("info", event, **kw)

    def warning(self, event: str, **kw: Any) -> None:
        self.log("warning", event, **kw)

    def error(self, event: str, **kw: Any) -> None:
        self.log("error", event, **kw)


class AuditLog:
    """Writes one `event: "audit"` line per AuditEvent (CloudTrail fields at the top level)."""

    def __init__(self, logger: JsonLogger) -> None:
        self._logger = logger

    def write(self, event: AuditEvent) -> None:
        level = "info" if event.outcome == "success" else "warning"
        self._logger.emit(level, "audit", event.to_record(), request_id=event.request_id)


class JsonLogHandler(logging.Handler):
    """Routes the standard library's `tessera.*` log records into the JSON log. Exception
    details are reduced to the exception type: a traceback may quote request data."""

    def __init__(self, logger: JsonLogger) -> None:
        super().__init__()
        self._logger = logger

    def emit(self, record: logging.LogRecord) -> None:
        level = {logging.DEBUG: "debug", logging.INFO: "info", logging.WARNING: "warning"}.get(record.levelno, "error")
        fields: dict[str, Any] = {"logger": record.name, "message": record.getMessage()}
        if record.exc_info and record.exc_info[0] is not None:
            fields["exc_type"] = record.exc_info[0].__name__
            fields["where"] = f"{record.pathname}:{record.lineno}"
        # `extra={"event": "area.action.outcome"}` names the line's event; else "app.log"
        self._logger.log(level, getattr(record, "event", "app.log"), **fields)


def install(logger: JsonLogger, name: str = "tessera") -> None:
    """Send the `tessera` logger hierarchy to `logger` (once per process, by the CLI)."""
    target = logging.getLogger(name)
    target.handlers[:] = [JsonLogHandler(logger)]
    target.setLevel(logging.INFO)
    target.propagate = False
