"""The browser sign-in edge's pure parts: redirect targets, the CLI parameters, signed cookies,
the HTTP-Redirect binding, the SP metadata, the sign-in record's JSON form."""
from __future__ import annotations

import base64
import urllib.parse
import zlib

import pytest
from lxml import etree

from app.federation.identity import FederatedIdentity
from app.services.sso import CliRequest, SignIn
from app.sso.cookies import Cookies, secure_for
from app.sso.csrf import same_origin, token_ok
from app.sso.routes import BadInput, parse_cli, safe_next
from app.sso.saml_browser import authn_request, redirect_url, sp_metadata
from app.store.secretbox import SecretBox

BOX = SecretBox(b"k" * 32)


@pytest.mark.parametrize("path", ["/sso/roles", "/sso", "/sso/roles?x=1"])
def test_relative_paths_of_this_service_are_kept(path: str) -> None:
    assert safe_next(path) == path


@pytest.mark.parametrize("path", [None, "", "https://evil.example/", "//evil.example", "/\\evil", "evil",
                                  "javascript:alert(1)", "/a b", "/x\r\nSet-Cookie: a=b", "/" + "a" * 300])
def test_anything_else_is_ignored(path: str | None) -> None:
    assert safe_next(path) is None


def test_cli_parameters() -> None:
    assert parse_cli({}) is None
    assert parse_cli({"cli_port": "4000", "cli_challenge": "A" * 43}) == CliRequest(4000, "A" * 43)
    for bad in ({"cli_port": "4000"}, {"cli_port": "80", "cli_challenge": "A" * 43},
                {"cli_port": "70000", "cli_challenge": "A" * 43}, {"cli_port": "4000", "cli_challenge": "A" * 42},
                {"cli_port": "٤٠٠٠", "cli_challenge": "A" * 43}):
        with pytest.raises(BadInput):
            parse_cli(bad)


def test_cookies_are_signed_per_name() -> None:
    jar = Cookies(BOX, secure=False)
    handle = "h" * 43
    value = jar.value(jar.signin_name, handle)
    assert jar.handle(jar.signin_name, f"{jar.signin_name}={value}") == handle
    assert jar.handle(jar.flow_name, f"{jar.flow_name}={value}") is None  # made for the other cookie
    assert jar.handle(jar.signin_name, f"{jar.signin_name}={value[:-1]}x") is None
    assert jar.handle(jar.signin_name, f"{jar.signin_name}={value}".replace("h", "g", 1)) is None
    assert Cookies(SecretBox(b"j" * 32), secure=False).handle(jar.signin_name, f"{jar.signin_name}={value}") is None
    assert jar.handle(jar.signin_name, "junk;;==") is None
    secure = Cookies(BOX, secure=True)
    assert secure.signin_name.startswith("__Host-") and "Secure" in secure.set_header(secure.signin_name, handle)
    assert secure_for("https://sso.example.com") and not secure_for("http://127.0.0.1:8080")
    assert secure_for("http://tessera.internal:8080")


def test_origin_and_token_checks() -> None:
    public = "https://tessera.example.com"
    assert same_origin({"sec-fetch-site": "same-origin", "origin": "null"}, public)
    assert not same_origin({"sec-fetch-site": "cross-site"}, public)
    assert not same_origin({"origin": "https://evil.example"}, public)
    assert same_origin({"origin": "https://tessera.example.com"}, public)
    assert token_ok("abc", "abc") and not token_ok("abc", "abd") and not token_ok("abc", None)


def test_authn_request_in_the_redirect_binding() -> None:
    xml = authn_request("_id1", destination="https://idp/sso", acs_url="https://t/saml", entity_id="https://t/saml",
                        now=0)
    url = redirect_url("https://idp/sso?tenant=a", xml, "/sso/roles")
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))
    assert query["tenant"] == "a" and query["RelayState"] == "/sso/roles"
    root = etree.fromstring(zlib.decompress(base64.b64decode(query["SAMLRequest"]), -15))
    assert root.get("ID") == "_id1" and root.get("AssertionConsumerServiceURL") == "https://t/saml"
    assert root.get("Destination") == "https://idp/sso" and root.get("IssueInstant") == "1970-01-01T00:00:00Z"


def test_sp_metadata_escapes_and_lists_certificates() -> None:
    doc = sp_metadata(entity_id='https://t/"saml"&', acs_url="https://t/saml", encryption_certificates=["QUJD"])
    root = etree.fromstring(doc)
    assert root.get("entityID") == 'https://t/"saml"&' and b"<!DOCTYPE" not in doc
    assert doc.count(b'use="encryption"') == 1 and b"QUJD" in doc


def test_sign_in_record_round_trips() -> None:
    identity = FederatedIdentity(kind="oidc", issuer="https://i", subject="s", subject_type="", audience="a",
                                 token_id="j", issued_at=1.0, expires_at=2.0, attributes={"amr": ("pwd", "mfa")})
    signin = SignIn("oidc", "arn:aws:iam::1:oidc-provider/i", "corp", identity, "alice", "alice@x", 1.0, 3601.0,
                    csrf="c" * 43, cli=CliRequest(5000, "A" * 43))
    again = SignIn.from_json(signin.to_json())
    assert again == signin and again.csrf_ok("c" * 43) and not again.csrf_ok("d" * 43)
