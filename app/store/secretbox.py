"""Secrets at rest: AES-256-GCM under TESSERA_MASTER_KEY, and keyed hashes.

`seal(plaintext, aad)` -> `v1.` + base64(nonce || ciphertext+tag). The AAD binds a sealed
value to what it belongs to (an access key id), so a ciphertext moved to another record
does not open. `digest(value)` is an HMAC-SHA256 under a key derived from the master key,
for values that never need to be recovered (session tokens).
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import os

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_PREFIX = "v1."


class SecretBox:
    def __init__(self, master_key: bytes) -> None:
        if len(master_key) != 32:
            raise ValueError("master key must be 32 bytes")
        enc_key = hmac.new(master_key, b"tessera/encrypt/v1", hashlib.sha256).digest()
        self._aead = AESGCM(enc_key)
        mac_key = hmac.new(master_key, b"tessera/digest/v1", hashlib.sha256).digest()
        # HMAC states keyed once (and, for `mac`, fed its purpose): a copy of one costs less
        # than keying a new HMAC per call; they are only ever copied, never updated
        self._keyed = hmac.new(mac_key, digestmod="sha256")
        self._purposes: dict[bytes, hmac.HMAC] = {}

    def seal(self, plaintext: str, aad: str) -> str:
        nonce = os.urandom(12)
        ct = self._aead.encrypt(nonce, plaintext.encode(), aad.encode())
        return _PREFIX + base64.b64encode(nonce + ct).decode()

    def open(self, sealed: str, aad: str) -> str:
        """Decrypt; raises ValueError when the value was altered or belongs elsewhere."""
        if not sealed.startswith(_PREFIX):
            raise ValueError("unknown secret format")
        raw = base64.b64decode(sealed[len(_PREFIX):])
        try:
            return self._aead.decrypt(raw[:12], raw[12:], aad.encode()).decode()
        except Exception as exc:  # cryptography's InvalidTag
            raise ValueError("secret does not open") from exc

    def digest(self, value: str | bytes) -> str:
        h = self._keyed.copy()
        h.update(value.encode() if isinstance(value, str) else value)
        return h.hexdigest()

    def mac(self, data: bytes, purpose: bytes) -> bytes:
        """A MAC for self-authenticating values (session tokens), domain-separated: the HMAC
        of `purpose`, a zero byte and `data`."""
        keyed = self._purposes.get(purpose)
        if keyed is None:
            keyed = self._keyed.copy()
            keyed.update(purpose + b"\x00")
            self._purposes[purpose] = keyed
        h = keyed.copy()
        h.update(data)
        return h.digest()
