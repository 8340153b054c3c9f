"""Identifiers and secrets in AWS's shapes.

Unique ids: prefix + 17 chars of base32 (21 chars: `AIDA…`, `AROA…`, `AGPA…`, `ANPA…`).
Access key ids: `AKIA`/`ASIA` + 16 chars (20 chars). Secrets: 40 chars of [A-Za-z0-9/+].
Randomness is injectable for tests (`rng` is any object with `token_bytes(n)`).
"""
from __future__ import annotations

import base64
import os
from typing import Protocol


USER, ROLE, GROUP, POLICY, INSTANCE_PROFILE = "AIDA", "AROA", "AGPA", "ANPA", "AIPA"
LONG_TERM_KEY, TEMPORARY_KEY = "AKIA", "ASIA"


class Random(Protocol):
    def token_bytes(self, n: int) -> bytes: ...


class SystemRandom:
    def token_bytes(self, n: int) -> bytes:
        return os.urandom(n)  # what `secrets.token_bytes` returns, without its two Python calls


_SYSTEM = SystemRandom()  # stateless (each call asks the kernel): nothing is buffered across a fork


_AKID_CHARS = 16  # after the 4-character prefix
_SECRET_BYTES = 30
# byte -> base32 letter (`[A-Z2-7]`); 256 is a multiple of 32, so every letter is equally likely
_TO_BASE32 = bytes(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"[i & 31] for i in range(256))


def _base32(rng: Random, n: int) -> str:
    """`n` uniformly random base32 characters (one random byte each, translated in C)."""
    return _base32_of(rng.token_bytes(n))


def _base32_of(raw: bytes) -> str:
    return raw.translate(_TO_BASE32).decode("ascii")


def _secret_of(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def unique_id(prefix: str, rng: Random | None = None) -> str:
    return prefix + _base32(rng or _SYSTEM, 17)


def opaque_id(length: int, rng: Random | None = None) -> str:
    """`length` random characters of `[A-Z2-7]` (SAML provider UUIDs and private key ids, whose
    model type is `[A-Z0-9]{22,64}`)."""
    return _base32(rng or _SYSTEM, length)


def access_key_id(prefix: str, rng: Random | None = None) -> str:
    return prefix + _base32(rng or _SYSTEM, _AKID_CHARS)


def secret_access_key(rng: Random | None = None) -> str:
    """40 characters of `[A-Za-z0-9+/]`: standard base64 of 30 random bytes (240 bits)."""
    return _secret_of((rng or _SYSTEM).token_bytes(_SECRET_BYTES))


def access_key_pair(prefix: str, rng: Random | None = None, *, extra: int = 0) -> tuple[str, str, bytes]:
    """(`access_key_id(prefix)`, `secret_access_key()`, `extra` more random bytes for the
    caller), all from one draw of random bytes: one system call instead of one per value."""
    raw = (rng or _SYSTEM).token_bytes(_AKID_CHARS + _SECRET_BYTES + extra)
    secret_end = _AKID_CHARS + _SECRET_BYTES
    return prefix + _base32_of(raw[:_AKID_CHARS]), _secret_of(raw[_AKID_CHARS:secret_end]), raw[secret_end:]


def urlsafe_token(n: int, rng: Random | None = None) -> str:
    return base64.urlsafe_b64encode((rng or _SYSTEM).token_bytes(n)).rstrip(b"=").decode()


def request_id(rng: Random | None = None) -> str:
    b = (rng or _SYSTEM).token_bytes(16).hex()
    return f"{b[:8]}-{b[8:12]}-{b[12:16]}-{b[16:20]}-{b[20:]}"
