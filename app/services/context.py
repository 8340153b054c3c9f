"""The policy request context of one call: global `aws:` keys from the caller and the request
facts, plus the action-specific keys a service passes in (`sts:ExternalId`, request tags …).

Values are strings or lists of strings (multivalued keys); booleans are `"true"`/`"false"`,
dates ISO 8601 with `Z`, as AWS presents them to condition operators. A key that does not apply
is absent, never empty: `aws:MultiFactorAuthPresent` exists only for session credentials,
`aws:username` only for IAM users, `aws:TokenIssueTime` only for temporary credentials.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from app.core.clock import iso8601
from app.core.records import Call, Caller, Tag

ContextValue = str | list[str]
Context = dict[str, ContextValue]

PRINCIPAL_TYPES = {"root": "Account", "user": "User", "assumed-role": "AssumedRole",
                   "federated-user": "FederatedUser"}


def _flag(value: bool) -> str:
    return "true" if value else "false"


def merge_tags(base: Iterable[Tag], overrides: Iterable[Tag]) -> tuple[Tag, ...]:
    """`base` tags with `overrides` replacing any tag of the same key, keys compared
    case-insensitively (a session tag overrides the role's tag of the same key)."""
    merged: dict[str, Tag] = {t.key.lower(): t for t in base}
    for t in overrides:
        merged[t.key.lower()] = t
    return tuple(merged.values())


def principal_tags(caller: Caller, own_tags: Sequence[Tag]) -> tuple[Tag, ...]:
    """The caller's `aws:PrincipalTag`s: the user's or role's own tags, overridden by the
    session's tags (new session tags and inherited transitive ones)."""
    if caller.kind == "root":
        return ()
    session = caller.session
    return merge_tags(own_tags, session.tags) if session is not None else tuple(own_tags)


def request_tags(tags: Sequence[Tag]) -> Context:
    """`aws:RequestTag/<key>` per tag and `aws:TagKeys`, for requests that carry tags."""
    if not tags:
        return {}
    ctx: Context = {f"aws:RequestTag/{t.key}": t.value for t in tags}
    ctx["aws:TagKeys"] = [t.key for t in tags]
    return ctx


def caller_context(caller: Caller, tags: Sequence[Tag] = ()) -> Context:
    """The keys that describe the principal (also what a role session carries into a trust
    policy evaluation as the calling principal)."""
    ctx: Context = {
        "aws:userid": caller.user_id,
        "aws:PrincipalArn": caller.principal_arn,
        "aws:PrincipalAccount": caller.account,
        "aws:PrincipalType": PRINCIPAL_TYPES.get(caller.kind, "User"),
        "aws:PrincipalIsAWSService": "false",
    }
    if caller.kind == "user" and caller.name:
        ctx["aws:username"] = caller.name
    for tag in tags:
        ctx[f"aws:PrincipalTag/{tag.key}"] = tag.value
    session = caller.session
    if session is not None:
        ctx["aws:TokenIssueTime"] = iso8601(session.issued_at)
        ctx["aws:MultiFactorAuthPresent"] = _flag(session.mfa_authenticated)
        if session.source_identity is not None:
            ctx["aws:SourceIdentity"] = session.source_identity
        if session.federated_provider is not None:
            ctx["aws:FederatedProvider"] = session.federated_provider
        add_pairs(ctx, session.federation_context)
    return ctx


def add_pairs(ctx: Context, pairs: Iterable[tuple[str, str]]) -> None:
    """Add (key, value) pairs; a key that repeats becomes multivalued."""
    for key, value in pairs:
        present = ctx.get(key)
        if present is None:
            ctx[key] = value
        elif isinstance(present, list):
            present.append(value)
        else:
            ctx[key] = [present, value]


def build_context(call: Call, *, now: float, tags: Sequence[Tag] = (),
                  extra: Mapping[str, ContextValue] | None = None) -> Context:
    """The full request context of `call` at `now`. `tags` are the caller's principal tags
    (see `principal_tags`); `extra` the action-specific keys, which win over global ones."""
    meta = call.meta
    ctx: Context = {
        "aws:CurrentTime": iso8601(now),
        "aws:EpochTime": str(int(now)),
        "aws:SecureTransport": _flag(meta.secure_transport),
    }
    if meta.source_ip:
        ctx["aws:SourceIp"] = meta.source_ip
    if meta.region:
        ctx["aws:RequestedRegion"] = meta.region
    if meta.user_agent:
        ctx["aws:UserAgent"] = meta.user_agent
    caller = call.caller
    if caller is not None:
        ctx.update(caller_context(caller, tags))
        session = caller.session
        if session is not None and session.mfa_authenticated and session.mfa_authenticated_at is not None:
            ctx["aws:MultiFactorAuthAge"] = str(max(0, int(now - session.mfa_authenticated_at)))
    if extra:
        for key, value in extra.items():
            ctx[key] = list(value) if isinstance(value, (list, tuple)) else value
    return ctx
