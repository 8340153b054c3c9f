"""The files `tessera login` and `tessera credential-process` read and write on a person's machine.

- `~/.aws/config` (or AWS_CONFIG_FILE): read only, for a profile's `tessera_url` and
  `tessera_provider` (`[profile NAME]`, or `[default]`).
- `~/.aws/credentials` (or AWS_SHARED_CREDENTIALS_FILE): the profile's `aws_access_key_id`,
  `aws_secret_access_key`, `aws_session_token` are set; every other profile and key is kept.
- `~/.aws/tessera/NAME.json`: the sign-in cache of one profile (service URL, provider, role,
  credentials, refresh token), what `tessera credential-process` renews from.

Every file is written whole to a temporary file in the same directory (mode 0600) and renamed
over the old one, so a reader never sees half a file and a secret is never world-readable;
`~/.aws/tessera` is 0700. A cache is updated under an exclusive lock (`.NAME.lock`), so two
SDK processes renewing at once do not both spend the refresh token.
"""
from __future__ import annotations

import configparser
import contextlib
import json
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

PROFILE = re.compile(r"[A-Za-z0-9_.+@-]{1,64}")


class ProfileError(Exception):
    """A message for the person (printed as `tessera: MESSAGE`)."""


def check_profile(name: str) -> str:
    if not PROFILE.fullmatch(name) or name in (".", ".."):
        raise ProfileError(f"profile names are 1-64 letters, digits and `_.+@-`, not `{name[:80]}`")
    return name


def config_path() -> Path:
    return Path(os.environ.get("AWS_CONFIG_FILE") or Path.home() / ".aws" / "config").expanduser()


def credentials_path() -> Path:
    return Path(os.environ.get("AWS_SHARED_CREDENTIALS_FILE") or Path.home() / ".aws" / "credentials").expanduser()


def cache_dir() -> Path:
    return Path.home() / ".aws" / "tessera"


def cache_path(profile: str) -> Path:
    return cache_dir() / f"{check_profile(profile)}.json"


def _parser() -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser(interpolation=None, strict=False, default_section="\x00none")
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keep the case of keys
    return parser


def profile_settings(profile: str) -> dict[str, str]:
    """The `[profile NAME]` (or `[NAME]` for `default`) section of the AWS config file."""
    path = config_path()
    parser = _parser()
    try:
        parser.read(path, encoding="utf-8")
    except (configparser.Error, UnicodeDecodeError) as exc:
        raise ProfileError(f"{path} cannot be read: {type(exc).__name__}") from None
    for section in (f"profile {profile}", profile) if profile == "default" else (f"profile {profile}",):
        if parser.has_section(section):
            return {k: v.strip() for k, v in parser.items(section)}
    return {}


def write_private(path: Path, text: str) -> None:
    """Replace `path` with `text`, readable by its owner only (0600), atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_credentials_profile(profile: str, credentials: dict[str, str]) -> Path:
    """Set the profile's key id, secret and session token in the shared credentials file,
    leaving every other line (other profiles, other keys, comments) as it was."""
    path = credentials_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        text = ""
    except (OSError, UnicodeDecodeError) as exc:
        raise ProfileError(f"{path} cannot be read: {type(exc).__name__}; nothing was written") from None
    values = {"aws_access_key_id": credentials["AccessKeyId"],
              "aws_secret_access_key": credentials["SecretAccessKey"],
              "aws_session_token": credentials["SessionToken"]}
    if any(c in v for v in values.values() for c in "\r\n"):
        raise ProfileError("the service answered credentials that cannot be written to a profile")
    write_private(path, set_in_section(text, profile, values))
    return path


_SECTION = re.compile(r"\s*\[\s*([^\]]*?)\s*\]\s*(?:[#;].*)?")


def set_in_section(text: str, section: str, values: dict[str, str]) -> str:
    """`text` (an INI file) with `key = value` set for each of `values` in `[section]`: a key
    already there is replaced where it stands (later repeats dropped), a missing one is added at
    the end of the section, a missing section at the end of the file."""
    lines = text.splitlines(keepends=True)
    headers = {i: m.group(1) for i, line in enumerate(lines) if (m := _SECTION.fullmatch(line.rstrip("\r\n")))}
    start = next((i for i, name in headers.items() if name == section), None)
    if start is None:
        prefix = "" if not text or text.endswith("\n\n") else ("\n" if text.endswith("\n") else "\n\n")
        return text + prefix + f"[{section}]\n" + "".join(f"{k} = {v}\n" for k, v in values.items())
    end = next((i for i in headers if i > start), len(lines))
    body, seen = [], set()
    for line in lines[start + 1:end]:
        key = line.split("=", 1)[0].strip() if "=" in line else None
        if key in values:
            if key not in seen:
                body.append(f"{key} = {values[key]}\n")
                seen.add(key)
            continue
        body.append(line)
    last = len(body)
    while last > 0 and not body[last - 1].strip():
        last -= 1
    if last and not body[last - 1].endswith("\n"):
        body[last - 1] += "\n"
    added = [f"{k} = {v}\n" for k, v in values.items() if k not in seen]
    body[last:last] = added
    if end < len(lines) and body and body[-1].strip():
        body.append("\n")
    return "".join(lines[:start + 1]) + "".join(body) + "".join(lines[end:])


def read_cache(profile: str) -> dict[str, Any] | None:
    try:
        with open(cache_path(profile), encoding="utf-8") as fh:
            data = json.load(fh)
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        raise ProfileError(f"the sign-in cache {cache_path(profile)} cannot be read; "
                           f"run `tessera login --profile {profile}`") from None
    return data if isinstance(data, dict) else None


def write_cache(profile: str, data: dict[str, Any]) -> Path:
    path = cache_path(profile)
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    write_private(path, json.dumps(data, indent=2) + "\n")
    return path


@contextlib.contextmanager
def cache_lock(profile: str) -> Iterator[None]:
    """An exclusive lock on the profile's cache (advisory; released when the block ends)."""
    directory = cache_dir()
    directory.mkdir(parents=True, exist_ok=True)
    os.chmod(directory, 0o700)
    fd = os.open(directory / f".{check_profile(profile)}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX: no lock
            yield
            return
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
