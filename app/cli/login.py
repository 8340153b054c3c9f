"""`tessera login`: sign in through the browser, pick a role, get credentials in the terminal.

With a browser (the default): a one-shot HTTP server on 127.0.0.1 (a random port) waits for the
sign-in to come back; the browser opens `URL/sso/start` with `cli_port` and `cli_challenge`
(S256 of a verifier that never leaves this process). After the role choice the picker sends the
browser to `http://127.0.0.1:PORT/callback?code=CODE`; the code and the verifier are exchanged at
`POST /sso/cli/token` for the credentials and a refresh grant (app.sso.handoff).

Without one (`--no-browser`): the device-code flow (app.sso.device): a user code to enter at
`URL/sso/device` on any device, while this process polls `POST /sso/device/token`.

Then the credentials go to the profile in `~/.aws/credentials` (or, with `--print`, to stdout as
`export` lines or credential_process JSON), and the sign-in cache (`~/.aws/tessera/NAME.json`,
0600) keeps the refresh grant for `tessera credential-process`. Nothing secret is printed unless
asked for with `--print`.

Where to sign in: `--url` and `--provider`, else the profile's `tessera_url` and
`tessera_provider` in `~/.aws/config`, else the previous sign-in of the profile, else
TESSERA_URL. The browser: `--browser-command` (or TESSERA_BROWSER), a command line the URL is
appended to (or substituted for `{url}`), else the system's browser (Python's `webbrowser`, which
honours BROWSER).
"""
from __future__ import annotations

import argparse
import http.server
import os
import queue
import re
import secrets
import shlex
import subprocess
import sys
import threading
import time
import urllib.parse
import webbrowser
from typing import Any

from app.cli import aws_files
from app.cli.sso_api import ApiError, check_url, checked_grant, env_lines, post_form, process_json, seconds_left

_CODE = re.compile(r"[A-Za-z0-9_-]{43}")
DEFAULT_TIMEOUT = 300


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--profile", help="the AWS profile to write (default: $AWS_PROFILE or `default`)")
    p.add_argument("--url", help="the Tessera service URL (default: the profile's tessera_url in ~/.aws/config)")
    p.add_argument("--provider", help="sign in with this identity provider (default: choose in the browser)")
    p.add_argument("--print", dest="print_", action="store_true",
                   help="print the credentials instead of writing them to ~/.aws/credentials")
    p.add_argument("--format", choices=["env", "json"], help="with --print: `export` lines (env, the default) "
                   "or credential_process JSON; implies --print")
    p.add_argument("--no-browser", action="store_true",
                   help="sign in on another device with a code (for machines without a browser)")
    p.add_argument("--browser-command", help="command that opens the sign-in URL (default: $TESSERA_BROWSER, "
                   "else the system browser); the URL is appended, or replaces {url}")
    p.add_argument("--timeout", type=int, default=DEFAULT_TIMEOUT,
                   help=f"seconds to wait for the sign-in (default {DEFAULT_TIMEOUT})")


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def run_login(args: argparse.Namespace) -> int:
    try:
        profile = aws_files.check_profile(args.profile or os.environ.get("AWS_PROFILE") or "default")
        settings = aws_files.profile_settings(profile)
        previous = _previous(profile)
        url = args.url or settings.get("tessera_url") or previous.get("url") or os.environ.get("TESSERA_URL")
        if not url:
            _say(f"tessera: no service URL: pass --url https://tessera.example.com, or set tessera_url in "
                 f"[profile {profile}] of {aws_files.config_path()}")
            return 2
        url = check_url(url)
        provider = args.provider or settings.get("tessera_provider") or previous.get("provider") or None
        if args.no_browser:
            grant = _device_login(url, args.timeout)
        else:
            grant = _browser_login(url, provider, args.browser_command or os.environ.get("TESSERA_BROWSER"),
                                   args.timeout)
        aws_files.write_cache(profile, {"version": 1, "url": url, "provider": provider, **grant})
        return _deliver(profile, grant, args)
    except (ApiError, aws_files.ProfileError) as exc:
        _say(f"tessera: {exc}")
        return 1
    except KeyboardInterrupt:
        _say("tessera: sign-in cancelled")
        return 130


def _previous(profile: str) -> dict[str, Any]:
    try:
        return aws_files.read_cache(profile) or {}
    except aws_files.ProfileError:
        return {}


def _deliver(profile: str, grant: dict[str, Any], args: argparse.Namespace) -> int:
    creds = grant["credentials"]
    minutes = max(0, int(seconds_left(creds) // 60))
    role = grant["role_arn"] or "the chosen role"
    renew = (f"  renew without a browser: credential_process = tessera credential-process --profile {profile}"
             if grant.get("refresh_token") else "")
    if args.print_ or args.format:
        print(process_json(creds) if args.format == "json" else env_lines(creds), end="\n" if args.format == "json"
              else "", flush=True)
        _say(f"Signed in as {role}; credentials valid until {creds['Expiration']} ({minutes} min).")
    else:
        path = aws_files.write_credentials_profile(profile, creds)
        _say(f"Signed in as {role}.\n  credentials in profile `{profile}` of {path}, valid until "
             f"{creds['Expiration']} ({minutes} min)\n  use them: aws --profile {profile} ... / "
             f"boto3.Session(profile_name=\"{profile}\")")
    if renew:
        _say(renew)
    return 0


# ---- with a browser: the loopback handoff ----
class _Callback(http.server.BaseHTTPRequestHandler):
    """GET /callback?code=CODE from the browser: the code goes to the waiting login, the page
    says how it ended."""

    server: _LoopbackServer

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        parts = urllib.parse.urlsplit(self.path)
        if parts.path != "/callback":
            self._page(404, "Not found", "This address only receives the sign-in for tessera login.")
            return
        query = urllib.parse.parse_qs(parts.query, max_num_fields=4)
        code = (query.get("code") or [""])[0]
        if not _CODE.fullmatch(code) or not self.server.offer(code):
            self._page(400, "Sign-in not accepted", "This sign-in was not expected here; run tessera login again.")
            return
        ok, text = self.server.outcome()
        try:
            self._page(200 if ok else 400, "Signed in" if ok else "Sign-in failed", text)
        finally:
            self.server.answered.set()

    def _page(self, status: int, title: str, text: str) -> None:
        body = (f"<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title} · Tessera</title>"
                f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"></head>"
                f"<body><h1>{title}</h1><p>{_escape(text)}</p></body></html>").encode()
        self.send_response(status)
        for name, value in (("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(body))),
                            ("Content-Security-Policy", "default-src 'none'"), ("Cache-Control", "no-store"),
                            ("Referrer-Policy", "no-referrer"), ("Connection", "close")):
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the URL carries the code: no log
        return


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class _LoopbackServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Callback)
        self.codes: queue.Queue[str] = queue.Queue(maxsize=1)
        self.results: queue.Queue[tuple[bool, str]] = queue.Queue(maxsize=1)
        self.answered = threading.Event()  # the browser got its page
        self._taken = threading.Lock()
        self._offered = False

    @property
    def received(self) -> bool:
        return self._offered

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def offer(self, code: str) -> bool:
        """The first code offered is the one; any later one is refused."""
        with self._taken:
            if self._offered:
                return False
            self._offered = True
        self.codes.put(code)
        return True

    def outcome(self) -> tuple[bool, str]:
        try:
            return self.results.get(timeout=60)
        except queue.Empty:
            return False, "tessera login did not answer; look at your terminal."


def _open_browser(url: str, command: str | None) -> bool:
    if command:
        argv = shlex.split(command)
        argv = [a.replace("{url}", url) for a in argv] if any("{url}" in a for a in argv) else [*argv, url]
        try:
            subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)  # noqa: S603
        except OSError as exc:
            _say(f"tessera: cannot run the browser command `{argv[0]}`: {exc.strerror}")
            return False
        return True
    try:
        return webbrowser.open(url)
    except webbrowser.Error:
        return False


def _browser_login(url: str, provider: str | None, command: str | None, timeout: int) -> dict[str, Any]:
    from app.sso.handoff import s256

    verifier = secrets.token_urlsafe(48)  # 64 characters of RFC 7636's verifier alphabet
    server = _LoopbackServer()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="tessera-login-callback",
                              daemon=True)
    thread.start()
    try:
        query = {"cli_port": str(server.port), "cli_challenge": s256(verifier)}
        if provider:
            query = {"provider": provider, **query}
        login_url = f"{url}/sso/start?{urllib.parse.urlencode(query)}"
        opened = _open_browser(login_url, command)
        _say(("Your browser has been opened to sign in." if opened else "Open this address in a browser to sign in:")
             + f"\n  {login_url}\nWaiting for the sign-in (Ctrl-C to cancel)...")
        try:
            code = server.codes.get(timeout=max(1, timeout))
        except queue.Empty:
            raise ApiError("timeout", f"no sign-in came back within {timeout} s; run tessera login again") from None
        try:
            grant = checked_grant(post_form(url, "/sso/cli/token", {"code": code, "verifier": verifier}))
        except ApiError as exc:
            server.results.put((False, f"{exc.message}"))
            raise
        server.results.put((True, f"You are signed in as {grant['role_arn']}. You can close this tab and return "
                                  "to your terminal."))
        return grant
    finally:
        if server.received:
            server.answered.wait(5)  # let the browser's page go out before closing
        server.shutdown()
        server.server_close()


# ---- without a browser: the device code ----
def _device_login(url: str, timeout: int) -> dict[str, Any]:
    start = post_form(url, "/sso/device/code", {})
    try:
        device_code, user_code = str(start["device_code"]), str(start["user_code"])
        verification = str(start["verification_uri"])
        interval, expires_in = int(start.get("interval", 5)), int(start.get("expires_in", 600))
    except (KeyError, TypeError, ValueError):
        raise ApiError("bad_answer", "the service's device code answer is incomplete") from None
    _say(f"To sign in, open {verification} in a browser on any device and enter the code\n\n    {user_code}\n\n"
         "Waiting for the sign-in (Ctrl-C to cancel)...")
    deadline = time.monotonic() + min(timeout, expires_in)
    while time.monotonic() < deadline:
        time.sleep(max(1, interval))
        try:
            return checked_grant(post_form(url, "/sso/device/token", {"device_code": device_code}))
        except ApiError as exc:
            if exc.error == "authorization_pending":
                continue
            if exc.error == "slow_down":
                interval += 5
                continue
            if exc.error == "access_denied":
                raise ApiError(exc.error, "the sign-in was denied in the browser") from None
            raise
    raise ApiError("expired_token", "the code expired before the sign-in finished; run tessera login again")
