"""`tessera credential-process --profile NAME`: credentials for AWS SDKs, renewed without a browser.

An AWS config profile uses it as

    [profile work]
    credential_process = tessera credential-process --profile work

and SDKs run it whenever they need credentials; it prints
`{"Version": 1, "AccessKeyId", "SecretAccessKey", "SessionToken", "Expiration"}` (ISO 8601).

It answers from the profile's sign-in cache (`tessera login --profile NAME` made it) while the
credentials have more than `--renew-before` seconds left (5 minutes by default), else renews them
at `POST /sso/cli/refresh` with the refresh grant (rotated on every use) and saves both. The cache
is read and renewed under an exclusive lock, so concurrent SDK processes renew once. When the
sign-in has ended, it says so on stderr (run `tessera login` again) and exits 1; the secrets go
to stdout only, as the SDK expects.
"""
from __future__ import annotations

import argparse
import sys
from typing import Any

from app.cli import aws_files
from app.cli.sso_api import ApiError, check_url, checked_grant, post_form, process_json, seconds_left

RENEW_BEFORE = 300


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--profile", required=True, help="the profile `tessera login --profile NAME` signed in")
    p.add_argument("--renew-before", type=int, default=RENEW_BEFORE,
                   help=f"renew when fewer seconds than this are left (default {RENEW_BEFORE})")


def run_credential_process(args: argparse.Namespace) -> int:
    try:
        profile = aws_files.check_profile(args.profile)
        with aws_files.cache_lock(profile):
            cache = aws_files.read_cache(profile)
            if cache is None or not isinstance(cache.get("credentials"), dict):
                raise aws_files.ProfileError(f"profile `{profile}` has no sign-in; run `tessera login --profile "
                                             f"{profile}`")
            credentials = _fresh(profile, cache, max(0, args.renew_before))
        print(process_json(credentials), flush=True)
        return 0
    except (ApiError, aws_files.ProfileError) as exc:
        print(f"tessera: {exc}", file=sys.stderr, flush=True)
        return 1


def _fresh(profile: str, cache: dict[str, Any], renew_before: int) -> dict[str, str]:
    credentials: dict[str, str] = cache["credentials"]
    left = seconds_left(credentials)
    if left > renew_before:
        return credentials
    token = cache.get("refresh_token")
    if not isinstance(token, str) or not token:
        return _still_valid(profile, credentials, left, "no refresh grant was issued with this sign-in")
    try:
        grant = checked_grant(post_form(check_url(str(cache.get("url") or "")), "/sso/cli/refresh",
                                        {"refresh_token": token}))
    except ApiError as exc:
        if exc.error == "invalid_grant":  # the grant is over: keep nothing that cannot work again
            aws_files.write_cache(profile, {**cache, "refresh_token": None})
        return _still_valid(profile, credentials, left, exc.message)
    aws_files.write_cache(profile, {**cache, **grant})
    return dict(grant["credentials"])


def _still_valid(profile: str, credentials: dict[str, str], left: float, why: str) -> dict[str, str]:
    """The cached credentials while they last (renewal failed: `why`), else the error."""
    if left > 0:
        print(f"tessera: could not renew the credentials of profile `{profile}` ({why}); "
              f"they expire in {int(left)} s", file=sys.stderr, flush=True)
        return credentials
    raise aws_files.ProfileError(f"the credentials of profile `{profile}` have expired and cannot be renewed "
                                 f"({why}); run `tessera login --profile {profile}`")
