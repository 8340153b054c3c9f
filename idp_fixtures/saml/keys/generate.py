"""Regenerate the committed demo/test key material (run by hand, never by tests):

    python -m idp_fixtures.saml.keys.generate

Writes `<name>.key` (PKCS#8 PEM, unencrypted) and `<name>.crt` (self-signed X.509 PEM,
valid 2025-2125) for every name in NAMES. These keys are public test material: never use
them for anything real.
"""
from __future__ import annotations

import datetime
import pathlib

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, rsa
from cryptography.x509.oid import NameOID

HERE = pathlib.Path(__file__).resolve().parent

# name -> (key kind, certificate common name)
NAMES = {
    "idp": ("rsa", "Tessera demo IdP signing"),
    "idp-rotated": ("rsa", "Tessera demo IdP signing (rotated)"),
    "idp-ec": ("ec", "Tessera demo IdP signing (ECDSA P-256)"),
    "attacker": ("rsa", "Tessera demo IdP signing"),  # same subject as the real one on purpose
    "sp": ("rsa", "Tessera SP encryption"),
    "sp-other": ("rsa", "Some other SP encryption"),
    "dsa": ("dsa", "Legacy DSA signer"),
}


def _key(kind: str):  # type: ignore[no-untyped-def]
    if kind == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if kind == "ec":
        return ec.generate_private_key(ec.SECP256R1())
    return dsa.generate_private_key(key_size=1024)  # DSA-SHA1 (xmldsig#dsa-sha1) needs a 160-bit q


def main() -> None:
    start = datetime.datetime(2025, 1, 1, tzinfo=datetime.timezone.utc)
    for name, (kind, cn) in NAMES.items():
        key = _key(kind)
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn),
                             x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Tessera test fixtures")])
        cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(start).not_valid_after(start.replace(year=2125))
                .sign(key, hashes.SHA256()))
        (HERE / f"{name}.key").write_bytes(key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
        (HERE / f"{name}.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))


if __name__ == "__main__":
    main()
