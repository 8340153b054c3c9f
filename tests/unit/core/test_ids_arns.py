from __future__ import annotations

import base64
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.core import arn, ids
from app.core.clock import FixedClock, iso8601


@pytest.mark.parametrize("prefix", [ids.USER, ids.ROLE, ids.GROUP, ids.POLICY])
def test_unique_ids_have_aws_shape(prefix):
    seen = {ids.unique_id(prefix) for _ in range(200)}
    assert len(seen) == 200
    assert all(re.fullmatch(prefix + "[A-Z2-7]{17}", x) for x in seen)


@pytest.mark.parametrize("prefix", [ids.LONG_TERM_KEY, ids.TEMPORARY_KEY])
def test_access_key_ids(prefix):
    key = ids.access_key_id(prefix)
    assert re.fullmatch(prefix + "[A-Z2-7]{16}", key)


def test_secrets_are_40_chars_of_the_aws_alphabet():
    for _ in range(100):
        assert re.fullmatch(r"[A-Za-z0-9/+]{40}", ids.secret_access_key())


def test_request_id_is_a_uuid_shape():
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", ids.request_id())


def test_injected_randomness_is_deterministic():
    class Zero:
        def token_bytes(self, n: int) -> bytes:
            return bytes(n)

    assert ids.unique_id(ids.ROLE, Zero()) == "AROA" + "A" * 17
    assert ids.secret_access_key(Zero()) == "A" * 40


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("arn:aws:iam::123456789012:role/a/b/Name", ("123456789012", "/a/b/", "Name")),
        ("arn:aws:iam::123456789012:role/Name", ("123456789012", "/", "Name")),
        ("arn:aws:iam::123456789012:user/Name", None),
        ("arn:aws:iam:us-east-1:123456789012:role/Name", None),
        ("arn:aws:iam::12345:role/Name", None),
        ("arn:aws:iam::123456789012:role/", None),
        ("not an arn", None),
    ],
)
def test_parse_role_arn(text, expected):
    assert arn.parse_role_arn(text) == expected


def test_builders_and_parts():
    assert arn.user("111122223333", "/d/", "bob") == "arn:aws:iam::111122223333:user/d/bob"
    assert arn.assumed_role("111122223333", "r", "s") == "arn:aws:sts::111122223333:assumed-role/r/s"
    a = arn.parse("arn:aws:logs:us-east-1:111122223333:log-group:x:log-stream:y")
    assert a is not None and a.resource == "log-group:x:log-stream:y" and a.resource_type == "log-group"


@given(st.text(max_size=80))
def test_parse_never_raises(text):
    result = arn.parse(text)
    assert result is None or str(result) == text


def test_clock_and_timestamps():
    clock = FixedClock(1_800_000_000)
    clock.advance(5)
    assert clock.time() == 1_800_000_005
    assert iso8601(clock.now()) == "2027-01-15T08:00:05Z"
    assert iso8601(0.9) == "1970-01-01T00:00:00Z"


def test_access_key_pair_draws_once():
    draws: list[int] = []

    class Counting:
        def token_bytes(self, n: int) -> bytes:
            draws.append(n)
            return bytes(range(n))

    akid, secret, extra = ids.access_key_pair(ids.TEMPORARY_KEY, Counting(), extra=16)
    assert draws == [16 + 30 + 16]
    assert akid == ids.access_key_id(ids.TEMPORARY_KEY, Counting())  # the same bytes, the same id
    assert secret == base64.b64encode(bytes(range(16, 46))).decode()
    assert extra == bytes(range(46, 62))
    akid, secret, extra = ids.access_key_pair(ids.LONG_TERM_KEY)
    assert re.fullmatch("AKIA[A-Z2-7]{16}", akid) and re.fullmatch(r"[A-Za-z0-9/+]{40}", secret) and extra == b""
