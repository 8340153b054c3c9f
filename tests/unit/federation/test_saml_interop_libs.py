"""Responses made by other XML security stacks than our demo IdP's own code path: signxml's
signer, libxmlsec's encryptor (python-xmlsec EncryptionContext), and the other allowed
algorithm choices (RSA-PSS, SHA-384/512, inclusive c14n 1.0 for SignedInfo)."""
from __future__ import annotations

import base64

import pytest
import xmlsec
from lxml import etree
from signxml import SignatureMethod, XMLSigner, methods

from app.federation.saml.validate import SamlRejected, validate_saml_response
from idp_fixtures.saml import material, sign
from idp_fixtures.saml.build import SAML, assertion_of, q
from tests.unit.federation.saml_env import IDP, NOW, SETTINGS, defaults, trust

T = xmlsec.Transform
EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"


def _b64(tree: etree._Element) -> str:
    return base64.b64encode(etree.tostring(tree)).decode()


def _signxml_signed(method: SignatureMethod) -> etree._Element:
    tree = IDP.response_tree(**defaults())
    assertion = assertion_of(tree)
    signer = XMLSigner(method=methods.enveloped, signature_algorithm=method, digest_algorithm="sha256",
                       c14n_algorithm=EXC_C14N)
    signed = signer.sign(assertion, key=material.key_pem("idp"), cert=material.cert_pem("idp"),
                         reference_uri="#" + assertion.get("ID"))
    tree.replace(assertion, signed)
    return tree


@pytest.mark.parametrize("method", [SignatureMethod.RSA_SHA256, SignatureMethod.RSA_SHA512,
                                    SignatureMethod.SHA256_RSA_MGF1, SignatureMethod.SHA512_RSA_MGF1])
def test_signxml_signatures_are_accepted(method: SignatureMethod) -> None:
    identity = validate_saml_response(_b64(_signxml_signed(method)), trust(), SETTINGS, NOW)
    assert identity.subject == "alice@example.test"


@pytest.mark.parametrize("options", [
    {"signature_method": T.RSA_SHA384, "digest_method": T.SHA384},
    {"signature_method": T.RSA_SHA512, "digest_method": T.SHA512},
    {"c14n": T.C14N},  # inclusive c14n 1.0 for SignedInfo
], ids=["rsa-sha384", "rsa-sha512", "inclusive-c14n-signedinfo"])
def test_other_allowed_algorithms(options: dict[str, object]) -> None:
    b64 = IDP.response(**defaults(), **options)
    assert validate_saml_response(b64, trust(), SETTINGS, NOW).subject == "alice@example.test"


def test_inclusive_c14n_is_refused_as_a_reference_transform() -> None:
    b64 = IDP.response(**defaults(), transforms=(T.ENVELOPED, T.C14N))
    with pytest.raises(SamlRejected) as caught:
        validate_saml_response(b64, trust(), SETTINGS, NOW)
    assert caught.value.reason == "saml_transform"


def _xmlsec_encrypted(method: object) -> etree._Element:
    """Encrypt the signed assertion with libxmlsec (RSA-OAEP key transport, as IdPs using
    xmlsec1 do), then wrap the EncryptedData in saml:EncryptedAssertion."""
    tree = etree.fromstring(IDP.response_xml(**defaults()))
    assertion = assertion_of(tree)
    manager = xmlsec.KeysManager()
    manager.add_key(xmlsec.Key.from_memory(material.cert_pem("sp").encode(), xmlsec.constants.KeyDataFormatCertPem))
    template = xmlsec.template.encrypted_data_create(tree, method, type=xmlsec.constants.TypeEncElement, ns="xenc")
    xmlsec.template.encrypted_data_ensure_cipher_value(template)
    key_info = xmlsec.template.encrypted_data_ensure_key_info(template, ns="dsig")
    encrypted_key = xmlsec.template.add_encrypted_key(key_info, T.RSA_OAEP)
    xmlsec.template.encrypted_data_ensure_cipher_value(encrypted_key)
    ctx = xmlsec.EncryptionContext(manager)
    size = 256 if method in (T.AES256, T.AES256_GCM) else 128
    ctx.key = xmlsec.Key.generate(xmlsec.constants.KeyDataAes, size, xmlsec.constants.KeyDataTypeSession)
    data = ctx.encrypt_xml(template, assertion)
    wrapper = etree.Element(q(SAML, "EncryptedAssertion"))
    data.addprevious(wrapper)
    wrapper.append(data)
    return tree


@pytest.mark.parametrize("method", [T.AES128, T.AES256, T.AES128_GCM, T.AES256_GCM],
                         ids=["aes128-cbc", "aes256-cbc", "aes128-gcm", "aes256-gcm"])
def test_libxmlsec_encrypted_assertions_are_accepted(method: object) -> None:
    identity = validate_saml_response(_b64(_xmlsec_encrypted(method)), trust(), SETTINGS, NOW)
    assert identity.subject == "alice@example.test"


def test_our_encryption_is_readable_by_libxmlsec() -> None:
    """The demo IdP's EncryptedAssertion is standard XML Encryption (libxmlsec decrypts it)."""
    tree = etree.fromstring(IDP.response_xml(encrypt_for="sp", content="aes128-cbc", **defaults()))
    data = tree.find(f"{q(SAML, 'EncryptedAssertion')}/{{http://www.w3.org/2001/04/xmlenc#}}EncryptedData")
    manager = xmlsec.KeysManager()
    manager.add_key(xmlsec.Key.from_memory(material.key_pem("sp"), xmlsec.constants.KeyDataFormatPem))
    decrypted = xmlsec.EncryptionContext(manager).decrypt(data)
    assert decrypted.tag == q(SAML, "Assertion")


def test_signature_placed_last_is_accepted() -> None:
    """SAML's schema puts the Signature after the Issuer; some signers append it. Position
    within the signed element does not matter to what the signature covers."""
    tree = IDP.response_tree(**defaults())
    sign.sign_element(assertion_of(tree), position="last")
    assert validate_saml_response(_b64(tree), trust(), SETTINGS, NOW).subject == "alice@example.test"
