"""Unsigned SAML 2.0 Response trees, every field a parameter (times are epoch seconds).

`response_tree(...)` returns the `samlp:Response` element with one `saml:Assertion`; sign
and encrypt it with `sign.py`. Defaults make a response Tessera accepts once signed.
"""
from __future__ import annotations

import datetime
import secrets
from collections.abc import Mapping, Sequence

from lxml import etree

SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
DS = "http://www.w3.org/2000/09/xmldsig#"
XENC = "http://www.w3.org/2001/04/xmlenc#"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
XS = "http://www.w3.org/2001/XMLSchema"
NSMAP = {"samlp": SAMLP, "saml": SAML}

SUCCESS = "urn:oasis:names:tc:SAML:2.0:status:Success"
REQUESTER = "urn:oasis:names:tc:SAML:2.0:status:Requester"
AUTHN_FAILED = "urn:oasis:names:tc:SAML:2.0:status:AuthnFailed"
BEARER = "urn:oasis:names:tc:SAML:2.0:cm:bearer"
EMAIL = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
PERSISTENT = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"
TRANSIENT = "urn:oasis:names:tc:SAML:2.0:nameid-format:transient"
PASSWORD_PROTECTED = "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"

AWS_ATTR = "https://aws.amazon.com/SAML/Attributes/"
ROLE = AWS_ATTR + "Role"
ROLE_SESSION_NAME = AWS_ATTR + "RoleSessionName"
SESSION_DURATION = AWS_ATTR + "SessionDuration"
SOURCE_IDENTITY = AWS_ATTR + "SourceIdentity"
TRANSITIVE_TAG_KEYS = AWS_ATTR + "TransitiveTagKeys"
PRINCIPAL_TAG = AWS_ATTR + "PrincipalTag:"


def instant(t: float) -> str:
    """xs:dateTime in UTC with milliseconds and `Z`, as IdPs write it."""
    dt = datetime.datetime.fromtimestamp(t, tz=datetime.timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def new_id() -> str:
    return "_" + secrets.token_hex(16)


def q(ns: str, name: str) -> str:
    return f"{{{ns}}}{name}"


def _sub(parent: etree._Element, ns: str, name: str, text: str | None = None, **attrs: str) -> etree._Element:
    el = etree.SubElement(parent, q(ns, name), {k: v for k, v in attrs.items()})
    if text is not None:
        el.text = text
    return el


def aws_attributes(roles: Sequence[tuple[str, str]] = (), session_name: str | None = None,
                   session_duration: int | None = None, source_identity: str | None = None,
                   tags: Mapping[str, str] | None = None, transitive_tag_keys: Sequence[str] = (),
                   role_order: str = "role,provider") -> dict[str, list[str]]:
    """The AWS attributes (reference §4.2) as `Name -> values`. `roles` are (role ARN,
    provider ARN) pairs, written `role,provider` or, with role_order="provider,role",
    the ADFS order."""
    out: dict[str, list[str]] = {}
    if roles:
        out[ROLE] = [f"{r},{p}" if role_order == "role,provider" else f"{p},{r}" for r, p in roles]
    if session_name is not None:
        out[ROLE_SESSION_NAME] = [session_name]
    if session_duration is not None:
        out[SESSION_DURATION] = [str(session_duration)]
    if source_identity is not None:
        out[SOURCE_IDENTITY] = [source_identity]
    for k, v in (tags or {}).items():
        out[PRINCIPAL_TAG + k] = [v]
    if transitive_tag_keys:
        out[TRANSITIVE_TAG_KEYS] = list(transitive_tag_keys)
    return out


def response_tree(*, issuer: str, recipient: str, audience: str | None, now: float,
                  destination: str | None = None, name_id: str | None = "alice@example.test",
                  name_id_format: str | None = EMAIL, name_qualifier: str | None = None,
                  sp_name_qualifier: str | None = None,
                  attributes: Mapping[str, Sequence[str]] | None = None,
                  issue_instant: float | None = None, not_before: float | None = None,
                  not_on_or_after: float | None = None, subject_not_on_or_after: float | None = None,
                  session_not_on_or_after: float | None = None, in_response_to: str | None = None,
                  status: str = SUCCESS, status_message: str | None = None,
                  response_id: str | None = None, assertion_id: str | None = None,
                  subject_confirmations: int = 1, confirmation_method: str = BEARER,
                  response_issuer: str | None = None, typed_values: bool = True) -> etree._Element:
    """A Response with one Assertion. `issue_instant` defaults to `now`, NotBefore to
    `now - 5`, both NotOnOrAfter to `now + 300`; `destination=None` omits the attribute,
    `audience=None` omits the AudienceRestriction, `name_id=None` the NameID."""
    issued = now if issue_instant is None else issue_instant
    nb = issued - 5 if not_before is None else not_before
    noa = issued + 300 if not_on_or_after is None else not_on_or_after
    snoa = noa if subject_not_on_or_after is None else subject_not_on_or_after
    resp = etree.Element(q(SAMLP, "Response"), nsmap=NSMAP)
    resp.set("ID", response_id or new_id())
    resp.set("Version", "2.0")
    resp.set("IssueInstant", instant(issued))
    if destination is not None:
        resp.set("Destination", destination)
    if in_response_to:
        resp.set("InResponseTo", in_response_to)
    _sub(resp, SAML, "Issuer", response_issuer or issuer)
    st = _sub(resp, SAMLP, "Status")
    _sub(st, SAMLP, "StatusCode", Value=status)
    if status_message:
        _sub(st, SAMLP, "StatusMessage", status_message)

    a = _sub(resp, SAML, "Assertion", ID=assertion_id or new_id(), Version="2.0", IssueInstant=instant(issued))
    _sub(a, SAML, "Issuer", issuer)
    subj = _sub(a, SAML, "Subject")
    if name_id is not None:
        attrs = {}
        if name_id_format:
            attrs["Format"] = name_id_format
        if name_qualifier:
            attrs["NameQualifier"] = name_qualifier
        if sp_name_qualifier:
            attrs["SPNameQualifier"] = sp_name_qualifier
        _sub(subj, SAML, "NameID", name_id, **attrs)
    for _ in range(subject_confirmations):
        sc = _sub(subj, SAML, "SubjectConfirmation", Method=confirmation_method)
        scd = {"NotOnOrAfter": instant(snoa), "Recipient": recipient}
        if in_response_to:
            scd["InResponseTo"] = in_response_to
        _sub(sc, SAML, "SubjectConfirmationData", **scd)
    cond = _sub(a, SAML, "Conditions", NotBefore=instant(nb), NotOnOrAfter=instant(noa))
    if audience is not None:
        _sub(_sub(cond, SAML, "AudienceRestriction"), SAML, "Audience", audience)
    authn = {"AuthnInstant": instant(issued), "SessionIndex": new_id()}
    if session_not_on_or_after is not None:
        authn["SessionNotOnOrAfter"] = instant(session_not_on_or_after)
    stmt = _sub(a, SAML, "AuthnStatement", **authn)
    _sub(_sub(stmt, SAML, "AuthnContext"), SAML, "AuthnContextClassRef", PASSWORD_PROTECTED)
    if attributes:
        ats = _sub(a, SAML, "AttributeStatement")
        for name, values in attributes.items():
            at = _sub(ats, SAML, "Attribute", Name=name,
                      NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:uri")
            for v in values:
                val = etree.SubElement(at, q(SAML, "AttributeValue"), nsmap={"xs": XS, "xsi": XSI} if typed_values else None)
                if typed_values:
                    val.set(q(XSI, "type"), "xs:string")
                val.text = v
    return resp


def assertion_of(response: etree._Element) -> etree._Element:
    """The (first) Assertion of a response tree."""
    found = response.find(q(SAML, "Assertion"))
    if found is None:
        raise LookupError("the response has no plain Assertion")
    return found
