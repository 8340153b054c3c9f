"""Session tokens: authentic tokens open; forged, altered, truncated or foreign ones do not."""
from __future__ import annotations

import base64
import os

import pytest
from hypothesis import given, settings, strategies as st

from app.services.tokens import MAX_TOKEN_CHARS, SessionTokens
from app.store.secretbox import SecretBox

BOX = SecretBox(b"k" * 32)
TOKENS = SessionTokens(BOX)
AKID = "ASIAABCDEFGHIJKLMNOP"


def test_issued_token_opens_with_its_claims() -> None:
    token = TOKENS.issue(AKID, 1_900_000_000.5)
    claims = TOKENS.open(token)
    assert claims is not None
    assert claims.access_key_id == AKID
    assert claims.expires_at == 1_900_000_000.5


def test_tokens_are_unique_and_base64() -> None:
    a, b = TOKENS.issue(AKID, 1.0), TOKENS.issue(AKID, 1.0)
    assert a != b
    base64.b64decode(a, validate=True)
    assert TOKENS.digest(a) != TOKENS.digest(b)


def test_token_from_another_master_key_is_refused() -> None:
    other = SessionTokens(SecretBox(b"x" * 32))
    assert TOKENS.open(other.issue(AKID, 1_900_000_000)) is None


def test_forged_token_without_mac_is_refused() -> None:
    raw = bytearray(base64.b64decode(TOKENS.issue(AKID, 1_900_000_000)))
    raw[-32:] = os.urandom(32)
    assert TOKENS.open(base64.b64encode(bytes(raw)).decode()) is None


def test_every_single_byte_alteration_is_refused() -> None:
    raw = base64.b64decode(TOKENS.issue(AKID, 1_900_000_000))
    for i in range(len(raw)):
        altered = bytearray(raw)
        altered[i] ^= 0x01
        assert TOKENS.open(base64.b64encode(bytes(altered)).decode()) is None, i


def test_extended_expiry_is_refused() -> None:
    raw = bytearray(base64.b64decode(TOKENS.issue(AKID, 1_000)))
    raw[1:9] = (2**62).to_bytes(8, "big")
    assert TOKENS.open(base64.b64encode(bytes(raw)).decode()) is None


def test_oversized_and_non_ascii_tokens_are_refused_early() -> None:
    assert TOKENS.open("A" * (MAX_TOKEN_CHARS + 4)) is None
    assert TOKENS.open("é" * 8) is None
    assert TOKENS.open("") is None


def test_same_digest_compares_exactly() -> None:
    d = TOKENS.digest("t")
    assert TOKENS.same_digest(d, d)
    assert not TOKENS.same_digest(d, TOKENS.digest("u"))


@settings(max_examples=300)
@given(st.text(max_size=300))
def test_arbitrary_text_never_opens_or_crashes(text: str) -> None:
    assert TOKENS.open(text) is None


@settings(max_examples=200)
@given(st.binary(max_size=200))
def test_arbitrary_base64_never_opens(blob: bytes) -> None:
    assert TOKENS.open(base64.b64encode(blob).decode()) is None


def test_a_given_nonce_is_used_and_checked() -> None:
    a = TOKENS.issue(AKID, 1_900_000_000, b"n" * 16)
    assert a == TOKENS.issue(AKID, 1_900_000_000, b"n" * 16) != TOKENS.issue(AKID, 1_900_000_000, b"m" * 16)
    assert TOKENS.open(a) is not None and base64.b64decode(a)[-48:-32] == b"n" * 16
    for bad in (b"", b"n" * 15, b"n" * 17):
        with pytest.raises(ValueError):
            TOKENS.issue(AKID, 1_900_000_000, bad)
