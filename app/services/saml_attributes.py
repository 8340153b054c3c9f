"""What AWS reads from a verified SAML assertion (reference §4.2-§4.4), as pure functions of
the `FederatedIdentity` the federation layer returned: the Role pairs, the session name,
duration, tags and source identity, the `saml:*` condition keys and the response fields.

Errors carry AWS's code and message; `reason` names the precise cause for the audit log.
Choices where AWS is silent or unobservable here:
- an attribute AWS reads as one value (RoleSessionName, SessionDuration, SourceIdentity, a
  PrincipalTag) that arrives with several values is refused, never silently truncated;
- session tags and the source identity follow the rules of every IdP (app.services.federation);
- single-valued condition keys take the first value; when several attributes feed one key,
  the first attribute of `KEY_SOURCES` that is present wins (AWS maps only one).
"""
from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Mapping, Sequence

from app.core.errors import AccessDenied, InvalidIdentityToken
from app.core.records import Tag
from app.services.federation import SOURCE_IDENTITY_PATTERN, idp_session_tags, idp_source_identity

AWS_ATTR = "https://aws.amazon.com/SAML/Attributes/"
ROLE = AWS_ATTR + "Role"
ROLE_SESSION_NAME = AWS_ATTR + "RoleSessionName"
SESSION_DURATION = AWS_ATTR + "SessionDuration"
SOURCE_IDENTITY = AWS_ATTR + "SourceIdentity"
PRINCIPAL_TAG = AWS_ATTR + "PrincipalTag:"
TRANSITIVE_TAG_KEYS = AWS_ATTR + "TransitiveTagKeys"
NAMEID_PREFIX = "urn:oasis:names:tc:SAML:2.0:nameid-format:"

NOT_AUTHORIZED = "Not authorized to perform sts:AssumeRoleWithSAML"
SESSION_NAME_REQUIRED = "RoleSessionName is required in AuthnResponse"
SESSION_NAME_PATTERN = "RoleSessionName in AuthnResponse must match [a-zA-Z_0-9+=,.@-]{2,64}"
_NAME = re.compile(r"[a-zA-Z_0-9+=,.@-]{2,64}")

_EDU_PERSON = "urn:oid:1.3.6.1.4.1.5923.1.1.1."
_EDU_ORG = "urn:oid:1.3.6.1.4.1.5923.1.2.1."
_CLAIMS = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/"
# condition key -> (multivalued?, the attribute Names that feed it, in order of preference)
KEY_SOURCES: dict[str, tuple[bool, tuple[str, ...]]] = {
    "saml:cn": (True, ("urn:oid:2.5.4.3",)),
    "saml:edupersonaffiliation": (True, (_EDU_PERSON + "1",)),
    "saml:edupersonnickname": (True, (_EDU_PERSON + "2",)),
    "saml:edupersonorgdn": (False, (_EDU_PERSON + "3",)),
    "saml:edupersonorgunitdn": (True, (_EDU_PERSON + "4",)),
    "saml:edupersonprimaryaffiliation": (False, (_EDU_PERSON + "5",)),
    "saml:edupersonprincipalname": (False, (_EDU_PERSON + "6",)),
    "saml:edupersonentitlement": (True, (_EDU_PERSON + "7",)),
    "saml:edupersonprimaryorgunitdn": (False, (_EDU_PERSON + "8",)),
    "saml:edupersonscopedaffiliation": (True, (_EDU_PERSON + "9",)),
    "saml:edupersontargetedid": (True, (_EDU_PERSON + "10",)),
    "saml:edupersonassurance": (True, (_EDU_PERSON + "11",)),
    "saml:eduorghomepageuri": (True, (_EDU_ORG + "2",)),
    "saml:eduorgidentityauthnpolicyuri": (True, (_EDU_ORG + "3",)),
    "saml:eduorglegalname": (True, (_EDU_ORG + "4",)),
    "saml:eduorgsuperioruri": (True, (_EDU_ORG + "5",)),
    "saml:eduorgwhitepagesuri": (True, (_EDU_ORG + "6",)),
    "saml:commonName": (False, ("http://schemas.xmlsoap.org/claims/CommonName",)),
    "saml:givenName": (False, (_CLAIMS + "givenname", "urn:oid:2.5.4.42")),
    "saml:surname": (False, (_CLAIMS + "surname", "urn:oid:2.5.4.4")),
    "saml:mail": (False, (_CLAIMS + "emailaddress", "urn:oid:0.9.2342.19200300.100.1.3")),
    "saml:name": (False, (_CLAIMS + "name",)),
    "saml:uid": (False, ("urn:oid:0.9.2342.19200300.100.1.1",)),
    "saml:x500UniqueIdentifier": (False, ("urn:oid:2.5.4.45",)),
    "saml:organizationStatus": (False, ("urn:oid:0.9.2342.19200300.100.1.45",)),
    "saml:primaryGroupSID": (False, ("http://schemas.microsoft.com/ws/2008/06/identity/claims/primarygroupsid",)),
}

Attributes = Mapping[str, Sequence[str]]
Pairs = tuple[tuple[str, str], ...]


def _invalid(message: str, reason: str) -> InvalidIdentityToken:
    return InvalidIdentityToken(message, reason=reason)


def _single(attrs: Attributes, name: str, message: str, reason: str) -> str | None:
    values = attrs.get(name)
    if values is None:
        return None
    if len(values) != 1:
        raise _invalid(message, reason)
    return values[0]


def role_pairs(attrs: Attributes) -> list[tuple[str, str]]:
    """(role ARN, provider ARN) of every Role value; either order inside a value (some ADFS
    rules write the provider first); values that are not such a pair are skipped."""
    pairs: list[tuple[str, str]] = []
    for value in attrs.get(ROLE, ()):
        parts = [p.strip() for p in value.split(",")]
        if len(parts) != 2:
            continue
        roles = [p for p in parts if ":role/" in p]
        providers = [p for p in parts if ":saml-provider/" in p]
        if len(roles) == 1 and len(providers) == 1:
            pairs.append((roles[0], providers[0]))
    return pairs


def check_role_pair(attrs: Attributes, role_arn: str, provider_arn: str) -> None:
    """The requested role and provider must be one of the assertion's Role pairs."""
    if (role_arn, provider_arn) not in role_pairs(attrs):
        raise AccessDenied(NOT_AUTHORIZED, reason="saml_role_not_in_assertion")


def session_name(attrs: Attributes) -> str:
    name = _single(attrs, ROLE_SESSION_NAME, SESSION_NAME_PATTERN, "saml_session_name_invalid")
    if name is None:
        raise _invalid(SESSION_NAME_REQUIRED, "saml_session_name_missing")
    if not _NAME.fullmatch(name):
        raise _invalid(SESSION_NAME_PATTERN, "saml_session_name_invalid")
    return name


def session_duration(attrs: Attributes) -> int | None:
    """The SessionDuration attribute in seconds (900-43200), or None."""
    message = "SessionDuration in AuthnResponse must be an integer between 900 and 43200"
    raw = _single(attrs, SESSION_DURATION, message, "saml_session_duration_invalid")
    if raw is None:
        return None
    text = raw.strip()
    if not (text.isascii() and text.isdigit() and len(text) <= 6 and 900 <= int(text) <= 43200):
        raise _invalid(message, "saml_session_duration_invalid")
    return int(text)


def source_identity(attrs: Attributes) -> str | None:
    value = _single(attrs, SOURCE_IDENTITY, SOURCE_IDENTITY_PATTERN, "saml_source_identity_invalid")
    return idp_source_identity(value, kind="saml")


def session_tags(attrs: Attributes) -> tuple[tuple[Tag, ...], tuple[str, ...]]:
    """(PrincipalTag:* session tags, TransitiveTagKeys), checked by the rules every IdP's tags
    follow (app.services.federation)."""
    tags = idp_session_tags(((name[len(PRINCIPAL_TAG):], values) for name, values in attrs.items()
                             if name.startswith(PRINCIPAL_TAG)), where="AuthnResponse", kind="saml")
    transitive = tuple(v.strip() for v in attrs.get(TRANSITIVE_TAG_KEYS, ()) if v.strip())
    return tags, transitive


def subject_type(name_format: str) -> str:
    """`SubjectType` / `saml:sub_type`: the NameID Format without the SAML 2.0 prefix."""
    return name_format.removeprefix(NAMEID_PREFIX) if name_format else "unspecified"


def name_qualifier(issuer: str, account: str, provider_name: str) -> str:
    """AWS's formula: Base64(SHA1(issuer + account + "/" + provider name))."""
    digest = hashlib.sha1(f"{issuer}{account}/{provider_name}".encode("utf-8", "surrogatepass"),
                          usedforsecurity=False).digest()
    return base64.b64encode(digest).decode("ascii")


# attribute Name -> (condition key, multivalued?, preference: lower wins)
_BY_ATTRIBUTE = {name: (key, multi, rank) for key, (multi, sources) in KEY_SOURCES.items()
                 for rank, name in enumerate(sources)}


def attribute_keys(attrs: Attributes) -> Pairs:
    """The attribute-mapped `saml:*` condition keys (trust policies only); a key repeated in
    the result is multivalued. One dict lookup per attribute of the assertion."""
    chosen: dict[str, tuple[int, bool, Sequence[str]]] = {}
    for name, values in attrs.items():
        hit = _BY_ATTRIBUTE.get(name)
        if hit is None or not values:
            continue
        key, multi, rank = hit
        present = chosen.get(key)
        if present is None or rank < present[0]:
            chosen[key] = (rank, multi, values)
    out: list[tuple[str, str]] = []
    for key, (_, multi, values) in chosen.items():
        out.extend((key, v) for v in (values if multi else values[:1]))
    return tuple(out)
