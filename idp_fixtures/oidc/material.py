"""The OIDC fixtures' keys: loaded once per process from `keys/*.pem`, each with its `kid` and
default algorithm, and its public forms (JWK, PEM, DER) for key sets and attacks."""
from __future__ import annotations

import base64
import functools
import pathlib
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

KEYS_DIR = pathlib.Path(__file__).resolve().parent / "keys"

# key file -> (kid, default alg)
KEYS: dict[str, tuple[str, str]] = {
    "rsa-a": ("demo-rsa-a", "RS256"),
    "rsa-b": ("demo-rsa-b", "RS256"),
    "ec-p256": ("demo-ec-p256", "ES256"),
    "ec-p384": ("demo-ec-p384", "ES384"),
    "ec-p521": ("demo-ec-p521", "ES512"),
    "rsa-1024-weak": ("weak-rsa-1024", "RS256"),
    "attacker-rsa": ("attacker-rsa", "RS256"),
    "attacker-ec-p256": ("attacker-ec-p256", "ES256"),
}
DEMO_KEY_NAMES = ("rsa-a", "rsa-b", "ec-p256", "ec-p384", "ec-p521")
_CRV = {"secp256r1": ("P-256", 32), "secp384r1": ("P-384", 48), "secp521r1": ("P-521", 66)}

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _uint(value: int, length: int | None = None) -> bytes:
    return value.to_bytes(length or max(1, (value.bit_length() + 7) // 8), "big")


@dataclass(frozen=True)
class IssuerKey:
    """A signing key of a demo issuer. `kid` None: a key published without `kid`."""

    name: str
    kid: str | None
    alg: str
    private_key: PrivateKey

    @property
    def public_key(self) -> rsa.RSAPublicKey | ec.EllipticCurvePublicKey:
        return self.private_key.public_key()

    def with_kid(self, kid: str | None) -> IssuerKey:
        return IssuerKey(self.name, kid, self.alg, self.private_key)

    def public_jwk(self, *, alg: bool = True, use: bool = True) -> dict[str, Any]:
        """The public JWK (RFC 7517/7518), with `kid`, `use: sig` and `alg` unless left out."""
        out: dict[str, Any] = {}
        public = self.public_key
        if isinstance(public, rsa.RSAPublicKey):
            numbers = public.public_numbers()
            out.update(kty="RSA", n=b64url(_uint(numbers.n)), e=b64url(_uint(numbers.e)))
        else:
            crv, size = _CRV[public.curve.name]
            point = public.public_numbers()
            out.update(kty="EC", crv=crv, x=b64url(_uint(point.x, size)), y=b64url(_uint(point.y, size)))
        if self.kid is not None:
            out["kid"] = self.kid
        if use:
            out["use"] = "sig"
        if alg:
            out["alg"] = self.alg
        return out

    def public_pem(self, fmt: str = "spki") -> bytes:
        """`spki` (BEGIN PUBLIC KEY) or, for RSA, `pkcs1` (BEGIN RSA PUBLIC KEY)."""
        pub_format = (serialization.PublicFormat.PKCS1 if fmt == "pkcs1"
                      else serialization.PublicFormat.SubjectPublicKeyInfo)
        return self.public_key.public_bytes(serialization.Encoding.PEM, pub_format)

    def public_der(self) -> bytes:
        return self.public_key.public_bytes(serialization.Encoding.DER,
                                            serialization.PublicFormat.SubjectPublicKeyInfo)


@functools.cache
def load(name: str) -> IssuerKey:
    """The committed key `name` (see KEYS), parsed once per process."""
    kid, alg = KEYS[name]
    data = (KEYS_DIR / f"{name}.pem").read_bytes()
    # The files are ours: skip cryptography's RSA consistency check (~28 ms per key).
    private = serialization.load_pem_private_key(data, None, unsafe_skip_rsa_key_validation=True)
    assert isinstance(private, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey))
    return IssuerKey(name, kid, alg, private)


def demo_keys() -> list[IssuerKey]:
    """The demo issuer's published keys: RSA ×2 (rotation), EC P-256, P-384, P-521."""
    return [load(name) for name in DEMO_KEY_NAMES]
