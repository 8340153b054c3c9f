"""The OIDC fixtures later tests and `tessera dev` stand on: the demo issuer's documents and
tokens, and the loopback HTTP issuer (discovery, key set, fetch counts, failing, slow, down,
rotation)."""
from __future__ import annotations

import base64
import json
import socket
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from app.federation.oidc.validate import KeySet, OidcTrust, validate_web_identity_token
from idp_fixtures.oidc.attacks import BUILDERS
from idp_fixtures.oidc.issuer import OMIT, DemoIssuer
from idp_fixtures.oidc.material import DEMO_KEY_NAMES, KEYS, load
from idp_fixtures.oidc.server import IssuerServer

NOW = 1_750_000_000


def get(url: str, timeout: float = 5) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


@pytest.fixture(scope="module")
def idp() -> Iterator[IssuerServer]:
    with IssuerServer(path="/realms/demo", mint=True) as server:
        yield server


@pytest.fixture(autouse=True)
def reset(idp: IssuerServer) -> Iterator[None]:
    yield
    idp.delay, idp.status, idp.jwks_override, idp.discovery_overrides = 0.0, None, None, {}
    idp.rotate([load(name) for name in DEMO_KEY_NAMES])


def test_every_committed_key_loads_with_its_kid() -> None:
    for name, (kid, alg) in KEYS.items():
        key = load(name)
        assert (key.kid, key.alg) == (kid, alg) and key.public_jwk()["kid"] == kid
    assert load("rsa-a") is load("rsa-a")  # parsed once per process


def test_demo_issuer_documents() -> None:
    issuer = DemoIssuer("https://idp.example/realms/x")
    doc = issuer.discovery()
    assert doc["issuer"] == "https://idp.example/realms/x" and doc["jwks_uri"] == "https://idp.example/realms/x/jwks"
    jwks = issuer.jwks()
    assert [k["kid"] for k in jwks["keys"]] == ["demo-rsa-a", "demo-rsa-b", "demo-ec-p256", "demo-ec-p384", "demo-ec-p521"]
    assert all("alg" not in k and k["use"] == "sig" and "d" not in k for k in jwks["keys"])
    assert {k["alg"] for k in issuer.jwks(alg=True)["keys"]} == {"RS256", "ES256", "ES384", "ES512"}


def test_demo_issuer_token_knobs() -> None:
    issuer = DemoIssuer()
    keys = KeySet.from_jwks(issuer.jwks())
    trust = OidcTrust(issuer.url, ("tessera-demo", "sts.amazonaws.com"))
    token = issuer.token(sub="s", aud=["a", "sts.amazonaws.com"], alg="PS384", key="rsa-b", now=NOW, ttl=60,
                         nbf_in=-1, claims={"jti": OMIT, "amr": ["mfa"]}, headers={"typ": OMIT})
    identity = validate_web_identity_token(token, trust, keys, NOW)
    assert (identity.subject, identity.audience, identity.expires_at, identity.token_id) == ("s", "sts.amazonaws.com", NOW + 60, "")
    header = json.loads(_b64(token.split(".")[0]))
    assert header == {"alg": "PS384", "kid": "demo-rsa-b"}
    assert issuer.token(now=NOW) != issuer.token(now=NOW)  # fresh jti each time


def _b64(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def test_every_builder_is_documented() -> None:
    assert all(fn.__doc__ for fn in BUILDERS.values())


def test_server_serves_discovery_and_keys_and_counts_fetches(idp: IssuerServer) -> None:
    assert idp.url == f"http://127.0.0.1:{idp.port}/realms/demo" == idp.issuer.url
    before_jwks, before_doc = idp.jwks_fetches, idp.discovery_fetches
    status, headers, body = get(idp.url + "/.well-known/openid-configuration")
    doc = json.loads(body)
    assert status == 200 and headers["Content-Type"] == "application/json" and headers["Cache-Control"] == "max-age=300"
    assert doc["issuer"] == idp.url and doc["jwks_uri"] == idp.url + "/jwks"
    status, _, body = get(doc["jwks_uri"])
    keys = KeySet.from_jwks(body)
    assert status == 200 and len(keys) == 5 and not keys.refused
    assert (idp.jwks_fetches, idp.discovery_fetches) == (before_jwks + 1, before_doc + 1)
    assert get(idp.url + "/nothing")[0] == 404


def test_server_mints_tokens_that_validate_against_its_keys(idp: IssuerServer) -> None:
    status, headers, body = get(idp.url + "/token?sub=ci-job&aud=sts.amazonaws.com&alg=ES256")
    assert status == 200 and headers["Content-Type"] == "text/plain"
    keys = KeySet.from_jwks(get(idp.url + "/jwks")[2])
    identity = validate_web_identity_token(body.decode(), OidcTrust(idp.url, ("sts.amazonaws.com",)), keys,
                                           idp.issuer.clock())
    assert identity.subject == "ci-job" and identity.issuer == idp.url


def test_server_failure_modes(idp: IssuerServer) -> None:
    idp.status = 503
    assert get(idp.url + "/jwks")[0] == 503
    idp.status = None
    idp.jwks_override = b'{"keys": "broken"}'
    assert get(idp.url + "/jwks")[2] == b'{"keys": "broken"}'
    idp.jwks_override = None
    idp.discovery_overrides = {"issuer": "https://someone-else.example"}
    assert json.loads(get(idp.url + "/.well-known/openid-configuration")[2])["issuer"] == "https://someone-else.example"
    idp.delay = 30
    with pytest.raises((TimeoutError, socket.timeout, urllib.error.URLError)):
        get(idp.url + "/jwks", timeout=0.3)


def test_server_rotation_changes_the_published_keys(idp: IssuerServer) -> None:
    idp.rotate([load("rsa-b")])
    keys = KeySet.from_jwks(get(idp.url + "/jwks")[2])
    assert [k.kid for k in keys.keys] == ["demo-rsa-b"]
    token = idp.issuer.token(now=NOW)
    assert validate_web_identity_token(token, OidcTrust(idp.url, ("tessera-demo",)), keys, NOW).subject == "demo-user"


def test_server_down_then_up_on_the_same_port() -> None:
    server = IssuerServer().start()
    url, port = server.url, server.port
    try:
        assert get(url + "/jwks")[0] == 200
        server.delay = 30  # a request stuck in the delay must not keep stop() waiting
        server.stop()
        with pytest.raises(urllib.error.URLError):
            get(url + "/jwks", timeout=2)
        server.delay = 0
        server.start()
        assert server.port == port and get(url + "/jwks")[0] == 200
    finally:
        server.stop()


def test_attack_builders_accept_yaml_omit(idp: IssuerServer) -> None:
    from idp_fixtures.oidc.attacks import build
    token = build("token", DemoIssuer(), NOW, kid="<omit>", claims={"jti": "<omit>"})
    header: dict[str, Any] = json.loads(_b64(token.split(".")[0]))
    assert "kid" not in header and "jti" not in json.loads(_b64(token.split(".")[1]))
