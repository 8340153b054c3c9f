"""IdP metadata -> entity id, signing certificates, validity (app.federation.saml.metadata), and
the checks on AddPrivateKey (app.federation.saml.provider_keys). Material is generated here."""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone

import pytest

from app.federation.saml.metadata import MAX_CERTIFICATES, MetadataRejected, parse_metadata
from app.federation.saml.provider_keys import PrivateKeyRejected, check_private_key
from tests.saml_provider_material import (
    cert_b64,
    cert_pem,
    certificate,
    dsa_key,
    ec_key,
    key_descriptor,
    metadata,
    private_key_pem,
    rsa_key,
)

NOW = datetime(2025, 6, 1, tzinfo=timezone.utc).timestamp()
IDP = "https://idp.example/saml"


def ts(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def cert(n: int = 0) -> object:
    return certificate(rsa_key(2048, n), cn=f"idp-{n}")


# ---- accepted documents: (note, document, expected certificates, expected validUntil) ----
GOOD: list[tuple[str, Callable[[], str], Callable[[], list[object]], float | None]] = [
    ("one signing certificate", lambda: metadata(IDP, [cert(0)]), lambda: [cert(0)], None),
    ("two signing certificates: the IdP rotates its key without downtime",
     lambda: metadata(IDP, [cert(0), cert(1)]), lambda: [cert(0), cert(1)], None),
    ("an encryption-only certificate is not a signing certificate",
     lambda: metadata(IDP, [cert(0)], encryption=[cert(1)]), lambda: [cert(0)], None),
    ("a KeyDescriptor without use serves for signing too",
     lambda: metadata(IDP, unspecified=[cert(1)]), lambda: [cert(1)], None),
    ("the same certificate twice is kept once",
     lambda: metadata(IDP, [cert(0)], unspecified=[cert(0)]), lambda: [cert(0)], None),
    ("an EC P-256 certificate",
     lambda: metadata(IDP, [certificate(ec_key())]), lambda: [certificate(ec_key())], None),
    ("an EntitiesDescriptor around one entity",
     lambda: metadata(IDP, [cert(0)], wrap=1), lambda: [cert(0)], None),
    ("validUntil in UTC",
     lambda: metadata(IDP, [cert(0)], valid_until="2030-01-02T03:04:05Z"),
     lambda: [cert(0)], ts("2030-01-02T03:04:05+00:00")),
    ("validUntil with fractional seconds and an offset",
     lambda: metadata(IDP, [cert(0)], valid_until="2030-01-02T03:04:05.123456789+02:00"),
     lambda: [cert(0)], ts("2030-01-02T01:04:05.123456+00:00")),
    ("validUntil without a zone is UTC",
     lambda: metadata(IDP, [cert(0)], valid_until="2030-01-02T03:04:05"),
     lambda: [cert(0)], ts("2030-01-02T03:04:05+00:00")),
]


@pytest.mark.parametrize("note,document,certs,valid_until", GOOD, ids=[g[0] for g in GOOD])
def test_accepted_metadata(note: str, document: Callable[[], str], certs: Callable[[], list[object]],
                           valid_until: float | None) -> None:
    md = parse_metadata(document(), now=NOW)
    assert md.entity_id == IDP
    assert list(md.certificates_pem) == [cert_pem(c) for c in certs()]  # type: ignore[arg-type]
    assert md.valid_until == valid_until


def test_the_earliest_valid_until_wins() -> None:
    doc = metadata(IDP, [cert(0)], valid_until="2031-01-01T00:00:00Z").replace(
        "<md:IDPSSODescriptor ", '<md:IDPSSODescriptor validUntil="2030-06-01T00:00:00Z" ')
    assert parse_metadata(doc, now=NOW).valid_until == ts("2030-06-01T00:00:00+00:00")


def test_an_xinclude_is_inert() -> None:
    """XInclude is never processed: the element is one more unknown element."""
    doc = metadata(IDP, [cert(0)]).replace(
        "<md:Organization>", '<xi:include xmlns:xi="http://www.w3.org/2001/XInclude" '
                             'href="http://127.0.0.1:9/evil.xml" parse="xml"/><md:Organization>')
    assert parse_metadata(doc, now=NOW).entity_id == IDP


def _many_certs() -> str:
    return metadata(IDP, [certificate(ec_key(n=i), cn=f"c{i}") for i in range(MAX_CERTIFICATES + 1)])


def _with_descriptor(markup: str) -> str:
    return metadata(IDP, descriptors=markup)


XXE = ('<?xml version="1.0"?><!DOCTYPE md [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
       '<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="&x;">' + "x" * 1000
       + "</md:EntityDescriptor>")
LAUGHS = ('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>'
          "<lolz>&lol2;</lolz>" + " " * 1000)

# ---- refused documents: (note, document, the reason for the audit log, words of the message) ----
BAD: list[tuple[str, Callable[[], str], str, str]] = [
    ("a DTD with an external entity (XXE)", lambda: XXE, "saml_metadata_xml_dtd", "DTD"),
    ("entity expansion (billion laughs)", lambda: LAUGHS, "saml_metadata_xml_dtd", "DTD"),
    ("garbage", lambda: "this is not XML at all " * 50, "saml_metadata_xml_malformed", "not well-formed"),
    ("a byte order mark", lambda: "\ufeff" + metadata(IDP, [cert(0)]), "saml_metadata_bom", "byte order mark"),
    ("some other XML", lambda: "<html><body>" + "x" * 1000 + "</body></html>", "saml_metadata_root",
     "root element is `html`"),
    ("no IDPSSODescriptor (a service provider's metadata)", lambda: metadata(IDP, idp=False),
     "saml_metadata_no_idp", "no IDPSSODescriptor"),
    ("an IDPSSODescriptor for SAML 1.1 only",
     lambda: metadata(IDP, [cert(0)], protocol="urn:oasis:names:tc:SAML:1.1:protocol"),
     "saml_metadata_no_saml2", "does not support SAML 2.0"),
    ("no entityID", lambda: metadata("", [cert(0)]), "saml_metadata_no_entity_id", "no entityID"),
    ("an entityID with white space around it", lambda: metadata(" https://idp ", [cert(0)]),
     "saml_metadata_entity_id", "white space"),
    ("encryption certificates only", lambda: metadata(IDP, encryption=[cert(0)]),
     "saml_metadata_no_certificate", "no signing certificate"),
    ("a certificate that is not base64", lambda: _with_descriptor(key_descriptor("not*base64!")),
     "saml_metadata_certificate_base64", "signing certificate 1 is not base64"),
    ("base64 that is no certificate", lambda: _with_descriptor(key_descriptor("AAAA" * 40)),
     "saml_metadata_certificate_invalid", "not a valid X.509 certificate"),
    ("a weak RSA 1024 certificate", lambda: metadata(IDP, [cert(0), certificate(rsa_key(1024))]),
     "saml_metadata_certificate_weak", "signing certificate 2 has a 1024-bit RSA key"),
    ("a DSA certificate", lambda: metadata(IDP, [certificate(dsa_key())]),
     "saml_metadata_certificate_key_type", "DSA"),
    ("an EC certificate on secp256k1", lambda: metadata(IDP, [certificate(ec_key("secp256k1"))]),
     "saml_metadata_certificate_curve", "secp256k1"),
    ("a comment inside the certificate's base64",
     lambda: _with_descriptor(key_descriptor(cert_b64(cert(0))[:64] + "<!-- x -->" + cert_b64(cert(0))[64:])),
     "saml_metadata_certificate_markup", "markup"),
    ("expired metadata", lambda: metadata(IDP, [cert(0)], valid_until="2020-01-01T00:00:00Z"),
     "saml_metadata_expired", "expired at 2020-01-01T00:00:00Z"),
    ("a validUntil that is no date", lambda: metadata(IDP, [cert(0)], valid_until="next tuesday"),
     "saml_metadata_valid_until", "`next tuesday` is not an xs:dateTime"),
    ("an EntitiesDescriptor of two entities", lambda: metadata(IDP, [cert(0)], wrap=2),
     "saml_metadata_entity_count", "holds 2 entities"),
    ("more certificates than a provider may have", _many_certs,
     "saml_metadata_too_many_certificates", f"more than {MAX_CERTIFICATES}"),
    ("nested too deep", lambda: "<a>" * 200 + "</a>" * 200, "saml_metadata_xml_too_deep", "deeper"),
]


@pytest.mark.parametrize("note,document,reason,words", BAD, ids=[b[0] for b in BAD])
def test_refused_metadata(note: str, document: Callable[[], str], reason: str, words: str) -> None:
    with pytest.raises(MetadataRejected) as caught:
        parse_metadata(document(), now=NOW)
    assert caught.value.reason == reason
    assert words in str(caught.value)


# ---- AddPrivateKey ----
def test_a_private_key_is_kept_as_pkcs8_with_its_public_fingerprint() -> None:
    key = rsa_key(2048, 7)
    pkcs8 = check_private_key(private_key_pem(key))
    pkcs1 = check_private_key(private_key_pem(key, pkcs1=True))
    assert pkcs8 == pkcs1  # the same key, whatever the PEM flavour
    assert pkcs8.pem.startswith("-----BEGIN PRIVATE KEY-----")
    assert pkcs8.fingerprint != check_private_key(private_key_pem(rsa_key(2048, 8))).fingerprint
    assert "PRIVATE" not in repr(pkcs8)


BAD_KEYS: list[tuple[str, Callable[[], str], str]] = [
    ("not PEM", lambda: "nope", "saml_key_format"),
    ("a PEM certificate, not a key", lambda: cert_pem(cert(0)), "saml_key_format"),  # type: ignore[arg-type]
    ("a truncated key", lambda: private_key_pem(rsa_key(2048, 7))[:200], "saml_key_format"),
    ("a key under a passphrase", lambda: private_key_pem(rsa_key(2048, 7), password=b"pw"), "saml_key_encrypted"),
    ("an EC key", lambda: private_key_pem(ec_key()), "saml_key_type"),
    ("a 1024-bit RSA key", lambda: private_key_pem(rsa_key(1024)), "saml_key_weak"),
]


@pytest.mark.parametrize("note,pem,reason", BAD_KEYS, ids=[b[0] for b in BAD_KEYS])
def test_refused_private_keys(note: str, pem: Callable[[], str], reason: str) -> None:
    text = pem()
    with pytest.raises(PrivateKeyRejected) as caught:
        check_private_key(text)
    assert caught.value.reason == reason
    message = str(caught.value)
    assert message.startswith("Invalid private key: ")
    assert len(text) < 80 or text[40:80] not in message  # the key is never repeated back
