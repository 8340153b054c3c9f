"""A tiny Prometheus registry (text exposition format 0.0.4), one instance per app; no globals.

`observe` is on the hot path: one dict lookup/increment and one bisect. `render` builds
the text on scrape. Cardinality is bounded: after `max_series` (action, outcome) series,
new actions are counted under `action="other"`.
"""
from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Mapping

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# upper bounds in seconds, 0.5 ms .. 5 s; +Inf is implicit
DEFAULT_BUCKETS: tuple[float, ...] = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
)


def escape_label(value: str) -> str:
    """Label value escaping of the text format: backslash, double quote, line feed."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(v: float) -> str:
    if v != v:
        return "NaN"
    if v in (float("inf"), float("-inf")):
        return "+Inf" if v > 0 else "-Inf"
    return str(int(v)) if float(v).is_integer() and abs(v) < 1e15 else repr(float(v))


class _Series:
    """Counts per bucket (non-cumulative; made cumulative on render), sum, count."""

    __slots__ = ("buckets", "sum", "count")

    def __init__(self, n: int) -> None:
        self.buckets = [0] * (n + 1)  # last slot: above the highest bound (+Inf only)
        self.sum = 0.0
        self.count = 0


class Metrics:
    def __init__(self, buckets: tuple[float, ...] = DEFAULT_BUCKETS, *, max_series: int = 2000,
                 counters: Callable[[], Mapping[str, tuple[str, float]]] | None = None) -> None:
        """`counters`: more counters to export, read at each render: name -> (help, value)."""
        if list(buckets) != sorted(set(buckets)) or not buckets:
            raise ValueError("buckets must be a non-empty, strictly increasing sequence")
        self._bounds = buckets
        self._max_series = max_series
        self._requests: dict[tuple[str, str], int] = {}
        self._latency: dict[tuple[str, str], _Series] = {}
        self._counters = counters

    def observe(self, action: str, outcome: str, seconds: float) -> None:
        """Count one request of `action` that ended with `outcome` and took `seconds`."""
        if not seconds >= 0.0:  # negative or NaN (a clock step): count it in the first bucket
            seconds = 0.0
        key = (action, outcome)
        series = self._latency.get(key)
        if series is None:
            if len(self._latency) >= self._max_series:  # bound cardinality under hostile input
                key = ("other", outcome)
                series = self._latency.get(key)
            if series is None:
                series = self._latency[key] = _Series(len(self._bounds))
                self._requests[key] = 0
        self._requests[key] += 1
        series.buckets[bisect_left(self._bounds, seconds)] += 1
        series.sum += seconds
        series.count += 1

    def render(self) -> str:
        out = [
            "# HELP tessera_requests_total Requests handled, by action and outcome.",
            "# TYPE tessera_requests_total counter",
        ]
        for (action, outcome), n in sorted(self._requests.items()):
            out.append(f'tessera_requests_total{{action="{escape_label(action)}",'
                       f'outcome="{escape_label(outcome)}"}} {n}')
        out += [
            "# HELP tessera_request_duration_seconds Request latency in seconds, by action and outcome.",
            "# TYPE tessera_request_duration_seconds histogram",
        ]
        bounds = [_number(b) for b in self._bounds] + ["+Inf"]
        for (action, outcome), s in sorted(self._latency.items()):
            labels = f'action="{escape_label(action)}",outcome="{escape_label(outcome)}"'
            running = 0
            for le, n in zip(bounds, s.buckets):
                running += n
                out.append(f'tessera_request_duration_seconds_bucket{{{labels},le="{le}"}} {running}')
            out.append(f"tessera_request_duration_seconds_sum{{{labels}}} {_number(s.sum)}")
            out.append(f"tessera_request_duration_seconds_count{{{labels}}} {s.count}")
        for name, (text, value) in sorted((self._counters() if self._counters else {}).items()):
            out += [f"# HELP {name} {text}", f"# TYPE {name} counter", f"{name} {_number(value)}"]
        return "\n".join(out) + "\n"
