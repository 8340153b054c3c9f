"""Issuer URLs an OIDC provider may have, and where its keys may be fetched from."""
from __future__ import annotations

import pytest

from app.services.oidc_urls import UrlRejected, check_jwks_uri, is_loopback, issuer_url

ACCEPTED = {
    "https://token.actions.githubusercontent.com": "token.actions.githubusercontent.com",
    "https://oidc.eks.us-east-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B716D3041E":
        "oidc.eks.us-east-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B716D3041E",
    "https://tenant.auth0.com/": "tenant.auth0.com/",  # Auth0's issuers end with a slash: kept
    "https://Keycloak.Example.com:8443/realms/acme": "Keycloak.Example.com:8443/realms/acme",  # case kept
    "https://10.0.0.7/x%20y/~a_b-c.d": "10.0.0.7/x%20y/~a_b-c.d",
    "https://[2001:db8::1]:9443/o": "[2001:db8::1]:9443/o",
    "http://127.0.0.1:9400": "127.0.0.1:9400",
    "http://127.200.3.4/p": "127.200.3.4/p",
    "http://localhost:8080/realms/dev": "localhost:8080/realms/dev",
    "http://LOCALHOST": "LOCALHOST",
    "http://[::1]:8443/": "[::1]:8443/",
}

REFUSED = {
    "example.org": "must start with `https://`",
    "HTTPS://idp.example.com": "must start with `https://`",
    "ftp://idp.example.com": "must start with `https://`",
    "https://": "no valid host",
    "https://idp.example.com?x=1": "query",
    "https://idp.example.com/a#frag": "fragment",
    "https://user:pw@idp.example.com": "user information",
    "https://idp.example.com:0": "port",
    "https://idp.example.com:65536": "port",
    "https://idp.example.com:https": "port",
    "https://idp..example.com": "no valid host",
    "https://idp.example.com./": "no valid host",
    "https://-idp.example.com": "no valid host",
    "https://idp_example.com": "no valid host",
    "https://[::g]/": "IPv6",
    "https://[::1]x/": "after its IPv6 host",
    "https://idp.example.com/a b": "path",
    "https://idp.example.com/é": "path",
    "https://idp.example.com/a\nb": "path",
    "https://idp.example.com\\@evil.example": "user information",
    "http://idp.example.com": "only loopback hosts",
    "http://127.0.0.1.nip.io": "only loopback hosts",
    "http://10.0.0.1": "only loopback hosts",
    "http://[::2]": "only loopback hosts",
}


@pytest.mark.parametrize("url,ident", ACCEPTED.items())
def test_accepted_issuers_keep_their_text(url: str, ident: str) -> None:
    assert issuer_url(url) == ident


@pytest.mark.parametrize("url,why", REFUSED.items())
def test_refused_issuers_say_why(url: str, why: str) -> None:
    with pytest.raises(UrlRejected, match=why.replace("`", ".").replace("?", ".")):
        issuer_url(url)


def test_loopback_hosts() -> None:
    assert all(is_loopback(h) for h in ("127.0.0.1", "127.255.0.9", "[::1]", "::1", "localhost", "LocalHost"))
    assert not any(is_loopback(h) for h in ("128.0.0.1", "[::2]", "localhost.example.com", "0.0.0.0", ""))


def test_jwks_uri_may_have_a_query_and_another_host() -> None:
    check_jwks_uri("https://www.googleapis.com/oauth2/v3/certs")
    check_jwks_uri("https://idp.example.com/keys?tenant=a&v=2")
    check_jwks_uri("http://127.0.0.1:9400/jwks")
    for bad in ("http://idp.example.com/jwks", "https://idp.example.com/jwks#x", "file:///etc/passwd",
                "https://u@idp.example.com/jwks", "/jwks"):
        with pytest.raises(UrlRejected):
            check_jwks_uri(bad)
