"""EncryptedAssertion -> the assertion, with the provider's private keys (XML Encryption
1.1, done with `cryptography` so every algorithm choice is ours).

Accepted: EncryptedData of Type Element (or untyped) with AES-128/192/256 GCM or CBC
content, and its key in an EncryptedKey (inside the EncryptedData's KeyInfo, or beside it in
the EncryptedAssertion) wrapped with RSA-OAEP (xmlenc#rsa-oaep-mgf1p, xmlenc11#rsa-oaep with
its DigestMethod and MGF). Every registered key is tried on every EncryptedKey (at most
MAX_KEYS of them). RSA PKCS#1 v1.5, 3DES and external CipherReferences are refused.

The plaintext is attacker-choosable (anyone may encrypt to the provider's public
certificate): it is parsed with the same hardened parser, inside an element declaring the
namespaces in scope at the EncryptedAssertion, and then must pass every check a plain
assertion does, signature included (or be covered by the Response's verified signature).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from app.federation.saml.algorithms import (
    CONTENT_ENCRYPTION,
    DS,
    ELEMENT_TYPE,
    KEY_TRANSPORTS,
    MGF1,
    OAEP_DIGESTS,
    RSA_OAEP,
    XENC,
    XENC11,
    algorithm_name,
    q,
)
from app.federation.saml.encoding import strict_b64decode
from app.federation.saml.errors import SamlRejected, detail

MAX_KEYS = 4
_ENCRYPTED_DATA = q(XENC, "EncryptedData")
_ENCRYPTED_KEY = q(XENC, "EncryptedKey")
_METHOD = q(XENC, "EncryptionMethod")
_CIPHER_VALUE = f"{q(XENC, 'CipherData')}/{q(XENC, 'CipherValue')}"
_INLINE_KEYS = f"{q(DS, 'KeyInfo')}/{_ENCRYPTED_KEY}"
_HASHES: dict[str, Callable[[], hashes.HashAlgorithm]] = {
    "sha1": hashes.SHA1, "sha224": hashes.SHA224, "sha256": hashes.SHA256,
    "sha384": hashes.SHA384, "sha512": hashes.SHA512,
}


def decrypt_assertion(encrypted: Any, private_keys: Sequence[Any], parse: Callable[[bytes], Any]) -> Any:
    """The parsed wrapper element whose one child is the decrypted assertion. `parse` is the
    hardened parser (bytes -> root element, raising SamlRejected)."""
    if not private_keys:
        raise SamlRejected("saml_no_decryption_key")
    children = [c for c in encrypted if isinstance(c.tag, str)]
    if not children or children[0].tag != _ENCRYPTED_DATA or any(c.tag != _ENCRYPTED_KEY for c in children[1:]):
        raise detail("saml_malformed", "EncryptedAssertion must hold EncryptedData and EncryptedKey elements")
    data = children[0]
    if data.get("Type") not in (None, ELEMENT_TYPE):
        raise detail("saml_malformed", "EncryptedData must encrypt an element")
    method = data.find(_METHOD)
    algorithm = "" if method is None else str(method.get("Algorithm") or "")
    if algorithm not in CONTENT_ENCRYPTION:
        raise detail("saml_weak_algorithm", f"content encryption {algorithm_name(algorithm)} is not allowed")
    key_size, gcm = CONTENT_ENCRYPTION[algorithm]
    wrapped_keys = data.findall(_INLINE_KEYS) + children[1:]
    if not wrapped_keys or len(wrapped_keys) > MAX_KEYS:
        raise detail("saml_malformed", f"EncryptedAssertion needs 1 to {MAX_KEYS} EncryptedKey elements")
    transports = [_key_transport(k) for k in wrapped_keys]
    ciphertext = _cipher_value(data)
    cek = _unwrap(transports, private_keys, key_size)
    plaintext = _decrypt_content(cek, ciphertext, gcm)
    return parse(_in_context(encrypted, plaintext))


def _cipher_value(node: Any) -> bytes:
    value = node.find(_CIPHER_VALUE)
    decoded = strict_b64decode(value.text or "") if value is not None else None
    if decoded is None:
        raise detail("saml_malformed", "CipherValue is missing or not base64")
    return decoded


def _key_transport(key: Any) -> tuple[bytes, padding.OAEP]:
    method = key.find(_METHOD)
    algorithm = "" if method is None else str(method.get("Algorithm") or "")
    if method is None or algorithm not in KEY_TRANSPORTS:
        raise detail("saml_weak_algorithm", f"key transport {algorithm_name(algorithm)} is not allowed")
    digest_node = method.find(q(DS, "DigestMethod"))
    digest = OAEP_DIGESTS.get(str(digest_node.get("Algorithm") or "")) if digest_node is not None else "sha1"
    mgf_node = method.find(q(XENC11, "MGF"))
    mgf = "sha1"
    if mgf_node is not None:
        mgf = MGF1.get(str(mgf_node.get("Algorithm") or "")) if algorithm == RSA_OAEP else None  # type: ignore[assignment]
    label_node = method.find(q(XENC, "OAEPparams"))
    label = strict_b64decode(label_node.text or "") if label_node is not None else None
    if digest is None or mgf is None or (label_node is not None and label is None):
        raise detail("saml_weak_algorithm", "RSA-OAEP parameters are not allowed")
    oaep = padding.OAEP(mgf=padding.MGF1(_HASHES[mgf]()), algorithm=_HASHES[digest](), label=label or None)
    return _cipher_value(key), oaep


def _unwrap(transports: Sequence[tuple[bytes, padding.OAEP]], private_keys: Sequence[Any], key_size: int) -> bytes:
    for wrapped, oaep in transports:
        for private_key in private_keys:
            if len(wrapped) != (private_key.key_size + 7) // 8:
                continue
            try:
                cek = private_key.decrypt(wrapped, oaep)
            except ValueError:
                continue
            if len(cek) == key_size:
                return bytes(cek)
    raise SamlRejected("saml_decrypt_failed")


def _decrypt_content(cek: bytes, ciphertext: bytes, gcm: bool) -> bytes:
    if gcm:
        if len(ciphertext) < 12 + 16:
            raise SamlRejected("saml_decrypt_failed")
        try:
            return AESGCM(cek).decrypt(ciphertext[:12], ciphertext[12:], None)
        except InvalidTag:
            raise SamlRejected("saml_decrypt_failed") from None
    if len(ciphertext) < 32 or len(ciphertext) % 16:
        raise SamlRejected("saml_decrypt_failed")
    decryptor = Cipher(algorithms.AES(cek), modes.CBC(ciphertext[:16])).decryptor()
    padded = decryptor.update(ciphertext[16:]) + decryptor.finalize()
    pad = padded[-1]
    if not 1 <= pad <= 16:  # XML Encryption padding: arbitrary bytes, then their count
        raise SamlRejected("saml_decrypt_failed")
    return padded[:-pad]


def _in_context(encrypted: Any, plaintext: bytes) -> bytes:
    """The plaintext inside an element declaring the namespaces in scope where it stood."""
    declarations = []
    for prefix, uri in encrypted.nsmap.items():
        escaped = uri.replace("&", "&amp;").replace("<", "&lt;").replace('"', "&quot;")
        declarations.append(f' xmlns="{escaped}"' if prefix is None else f' xmlns:{prefix}="{escaped}"')
    head = f"<tessera-decrypted{''.join(declarations)}>".encode()
    if plaintext.startswith(b"<?xml"):  # a serializer's XML declaration, which cannot stand inside
        end = plaintext.find(b"?>")
        plaintext = plaintext[end + 2:] if end > 0 else plaintext
    return head + plaintext + b"</tessera-decrypted>"
