"""Signing (python-xmlsec) and assertion encryption (cryptography) for the demo IdP.

`sign_element(el, ...)` puts an enveloped XML-DSig Signature right after `el`'s Issuer
(where SAML's schema wants it) referencing `#<el ID>` and signs it; every algorithm and
transform is a parameter so tests can make validly signed documents with weak or dangerous
choices. `encrypt_assertion(response, cert_name, ...)` replaces the response's Assertion by
an EncryptedAssertion for the holder of that certificate's key.
"""
from __future__ import annotations

import base64
import os
from collections.abc import Sequence

import xmlsec
from cryptography import x509
from cryptography.hazmat.primitives import hashes, padding
from cryptography.hazmat.primitives.asymmetric import padding as asym
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from lxml import etree

from idp_fixtures.saml import material
from idp_fixtures.saml.build import DS, SAML, XENC, q

XENC11 = "http://www.w3.org/2009/xmlenc11#"
T = xmlsec.Transform
DEFAULT_TRANSFORMS: tuple[object, ...] = (T.ENVELOPED, T.EXCL_C14N)

RSA_OAEP_MGF1P = XENC + "rsa-oaep-mgf1p"
RSA_OAEP_11 = XENC11 + "rsa-oaep"
RSA_1_5 = XENC + "rsa-1_5"
CONTENT = {  # name -> (algorithm URI, key bytes, GCM?)
    "aes128-gcm": (XENC11 + "aes128-gcm", 16, True),
    "aes256-gcm": (XENC11 + "aes256-gcm", 32, True),
    "aes128-cbc": (XENC + "aes128-cbc", 16, False),
    "aes256-cbc": (XENC + "aes256-cbc", 32, False),
}


def sign_element(element: etree._Element, key_name: str = "idp", *, key: xmlsec.Key | None = None,
                 signature_method: object = T.RSA_SHA256, digest_method: object = T.SHA256,
                 c14n: object = T.EXCL_C14N, transforms: Sequence[object] = DEFAULT_TRANSFORMS,
                 include_certificate: bool = True, reference_uri: str | None = None,
                 position: str = "after-issuer") -> etree._Element:
    """Sign `element` in place with key `key_name` (or an explicit xmlsec `key`, e.g. HMAC);
    returns the Signature element. `position`: "after-issuer" or "last"."""
    sig = xmlsec.template.create(element, c14n, signature_method, ns="ds")
    issuer = element.find(q(SAML, "Issuer"))
    if position == "after-issuer" and issuer is not None:
        issuer.addnext(sig)
    elif position == "after-issuer":
        element.insert(0, sig)
    else:
        element.append(sig)
    uri = reference_uri if reference_uri is not None else "#" + element.get("ID", "")
    ref = xmlsec.template.add_reference(sig, digest_method, uri=uri)
    for t in transforms:
        xmlsec.template.add_transform(ref, t)
    if include_certificate and key is None:
        x509_data = xmlsec.template.add_x509_data(xmlsec.template.ensure_key_info(sig))
        xmlsec.template.x509_data_add_certificate(x509_data)
    root = element.getroottree().getroot()
    xmlsec.tree.add_ids(root, ["ID"])
    ctx = xmlsec.SignatureContext()
    ctx.key = key or material.xmlsec_key(key_name)
    ctx.sign(sig)
    return sig


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def encrypt_assertion(response: etree._Element, cert_name: str = "sp", *, content: str = "aes256-gcm",
                      key_transport: str = RSA_OAEP_MGF1P, oaep_digest: str = "sha1",
                      key_placement: str = "inline", xml_declaration: bool = False) -> etree._Element:
    """Replace the response's Assertion by an EncryptedAssertion readable with the private
    key of `cert_name`. `content`: a CONTENT name; `key_transport`: RSA_OAEP_MGF1P,
    RSA_OAEP_11 (MGF1-SHA1) or RSA_1_5; `key_placement`: "inline" (EncryptedKey inside the
    EncryptedData's KeyInfo) or "sibling" (beside it, found by RetrievalMethod);
    `xml_declaration` puts one before the assertion inside the ciphertext (some encryptors do)."""
    assertion = response.find(q(SAML, "Assertion"))
    if assertion is None:
        raise LookupError("the response has no plain Assertion")
    algorithm, size, gcm = CONTENT[content]
    cek = os.urandom(size)
    plaintext = etree.tostring(assertion, xml_declaration=True, encoding="UTF-8") if xml_declaration else \
        etree.tostring(assertion)
    if gcm:
        iv = os.urandom(12)
        cipher = iv + AESGCM(cek).encrypt(iv, plaintext, None)
    else:
        iv = os.urandom(16)
        padder = padding.PKCS7(128).padder()
        enc = Cipher(algorithms.AES(cek), modes.CBC(iv)).encryptor()
        cipher = iv + enc.update(padder.update(plaintext) + padder.finalize()) + enc.finalize()
    public = x509.load_pem_x509_certificate(material.cert_pem(cert_name).encode()).public_key()
    assert isinstance(public, RSAPublicKey)
    digest = {"sha1": hashes.SHA1(), "sha256": hashes.SHA256()}[oaep_digest]
    if key_transport == RSA_1_5:
        wrapped = public.encrypt(cek, asym.PKCS1v15())
    else:
        wrapped = public.encrypt(cek, asym.OAEP(mgf=asym.MGF1(hashes.SHA1()), algorithm=digest, label=None))

    ea = etree.Element(q(SAML, "EncryptedAssertion"))
    data = etree.SubElement(ea, q(XENC, "EncryptedData"), {"Type": XENC + "Element", "Id": "_ed" + os.urandom(8).hex()},
                            nsmap={"xenc": XENC, "ds": DS})
    etree.SubElement(data, q(XENC, "EncryptionMethod"), Algorithm=algorithm)
    key_info = etree.SubElement(data, q(DS, "KeyInfo"))
    ek_parent = key_info if key_placement == "inline" else ea
    ek = etree.SubElement(ek_parent, q(XENC, "EncryptedKey"), {"Id": "_ek" + os.urandom(8).hex()}, nsmap={"xenc": XENC, "ds": DS})
    method = etree.SubElement(ek, q(XENC, "EncryptionMethod"), Algorithm=key_transport)
    if key_transport != RSA_1_5:
        dm = {"sha1": "http://www.w3.org/2000/09/xmldsig#sha1", "sha256": "http://www.w3.org/2001/04/xmlenc#sha256"}
        etree.SubElement(method, q(DS, "DigestMethod"), Algorithm=dm[oaep_digest])
    etree.SubElement(etree.SubElement(ek, q(XENC, "CipherData")), q(XENC, "CipherValue")).text = _b64(wrapped)
    if key_placement != "inline":
        etree.SubElement(key_info, q(DS, "RetrievalMethod"), URI="#" + ek.get("Id", ""),
                         Type="http://www.w3.org/2001/04/xmlenc#EncryptedKey")
    etree.SubElement(etree.SubElement(data, q(XENC, "CipherData")), q(XENC, "CipherValue")).text = _b64(cipher)
    assertion.addprevious(ea)
    response.remove(assertion)
    return ea
