"""DemoIdP: the one-call way to get a signed (optionally encrypted) SAML response.

    idp = DemoIdP()                       # DEMO_ENTITY_ID, signing key "idp"
    b64 = idp.response(recipient=URL, audience=ENTITY_ID, roles=[(role_arn, provider_arn)],
                       session_name="alice")
    xml = idp.response_xml(...)           # the same, as bytes (before base64)
    tree = idp.response_tree(...)         # the unsigned lxml tree (for attack builders)

`response()` keywords (all optional except recipient/audience):
  sign: "assertion" (default) | "response" | "both" | "none"
  encrypt_for: None | certificate name ("sp") -> EncryptedAssertion
  content: "aes256-gcm" | "aes128-gcm" | "aes256-cbc" | "aes128-cbc"
  key_transport: sign.RSA_OAEP_MGF1P | sign.RSA_OAEP_11 | sign.RSA_1_5; key_placement: "inline" | "sibling"
  oaep_digest: "sha1" | "sha256" (the OAEP DigestMethod)
  destination: defaults to the recipient; pass None to leave it out
  roles, session_name, session_duration, source_identity, tags, transitive_tag_keys, role_order
  attributes: extra Attribute Name -> values
  plus every keyword of build.response_tree (name_id, name_id_format, now, issue_instant,
  not_before, not_on_or_after, subject_not_on_or_after, session_not_on_or_after,
  in_response_to, status, response_id, assertion_id, ...)
  signature keywords of sign.sign_element (signature_method, digest_method, c14n, transforms)
"""
from __future__ import annotations

import base64
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from lxml import etree

from idp_fixtures.saml import build, material, sign

_UNSET: Any = object()
_SIGN_KEYS = ("signature_method", "digest_method", "c14n", "transforms", "include_certificate")


@dataclass
class DemoIdP:
    entity_id: str = material.DEMO_ENTITY_ID
    key_name: str = "idp"

    def metadata(self) -> str:
        return material.metadata_xml(self.entity_id, signing=(self.key_name,))

    def response_tree(self, *, recipient: str, audience: str | None, destination: str | None = _UNSET,
                      now: float | None = None, roles: Sequence[tuple[str, str]] = (),
                      session_name: str | None = None, session_duration: int | None = None,
                      source_identity: str | None = None, tags: Mapping[str, str] | None = None,
                      transitive_tag_keys: Sequence[str] = (), role_order: str = "role,provider",
                      attributes: Mapping[str, Sequence[str]] | None = None, **fields: Any) -> etree._Element:
        attrs: dict[str, list[str]] = build.aws_attributes(roles, session_name, session_duration, source_identity,
                                                           tags, transitive_tag_keys, role_order)
        for k, v in (attributes or {}).items():
            attrs[k] = list(v)
        return build.response_tree(issuer=fields.pop("issuer", self.entity_id), recipient=recipient,
                                   audience=audience, now=time.time() if now is None else now,
                                   destination=recipient if destination is _UNSET else destination,
                                   attributes=attrs, **fields)

    def sign_tree(self, tree: etree._Element, sign_what: str = "assertion", **options: Any) -> etree._Element:
        """Sign the assertion, the response or both (assertion first, as IdPs do)."""
        if sign_what in ("assertion", "both"):
            sign.sign_element(build.assertion_of(tree), self.key_name, **options)
        if sign_what in ("response", "both"):
            sign.sign_element(tree, self.key_name, **options)
        return tree

    def response_xml(self, *, sign_what: str = "assertion", encrypt_for: str | None = None,
                     content: str = "aes256-gcm", key_transport: str = sign.RSA_OAEP_MGF1P,
                     key_placement: str = "inline", oaep_digest: str = "sha1", **kwargs: Any) -> bytes:
        options = {k: kwargs.pop(k) for k in _SIGN_KEYS if k in kwargs}
        tree = self.response_tree(**kwargs)
        if sign_what in ("assertion", "both"):
            sign.sign_element(build.assertion_of(tree), self.key_name, **options)
        if encrypt_for:
            sign.encrypt_assertion(tree, encrypt_for, content=content, key_transport=key_transport,
                                   key_placement=key_placement, oaep_digest=oaep_digest)
        if sign_what in ("response", "both"):
            sign.sign_element(tree, self.key_name, **options)
        return etree.tostring(tree, xml_declaration=True, encoding="UTF-8")

    def response(self, *, sign: str = "assertion", **kwargs: Any) -> str:
        """The base64 text of a signed response (see the module docstring for keywords)."""
        return encode(self.response_xml(sign_what=sign, **kwargs))


def encode(xml: bytes | etree._Element) -> str:
    """base64 text of a document (bytes, or a tree serialized as UTF-8 with a declaration)."""
    data = xml if isinstance(xml, bytes) else etree.tostring(xml, xml_declaration=True, encoding="UTF-8")
    return base64.b64encode(data).decode("ascii")
