"""What `tessera login` and `tessera credential-process` say to the service, and the shapes they
print. Standard library only (urllib): `credential-process` runs each time an SDK needs
credentials, so it starts fast and needs nothing but the package.
"""
from __future__ import annotations

import datetime
import json
import shlex
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

TIMEOUT = 30  # seconds for one call to the service
MAX_ANSWER = 64 * 1024


class ApiError(Exception):
    """The service refused (`error`: the OAuth-style code) or could not be reached (`error` is
    `unreachable`); the message is for the person and never carries a secret."""

    def __init__(self, error: str, message: str) -> None:
        super().__init__(message)
        self.error = error
        self.message = message


def check_url(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise ApiError("invalid_url", f"the Tessera URL must be http(s)://HOST[:PORT][/PATH], not `{url[:200]}`")
    return url.rstrip("/")


def post_form(base_url: str, path: str, fields: dict[str, str], timeout: float = TIMEOUT) -> dict[str, Any]:
    """POST `fields` (urlencoded) to the service; -> its JSON answer (ApiError otherwise)."""
    data = urllib.parse.urlencode(fields).encode("ascii")
    request = urllib.request.Request(f"{base_url}{path}", data=data, method="POST", headers={
        "Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json",
        "User-Agent": "tessera-cli"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - http(s) checked
            return _json(response.read(MAX_ANSWER + 1))
    except urllib.error.HTTPError as exc:
        try:
            answer = _json(exc.read(MAX_ANSWER + 1))
        except ApiError:
            raise ApiError("http_error", f"{base_url} answered HTTP {exc.code} to {path}") from None
        finally:
            exc.close()
        error = str(answer.get("error") or f"http_{exc.code}")
        raise ApiError(error, str(answer.get("error_description") or error)) from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ApiError("unreachable", f"cannot reach {base_url}: {reason}") from None


def _json(raw: bytes) -> dict[str, Any]:
    if len(raw) > MAX_ANSWER:
        raise ApiError("bad_answer", "the service's answer is too large")
    try:
        value = json.loads(raw)
    except ValueError:
        raise ApiError("bad_answer", "the service's answer is not JSON (is the URL a Tessera service?)") from None
    if not isinstance(value, dict):
        raise ApiError("bad_answer", "the service's answer is not a JSON object")
    return value


def checked_grant(answer: dict[str, Any]) -> dict[str, Any]:
    """An answer of /sso/cli/token, /sso/cli/refresh or /sso/device/token, with its shape checked."""
    creds = answer.get("credentials")
    keys = ("AccessKeyId", "SecretAccessKey", "SessionToken", "Expiration")
    if not isinstance(creds, dict) or not all(isinstance(creds.get(k), str) and creds[k] for k in keys):
        raise ApiError("bad_answer", "the service's answer carries no credentials")
    expires_at(creds)
    token = answer.get("refresh_token")
    return {"credentials": {k: creds[k] for k in keys}, "role_arn": str(answer.get("role_arn") or ""),
            "refresh_token": token if isinstance(token, str) else None}


def expires_at(credentials: dict[str, Any]) -> datetime.datetime:
    try:
        when = datetime.datetime.fromisoformat(str(credentials["Expiration"]).replace("Z", "+00:00"))
    except (KeyError, ValueError):
        raise ApiError("bad_answer", "the credentials' Expiration is not an ISO 8601 time") from None
    return when if when.tzinfo else when.replace(tzinfo=datetime.timezone.utc)


def seconds_left(credentials: dict[str, Any], now: datetime.datetime | None = None) -> float:
    now = now or datetime.datetime.now(datetime.timezone.utc)
    return (expires_at(credentials) - now).total_seconds()


def process_json(credentials: dict[str, str]) -> str:
    """What an AWS SDK expects on stdout from a `credential_process` command."""
    return json.dumps({"Version": 1, "AccessKeyId": credentials["AccessKeyId"],
                       "SecretAccessKey": credentials["SecretAccessKey"],
                       "SessionToken": credentials["SessionToken"], "Expiration": credentials["Expiration"]})


def env_lines(credentials: dict[str, str]) -> str:
    names = (("AWS_ACCESS_KEY_ID", "AccessKeyId"), ("AWS_SECRET_ACCESS_KEY", "SecretAccessKey"),
             ("AWS_SESSION_TOKEN", "SessionToken"))
    return "".join(f"export {var}={shlex.quote(credentials[key])}\n" for var, key in names)
