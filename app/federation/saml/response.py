"""validate_saml_response: a base64 SAML Response in, a FederatedIdentity out, or
SamlRejected. Pure: the provider's keys, this service's settings and `now` are parameters.

Order (each step refuses with its own audit reason):
 1. size of the base64 text (before decoding), strict base64, the hardened parser
    (xmlparse.py: no DTD, UTF-8 only, depth and element caps);
 2. the document's shape (shape.py: one Response, exactly one assertion as its child,
    signatures only on the Response and that assertion, unique IDs, no comments/PIs);
 3. Version 2.0; status Success; an assertion present; encrypted if the provider requires it;
 4. signatures (signature.py): the Response's if present, verified against the registered
    certificates; an EncryptedAssertion is then decrypted (decrypt.py) and its assertion
    shape-checked and verified too if it carries a signature; at least one valid signature
    must cover the assertion (on itself, or on the Response around it);
 5. the Response's Issuer (if any), Destination (if any) and IssueInstant;
 6. the assertion (claims.py): Issuer, IssueInstant cap, Subject/NameID, one bearer
    SubjectConfirmation for our Recipient, Conditions window and Audience, attributes.
Nothing is read before the signature covering it is verified except what only refuses
(status, shape, algorithm names). While an encrypted assertion is not yet authenticated by
a verified Response signature, every failure after decryption starts reaches the client
with one message (errors.SamlRejected.opaque): no padding/parse oracle.

Measured (`python tests/bench/bench_saml.py --n 2000`, ~7.2 KB response, median µs, three
runs on the shared 2-core machine at load average 3-4): signed assertion 217-230, signed
response 224-236, both 393-418, encrypted (RSA-OAEP + AES-GCM) 570-636; the bare xmlsec
verify of the same response 203-214 (key from the certificate: validation 1.06-1.09x, both
signatures 0.98-0.99x) or 165-178 (the certificate's public key alone, as trust.py loads
it: 1.28-1.36x, both 1.20-1.26x); bare signxml verify 460-521 (signature.py says why
xmlsec). Hostile input is refused fast: 100 KB oversize 1, entity DTD 12-23, XSW 50-85,
10,000-deep nesting 150-220, 5,000 elements 500-530.
"""
from __future__ import annotations

from typing import Any

import xmlsec

from app.federation.identity import FederatedIdentity
from app.federation.saml.algorithms import ISSUER, STATUS, STATUS_CODE, SUCCESS
from app.federation.saml.claims import (
    by_tag,
    check_issue_instant,
    check_issuer,
    check_version,
    children,
    read_assertion,
    text,
)
from app.federation.saml.decrypt import decrypt_assertion
from app.federation.saml.encoding import strict_b64decode
from app.federation.saml.errors import SamlRejected, detail
from app.federation.saml.shape import Shape, decrypted_shape, response_shape
from app.federation.saml.signature import verify
from app.federation.saml.trust import SamlSettings, SamlTrust
from app.federation.saml.xmlparse import XmlRejected, parse_xml

MAX_DEPTH = 32
MAX_ELEMENTS = 4000


def validate_saml_response(saml_b64: str, trust: SamlTrust, settings: SamlSettings, now: float) -> FederatedIdentity:
    """The identity a valid, signed SAML response states for `trust`'s provider, or
    SamlRejected (its `to_aws_error()` is what the client gets)."""
    root = _decode(saml_b64, settings)
    shape = response_shape(root)
    check_version(root, "response")
    parts = by_tag(root)
    _check_status(parts)
    if shape.assertion is None:
        raise SamlRejected("saml_no_assertion")
    if trust.encryption_required and not shape.encrypted:
        raise SamlRejected("saml_encryption_required")
    assertion = _verified_assertion(shape, trust, settings)
    if ISSUER in parts:
        check_issuer(parts[ISSUER], trust)
    destination = root.get("Destination")
    if destination is not None and destination.strip() != settings.recipient:
        raise SamlRejected("saml_destination_mismatch")
    check_issue_instant(root, "response", settings, now)
    return read_assertion(assertion, trust, settings, now, root.get("InResponseTo"))


def peek_issuer(saml_b64: str, settings: SamlSettings) -> str | None:
    """The Issuer a response claims (the assertion's, else the Response's), UNVERIFIED:
    only for choosing which provider to validate it against. None if unreadable."""
    try:
        root = _decode(saml_b64, settings)
        shape = response_shape(root)
    except SamlRejected:
        return None
    for node in (shape.assertion if shape.assertion is not None and not shape.encrypted else None, root):
        issuer = node.find(ISSUER) if node is not None else None
        if issuer is not None and text(issuer):
            return text(issuer)
    return None


def _decode(saml_b64: str, settings: SamlSettings) -> Any:
    if len(saml_b64) > settings.max_bytes:
        raise SamlRejected("saml_too_large", "1 validation error detected: Value at 'sAMLAssertion' failed to satisfy "
                                             f"constraint: Member must have length less than or equal to {settings.max_bytes}")
    if not saml_b64.strip():
        raise SamlRejected("saml_empty")
    data = strict_b64decode(saml_b64)
    if data is None:
        raise SamlRejected("saml_not_base64")
    return _parse(data, settings)


def _parse(data: bytes, settings: SamlSettings) -> Any:
    try:
        return parse_xml(data, max_bytes=settings.max_bytes, max_depth=MAX_DEPTH, max_elements=MAX_ELEMENTS)
    except XmlRejected as e:
        raise SamlRejected(e.reason, f"Invalid SAML response: {e}") from None


def _check_status(parts: dict[Any, list[Any]]) -> None:
    status = parts.get(STATUS, [])
    code = children(status[0], STATUS_CODE) if len(status) == 1 else []
    if len(code) != 1:
        raise detail("saml_malformed", "the response has no Status")
    if code[0].get("Value") != SUCCESS:
        raise SamlRejected("saml_status")


def _verified_assertion(shape: Shape, trust: SamlTrust, settings: SamlSettings) -> Any:
    """The assertion element, covered by at least one verified signature."""
    xmlsec.tree.add_ids(shape.root, ["ID"])
    response_verified = False
    if shape.response_signature is not None:
        verify(shape.response_signature, shape.root, trust.certificates)
        response_verified = True
    if not shape.encrypted:
        if shape.assertion_signature is not None:
            verify(shape.assertion_signature, shape.assertion, trust.certificates)
        elif not response_verified:
            raise SamlRejected("saml_unsigned")
        return shape.assertion
    try:
        wrapper = decrypt_assertion(shape.assertion, trust.private_keys, lambda data: _parse(data, settings))
        assertion, signature = decrypted_shape(wrapper)
        if signature is not None:
            xmlsec.tree.add_ids(wrapper, ["ID"])
            verify(signature, assertion, trust.certificates)
        elif not response_verified:
            raise SamlRejected("saml_unsigned")
    except SamlRejected as e:
        if response_verified or e.reason == "saml_no_decryption_key":
            raise
        raise e.opaque() from None
    return assertion


__all__ = ["peek_issuer", "validate_saml_response"]
