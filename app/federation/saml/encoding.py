"""Strict base64 (the SAMLAssertion parameter, xenc CipherValue).

Only the standard alphabet with correct padding; ASCII whitespace (line breaks every 64 or
76 characters, as many IdPs and xmlsec write) is removed first. No URL-safe alphabet, no
missing padding, no junk silently skipped (binascii's default would skip it).
"""
from __future__ import annotations

import binascii

_WHITESPACE = b" \t\r\n"


def strict_b64decode(data: str | bytes) -> bytes | None:
    """The decoded bytes, or None if `data` is not strict base64."""
    if isinstance(data, str) and not data.isascii():  # isascii is O(1) on str
        return None
    decoded = _decode(data)  # strict mode refuses whitespace: unwrapped text needs no copy
    if decoded is not None:
        return decoded
    raw = data.encode("ascii") if isinstance(data, str) else data
    return _decode(raw.translate(None, _WHITESPACE))


def _decode(raw: str | bytes) -> bytes | None:
    if not raw or len(raw) % 4:
        return None
    try:
        return binascii.a2b_base64(raw, strict_mode=True)
    except binascii.Error:
        return None
