"""idp_fixtures.saml: the committed material is consistent and the builders do what they say."""
from __future__ import annotations

import base64

from cryptography import x509
from lxml import etree

from idp_fixtures.saml import material
from idp_fixtures.saml.build import DS, SAML, q
from tests.unit.federation.saml_env import IDP, defaults


def test_committed_metadata_is_current() -> None:
    assert (material.METADATA / "idp.xml").read_text(encoding="utf-8") == material.metadata_xml()
    assert (material.METADATA / "idp-rotated.xml").read_text(encoding="utf-8") == \
        material.metadata_xml(signing=("idp", "idp-rotated"))
    assert (material.METADATA / "idp-ec.xml").read_text(encoding="utf-8") == material.metadata_xml(signing=("idp-ec",))


def test_each_certificate_matches_its_key() -> None:
    for name in ("idp", "idp-rotated", "idp-ec", "attacker", "sp", "sp-other", "dsa"):
        cert = x509.load_pem_x509_certificate(material.cert_pem(name).encode())
        assert cert.public_key().public_numbers() == material.private_key(name).public_key().public_numbers()  # type: ignore[union-attr]


def test_response_options() -> None:
    xml = IDP.response_xml(sign_what="both", **defaults(destination=None))
    root = etree.fromstring(xml)
    assert root.get("Destination") is None
    assert root.find(q(DS, "Signature")) is not None
    assert root.find(f"{q(SAML, 'Assertion')}/{q(DS, 'Signature')}") is not None
    encrypted = etree.fromstring(base64.b64decode(IDP.response(encrypt_for="sp", **defaults())))
    assert encrypted.find(q(SAML, "Assertion")) is None
    assert encrypted.find(q(SAML, "EncryptedAssertion")) is not None
