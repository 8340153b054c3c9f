"""Compact JWS signing for the fixtures, with every knob an attack needs: any header or claim
set (as a mapping or as raw JSON text, duplicates and all), any algorithm including `none` and
HMAC with an arbitrary secret, or a signature given outright."""
from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from idp_fixtures.oidc.material import PrivateKey, b64url

_HASHES: dict[str, type[hashes.HashAlgorithm]] = {"256": hashes.SHA256, "384": hashes.SHA384, "512": hashes.SHA512}
_HMAC = {"256": hashlib.sha256, "384": hashlib.sha384, "512": hashlib.sha512}

Signer = PrivateKey | bytes | None


def json_bytes(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode("utf-8")


def _raw(value: Mapping[str, Any] | bytes | str) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8")
    return json_bytes(dict(value))


def sign(alg: str, key: Signer, data: bytes) -> bytes:
    """The JWS signature of `data`: RS*/PS*/ES* with a private key (ES* as raw r||s), HS* with
    a bytes secret, `none` (any casing) or no key: empty."""
    if key is None or alg.lower() == "none":
        return b""
    family, bits = alg[:2].upper(), alg[2:]
    if isinstance(key, bytes):
        return hmac.new(key, data, _HMAC.get(bits, hashlib.sha256)).digest()
    h = _HASHES[bits]()
    if isinstance(key, rsa.RSAPrivateKey):
        pad: padding.AsymmetricPadding = (padding.PSS(mgf=padding.MGF1(h), salt_length=h.digest_size)
                                          if family == "PS" else padding.PKCS1v15())
        return key.sign(data, pad, h)
    if isinstance(key, ec.EllipticCurvePrivateKey):
        size = (key.curve.key_size + 7) // 8
        r, s = decode_dss_signature(key.sign(data, ec.ECDSA(h)))
        return r.to_bytes(size, "big") + s.to_bytes(size, "big")
    raise TypeError(f"cannot sign with {type(key).__name__}")


def compact(header: Mapping[str, Any] | bytes | str, payload: Mapping[str, Any] | bytes | str, *,
            key: Signer = None, alg: str | None = None, signature: bytes | None = None) -> str:
    """`b64(header).b64(payload).b64(signature)`. `alg` defaults to the header's; `signature`,
    when given, is used as is instead of signing."""
    head, body = b64url(_raw(header)), b64url(_raw(payload))
    if signature is None:
        if alg is None:
            alg = str(header.get("alg", "none")) if isinstance(header, Mapping) else "none"
        signature = sign(alg, key, f"{head}.{body}".encode("ascii"))
    return f"{head}.{body}.{b64url(signature)}"
