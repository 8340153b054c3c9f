"""parse_xml: the one hardened way SAML XML becomes a tree."""
from __future__ import annotations

import pytest

from app.federation.saml.xmlparse import XmlRejected, parse_xml


def _reason(data: bytes, **limits: int) -> str:
    with pytest.raises(XmlRejected) as caught:
        parse_xml(data, **limits)
    return caught.value.reason


def test_plain_document() -> None:
    root = parse_xml(b'<?xml version="1.0" encoding="UTF-8"?><a xmlns="urn:x"><b>\xc3\xa9</b></a>')
    assert root.tag == "{urn:x}a" and root[0].text == "\u00e9"


@pytest.mark.parametrize("data", [
    b'<!DOCTYPE a [<!ENTITY e "x">]><a>&e;</a>',
    b'<!doctype a><a/>',
    b'<?xml version="1.0"?>\n<!DOCTYPE a SYSTEM "http://127.0.0.1:9/x.dtd"><a/>',
    b'<a><!ENTITY x "y"></a>',
])
def test_dtds_and_entities(data: bytes) -> None:
    assert _reason(data) == "xml_dtd"


def test_undeclared_entity_is_malformed() -> None:
    assert _reason(b"<a>&e;</a>") == "xml_malformed"


def test_encoding_and_size() -> None:
    assert _reason("<a/>".encode("utf-16")) == "xml_encoding"
    assert _reason(b"<a>\xff</a>") == "xml_encoding"
    assert _reason(b'<?xml version="1.0" encoding="ISO-8859-1"?><a>\xe9</a>') == "xml_encoding"
    assert _reason(b"<a>" + b"x" * 100 + b"</a>", max_bytes=50) == "xml_too_large"


def test_caps() -> None:
    assert parse_xml(b"<a>" * 5 + b"</a>" * 5, max_depth=5) is not None
    assert _reason(b"<a>" * 6 + b"</a>" * 6, max_depth=5) == "xml_too_deep"
    assert parse_xml(b"<r>" + b"<e/>" * 9 + b"</r>", max_elements=10) is not None
    assert _reason(b"<r>" + b"<e/>" * 10 + b"</r>", max_elements=10) == "xml_too_many_elements"
    assert _reason(b"<a>" * 5000 + b"</a>" * 5000, max_depth=10_000) == "xml_malformed"  # libxml2's own limit


def test_xinclude_is_not_processed() -> None:
    root = parse_xml(b'<a xmlns:xi="http://www.w3.org/2001/XInclude"><xi:include href="/etc/passwd" parse="text"/></a>')
    assert root[0].tag == "{http://www.w3.org/2001/XInclude}include" and not (root[0].text or "")
