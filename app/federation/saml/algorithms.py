"""The XML namespaces SAML uses and the algorithm allow-lists, in one place.

Signature methods: RSA PKCS#1 v1.5 and RSA-PSS with SHA-256/384/512, ECDSA with
SHA-256/384/512. Digests: SHA-256/384/512. Refused (audit `saml_weak_algorithm`): SHA-1,
MD5, RIPEMD, SHA-224, DSA, HMAC (a shared-secret MAC: anyone holding the "key" - for a
public certificate, everyone - could forge it) and anything unknown.

Canonicalization (SignedInfo): exclusive c14n 1.0 and inclusive c14n 1.0, both without
comments. Inclusive c14n 1.0 is a REQUIRED algorithm of XML-DSig, emitted by some IdP stacks
(it is libxmlsec's and several Java toolkits' default) and as safe as exclusive c14n for
SignedInfo: it drops comments, so it canonicalizes exactly the nodes whose digest is checked;
it only pulls in-scope namespace declarations from ancestors, which a wrapper cannot use to
change what the SignedInfo says. The `WithComments` variants and c14n 1.1 are refused.
Reference transforms: only enveloped-signature and exclusive c14n without comments (XSLT,
XPath, XPointer, base64, WithComments... are refused: audit `saml_transform`).

Encryption: key transport RSA-OAEP (xmlenc#rsa-oaep-mgf1p, xmlenc11#rsa-oaep); content
AES-128/192/256 in GCM or CBC. RSA PKCS#1 v1.5 key transport (Bleichenbacher) and 3DES are
refused (`saml_weak_algorithm`).
"""
from __future__ import annotations

SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
DS = "http://www.w3.org/2000/09/xmldsig#"
XENC = "http://www.w3.org/2001/04/xmlenc#"
XENC11 = "http://www.w3.org/2009/xmlenc11#"
EC = "http://www.w3.org/2001/10/xml-exc-c14n#"
XML = "http://www.w3.org/XML/1998/namespace"
XSI = "http://www.w3.org/2001/XMLSchema-instance"


def q(ns: str, name: str) -> str:
    """Clark notation `{ns}name`, the tag form lxml uses."""
    return f"{{{ns}}}{name}"


RESPONSE = q(SAMLP, "Response")
STATUS = q(SAMLP, "Status")
STATUS_CODE = q(SAMLP, "StatusCode")
ASSERTION = q(SAML, "Assertion")
ENCRYPTED_ASSERTION = q(SAML, "EncryptedAssertion")
ISSUER = q(SAML, "Issuer")
SIGNATURE = q(DS, "Signature")

SUCCESS = "urn:oasis:names:tc:SAML:2.0:status:Success"
BEARER = "urn:oasis:names:tc:SAML:2.0:cm:bearer"
ENTITY_FORMAT = "urn:oasis:names:tc:SAML:2.0:nameid-format:entity"
NAMEID_PREFIX = "urn:oasis:names:tc:SAML:2.0:nameid-format:"

EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
C14N_10 = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"
ENVELOPED = DS + "enveloped-signature"

CANONICALIZATIONS = frozenset({EXC_C14N, C14N_10})
TRANSFORMS = frozenset({ENVELOPED, EXC_C14N})

_MORE = "http://www.w3.org/2001/04/xmldsig-more#"
_MORE07 = "http://www.w3.org/2007/05/xmldsig-more#"
SIGNATURE_METHODS: dict[str, str] = {  # URI -> key type it needs
    _MORE + "rsa-sha256": "rsa", _MORE + "rsa-sha384": "rsa", _MORE + "rsa-sha512": "rsa",
    _MORE07 + "sha256-rsa-MGF1": "rsa", _MORE07 + "sha384-rsa-MGF1": "rsa", _MORE07 + "sha512-rsa-MGF1": "rsa",
    _MORE + "ecdsa-sha256": "ec", _MORE + "ecdsa-sha384": "ec", _MORE + "ecdsa-sha512": "ec",
}
DIGEST_METHODS = frozenset({XENC + "sha256", _MORE + "sha384", XENC + "sha512"})

# Names for refused algorithms we recognise (messages never echo an unknown URI).
KNOWN_WEAK: dict[str, str] = {
    DS + "sha1": "SHA-1", _MORE + "md5": "MD5", DS + "rsa-sha1": "RSA-SHA1", _MORE + "rsa-md5": "RSA-MD5",
    DS + "dsa-sha1": "DSA-SHA1", "http://www.w3.org/2009/xmldsig11#dsa-sha256": "DSA-SHA256",
    DS + "hmac-sha1": "HMAC-SHA1", _MORE + "hmac-sha256": "HMAC-SHA256", _MORE + "hmac-sha384": "HMAC-SHA384",
    _MORE + "hmac-sha512": "HMAC-SHA512", _MORE + "hmac-md5": "HMAC-MD5", _MORE + "ecdsa-sha1": "ECDSA-SHA1",
    XENC + "rsa-1_5": "RSA PKCS#1 v1.5 key transport", XENC + "tripledes-cbc": "3DES",
    _MORE + "sha224": "SHA-224", _MORE + "rsa-sha224": "RSA-SHA224",
}


def algorithm_name(uri: str) -> str:
    """A short name for a refused algorithm, safe to put in a message."""
    return KNOWN_WEAK.get(uri, "an unsupported algorithm")


# Encryption (EncryptedAssertion)
RSA_OAEP_MGF1P = XENC + "rsa-oaep-mgf1p"
RSA_OAEP = XENC11 + "rsa-oaep"
KEY_TRANSPORTS = frozenset({RSA_OAEP_MGF1P, RSA_OAEP})
CONTENT_ENCRYPTION: dict[str, tuple[int, bool]] = {  # URI -> (key bytes, GCM?)
    XENC11 + "aes128-gcm": (16, True), XENC11 + "aes192-gcm": (24, True), XENC11 + "aes256-gcm": (32, True),
    XENC + "aes128-cbc": (16, False), XENC + "aes192-cbc": (24, False), XENC + "aes256-cbc": (32, False),
}
OAEP_DIGESTS = {DS + "sha1": "sha1", XENC + "sha256": "sha256", _MORE + "sha384": "sha384", XENC + "sha512": "sha512"}
MGF1 = {XENC11 + "mgf1sha1": "sha1", XENC11 + "mgf1sha224": "sha224", XENC11 + "mgf1sha256": "sha256",
        XENC11 + "mgf1sha384": "sha384", XENC11 + "mgf1sha512": "sha512"}
ELEMENT_TYPE = XENC + "Element"
