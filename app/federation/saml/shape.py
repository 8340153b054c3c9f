"""The shape a SAML response must have before any signature is checked: the structural
half of the defence against XML signature wrapping (XSW).

A response passes only if: the root is a `samlp:Response`, and no other Response exists
anywhere; exactly one assertion (plain or encrypted), a direct child of the root; every
`ds:Signature` is a direct child of the root or of that assertion, at most one each, and
no `ds:Object` exists anywhere (XSW forms that hide the signed original inside a
Signature/Object, Extensions, StatusDetail, Advice or another assertion all leave an
assertion or signature somewhere else and fail here); every ID-like attribute value (`ID`,
`Id`, `id`, `xml:id`) is unique in the document (duplicate-ID wrapping); no comment or
processing instruction inside the root (comment-injection truncation: `admin<!---->@evil`).
The other half is signature.py: a Reference must point at its Signature's own parent.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lxml import etree

from app.federation.saml.algorithms import (
    ASSERTION,
    DS,
    ENCRYPTED_ASSERTION,
    RESPONSE,
    SIGNATURE,
    q,
)
from app.federation.saml.errors import SamlRejected, detail

_OBJECT = q(DS, "Object")
_WATCHED = (ASSERTION, ENCRYPTED_ASSERTION, RESPONSE, SIGNATURE, _OBJECT, etree.Comment, etree.ProcessingInstruction)
# `descendant-or-self::*/@ID` rather than `.//@ID`, which would visit every text node too;
# plain strings and no EXSLT regexp functions registered per call: cheaper calls.
_ID_VALUES = etree.XPath("|".join(f"descendant-or-self::*/@{name}" for name in ("ID", "Id", "id", "xml:id")),
                         smart_strings=False, regexp=False)


@dataclass(frozen=True, slots=True)
class Shape:
    """Where things are. `assertion` is the plain Assertion or the EncryptedAssertion
    (`encrypted` says which); the signatures are the direct-child Signature elements."""

    root: Any
    response_signature: Any
    assertion: Any
    encrypted: bool
    assertion_signature: Any


def response_shape(root: Any) -> Shape:
    """Check a parsed document's shape (module docstring) and say where things are."""
    if root.tag != RESPONSE:
        raise detail("saml_malformed", "the document is not a samlp:Response")
    assertions, signatures = _walk(root)
    if len(assertions) > 1:
        raise SamlRejected("saml_multiple_assertions")
    assertion = assertions[0] if assertions else None
    encrypted = assertion is not None and assertion.tag == ENCRYPTED_ASSERTION
    placed = _place_signatures(signatures, root, None if encrypted else assertion)
    unique_ids(root)
    return Shape(root, placed[0], assertion, encrypted, placed[1])


def decrypted_shape(wrapper: Any) -> tuple[Any, Any]:
    """The (assertion, its signature or None) of a decrypted EncryptedData wrapped in a
    context element; the same rules as a response, for a document holding one assertion."""
    assertions, signatures = _walk(wrapper)
    children = [c for c in wrapper if isinstance(c.tag, str)]
    if len(children) != 1 or children[0].tag != ASSERTION or assertions != children or \
            (wrapper.text or "").strip() or any((c.tail or "").strip() for c in wrapper):
        raise detail("saml_malformed", "the encrypted data is not one assertion")
    placed = _place_signatures(signatures, None, children[0])
    unique_ids(wrapper)
    return children[0], placed[1]


def _walk(top: Any) -> tuple[list[Any], list[Any]]:
    """The assertions (plain or encrypted; each must be a child of `top`) and the
    signatures below `top`. Refuses a Response below `top`, an assertion anywhere else,
    any ds:Object, comment or processing instruction."""
    assertions: list[Any] = []
    signatures: list[Any] = []
    for node in top.iter(*_WATCHED):
        tag = node.tag
        if tag == SIGNATURE:
            signatures.append(node)
        elif not isinstance(tag, str):  # lxml gives comments and PIs a function as tag
            raise SamlRejected("saml_comment_injection")
        elif node is top:
            continue
        elif (tag == ASSERTION or tag == ENCRYPTED_ASSERTION) and node.getparent() is top:
            assertions.append(node)
        else:  # a nested Response, an assertion elsewhere, a ds:Object
            raise SamlRejected("saml_signature_wrapping")
    return assertions, signatures


def _place_signatures(signatures: list[Any], response: Any, assertion: Any) -> tuple[Any, Any]:
    on_response = on_assertion = None
    for sig in signatures:
        parent = sig.getparent()
        if parent is not None and parent is response and on_response is None:
            on_response = sig
        elif parent is not None and parent is assertion and on_assertion is None:
            on_assertion = sig
        else:
            raise SamlRejected("saml_signature_wrapping")
    return on_response, on_assertion


def unique_ids(top: Any) -> None:
    """Refuse a document in which one ID value is carried twice (by any ID-like attribute)."""
    values = _ID_VALUES(top)
    if len(values) != len(set(values)):
        raise detail("saml_signature_wrapping", "duplicate IDs")
