"""The whole Query endpoint (SigV4, codec, authorization, services, store on a real Redis)
under generated requests: every IAM and STS operation of botocore's models, validly signed
by an administrator or the account root, with parameters generated from the operation's
input shape (plausible names, ARNs and policies mixed with arbitrary text, numbers and
nesting), and with members of the wrong type sent raw. Whatever arrives, the answer is
AWS's XML with a RequestId and a 2xx/4xx status: never a 5xx, never an unhandled error.
"""
from __future__ import annotations

import asyncio
import base64
import json
import re
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import quote

import botocore.session
from botocore import xform_name
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.serialize import create_serializer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
import yaml

from app.bootstrap import asgi, build
from idp_fixtures.saml import material
from idp_fixtures.oidc.attacks import build as build_token
from idp_fixtures.oidc.issuer import DemoIssuer
from idp_fixtures.oidc.material import load as load_key
from idp_fixtures.oidc.server import IssuerServer
from idp_fixtures.saml.idp import DemoIdP, encode
from app.services.iam import IamService
from app.services.sts import StsService
from app.settings import Settings
from app.store.connection import connect
from tests.redis_target import redis_url

URL = redis_url(8)
ACCOUNT = "123456789012"
ROOT = ("AKIAHOSTILEROOT00001", "hostileRootSecret0000000000000000000000A")
HOST = "127.0.0.1:9"
SESSION = botocore.session.get_session()
MODELS = {name: SESSION.get_service_model(name) for name in ("iam", "sts")}
OPERATIONS = [(svc, op) for svc, model in MODELS.items() for op in model.operation_names]
SERVES = {"iam": IamService, "sts": StsService}
SUPPORTED = [(svc, op) for svc, op in OPERATIONS if callable(getattr(SERVES[svc], xform_name(op), None))]
# mostly operations Tessera serves (the rest must answer InvalidAction, cleanly)
ANY_OPERATION = st.one_of(st.sampled_from(SUPPORTED), st.sampled_from(SUPPORTED), st.sampled_from(OPERATIONS))
SERIALIZER = create_serializer("query", include_validation=False)  # hostile values too

PROVIDER = f"arn:aws:iam::{ACCOUNT}:saml-provider/idp1"
R1 = f"arn:aws:iam::{ACCOUNT}:role/r1"
ACS = f"http://{HOST}/saml"  # the harness's TESSERA_PUBLIC_URL + /saml
TRUST = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/alice"}, "Action": "sts:AssumeRole"},
    {"Effect": "Allow", "Principal": {"Federated": PROVIDER}, "Action": "sts:AssumeRoleWithSAML"}]})
ALLOW_ALL = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})
DENY_IAM = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "iam:*", "Resource": "*"}]})
PLAUSIBLE = [
    "alice", "r1", "g1", "p1", "bob", "ALICE", "/", "/team/", "s1", "v1", "v2", "Active", "Inactive",
    f"arn:aws:iam::{ACCOUNT}:role/r1", f"arn:aws:iam::{ACCOUNT}:user/alice", f"arn:aws:iam::{ACCOUNT}:group/g1",
    f"arn:aws:iam::{ACCOUNT}:policy/p1", f"arn:aws:iam::{ACCOUNT}:root", "arn:aws:iam::aws:policy/ReadOnlyAccess",
    f"arn:aws:sts::{ACCOUNT}:assumed-role/r1/s1", "arn:aws:iam::999999999999:role/other",
    TRUST, ALLOW_ALL, DENY_IAM, "{}", '{"Version":"2012-10-17","Statement":[]}', "*", "iam:CreateUser",
    "sts:AssumeRole", "aws:username", "StringEquals", "900", "3600", "43200", "AKIAIOSFODNN7EXAMPLE", PROVIDER,
]


def saml_response(**kw: Any) -> bytes:
    """A demo IdP response for role r1 through provider idp1 (valid for 5 minutes when signed)."""
    kw.setdefault("roles", [(R1, PROVIDER)])
    kw.setdefault("session_name", "s1")
    kw.setdefault("audience", ACS)
    return DemoIdP().response_xml(recipient=ACS, **kw)


# signed, encrypted, unsigned, for another audience, two assertions' worth of attributes...
SAML_DOCUMENTS = [saml_response(), saml_response(sign_what="both"), saml_response(sign_what="none"),
                  saml_response(encrypt_for="sp"), saml_response(audience="https://elsewhere.test/saml"),
                  saml_response(session_name=None), saml_response(roles=[(PROVIDER, R1)], tags={"k": "v"})]


def _mutated(doc: bytes, edits: list[tuple[int, bytes]]) -> str:
    """`doc` with each (offset, bytes) replacing as many bytes there, base64-encoded."""
    data = bytearray(doc)
    for offset, chunk in edits:
        at = offset % len(data)
        data[at:at + len(chunk)] = chunk
    return encode(bytes(data))


SAML_ASSERTIONS = st.one_of(
    st.sampled_from([encode(d) for d in SAML_DOCUMENTS]),
    st.builds(_mutated, st.sampled_from(SAML_DOCUMENTS),
              st.lists(st.tuples(st.integers(0, 10_000), st.binary(min_size=1, max_size=6)), min_size=1, max_size=4)),
    st.builds(lambda d, n: encode(d[:n]), st.sampled_from(SAML_DOCUMENTS), st.integers(0, 6000)),
    st.binary(max_size=300).map(encode),
    st.text(max_size=200),
)


NAMES = ["alice", "r1", "g1", "p1", "bob", "s1", "Alice"]
ARNS = [v for v in PLAUSIBLE if v.startswith("arn:")]
POLICIES = [TRUST, ALLOW_ALL, DENY_IAM, "{}", '{"Version":"2012-10-17","Statement":[]}']
# what a member is likely to hold, by the end of its name
BY_NAME = [("Name", NAMES), ("Arn", ARNS), ("Document", POLICIES), ("Policy", POLICIES), ("Path", ["/", "/team/"]),
           ("PathPrefix", ["/", "/team/"]), ("VersionId", ["v1", "v2", "v9"]), ("Status", ["Active", "Inactive"]),
           ("AccessKeyId", ["AKIAIOSFODNN7EXAMPLE"]), ("Key", ["team", "env"]), ("Value", ["a", "b"]),
           ("Names", ["iam:CreateUser", "sts:AssumeRole", "s3:GetObject"])]


# AssumeRoleWithWebIdentity: a loopback issuer registered as provider of role w1 (bound now,
# served while the harness runs), its good tokens, every token of the OIDC attack corpus
# (tests/cases/oidc), byte edits and cuts of good ones, and arbitrary text
OIDC_ISSUER = IssuerServer(keys=[load_key("rsa-a"), load_key("ec-p256")])
OIDC_PROVIDER = f"arn:aws:iam::{ACCOUNT}:oidc-provider/{OIDC_ISSUER.url.split('://', 1)[1]}"
W1 = f"arn:aws:iam::{ACCOUNT}:role/w1"
CORPUS = [case for path in sorted((Path(__file__).resolve().parents[2] / "cases" / "oidc").glob("*.yaml"))
          for case in yaml.safe_load(path.read_text(encoding="utf-8"))]


def _oidc_token(alg: str, tags: bool) -> str:
    claims = {"https://aws.amazon.com/tags": {"principal_tags": {"k": ["v"]}}} if tags else None
    return OIDC_ISSUER.issuer.token(aud="sts.amazonaws.com", alg=alg, claims=claims)


CORPUS_ISSUER = DemoIssuer(OIDC_ISSUER.url)  # every demo key (the corpus names them); only two are published


def _corpus_token(case: dict[str, Any]) -> str:
    return build_token(case["build"], CORPUS_ISSUER, int(time.time()), **case.get("args", {}))


def _edited(token: str, edits: list[tuple[int, str]]) -> str:
    chars = list(token)
    for offset, chunk in edits:
        chars[offset % len(chars)] = chunk
    return "".join(chars)


GOOD_TOKENS = st.builds(_oidc_token, st.sampled_from(["RS256", "PS256", "ES256"]), st.booleans())
WEB_IDENTITY_TOKENS = st.one_of(
    GOOD_TOKENS,
    st.builds(_corpus_token, st.sampled_from(CORPUS)),
    st.builds(_edited, GOOD_TOKENS, st.lists(st.tuples(st.integers(0, 2000), st.characters()), min_size=1,
                                             max_size=4)),
    st.builds(lambda t, n: t[:n], GOOD_TOKENS, st.integers(0, 1200)),
    st.text(max_size=200),
)


def _strings(shape: Any, name: str) -> st.SearchStrategy[str]:
    if name == "SAMLAssertion":
        return SAML_ASSERTIONS
    if name == "WebIdentityToken":
        return WEB_IDENTITY_TOKENS
    enum = list(getattr(shape, "enum", []) or [])
    fitting = next((values for suffix, values in BY_NAME if name.endswith(suffix)), [])
    plausible = st.sampled_from(fitting + enum + enum or PLAUSIBLE)
    return st.one_of(*[plausible] * 8, st.sampled_from(PLAUSIBLE), st.text(max_size=120),
                     st.text(alphabet="abcXYZ019-_./:*?$%{}\"\\ ", max_size=40))


def values_for(shape: Any, depth: int = 0, name: str = "") -> st.SearchStrategy[Any]:
    """Values of the type botocore's serializer expects for `shape`, content unconstrained."""
    kind = shape.type_name
    if kind == "structure":
        if depth > 3:
            return st.just({})
        members = {key: values_for(member, depth + 1, key) for key, member in shape.members.items()}
        required = {key: members[key] for key in shape.required_members}
        # mostly with the required members present, so requests get past validation
        complete = st.fixed_dictionaries(required, optional={k: v for k, v in members.items() if k not in required})
        return st.one_of(complete, complete, st.fixed_dictionaries({}, optional=members))
    if kind == "list":
        return st.lists(values_for(shape.member, depth + 1, name), max_size=3)
    if kind == "map":
        return st.dictionaries(_strings(shape.key, "Key"), values_for(shape.value, depth + 1, "Value"), max_size=3)
    if kind in ("integer", "long"):
        return st.one_of(st.sampled_from([0, 1, 900, 3600, 43200, 129600, -1]), st.integers(-2**40, 2**40))
    if kind == "boolean":
        return st.booleans()
    if kind == "timestamp":
        return st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2200, 1, 1),
                            timezones=st.just(timezone.utc))
    if kind == "blob":
        return st.binary(max_size=40)
    return _strings(shape, name)


@st.composite
def modelled_requests(draw: st.DrawFn) -> tuple[str, str, str]:
    service, name = draw(ANY_OPERATION)
    op = MODELS[service].operation_model(name)
    params = draw(values_for(op.input_shape)) if op.input_shape is not None else {}
    body = SERIALIZER.serialize_to_request(params, op)["body"]
    encoded = "&".join(f"{quote(str(k), safe='')}={quote(str(v), safe='')}" for k, v in body.items())
    return service, name, encoded


@st.composite
def raw_requests(draw: st.DrawFn) -> tuple[str, str, str]:
    """Members of any type sent as arbitrary text (or left empty, repeated, nested wrongly)."""
    service, name = draw(ANY_OPERATION)
    op = MODELS[service].operation_model(name)
    members = list(op.input_shape.members) if op.input_shape is not None else []
    keys = st.one_of(st.sampled_from(members or ["X"]), st.sampled_from([f"{m}.member.1" for m in members] or ["X"]),
                     st.sampled_from([f"{m}.entry.1.key" for m in members] or ["X"]), st.text(max_size=20))
    pairs = draw(st.lists(st.tuples(keys, st.one_of(st.sampled_from(PLAUSIBLE), st.text(max_size=80))), max_size=8))
    version = MODELS[service].api_version
    encoded = "&".join([f"Action={name}", f"Version={version}",
                        *(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in pairs)])
    return service, name, encoded


class Harness:
    """The real container and ASGI app on a real Redis, driven on one private event loop."""

    def __init__(self) -> None:
        OIDC_ISSUER.start()
        self.loop = asyncio.new_event_loop()
        env = {"TESSERA_REDIS_URL": URL, "TESSERA_ACCOUNT_ID": ACCOUNT, "TESSERA_ROOT_ACCESS_KEY_ID": ROOT[0],
               "TESSERA_ROOT_SECRET_ACCESS_KEY": ROOT[1], "TESSERA_MASTER_KEY": base64.b64encode(b"h" * 32).decode()}
        self.redis = connect(URL)
        self.container = build(Settings.from_env(env, mode="serve", port=9), self.redis, log_stream=_Sink())
        self.app = asgi(self.container)
        self.calls = 0
        self.admin = self.reset()

    def reset(self) -> tuple[str, str]:
        """A fresh store with the fixtures (generated requests rename, delete and detach
        them); returns the administrator's new key."""
        self.admin = self.run(self._provision())
        return self.admin

    def run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(coro)

    async def _provision(self) -> tuple[str, str]:
        await self.redis.flushdb()
        from app.bootstrap import ensure_root_key

        await ensure_root_key(self.container)
        root, iam = self.container.root_call(), self.container.iam
        await iam.create_user(root, user_name="alice")
        await iam.put_user_policy(root, user_name="alice", policy_name="admin", policy_document=ALLOW_ALL)
        key = (await iam.create_access_key(root, user_name="alice"))["access_key"]
        metadata = DemoIdP().metadata()
        await iam.create_saml_provider(root, name="idp1", saml_metadata_document=metadata,
                                       add_private_key=material.key_pem("sp").decode())
        await iam.create_role(root, role_name="r1", assume_role_policy_document=TRUST)
        await iam.create_open_id_connect_provider(root, url=OIDC_ISSUER.url, client_id_list=["sts.amazonaws.com"])
        web_trust = {"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"Federated": OIDC_PROVIDER},
            "Action": ["sts:AssumeRoleWithWebIdentity", "sts:TagSession"]}]}
        await iam.create_role(root, role_name="w1", assume_role_policy_document=json.dumps(web_trust))
        await iam.create_group(root, group_name="g1")
        await iam.create_policy(root, policy_name="p1", policy_document=ALLOW_ALL)
        return key.access_key_id, key.secret_access_key

    def call(self, service: str, body: str, signer: tuple[str, str]) -> tuple[int, str]:
        self.calls += 1
        request = AWSRequest(method="POST", url=f"http://{HOST}/", data=body.encode(),
                             headers={"Host": HOST, "Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
        SigV4Auth(Credentials(*signer), service, "us-east-1").add_auth(request)
        headers = [(k.lower().encode(), str(v).encode()) for k, v in request.headers.items()]
        headers.append((b"content-length", str(len(request.body)).encode()))
        scope = {"type": "http", "method": "POST", "path": "/", "raw_path": b"/", "query_string": b"",
                 "headers": headers, "client": ("127.0.0.1", 5555), "scheme": "http"}
        out: dict[str, Any] = {"body": b""}

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": request.body, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                out["status"] = message["status"]
            else:
                out["body"] += message.get("body", b"")

        self.run(self.app(scope, receive, send))
        return out["status"], out["body"].decode()

    def close(self) -> None:
        self.run(self.redis.flushdb())
        self.run(self.container.hot.aclose())
        self.run(self.redis.aclose())
        self.loop.close()
        OIDC_ISSUER.stop()


class _Sink:
    """The audit log goes nowhere; what it would hold is tested elsewhere."""

    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        pass


@pytest.fixture(scope="module")
def harness() -> Iterator[Harness]:
    h = Harness()
    yield h
    h.close()


def check(harness: Harness, request: tuple[str, str, str], as_root: bool) -> None:
    service, name, body = request
    if harness.calls % 50 == 0:
        harness.reset()  # keep the fixtures there for the requests that need them
    status, text = harness.call(service, body, ROOT if as_root else harness.admin)
    assert status < 500, f"{name}: {status} {text[:300]}"
    assert re.search(r"<RequestId>[0-9a-f-]{36}</RequestId>", text), f"{name}: no RequestId in {text[:300]}"
    if status >= 400:
        code = re.search(r"<Code>([A-Za-z.]+)</Code>", text)
        assert code, f"{name}: error without a code: {text[:300]}"
        assert code.group(1) not in ("InternalFailure", "ServiceUnavailable"), f"{name}: {text[:300]}"
    else:
        assert text.startswith(f"<{name}Response"), f"{name}: {text[:200]}"


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                                                  HealthCheck.function_scoped_fixture])
@given(request=modelled_requests(), as_root=st.booleans())
def test_modelled_requests_never_fail_the_server(harness: Harness, request: tuple[str, str, str],
                                                  as_root: bool) -> None:
    check(harness, request, as_root)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(request=raw_requests(), as_root=st.booleans())
def test_raw_members_never_fail_the_server(harness: Harness, request: tuple[str, str, str], as_root: bool) -> None:
    check(harness, request, as_root)


def test_the_harness_reaches_the_services(harness: Harness) -> None:
    """The generated requests are not all refused at the door: a plain call succeeds."""
    harness.reset()
    status, text = harness.call("iam", "Action=GetUser&Version=2010-05-08&UserName=alice", ROOT)
    assert status == 200 and "<UserName>alice</UserName>" in text
    status, text = harness.call("sts", "Action=AssumeRole&Version=2011-06-15&RoleSessionName=s1&RoleArn="
                                + quote(f"arn:aws:iam::{ACCOUNT}:role/r1", safe=""), harness.admin)
    assert status == 200 and "<AccessKeyId>ASIA" in text
    saml = (f"Action=AssumeRoleWithSAML&Version=2011-06-15&RoleArn={quote(R1, safe='')}"
            f"&PrincipalArn={quote(PROVIDER, safe='')}&SAMLAssertion=")
    status, text = harness.call("sts", saml + quote(encode(saml_response()), safe=""), harness.admin)
    assert status == 200 and "<AccessKeyId>ASIA" in text and "<Subject>alice@example.test</Subject>" in text


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(assertion=SAML_ASSERTIONS, role=st.sampled_from([R1, PROVIDER, "x" * 20]),
       principal=st.sampled_from([PROVIDER, R1, f"arn:aws:iam::{ACCOUNT}:saml-provider/nobody", "y" * 20]))
def test_saml_assertions_of_any_shape_never_fail_the_server(harness: Harness, assertion: str, role: str,
                                                            principal: str) -> None:
    """AssumeRoleWithSAML (unsigned) with signed, tampered, truncated and arbitrary assertions."""
    body = (f"Action=AssumeRoleWithSAML&Version=2011-06-15&RoleArn={quote(role, safe='')}"
            f"&PrincipalArn={quote(principal, safe='')}&SAMLAssertion={quote(assertion, safe='')}")
    check(harness, ("sts", "AssumeRoleWithSAML", body), False)


def test_the_harness_federates_with_a_web_identity_token(harness: Harness) -> None:
    harness.reset()
    body = (f"Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn={quote(W1, safe='')}"
            f"&RoleSessionName=s1&WebIdentityToken={quote(_oidc_token('ES256', True), safe='')}")
    status, text = harness.call("sts", body, harness.admin)
    assert status == 200 and "<AccessKeyId>ASIA" in text and f"<Provider>{OIDC_PROVIDER}</Provider>" in text


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(token=WEB_IDENTITY_TOKENS, role=st.sampled_from([W1, R1, "x" * 20]),
       provider_id=st.sampled_from([None, None, None, "www.amazon.com", "graph.facebook.com"]))
def test_web_identity_tokens_of_any_shape_never_fail_the_server(harness: Harness, token: str, role: str,
                                                                provider_id: str | None) -> None:
    """AssumeRoleWithWebIdentity (unsigned) with good, hostile, edited, cut and arbitrary tokens."""
    body = (f"Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn={quote(role, safe='')}"
            f"&RoleSessionName=s1&WebIdentityToken={quote(token, safe='')}"
            + (f"&ProviderId={provider_id}" if provider_id else ""))
    check(harness, ("sts", "AssumeRoleWithWebIdentity", body), False)



def test_every_token_of_the_oidc_corpus_gets_an_aws_answer(harness: Harness) -> None:
    """Each attack of tests/cases/oidc once, through the whole endpoint: a 200 or AWS's 4xx."""
    harness.reset()
    for case in CORPUS:
        body = (f"Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn={quote(W1, safe='')}"
                f"&RoleSessionName=s1&WebIdentityToken={quote(_corpus_token(case), safe='')}")
        check(harness, ("sts", "AssumeRoleWithWebIdentity", body), False)
