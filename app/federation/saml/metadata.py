"""SAML 2.0 IdP metadata -> what a SAML provider trusts: the entity id, every signing
certificate, and until when the metadata is valid.

Read with the hardened parser (app.federation.saml.xmlparse: no DTD, no entities, no network,
bounded). Accepted: an `md:EntityDescriptor`, or an `md:EntitiesDescriptor` that holds exactly
one (some IdPs export their one entity wrapped). The entity needs an `entityID` and an
`md:IDPSSODescriptor` whose `protocolSupportEnumeration` names SAML 2.0. Every certificate of a
`md:KeyDescriptor` with `use="signing"` or no `use` is kept (several at once: an IdP publishes
its next key before it switches, so a rotation needs no downtime); encryption-only keys are
the IdP's own business and are ignored. A certificate must be DER X.509 in base64 with an RSA
key of at least 2048 bits or an EC key on P-256/384/521. `validUntil` is the earliest one on
the entity, its IDPSSODescriptor or an enclosing EntitiesDescriptor; metadata that has already
expired is refused. Signatures on the metadata are not checked (AWS does not either: the
document is uploaded by an administrator, not fetched).
"""
from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from lxml import etree

from app.federation.saml.xmlparse import XmlRejected, parse_xml

MD = "urn:oasis:names:tc:SAML:2.0:metadata"
DS = "http://www.w3.org/2000/09/xmldsig#"
SAML2_PROTOCOL = "urn:oasis:names:tc:SAML:2.0:protocol"
MAX_BYTES = 10_000_000  # the model's SAMLMetadataDocumentType max
MAX_ELEMENTS = 20_000  # IdP metadata with every claim type listed (ADFS) has a few hundred
MAX_CERTIFICATES = 10  # "keys per SAML provider" (AWS quota)
MAX_ENTITY_ID = 1024  # SAML metadata schema: entityID is at most 1024 characters
MIN_RSA_BITS = 2048
EC_CURVES = (ec.SECP256R1, ec.SECP384R1, ec.SECP521R1)
_DATETIME = re.compile(r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})?")


class MetadataRejected(ValueError):
    """The document is no metadata a provider can trust; `reason` is a short word for the audit
    log (`saml_metadata_no_idp`, ...), the message says what is wrong, for the caller."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class IdpMetadata:
    entity_id: str
    certificates_pem: tuple[str, ...]
    valid_until: float | None  # epoch seconds; None when the document sets no validUntil


def parse_metadata(document: str, *, now: float) -> IdpMetadata:
    """Read IdP metadata or raise MetadataRejected."""
    if document.startswith("\ufeff"):
        raise MetadataRejected("saml_metadata_bom", "the document starts with a byte order mark; "
                                                    "save it as UTF-8 without BOM")
    try:
        root = parse_xml(document.encode("utf-8"), max_bytes=MAX_BYTES, max_elements=MAX_ELEMENTS)
    except XmlRejected as exc:
        raise MetadataRejected(f"saml_metadata_{exc.reason}", str(exc)) from None
    except UnicodeEncodeError:  # lone surrogates
        raise MetadataRejected("saml_metadata_encoding", "the document is not valid Unicode text") from None
    entity, wrappers = _entity(root)
    entity_id = _entity_id(entity)
    idps = [d for d in entity.iterchildren(f"{{{MD}}}IDPSSODescriptor")
            if SAML2_PROTOCOL in (d.get("protocolSupportEnumeration") or "").split()]
    if not idps:
        if any(True for _ in entity.iterchildren(f"{{{MD}}}IDPSSODescriptor")):
            raise MetadataRejected("saml_metadata_no_saml2", "the IDPSSODescriptor does not support SAML 2.0: "
                                   f"its protocolSupportEnumeration lacks `{SAML2_PROTOCOL}`")
        raise MetadataRejected("saml_metadata_no_idp", "the entity has no IDPSSODescriptor: this is not the "
                                                       "metadata of a SAML identity provider")
    certificates = _signing_certificates(idps)
    valid_until = _valid_until([*wrappers, entity, *idps])
    if valid_until is not None and valid_until <= now:
        raise MetadataRejected("saml_metadata_expired", f"the metadata expired at {_iso(valid_until)} (validUntil); "
                                                        "export a current document from the identity provider")
    return IdpMetadata(entity_id=entity_id, certificates_pem=certificates, valid_until=valid_until)


def _entity(root: etree._Element) -> tuple[etree._Element, list[etree._Element]]:
    """The one EntityDescriptor, and the EntitiesDescriptors around it (outermost first)."""
    if root.tag == f"{{{MD}}}EntityDescriptor":
        return root, []
    if root.tag != f"{{{MD}}}EntitiesDescriptor":
        raise MetadataRejected("saml_metadata_root", f"the root element is `{_name(root)}`, not a SAML 2.0 metadata "
                                                     "md:EntityDescriptor or md:EntitiesDescriptor")
    found: list[tuple[etree._Element, list[etree._Element]]] = []
    stack: list[tuple[etree._Element, list[etree._Element]]] = [(root, [root])]
    while stack:
        group, path = stack.pop()
        for child in group.iterchildren(f"{{{MD}}}EntityDescriptor", f"{{{MD}}}EntitiesDescriptor"):
            if child.tag == f"{{{MD}}}EntityDescriptor":
                found.append((child, path))
            else:
                stack.append((child, [*path, child]))
    if len(found) != 1:
        raise MetadataRejected("saml_metadata_entity_count", f"the EntitiesDescriptor holds {len(found)} entities; "
                               "a SAML provider is one identity provider: upload its own EntityDescriptor")
    return found[0]


def _entity_id(entity: etree._Element) -> str:
    entity_id = str(entity.get("entityID") or "")
    if not entity_id:
        raise MetadataRejected("saml_metadata_no_entity_id", "the EntityDescriptor has no entityID")
    if entity_id.strip() != entity_id:
        raise MetadataRejected("saml_metadata_entity_id", "the entityID has leading or trailing white space")
    if len(entity_id) > MAX_ENTITY_ID:
        raise MetadataRejected("saml_metadata_entity_id", f"the entityID is longer than {MAX_ENTITY_ID} characters")
    return entity_id


def _signing_certificates(idps: list[etree._Element]) -> tuple[str, ...]:
    pems: list[str] = []
    seen: set[bytes] = set()
    number = 0  # certificates read, duplicates included: how the message names one
    for idp in idps:
        for descriptor in idp.iterchildren(f"{{{MD}}}KeyDescriptor"):
            if descriptor.get("use") not in (None, "signing"):
                continue
            for element in descriptor.iterfind(f"{{{DS}}}KeyInfo/{{{DS}}}X509Data/{{{DS}}}X509Certificate"):
                number += 1
                der = _certificate_der(element, number)
                if der in seen:
                    continue
                seen.add(der)
                pems.append(_checked_pem(der, number))
                if len(pems) > MAX_CERTIFICATES:
                    raise MetadataRejected("saml_metadata_too_many_certificates",
                                           f"the IDPSSODescriptor has more than {MAX_CERTIFICATES} signing certificates")
    if not pems:
        raise MetadataRejected("saml_metadata_no_certificate", "the IDPSSODescriptor has no signing certificate "
                               '(a KeyDescriptor with use="signing" or without use, holding a ds:X509Certificate)')
    return tuple(pems)


def _certificate_der(element: etree._Element, number: int) -> bytes:
    if len(element):  # comments, processing instructions or elements inside the base64
        raise MetadataRejected("saml_metadata_certificate_markup",
                               f"signing certificate {number} contains markup inside its ds:X509Certificate")
    text = "".join((element.text or "").split())
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise MetadataRejected("saml_metadata_certificate_base64",
                               f"signing certificate {number} is not base64") from None


def _checked_pem(der: bytes, number: int) -> str:
    try:
        cert = x509.load_der_x509_certificate(der)
        key = cert.public_key()
    except ValueError:
        raise MetadataRejected("saml_metadata_certificate_invalid",
                               f"signing certificate {number} is not a valid X.509 certificate") from None
    except UnsupportedAlgorithm:
        raise MetadataRejected("saml_metadata_certificate_invalid",
                               f"signing certificate {number} has a public key this service cannot read") from None
    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size < MIN_RSA_BITS:
            raise MetadataRejected("saml_metadata_certificate_weak",
                                   f"signing certificate {number} has a {key.key_size}-bit RSA key; "
                                   f"at least {MIN_RSA_BITS} bits are required")
    elif isinstance(key, ec.EllipticCurvePublicKey):
        if not isinstance(key.curve, EC_CURVES):
            raise MetadataRejected("saml_metadata_certificate_curve",
                                   f"signing certificate {number} uses the curve `{key.curve.name}`; "
                                   "P-256, P-384 and P-521 are accepted")
    else:
        raise MetadataRejected("saml_metadata_certificate_key_type",
                               f"signing certificate {number} has a {type(key).__name__.removesuffix('PublicKey')} key; "
                               f"RSA ({MIN_RSA_BITS} bits or more) and EC keys are accepted")
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


def _valid_until(elements: list[etree._Element]) -> float | None:
    found = [_datetime(v) for e in elements if (v := e.get("validUntil")) is not None]
    return min(found) if found else None


def _datetime(text: str) -> float:
    """xs:dateTime -> epoch seconds (no zone: UTC)."""
    m = _DATETIME.fullmatch(text.strip())
    try:
        if m is None:
            raise ValueError(text)
        year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
        fraction, zone = m.group(7), m.group(8)
        t = datetime(year, month, day, hour, minute, second,
                     int((fraction or "0")[:6].ljust(6, "0")), tzinfo=timezone.utc)
        if zone and zone != "Z":
            sign = 1 if zone[0] == "+" else -1
            t -= sign * timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6]))
        return t.timestamp()
    except (ValueError, OverflowError):
        raise MetadataRejected("saml_metadata_valid_until",
                               f"validUntil `{text[:64]}` is not an xs:dateTime such as 2030-01-01T00:00:00Z") from None


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _name(element: etree._Element) -> str:
    return etree.QName(element).localname if isinstance(element.tag, str) else "?"


HTTP_REDIRECT = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"


def single_sign_on_url(document: str, binding: str = HTTP_REDIRECT) -> str | None:
    """The `Location` of the IdP's SingleSignOnService for `binding` (SP-initiated browser
    sign-in), or None when the metadata names none (an IdP-initiated-only provider) or cannot be
    read. Only http(s) locations are returned."""
    try:
        root = parse_xml(document.encode("utf-8"), max_bytes=MAX_BYTES, max_elements=MAX_ELEMENTS)
        entity, _ = _entity(root)
    except (XmlRejected, MetadataRejected, UnicodeEncodeError):
        return None
    for idp in entity.iterchildren(f"{{{MD}}}IDPSSODescriptor"):
        for service in idp.iterchildren(f"{{{MD}}}SingleSignOnService"):
            location = (service.get("Location") or "").strip()
            if service.get("Binding") == binding and location.startswith(("https://", "http://")):
                return location
    return None
