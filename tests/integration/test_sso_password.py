"""IAM users signing in on the browser sign-in page with their password (and MFA code), end to end:
a real `tessera serve` on its own Redis database, a real headless Chromium (Playwright, the system
Chromium as in test_sso_browser.py) for the pages, httpx for the concurrent attempts, and
unmodified boto3 for the credentials, GetUser and the credential report.

Client addresses: the test server trusts X-Forwarded-For from 127.0.0.1 (uvicorn's default
FORWARDED_ALLOW_IPS, as behind a proxy), so each test sends its own address and the per-address
counters of one test never reach another's."""
from __future__ import annotations

import csv
import io
import json
import re
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import httpx
import pytest
import redis

from app.core import totp
from tests.redis_target import redis_url

from .browser import browser, page, screenshot as shot  # noqa: F401 - fixtures
from .conftest import ACCOUNT, REGION, ROOT_AKID, ROOT_SECRET, Server, allow, client, start_server, stop_server
from .test_login_e2e import home, login  # noqa: F401 - `tessera login` as a subprocess, in a temporary HOME

DB = redis_url(1)  # the browser sign-in tests' database (tests/integration/sso_env.py), flushed here
USER_LIMIT, SOURCE_LIMIT = 5, 20  # app.store.signin_throttle's defaults
WRONG = "Your user name or password is incorrect"



def secret(prefix: str) -> str:
    """A password that satisfies AWS's default policy and is unique enough to search Redis for."""
    return f"{prefix}-Pw9!{uuid.uuid4().hex[:12]}"


def role_trust(principal: Any, condition: dict[str, Any] | None = None) -> str:
    stmt: dict[str, Any] = {"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"}
    if condition:
        stmt["Condition"] = condition
    return json.dumps({"Version": "2012-10-17", "Statement": [stmt]})


class World:
    def __init__(self, server: Server) -> None:
        self.server = server
        self.url = server.url
        self.iam = client(server, "iam", ROOT_AKID, ROOT_SECRET)
        self.passwords: list[str] = []

    def user(self, name: str, *, reset: bool = False, assume: list[str] | None = None) -> str:
        """A user with a login profile (and a policy allowing sts:AssumeRole on `assume`); -> its password."""
        password = secret(name)
        self.passwords.append(password)
        self.iam.create_user(UserName=name)
        self.iam.create_login_profile(UserName=name, Password=password, PasswordResetRequired=reset)
        if assume:
            self.iam.put_user_policy(UserName=name, PolicyName="assume", PolicyDocument=allow(
                "sts:AssumeRole", [f"arn:aws:iam::{ACCOUNT}:role/{r}" for r in assume]))
        return password

    def role(self, name: str, trust_doc: str) -> None:
        self.iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust_doc)
        self.iam.put_role_policy(RoleName=name, PolicyName="read", PolicyDocument=allow("sts:GetCallerIdentity"))

    def mfa(self, user_name: str) -> str:
        """A virtual MFA device enabled for the user (with the codes of the two steps before
        now); -> its seed."""
        device = self.iam.create_virtual_mfa_device(VirtualMFADeviceName=f"{user_name}-phone")["VirtualMFADevice"]
        seed = device["Base32StringSeed"].decode()
        step = totp.step_of(time.time())
        self.iam.enable_mfa_device(UserName=user_name, SerialNumber=device["SerialNumber"],
                                   AuthenticationCode1=totp.code_at(seed, step - 2),
                                   AuthenticationCode2=totp.code_at(seed, step - 1))
        return seed


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    redis.Redis.from_url(DB).flushdb()
    server = start_server(str(tmp_path_factory.mktemp("sso-password")), redis_url=DB)
    w = World(server)
    root = {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}
    w.role("pw-dev", role_trust(root))  # the account trusts: the user's own policy must allow it
    w.role("pw-ops", role_trust(root))  # trusted, but no user's policy allows it
    w.role("pw-mfa", role_trust(root, {"Bool": {"aws:MultiFactorAuthPresent": "true"}}))
    w.role("pw-elsewhere", role_trust({"AWS": "arn:aws:iam::999999999999:root"}))  # another account only
    yield w
    stop_server(server)


def sign_in(page: Any, world: World, user: str, password: str) -> None:
    page.goto(f"{world.url}/sso")
    page.fill("#iam-user", user)
    page.fill("#iam-password", password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()


def choose(page: Any, role_name: str) -> dict[str, str]:
    page.locator("li", has=page.locator(".name", has_text=re.compile(f"^{role_name}$"))).locator(
        "button[type=submit]").click()
    page.wait_for_selector("#snip-shell")
    return dict(re.findall(r"export (AWS_[A-Z_]+)=([^\s<]+)", page.locator("#snip-shell").inner_text()))


def caller_arn(world: World, creds: dict[str, str]) -> str:
    sts = boto3.client("sts", endpoint_url=world.url, region_name=REGION,
                       aws_access_key_id=creds["AWS_ACCESS_KEY_ID"], aws_secret_access_key=creds["AWS_SECRET_ACCESS_KEY"],
                       aws_session_token=creds["AWS_SESSION_TOKEN"])
    return str(sts.get_caller_identity()["Arn"])


def report(world: World) -> dict[str, dict[str, str]]:
    """The credential report's rows by user name (parsed with the csv module)."""
    world.iam.generate_credential_report()
    for _ in range(100):
        try:
            body = world.iam.get_credential_report()["Content"].decode()
            return {r["user"]: r for r in csv.DictReader(io.StringIO(body))}
        except world.iam.exceptions.CredentialReportNotReadyException:
            time.sleep(0.1)
    raise AssertionError("the credential report never became ready")


def test_password_sign_in_to_working_credentials(world: World, page: Any) -> None:
    password = world.user("pw-alice", assume=["pw-dev", "pw-mfa", "pw-elsewhere"])
    world.user("pw-idle")  # a password never used
    world.iam.create_user(UserName="pw-keyless")  # no password at all
    assert "PasswordLastUsed" not in world.iam.get_user(UserName="pw-alice")["User"]
    page.goto(f"{world.url}/sso")
    assert ACCOUNT in page.locator(".signin-form").inner_text()  # the account the form signs in to
    shot(page, "signin-iam-user")
    sign_in(page, world, "pw-alice", password)
    page.wait_for_url(f"{world.url}/sso/roles")
    # pw-ops: trusted but not allowed by the user's policies; pw-mfa: needs MFA; pw-elsewhere: not trusted
    assert page.locator(".name").all_inner_texts() == ["pw-dev"]
    assert "pw-alice" in page.locator(".who").inner_text()
    shot(page, "role-picker-iam-user")
    creds = choose(page, "pw-dev")
    assert caller_arn(world, creds) == f"arn:aws:sts::{ACCOUNT}:assumed-role/pw-dev/pw-alice"
    used = world.iam.get_user(UserName="pw-alice")["User"]["PasswordLastUsed"]
    assert abs(used.timestamp() - time.time()) < 120
    listed = {u["UserName"]: u for page in world.iam.get_paginator("list_users").paginate() for u in page["Users"]}
    assert listed["pw-alice"]["PasswordLastUsed"] == used and "PasswordLastUsed" not in listed["pw-idle"]
    rows = report(world)  # the module's one report (a report is regenerated at most every 4 hours)
    assert rows["pw-alice"]["password_last_used"] == used.strftime("%Y-%m-%dT%H:%M:%S+00:00")
    assert rows["pw-idle"]["password_enabled"] == "true" and rows["pw-idle"]["password_last_used"] == "no_information"
    assert rows["pw-keyless"]["password_enabled"] == "false" and rows["pw-keyless"]["password_last_used"] == "N/A"
    last = world.iam.get_role(RoleName="pw-dev")["Role"]["RoleLastUsed"]
    assert "LastUsedDate" in last  # the session was issued as AssumeRole issues one
    log = world.server.log()
    assert '"eventName":"AssumeRole"' in log.replace(" ", "") and password not in log


def test_mfa_user_needs_the_code(world: World, page: Any) -> None:
    password = world.user("pw-bob", assume=["pw-dev", "pw-mfa"])
    seed = world.mfa("pw-bob")
    sign_in(page, world, "pw-bob", password)
    assert page.locator("h1").inner_text() == "Multi-factor authentication"
    shot(page, "signin-iam-user-mfa")
    page.fill("#mfa-code", "000000" if totp.code_at(seed, totp.step_of(time.time())) != "000000" else "111111")
    page.get_by_role("button", name="Verify").click()
    page.wait_for_load_state()
    assert "MultiFactorAuthentication failed" in page.locator(".notice").inner_text()
    page.fill("#mfa-code", totp.code_at(seed, totp.step_of(time.time())))
    page.get_by_role("button", name="Verify").click()
    page.wait_for_url(f"{world.url}/sso/roles")
    assert page.locator(".name").all_inner_texts() == ["pw-dev", "pw-mfa"]  # MFA-conditioned trust honoured
    assert caller_arn(world, choose(page, "pw-mfa")) == f"arn:aws:sts::{ACCOUNT}:assumed-role/pw-mfa/pw-bob"


def test_wrong_password_and_unknown_user_get_one_generic_error(world: World, page: Any) -> None:
    password = world.user("pw-carol", assume=["pw-dev"])
    texts = []
    for user, pw in (("pw-carol", password + "x"), ("pw-nobody", password), ("pw-carol", "")):
        page.goto(f"{world.url}/sso")
        page.fill("#iam-user", user)
        page.evaluate("document.querySelector('#iam-password').removeAttribute('required')")
        page.fill("#iam-password", pw)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_load_state()
        assert page.url == f"{world.url}/sso/iam"
        texts.append(page.locator(".notice").inner_text().split("Reference")[0].strip())
    assert len(set(texts)) == 1 and WRONG in texts[0]
    sign_in(page, world, "PW-CAROL", password)  # user names are case-insensitive, as AWS's
    page.wait_for_url(f"{world.url}/sso/roles")


def test_no_login_profile_no_sign_in(world: World) -> None:
    world.iam.create_user(UserName="pw-nopass")
    with httpx.Client(base_url=world.url, timeout=30) as http:
        status, body, _ = post_password(http, "pw-nopass", "Anything-9!", "198.51.100.77")
    assert status == 401 and WRONG in body


def test_password_reset_required_forces_a_new_password(world: World, page: Any) -> None:
    password = world.user("pw-dave", reset=True, assume=["pw-dev"])
    world.iam.put_user_policy(UserName="pw-dave", PolicyName="change", PolicyDocument=allow(
        "iam:ChangePassword", f"arn:aws:iam::{ACCOUNT}:user/pw-dave"))  # what AWS's console attaches
    sign_in(page, world, "pw-dave", password)
    assert page.locator("h1").inner_text() == "Set a new password"
    new = secret("pw-dave-new")
    world.passwords.append(new)
    page.fill("#old-password", password)
    page.fill("#new-password", "short")
    page.fill("#confirm-password", "short")
    page.get_by_role("button", name=re.compile("Change password")).click()
    page.wait_for_load_state()
    assert "does not conform to the account password policy" in page.locator(".notice").inner_text()
    page.fill("#old-password", password)
    page.fill("#new-password", new)
    page.fill("#confirm-password", new)
    page.get_by_role("button", name=re.compile("Change password")).click()
    page.wait_for_url(f"{world.url}/sso/roles")
    assert page.locator(".name").all_inner_texts() == ["pw-dev"]
    assert world.iam.get_login_profile(UserName="pw-dave")["LoginProfile"]["PasswordResetRequired"] is False
    page.goto(f"{world.url}/sso/logout")
    sign_in(page, world, "pw-dave", new)  # the new password signs in directly
    page.wait_for_url(f"{world.url}/sso/roles")


def test_a_due_password_change_needs_the_right_to_change_it(world: World, page: Any) -> None:
    password = world.user("pw-dora", reset=True, assume=["pw-dev"])  # neither iam:ChangePassword nor the policy's
    new = secret("pw-dora-new")
    world.passwords.append(new)
    sign_in(page, world, "pw-dora", password)
    for field, value in (("#old-password", password), ("#new-password", new), ("#confirm-password", new)):
        page.fill(field, value)
    page.get_by_role("button", name=re.compile("Change password")).click()
    page.wait_for_load_state()
    assert "not allowed to change your password" in page.locator(".notice").inner_text()
    world.iam.update_account_password_policy(MinimumPasswordLength=12, AllowUsersToChangePassword=True)
    try:  # AllowUsersToChangePassword: every user may change its own password (AWS)
        sign_in(page, world, "pw-dora", password)
        for field, value in (("#old-password", password), ("#new-password", new), ("#confirm-password", new)):
            page.fill(field, value)
        page.get_by_role("button", name=re.compile("Change password")).click()
        page.wait_for_url(f"{world.url}/sso/roles")
    finally:
        world.iam.delete_account_password_policy()


def test_tessera_login_with_an_iam_user(world: World, page: Any, home: Any) -> None:
    password = world.user("pw-ivy", assume=["pw-dev"])
    cli = login(home, "--profile", "ivy", "--url", world.url)
    url = cli.url()
    assert url.startswith(f"{world.url}/sso/start?cli_port=")
    page.goto(url)
    page.get_by_role("link", name="Sign in as an IAM user").click()
    page.wait_for_url(re.compile(r".*/sso/iam\?cli_challenge=.*"))
    page.fill("#iam-user", "pw-ivy")
    page.fill("#iam-password", password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{world.url}/sso/roles")
    page.locator("li", has=page.locator(".name", has_text="pw-dev")).locator("button[type=submit]").click()
    page.wait_for_url(re.compile(r"http://127\.0\.0\.1:\d+/callback\?code=[A-Za-z0-9_-]{43}$"))
    code, out, err = cli.finish()
    assert code == 0, err
    session = boto3.Session(profile_name="ivy")
    arn = session.client("sts", endpoint_url=world.url, region_name=REGION).get_caller_identity()["Arn"]
    assert arn == f"arn:aws:sts::{ACCOUNT}:assumed-role/pw-dev/pw-ivy"
    saved = json.loads((home / ".aws" / "tessera" / "ivy.json").read_text())
    with httpx.Client(base_url=world.url, timeout=30) as http:  # renewals take the picker's path again
        renewed = http.post("/sso/cli/refresh", data={"refresh_token": saved["refresh_token"]})
        assert renewed.status_code == 200, renewed.text
        world.iam.delete_user_policy(UserName="pw-ivy", PolicyName="assume")  # no longer allowed: no renewal
        refused = http.post("/sso/cli/refresh", data={"refresh_token": renewed.json()["refresh_token"]})
        assert refused.status_code >= 400 and "AccessKeyId" not in refused.text


# ---- slowing down failed sign-ins ----
def form_token(http: httpx.Client) -> str:
    page = http.get("/sso/iam")
    assert page.status_code == 200
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found
    return found.group(1)


def post_password(http: httpx.Client, user: str, password: str, source: str,
                  token: str | None = None) -> tuple[int, str, str | None]:
    token = token or form_token(http)
    r = http.post("/sso/iam", data={"csrf": token, "username": user, "password": password},
                  headers={"X-Forwarded-For": source})
    return r.status_code, r.text, r.headers.get("retry-after")


def parallel(world: World, attempts: list[tuple[str, str]], source: str) -> list[tuple[int, str, str | None]]:
    """The attempts at once, from one browser session (one cookie and CSRF token) and one address."""
    with httpx.Client(base_url=world.url, timeout=60) as http:
        token = form_token(http)
        with ThreadPoolExecutor(len(attempts)) as pool:
            return list(pool.map(lambda a: post_password(http, a[0], a[1], source, token), attempts))


def test_parallel_wrong_passwords_for_one_user_are_slowed(world: World) -> None:
    password = world.user("pw-erin", assume=["pw-dev"])
    results = parallel(world, [("pw-erin", f"wrong-{i}") for i in range(20)], "198.51.100.1")
    statuses = sorted(status for status, _, _ in results)
    assert statuses == [401] * USER_LIMIT + [429] * (20 - USER_LIMIT)
    waits = [int(after) for status, _, after in results if status == 429 if after is not None]
    assert len(waits) == 20 - USER_LIMIT and all(0 < w <= 900 for w in waits)
    # locked for the window: the right password too, from another address too
    with httpx.Client(base_url=world.url, timeout=30) as http:
        status, body, after = post_password(http, "pw-erin", password, "198.51.100.2")
    assert status == 429 and after is not None and "Too many failed sign-in attempts" in body


def test_parallel_wrong_passwords_from_one_address_are_slowed(world: World) -> None:
    n = SOURCE_LIMIT + 10
    results = parallel(world, [(f"pw-spray-{i}", "Spray-9!password") for i in range(n)], "203.0.113.9")
    statuses = sorted(status for status, _, _ in results)
    assert statuses == [401] * SOURCE_LIMIT + [429] * 10
    assert all(after is not None and int(after) > 0 for status, _, after in results if status == 429)
    password = world.user("pw-frank", assume=["pw-dev"])
    with httpx.Client(base_url=world.url, timeout=30) as http:  # that address is refused, others are not
        assert post_password(http, "pw-frank", password, "203.0.113.9")[0] == 429
        assert post_password(http, "pw-frank", password, "203.0.113.10")[0] == 303


def test_a_success_resets_the_users_counter(world: World) -> None:
    password = world.user("pw-gina", assume=["pw-dev"])
    with httpx.Client(base_url=world.url, timeout=30) as http:
        for _ in range(USER_LIMIT - 1):
            assert post_password(http, "pw-gina", "nope", "192.0.2.50")[0] == 401
        assert post_password(http, "pw-gina", password, "192.0.2.50")[0] == 303
        for _ in range(USER_LIMIT):  # a fresh window: all of them are checked (and fail) again
            assert post_password(http, "pw-gina", "nope", "192.0.2.51")[0] == 401
        assert post_password(http, "pw-gina", "nope", "192.0.2.51")[0] == 429


def test_forged_and_cross_site_posts_are_refused(world: World) -> None:
    password = world.user("pw-hank", assume=["pw-dev"])
    with httpx.Client(base_url=world.url, timeout=30) as http:
        form_token(http)
        r = http.post("/sso/iam", data={"csrf": "x" * 43, "username": "pw-hank", "password": password})
        assert r.status_code == 403 and "security token" in r.text
        token = form_token(http)
        r = http.post("/sso/iam", data={"csrf": token, "username": "pw-hank", "password": password},
                      headers={"Sec-Fetch-Site": "cross-site"})
        assert r.status_code == 403 and "another site" in r.text
        r = http.post("/sso/iam", content=b"\xff\xfe", headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert r.status_code == 400
        r = http.post("/sso/iam/mfa", data={"csrf": token, "code": "123456"})
        assert r.status_code == 403 and "expired" in r.text  # no pending step behind this cookie


def test_password_never_in_redis_nor_in_the_log(world: World) -> None:
    assert len(world.passwords) >= 5
    r = redis.Redis.from_url(DB)
    blobs: list[bytes] = []
    for key in r.scan_iter(count=1000):
        kind = r.type(key)
        if kind == b"string":
            blobs.append(r.get(key) or b"")
        elif kind == b"hash":
            blobs.extend(k + b"=" + v for k, v in r.hgetall(key).items())
        elif kind in (b"set", b"zset"):
            blobs.extend(r.smembers(key) if kind == b"set" else r.zrange(key, 0, -1))
        elif kind == b"list":
            blobs.extend(r.lrange(key, 0, -1))
        blobs.append(key)
    everything = b"\n".join(blobs)
    log = world.server.log()
    for password in world.passwords:
        assert password.encode() not in everything
        assert password not in log
    assert '"SignIn"' in log.replace(" ", "") or "SignIn" in log  # the sign-ins were audited


def test_hostile_input_gets_4xx_never_5xx(world: World) -> None:
    with httpx.Client(base_url=world.url, timeout=30) as http:
        token = form_token(http)
        form = "application/x-www-form-urlencoded"
        cases: list[tuple[str, dict[str, Any]]] = [
            ("/sso/iam", {"content": b"a=" + b"x" * 20000, "headers": {"Content-Type": form}}),
            ("/sso/iam", {"content": "&".join(f"f{i}=1" for i in range(50)).encode(), "headers": {"Content-Type": form}}),
            ("/sso/iam", {"content": f"csrf={token}&username=a&username=b".encode(), "headers": {"Content-Type": form}}),
            ("/sso/iam", {"json": {"username": "a", "password": "b"}}),
            ("/sso/iam", {"data": {"csrf": token, "username": "\u0000" * 64, "password": "p"}}),
            ("/sso/iam", {"data": {"csrf": token, "username": "a" * 5000, "password": "p" * 5000}}),
            ("/sso/iam", {"data": {"csrf": token, "username": "x", "password": "y", "cli_port": "80",
                                   "cli_challenge": "z"}}),
            ("/sso/iam/password", {"data": {"csrf": token, "old_password": "a", "new_password": "b",
                                            "confirm_password": "b"}}),
            ("/sso/iam/mfa", {"content": b"\xff", "headers": {"Content-Type": form}}),
        ]
        for path, kw in cases:
            r = http.post(path, headers={"X-Forwarded-For": "192.0.2.200", **kw.pop("headers", {})}, **kw)
            assert 400 <= r.status_code < 500, (path, r.status_code)
        for query in ("?cli_port=1&cli_challenge=x", "?next=//evil.example", "?" + "a=1&" * 100):
            assert 200 <= http.get("/sso/iam" + query).status_code < 500


def test_hostile_input_at_a_pending_step_gets_4xx_never_5xx(world: World) -> None:
    """With a step pending behind the cookie, so that the MFA check and ChangePassword see the
    bodies: non-UTF-8, repeated, missing, oversized and out-of-range fields are each a 4xx, and
    the step stays usable (the right code and a good password still finish the sign-in)."""
    password = world.user("pw-mona", reset=True, assume=["pw-dev"])
    world.iam.put_user_policy(UserName="pw-mona", PolicyName="change", PolicyDocument=allow(
        "iam:ChangePassword", f"arn:aws:iam::{ACCOUNT}:user/pw-mona"))
    seed = world.mfa("pw-mona")
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    with httpx.Client(base_url=world.url, timeout=30) as http:
        step = http.post("/sso/iam", data={"csrf": form_token(http), "username": "pw-mona", "password": password},
                         headers={"X-Forwarded-For": "192.0.2.100"})
        assert step.status_code == 200 and "Multi-factor authentication" in step.text
        found = re.search(r'name="csrf" value="([^"]+)"', step.text)
        assert found
        csrf = found.group(1).encode()
        for body in (b"&code=%FF%FE%FD%FC%FB%FA", b"&code=" + b"9" * 5000, b"&code=1&code=2", b"&code=%00" * 6, b"",
                     b"&code=\xff"):
            r = http.post("/sso/iam/mfa", content=b"csrf=" + csrf + body, headers=form)
            assert 400 <= r.status_code < 500, (body[:20], r.status_code)
        step = http.post("/sso/iam/mfa", data={"csrf": csrf.decode(), "code": totp.code_at(seed, totp.step_of(time.time()))})
        assert step.status_code == 200 and "Set a new password" in step.text
        found = re.search(r'name="csrf" value="([^"]+)"', step.text)
        assert found
        csrf = found.group(1).encode()
        for body in (b"", b"&old_password=x&new_password=%FF%FE&confirm_password=%FF%FE",
                     b"&old_password=x&old_password=y&new_password=a&confirm_password=a",
                     b"&old_password=" + password.encode() + b"&new_password=Aa1!%00%00%00%00&confirm_password=Aa1!%00%00%00%00",
                     b"&old_password=" + password.encode() + b"&new_password=Aa1!%E5%AF%86%E5%AF%86&confirm_password=Aa1!%E5%AF%86%E5%AF%86",
                     b"&old_password=" + b"p" * 2000 + b"&new_password=" + b"n" * 2000 + b"&confirm_password=" + b"n" * 2000,
                     b"&old_password=\xff&new_password=\xff&confirm_password=\xff"):
            r = http.post("/sso/iam/password", content=b"csrf=" + csrf + body, headers=form)
            assert 400 <= r.status_code < 500, (body[:40], r.status_code)
        new = secret("pw-mona-new")
        done = http.post("/sso/iam/password", data={"csrf": csrf.decode(), "old_password": password, "new_password": new,
                                                    "confirm_password": new})
        assert done.status_code == 303 and done.headers["location"] == "/sso/roles"


def audit_events(world: World, name: str) -> list[dict[str, Any]]:
    """The server's audit records named `name` (the log is written asynchronously)."""
    time.sleep(0.3)
    out = []
    for text in world.server.log().splitlines():
        if '"audit"' in text and f'"{name}"' in text:
            line = json.loads(text)
            record = line.get("audit", line)
            if isinstance(record, dict) and record.get("eventName") == name:
                out.append(record)
    return out


def test_each_outcome_is_audited_without_the_password(world: World) -> None:
    password = world.user("pw-jack", assume=["pw-dev"])
    with httpx.Client(base_url=world.url, timeout=30) as http:
        assert post_password(http, "pw-jack", password + "-wrong", "192.0.2.70")[0] == 401
        assert post_password(http, password, "whatever", "192.0.2.70")[0] == 401  # a password typed as the name
        assert post_password(http, "pw-jack", password, "192.0.2.70")[0] == 303
    events = [e for e in audit_events(world, "SignIn") if e["sourceIPAddress"] == "192.0.2.70"]
    assert [(e["outcome"], e.get("reason")) for e in events] == [
        ("error", "sso_password_password_wrong"), ("error", "sso_password_user_unknown"), ("success", None)]
    assert events[0]["requestParameters"]["userName"] == "pw-jack"
    assert events[1]["requestParameters"]["userName"] == "HIDDEN_DUE_TO_SECURITY_REASONS"
    assert events[2]["userIdentity"]["type"] == "IAMUser" and events[2]["userIdentity"]["userName"] == "pw-jack"
    assert password not in json.dumps(events)


def test_a_user_deleted_and_made_again_loses_the_sign_in(world: World) -> None:
    password = world.user("pw-kate", assume=["pw-dev"])
    with httpx.Client(base_url=world.url, timeout=30) as http:
        token = form_token(http)
        r = http.post("/sso/iam", data={"csrf": token, "username": "pw-kate", "password": password},
                      headers={"X-Forwarded-For": "192.0.2.80"})
        assert r.status_code == 303 and r.headers["location"] == "/sso/roles"
        roles = http.get("/sso/roles")
        assert roles.status_code == 200 and ">pw-dev<" in roles.text
        world.iam.delete_login_profile(UserName="pw-kate")
        world.iam.delete_user_policy(UserName="pw-kate", PolicyName="assume")
        world.iam.delete_user(UserName="pw-kate")
        world.user("pw-kate", assume=["pw-dev"])  # the same name, another user
        gone = http.get("/sso/roles")
        assert gone.status_code == 403 and "no longer valid" in gone.text
        csrf = re.search(r'name="csrf" value="([^"]+)"', roles.text)
        assert csrf
        chosen = http.post("/sso/roles", data={"csrf": csrf.group(1), "role_arn": f"arn:aws:iam::{ACCOUNT}:role/pw-dev"})
        assert chosen.status_code == 403 and "AWS_SECRET_ACCESS_KEY" not in chosen.text


def test_mfa_age_counts_from_the_sign_in(world: World) -> None:
    """aws:MultiFactorAuthAge of a role choice is the time since the code was given at sign-in (as
    for a console session), not 0: a trust policy wanting a code at least 2 s old admits the user
    once 2 s have passed, which it never would if every choice counted as a fresh code."""
    world.role("pw-mfa-aged", role_trust({"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, {
        "Bool": {"aws:MultiFactorAuthPresent": "true"}, "NumericGreaterThanEquals": {"aws:MultiFactorAuthAge": "2"}}))
    password = world.user("pw-lena", assume=["pw-mfa-aged", "pw-mfa"])
    seed = world.mfa("pw-lena")
    with httpx.Client(base_url=world.url, timeout=30) as http:
        token = form_token(http)
        step = http.post("/sso/iam", data={"csrf": token, "username": "pw-lena", "password": password},
                         headers={"X-Forwarded-For": "192.0.2.90"})
        assert step.status_code == 200 and "Multi-factor authentication" in step.text
        csrf = re.search(r'name="csrf" value="([^"]+)"', step.text)
        assert csrf
        done = http.post("/sso/iam/mfa", data={"csrf": csrf.group(1), "code": totp.code_at(seed, totp.step_of(time.time()))})
        assert done.status_code == 303
        time.sleep(2.5)
        roles = http.get("/sso/roles")
        assert ">pw-mfa-aged<" in roles.text and ">pw-mfa<" in roles.text
        csrf = re.search(r'name="csrf" value="([^"]+)"', roles.text)
        assert csrf
        page = http.post("/sso/roles", data={"csrf": csrf.group(1), "role_arn": f"arn:aws:iam::{ACCOUNT}:role/pw-mfa-aged"})
        assert page.status_code == 200 and "AWS_SESSION_TOKEN" in page.text
