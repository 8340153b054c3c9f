from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.wire.metrics import CONTENT_TYPE, Metrics, escape_label


def test_render_exact_text() -> None:
    m = Metrics(buckets=(0.001, 0.5, 5.0))
    m.observe("AssumeRole", "success", 0.001)  # on the bound: le is inclusive
    m.observe("AssumeRole", "success", 0.25)
    m.observe("AssumeRole", "success", 7)
    m.observe("CreateUser", "AccessDenied", 0.0002)
    assert m.render() == (
        "# HELP tessera_requests_total Requests handled, by action and outcome.\n"
        "# TYPE tessera_requests_total counter\n"
        'tessera_requests_total{action="AssumeRole",outcome="success"} 3\n'
        'tessera_requests_total{action="CreateUser",outcome="AccessDenied"} 1\n'
        "# HELP tessera_request_duration_seconds Request latency in seconds, by action and outcome.\n"
        "# TYPE tessera_request_duration_seconds histogram\n"
        'tessera_request_duration_seconds_bucket{action="AssumeRole",outcome="success",le="0.001"} 1\n'
        'tessera_request_duration_seconds_bucket{action="AssumeRole",outcome="success",le="0.5"} 2\n'
        'tessera_request_duration_seconds_bucket{action="AssumeRole",outcome="success",le="5"} 2\n'
        'tessera_request_duration_seconds_bucket{action="AssumeRole",outcome="success",le="+Inf"} 3\n'
        'tessera_request_duration_seconds_sum{action="AssumeRole",outcome="success"} 7.251\n'
        'tessera_request_duration_seconds_count{action="AssumeRole",outcome="success"} 3\n'
        'tessera_request_duration_seconds_bucket{action="CreateUser",outcome="AccessDenied",le="0.001"} 1\n'
        'tessera_request_duration_seconds_bucket{action="CreateUser",outcome="AccessDenied",le="0.5"} 1\n'
        'tessera_request_duration_seconds_bucket{action="CreateUser",outcome="AccessDenied",le="5"} 1\n'
        'tessera_request_duration_seconds_bucket{action="CreateUser",outcome="AccessDenied",le="+Inf"} 1\n'
        'tessera_request_duration_seconds_sum{action="CreateUser",outcome="AccessDenied"} 0.0002\n'
        'tessera_request_duration_seconds_count{action="CreateUser",outcome="AccessDenied"} 1\n'
    )


def test_empty_registry_renders_headers_only() -> None:
    text = Metrics().render()
    assert text.endswith("\n") and "{" not in text
    assert text.count("# TYPE") == 2


def test_default_buckets_span_half_ms_to_five_s() -> None:
    m = Metrics()
    m.observe("GetCallerIdentity", "success", 0.0001)
    les = re.findall(r'le="([^"]+)"', m.render())
    assert les[0] == "0.0005" and les[-2] == "5" and les[-1] == "+Inf"
    assert [float(x) for x in les[:-1]] == sorted(float(x) for x in les[:-1])


@pytest.mark.parametrize(("raw", "escaped"), [('a"b', 'a\\"b'), ("a\\b", "a\\\\b"), ("a\nb", "a\\nb"),
                                              ("plain", "plain")])
def test_label_values_are_escaped(raw: str, escaped: str) -> None:
    assert escape_label(raw) == escaped
    m = Metrics()
    m.observe(raw, "success", 0.01)
    assert f'tessera_requests_total{{action="{escaped}",outcome="success"}} 1\n' in m.render()


def test_series_cardinality_is_bounded() -> None:
    m = Metrics(max_series=3)
    for i in range(10):
        m.observe(f"Bogus{i}", "InvalidAction", 0.001)
    text = m.render()
    # three named series, then everything else folds into one `other` series per outcome
    assert text.count("tessera_requests_total{") == 4
    assert 'tessera_requests_total{action="other",outcome="InvalidAction"} 7' in text
    assert 'action="Bogus3"' not in text


def test_bad_durations_are_clamped() -> None:
    m = Metrics(buckets=(0.1,))
    m.observe("A", "success", float("nan"))
    m.observe("A", "success", -3)
    assert 'le="0.1"} 2' in m.render() and "_sum" in m.render() and "nan" not in m.render().lower()


def test_invalid_buckets_rejected() -> None:
    with pytest.raises(ValueError):
        Metrics(buckets=(1.0, 0.5))
    assert CONTENT_TYPE.startswith("text/plain; version=0.0.4")


_LINE = re.compile(r'^[a-z_]+(\{([a-z]+="([^"\\\n]|\\["\\n])*",?)+\})? [0-9.e+-]+$|^\+Inf$|^# (HELP|TYPE) .+$')


@given(st.lists(st.tuples(st.text(max_size=12), st.sampled_from(["success", "AccessDenied", 'x"y']),
                          st.floats(min_value=0, max_value=60)), max_size=20))
def test_every_line_is_valid_exposition(observations: list[tuple[str, str, float]]) -> None:
    m = Metrics()
    for action, outcome, seconds in observations:
        m.observe(action, outcome, seconds)
    text = m.render()
    lines = text.split("\n")
    assert lines[-1] == ""
    for line in lines[:-1]:
        assert _LINE.match(line), line
    total = sum(int(line.rsplit(" ", 1)[1]) for line in lines if line.startswith("tessera_requests_total{"))
    assert total == len(observations)


def test_extra_counters_are_read_at_each_render() -> None:
    lost = {"n": 0}
    m = Metrics(counters=lambda: {"tessera_log_lines_lost_total": ("Lines dropped.", lost["n"])})
    assert "tessera_log_lines_lost_total 0\n" in m.render()
    lost["n"] = 3
    text = m.render()
    assert "# TYPE tessera_log_lines_lost_total counter" in text and "tessera_log_lines_lost_total 3\n" in text
