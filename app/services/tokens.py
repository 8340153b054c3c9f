"""Session tokens: opaque, self-authenticating strings handed out with temporary credentials.

Layout (before standard base64, so the token carries `+`, `/` and `=` like AWS's do):

    version (1) | expires_at, epoch milliseconds (8, big-endian) | len(akid) (1) | akid
    | nonce (16) | HMAC-SHA256 over everything before it under a key derived from the
      master key (32)

The MAC binds the access key id, the expiry and a random nonce, so a token cannot be forged,
altered or moved to another access key id; it is checked (in constant time) before any Redis
lookup, so garbage never reaches the store. Carrying the expiry lets an expired token be told
apart from an unknown one after Redis has evicted the session (AWS answers `ExpiredToken`).
Redis keeps only `digest(token)` (a keyed hash), never the token itself.
"""
from __future__ import annotations

import base64
import binascii
import hmac
import struct
from dataclasses import dataclass

from app.core.ids import Random, SystemRandom
from app.store.secretbox import SecretBox

_VERSION = 1
_PURPOSE = b"tessera/session-token/v1"
_HEAD = struct.Struct(">BQB")
NONCE_BYTES = 16
_MAC = 32
MAX_TOKEN_CHARS = 1024  # anything longer is not one of ours; refuse before decoding


@dataclass(frozen=True, slots=True)
class TokenClaims:
    """What an authentic token says. Only ever built after the MAC was verified."""

    access_key_id: str
    expires_at: float


class SessionTokens:
    def __init__(self, box: SecretBox, *, rng: Random | None = None) -> None:
        self._box = box
        self._rng = rng or SystemRandom()

    def issue(self, access_key_id: str, expires_at: float, nonce: bytes | None = None) -> str:
        """A token for `access_key_id` until `expires_at`; `nonce`: its NONCE_BYTES random
        bytes when the caller drew them already (with the access key, in one system call),
        else drawn here."""
        akid = access_key_id.encode("ascii")
        if not 1 <= len(akid) <= 128:
            raise ValueError("access key id length out of range")
        if nonce is None:
            nonce = self._rng.token_bytes(NONCE_BYTES)
        elif len(nonce) != NONCE_BYTES:
            raise ValueError("a session token nonce is 16 bytes")
        body = _HEAD.pack(_VERSION, int(round(expires_at * 1000)), len(akid)) + akid + nonce
        return base64.b64encode(body + self._box.mac(body, _PURPOSE)).decode("ascii")

    def open(self, token: str) -> TokenClaims | None:
        """The claims of an authentic token, or None for anything forged, altered or malformed."""
        if not token or len(token) > MAX_TOKEN_CHARS or not token.isascii():
            return None
        try:
            raw = base64.b64decode(token, validate=True)
        except (binascii.Error, ValueError):
            return None
        if len(raw) < _HEAD.size + NONCE_BYTES + _MAC:
            return None
        body, mac = raw[:-_MAC], raw[-_MAC:]
        if not hmac.compare_digest(mac, self._box.mac(body, _PURPOSE)):
            return None
        version, expires_ms, akid_len = _HEAD.unpack_from(body)
        if version != _VERSION or len(body) != _HEAD.size + akid_len + NONCE_BYTES:
            return None
        akid = body[_HEAD.size:_HEAD.size + akid_len].decode("ascii", errors="replace")
        return TokenClaims(akid, expires_ms / 1000)

    def digest(self, token: str) -> str:
        """The keyed hash stored with the session (the token itself is never stored)."""
        return self._box.digest(token)

    @staticmethod
    def same_digest(a: str, b: str) -> bool:
        return hmac.compare_digest(a.encode(), b.encode())
