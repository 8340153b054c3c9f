"""Private keys a SAML provider decrypts assertions with (`AddPrivateKey`), checked once at upload.

XML Encryption here transports the content key with RSA-OAEP, so a key must be an RSA private key
of at least 2048 bits, in PEM (PKCS#8 `BEGIN PRIVATE KEY` or PKCS#1 `BEGIN RSA PRIVATE KEY`),
without a passphrase. It is kept as unencrypted PKCS#8 PEM (sealed at rest by the store) with the
SHA-256 of its public key, which tells a key uploaded twice. Loading costs ~28 ms (cryptography
validates the key): done at upload, never per request.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

MIN_RSA_BITS = 2048
_INVALID = "Invalid private key: "


class PrivateKeyRejected(ValueError):
    """Not a key a provider can use; `reason` for the audit log, the message for the caller
    (it never repeats the key)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(_INVALID + message)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class ProviderKey:
    pem: str = field(repr=False)  # PKCS#8, unencrypted
    fingerprint: str  # SHA-256 hex of the DER SubjectPublicKeyInfo


def check_private_key(text: str) -> ProviderKey:
    if "-----BEGIN" not in text:
        raise PrivateKeyRejected("saml_key_format", "Key format is not recognized; give a PEM private key "
                                 "(-----BEGIN PRIVATE KEY----- or -----BEGIN RSA PRIVATE KEY-----)")
    if "ENCRYPTED" in text:
        raise PrivateKeyRejected("saml_key_encrypted", "the key is protected by a passphrase; give it unencrypted")
    try:
        key = serialization.load_pem_private_key(text.encode("utf-8", "replace"), password=None)
    except TypeError:  # a passphrase was needed after all
        raise PrivateKeyRejected("saml_key_encrypted", "the key is protected by a passphrase; "
                                                       "give it unencrypted") from None
    except (ValueError, UnsupportedAlgorithm):
        raise PrivateKeyRejected("saml_key_format", "Key format is not recognized; the PEM does not hold "
                                                    "a readable private key") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        kind = type(key).__name__.removesuffix("PrivateKey").lstrip("_")
        raise PrivateKeyRejected("saml_key_type", f"the key is a {kind} key; assertions are decrypted with "
                                 f"RSA-OAEP, so give an RSA key of {MIN_RSA_BITS} bits or more")
    if key.key_size < MIN_RSA_BITS:
        raise PrivateKeyRejected("saml_key_weak", f"the RSA key has {key.key_size} bits; at least "
                                                  f"{MIN_RSA_BITS} are required")
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode("ascii")
    spki = key.public_key().public_bytes(serialization.Encoding.DER,
                                         serialization.PublicFormat.SubjectPublicKeyInfo)
    return ProviderKey(pem=pem, fingerprint=hashlib.sha256(spki).hexdigest())
