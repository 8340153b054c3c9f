"""Browser sign-in refusals against the real server (httpx, no browser needed): forged and
replayed SAML posts (the replay mark shared with AssumeRoleWithSAML both ways), a reused or
invented InResponseTo, a wrong `state`, a login finished in another browser, PKCE at the test OP,
a cookie of another sign-in, cross-site posts and posts without the CSRF token, open redirects
through RelayState and `next`, the pages' headers, the SP metadata, session limits, sign-out, and
the audit trail's precise reasons."""
from __future__ import annotations

import base64
import hashlib
import json
import re
import time
import urllib.parse
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError

from idp_fixtures.saml import attacks
from idp_fixtures.saml.idp import DemoIdP

from .conftest import client
from .sso_env import PROVIDER_ARN, SsoEnv, authn_request_id, cookie_header, csrf_of, exports, role_arn, start


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SsoEnv]:
    world = start(str(tmp_path_factory.mktemp("sso-security")))
    yield world
    world.stop()


@pytest.fixture
def http(env: SsoEnv) -> Iterator[httpx.Client]:
    with env.http() as c:
        yield c


def post_saml(http: httpx.Client, response: str, relay: str | None = None) -> httpx.Response:
    form = {"SAMLResponse": response, **({"RelayState": relay} if relay is not None else {})}
    got = http.post("/saml", data=form)
    http.cookies.clear()  # each sign-in stands for its own browser: cookies are sent explicitly
    return got


def signed_in(env: SsoEnv, http: httpx.Client, **kw: Any) -> tuple[str, str]:
    """A fresh IdP-initiated sign-in: (its cookie header, its CSRF token)."""
    got = post_saml(http, env.saml_response(**kw))
    assert got.status_code == 303, got.text
    cookie = cookie_header(got)
    page = http.get("/sso/roles", headers={"Cookie": cookie})
    assert page.status_code == 200
    return cookie, csrf_of(page.text)


def audited(env: SsoEnv, reason: str) -> bool:
    deadline = time.time() + 5
    while time.time() < deadline:
        if f'"reason":"{reason}"' in env.server.log():
            return True
        time.sleep(0.05)
    return False


def browser_choice(env: SsoEnv, access_key_id: str) -> dict[str, Any]:
    """The audit record of the role choice that minted `access_key_id`."""
    deadline = time.time() + 5
    while time.time() < deadline:
        for text in env.server.log().splitlines():
            if access_key_id in text and '"eventName":"AssumeRoleWithSAML"' in text:
                return dict(json.loads(text))
        time.sleep(0.05)
    raise AssertionError(f"no AssumeRoleWithSAML record for {access_key_id}")


def refused(response: httpx.Response, status: int = 400) -> None:
    assert response.status_code == status, response.text[:500]
    assert not any(v.startswith("tessera_sso=") and "Max-Age=0" not in v
                   for v in response.headers.get_list("set-cookie"))


# ---- SAML ----
def test_forged_saml_responses_are_refused(env: SsoEnv, http: httpx.Client) -> None:
    acs = f"{env.url}/saml"
    stranger = DemoIdP(key_name="attacker").response(recipient=acs, audience=acs, roles=env.saml.roles,
                                                     session_name="mallory")
    refused(post_saml(http, stranger))
    assert audited(env, "saml_signature_invalid")
    target = attacks.Target(recipient=acs, audience=acs, now=time.time())
    for wrapping in (attacks.xsw1, attacks.xsw2, attacks.xsw3, attacks.xsw4, attacks.xsw5, attacks.xsw6,
                     attacks.xsw7, attacks.xsw8):  # XML signature wrapping
        refused(post_saml(http, wrapping(target)))
    refused(post_saml(http, base64.b64encode(b"<x/>").decode()))
    refused(post_saml(http, "not base64 !"))
    refused(http.post("/saml", data={"RelayState": "/sso/roles"}))
    refused(http.post("/saml", content=b"SAMLResponse=" + b"A" * (500 * 1024),
                      headers={"Content-Type": "application/x-www-form-urlencoded"}), 413)


def test_a_response_is_redeemed_once_in_the_browser_or_the_api(env: SsoEnv, http: httpx.Client) -> None:
    response = env.saml_response()
    assert post_saml(http, response).status_code == 303
    refused(post_saml(http, response))  # replayed to the browser endpoint
    assert audited(env, "saml_replay")
    sts = client(env.server, "sts", "AKIAUNUSEDUNUSED0000", "unused")
    with pytest.raises(ClientError) as exc:  # ... and to the API
        sts.assume_role_with_saml(RoleArn=role_arn("sso-admin"), PrincipalArn=PROVIDER_ARN, SAMLAssertion=response)
    assert exc.value.response["Error"]["Code"] == "InvalidIdentityToken"
    other = env.saml_response()
    sts.assume_role_with_saml(RoleArn=role_arn("sso-admin"), PrincipalArn=PROVIDER_ARN, SAMLAssertion=other)
    refused(post_saml(http, other))  # redeemed by the API first: the browser refuses it


def test_in_response_to_is_checked_against_the_request_sent_once(env: SsoEnv, http: httpx.Client) -> None:
    start_login = http.get("/sso/saml/BrowserIdP/login")
    assert start_login.status_code == 303 and start_login.headers["location"].startswith(env.saml.sso_url)
    request_id = authn_request_id(start_login.headers["location"])
    assert post_saml(http, env.saml_response(in_response_to=request_id)).status_code == 303
    refused(post_saml(http, env.saml_response(in_response_to=request_id)))  # a second answer to one request
    assert audited(env, "sso_saml_in_response_to_unknown")
    refused(post_saml(http, env.saml_response(in_response_to="_" + "ab" * 16)))  # never sent


def test_relay_state_never_redirects_off_site(env: SsoEnv, http: httpx.Client) -> None:
    for relay in ("https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:alert(1)",
                  "http://127.0.0.1:1/x", "/sso/roles\r\nX: y"):
        got = post_saml(http, env.saml_response(), relay)
        assert got.status_code == 303 and got.headers["location"] == "/sso/roles", relay
    assert post_saml(http, env.saml_response(), "/sso").headers["location"] == "/sso"  # a path of this service
    login = http.get("/sso/saml/BrowserIdP/login", params={"next": "https://evil.example/"})
    relay = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(login.headers["location"]).query))["RelayState"]
    assert relay == "/sso/roles"


def test_sp_metadata(env: SsoEnv, http: httpx.Client) -> None:
    got = http.get("/saml/metadata")
    assert got.status_code == 200 and got.headers["content-type"] == "application/samlmetadata+xml"
    assert "<!DOCTYPE" not in got.text and f'entityID="{env.url}/saml"' in got.text
    assert (f'<md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" '
            f'Location="{env.url}/saml"') in got.text
    assert got.headers["x-content-type-options"] == "nosniff"


def test_session_limits_of_the_assertion_are_honoured(env: SsoEnv, http: httpx.Client) -> None:
    now = time.time()
    cookie, csrf = signed_in(env, http, session_not_on_or_after=now + 600)
    page = http.post("/sso/roles", data={"csrf": csrf, "role_arn": role_arn("sso-admin"), "duration": "43200"},
                     headers={"Cookie": cookie})
    assert page.status_code == 200, page.text[:300]
    assert "(in 9 min)" in page.text or "(in 10 min)" in page.text  # capped by SessionNotOnOrAfter
    cookie, csrf = signed_in(env, http, session_duration=900)
    page = http.post("/sso/roles", data={"csrf": csrf, "role_arn": role_arn("sso-admin"), "duration": "43200"},
                     headers={"Cookie": cookie})
    assert "(in 14 min)" in page.text or "(in 15 min)" in page.text  # capped by SessionDuration
    refused(post_saml(http, env.saml_response(session_not_on_or_after=now + 30)))  # ends before it could be used
    assert audited(env, "sso_session_too_short")


# ---- the picker ----
def test_role_choice_needs_the_sign_ins_own_csrf_token(env: SsoEnv, http: httpx.Client) -> None:
    cookie_a, csrf_a = signed_in(env, http)
    cookie_b, csrf_b = signed_in(env, http)
    choice = {"role_arn": role_arn("sso-admin")}
    refused(http.post("/sso/roles", data=choice, headers={"Cookie": cookie_a}), 403)  # no token
    refused(http.post("/sso/roles", data={**choice, "csrf": csrf_b}, headers={"Cookie": cookie_a}), 403)  # B's
    assert audited(env, "sso_csrf_mismatch")
    cross = http.post("/sso/roles", data={**choice, "csrf": csrf_a},
                      headers={"Cookie": cookie_a, "Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"})
    refused(cross, 403)
    assert audited(env, "sso_cross_site_post")
    ok = http.post("/sso/roles", data={**choice, "csrf": csrf_a}, headers={"Cookie": cookie_a})
    assert ok.status_code == 200 and exports(ok.text)["AWS_ACCESS_KEY_ID"].startswith("ASIA")
    # recorded as the API's AssumeRoleWithSAML is, in CloudTrail's form, without the secrets
    keys = exports(ok.text)
    line = browser_choice(env, keys["AWS_ACCESS_KEY_ID"])
    assert line["requestParameters"] == {"channel": "browser", "roleArn": role_arn("sso-admin"),
                                         "principalArn": PROVIDER_ARN}
    elements = line["responseElements"]
    assert set(elements) == {"credentials", "assumedRoleUser"}
    assert set(elements["credentials"]) == {"accessKeyId", "expiration"}
    assert re.fullmatch(r"[A-Z][a-z]{2} \d{1,2}, \d{4} \d{1,2}:\d{2}:\d{2} [AP]M",
                        elements["credentials"]["expiration"])
    assert set(elements["assumedRoleUser"]) == {"assumedRoleId", "arn"}
    assert ":assumed-role/sso-admin/" in elements["assumedRoleUser"]["arn"]
    log = env.server.log()
    assert keys["AWS_SECRET_ACCESS_KEY"] not in log and keys["AWS_SESSION_TOKEN"] not in log


def test_a_cookie_is_bound_to_its_record(env: SsoEnv, http: httpx.Client) -> None:
    cookie, _ = signed_in(env, http)
    name, value = cookie.split("=", 1)
    handle, mac = value.split(".")
    forged = f"{name}={handle[:-1]}{'A' if handle[-1] != 'A' else 'B'}.{mac}"
    assert http.get("/sso/roles", headers={"Cookie": forged}).status_code == 401
    assert http.get("/sso/roles", headers={"Cookie": f"{name}={handle}.{mac[::-1]}"}).status_code == 401
    assert http.get("/sso/roles", headers={"Cookie": "tessera_sso_flow=" + value}).status_code == 401  # other cookie
    assert http.get("/sso/logout", headers={"Cookie": cookie}).status_code == 200
    assert http.get("/sso/roles", headers={"Cookie": cookie}).status_code == 401  # the record is gone
    assert audited(env, "sso_not_signed_in")


def test_pages_send_strict_headers(env: SsoEnv, http: httpx.Client) -> None:
    cookie, _ = signed_in(env, http)
    page = http.get("/sso/roles", headers={"Cookie": cookie})
    csp = page.headers["content-security-policy"]
    for part in ("default-src 'none'", "form-action 'self'", "frame-ancestors 'none'", "base-uri 'none'",
                 "script-src 'nonce-", "style-src 'nonce-"):
        assert part in csp
    assert page.headers["x-content-type-options"] == "nosniff" and page.headers["referrer-policy"] == "no-referrer"
    assert page.headers["cache-control"] == "no-store"
    got = post_saml(http, env.saml_response())
    assert "HttpOnly" in got.headers["set-cookie"] and "SameSite=Lax" in got.headers["set-cookie"]
    for bad in ("/sso/saml/BrowserIdP/login?cli_port=80&cli_challenge=" + "A" * 43,
                "/sso/saml/BrowserIdP/login?cli_port=5000&cli_challenge=short", "/sso/saml/Nobody/login",
                "/sso/oidc/nobody/login", "/sso/saml/BrowserIdP/login?next=1&next=2"):
        assert 400 <= http.get(bad).status_code < 500, bad


# ---- OIDC ----
def _oidc_start(env: SsoEnv, http: httpx.Client) -> tuple[str, dict[str, str]]:
    """Start a login: (the flow cookie, the authorization request's parameters)."""
    start_login = http.get("/sso/oidc/corp/login")
    http.cookies.clear()
    assert start_login.status_code == 303
    flow = next(v.split(";", 1)[0] for v in start_login.headers.get_list("set-cookie")
                if v.startswith("tessera_sso_flow="))
    return flow, dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(start_login.headers["location"]).query))


def _authorize(env: SsoEnv, params: dict[str, str]) -> dict[str, str]:
    got = httpx.get(f"{env.oidc.url}/authorize", params=params, follow_redirects=False)
    assert got.status_code == 302
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(got.headers["location"]).query))


def test_oidc_callback_refuses_a_wrong_state_or_another_browser(env: SsoEnv, http: httpx.Client) -> None:
    flow, params = _oidc_start(env, http)
    assert params["code_challenge_method"] == "S256" and params["nonce"] and params["state"]
    answer = _authorize(env, params)
    refused(http.get("/sso/oidc/callback", params={"code": answer["code"], "state": "wrong" + answer["state"]},
                     headers={"Cookie": flow}), 403)
    assert audited(env, "sso_oidc_state_unknown")
    flow2, params2 = _oidc_start(env, http)
    answer2 = _authorize(env, params2)
    refused(http.get("/sso/oidc/callback", params=answer2, headers={"Cookie": flow}), 403)  # the other login's cookie
    assert audited(env, "sso_oidc_flow_mismatch")
    flow3, params3 = _oidc_start(env, http)
    answer3 = _authorize(env, params3)
    ok = http.get("/sso/oidc/callback", params=answer3, headers={"Cookie": flow3})
    assert ok.status_code == 303 and ok.headers["location"] == "/sso/roles"
    refused(http.get("/sso/oidc/callback", params=answer3, headers={"Cookie": flow3}), 403)  # state used once
    refused(http.get("/sso/oidc/callback", params={"error": "access_denied", "state": "x"}), 403)


def test_pkce_verifier_is_required_at_the_op(env: SsoEnv, http: httpx.Client) -> None:
    """An intercepted code is useless without the verifier Tessera keeps: the test OP refuses a
    missing or wrong one (and the code is spent), so the happy paths prove Tessera sends it."""
    flow_cookie, params = _oidc_start(env, http)
    answer = _authorize(env, params)
    token_url = f"{env.oidc.url}/token"
    form = {"grant_type": "authorization_code", "code": answer["code"], "redirect_uri": params["redirect_uri"]}
    auth = ("tessera-demo", "corp-client-secret-0123456789")
    assert env.oidc.code_flow is not None
    assert httpx.post(token_url, data=form, auth=auth).status_code == 400
    assert env.oidc.code_flow.refusals[-1] == "pkce_missing"
    flow_cookie, params = _oidc_start(env, http)
    answer = _authorize(env, params)
    wrong = {**form, "code": answer["code"], "code_verifier": "x" * 64}
    assert httpx.post(token_url, data=wrong, auth=auth).status_code == 400
    assert env.oidc.code_flow.refusals[-1] == "pkce_mismatch"
    spent = http.get("/sso/oidc/callback", params=answer, headers={"Cookie": flow_cookie})
    refused(spent, 400)  # the code died with the wrong verifier: Tessera's exchange fails too
    assert audited(env, "sso_oidc_token_refused")
    challenge = base64.urlsafe_b64encode(hashlib.sha256(b"v" * 64).digest()).rstrip(b"=").decode()
    assert challenge != params["code_challenge"]  # each login has its own verifier
