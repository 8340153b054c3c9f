"""Time-based one-time passwords (RFC 6238 over RFC 4226), as AWS virtual MFA devices use
them: HMAC-SHA1, 6 digits, 30-second steps, the seed shown to the user as base32.

Pure: `now` is a parameter. A code is accepted within `window` steps either side of now
(clock drift of the authenticator app); `match` returns the step it matched so the caller can
refuse a step that was already used (each code works once).
"""
from __future__ import annotations

import base64
import hmac
import secrets
import struct

STEP = 30
DIGITS = 6
SEED_BYTES = 20  # 160 bits, RFC 4226's recommendation; 32 base32 characters
WINDOW = 1


def new_seed() -> str:
    """A fresh seed in base32 (`[A-Z2-7]`, 32 characters, no padding)."""
    return base64.b32encode(secrets.token_bytes(SEED_BYTES)).decode("ascii")


def _key(seed: str) -> bytes:
    padded = seed.upper() + "=" * (-len(seed) % 8)
    return base64.b32decode(padded)


def step_of(now: float) -> int:
    return int(now) // STEP


def code_at(seed: str, step: int) -> str:
    """The code of `step` (RFC 4226 HOTP with the step as counter)."""
    digest = hmac.digest(_key(seed), struct.pack(">Q", step), "sha1")
    offset = digest[-1] & 0x0F
    value = struct.unpack(">I", digest[offset:offset + 4])[0] & 0x7FFFFFFF
    return str(value % 10 ** DIGITS).zfill(DIGITS)


def match(seed: str, code: str, now: float, window: int = WINDOW) -> int | None:
    """The step whose code `code` is, within `window` steps of now; None if none is.
    Every candidate is computed and compared in constant time."""
    if len(code) != DIGITS or not code.isascii() or not code.isdigit():
        return None
    found = None
    current = step_of(now)
    for step in range(current - window, current + window + 1):
        if hmac.compare_digest(code_at(seed, step), code):
            found = step if found is None else found
    return found


def match_consecutive(seed: str, first: str, second: str, now: float, window: int = 4) -> int | None:
    """For enabling or resynchronising a device (AWS asks for two consecutive codes): the step
    of `second` when `first` is the code of the step before it, within `window` steps of now
    (a wider window: the device may have drifted). None otherwise."""
    if not all(len(c) == DIGITS and c.isascii() and c.isdigit() for c in (first, second)):
        return None
    current = step_of(now)
    found = None
    for step in range(current - window, current + window + 1):
        ok = hmac.compare_digest(code_at(seed, step - 1), first) & hmac.compare_digest(code_at(seed, step), second)
        if ok and found is None:
            found = step
    return found
