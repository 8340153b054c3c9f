"""What AssumeRoleWithSAML and AssumeRoleWithWebIdentity share between a verified identity and
a role session: the sign-in value StsService mints from (`FederatedSignIn`), one-time use of a
token (`one_time_use`), and the rules for what an identity provider may put in a session
(session tags, source identity).

Each federation kind has its own sign-in (app.services.saml_signin, app.services.oidc_signin)
that reads its IdP's format; both hand StsService the same shape, so trust evaluation, limits,
minting, RoleLastUsed and the response's common members are one path (StsService.federate).

Choices where AWS is silent or unobservable here:
- a session tag from an IdP that breaks the tag rules (key 1-128 and value 0-256 characters of
  letters, digits, spaces and `_.:/=+-@`, at most 50 tags, one value per key) is
  InvalidIdentityToken: the bad value came from the IdP, not from the caller;
- the one-time-use mark is taken last, right before minting: a token is spent only by a
  redemption that gets credentials, and of concurrent identical requests exactly one does.
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, Protocol

from app.core.errors import InvalidIdentityToken
from app.core.records import Tag
from app.services.role_session import RoleSessionRequest

MAX_TAGS = 50
SOURCE_IDENTITY_PATTERN = 'Source Identity must match [a-zA-Z_0-9+=,.@-]{2,64} and not begin with "aws:"'
_NAME = re.compile(r"[a-zA-Z_0-9+=,.@-]{2,64}")
_TAG_PUNCT = frozenset("_.:/=+-@")


class FederatedSignIn(Protocol):
    """A verified identity of a known provider, ready to become a role session."""

    @property
    def user_identity(self) -> dict[str, str]:
        """CloudTrail's `userIdentity` of the federated caller (SAMLUser, WebIdentityUser)."""

    def role_session(self, *, role_arn: str, duration_seconds: int | None, policy: str | None,
                     policy_arns: Sequence[str]) -> RoleSessionRequest:
        """The role session the identity asks for (raises AWS's errors for what it lacks)."""

    def response(self) -> dict[str, Any]:
        """The members of the action's result that describe the identity."""


class OneTimeMarks(Protocol):
    """app.store.replay_marks.ReplayMarks."""

    async def claim(self, kind: str, provider_arn: str, token_id: str, until: float) -> bool: ...


def one_time_use(marks: OneTimeMarks, kind: str, provider_arn: str, token_id: str, until: float, *,
                 message: str, reason: str) -> Callable[[], Awaitable[None]]:
    """The `redeem` step of a RoleSessionRequest: mark (`kind`, provider, token id) as used until
    `until`, or refuse the session (InvalidIdentityToken `message`) when it already was."""

    async def redeem() -> None:
        if not await marks.claim(kind, provider_arn, token_id, until):
            raise InvalidIdentityToken(message, reason=reason)

    return redeem


def _tag_text(text: str) -> bool:
    return all(c in _TAG_PUNCT or unicodedata.category(c)[0] in "LZN" for c in text)


def idp_session_tags(entries: Iterable[tuple[str, Sequence[str]]], *, where: str, kind: str) -> tuple[Tag, ...]:
    """Session tags an IdP sends, as (key, values) pairs, checked against the tag rules;
    `where` names the document in messages (`AuthnResponse`, `the web identity token`) and
    `kind` prefixes the audit reasons. The shared session-tag rules (no `aws:` keys, no
    case-insensitive duplicates, transitive keys among the tags) are applied later by
    app.services.role_session like AssumeRole's."""
    tags: list[Tag] = []
    for key, values in entries:
        if len(values) != 1:
            raise InvalidIdentityToken(f"the session tag `{key}` in {where} must have exactly one value",
                                       reason=f"{kind}_tag_invalid")
        value = values[0]
        if not (1 <= len(key) <= 128 and _tag_text(key)):
            raise InvalidIdentityToken(f"the session tag key `{key}` in {where} must be 1-128 letters, digits, "
                                       "spaces or _.:/=+-@", reason=f"{kind}_tag_invalid")
        if not (len(value) <= 256 and _tag_text(value)):
            raise InvalidIdentityToken(f"the value of session tag `{key}` in {where} must be 0-256 letters, "
                                       "digits, spaces or _.:/=+-@", reason=f"{kind}_tag_invalid")
        tags.append(Tag(key, value))
    if len(tags) > MAX_TAGS:
        raise InvalidIdentityToken(f"{where[0].upper()}{where[1:]} carries {len(tags)} session tags; at most "
                                   f"{MAX_TAGS} are allowed", reason=f"{kind}_too_many_tags")
    return tuple(tags)


def idp_source_identity(value: str | None, *, kind: str) -> str | None:
    """A source identity an IdP sends: AWS's pattern, never `aws:…`."""
    if value is not None and (not _NAME.fullmatch(value) or value.lower().startswith("aws:")):
        raise InvalidIdentityToken(SOURCE_IDENTITY_PATTERN, reason=f"{kind}_source_identity_invalid")
    return value
