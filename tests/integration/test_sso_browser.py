"""Browser sign-in end to end in a real headless browser: Playwright driving the system Chromium
(/usr/bin/chromium, Debian's package; .ci/run installs it; Playwright never downloads a browser).

IdP-initiated SAML, SP-initiated SAML and OIDC code + PKCE each end on the role picker, then the
credentials page, whose shell lines work with boto3. Screenshots of the picker (wide and phone)
and of the credentials page are saved under tests/artifacts/ (git-ignored)."""
from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from .browser import PHONE, browser, page, screenshot as shot  # noqa: F401 - fixtures
from .conftest import REGION
from .sso_env import SsoEnv, exports, role_arn, start


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SsoEnv]:
    world = start(str(tmp_path_factory.mktemp("sso-browser")))
    yield world
    world.stop()


def choose(page: Any, role_name: str) -> dict[str, str]:
    """Click the role's button on the picker; -> the credentials page's `export` lines."""
    page.locator("li", has=page.locator(".name", has_text=re.compile(f"^{role_name}$"))).locator(
        "button[type=submit]").click()
    page.wait_for_selector("#snip-shell")
    return exports(page.locator("#snip-shell").inner_text())


def works(env: SsoEnv, creds: dict[str, str]) -> str:
    """The caller ARN boto3 gets with the page's credentials."""
    assert creds["AWS_ACCESS_KEY_ID"].startswith("ASIA") and len(creds["AWS_SECRET_ACCESS_KEY"]) == 40
    sts = boto3.client("sts", endpoint_url=env.url, region_name=REGION, aws_access_key_id=creds["AWS_ACCESS_KEY_ID"],
                       aws_secret_access_key=creds["AWS_SECRET_ACCESS_KEY"],
                       aws_session_token=creds["AWS_SESSION_TOKEN"])
    return str(sts.get_caller_identity()["Arn"])


def test_idp_initiated_saml_to_working_credentials(env: SsoEnv, page: Any, browser: Any) -> None:
    page.goto(env.saml.start_url)  # the IdP's page auto-posts its response to /saml
    page.wait_for_url(f"{env.url}/sso/roles")
    assert page.locator("h1").inner_text() == "Choose a role"
    assert page.locator(".session").inner_text().count("alice@example.test") == 1
    assert "BrowserIdP" in page.locator(".session").inner_text()
    assert page.locator(".name").all_inner_texts() == ["sso-admin", "sso-reader", "sso-locked"]
    locked = page.locator("li", has=page.locator(".name", has_text="sso-locked"))
    assert locked.locator("button").is_disabled() and "Not available" in locked.inner_text()
    shot(page, "role-picker-wide")
    phone = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True)
    phone_page = phone.new_page()
    phone_page.context.add_cookies(page.context.cookies())
    phone_page.goto(f"{env.url}/sso/roles")
    assert phone_page.locator(".name").count() == 3
    assert phone_page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")  # no sideways scroll
    shot(phone_page, "role-picker-phone")
    phone.close()

    creds = choose(page, "sso-admin")
    shot(page, "credentials")
    assert works(env, creds) == f"arn:aws:sts::123456789012:assumed-role/sso-admin/alice"
    assert set(creds) >= {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"}
    profile = page.locator("#snip-profile").inner_text()
    assert profile.startswith("[tessera-sso-admin]\naws_access_key_id = " + creds["AWS_ACCESS_KEY_ID"])
    assert "credential_process = tessera credential-process --profile tessera-sso-admin" in \
        page.locator("#snip-process").inner_text()
    assert "SAMLResponse" not in page.url and creds["AWS_SECRET_ACCESS_KEY"] not in page.url


def test_sp_initiated_saml_answers_the_request_sent(env: SsoEnv, page: Any) -> None:
    before = len(env.saml.requests)
    page.goto(f"{env.url}/sso/saml/BrowserIdP/login")  # AuthnRequest -> IdP /sso -> auto-post with InResponseTo
    page.wait_for_url(f"{env.url}/sso/roles")
    assert len(env.saml.requests) == before + 1 and not env.saml.refusals
    request = env.saml.requests[-1]
    assert request["AssertionConsumerServiceURL"] == f"{env.url}/saml" and request["Issuer"] == f"{env.url}/saml"
    assert works(env, choose(page, "sso-reader")).endswith(":assumed-role/sso-reader/alice")


def test_oidc_code_flow_with_pkce_to_working_credentials(env: SsoEnv, page: Any) -> None:
    page.goto(f"{env.url}/sso")
    page.get_by_role("link", name=re.compile("Corp OpenID")).click()  # -> /authorize -> /sso/oidc/callback
    page.wait_for_url(f"{env.url}/sso/roles")
    assert env.oidc.code_flow is not None and not env.oidc.code_flow.refusals  # PKCE and the secret checked out
    assert page.locator(".name").all_inner_texts() == ["oidc-dev"]  # oidc-other's trust admits another sub
    assert "alice@corp.example" in page.locator(".who").inner_text()
    shot(page, "role-picker-oidc")
    arn = works(env, choose(page, "oidc-dev"))
    assert arn == "arn:aws:sts::123456789012:assumed-role/oidc-dev/alice"
    page.goto(f"{env.url}/sso/logout")
    assert page.locator("h1").inner_text() == "Signed out"
    page.goto(f"{env.url}/sso/roles")
    assert "not signed in" in page.locator(".notice").inner_text()


def test_role_arn_helper_names_this_account() -> None:
    assert role_arn("x") == "arn:aws:iam::123456789012:role/x"
