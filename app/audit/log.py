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
from typing import Any, TextIO

import orjson

from app.audit.events import AuditEvent, scrub
from app.core.clock import Clock, format_second

LEVELS = {"debug": 10, "info": 20, "warning": 30, "error": 40}


def fingerprint(secret: str | bytes) -> str:
    """First 8 hex digits of SHA-256: enough to correlate, useless to recover the value."""
    data = secret.encode() if isinstance(secret, str) else secret
    return hashlib.sha256(data).hexdigest()[:8]


def _timestamp(t: float) -> str:
    whole = int(t)
    return f"{format_second(whole)}.{int((t - whole) * 1000):03d}Z"


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
        for key, value in record.items():
            line.setdefault(key, value)
        self._write(_dumps(line) + "\n")

    def _write(self, text: str) -> None:
        """Lines logged during one event-loop iteration reach the stream in one write at its
        end (one system call for every request that finished in it); outside a loop, at once."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self._stream.write(text)
            self._stream.flush()
            return
        self._pending.append(text)
        if not self._scheduled:
            self._scheduled = True
            loop.call_soon(self.flush)

    def flush(self) -> None:
        """Write what is pending now (also called at shutdown)."""
        self._scheduled = False
        if self._pending:
            text, self._pending = "".join(self._pending), []
            self._stream.write(text)
            self._stream.flush()

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
        self._logger.log(level, "app.log", **fields)


def install(logger: JsonLogger, name: str = "tessera") -> None:
    """Send the `tessera` logger hierarchy to `logger` (once per process, by the CLI)."""
    target = logging.getLogger(name)
    target.handlers[:] = [JsonLogHandler(logger)]
    target.setLevel(logging.INFO)
    target.propagate = False
