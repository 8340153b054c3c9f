"""The endpoints of `tessera login` (app.sso.cli_routes) in process, on a real Redis (db 0): the
loopback handoff, refresh grants, the device-code flow and its pages, /sso/start; the picker is
played by app.sso.handoff.CliHandoff (what the role choice calls) and minting by a stub."""
from __future__ import annotations

import re
import time
import urllib.parse
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import pytest_asyncio
import redis.asyncio as aioredis
from starlette.applications import Starlette

from app.core import errors
from app.core.clock import Clock
from app.core.records import Call, Credentials
from app.services.sso import CliRequest
from app.sso.cli_routes import CliDeps, routes
from app.sso.handoff import CliHandoff, issue_handoff, s256
from app.store.cli_refresh import RefreshGrants
from app.store.device_grants import DeviceGrants
from app.store.keys import Keys
from app.store.secretbox import SecretBox
from app.store.sso_state import SsoState
from tests.redis_target import redis_url

URL = redis_url(3)  # never db 0 (where a Tessera on this Redis keeps its data by default); unit modules run one at a time and flush
BOX = SecretBox(b"c" * 32)
PUBLIC = "http://127.0.0.1:8080"
ROLE = "arn:aws:iam::123456789012:role/team/dev"
VERIFIER = "x" * 64
HANDLE = "h" * 43


@dataclass
class SignIn:
    expires_at: float
    cli: CliRequest | None = None


@dataclass
class Choice:
    label: str
    protocol: str
    url: str


class Minter:
    """Fresh credentials per call while the sign-in lives; `refuse` makes the role refused."""

    def __init__(self) -> None:
        self.ended = False
        self.refuse = False
        self.calls: list[tuple[str, str]] = []

    async def mint(self, call: Call, signin_handle: str, role_arn: str) -> Credentials | None:
        self.calls.append((signin_handle, role_arn))
        if self.ended:
            return None
        if self.refuse:
            raise errors.AccessDenied("Not authorized to perform sts:AssumeRoleWithSAML", reason="trust_denied")
        n = len(self.calls)
        return Credentials(f"ASIAREFRESHED{n:07d}", "s" * 40, f"token-{n}", time.time() + 900)


class Recorder:
    def __init__(self) -> None:
        self.outcomes: list[Any] = []

    def record(self, outcome: Any) -> None:
        self.outcomes.append(outcome)


@dataclass
class Env:
    http: httpx.AsyncClient
    state: SsoState
    minter: Minter
    recorder: Recorder
    redis: aioredis.Redis


@pytest_asyncio.fixture(loop_scope="function")
async def env(redis: aioredis.Redis) -> AsyncIterator[Env]:
    minter, recorder = Minter(), Recorder()
    state = SsoState(redis, BOX, Keys("123456789012"))

    async def choices() -> list[Choice]:
        return [Choice("DemoIdP", "SAML", "/sso/saml/DemoIdP/login"), Choice("Corp", "OpenID Connect",
                                                                             "/sso/oidc/corp/login")]

    deps = CliDeps(handoffs=state, refresh=RefreshGrants(redis, BOX), devices=DeviceGrants(redis, BOX),
                   minter=minter, recorder=recorder, clock=Clock(), public_url=PUBLIC, secure_cookies=False,
                   choices=choices)
    app = Starlette(routes=routes(deps))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=("203.0.113.9", 4000)),
                                 base_url=PUBLIC) as http:
        yield Env(http, state, minter, recorder, redis)


def creds(n: int = 0) -> Credentials:
    return Credentials(f"ASIAHANDOFF{n:09d}", "S" * 40, "session-token", time.time() + 3600)


async def handoff(env: Env, *, signin_end: float | None = None, now: float | None = None) -> str:
    signin = SignIn(time.time() + 3600 if signin_end is None else signin_end)
    return await issue_handoff(env.state, creds(), s256(VERIFIER), signin, handle=HANDLE, role_arn=ROLE, now=now)


async def token(env: Env, code: str, verifier: str = VERIFIER) -> httpx.Response:
    return await env.http.post("/sso/cli/token", data={"code": code, "verifier": verifier})


async def refresh(env: Env, refresh_token: str) -> httpx.Response:
    return await env.http.post("/sso/cli/refresh", data={"refresh_token": refresh_token})


# ---- the loopback handoff ----
async def test_a_handoff_code_gives_credentials_and_a_refresh_grant_once(env: Env):
    code = await handoff(env)
    first = await token(env, code)
    assert first.status_code == 200 and first.headers["cache-control"] == "no-store"
    body = first.json()
    assert body["credentials"]["AccessKeyId"] == creds().access_key_id
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", body["credentials"]["Expiration"])
    assert body["role_arn"] == ROLE and body["refresh_token"].startswith("tsr_")
    again = await token(env, code)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    assert [o.error.reason if o.error else None for o in env.recorder.outcomes] == [None, "handoff_code_unknown"]
    assert "S" * 40 not in repr(env.recorder.outcomes[0].params)


async def test_a_wrong_verifier_spends_the_code(env: Env):
    code = await handoff(env)
    wrong = await token(env, code, "y" * 64)
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"
    late = await token(env, code)
    assert late.status_code == 400
    assert [o.error.reason for o in env.recorder.outcomes] == ["handoff_verifier_mismatch", "handoff_code_unknown"]


async def test_an_expired_code_is_refused(env: Env):
    code = await handoff(env, now=time.time() - 61)  # stored with an expiry already past
    answer = await token(env, code)
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_grant"


async def test_no_refresh_grant_outlives_its_sign_in(env: Env):
    code = await handoff(env, signin_end=time.time() - 1)
    body = (await token(env, code)).json()
    assert "refresh_token" not in body and body["credentials"]["AccessKeyId"]


async def test_secrets_never_lie_in_redis_in_plaintext(env: Env):
    code = await handoff(env)
    body = (await token(env, code)).json()
    dump = []
    for key in await env.redis.keys("*"):
        kind = await env.redis.type(key)
        value = await (env.redis.hgetall(key) if kind == "hash" else env.redis.get(key))
        dump.append(f"{key} {value}")
    text = "\n".join(dump)
    secret = body["refresh_token"].split(".")[1]
    assert text and secret not in text and HANDLE not in text and code not in text


# ---- refresh grants ----
async def test_refresh_rotates_and_a_reused_token_revokes_the_grant(env: Env):
    first = (await token(env, await handoff(env))).json()["refresh_token"]
    renewed = await refresh(env, first)
    assert renewed.status_code == 200
    body = renewed.json()
    assert body["credentials"]["AccessKeyId"] == "ASIAREFRESHED0000001" and body["role_arn"] == ROLE
    second = body["refresh_token"]
    assert second != first and second.split(".")[0] == first.split(".")[0]
    assert env.minter.calls == [(HANDLE, ROLE)]
    replay = await refresh(env, first)
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
    assert "already used" in replay.json()["error_description"]
    revoked = await refresh(env, second)  # the legitimate holder must sign in again too
    assert revoked.status_code == 400
    assert [o.error.reason for o in env.recorder.outcomes[-2:]] == ["refresh_token_reused", "refresh_token_unknown"]
    assert len(env.minter.calls) == 1


async def test_refresh_ends_with_the_sign_in(env: Env):
    grant = (await token(env, await handoff(env))).json()["refresh_token"]
    env.minter.ended = True  # signed out, or the record expired
    ended = await refresh(env, grant)
    assert ended.status_code == 400 and "sign-in has ended" in ended.json()["error_description"]
    env.minter.ended = False
    assert (await refresh(env, grant)).status_code == 400  # revoked for good


async def test_a_refused_role_keeps_the_grant(env: Env):
    grant = (await token(env, await handoff(env))).json()["refresh_token"]
    env.minter.refuse = True
    refused = await refresh(env, grant)
    assert refused.status_code == 403 and refused.json()["error"] == "access_denied"
    env.minter.refuse = False
    assert (await refresh(env, grant)).status_code == 200


@pytest.mark.parametrize("value", ["", "tsr_", "tsr_" + "a" * 22 + "." + "b" * 43 + "c", "x" * 5000,
                                   "tsr_" + "a" * 22 + ".\u00e9" + "b" * 42])
async def test_malformed_refresh_tokens(env: Env, value: str):
    answer = await refresh(env, value)
    assert answer.status_code in (400, 413) and answer.json()["error"] in ("invalid_grant", "invalid_request")


# ---- hostile bodies ----
@pytest.mark.parametrize("body", [b"code=a&code=b", b"\xff\xfe", b"a=" + b"x" * 5000, b"%zz=1&" * 20])
@pytest.mark.parametrize("path", ["/sso/cli/token", "/sso/cli/refresh", "/sso/device/code", "/sso/device/token"])
async def test_hostile_bodies_get_4xx(env: Env, path: str, body: bytes):
    answer = await env.http.post(path, content=body, headers={"content-type": "application/x-www-form-urlencoded"})
    assert 400 <= answer.status_code < 500, answer.text
    assert "error" in answer.json()


# ---- the device-code flow ----
async def start_device(env: Env) -> dict[str, Any]:
    answer = await env.http.post("/sso/device/code")
    assert answer.status_code == 200
    return dict(answer.json())


async def poll(env: Env, device_code: str) -> httpx.Response:
    return await env.http.post("/sso/device/token", data={"device_code": device_code})


async def enter(env: Env, user_code: str, **headers: str) -> httpx.Response:
    page = await env.http.get("/sso/device")
    assert page.status_code == 200 and "default-src 'none'" in page.headers["content-security-policy"]
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    return await env.http.post("/sso/device", data={"csrf": csrf, "user_code": user_code}, headers=headers)


def continue_url(page: httpx.Response) -> str:
    return re.search(r'href="(/sso/start\?[^"]+)"', page.text).group(1).replace("&amp;", "&")  # type: ignore[union-attr]


async def test_device_flow_from_code_to_credentials(env: Env):
    start = await start_device(env)
    assert re.fullmatch(r"[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}", start["user_code"])
    assert start["verification_uri"] == f"{PUBLIC}/sso/device" and start["interval"] == 5
    assert start["expires_in"] == 600
    pending = await poll(env, start["device_code"])
    assert pending.status_code == 400 and pending.json()["error"] == "authorization_pending"
    fast = await poll(env, start["device_code"])  # sooner than the interval
    assert fast.json()["error"] == "slow_down"
    confirm = await enter(env, start["user_code"].lower().replace("-", " "))
    assert confirm.status_code == 200 and "Code accepted" in confirm.text
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(continue_url(confirm)).query))
    assert set(query) == {"cli_device", "cli_challenge"}
    # the person signs in and picks a role: the picker hands off as for a loopback CLI
    signin = SignIn(time.time() + 3600, CliRequest(None, query["cli_challenge"], query["cli_device"]))
    target = await CliHandoff(env.state).deliver(signin, {"credentials": creds(7)}, handle=HANDLE, role_arn=ROLE)
    assert target.startswith("/sso/device/complete?")
    done = await env.http.get(target)
    assert done.status_code == 200 and "Your terminal is signed in" in done.text
    assert "S" * 40 not in done.text
    delivered = await poll(env, start["device_code"])
    assert delivered.status_code == 200
    body = delivered.json()
    assert body["credentials"]["AccessKeyId"] == creds(7).access_key_id and body["role_arn"] == ROLE
    assert (await refresh(env, body["refresh_token"])).status_code == 200
    used = await poll(env, start["device_code"])
    assert used.status_code == 400 and used.json()["error"] == "invalid_grant"
    again = await env.http.get(target)  # the handoff code was spent
    assert again.status_code == 400


async def test_a_denied_device_gets_access_denied_for_good(env: Env):
    start = await start_device(env)
    confirm = await enter(env, start["user_code"])
    csrf = re.search(r'name="csrf" value="([^"]+)"', confirm.text).group(1)  # type: ignore[union-attr]
    device = re.search(r'name="device" value="([^"]+)"', confirm.text).group(1)  # type: ignore[union-attr]
    denied = await env.http.post("/sso/device/deny", data={"csrf": csrf, "device": device})
    assert denied.status_code == 200 and "Request denied" in denied.text
    for _ in range(2):
        answer = await poll(env, start["device_code"])
        assert answer.status_code == 400 and answer.json()["error"] == "access_denied"
    # nor can the sign-in finish afterwards
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(continue_url(confirm)).query))
    signin = SignIn(time.time() + 3600, CliRequest(None, query["cli_challenge"], query["cli_device"]))
    target = await CliHandoff(env.state).deliver(signin, {"credentials": creds()}, handle=HANDLE, role_arn=ROLE)
    assert (await env.http.get(target)).status_code == 400
    assert (await poll(env, start["device_code"])).json()["error"] == "access_denied"


async def test_user_codes_cannot_be_walked(env: Env):
    start = await start_device(env)
    for _ in range(10):
        wrong = await enter(env, "BBBB-BBBB")
        assert wrong.status_code == 400 and "not valid" in wrong.text
    blocked = await enter(env, start["user_code"])  # even the right code, from this address
    assert blocked.status_code == 429 and "too many" in blocked.text.lower()
    assert env.recorder.outcomes[-1].error.reason == "device_user_code_rate_limited"
    assert (await poll(env, start["device_code"])).json()["error"] == "authorization_pending"


async def test_a_user_code_is_accepted_once(env: Env):
    start = await start_device(env)
    assert (await enter(env, start["user_code"])).status_code == 200
    page = await enter(env, start["user_code"])
    assert page.status_code == 200 and "Code accepted" in page.text  # still pending: a new sign-in may start
    signin_query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(continue_url(page)).query))
    signin = SignIn(time.time() + 3600, CliRequest(None, signin_query["cli_challenge"], signin_query["cli_device"]))
    target = await CliHandoff(env.state).deliver(signin, {"credentials": creds()}, handle=HANDLE, role_arn=ROLE)
    assert (await env.http.get(target)).status_code == 200
    finished = await enter(env, start["user_code"])
    assert finished.status_code == 400


async def test_device_forms_need_their_csrf_token_and_this_origin(env: Env):
    start = await start_device(env)
    no_token = await env.http.post("/sso/device", data={"user_code": start["user_code"]})
    assert no_token.status_code == 403
    cross = await enter(env, start["user_code"], origin="https://evil.example")
    assert cross.status_code == 403
    assert (await poll(env, start["device_code"])).json()["error"] == "authorization_pending"


@pytest.mark.parametrize("device_code,error", [("", "invalid_grant"), ("a" * 43, "expired_token"),
                                               ("../" * 20, "invalid_grant")])
async def test_unknown_device_codes(env: Env, device_code: str, error: str):
    answer = await poll(env, device_code)
    assert answer.status_code == 400 and answer.json()["error"] == error


@pytest.mark.parametrize("query", ["", "?device=x&code=y", "?device=" + "a" * 43 + "&code=" + "b" * 43,
                                   "?device=%00&code=%ff"])
async def test_device_complete_with_nothing_valid(env: Env, query: str):
    answer = await env.http.get(f"/sso/device/complete{query}")
    assert answer.status_code == 400 and "could not be completed" in answer.text


# ---- /sso/start ----
async def test_start_goes_to_the_provider_with_the_binding(env: Env):
    challenge = s256(VERIFIER)
    answer = await env.http.get("/sso/start", params={"provider": "DemoIdP", "cli_port": "50123",
                                                      "cli_challenge": challenge})
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/sso/saml/DemoIdP/login?cli_challenge={challenge}&cli_port=50123"
    oidc = await env.http.get("/sso/start", params={"provider": "corp"})
    assert oidc.headers["location"] == "/sso/oidc/corp/login"


async def test_start_without_provider_lists_the_choices_with_the_binding(env: Env):
    challenge = s256(VERIFIER)
    answer = await env.http.get("/sso/start", params={"cli_port": "50123", "cli_challenge": challenge})
    assert answer.status_code == 200
    assert f"/sso/oidc/corp/login?cli_challenge={challenge}&amp;cli_port=50123" in answer.text


@pytest.mark.parametrize("params,status", [
    ({"provider": "nope"}, 404),
    ({"cli_port": "80", "cli_challenge": "x" * 43}, 400),
    ({"cli_port": "50123"}, 400),
    ({"provider": "x" * 500}, 400),
    ({"cli_port": "50123", "cli_challenge": "c" * 43, "cli_device": "d" * 43}, 400),
])
async def test_start_refuses_what_it_cannot_use(env: Env, params: dict[str, str], status: int):
    answer = await env.http.get("/sso/start", params=params)
    assert answer.status_code == status
