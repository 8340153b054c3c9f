"""`tessera login` end to end: the CLI as a subprocess in a temporary HOME, its browser played by
headless Chromium (Playwright on /usr/bin/chromium) through the real sign-in pages of a real
`tessera serve` (tests/integration/sso_env.py); then boto3 with the profile it wrote, and boto3
with `credential_process = tessera credential-process --profile NAME` from an AWS config file,
renewals included. The device-code fallback (`--no-browser`) with the person's side in the
browser too. Screenshots of the device pages go to tests/artifacts/."""
from __future__ import annotations

import json
import os
import pathlib
import queue
import re
import shlex
import shutil
import stat
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any

import boto3
import httpx
import pytest

from .conftest import REGION
from .sso_env import PROVIDER, SsoEnv, exports
# the browser tests' world and browser (skipped, as they are, without playwright or /usr/bin/chromium)
from .test_sso_browser import browser, env, page, shot  # noqa: F401

REPO = pathlib.Path(__file__).resolve().parents[2]
ACCOUNT = "123456789012"


@pytest.fixture
def home(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> pathlib.Path:
    """A temporary HOME for the CLI, and for boto3 in this process (its credential_process
    child inherits it)."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for var in ("AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE", "AWS_PROFILE", "AWS_DEFAULT_PROFILE",
                "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "TESSERA_URL", "BROWSER"):
        monkeypatch.delenv(var, raising=False)
    return home


@dataclass
class Cli:
    """A running `tessera login`: the URL it opened, its stderr lines as they come, its exit."""

    proc: subprocess.Popen[str]
    opened: pathlib.Path
    lines: queue.Queue[str]

    def url(self) -> str:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and self.proc.poll() is None:
            if self.opened.exists() and self.opened.read_text():
                return self.opened.read_text()
            time.sleep(0.02)
        raise AssertionError(f"tessera login opened no browser: {self.finish()}")

    def line(self, pattern: str) -> re.Match[str]:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                found = re.search(pattern, self.lines.get(timeout=1))
            except queue.Empty:
                continue
            if found:
                return found
        raise AssertionError(f"tessera login never printed {pattern!r}")

    def finish(self) -> tuple[int, str, str]:
        out = self.proc.stdout.read() if self.proc.stdout else ""  # type: ignore[union-attr]
        code = self.proc.wait(90)
        err = []
        while not self.lines.empty():
            err.append(self.lines.get())
        return code, out, "".join(err)


def login(home: pathlib.Path, *args: str) -> Cli:
    opened = home.parent / "opened-url"
    browser = shlex.join([sys.executable, "-c", "import sys; open(sys.argv[1], 'w').write(sys.argv[2])",
                          str(opened)])
    child_env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    child_env.update(HOME=str(home), TESSERA_BROWSER=browser)
    proc = subprocess.Popen([sys.executable, "-m", "app", "login", *args, "--timeout", "90"], cwd=REPO,
                            env=child_env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert proc.stderr is not None
        for text in proc.stderr:
            lines.put(text)

    threading.Thread(target=pump, daemon=True).start()
    return Cli(proc, opened, lines)


def enter_user_code(cli: Cli, page: Any, env: SsoEnv, *, screenshots: bool = False) -> None:
    """Type the code the CLI printed at /sso/device, as a person on another device would."""
    user_code = cli.line(r"^\s+([BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4})\s*$").group(1)
    page.goto(f"{env.url}/sso/device")
    if screenshots:
        shot(page, "device-code-entry")
    page.fill("#user_code", user_code.lower())
    page.get_by_role("button", name="Continue").click()
    page.wait_for_selector("text=Code accepted")


def pick(page: Any, role_name: str) -> None:
    page.wait_for_selector(".name")
    page.locator("li", has=page.locator(".name", has_text=re.compile(f"^{role_name}$"))).locator(
        "button[type=submit]").click()


def caller(session: boto3.Session, env: SsoEnv) -> tuple[str, str]:
    sts = session.client("sts", endpoint_url=env.url, region_name=REGION)
    creds = session.get_credentials().get_frozen_credentials()
    return str(sts.get_caller_identity()["Arn"]), creds.access_key


def credential_process_line(profile: str) -> str:
    command = "tessera" if shutil.which("tessera") else shlex.join([sys.executable, "-m", "app"])
    return f"{command} credential-process --profile {profile}"


def mode(path: pathlib.Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_login_through_the_browser_to_a_profile_and_credential_process(env: SsoEnv, page: Any,
                                                                       home: pathlib.Path) -> None:
    cli = login(home, "--profile", "demo", "--url", env.url, "--provider", PROVIDER)
    url = cli.url()
    assert url.startswith(f"{env.url}/sso/start?provider=BrowserIdP&cli_port=")
    page.goto(url)  # -> SP-initiated SAML -> the demo IdP -> /saml -> the picker
    page.wait_for_url(f"{env.url}/sso/roles")
    pick(page, "sso-reader")
    page.wait_for_url(re.compile(r"http://127\.0\.0\.1:\d+/callback\?code=[A-Za-z0-9_-]{43}$"))
    assert "You are signed in as arn:aws:iam::123456789012:role/sso-reader" in page.locator("body").inner_text()
    code, out, err = cli.finish()
    assert code == 0, err
    assert out == "" and "Signed in as arn:aws:iam::123456789012:role/sso-reader" in err
    credentials = home / ".aws" / "credentials"
    cache = home / ".aws" / "tessera" / "demo.json"
    assert mode(credentials) == 0o600 and mode(cache) == 0o600
    saved = json.loads(cache.read_text())
    for secret in (saved["credentials"]["SecretAccessKey"], saved["credentials"]["SessionToken"],
                   saved["refresh_token"]):
        assert secret not in err and secret not in page.url
    arn, akid = caller(boto3.Session(profile_name="demo"), env)
    assert arn == f"arn:aws:sts::{ACCOUNT}:assumed-role/sso-reader/alice" and akid.startswith("ASIA")

    (home / ".aws" / "config").write_text(f"[profile auto]\ncredential_process = {credential_process_line('demo')}\n")
    arn2, akid2 = caller(boto3.Session(profile_name="auto"), env)
    assert arn2 == arn and akid2 == akid  # an hour left: the cached credentials, no renewal
    assert json.loads(cache.read_text())["refresh_token"] == saved["refresh_token"]

    page.goto(f"{env.url}/sso/logout")  # signing out in the browser ends renewals too
    with httpx.Client(base_url=env.url, timeout=10) as http:
        ended = http.post("/sso/cli/refresh", data={"refresh_token": saved["refresh_token"]})
    assert ended.status_code == 400 and "sign-in has ended" in ended.json()["error_description"]


def test_credential_process_renews_a_short_session_without_a_browser(env: SsoEnv, page: Any, home: pathlib.Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    # the IdP's SessionNotOnOrAfter: the sign-in and every session of it end within 4 minutes
    issue = env.saml.idp.response
    with monkeypatch.context() as patch:
        patch.setattr(env.saml.idp, "response", lambda **kw: issue(session_not_on_or_after=time.time() + 240, **kw))
        cli = login(home, "--profile", "short", "--url", env.url, "--provider", PROVIDER)
        page.goto(cli.url())
        page.wait_for_url(f"{env.url}/sso/roles")
        pick(page, "sso-reader")
        page.wait_for_url(re.compile(r"http://127\.0\.0\.1:\d+/callback"))
        code, _, err = cli.finish()
    assert code == 0, err
    cache = home / ".aws" / "tessera" / "short.json"
    first = json.loads(cache.read_text())
    (home / ".aws" / "config").write_text(f"[profile auto]\ncredential_process = {credential_process_line('short')}\n")
    seen = {first["credentials"]["AccessKeyId"]}
    for _ in range(2):  # under 5 minutes left: every SDK start renews, each time a new session
        arn, akid = caller(boto3.Session(profile_name="auto"), env)
        assert arn == f"arn:aws:sts::{ACCOUNT}:assumed-role/sso-reader/alice"
        assert akid not in seen
        seen.add(akid)
    renewed = json.loads(cache.read_text())
    assert renewed["refresh_token"] != first["refresh_token"] and mode(cache) == 0o600

    # the first refresh token, used again after rotation: refused, and the grant is revoked
    with httpx.Client(base_url=env.url, timeout=10) as http:
        replay = http.post("/sso/cli/refresh", data={"refresh_token": first["refresh_token"]})
        assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
        current = http.post("/sso/cli/refresh", data={"refresh_token": renewed["refresh_token"]})
        assert current.status_code == 400
    done = subprocess.run(shlex.split(credential_process_line("short")), capture_output=True, text=True, timeout=60,
                          cwd=REPO)
    assert done.returncode == 0  # the cached credentials still have a few minutes
    assert "could not renew" in done.stderr and json.loads(done.stdout)["AccessKeyId"] == renewed["credentials"][
        "AccessKeyId"]


def test_login_with_oidc_printing_export_lines(env: SsoEnv, page: Any, home: pathlib.Path) -> None:
    cli = login(home, "--profile", "corp", "--url", env.url, "--provider", "corp", "--print")
    page.goto(cli.url())  # -> the test OP's /authorize (code + PKCE) -> /sso/oidc/callback -> the picker
    page.wait_for_url(f"{env.url}/sso/roles")
    pick(page, "oidc-dev")
    page.wait_for_url(re.compile(r"http://127\.0\.0\.1:\d+/callback"))
    code, out, err = cli.finish()
    assert code == 0, err
    creds = exports(out)
    sts = boto3.client("sts", endpoint_url=env.url, region_name=REGION, aws_access_key_id=creds["AWS_ACCESS_KEY_ID"],
                       aws_secret_access_key=creds["AWS_SECRET_ACCESS_KEY"],
                       aws_session_token=creds["AWS_SESSION_TOKEN"])
    assert sts.get_caller_identity()["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/oidc-dev/alice"
    assert creds["AWS_SECRET_ACCESS_KEY"] not in err
    assert not (home / ".aws" / "credentials").exists()


def test_login_without_a_browser_by_device_code(env: SsoEnv, page: Any, home: pathlib.Path) -> None:
    cli = login(home, "--profile", "headless", "--url", env.url, "--no-browser")
    enter_user_code(cli, page, env, screenshots=True)
    shot(page, "device-code-confirm")
    page.get_by_role("link", name="Continue to sign in").click()  # -> /sso/start: the sign-in choices
    page.get_by_role("link", name=re.compile("BrowserIdP")).click()
    page.wait_for_url(f"{env.url}/sso/roles")
    pick(page, "sso-admin")
    page.wait_for_url(re.compile(rf"{re.escape(env.url)}/sso/device/complete\?"))
    assert "Your terminal is signed in" in page.locator("main").inner_text()
    code, out, err = cli.finish()
    assert code == 0, err
    assert "Signed in as arn:aws:iam::123456789012:role/sso-admin" in err
    arn, _ = caller(boto3.Session(profile_name="headless"), env)
    assert arn == f"arn:aws:sts::{ACCOUNT}:assumed-role/sso-admin/alice"
    assert json.loads((home / ".aws" / "tessera" / "headless.json").read_text())["refresh_token"].startswith("tsr_")


def test_device_code_denied_in_the_browser(env: SsoEnv, page: Any, home: pathlib.Path) -> None:
    cli = login(home, "--profile", "denied", "--url", env.url, "--no-browser")
    enter_user_code(cli, page, env)
    page.get_by_role("button", name="Deny").click()
    page.wait_for_selector("text=Request denied")
    code, out, err = cli.finish()
    assert code == 1 and "denied in the browser" in err and out == ""
    assert not (home / ".aws" / "credentials").exists()
