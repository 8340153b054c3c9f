"""The committed key material and IdP metadata, loaded once per process.

Names (files `keys/<name>.key` and `keys/<name>.crt`): `idp` (the demo IdP's signing key),
`idp-rotated` (its next key: metadata `idp-rotated.xml` lists both), `idp-ec` (ECDSA P-256),
`attacker` (a stranger whose certificate has the same subject as `idp`), `sp` (Tessera's
encryption key pair: the IdP encrypts to `sp.crt`, the provider holds `sp.key`),
`sp-other` (some other SP's key pair) and `dsa` (a DSA key, for the refused-algorithm case).
"""
from __future__ import annotations

import base64
import functools
import pathlib
from collections.abc import Sequence

import xmlsec
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

KEYS = pathlib.Path(__file__).resolve().parent / "keys"
METADATA = pathlib.Path(__file__).resolve().parent / "metadata"

DEMO_ENTITY_ID = "https://idp.tessera.test/saml"
DEMO_SSO_URL = "https://idp.tessera.test/saml/sso"


@functools.cache
def key_pem(name: str) -> bytes:
    """The PKCS#8 PEM private key `name`."""
    return (KEYS / f"{name}.key").read_bytes()


@functools.cache
def cert_pem(name: str) -> str:
    """The self-signed PEM certificate of key `name`."""
    return (KEYS / f"{name}.crt").read_text(encoding="ascii")


@functools.cache
def cert_b64(name: str) -> str:
    """The certificate's DER as one line of base64 (as in metadata and KeyInfo)."""
    der = x509.load_pem_x509_certificate(cert_pem(name).encode()).public_bytes(serialization.Encoding.DER)
    return base64.b64encode(der).decode("ascii")


@functools.cache
def private_key(name: str) -> PrivateKeyTypes:
    """The `cryptography` private key `name` (loading costs milliseconds: cached)."""
    return serialization.load_pem_private_key(key_pem(name), password=None)


@functools.cache
def xmlsec_key(name: str) -> xmlsec.Key:
    """The xmlsec signing key `name` with its certificate attached (for KeyInfo)."""
    key = xmlsec.Key.from_memory(key_pem(name), xmlsec.KeyFormat.PEM)
    key.load_cert_from_memory(cert_pem(name).encode(), xmlsec.KeyFormat.CERT_PEM)
    return key


def metadata_xml(entity_id: str = DEMO_ENTITY_ID, signing: Sequence[str] = ("idp",),
                 encryption: Sequence[str] = (), sso_url: str = DEMO_SSO_URL) -> str:
    """IdP metadata (an EntityDescriptor with one IDPSSODescriptor) listing the signing
    certificates of `signing` key names (and optional `use="encryption"` ones)."""
    def descriptor(name: str, use: str) -> str:
        return (f'    <md:KeyDescriptor use="{use}">\n'
                f'      <ds:KeyInfo><ds:X509Data><ds:X509Certificate>{cert_b64(name)}'
                f'</ds:X509Certificate></ds:X509Data></ds:KeyInfo>\n'
                f'    </md:KeyDescriptor>\n')
    keys = "".join(descriptor(n, "signing") for n in signing) + "".join(descriptor(n, "encryption") for n in encryption)
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" '
            f'xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="{entity_id}">\n'
            '  <md:IDPSSODescriptor WantAuthnRequestsSigned="false" '
            'protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">\n'
            f'{keys}'
            '    <md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress</md:NameIDFormat>\n'
            '    <md:NameIDFormat>urn:oasis:names:tc:SAML:2.0:nameid-format:persistent</md:NameIDFormat>\n'
            f'    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="{sso_url}"/>\n'
            f'    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="{sso_url}"/>\n'
            '  </md:IDPSSODescriptor>\n'
            '</md:EntityDescriptor>\n')


def write_metadata() -> None:
    """Regenerate the committed metadata files (by hand: `python -m idp_fixtures.saml.material`)."""
    METADATA.mkdir(exist_ok=True)
    (METADATA / "idp.xml").write_text(metadata_xml(), encoding="utf-8")
    (METADATA / "idp-rotated.xml").write_text(metadata_xml(signing=("idp", "idp-rotated")), encoding="utf-8")
    (METADATA / "idp-ec.xml").write_text(metadata_xml(signing=("idp-ec",)), encoding="utf-8")


if __name__ == "__main__":
    write_metadata()
