"""StsService.assume_role_with_saml below the wire: real IamStore, SessionStore, validation
layer and policy engine on Redis db 7, a fixed clock, demo IdP responses."""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import pytest
import pytest_asyncio
import redis.asyncio as aioredis

from app.core.clock import FixedClock
from app.core.errors import (AccessDenied, ExpiredTokenException, InvalidIdentityToken, ServiceUnavailable,
                             ValidationError)
from app.core.records import Call, RequestMeta
from app.federation.saml.validate import SamlSettings
from app.services.authz import Authorizer
from app.services.saml_signin import PROVIDER_MISSING, SamlFederation
from app.services.saml_verifier import SamlVerifier
from app.services.sts import StsService
from app.services.tokens import SessionTokens
from app.store.iam_cache import CachedIamReads
from app.store.iam_saml import MetadataUpload
from app.store.iam_store import IamStore
from app.store.keys import Keys
from app.store.replay_marks import ReplayMarks
from app.store.secretbox import SecretBox
from app.store.sessions import SessionStore
from idp_fixtures.saml import material
from idp_fixtures.saml.idp import DemoIdP
from tests.redis_target import redis_url

URL = redis_url(7)
ACCT = "123456789012"
NOW = float(int(time.time()))


@pytest.fixture(autouse=True)
def _now() -> None:
    """NOW is the start of each test, not of the module's import: replay marks expire in real
    (Redis) time, and a long suite run would otherwise leave the fixed clock minutes behind."""
    global NOW
    NOW = float(int(time.time()))
BOX = SecretBox(b"q" * 32)
ACS = "https://tessera.test/saml"
PROVIDER = f"arn:aws:iam::{ACCT}:saml-provider/Demo"
ROLE = f"arn:aws:iam::{ACCT}:role/Fed"


@dataclass
class World:
    iam: IamStore
    sts: StsService
    sessions: SessionStore
    clock: FixedClock
    redis: aioredis.Redis

    def response(self, **kw: Any) -> str:
        kw.setdefault("roles", [(ROLE, PROVIDER)])
        kw.setdefault("session_name", "alice")
        kw.setdefault("audience", ACS)
        return DemoIdP().response(recipient=ACS, now=self.clock.time(), **kw)

    async def assume(self, assertion: str | None = None, **kw: Any) -> dict[str, Any]:
        call = Call(None, RequestMeta("r", self.clock.time()))
        return await self.sts.assume_role_with_saml(call, role_arn=kw.pop("role_arn", ROLE),
                                                    principal_arn=kw.pop("principal_arn", PROVIDER),
                                                    saml_assertion=assertion or self.response(), **kw)

    async def session_keys(self) -> list[str]:
        return [k async for k in self.redis.scan_iter("sess:*")]


def build(redis: Any, iam: IamStore, clock: FixedClock, marks_redis: Any) -> StsService:
    sessions = SessionStore(redis, box=BOX, clock=clock)
    reads = CachedIamReads(iam, redis, Keys(ACCT))
    saml = SamlFederation(reads, SamlVerifier(SamlSettings(audience=ACS, recipient=ACS)), ReplayMarks(marks_redis),
                          account=ACCT, clock=clock)
    return StsService(reads, sessions, SessionTokens(BOX), Authorizer(reads, account=ACCT, clock=clock),
                      account=ACCT, clock=clock, saml=saml)


@pytest_asyncio.fixture(loop_scope="function")
async def w(redis: aioredis.Redis) -> World:
    clock = FixedClock(NOW)
    iam = IamStore(redis, account=ACCT, box=BOX, clock=clock)
    await iam.create_saml_provider("Demo", MetadataUpload(DemoIdP().metadata(), material.DEMO_ENTITY_ID,
                                                          (material.cert_pem("idp"),), None))
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Federated": PROVIDER},
                                                     "Action": "sts:AssumeRoleWithSAML"}]}
    await iam.create_role("Fed", trust_policy=json.dumps(trust), max_session_duration=7200)
    return World(iam, build(redis, iam, clock, redis), SessionStore(redis, box=BOX, clock=clock), clock, redis)


async def test_the_session_carries_the_saml_keys(w: World) -> None:
    out = await w.assume()
    assert out["subject"] == "alice@example.test" and out["audience"] == ACS
    assert out["credentials"].expiration == NOW + 3600
    found = await w.sessions.get(out["credentials"].access_key_id)
    assert found is not None
    session = found[0]
    assert session.federated_provider == PROVIDER
    assert dict(session.federation_context) == {"saml:namequalifier": out["name_qualifier"],
                                                "saml:sub": "alice@example.test",
                                                "saml:sub_type": "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"}


async def test_the_replay_mark_outlives_every_chance_to_redeem(w: World) -> None:
    assertion = w.response()
    await w.assume(assertion)
    [key] = [k async for k in w.redis.scan_iter("fed:once:saml:*")]
    expires_ms = await w.redis.pexpiretime(key)
    # the demo IdP's NotOnOrAfter is issue + 300 s; redemption also ends 300 s after issuance
    assert expires_ms / 1000 >= NOW + 300
    for later in (0, 299, 300):  # validation would still take it: the mark refuses it
        w.clock.set(NOW + later)
        with pytest.raises(InvalidIdentityToken) as exc:
            await w.assume(assertion)
        assert exc.value.reason == "saml_replay"
    w.clock.set(NOW + 301)  # from here on validation refuses it by itself
    with pytest.raises(ExpiredTokenException) as expired:
        await w.assume(assertion)
    assert expired.value.reason == "saml_too_old"


async def test_a_failed_replay_mark_issues_nothing(w: World) -> None:
    dead = aioredis.Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.5)
    w.sts = build(w.redis, w.iam, w.clock, dead)  # only the mark's write fails
    with pytest.raises(ServiceUnavailable):
        await w.assume()
    assert await w.session_keys() == []
    await dead.aclose()


async def test_errors_after_verification_name_the_saml_user(w: World) -> None:
    with pytest.raises(AccessDenied) as exc:
        await w.assume(w.response(roles=[(f"arn:aws:iam::{ACCT}:role/Other", PROVIDER)]))
    assert exc.value.user_identity is not None and exc.value.user_identity["userName"] == "alice@example.test"
    with pytest.raises(InvalidIdentityToken) as exc2:  # not verified: nobody to name
        await w.assume(w.response(audience="https://elsewhere.test/saml"))
    assert exc2.value.user_identity is None and exc2.value.reason == "saml_audience_mismatch"


async def test_session_end_capped_by_session_not_on_or_after(w: World) -> None:
    out = await w.assume(w.response(session_not_on_or_after=NOW + 1000.7))
    assert out["credentials"].expiration == NOW + 1000
    with pytest.raises(ExpiredTokenException):  # nothing left of the session: refused, never a 5xx
        await w.assume(w.response(session_not_on_or_after=NOW + 1))
    assert len(await w.session_keys()) == 1


async def test_provider_lookup(w: World) -> None:
    for principal in (f"arn:aws:iam::{ACCT}:saml-provider/demo",  # names are exact in the ARN
                      f"arn:aws:iam::{ACCT}:saml-provider/Nope", "arn:aws:iam::999999999999:saml-provider/Demo"):
        with pytest.raises(InvalidIdentityToken) as exc:
            await w.assume(principal_arn=principal)
        assert exc.value.message == PROVIDER_MISSING
    with pytest.raises(ValidationError):
        await w.assume(principal_arn=f"arn:aws:iam::{ACCT}:role/Demo")


async def test_expired_provider_metadata(w: World) -> None:
    await w.iam.update_saml_provider("Demo", metadata=MetadataUpload(
        DemoIdP().metadata(), material.DEMO_ENTITY_ID, (material.cert_pem("idp"),), NOW - 1))
    with pytest.raises(InvalidIdentityToken) as exc:
        await w.assume()
    assert exc.value.reason == "saml_provider_expired"
