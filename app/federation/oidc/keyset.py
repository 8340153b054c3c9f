"""A provider's signing keys, parsed once per key-set fetch, and the one key a token may name.

`KeySet.from_jwks` reads a JWKS (RFC 7517) strictly and builds each usable key with
`cryptography` once: RSA keys of 2048 to 8192 bits (odd public exponent ≥ 3) and EC keys on
P-256, P-384 or P-521 (full-length coordinates, point on the curve). Each key gets its explicit
algorithm allow-list from its type (RSA → RS/PS 256/384/512; P-256 → ES256, P-384 → ES384,
P-521 → ES512), narrowed to its `alg` member when it has one. Dropped, each with a line in
`.refused`: `oct` (symmetric) keys, RSA keys under 2048 bits, unknown `kty`/`crv`, `use` other
than `sig`, `key_ops` without `verify`, an `alg` its type cannot use, keys carrying private
material, duplicate `kid`s, and keys past `max_keys`. A document that is not a key set at all
(too large, not strict JSON, no `keys` list) raises `JwksRejected`.

`select(kid)`, AWS's rule: a token's `kid` names exactly one key of the set (compared as exact
strings: `""` is a kid, and a key without `kid` matches no kid); a token without `kid` gets the
set's key only when the set holds exactly one usable key. `None` means "unknown": the service
may refresh the set (at most once per provider per interval) and try again.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec, rsa

from app.federation.oidc.compact import MAX_KID_CHARS
from app.federation.oidc.jsonobject import JsonRejected, parse_object
from app.federation.oidc.rejected import JwksRejected

MAX_JWKS_BYTES = 256 * 1024
MAX_KEYS = 100
MIN_RSA_BITS = 2048
MAX_RSA_BITS = 8192
RSA_ALGORITHMS = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"})
# crv -> (curve, coordinate bytes, the one algorithm, group order n)
CURVES: dict[str, tuple[ec.EllipticCurve, int, str, int]] = {
    "P-256": (ec.SECP256R1(), 32, "ES256",
              0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551),
    "P-384": (ec.SECP384R1(), 48, "ES384",
              0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC7634D81F4372DDF581A0DB248B0A77AECEC196ACCC52973),
    "P-521": (ec.SECP521R1(), 66, "ES512",
              0x01FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFA51868783BF2F966B7FCC0148F709A5D03BB5C9B8899C47AEBB6FB71E91386409),
}
_PRIVATE_MEMBERS = ("d", "p", "q", "dp", "dq", "qi", "oth", "k")
_B64 = re.compile(r"[A-Za-z0-9_-]+={0,2}")
_MAX_MEMBER_CHARS = 2 * MAX_RSA_BITS // 6  # comfortably above a base64url 8192-bit modulus


@dataclass(frozen=True, slots=True)
class SelectedKey:
    """One usable verification key. `order` is the EC group order (0 for RSA); `size` is the
    RSA modulus or EC coordinate length in bytes, the exact length of a valid signature part."""

    kid: str | None
    kty: str
    curve: str | None
    bits: int
    algorithms: frozenset[str]
    public_key: rsa.RSAPublicKey | ec.EllipticCurvePublicKey
    thumbprint: str  # RFC 7638 SHA-256 thumbprint, base64url: safe to log
    size: int
    order: int


class _Refused(Exception):
    pass


def _b64(jwk: Mapping[str, Any], name: str) -> bytes:
    value = jwk.get(name)
    if not isinstance(value, str) or len(value) > _MAX_MEMBER_CHARS or not _B64.fullmatch(value):
        raise _Refused(f"`{name}` is missing or not base64url")
    raw = value.rstrip("=")
    try:
        return base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))
    except (binascii.Error, ValueError):
        raise _Refused(f"`{name}` is not base64url") from None


def _unb64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _thumbprint(members: Mapping[str, str]) -> str:
    canonical = json.dumps(dict(sorted(members.items())), separators=(",", ":"))
    return _unb64(hashlib.sha256(canonical.encode("ascii")).digest())


def _algorithms(jwk: Mapping[str, Any], usable: frozenset[str]) -> frozenset[str]:
    alg = jwk.get("alg")
    if alg is None:
        return usable
    if not isinstance(alg, str) or alg not in usable:
        raise _Refused(f"its `alg` cannot be used with a {jwk.get('kty')} key of this kind")
    return frozenset({alg})


def _rsa(jwk: Mapping[str, Any], kid: str | None) -> SelectedKey:
    n_bytes, e_bytes = _b64(jwk, "n"), _b64(jwk, "e")
    n, e = int.from_bytes(n_bytes, "big"), int.from_bytes(e_bytes, "big")
    bits = n.bit_length()
    if bits < MIN_RSA_BITS:
        raise _Refused(f"RSA key of {bits} bits (at least {MIN_RSA_BITS} are required)")
    if bits > MAX_RSA_BITS:
        raise _Refused(f"RSA key of {bits} bits (at most {MAX_RSA_BITS} are accepted)")
    if e < 3 or e % 2 == 0 or e.bit_length() > 64:
        raise _Refused("RSA public exponent is not an odd number from 3 to 2^64")
    algorithms = _algorithms(jwk, RSA_ALGORITHMS)
    try:
        public_key = rsa.RSAPublicNumbers(e, n).public_key()
    except ValueError:
        raise _Refused("RSA key is not valid") from None
    thumbprint = _thumbprint({"e": _unb64(e_bytes.lstrip(b"\0")), "kty": "RSA", "n": _unb64(n_bytes.lstrip(b"\0"))})
    return SelectedKey(kid, "RSA", None, bits, algorithms, public_key, thumbprint, (bits + 7) // 8, 0)


def _ec(jwk: Mapping[str, Any], kid: str | None) -> SelectedKey:
    crv = jwk.get("crv")
    if not isinstance(crv, str) or crv not in CURVES:
        raise _Refused("EC key on a curve other than P-256, P-384, P-521")
    curve, size, alg, order = CURVES[crv]
    x, y = _b64(jwk, "x"), _b64(jwk, "y")
    if len(x) != size or len(y) != size:
        raise _Refused(f"EC coordinates are not {size} bytes long")
    algorithms = _algorithms(jwk, frozenset({alg}))
    try:
        public_key = ec.EllipticCurvePublicNumbers(int.from_bytes(x, "big"), int.from_bytes(y, "big"), curve).public_key()
    except ValueError:
        raise _Refused("EC point is not on its curve") from None
    thumbprint = _thumbprint({"crv": crv, "kty": "EC", "x": _unb64(x), "y": _unb64(y)})
    return SelectedKey(kid, "EC", crv, curve.key_size, algorithms, public_key, thumbprint, size, order)


def _key(jwk: Any) -> SelectedKey:
    if not isinstance(jwk, Mapping):
        raise _Refused("not a JSON object")
    kid = jwk.get("kid")
    if kid is not None and (not isinstance(kid, str) or len(kid) > MAX_KID_CHARS):
        raise _Refused("`kid` is not a string of at most 256 characters")
    use = jwk.get("use")
    if use is not None and use != "sig":
        raise _Refused("`use` is not `sig`")
    ops = jwk.get("key_ops")
    if ops is not None and (not isinstance(ops, list) or "verify" not in ops):
        raise _Refused("`key_ops` does not allow `verify`")
    kty = jwk.get("kty")
    if kty == "oct":
        raise _Refused("symmetric (`oct`) keys are never used")
    if any(member in jwk for member in _PRIVATE_MEMBERS):
        raise _Refused("carries private key material in a public key set")
    if kty == "RSA":
        return _rsa(jwk, kid)
    if kty == "EC":
        return _ec(jwk, kid)
    raise _Refused("unsupported key type" if isinstance(kty, str) else "`kty` is missing")


def _label(index: int, jwk: Any) -> str:
    kid = jwk.get("kid") if isinstance(jwk, Mapping) else None
    if isinstance(kid, str):
        shown = "".join(ch if ch.isprintable() else "?" for ch in kid[:64])
        return f"key {index} (kid `{shown}`)"
    return f"key {index}"


class KeySet:
    """The usable keys of one key-set document, built once per fetch; immutable."""

    __slots__ = ("keys", "refused", "_by_kid")

    def __init__(self, keys: Sequence[SelectedKey], refused: Sequence[str] = ()) -> None:
        self.keys: tuple[SelectedKey, ...] = tuple(keys)
        self.refused: tuple[str, ...] = tuple(refused)
        self._by_kid: dict[str, SelectedKey] = {k.kid: k for k in self.keys if k.kid is not None}

    @classmethod
    def from_jwks(cls, jwks: bytes | str | Mapping[str, Any], *, max_bytes: int = MAX_JWKS_BYTES,
                  max_keys: int = MAX_KEYS) -> KeySet:
        if isinstance(jwks, (bytes, str)):
            if len(jwks) > max_bytes:
                raise JwksRejected(f"the key set is larger than {max_bytes} bytes")
            try:
                document: Mapping[str, Any] = parse_object(jwks)
            except JsonRejected as exc:
                raise JwksRejected(f"the key set is not a strict JSON object ({exc.why})") from None
        elif isinstance(jwks, Mapping):
            document = jwks
        else:
            raise JwksRejected("the key set is not a JSON object")
        entries = document.get("keys")
        if not isinstance(entries, list):
            raise JwksRejected("the key set has no `keys` list")
        keys: list[SelectedKey] = []
        refused: list[str] = []
        seen: set[str | None] = set()
        for index, jwk in enumerate(entries):
            if index >= max_keys:
                refused.append(f"keys from {index} on: more than {max_keys} keys")
                break
            try:
                key = _key(jwk)
            except _Refused as why:
                refused.append(f"{_label(index, jwk)}: {why}")
                continue
            if key.kid is not None and key.kid in seen:
                refused.append(f"{_label(index, jwk)}: duplicate `kid`")
                continue
            seen.add(key.kid)
            keys.append(key)
        return cls(keys, refused)

    def select(self, kid: str | None) -> SelectedKey | None:
        if kid is None:
            return self.keys[0] if len(self.keys) == 1 else None
        return self._by_kid.get(kid)

    def __len__(self) -> int:
        return len(self.keys)

    def __repr__(self) -> str:
        return f"KeySet({[k.thumbprint for k in self.keys]!r}, refused={len(self.refused)})"
