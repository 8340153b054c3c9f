"""The role picker's content: the roles grouped by account, the session's identity and expiry,
and, after a choice, the credentials as ready-to-paste snippets (shell `export` lines in the
contract's form, a `~/.aws/credentials` profile, a `credential_process` profile for
`tessera credential-process`).

`Handoff` is the hook of `tessera login` (app/sso/__init__.py): when a sign-in was started by
the CLI, the picker gives the minted credentials to it instead of showing them.
"""
from __future__ import annotations

import datetime
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from app.core.records import Credentials
from app.services.sso import RoleChoice, SignIn

DURATIONS = ((3600, "1 hour"), (900, "15 minutes"), (7200, "2 hours"), (14400, "4 hours"), (28800, "8 hours"),
             (43200, "12 hours"))
_PROFILE = re.compile(r"[^A-Za-z0-9_-]+")


class Handoff(Protocol):
    """Stores freshly minted credentials for the CLI that started the sign-in and returns the
    URL to send the browser to (`http://127.0.0.1:PORT/callback?code=CODE`, or the device page):
    app.sso.handoff.CliHandoff. `handle` finds the sign-in record again (the refresh grant is
    bound to it), `role_arn` is the role chosen."""

    async def deliver(self, signin: SignIn, issued: dict[str, Any], *, handle: str, role_arn: str) -> str: ...


@dataclass(frozen=True, slots=True)
class RoleRow:
    role_arn: str
    role_name: str
    description: str | None
    refusal: str | None
    durations: tuple[tuple[int, str], ...]


@dataclass(frozen=True, slots=True)
class AccountGroup:
    account: str
    roles: tuple[RoleRow, ...]


@dataclass(frozen=True, slots=True)
class Snippet:
    id: str
    title: str
    hint: str
    text: str


def groups(choices: Sequence[RoleChoice]) -> list[AccountGroup]:
    by_account: dict[str, list[RoleRow]] = {}
    for c in choices:
        durations = tuple((s, t) for s, t in DURATIONS if s <= c.max_session_duration)
        by_account.setdefault(c.account, []).append(
            RoleRow(c.role_arn, c.role_name, c.description, c.refusal, durations))
    return [AccountGroup(account, tuple(rows)) for account, rows in sorted(by_account.items())]


def when(t: float, now: float) -> tuple[str, str, str]:
    """(ISO 8601, `2030-01-01 14:05 UTC`, `in 59 min`) of an instant."""
    moment = datetime.datetime.fromtimestamp(int(t), tz=datetime.timezone.utc)
    left = max(0, int(t - now))
    if left >= 5400:
        relative = f"in {left // 3600} h {left % 3600 // 60:02d} min"
    elif left >= 60:
        relative = f"in {left // 60} min"
    else:
        relative = "in less than a minute"
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ"), moment.strftime("%Y-%m-%d %H:%M UTC"), relative


def profile_name(role_name: str) -> str:
    return "tessera-" + (_PROFILE.sub("-", role_name).strip("-") or "role")[:48]


def snippets(credentials: Credentials, *, role_name: str, public_url: str) -> list[Snippet]:
    c = credentials
    profile = profile_name(role_name)
    shell = (f"export AWS_ACCESS_KEY_ID={c.access_key_id}\n"
             f"export AWS_SECRET_ACCESS_KEY={c.secret_access_key}\n"
             f"export AWS_SESSION_TOKEN={c.session_token}\n"
             f"export AWS_ENDPOINT_URL_STS={public_url}\n"
             f"export AWS_ENDPOINT_URL_IAM={public_url}")
    credentials_file = (f"[{profile}]\n"
                        f"aws_access_key_id = {c.access_key_id}\n"
                        f"aws_secret_access_key = {c.secret_access_key}\n"
                        f"aws_session_token = {c.session_token}")
    process = (f"[profile {profile}]\n"
               f"credential_process = tessera credential-process --profile {profile}\n"
               f"endpoint_url = {public_url}")
    return [
        Snippet("shell", "Shell (bash, zsh)", "Paste into your terminal: the AWS CLI and SDKs pick these up.", shell),
        Snippet("profile", "~/.aws/credentials", f"Add as profile {profile}, then use --profile {profile} "
                "(or AWS_PROFILE).", credentials_file),
        Snippet("process", "~/.aws/config with credential_process",
                f"Renews credentials from your sign-in without a browser: run `tessera login --profile {profile}` "
                "once, then SDKs call tessera when they need credentials.", process),
    ]
