"""The signature check: one pre-built key, one algorithm from that key's allow-list.

RSA: PKCS#1 v1.5 (RS*) or PSS with MGF1 and a salt as long as the hash (PS*, RFC 7518 §3.5);
the signature must be exactly as long as the modulus. ECDSA (ES*): the JWS form, raw `r || s`
of exactly twice the coordinate length (RFC 7518 §3.4), never DER; `r` and `s` must lie in
[1, n-1], so zero-value ("psychic", CVE-2022-21449) signatures fail before any library sees
them. Any failure, whatever the backend raises, is `oidc_signature_invalid`.

Why `cryptography` directly and not python-jose's `jwt.decode`/`jws.verify` (the stack's JWT
library, still a dependency and the benchmark's baseline): python-jose has no PS256/384/512,
which the issue requires; its permissive defaults (DESIGN.md's library facts) would each need
a wrapper anyway; and for RS*/ES* it calls this same `cryptography` code underneath. Measured
(`python tests/bench/bench_oidc.py`): the whole validation costs about 0.8x a bare python-jose
decode with a pre-built key for RS256 and 0.85x for ES256.
"""
from __future__ import annotations

from typing import cast

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from app.federation.oidc.keyset import SelectedKey
from app.federation.oidc.rejected import OidcRejected

_HASHES: dict[str, hashes.HashAlgorithm] = {"256": hashes.SHA256(), "384": hashes.SHA384(), "512": hashes.SHA512()}
# alg -> (padding, hash), built once: RS* and PS*
_RSA: dict[str, tuple[padding.AsymmetricPadding, hashes.HashAlgorithm]] = {
    **{f"RS{bits}": (padding.PKCS1v15(), h) for bits, h in _HASHES.items()},
    **{f"PS{bits}": (padding.PSS(mgf=padding.MGF1(h), salt_length=h.digest_size), h) for bits, h in _HASHES.items()},
}
_ECDSA = {f"ES{bits}": ec.ECDSA(h) for bits, h in _HASHES.items()}


def verify(key: SelectedKey, alg: str, signing_input: bytes, signature: bytes) -> None:
    """Return when `signature` over `signing_input` verifies under `key` with `alg`; raise
    OidcRejected otherwise. The caller has checked that `alg` is in `key.algorithms`."""
    if alg not in key.algorithms:
        raise OidcRejected("oidc_alg_not_allowed")
    try:
        # keyset.py builds `public_key` from `kty` (an RSA key for "RSA", else EC): no ABC
        # isinstance check per call (0.4 µs); a mismatch could only raise TypeError (refused)
        if key.kty == "RSA":
            if len(signature) != key.size:
                raise InvalidSignature
            pad, digest = _RSA[alg]
            cast(rsa.RSAPublicKey, key.public_key).verify(signature, signing_input, pad, digest)
            return
        if len(signature) != 2 * key.size:
            raise InvalidSignature
        r = int.from_bytes(signature[: key.size], "big")
        s = int.from_bytes(signature[key.size:], "big")
        if not (0 < r < key.order and 0 < s < key.order):
            raise InvalidSignature
        cast(ec.EllipticCurvePublicKey, key.public_key).verify(encode_dss_signature(r, s), signing_input, _ECDSA[alg])
    except (InvalidSignature, ValueError, TypeError, KeyError):
        raise OidcRejected("oidc_signature_invalid") from None
