"""Secrets from files (`*_FILE`, as Docker and Kubernetes secrets mount them): the master key,
the root key and the Redis URL (it may carry a password)."""
from __future__ import annotations

import base64
from pathlib import Path

import pytest

from app.settings import Settings, SettingsError

KEY = b"k" * 32
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


def _write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_every_secret_setting_can_come_from_a_file(tmp_path: Path) -> None:
    env = {
        "TESSERA_REDIS_URL_FILE": _write(tmp_path, "url", "redis://:pw@redis:6379/0\n"),
        "TESSERA_MASTER_KEY_FILE": _write(tmp_path, "master", base64.b64encode(KEY).decode() + "\n"),
        "TESSERA_ROOT_ACCESS_KEY_ID_FILE": _write(tmp_path, "akid", "AKIAEXAMPLEROOT00001\n"),
        "TESSERA_ROOT_SECRET_ACCESS_KEY_FILE": _write(tmp_path, "secret", f"  {SECRET}\r\n"),
    }
    s = Settings.from_env(env)
    assert s.redis_url == "redis://:pw@redis:6379/0"
    assert s.master_key == KEY
    assert s.root_access_key_id == "AKIAEXAMPLEROOT00001"
    assert s.root_secret_access_key == SECRET  # the newline `echo` writes and the spaces around it dropped


def test_a_file_and_a_variable_for_one_setting_are_refused(tmp_path: Path) -> None:
    env = {"TESSERA_REDIS_URL": "redis://x", "TESSERA_MASTER_KEY": base64.b64encode(KEY).decode(),
           "TESSERA_MASTER_KEY_FILE": _write(tmp_path, "master", base64.b64encode(KEY).decode())}
    with pytest.raises(SettingsError, match="set TESSERA_MASTER_KEY or TESSERA_MASTER_KEY_FILE, not both"):
        Settings.from_env(env)


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (None, "cannot be read: No such file or directory"),
        ("", "is empty"),
        (" \n", "is empty"),
        ("x" * 70_000, "larger than 65536 bytes"),
        (b"\xff\xfe", "is not UTF-8 text"),
        ("bm90IDMyIGJ5dGVz\n", "must decode to 32 bytes"),  # read, then checked as the variable is
    ],
)
def test_a_bad_secret_file_fails_in_one_line_without_its_content(tmp_path: Path, content: str | bytes | None,
                                                                 fragment: str) -> None:
    path = tmp_path / "master"
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    elif isinstance(content, bytes):
        path.write_bytes(content)
    with pytest.raises(SettingsError) as exc:
        Settings.from_env({"TESSERA_REDIS_URL": "redis://x", "TESSERA_MASTER_KEY_FILE": str(path)})
    message = str(exc.value)
    assert fragment in message
    assert "\n" not in message
    assert "x" * 100 not in message


def test_an_empty_file_variable_means_unset() -> None:
    s = Settings.from_env({"TESSERA_REDIS_URL": "redis://x", "TESSERA_MASTER_KEY": base64.b64encode(KEY).decode(),
                           "TESSERA_MASTER_KEY_FILE": ""})
    assert s.master_key == KEY
