"""What AWS reads from a verified web identity token (reference §5.1-§5.2), as pure functions of
the `FederatedIdentity` the OIDC layer returned (`attributes`: every claim as strings, objects as
strictly parsed compact JSON): the condition keys, the session tags and the source identity.

Condition keys are named `<provider>:<claim>`, `<provider>` being the provider's URL without
scheme exactly as registered (its ARN's resource: `token.actions.githubusercontent.com`,
`oidc.eks.us-east-1.amazonaws.com/id/EXAMPLE`, `127.0.0.1:9400/realms/acme`); the policy engine
compares key names case-insensitively.
- Kept on the session, so later calls can test them too (AWS documents role permission policies
  with `${<provider>:sub}`): `:aud` (the `azp` when the token has one, else the registered client
  id the `aud` matched), `:oaud` (the token's `aud`, every value, when it has an `azp`), `:azp`,
  `:sub`, `:amr` (multivalued), and `accounts.google.com:email` (Google).
- Trust policy only ("Available in session: No" in AWS's table of provider-specific claims):
  GitHub Actions' `actor`, `actor_id`, `job_workflow_ref`, `repository`, `repository_id`,
  `workflow`, `ref`, `environment`, `enterprise_id`, for tokens of
  `token.actions.githubusercontent.com` (with or without an enterprise path), of GHE.com
  (`token.actions.<tenant>.ghe.com`) and of GitHub Enterprise Server (`<host>/_services/token`;
  a Tessera choice: its tokens carry the same claims).
- Kubernetes service-account tokens (EKS IRSA, any cluster): AWS documents only `:sub`
  (`system:serviceaccount:<namespace>:<service account>`) and `:aud`, which every provider has.

The `https://aws.amazon.com/tags` claim is `{"principal_tags": {"Key": ["value"], …},
"transitive_tag_keys": ["Key", …]}`; a tag value may also be a bare string (unambiguous), any
other shape is InvalidIdentityToken. `https://aws.amazon.com/source_identity` is a string.
"""
from __future__ import annotations

import functools
import json
from collections.abc import Mapping, Sequence
from typing import Any

from app.core.errors import InvalidIdentityToken
from app.core.records import Tag
from app.federation.identity import FederatedIdentity
from app.services.federation import idp_session_tags, idp_source_identity

TAGS_CLAIM = "https://aws.amazon.com/tags"
SOURCE_IDENTITY_CLAIM = "https://aws.amazon.com/source_identity"
WHERE = "the web identity token"

GITHUB_CLAIMS = ("actor", "actor_id", "job_workflow_ref", "repository", "repository_id", "workflow", "ref",
                 "environment", "enterprise_id")
GOOGLE = "accounts.google.com"

Attributes = Mapping[str, Sequence[str]]
Pairs = tuple[tuple[str, str], ...]


@functools.lru_cache(maxsize=1024)
def is_github(prefix: str) -> bool:
    """The issuers of GitHub Actions tokens (`prefix`: the issuer URL without scheme)."""
    host, _, path = prefix.partition("/")
    host = host.lower()
    return (host == "token.actions.githubusercontent.com"
            or (host.startswith("token.actions.") and host.endswith(".ghe.com"))
            or path == "_services/token")


def session_keys(prefix: str, identity: FederatedIdentity) -> Pairs:
    """The web identity keys kept on the session (a key repeated is multivalued)."""
    a: Attributes = identity.attributes
    azp = a.get("azp", ())
    out: list[tuple[str, str]] = [(f"{prefix}:aud", azp[0] if azp else identity.audience),
                                  (f"{prefix}:sub", identity.subject)]
    if azp:
        out.append((f"{prefix}:azp", azp[0]))
        out.extend((f"{prefix}:oaud", v) for v in a.get("aud", ()))
    out.extend((f"{prefix}:amr", v) for v in a.get("amr", ()))
    if prefix == GOOGLE:
        out.extend((f"{prefix}:email", v) for v in a.get("email", ())[:1])
    return tuple(out)


def trust_keys(prefix: str, identity: FederatedIdentity) -> Pairs:
    """The provider-specific keys offered to the trust policy only."""
    if not is_github(prefix):
        return ()
    a = identity.attributes
    return tuple((f"{prefix}:{claim}", a[claim][0]) for claim in GITHUB_CLAIMS if a.get(claim))


def _object(attrs: Attributes, claim: str) -> dict[str, Any] | None:
    values = attrs.get(claim)
    if values is None:
        return None
    try:
        parsed = json.loads(values[0]) if len(values) == 1 else None
    except ValueError:  # not an object: a plain string claim
        parsed = None
    if not isinstance(parsed, dict):
        raise InvalidIdentityToken(f"the `{claim}` claim of {WHERE} must be a JSON object",
                                   reason="oidc_tags_invalid")
    return parsed


def _tag_values(key: str, value: Any) -> Sequence[str]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    raise InvalidIdentityToken(f"the session tag `{key}` in {WHERE} must have exactly one value",
                               reason="oidc_tag_invalid")


def session_tags(attrs: Attributes) -> tuple[tuple[Tag, ...], tuple[str, ...]]:
    """(session tags, transitive tag keys) from the `https://aws.amazon.com/tags` claim."""
    claim = _object(attrs, TAGS_CLAIM)
    if claim is None:
        return (), ()
    principal = claim.get("principal_tags", {})
    transitive = claim.get("transitive_tag_keys", [])
    if not isinstance(principal, dict):
        raise InvalidIdentityToken(f"`principal_tags` in the `{TAGS_CLAIM}` claim must be a JSON object",
                                   reason="oidc_tags_invalid")
    if not (isinstance(transitive, list) and all(isinstance(k, str) for k in transitive)):
        raise InvalidIdentityToken(f"`transitive_tag_keys` in the `{TAGS_CLAIM}` claim must be a list of strings",
                                   reason="oidc_tags_invalid")
    tags = idp_session_tags(((k, _tag_values(k, v)) for k, v in principal.items()), where=WHERE, kind="oidc")
    return tags, tuple(transitive)


def source_identity(attrs: Attributes) -> str | None:
    values = attrs.get(SOURCE_IDENTITY_CLAIM)
    if values is None:
        return None
    if len(values) != 1:
        raise InvalidIdentityToken(f"the `{SOURCE_IDENTITY_CLAIM}` claim of {WHERE} must be a string",
                                   reason="oidc_source_identity_invalid")
    return idp_source_identity(values[0], kind="oidc")
