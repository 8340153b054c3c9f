"""A parsed SigV4 request awaiting its secret: the canonical request, the derived signing
keys and the constant-time signature check. Pure: no I/O.

`SignedRequest.verify(secret)` builds the canonical request lazily (botocore's
canonicalisation: dot-segment removal, RFC 3986 re-encoding of query components, whitespace
folding of header values) and compares signatures in constant time. `SigningKeys` is a bounded
LRU of derived signing keys kept under a SHA-256 of (date, region, service, secret), never
under the secret itself. Parsing and the checks that need no secret are `app.wire.sigv4`.
"""
from __future__ import annotations

import hashlib
import hmac
import re
from collections import OrderedDict
from dataclasses import dataclass, field
from functools import lru_cache
from typing import NamedTuple
from urllib.parse import quote, unquote_to_bytes

from app.core.errors import SignatureDoesNotMatch

ALGORITHM = "AWS4-HMAC-SHA256"
TERMINATOR = "aws4_request"
MISMATCH_MESSAGE = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. "
    "Consult the service documentation for details."
)

# already canonical: unreserved characters, or %XX (upper-case) of a byte that must stay encoded
_CANONICAL = re.compile(r"(?:[A-Za-z0-9._~-]+|%(?!2[DE]|3[0-9]|[46][1-9A-F]|[57][0-9A]|5F|7E)[0-9A-F]{2})*")


def mismatch(reason: str, message: str = MISMATCH_MESSAGE) -> SignatureDoesNotMatch:
    return SignatureDoesNotMatch(message, reason=reason)


class SigningKeys:
    """Bounded LRU of derived signing keys, keyed by a hash of (secret, scope)."""

    __slots__ = ("_entries", "_size")

    def __init__(self, size: int) -> None:
        self._entries: OrderedDict[bytes, bytes] = OrderedDict()
        self._size = max(0, size)

    def get(self, secret: str, date: str, region: str, service: str) -> bytes:
        ident = hashlib.sha256(f"{date}\0{region}\0{service}\0{secret}".encode()).digest()
        key = self._entries.get(ident)
        if key is not None:
            self._entries.move_to_end(ident)
            return key
        key = hmac.digest(("AWS4" + secret).encode(), date.encode(), "sha256")
        for part in (region, service, TERMINATOR):
            key = hmac.digest(key, part.encode(), "sha256")
        if self._size:
            self._entries[ident] = key
            if len(self._entries) > self._size:
                self._entries.popitem(last=False)
        return key

    def __len__(self) -> int:
        return len(self._entries)


def _remove_dot_segments(path: str) -> str:
    """botocore's normalisation: drop '.', '' and resolve '..' segments."""
    out: list[str] = []
    for seg in path.split("/"):
        if seg == "..":
            if out:
                out.pop()
        elif seg and seg != ".":
            out.append(seg)
    first = "/" if path.startswith("/") else ""
    last = "/" if path.endswith("/") and out else ""
    return first + "/".join(out) + last


@lru_cache(maxsize=1024)
def canonical_uri(raw_path: str) -> str:
    return quote(_remove_dot_segments(raw_path) or "/", safe="/~")


def _canonical_component(raw: str) -> str:
    """Percent-decode (no '+' -> space) and re-encode per RFC 3986, skipping canonical input."""
    if _CANONICAL.fullmatch(raw):
        return raw
    return quote(unquote_to_bytes(raw), safe="")


def canonical_query(pairs: tuple[tuple[str, str], ...]) -> str:
    enc = sorted((_canonical_component(name), _canonical_component(value)) for name, value in pairs)
    return "&".join(f"{n}={v}" for n, v in enc)


def canonical_request(method: str, raw_path: str, query: tuple[tuple[str, str], ...],
                      headers: tuple[tuple[str, str], ...], signed_headers: str, body_hash: str) -> str:
    """The canonical request; `headers` are (signed name, value) in SignedHeaders order."""
    lines = "".join(f"{name}:{' '.join(value.split())}\n" for name, value in headers)
    return "\n".join((method, canonical_uri(raw_path), canonical_query(query), lines, signed_headers, body_hash))


class SignatureInputs(NamedTuple):
    """What `verify` needs beyond the public fields (kept out of repr and equality)."""

    signature: str
    method: str
    raw_path: str
    query: tuple[tuple[str, str], ...]
    headers: tuple[tuple[str, str], ...]  # (signed name, value) in SignedHeaders order
    signed_headers: str
    content_sha256: str | None
    body: bytes
    keys: SigningKeys


@dataclass(frozen=True, slots=True)
class SignedRequest:
    access_key_id: str
    security_token: str | None = field(repr=False)
    region: str
    service: str
    scope_date: str
    amz_date: str
    presigned: bool
    signed_at: float
    _inputs: SignatureInputs = field(repr=False, compare=False)

    @property
    def scope(self) -> str:
        return f"{self.scope_date}/{self.region}/{self.service}/{TERMINATOR}"

    def canonical_request(self) -> str:
        i = self._inputs
        body_hash = hashlib.sha256(i.body).hexdigest()
        if i.content_sha256 is not None:
            if not hmac.compare_digest(i.content_sha256, body_hash):
                raise mismatch("sigv4_payload_hash_mismatch")
            body_hash = i.content_sha256
        return canonical_request(i.method, i.raw_path, i.query, i.headers, i.signed_headers, body_hash)

    def string_to_sign(self) -> str:
        digest = hashlib.sha256(self.canonical_request().encode()).hexdigest()
        return f"{ALGORITHM}\n{self.amz_date}\n{self.scope}\n{digest}"

    def verify(self, secret_access_key: str) -> None:
        """Raise SignatureDoesNotMatch unless the request was signed with this secret."""
        try:
            to_sign = self.string_to_sign().encode()
        except UnicodeError:  # lone surrogates: no client can have signed this
            raise mismatch("sigv4_undecodable_input") from None
        key = self._inputs.keys.get(secret_access_key, self.scope_date, self.region, self.service)
        expected = hmac.digest(key, to_sign, "sha256").hex()
        if not hmac.compare_digest(expected.encode(), self._inputs.signature.encode()):
            raise mismatch("sigv4_signature_mismatch")
