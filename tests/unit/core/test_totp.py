"""TOTP as RFC 6238 specifies it (its SHA-1 test vectors) and as AWS virtual MFA uses it."""
from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.core import totp

# RFC 6238 appendix B: the SHA-1 seed is the ASCII "12345678901234567890"; 8-digit codes
RFC_SEED = base64.b32encode(b"12345678901234567890").decode()
RFC_VECTORS = [(59, "94287082"), (1111111109, "07081804"), (1111111111, "14050471"),
               (1234567890, "89005924"), (2000000000, "69279037"), (20000000000, "65353130")]


@pytest.mark.parametrize(("t", "eight_digits"), RFC_VECTORS)
def test_rfc6238_vectors(t: int, eight_digits: str) -> None:
    # the 6-digit code is the same truncated value modulo 10^6: the last six digits
    assert totp.code_at(RFC_SEED, totp.step_of(t)) == eight_digits[-6:]


def test_seeds_are_base32_of_160_bits_and_distinct() -> None:
    seeds = {totp.new_seed() for _ in range(50)}
    assert len(seeds) == 50
    for seed in seeds:
        assert len(seed) == 32 and len(base64.b32decode(seed)) == 20


def test_match_accepts_one_step_of_drift_and_nothing_further() -> None:
    seed, now = totp.new_seed(), 1_900_000_000.0
    step = totp.step_of(now)
    for offset in (-1, 0, 1):
        assert totp.match(seed, totp.code_at(seed, step + offset), now) == step + offset
    for offset in (-3, -2, 2, 3):
        code = totp.code_at(seed, step + offset)
        if all(code != totp.code_at(seed, step + o) for o in (-1, 0, 1)):  # a 1-in-10^6 clash aside
            assert totp.match(seed, code, now) is None


@pytest.mark.parametrize("code", ["", "12345", "1234567", "12345a", "١٢٣٤٥٦", " 12345", "123 45"])
def test_malformed_codes_never_match(code: str) -> None:
    assert totp.match(totp.new_seed(), code, 1_900_000_000.0) is None


def test_consecutive_codes_enable_a_device() -> None:
    seed, now = totp.new_seed(), 1_900_000_000.0
    step = totp.step_of(now)
    first, second = totp.code_at(seed, step - 1), totp.code_at(seed, step)
    assert totp.match_consecutive(seed, first, second, now) == step
    assert totp.match_consecutive(seed, second, first, now) is None  # order matters
    drifted = step + 3  # an authenticator three steps ahead is still found
    assert totp.match_consecutive(seed, totp.code_at(seed, drifted - 1), totp.code_at(seed, drifted), now) == drifted


@given(st.binary(min_size=10, max_size=40), st.integers(0, 2**40))
def test_codes_are_six_digits(key: bytes, step: int) -> None:
    code = totp.code_at(base64.b32encode(key).decode().rstrip("="), step)
    assert len(code) == 6 and code.isdigit()


@pytest.mark.parametrize("code", ["١٢٣٤٥٦", "12345", "abcdef", "1234567"])
def test_malformed_enable_codes_never_match(code: str) -> None:
    seed, now = totp.new_seed(), 1_900_000_000.0
    good = totp.code_at(seed, totp.step_of(now))
    assert totp.match_consecutive(seed, code, good, now) is None
    assert totp.match_consecutive(seed, good, code, now) is None
