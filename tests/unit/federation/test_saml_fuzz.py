"""Hypothesis: whatever is done to a good SAML response, validate_saml_response ends in a
FederatedIdentity or a SamlRejected (never another exception), and when it accepts a
mutated response, the identity it reports is exactly the original's: no mutation an
attacker can make changes who the caller is while staying accepted."""
from __future__ import annotations

import base64
import copy
import functools
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from app.core.errors import AwsError
from app.federation.saml.validate import FederatedIdentity, SamlRejected, peek_issuer, validate_saml_response
from tests.unit.federation.saml_env import IDP, NOW, SETTINGS, defaults, trust

FUZZ = settings(max_examples=250, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
SNIPPETS = [b"<!---->", b"<?x?>", b"<a>", b"</a>", b"&amp;", b"&x;", b"<![CDATA[x]]>", b"<!DOCTYPE a>", b"\x00",
            b"\xff", b'"', b"'", b" ID=\"x\"", b"xmlns:saml=\"urn:x\"", b"admin", b"\n", b"=", b"#"]
VALUES = ["", "admin@example.test", "#", "#_x", "x", "https://tessera.test/saml", "https://evil.test/saml",
          "http://www.w3.org/2000/09/xmldsig#sha1", "http://www.w3.org/2001/10/xml-exc-c14n#WithComments",
          "urn:oasis:names:tc:SAML:2.0:status:Requester", "2000-01-01T00:00:00Z", "9999-12-31T23:59:59Z",
          "not a date", "\u00e9", "0"]


@functools.cache
def originals() -> list[tuple[bytes, FederatedIdentity]]:
    out = []
    for kwargs in ({"sign_what": "assertion"}, {"sign_what": "response"}, {"sign_what": "both"},
                   {"sign_what": "assertion", "encrypt_for": "sp"}, {"sign_what": "response", "encrypt_for": "sp",
                                                                       "content": "aes128-cbc"}):
        xml = IDP.response_xml(**kwargs, **defaults(in_response_to="_req1"))
        out.append((xml, validate_saml_response(base64.b64encode(xml).decode(), trust(), SETTINGS, NOW)))
    return out


def same_identity(a: FederatedIdentity, b: FederatedIdentity) -> bool:
    return all(getattr(a, f) == getattr(b, f) for f in (
        "issuer", "subject", "subject_type", "audience", "token_id", "issued_at", "expires_at", "attributes",
        "session_not_on_or_after", "name_qualifier", "sp_name_qualifier", "in_response_to", "redeemable_until"))


def check(text: str, original: FederatedIdentity | None) -> None:
    try:
        identity = validate_saml_response(text, trust(), SETTINGS, NOW)
    except SamlRejected as rejected:
        error = rejected.to_aws_error()
        assert isinstance(error, AwsError) and error.code in (
            "InvalidIdentityToken", "ExpiredTokenException", "IDPRejectedClaim", "AccessDenied", "ValidationError")
        assert rejected.reason and error.message
        return
    assert original is not None, "accepted a response nobody signed"
    assert same_identity(identity, original), "a mutation changed the identity and was accepted"
    peek_issuer(text, SETTINGS)


@FUZZ
@given(st.data())
def test_byte_mutations(data: st.DataObject) -> None:
    xml, identity = data.draw(st.sampled_from(originals()))
    raw = bytearray(xml)
    for _ in range(data.draw(st.integers(1, 3))):
        at = data.draw(st.integers(0, len(raw) - 1))
        op = data.draw(st.sampled_from(["flip", "delete", "insert", "duplicate"]))
        if op == "flip":
            raw[at] ^= 1 << data.draw(st.integers(0, 7))
        elif op == "delete":
            del raw[at:at + data.draw(st.integers(1, 40))]
        elif op == "insert":
            raw[at:at] = data.draw(st.sampled_from(SNIPPETS))
        else:
            raw[at:at] = raw[at:at + data.draw(st.integers(1, 200))]
    check(base64.b64encode(bytes(raw)).decode(), identity)


def _mutate_tree(root: Any, data: st.DataObject) -> None:
    elements = [e for e in root.iter() if isinstance(e.tag, str)]
    target = elements[data.draw(st.integers(0, len(elements) - 1))]
    op = data.draw(st.sampled_from(["remove", "duplicate", "move", "attribute", "text", "wrap", "comment"]))
    parent = target.getparent()
    if op == "remove" and parent is not None:
        parent.remove(target)
    elif op == "duplicate" and parent is not None:
        target.addnext(copy.deepcopy(target))
    elif op == "move" and parent is not None:
        destination = elements[data.draw(st.integers(0, len(elements) - 1))]
        if target not in destination.iterancestors() and destination is not target:
            destination.insert(data.draw(st.integers(0, len(destination))), target)
    elif op == "attribute":
        name = data.draw(st.sampled_from(list(target.attrib) + ["ID", "URI", "Algorithm", "Recipient", "Destination",
                                                                 "NotOnOrAfter", "{http://www.w3.org/XML/1998/namespace}id"]))
        target.set(name, data.draw(st.sampled_from(VALUES)))
    elif op == "text":
        target.text = data.draw(st.sampled_from(VALUES))
    elif op == "wrap" and parent is not None:
        wrapper = etree.Element(data.draw(st.sampled_from([target.tag, "{urn:oasis:names:tc:SAML:2.0:protocol}Extensions"])))
        target.addprevious(wrapper)
        wrapper.append(target)
    elif op == "comment":
        target.insert(0, etree.Comment("x"))


@FUZZ
@given(st.data())
def test_tree_mutations(data: st.DataObject) -> None:
    xml, identity = data.draw(st.sampled_from(originals()))
    root = etree.fromstring(xml)
    for _ in range(data.draw(st.integers(1, 3))):
        _mutate_tree(root, data)
    check(base64.b64encode(etree.tostring(root)).decode(), identity)


@FUZZ
@given(st.text(max_size=300) | st.binary(max_size=300).map(lambda b: base64.b64encode(b).decode()))
def test_arbitrary_text(text: str) -> None:
    check(text, None)
