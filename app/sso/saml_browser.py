"""SAML documents of the browser flow this service writes: the AuthnRequest (HTTP-Redirect
binding) and its own SP metadata. Built with lxml (escaping is the serializer's), no DTD.

AuthnRequest: ID, Version 2.0, IssueInstant, Destination (the IdP's SSO URL),
AssertionConsumerServiceURL (`${TESSERA_PUBLIC_URL}/saml`) with the HTTP-POST ProtocolBinding,
Issuer (TESSERA_SAML_ENTITY_ID), NameIDPolicy AllowCreate. Unsigned (the metadata says
AuthnRequestsSigned="false"): the request carries nothing an IdP must trust, and the answer
is bound to it by InResponseTo. HTTP-Redirect: raw DEFLATE, base64, URL-encoded as
`SAMLRequest`, with `RelayState` (SAML bindings §3.4.4.1).

SP metadata: an EntityDescriptor with one SPSSODescriptor (SAML 2.0, WantAssertionsSigned),
the assertion consumer service (HTTP-POST, this service's `/saml`), the NameID formats AWS
documents, and, when TESSERA_SAML_SP_CERT names certificates, a KeyDescriptor use="encryption"
for each: the certificate of the private key registered on the SAML providers with
AddPrivateKey (an IdP encrypts assertions to it).
"""
from __future__ import annotations

import base64
import datetime
import urllib.parse
import zlib
from collections.abc import Sequence

from lxml import etree

SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
MD = "urn:oasis:names:tc:SAML:2.0:metadata"
DS = "http://www.w3.org/2000/09/xmldsig#"
HTTP_POST = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
MAX_RELAY_STATE = 80  # SAML bindings §3.4.3: at most 80 bytes
NAMEID_FORMATS = ("urn:oasis:names:tc:SAML:2.0:nameid-format:persistent",
                  "urn:oasis:names:tc:SAML:2.0:nameid-format:transient",
                  "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress",
                  "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified")
ENCRYPTION_METHODS = ("http://www.w3.org/2009/xmlenc11#aes256-gcm", "http://www.w3.org/2009/xmlenc11#aes128-gcm",
                      "http://www.w3.org/2001/04/xmlenc#aes256-cbc", "http://www.w3.org/2009/xmlenc11#rsa-oaep",
                      "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p")


def _instant(t: float) -> str:
    return datetime.datetime.fromtimestamp(int(t), tz=datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def authn_request(request_id: str, *, destination: str, acs_url: str, entity_id: str, now: float) -> bytes:
    root = etree.Element(f"{{{SAMLP}}}AuthnRequest", nsmap={"samlp": SAMLP, "saml": SAML})
    root.set("ID", request_id)
    root.set("Version", "2.0")
    root.set("IssueInstant", _instant(now))
    root.set("Destination", destination)
    root.set("AssertionConsumerServiceURL", acs_url)
    root.set("ProtocolBinding", HTTP_POST)
    etree.SubElement(root, f"{{{SAML}}}Issuer").text = entity_id
    etree.SubElement(root, f"{{{SAMLP}}}NameIDPolicy", AllowCreate="true")
    return bytes(etree.tostring(root, encoding="UTF-8", xml_declaration=False))


def redirect_url(sso_url: str, request_xml: bytes, relay_state: str | None) -> str:
    """The HTTP-Redirect binding URL of an AuthnRequest."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    deflated = compressor.compress(request_xml) + compressor.flush()
    query = {"SAMLRequest": base64.b64encode(deflated).decode("ascii")}
    if relay_state:
        query["RelayState"] = relay_state[:MAX_RELAY_STATE]
    return f"{sso_url}{'&' if '?' in sso_url else '?'}{urllib.parse.urlencode(query)}"


def sp_metadata(*, entity_id: str, acs_url: str, encryption_certificates: Sequence[str] = ()) -> bytes:
    """This service's SP metadata (`encryption_certificates`: base64 DER, one line each)."""
    root = etree.Element(f"{{{MD}}}EntityDescriptor", nsmap={"md": MD, "ds": DS})
    root.set("entityID", entity_id)
    sp = etree.SubElement(root, f"{{{MD}}}SPSSODescriptor", AuthnRequestsSigned="false",
                          WantAssertionsSigned="true", protocolSupportEnumeration=SAMLP)
    for cert in encryption_certificates:
        descriptor = etree.SubElement(sp, f"{{{MD}}}KeyDescriptor", use="encryption")
        info = etree.SubElement(descriptor, f"{{{DS}}}KeyInfo")
        etree.SubElement(etree.SubElement(info, f"{{{DS}}}X509Data"), f"{{{DS}}}X509Certificate").text = cert
        for method in ENCRYPTION_METHODS:
            etree.SubElement(descriptor, f"{{{MD}}}EncryptionMethod", Algorithm=method)
    for name_format in NAMEID_FORMATS:
        etree.SubElement(sp, f"{{{MD}}}NameIDFormat").text = name_format
    etree.SubElement(sp, f"{{{MD}}}AssertionConsumerService", Binding=HTTP_POST, Location=acs_url, index="0",
                     isDefault="true")
    return bytes(etree.tostring(root, encoding="UTF-8", xml_declaration=True, pretty_print=True))
