"""Test material for SAML providers, made here with cryptography: IdP keys and self-signed
certificates, IdP metadata documents, and the private keys of AddPrivateKey. Keys are generated
once per process (functools.cache)."""
from __future__ import annotations

import base64
import datetime
import functools
from collections.abc import Sequence
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, rsa
from cryptography.x509.oid import NameOID

MD = "urn:oasis:names:tc:SAML:2.0:metadata"
DS = "http://www.w3.org/2000/09/xmldsig#"


@functools.cache
def rsa_key(bits: int = 2048, n: int = 0) -> rsa.RSAPrivateKey:
    """The `n`th RSA key of that size (n tells apart keys wanted at once)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


@functools.cache
def ec_key(curve: str = "secp256r1", n: int = 0) -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key({"secp256r1": ec.SECP256R1(), "secp384r1": ec.SECP384R1(),
                                    "secp256k1": ec.SECP256K1()}[curve])


@functools.cache
def dsa_key() -> dsa.DSAPrivateKey:
    return dsa.generate_private_key(key_size=2048)


@functools.cache
def certificate(key: Any, cn: str = "idp.example") -> x509.Certificate:
    """A self-signed certificate of `key` (the same object for the same key and name)."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    now = datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)
    return (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(days=3650))
            .sign(key, hashes.SHA256()))


def cert_b64(cert: x509.Certificate) -> str:
    """The base64 DER text of a ds:X509Certificate, wrapped at 64 columns as IdPs write it."""
    b64 = base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()
    return "\n".join(b64[i:i + 64] for i in range(0, len(b64), 64))


def cert_pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def private_key_pem(key: Any, *, pkcs1: bool = False, password: bytes | None = None) -> str:
    fmt = serialization.PrivateFormat.TraditionalOpenSSL if pkcs1 else serialization.PrivateFormat.PKCS8
    enc = (serialization.BestAvailableEncryption(password) if password
           else serialization.NoEncryption())
    return key.private_bytes(serialization.Encoding.PEM, fmt, enc).decode()


def key_descriptor(cert_text: str, use: str | None = "signing") -> str:
    use_attr = f' use="{use}"' if use else ""
    return (f'<md:KeyDescriptor{use_attr}><ds:KeyInfo xmlns:ds="{DS}"><ds:X509Data>'
            f"<ds:X509Certificate>{cert_text}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>")


def metadata(entity_id: str = "https://idp.example/saml", signing: Sequence[x509.Certificate] = (),
             *, encryption: Sequence[x509.Certificate] = (), unspecified: Sequence[x509.Certificate] = (),
             valid_until: str | None = None, wrap: int = 0, idp: bool = True,
             protocol: str = "urn:oasis:names:tc:SAML:2.0:protocol", descriptors: str = "") -> str:
    """An IdP metadata document (at least 1000 characters, as the model wants). `signing`,
    `encryption`, `unspecified`: certificates with use="signing", "encryption" or no use;
    `descriptors`: raw KeyDescriptor markup added as is; `wrap`: entities in an
    EntitiesDescriptor around it (0: none; 2: this one and another)."""
    keys = "".join([*(key_descriptor(cert_b64(c)) for c in signing),
                    *(key_descriptor(cert_b64(c), "encryption") for c in encryption),
                    *(key_descriptor(cert_b64(c), None) for c in unspecified)]) + descriptors
    until = f' validUntil="{valid_until}"' if valid_until else ""
    role = (f'<md:IDPSSODescriptor protocolSupportEnumeration="{protocol}" WantAuthnRequestsSigned="false">'
            f"{keys}<md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified</md:NameIDFormat>"
            '<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" '
            'Location="https://idp.example/sso"/></md:IDPSSODescriptor>') if idp else ""
    organization = ('<md:Organization><md:OrganizationName xml:lang="en">Example Identity Provider, a test '
                    'organization whose name is long enough to pad this document past the 1000 characters '
                    'the model of SAMLMetadataDocument asks for</md:OrganizationName><md:OrganizationDisplayName '
                    'xml:lang="en">Example</md:OrganizationDisplayName><md:OrganizationURL xml:lang="en">'
                    'https://idp.example/</md:OrganizationURL></md:Organization>')
    entity = (f'<md:EntityDescriptor xmlns:md="{MD}" entityID="{entity_id}"{until}>{role}'
              f"{organization}</md:EntityDescriptor>")
    padding = "<!--" + " " * max(0, 1000 - len(entity)) + "-->"  # after the root: still one document
    if wrap:
        others = "".join(f'<md:EntityDescriptor entityID="https://other{i}.example">{organization}'
                         "</md:EntityDescriptor>" for i in range(wrap - 1))
        return f'<?xml version="1.0" encoding="UTF-8"?><md:EntitiesDescriptor xmlns:md="{MD}">{entity}{others}</md:EntitiesDescriptor>{padding}'
    return f'<?xml version="1.0" encoding="UTF-8"?>{entity}{padding}'
