"""What a registered SAML provider contributes to validation, loaded once: its entity id,
signing certificates (as ready-to-use verification keys) and private keys for encrypted
assertions. Build with `SamlTrust.load(...)` when the provider is read, not per request:
parsing a private key costs milliseconds.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import xmlsec
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

MIN_RSA_BITS = 2048


class SamlTrustError(ValueError):
    """A certificate or key that cannot be used; the message says which and why (never the
    key itself). CreateSAMLProvider/UpdateSAMLProvider can call `SamlTrust.load` to check."""


@dataclass(frozen=True, slots=True)
class SigningCertificate:
    """One registered signing certificate: `key` is the xmlsec verification key made from
    its public key alone (the certificate's other fields play no part in verifying), `der`
    its DER bytes (to recognise it in KeyInfo, as an ordering hint only), `kind` "rsa" or
    "ec"."""

    key: Any
    der: bytes
    kind: str
    sha256: str


@dataclass(frozen=True, slots=True)
class SamlTrust:
    """One registered provider, loaded. `certificates`: SigningCertificate values;
    `private_keys`: cryptography RSA private keys for EncryptedAssertion."""

    entity_id: str
    certificates: tuple[Any, ...]
    private_keys: tuple[Any, ...] = ()
    encryption_required: bool = False

    @classmethod
    def load(cls, entity_id: str, certificates_pem: Iterable[str | bytes],
             private_keys_pem: Iterable[str | bytes] = (), encryption_required: bool = False) -> SamlTrust:
        """Certificates as PEM, or as the bare base64 DER found in metadata's
        X509Certificate; private keys as unencrypted PEM (PKCS#8 or PKCS#1). Raises
        SamlTrustError for anything unusable (RSA under 2048 bits, DSA, garbage)."""
        if not entity_id:
            raise SamlTrustError("the provider has no entity id")
        certs = tuple(load_certificate(c, i + 1) for i, c in enumerate(certificates_pem))
        if not certs:
            raise SamlTrustError("the provider has no signing certificate")
        keys = tuple(load_private_key(k, i + 1) for i, k in enumerate(private_keys_pem))
        return cls(entity_id, certs, keys, encryption_required)


def load_certificate(text: str | bytes, position: int = 1) -> SigningCertificate:
    raw = text.encode("ascii", "replace") if isinstance(text, str) else text
    try:
        if b"-----BEGIN" in raw:
            cert = x509.load_pem_x509_certificate(raw)
        else:
            cert = x509.load_der_x509_certificate(base64.b64decode(b"".join(raw.split()), validate=True))
        public = cert.public_key()
    except (ValueError, TypeError, binascii.Error):
        raise SamlTrustError(f"signing certificate {position} is not a valid X.509 certificate") from None
    if isinstance(public, rsa.RSAPublicKey):
        if public.key_size < MIN_RSA_BITS:
            raise SamlTrustError(f"signing certificate {position} has a {public.key_size}-bit RSA key "
                                 f"(at least {MIN_RSA_BITS} bits are required)")
        kind = "rsa"
    elif isinstance(public, ec.EllipticCurvePublicKey):
        kind = "ec"
    else:
        raise SamlTrustError(f"signing certificate {position} has neither an RSA nor an EC key")
    der = cert.public_bytes(serialization.Encoding.DER)
    spki = public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    try:  # the bare public key: xmlsec copies `ctx.key` per verify, a certificate with it (~30 µs)
        key = xmlsec.Key.from_memory(spki, xmlsec.constants.KeyDataFormatDer)
    except xmlsec.Error:
        raise SamlTrustError(f"signing certificate {position} cannot be used for verification") from None
    return SigningCertificate(key, der, kind, hashlib.sha256(der).hexdigest())


def load_private_key(text: str | bytes, position: int = 1) -> rsa.RSAPrivateKey:
    raw = text.encode("ascii", "replace") if isinstance(text, str) else text
    try:
        key = serialization.load_pem_private_key(raw, password=None)
    except (ValueError, TypeError):
        raise SamlTrustError(f"private key {position} is not an unencrypted PEM private key") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise SamlTrustError(f"private key {position} is not an RSA key (RSA-OAEP key transport needs one)")
    if key.key_size < MIN_RSA_BITS:
        raise SamlTrustError(f"private key {position} has {key.key_size} bits (at least {MIN_RSA_BITS} are required)")
    return key


@dataclass(frozen=True, slots=True)
class SamlSettings:
    """This service's side of the exchange. `audience`: TESSERA_SAML_ENTITY_ID;
    `recipient`: `${TESSERA_PUBLIC_URL}/saml` (SubjectConfirmationData Recipient and
    Response Destination must equal it)."""

    audience: str
    recipient: str
    skew_seconds: float = 60.0
    max_age_seconds: float = 300.0
    max_bytes: int = 100_000
