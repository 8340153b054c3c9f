"""`tessera login` and `tessera credential-process` through `app.cli.main.main`, against a fake
service on loopback (the real one: tests/integration/test_login_e2e.py), in a temporary HOME."""
from __future__ import annotations

import base64
import datetime
import hashlib
import json
import os
import shlex
import stat
import sys
import threading
import urllib.parse
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from app.cli.aws_files import set_in_section
from app.cli.main import main


def iso(seconds_from_now: float) -> str:
    when = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=seconds_from_now)
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def creds(n: int, seconds: float = 3600) -> dict[str, str]:
    return {"AccessKeyId": f"ASIAFAKE{n:012d}", "SecretAccessKey": f"secret{n:034d}",
            "SessionToken": f"token-{n}-FwoGZXIvYXdzE", "Expiration": iso(seconds)}


class FakeService:
    """The four JSON endpoints, scripted: `answers[path]` is a list of (status, body) taken in
    order (the last one repeats); `seen` the forms received."""

    def __init__(self) -> None:
        self.answers: dict[str, list[tuple[int, dict[str, Any]]]] = {}
        self.seen: list[tuple[str, dict[str, str]]] = []
        self.challenges: dict[str, str] = {}  # code -> challenge the "picker" bound it to
        service = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("content-length", "0"))
                form = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode()))
                service.seen.append((self.path, form))
                status, body = service.answer(self.path, form)
                raw = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()

    def answer(self, path: str, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        if path == "/sso/cli/token" and form.get("code") in self.challenges:
            digest = hashlib.sha256(form.get("verifier", "").encode()).digest()
            if base64.urlsafe_b64encode(digest).rstrip(b"=").decode() != self.challenges.pop(form["code"]):
                return 400, {"error": "invalid_grant", "error_description": "the verifier does not match"}
        queue = self.answers.get(path) or [(404, {"error": "not_found"})]
        return queue.pop(0) if len(queue) > 1 else queue[0]


@pytest.fixture
def service() -> Iterator[FakeService]:
    fake = FakeService()
    yield fake
    fake.httpd.shutdown()
    fake.httpd.server_close()


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HOME", str(tmp_path))
    for var in ("AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE", "AWS_PROFILE", "TESSERA_URL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("TESSERA_BROWSER", "true")  # never the machine's own browser
    return tmp_path


def grant(n: int, seconds: float = 3600, refresh: str | None = "tsr_" + "f" * 22 + "." + "a" * 43) -> dict[str, Any]:
    body: dict[str, Any] = {"credentials": creds(n, seconds), "role_arn": "arn:aws:iam::123456789012:role/dev"}
    if refresh:
        body["refresh_token"] = refresh
    return body


def browser_that_signs_in(service: FakeService, tmp: Path, code: str = "c" * 43) -> str:
    """A `--browser-command`: a script that plays the browser and the picker. It reads the
    challenge from the login URL, tells the fake service which code it bound to it, and calls the
    CLI's loopback callback with the code, as the picker's redirect does."""
    script = tmp / "browser.py"
    script.write_text(
        "import json, sys, urllib.parse, urllib.request\n"
        "url = sys.argv[1]\n"
        "q = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))\n"
        f"open({str(tmp / 'opened.json')!r}, 'w').write(json.dumps({{'url': url, 'query': q}}))\n"
        "import urllib.error\n"
        "try: page = urllib.request.urlopen('http://127.0.0.1:' + q['cli_port'] + '/callback?code=" + code + "').read()\n"
        "except urllib.error.HTTPError as e: page = e.read()\n"
        f"open({str(tmp / 'page.html')!r}, 'wb').write(page)\n")
    # the fake service learns the challenge only through the URL the CLI opened
    original = service.answer

    def answer(path: str, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        opened = tmp / "opened.json"
        if path == "/sso/cli/token" and opened.exists() and code not in service.challenges:
            service.challenges[code] = json.loads(opened.read_text())["query"]["cli_challenge"]
        return original(path, form)

    service.answer = answer  # type: ignore[method-assign]
    return shlex.join([sys.executable, str(script)])


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# ---- tessera login (browser) ----
def test_login_writes_the_profile_and_the_cache_and_prints_no_secret(service, home, tmp_path, capsys):
    service.answers["/sso/cli/token"] = [(200, grant(1))]
    command = browser_that_signs_in(service, tmp_path)
    assert main(["login", "--profile", "demo", "--url", service.url, "--provider", "DemoIdP",
                 "--browser-command", command, "--timeout", "30"]) == 0
    out, err = capsys.readouterr()
    assert out == ""
    assert creds(1)["SecretAccessKey"] not in err + out and creds(1)["SessionToken"] not in err + out
    assert "Signed in as arn:aws:iam::123456789012:role/dev" in err and "profile `demo`" in err
    opened = json.loads((tmp_path / "opened.json").read_text())
    assert opened["url"].startswith(f"{service.url}/sso/start?provider=DemoIdP&cli_port=")
    assert set(opened["query"]) == {"provider", "cli_port", "cli_challenge"}
    assert b"Signed in" in (tmp_path / "page.html").read_bytes()
    # the code went to the service with a verifier matching the challenge (the fake checks it)
    path, form = service.seen[-1]
    assert path == "/sso/cli/token" and form["code"] == "c" * 43 and len(form["verifier"]) >= 43
    credentials = home / ".aws" / "credentials"
    assert mode(credentials) == 0o600
    text = credentials.read_text()
    assert "[demo]\naws_access_key_id = ASIAFAKE000000000001\n" in text
    cache = home / ".aws" / "tessera" / "demo.json"
    assert mode(cache) == 0o600 and mode(cache.parent) == 0o700
    saved = json.loads(cache.read_text())
    assert saved["url"] == service.url and saved["provider"] == "DemoIdP"
    assert saved["refresh_token"].startswith("tsr_") and saved["credentials"] == creds(1) | {
        "Expiration": saved["credentials"]["Expiration"]}


def test_login_keeps_the_rest_of_the_credentials_file(service, home, tmp_path, capsys):
    aws = home / ".aws"
    aws.mkdir()
    (aws / "credentials").write_text("# my keys\n[default]\naws_access_key_id = AKIAOLD\n\n[demo]\nregion = x\n"
                                     "aws_session_token = stale\n\n[other]\nk = v\n")
    (aws / "config").write_text(f"[profile demo]\ntessera_url = {service.url}\ntessera_provider = corp\n")
    service.answers["/sso/cli/token"] = [(200, grant(2))]
    assert main(["login", "--profile", "demo", "--browser-command", browser_that_signs_in(service, tmp_path)]) == 0
    text = (aws / "credentials").read_text()
    assert text.startswith("# my keys\n[default]\naws_access_key_id = AKIAOLD\n\n[demo]\nregion = x\n")
    assert "aws_session_token = token-2-FwoGZXIvYXdzE\n" in text and "stale" not in text
    assert text.endswith("[other]\nk = v\n")
    assert "provider=corp" in json.loads((tmp_path / "opened.json").read_text())["url"]


@pytest.mark.parametrize("args,expect", [(["--print"], "export AWS_ACCESS_KEY_ID=ASIAFAKE000000000003\n"),
                                         (["--format", "env"], "export AWS_SESSION_TOKEN=token-3-FwoGZXIvYXdzE\n"),
                                         (["--format", "json"], '"Version": 1')])
def test_login_prints_only_when_asked(service, home, tmp_path, capsys, args, expect):
    service.answers["/sso/cli/token"] = [(200, grant(3))]
    assert main(["login", "--profile", "p", "--url", service.url, "--browser-command",
                 browser_that_signs_in(service, tmp_path), *args]) == 0
    out, err = capsys.readouterr()
    assert expect in out and creds(3)["SecretAccessKey"] in out
    assert creds(3)["SecretAccessKey"] not in err
    assert not (home / ".aws" / "credentials").exists()  # printed, not written
    assert (home / ".aws" / "tessera" / "p.json").exists()  # the renewal cache is kept either way
    if args[-1] == "json":
        assert json.loads(out)["Version"] == 1


def test_login_reports_a_refused_code(service, home, tmp_path, capsys):
    service.answers["/sso/cli/token"] = [(400, {"error": "invalid_grant", "error_description": "the code is used"})]
    assert main(["login", "--profile", "p", "--url", service.url, "--browser-command",
                 browser_that_signs_in(service, tmp_path)]) == 1
    assert "tessera: the code is used" in capsys.readouterr().err
    assert b"Sign-in failed" in (tmp_path / "page.html").read_bytes()
    assert not (home / ".aws" / "credentials").exists()


def test_the_callback_takes_one_code_only(service, home, tmp_path, capsys):
    """A second request to the loopback (another local process guessing) is refused."""
    service.answers["/sso/cli/token"] = [(200, grant(4))]
    script = tmp_path / "twice.py"
    script.write_text(
        "import sys, urllib.parse, urllib.request, urllib.error\n"
        "q = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(sys.argv[1]).query))\n"
        "base = 'http://127.0.0.1:' + q['cli_port']\n"
        "for path in ('/callback?code=short', '/elsewhere'):\n"
        "    try: urllib.request.urlopen(base + path)\n"
        "    except urllib.error.HTTPError as e: print(e.code, file=open(sys.argv[2], 'a'))\n"
        f"urllib.request.urlopen(base + '/callback?code={'d' * 43}').read()\n"
        "try: urllib.request.urlopen(base + '/callback?code=" + "e" * 43 + "')\n"
        "except urllib.error.HTTPError as e: print(e.code, file=open(sys.argv[2], 'a'))\n"
        "except OSError: print('closed', file=open(sys.argv[2], 'a'))\n")
    log = tmp_path / "codes.log"
    command = shlex.join([sys.executable, str(script), "{url}", str(log)])
    assert main(["login", "--profile", "p", "--url", service.url, "--browser-command", command]) == 0
    assert service.seen[-1][1]["code"] == "d" * 43
    for _ in range(100):  # the script's last request races the CLI's exit
        if log.exists() and len(log.read_text().split()) == 3:
            break
        threading.Event().wait(0.05)
    assert log.read_text().split()[:2] == ["400", "404"]
    assert log.read_text().split()[2] in ("400", "closed")


def test_login_needs_a_url(home, capsys):
    assert main(["login", "--profile", "nowhere"]) == 2
    assert "no service URL" in capsys.readouterr().err


@pytest.mark.parametrize("profile", ["../etc", "a b", "x" * 65, ".."])
def test_profile_names_are_checked(home, capsys, profile):
    assert main(["login", "--profile", profile, "--url", "http://127.0.0.1:1"]) == 1
    assert "profile names" in capsys.readouterr().err


# ---- tessera login --no-browser ----
def test_device_login_polls_until_the_sign_in_is_done(service, home, capsys):
    start = {"device_code": "D" * 43, "user_code": "BCDF-GHJK", "verification_uri": f"{service.url}/sso/device",
             "expires_in": 600, "interval": 1}
    service.answers["/sso/device/code"] = [(200, start)]
    service.answers["/sso/device/token"] = [(400, {"error": "authorization_pending"}), (200, grant(5))]
    assert main(["login", "--profile", "dev", "--url", service.url, "--no-browser"]) == 0
    err = capsys.readouterr().err
    assert "BCDF-GHJK" in err and f"{service.url}/sso/device" in err
    polls = [form for path, form in service.seen if path == "/sso/device/token"]
    assert polls == [{"device_code": "D" * 43}] * 2
    assert "ASIAFAKE000000000005" in (home / ".aws" / "credentials").read_text()


def test_device_login_denied(service, home, capsys):
    service.answers["/sso/device/code"] = [(200, {"device_code": "D" * 43, "user_code": "BCDF-GHJK",
                                                  "verification_uri": "x", "interval": 1})]
    service.answers["/sso/device/token"] = [(400, {"error": "access_denied", "error_description": "denied"})]
    assert main(["login", "--profile", "dev", "--url", service.url, "--no-browser"]) == 1
    assert "denied in the browser" in capsys.readouterr().err
    assert not (home / ".aws" / "tessera" / "dev.json").exists()


# ---- tessera credential-process ----
def seed_cache(home: Path, service: FakeService, credentials: dict[str, str], refresh: str | None) -> Path:
    path = home / ".aws" / "tessera" / "work.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"version": 1, "url": service.url, "provider": None, "role_arn": "r",
                                "credentials": credentials, "refresh_token": refresh}))
    return path


def test_credential_process_answers_from_the_cache_while_fresh(service, home, capsys):
    seed_cache(home, service, creds(6, 3600), "tsr_x")
    assert main(["credential-process", "--profile", "work"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out == {"Version": 1, **creds(6, 3600)} | {"Expiration": out["Expiration"]}
    assert service.seen == []


def test_credential_process_renews_and_rotates(service, home, capsys):
    cache = seed_cache(home, service, creds(7, 200), "tsr_old")
    service.answers["/sso/cli/refresh"] = [(200, grant(8, 900, refresh="tsr_new"))]
    assert main(["credential-process", "--profile", "work"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["AccessKeyId"] == "ASIAFAKE000000000008" and err == ""
    assert service.seen == [("/sso/cli/refresh", {"refresh_token": "tsr_old"})]
    saved = json.loads(cache.read_text())
    assert saved["refresh_token"] == "tsr_new" and saved["credentials"]["AccessKeyId"] == "ASIAFAKE000000000008"
    assert mode(cache) == 0o600


def test_credential_process_renew_before(service, home, capsys):
    seed_cache(home, service, creds(9, 200), "tsr_old")
    assert main(["credential-process", "--profile", "work", "--renew-before", "60"]) == 0
    assert service.seen == [] and "ASIAFAKE000000000009" in capsys.readouterr().out


def test_credential_process_after_the_sign_in_ended(service, home, capsys):
    cache = seed_cache(home, service, creds(10, -5), "tsr_old")
    service.answers["/sso/cli/refresh"] = [(400, {"error": "invalid_grant", "error_description": "the browser "
                                                  "sign-in has ended; run `tessera login` again"})]
    assert main(["credential-process", "--profile", "work"]) == 1
    out, err = capsys.readouterr()
    assert out == "" and "have expired" in err and "sign-in has ended" in err
    assert json.loads(cache.read_text())["refresh_token"] is None  # never sent again
    assert main(["credential-process", "--profile", "work"]) == 1
    assert len(service.seen) == 1


def test_credential_process_keeps_valid_credentials_when_renewal_fails(service, home, capsys):
    seed_cache(home, service, creds(11, 120), "tsr_old")
    service.answers["/sso/cli/refresh"] = [(503, {"error": "temporarily_unavailable", "error_description": "busy"})]
    assert main(["credential-process", "--profile", "work"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["AccessKeyId"] == "ASIAFAKE000000000011"
    assert "could not renew" in err and creds(11)["SecretAccessKey"] not in err


def test_credential_process_without_a_sign_in(home, capsys):
    assert main(["credential-process", "--profile", "work"]) == 1
    out, err = capsys.readouterr()
    assert out == "" and "tessera login --profile work" in err


def test_credential_process_when_the_service_is_down(home, capsys):
    path = home / ".aws" / "tessera" / "work.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"url": "http://127.0.0.1:9", "credentials": creds(12, -1), "refresh_token": "t"}))
    assert main(["credential-process", "--profile", "work"]) == 1
    assert "cannot reach" in capsys.readouterr().err


# ---- the credentials file editor ----
@pytest.mark.parametrize("before,after", [
    ("", "[p]\nk = 1\n"),
    ("[a]\nx=1", "[a]\nx=1\n\n[p]\nk = 1\n"),
    ("[p]\nk=0\nk = 9\n", "[p]\nk = 1\n"),
    ("[p]\n# c\nz=2\n\n[q]\n", "[p]\n# c\nz=2\nk = 1\n\n[q]\n"),
    ("[ p ]\nk=0\n", "[ p ]\nk = 1\n"),
    ("[pp]\nk=0\n", "[pp]\nk=0\n\n[p]\nk = 1\n"),
])
def test_set_in_section(before, after):
    assert set_in_section(before, "p", {"k": "1"}) == after


def test_files_are_created_private(home):
    from app.cli import aws_files

    os.umask(0o022)
    aws_files.write_credentials_profile("x", creds(13))
    assert mode(home / ".aws" / "credentials") == 0o600
    with aws_files.cache_lock("x"):
        aws_files.write_cache("x", {"a": 1})
    assert mode(home / ".aws" / "tessera" / "x.json") == 0o600
