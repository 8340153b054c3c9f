"""Reading a verified assertion: issuer, subject, confirmation, conditions, times and
attributes, each checked as AWS checks them (reference §4.1), into a FederatedIdentity.

Only ever called with an element a verified signature covers. Values are XPath
string-values (every text node, in order: exactly what c14n digested; shape.py has already
refused comments and processing instructions), with surrounding whitespace removed, so a
pretty-printed IdP's `<Issuer>\n  https://idp\n</Issuer>` still matches.
"""
from __future__ import annotations

from typing import Any

from app.federation.identity import FederatedIdentity
from app.federation.saml.algorithms import BEARER, ENTITY_FORMAT, ISSUER, NAMEID_PREFIX, SAML, q
from app.federation.saml.errors import SamlRejected, detail
from app.federation.saml.instants import instant, optional_instant
from app.federation.saml.trust import SamlSettings, SamlTrust

_SUBJECT = q(SAML, "Subject")
_NAME_ID = q(SAML, "NameID")
_CONFIRMATION = q(SAML, "SubjectConfirmation")
_CONFIRMATION_DATA = q(SAML, "SubjectConfirmationData")
_CONDITIONS = q(SAML, "Conditions")
_AUDIENCE_RESTRICTION = q(SAML, "AudienceRestriction")
_AUDIENCE = q(SAML, "Audience")
_CONDITION = q(SAML, "Condition")
_AUTHN_STATEMENT = q(SAML, "AuthnStatement")
_ATTRIBUTE_STATEMENT = q(SAML, "AttributeStatement")
_ATTRIBUTE = q(SAML, "Attribute")
_ATTRIBUTE_VALUE = q(SAML, "AttributeValue")
_NIL = "{http://www.w3.org/2001/XMLSchema-instance}nil"
_NONE: list[Any] = []


def text(node: Any) -> str:
    """The element's string-value, stripped."""
    if not len(node):  # no child of any kind: .text is the whole value
        return str(node.text or "").strip()
    return "".join(node.itertext()).strip()


def children(parent: Any, tag: str) -> list[Any]:
    """The direct children with this tag. (Plain iteration: for the few children SAML
    elements have, setting up lxml's tag-filtered iterator costs more than comparing tags.)"""
    return [child for child in parent if child.tag == tag]


def by_tag(parent: Any) -> dict[Any, list[Any]]:
    """The direct children grouped by tag, in document order, in one pass (cheaper than a
    tag-filtered iterator per tag looked up: each costs as much as this whole pass)."""
    out: dict[Any, list[Any]] = {}
    for child in parent:
        out.setdefault(child.tag, []).append(child)
    return out


def _one(parts: dict[Any, list[Any]], tag: str, reason: str, what: str) -> Any:
    found = parts.get(tag, _NONE)
    if len(found) != 1:
        raise detail(reason, f"exactly one {what} is required") if reason == "saml_malformed" else SamlRejected(reason)
    return found[0]


def check_issuer(issuers: list[Any], trust: SamlTrust) -> str:
    """The Issuer children of a Response or Assertion: exactly one, naming the provider."""
    if len(issuers) != 1 or issuers[0].get("Format") not in (None, ENTITY_FORMAT) or text(issuers[0]) != trust.entity_id:
        raise SamlRejected("saml_issuer_mismatch")
    return trust.entity_id


def check_version(node: Any, what: str) -> None:
    if node.get("Version") != "2.0":
        raise detail("saml_malformed", f"the {what} is not SAML 2.0")


def check_issue_instant(node: Any, what: str, settings: SamlSettings, now: float) -> float:
    issued = instant(node.get("IssueInstant"), f"the {what} IssueInstant")
    if issued > now + settings.skew_seconds:
        raise SamlRejected("saml_not_yet_valid")
    if now - issued > settings.max_age_seconds:
        minutes = settings.max_age_seconds / 60
        raise SamlRejected("saml_too_old", f"Token must be redeemed within {minutes:g} minutes of issuance")
    return issued


def _check_window(not_before: float | None, not_on_or_after: float | None, settings: SamlSettings, now: float) -> None:
    if not_before is not None and now + settings.skew_seconds < not_before:
        raise SamlRejected("saml_not_yet_valid")
    if not_on_or_after is not None and now >= not_on_or_after + settings.skew_seconds:
        raise SamlRejected("saml_expired")


def read_assertion(assertion: Any, trust: SamlTrust, settings: SamlSettings, now: float,
                   response_in_response_to: str | None) -> FederatedIdentity:
    """Every check on the (verified) assertion, then the identity it states.
    `in_response_to` comes from the signed SubjectConfirmationData; the Response's own
    InResponseTo (unsigned when only the assertion is) is never used, only compared."""
    check_version(assertion, "assertion")
    parts = by_tag(assertion)
    issuer = check_issuer(parts.get(ISSUER, _NONE), trust)
    token_id = str(assertion.get("ID") or "")
    if not token_id:  # the replay mark's key: never empty
        raise detail("saml_malformed", "the assertion has no ID")
    issued = check_issue_instant(assertion, "assertion", settings, now)

    subject = by_tag(_one(parts, _SUBJECT, "saml_no_nameid", "Subject"))
    name_ids = subject.get(_NAME_ID, _NONE)
    name = text(name_ids[0]) if len(name_ids) == 1 else ""
    if not name:
        raise SamlRejected("saml_no_nameid")
    name_id = name_ids[0]
    if len(name_id) and any(isinstance(c.tag, str) for c in name_id):
        raise detail("saml_malformed", "NameID must hold text only")
    recipient, confirmed_until, in_response_to = _confirmation(subject, settings, now)
    if None not in (response_in_response_to, in_response_to) and response_in_response_to != in_response_to:
        raise detail("saml_malformed", "the Response and its assertion answer different requests")

    conditions = _one(parts, _CONDITIONS, "saml_malformed", "Conditions element")
    not_on_or_after = optional_instant(conditions, "NotOnOrAfter", "Conditions NotOnOrAfter")
    _check_window(optional_instant(conditions, "NotBefore", "Conditions NotBefore"), not_on_or_after, settings, now)
    _audience(conditions, settings)

    expires = confirmed_until if not_on_or_after is None else min(confirmed_until, not_on_or_after)
    fmt = name_id.get("Format") or "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified"
    return FederatedIdentity(
        kind="saml", issuer=issuer, subject=name, subject_type=fmt.removeprefix(NAMEID_PREFIX),
        audience=recipient, token_id=token_id, issued_at=issued, expires_at=expires,
        attributes=_attributes(parts.get(_ATTRIBUTE_STATEMENT, _NONE)),
        session_not_on_or_after=_session_end(parts.get(_AUTHN_STATEMENT, _NONE)),
        redeemable_until=min(expires + settings.skew_seconds, issued + settings.max_age_seconds),
        name_qualifier=name_id.get("NameQualifier"), sp_name_qualifier=name_id.get("SPNameQualifier"),
        in_response_to=in_response_to,
    )


def _confirmation(subject: dict[Any, list[Any]], settings: SamlSettings, now: float) -> tuple[str, float, str | None]:
    """Exactly one bearer SubjectConfirmation (among the Subject's children by tag) whose
    data names our Recipient and a NotOnOrAfter still ahead: (Recipient, NotOnOrAfter,
    InResponseTo)."""
    confirmations = subject.get(_CONFIRMATION, _NONE)
    if len(confirmations) != 1 or confirmations[0].get("Method") != BEARER:
        raise SamlRejected("saml_subject_confirmation")
    found = children(confirmations[0], _CONFIRMATION_DATA)
    if len(found) != 1:
        raise SamlRejected("saml_subject_confirmation")
    data = found[0]
    recipient, not_on_or_after = data.get("Recipient"), data.get("NotOnOrAfter")
    if recipient is None or not_on_or_after is None:
        raise SamlRejected("saml_subject_confirmation")
    recipient = str(recipient).strip()
    if recipient != settings.recipient:
        raise SamlRejected("saml_recipient_mismatch")
    until = instant(not_on_or_after, "SubjectConfirmationData NotOnOrAfter")
    _check_window(optional_instant(data, "NotBefore", "SubjectConfirmationData NotBefore"), until, settings, now)
    in_response_to = data.get("InResponseTo")
    return recipient, until, None if in_response_to is None else str(in_response_to)


def _audience(conditions: Any, settings: SamlSettings) -> None:
    """At least one AudienceRestriction, and each names our audience (SAML: restrictions
    are all required, the audiences within one are alternatives). Unknown conditions are
    refused (SAML core 2.5.1.1: their validity is indeterminate)."""
    parts = by_tag(conditions)
    restrictions = parts.get(_AUDIENCE_RESTRICTION)
    if not restrictions:
        raise SamlRejected("saml_audience_mismatch")
    for restriction in restrictions:
        if settings.audience not in [text(a) for a in restriction if a.tag == _AUDIENCE]:
            raise SamlRejected("saml_audience_mismatch")
    if _CONDITION in parts:
        raise detail("saml_malformed", "unknown Condition")


def _session_end(statements: list[Any]) -> float | None:
    ends = [optional_instant(s, "SessionNotOnOrAfter", "SessionNotOnOrAfter") for s in statements]
    known = [e for e in ends if e is not None]
    return min(known) if known else None


def _attributes(statements: list[Any]) -> dict[str, tuple[str, ...]]:
    """Attribute Name -> values, in document order; an Attribute repeated in several
    statements adds its values; xsi:nil values are left out. (Plain iteration with a tag
    test: a tag-filtered iterator per Attribute costs more than the values it finds.)"""
    out: dict[str, list[str]] = {}
    for statement in statements:
        for attribute in statement:
            if attribute.tag != _ATTRIBUTE:
                continue
            name = attribute.get("Name")
            if not name:
                raise detail("saml_malformed", "an Attribute has no Name")
            values = out.setdefault(str(name), [])
            for value in attribute:
                if value.tag == _ATTRIBUTE_VALUE and value.get(_NIL) not in ("true", "1"):
                    values.append(text(value))
    return {k: tuple(v) for k, v in out.items()}
