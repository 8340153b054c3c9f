"""Checking one enveloped XML-DSig signature, strictly, with python-xmlsec.

Before libxmlsec sees the Signature, its SignedInfo must say exactly this: an allowed
canonicalization and signature method (algorithms.py), one Reference whose URI is `#` +
the ID of the Signature's own parent (shape.py already made every ID unique), transforms
only from {enveloped-signature, exclusive c14n}, an allowed digest. Then libxmlsec verifies
with a key made from a registered certificate (`ctx.key` is set, so KeyInfo is never read:
a certificate or key carried in the message plays no part), with its reference transforms
restricted to the same allow-list (defence in depth). Any failure is a refusal.

Why python-xmlsec and not signxml for this. Measured with `python tests/bench/bench_saml.py
--n 2000` on this 2-core machine (shared: load average 3-4), one ~7.2 KB response signed on
its assertion (RSA-SHA256, 2048-bit key), median µs per call, three runs:
    bare xmlsec verify (b64 decode, lxml parse, add_ids, verify), key from the certificate  203-214
    the same, key from the certificate's public key alone (as trust.py loads it)           165-178
    bare signxml XMLVerifier().verify(x509_cert=..., expect_references=1)                  460-521
    validate_saml_response (everything, xmlsec inside)                                     217-230
signxml alone costs twice all of validate_saml_response built on xmlsec, so signxml could
never meet "validation within 1.3x of the bare verify". signxml also skips (rather than
refuses) unknown transforms and searches the document for "the" signature, whereas here
shape.py fixes the signature and the element it must cover before any cryptography.
Validation is 1.06-1.09x the bare verify with a certificate key (it was 1.6x: most of that
gap was libxmlsec duplicating the key with its certificate on every `ctx.key =`, ~30 µs and
more with cold caches, hence the bare public key in trust.py) and 1.28-1.36x one given the
same bare public key. Those ~50 µs are the checks (`bench_saml.py --steps`, timed in place):
reading and checking the assertion 28 (15 attribute values, 6 instants), XSW shape checks
12 (ID uniqueness is one XPath), SignedInfo allow-list 7, parser caps ~5, Response checks 5.
Decryption is done with `cryptography` instead (decrypt.py) to keep every algorithm choice
explicit (RSA-OAEP only, its digest/MGF allow-listed).
"""
from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from typing import Any

import xmlsec

from app.federation.saml.algorithms import (
    CANONICALIZATIONS,
    DIGEST_METHODS,
    DS,
    EC,
    EXC_C14N,
    SIGNATURE_METHODS,
    TRANSFORMS,
    algorithm_name,
    q,
)
from app.federation.saml.errors import SamlRejected, detail

_SIGNED_INFO = q(DS, "SignedInfo")
_SIGNATURE_VALUE = q(DS, "SignatureValue")
_KEY_INFO = q(DS, "KeyInfo")
_C14N_METHOD = q(DS, "CanonicalizationMethod")
_SIGNATURE_METHOD = q(DS, "SignatureMethod")
_REFERENCE = q(DS, "Reference")
_TRANSFORMS = q(DS, "Transforms")
_TRANSFORM = q(DS, "Transform")
_DIGEST_METHOD = q(DS, "DigestMethod")
_DIGEST_VALUE = q(DS, "DigestValue")
_INCLUSIVE_NAMESPACES = q(EC, "InclusiveNamespaces")
_X509_CERTIFICATE = f"{_KEY_INFO}/{q(DS, 'X509Data')}/{q(DS, 'X509Certificate')}"

_C = xmlsec.constants
_REFERENCE_TRANSFORMS = (_C.TransformEnveloped, _C.TransformExclC14N, _C.TransformSha256, _C.TransformSha384,
                         _C.TransformSha512)

# Hardening: libxmlsec resolves no URI at all (no file, no network), whatever a document says.
xmlsec.cleanup_callbacks()


def _algorithm(node: Any) -> str:
    return str(node.get("Algorithm") or "")


# Children are taken as they are (list(node)): a comment or processing instruction has a
# non-string tag, so it fails every comparison below (shape.py refused them already).
_SIGNATURE_FORMS = ([_SIGNED_INFO, _SIGNATURE_VALUE], [_SIGNED_INFO, _SIGNATURE_VALUE, _KEY_INFO])
_SIGNED_INFO_FORM = [_C14N_METHOD, _SIGNATURE_METHOD, _REFERENCE]
_PLAIN_REFERENCE = [_DIGEST_METHOD, _DIGEST_VALUE]
_TRANSFORMED_REFERENCE = [_TRANSFORMS, _DIGEST_METHOD, _DIGEST_VALUE]


def check_signed_info(signature: Any, signed: Any) -> str:
    """Refuse anything but the one shape of signature accepted; return the key type the
    signature method needs ("rsa" or "ec")."""
    parts = list(signature)
    if [p.tag for p in parts] not in _SIGNATURE_FORMS:
        raise detail("saml_signature_invalid", "unexpected Signature content")
    info = list(parts[0])
    if [p.tag for p in info] != _SIGNED_INFO_FORM:
        raise detail("saml_signature_invalid", "SignedInfo must hold one Reference")
    c14n, method, reference = info
    c14n_algorithm = _algorithm(c14n)
    if c14n_algorithm not in CANONICALIZATIONS:
        raise detail("saml_transform", f"canonicalization {algorithm_name(c14n_algorithm)} is not allowed")
    _only_inclusive_namespaces(c14n, c14n_algorithm == EXC_C14N)
    kind = SIGNATURE_METHODS.get(_algorithm(method))
    if kind is None or len(method):
        raise detail("saml_weak_algorithm", f"signature method {algorithm_name(_algorithm(method))} is not allowed")
    own_id = signed.get("ID")
    if not own_id or reference.get("URI") != "#" + own_id:
        raise SamlRejected("saml_signature_wrapping")
    if reference.get("Type") is not None:  # e.g. a Manifest: one plain reference is all SAML uses
        raise detail("saml_signature_invalid", "unexpected Reference type")
    _check_reference(reference)
    return kind


def _check_reference(reference: Any) -> None:
    parts = list(reference)
    tags = [p.tag for p in parts]
    if tags == _PLAIN_REFERENCE:
        transforms: list[Any] = []
    elif tags == _TRANSFORMED_REFERENCE:
        transforms = list(parts[0])
        parts = parts[1:]
    else:
        raise detail("saml_signature_invalid", "unexpected Reference content")
    seen: set[str] = set()
    for t in transforms:
        algorithm = _algorithm(t)
        if t.tag != _TRANSFORM or algorithm not in TRANSFORMS or algorithm in seen:
            raise SamlRejected("saml_transform")
        seen.add(algorithm)
        _only_inclusive_namespaces(t, algorithm == EXC_C14N)
    digest = _algorithm(parts[0])
    if digest not in DIGEST_METHODS or len(parts[0]):
        raise detail("saml_weak_algorithm", f"digest method {algorithm_name(digest)} is not allowed")


def _only_inclusive_namespaces(node: Any, allowed: bool) -> None:
    if not len(node):
        return
    children = list(node)
    if not allowed or len(children) > 1 or children[0].tag != _INCLUSIVE_NAMESPACES or len(children[0]):
        raise SamlRejected("saml_transform")


def verify(signature: Any, signed: Any, certificates: Sequence[Any]) -> None:
    """Verify `signature` (a direct child of `signed`, IDs registered on its document with
    xmlsec.tree.add_ids) against the registered `certificates` (SigningCertificate)."""
    kind = check_signed_info(signature, signed)
    candidates = [c for c in certificates if c.kind == kind]
    hint = _embedded_certificate(signature) if len(candidates) > 1 else None
    if hint is not None:
        candidates.sort(key=lambda c: c.der != hint)
    for cert in candidates:
        ctx = xmlsec.SignatureContext()
        for transform in _REFERENCE_TRANSFORMS:
            ctx.enable_reference_transform(transform)
        ctx.key = cert.key
        try:
            ctx.verify(signature)
        except xmlsec.Error:
            continue
        return
    raise SamlRejected("saml_signature_invalid")


def _embedded_certificate(signature: Any) -> bytes | None:
    """The DER of a certificate in KeyInfo, used only to try the matching registered one
    first (saves a failed verify after a key rotation); never trusted."""
    node = signature.find(_X509_CERTIFICATE)
    if node is None or not node.text:
        return None
    try:
        return base64.b64decode("".join(node.text.split()))
    except (binascii.Error, ValueError):
        return None
