"""The one way SAML XML (responses, metadata) becomes a tree: hardened, bounded, offline.

Refused before or while parsing: input over `max_bytes`, anything but UTF-8, any DTD
(`<!DOCTYPE`, `<!ENTITY`: no entities, no billion laughs, no external subsets), XInclude
(never processed: lxml only expands it on request), network access, trees deeper than
`max_depth` or with more than `max_elements` elements. libxml2's own limits stay on
(`huge_tree=False`), so hostile input fails fast.
"""
from __future__ import annotations

import functools
import re
import threading

from lxml import etree


class XmlRejected(ValueError):
    """The input is not XML this service accepts; `reason` is a short machine word for the
    audit log (`xml_too_large`, `xml_dtd`, `xml_malformed`, `xml_too_deep`, ...)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


_local = threading.local()


def _parser() -> etree.XMLParser:
    """This thread's parser (lxml parsers are not to be shared between threads)."""
    parser = getattr(_local, "parser", None)
    if parser is None:
        parser = _local.parser = _new_parser()
    return parser


def _new_parser() -> etree.XMLParser:
    return etree.XMLParser(
        encoding="utf-8",
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_blank_text=False,
        collect_ids=False,
    )


def parse_xml(data: bytes, *, max_bytes: int = 256 * 1024, max_depth: int = 64,
              max_elements: int = 5000) -> etree._Element:
    """Parse `data` (UTF-8 XML bytes) into its root element, or raise XmlRejected."""
    if len(data) > max_bytes:
        raise XmlRejected("xml_too_large", f"the XML document is larger than {max_bytes} bytes")
    if not data.isascii():  # ASCII (the usual case) is UTF-8: no decoded copy needed
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            raise XmlRejected("xml_encoding", "the XML document is not UTF-8") from None
    if b"!" in data and _DECLARATION.search(data):  # `!` is rare: one memchr instead of a regex scan
        raise XmlRejected("xml_dtd", "the XML document carries a DTD, which is not allowed")
    try:
        root = etree.fromstring(data, parser=_parser())
    except etree.XMLSyntaxError:
        raise XmlRejected("xml_malformed", "the XML document is not well-formed") from None
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise XmlRejected("xml_dtd", "the XML document carries a DTD, which is not allowed")
    if b"&" in data and next(root.iter(etree.Entity), None) is not None:  # no `&`, no entity reference
        raise XmlRejected("xml_dtd", "the XML document uses an entity, which is not allowed")
    size = _size(max_depth)(root)  # elements, minus a million if too deep
    if size < 0:
        raise XmlRejected("xml_too_deep", f"the XML document is nested deeper than {max_depth} levels")
    if size > max_elements:
        raise XmlRejected("xml_too_many_elements", f"the XML document has more than {max_elements} elements")
    return root


_DECLARATION = re.compile(rb"<!(?:DOCTYPE|ENTITY)", re.IGNORECASE)


@functools.lru_cache(maxsize=8)
def _size(max_depth: int) -> etree.XPath:
    """One C-level XPath for both caps (a Python walk over every element cost more than the
    parse): the element count, minus 10**6 when an element sits at depth max_depth + 1 (the
    root is depth 1). lxml serializes calls to one evaluator with a lock: thread-safe.
    regexp=False: no EXSLT regular-expression functions registered on every call."""
    return etree.XPath("count(//*) - 1000000 * boolean(/*" + "/*" * max_depth + ")", regexp=False)
