"""`application/x-www-form-urlencoded` pairs of one Query request (URL query string + body)."""
from __future__ import annotations

from urllib.parse import unquote_plus

from app.core.errors import ValidationError

MAX_PAIRS = 2000


def _split(text: str, out: list[tuple[str, str]]) -> None:
    for piece in text.split("&"):
        if not piece:
            continue
        key, _, value = piece.partition("=")
        if "%" in key or "+" in key:
            key = unquote_plus(key)
        if "%" in value or "+" in value:
            value = unquote_plus(value)  # invalid UTF-8 escapes become U+FFFD
        out.append((key, value))


def parse_form(body: bytes, query: str) -> list[tuple[str, str]]:
    """Pairs from the URL query string, then from the body; `+` is a space, blank values kept.

    Both parts are always read (a presigned POST carries everything in the query string).
    The caller caps the body size; this caps the number of pairs.
    """
    if query.count("&") >= MAX_PAIRS or body.count(b"&") >= MAX_PAIRS:
        raise ValidationError(f"the request has more than {MAX_PAIRS} parameters")
    pairs: list[tuple[str, str]] = []
    if query:
        _split(query, pairs)
    if body:
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise ValidationError("the request body is not valid UTF-8 form data") from None
        _split(text, pairs)
    if len(pairs) > MAX_PAIRS:
        raise ValidationError(f"the request has more than {MAX_PAIRS} parameters")
    return pairs
