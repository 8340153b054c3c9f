"""Time as a parameter: services take a Clock; tests pass a FixedClock."""
from __future__ import annotations

import time
from functools import lru_cache
from datetime import datetime, timezone


class Clock:
    """Wall clock. `now()` is an aware UTC datetime; `time()` is epoch seconds."""

    def time(self) -> float:
        return time.time()

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.time(), tz=timezone.utc)


class FixedClock(Clock):
    def __init__(self, t: float | datetime) -> None:
        self._t = t.timestamp() if isinstance(t, datetime) else float(t)

    def time(self) -> float:
        return self._t

    def advance(self, seconds: float) -> None:
        self._t += seconds

    def set(self, t: float | datetime) -> None:
        self._t = t.timestamp() if isinstance(t, datetime) else float(t)


def iso8601(t: float | datetime) -> str:
    """`2030-01-01T01:00:00Z`: second precision, always with Z."""
    if isinstance(t, datetime):
        if t.tzinfo is None:
            t = t.replace(tzinfo=timezone.utc)
        t = t.timestamp()
    return format_second(int(t)) + "Z"


@lru_cache(maxsize=64)
def format_second(t: int) -> str:
    """`%Y-%m-%dT%H:%M:%S` of an epoch second; cached: a busy second formats it once."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t))
