"""What AWS reads from a verified SAML assertion (reference §4.2-§4.4), as pure functions of
the `FederatedIdentity` the federation layer returned: the Role pairs, the session name,
duration, tags and source identity, the `saml:*` condition keys and the response fields.

Errors carry AWS's code and message; `reason` names the precise cause for the audit log.
Choices where AWS is silent or unobservable here:
- an attribute AWS reads as one value (RoleSessionName, SessionDuration, SourceIdentity, a
  PrincipalTag) that arrives with several values is refused, never silently truncated;
- a session tag that breaks the tag rules (key 1-128 and value 0-256 characters of letters,
  digits, spaces and `_.:/=+-@`, at most 50 tags) is InvalidIdentityToken: the bad value
  came from the IdP, not from the caller;
- single-valued condition keys take the first value; when several attributes feed one key,
  the first attribute of `KEY_SOURCES` that is present wins (AWS maps only one).
"""
from __future__ import annotations

import base64
import hashlib
import re
import unicodedata
from collections.abc import Mapping, Sequence

from app.core.errors import AccessDenied, InvalidIdentityToken
from app.core.records import Tag

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
SOURCE_IDENTITY_PATTERN = 'Source Identity must match [a-zA-Z_0-9+=,.@-]{2,64} and not begin with "aws:"'
_NAME = re.compile(r"[a-zA-Z_0-9+=,.@-]{2,64}")
_TAG_PUNCT = frozenset("_.:/=+-@")
MAX_TAGS = 50

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
    if value is not None and (not _NAME.fullmatch(value) or value.lower().startswith("aws:")):
        raise _invalid(SOURCE_IDENTITY_PATTERN, "saml_source_identity_invalid")
    return value


def _tag_text(text: str) -> bool:
    return all(c in _TAG_PUNCT or unicodedata.category(c)[0] in "LZN" for c in text)


def session_tags(attrs: Attributes) -> tuple[tuple[Tag, ...], tuple[str, ...]]:
    """(PrincipalTag:* session tags, TransitiveTagKeys); the shared session-tag rules (no
    `aws:` keys, no case-insensitive duplicates, transitive keys among the tags) are applied
    by app.services.role_session like AssumeRole's."""
    tags: list[Tag] = []
    for name, values in attrs.items():
        if not name.startswith(PRINCIPAL_TAG):
            continue
        key = name[len(PRINCIPAL_TAG):]
        if len(values) != 1:
            raise _invalid(f"the session tag `{key}` in AuthnResponse must have exactly one value",
                           "saml_tag_invalid")
        value = values[0]
        if not (1 <= len(key) <= 128 and _tag_text(key)):
            raise _invalid(f"the session tag key `{key}` in AuthnResponse must be 1-128 letters, digits, "
                           "spaces or _.:/=+-@", "saml_tag_invalid")
        if not (len(value) <= 256 and _tag_text(value)):
            raise _invalid(f"the value of session tag `{key}` in AuthnResponse must be 0-256 letters, "
                           "digits, spaces or _.:/=+-@", "saml_tag_invalid")
        tags.append(Tag(key, value))
    if len(tags) > MAX_TAGS:
        raise _invalid(f"AuthnResponse carries {len(tags)} session tags; at most {MAX_TAGS} are allowed",
                       "saml_too_many_tags")
    transitive = tuple(v.strip() for v in attrs.get(TRANSITIVE_TAG_KEYS, ()) if v.strip())
    return tuple(tags), transitive


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
