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
    raw = data.encode("ascii", "replace") if isinstance(data, str) else data
    raw = raw.translate(None, _WHITESPACE)
    if not raw or len(raw) % 4:
        return None
    try:
        return binascii.a2b_base64(raw, strict_mode=True)
    except binascii.Error:
        return None
