"""Regenerate the committed OIDC demo/test keys (run by hand, never by tests):

    python -m idp_fixtures.oidc.keys.generate

Writes `<name>.pem` (PKCS#8 PEM, unencrypted) for every name in NAMES. These keys are public
test material: never use them for anything real.
"""
from __future__ import annotations

import pathlib

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

HERE = pathlib.Path(__file__).resolve().parent

NAMES: dict[str, tuple[str, int]] = {
    "rsa-a": ("rsa", 2048),          # the demo issuer's current key
    "rsa-b": ("rsa", 2048),          # its next key (rotation)
    "ec-p256": ("ec", 256),
    "ec-p384": ("ec", 384),
    "ec-p521": ("ec", 521),
    "rsa-1024-weak": ("rsa", 1024),  # published by a careless issuer: must be refused
    "attacker-rsa": ("rsa", 2048),   # never in a trusted key set
    "attacker-ec-p256": ("ec", 256),
}
_CURVES = {256: ec.SECP256R1(), 384: ec.SECP384R1(), 521: ec.SECP521R1()}


def main() -> None:
    for name, (kind, size) in NAMES.items():
        key = (rsa.generate_private_key(public_exponent=65537, key_size=size) if kind == "rsa"
               else ec.generate_private_key(_CURVES[size]))
        (HERE / f"{name}.pem").write_bytes(key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))


if __name__ == "__main__":
    main()
