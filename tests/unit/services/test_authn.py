"""Authenticator: long-term keys, session credentials (real Redis db 14), and every refusal."""
from __future__ import annotations

import base64
import time
from dataclasses import dataclass, field, replace

import pytest
import redis.asyncio as aioredis

from app.core import arn
from app.core.clock import FixedClock
from app.core.errors import AwsError, ExpiredToken, InvalidClientTokenId, SignatureDoesNotMatch
from app.core.records import AccessKey, Role, Session, User
from app.services.authn import EXPIRED_TOKEN, INVALID_TOKEN, TOUCH_EVERY, Authenticator
from app.services.tokens import SessionTokens
from app.store.secretbox import SecretBox
from app.store.sessions import SessionStore
from tests.redis_target import redis_url

URL = redis_url(14)
ACCT = "123456789012"
NOW = float(int(time.time()))
BOX = SecretBox(b"a" * 32)
TOKENS = SessionTokens(BOX)
USER_SECRET = "u" * 40
ROOT_SECRET = "r" * 40
SESSION_SECRET = "s" * 40
ALICE = User("alice", "AIDAALICE000000000000", "/", arn.user(ACCT, "/", "alice"), NOW)
DEPLOY = Role("Deploy", "AROADEPLOY00000000000", "/ci/", arn.role(ACCT, "/ci/", "Deploy"), NOW, "{}")


@dataclass
class FakeIam:
    """The few CachedIamReads calls the Authenticator makes (`pin` reads real Redis)."""

    redis: aioredis.Redis
    keys: dict[str, AccessKey] = field(default_factory=dict)
    users: dict[str, User] = field(default_factory=dict)
    roles: dict[str, Role] = field(default_factory=dict)
    touched: list[tuple[str, str, str]] = field(default_factory=list)
    pins: list[tuple[str, ...]] = field(default_factory=list)
    touch_fails: bool = False

    async def pin(self, *keys: str) -> list[str | None]:
        self.pins.append(keys)
        return [await self.redis.get(k) for k in keys]

    async def find_access_key(self, akid: str) -> AccessKey | None:
        return self.keys.get(akid)

    async def get_user(self, name: str) -> User | None:
        return self.users.get(name)

    async def get_role(self, name: str) -> Role | None:
        return self.roles.get(name)

    async def touch_access_key(self, akid: str, service: str, region: str) -> None:
        self.touched.append((akid, service, region))
        if self.touch_fails:
            raise ConnectionError("store down")


@dataclass
class Req:
    access_key_id: str
    security_token: str | None = None
    region: str = "eu-west-1"
    service: str = "sts"
    signed_with: str = ""

    def verify(self, secret_access_key: str) -> None:
        if secret_access_key != self.signed_with:
            raise SignatureDoesNotMatch("The request signature we calculated does not match")


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
def iam(redis: aioredis.Redis) -> FakeIam:
    return FakeIam(
        redis,
        keys={"AKIAUSER000000000000": AccessKey("alice", "AKIAUSER000000000000", "Active", NOW, USER_SECRET),
              "AKIAROOT000000000000": AccessKey("", "AKIAROOT000000000000", "Active", NOW, ROOT_SECRET),
              "AKIAOFF0000000000000": AccessKey("alice", "AKIAOFF0000000000000", "Inactive", NOW, USER_SECRET)},
        users={"alice": ALICE}, roles={"Deploy": DEPLOY})


@pytest.fixture
def sessions(redis: aioredis.Redis, clock: FixedClock) -> SessionStore:
    return SessionStore(redis, box=BOX, clock=clock)


@pytest.fixture
def authn(iam: FakeIam, sessions: SessionStore, clock: FixedClock) -> Authenticator:
    return Authenticator(iam, sessions, TOKENS, account=ACCT, clock=clock)


def role_session(akid: str = "ASIAROLE000000000000", **kw: object) -> Session:
    s = Session(akid, SESSION_SECRET, "assumed-role", ACCT, arn.assumed_role(ACCT, "Deploy", "ci"),
                f"{DEPLOY.role_id}:ci", DEPLOY.arn, DEPLOY.role_id, "Deploy", NOW, NOW + 3600, session_name="ci")
    return replace(s, **kw)  # type: ignore[arg-type]


async def issue(sessions: SessionStore, session: Session) -> str:
    token = TOKENS.issue(session.access_key_id, session.expires_at)
    await sessions.put(session, TOKENS.digest(token))
    return token


async def refused(authn: Authenticator, req: Req, cls: type[AwsError], message: str, reason: str) -> None:
    with pytest.raises(cls) as err:
        await authn.authenticate(req)
    assert err.value.message == message
    assert err.value.reason == reason


# ---- long-term keys ----
async def test_user_key(authn: Authenticator, iam: FakeIam) -> None:
    caller = await authn.authenticate(Req("AKIAUSER000000000000", signed_with=USER_SECRET))
    assert (caller.kind, caller.arn, caller.user_id, caller.name) == ("user", ALICE.arn, ALICE.user_id, "alice")
    assert caller.session is None
    assert iam.pins == [()]  # the epoch, nothing else
    await authn.settle()
    assert iam.touched == [("AKIAUSER000000000000", "sts", "eu-west-1")]


async def test_last_used_is_written_once_a_minute_per_key(authn: Authenticator, iam: FakeIam,
                                                          clock: FixedClock) -> None:
    user, root = Req("AKIAUSER000000000000", signed_with=USER_SECRET), Req("AKIAROOT000000000000",
                                                                          signed_with=ROOT_SECRET)
    for _ in range(3):
        await authn.authenticate(user)
    await authn.authenticate(root)
    clock.advance(TOUCH_EVERY - 1)
    await authn.authenticate(user)
    await authn.settle()
    assert [t[0] for t in iam.touched] == ["AKIAUSER000000000000", "AKIAROOT000000000000"]
    clock.advance(1)
    await authn.authenticate(user)
    await authn.settle()
    assert [t[0] for t in iam.touched] == ["AKIAUSER000000000000", "AKIAROOT000000000000",
                                           "AKIAUSER000000000000"]


async def test_last_used_failure_does_not_fail_the_request(authn: Authenticator, iam: FakeIam) -> None:
    iam.touch_fails = True
    caller = await authn.authenticate(Req("AKIAUSER000000000000", signed_with=USER_SECRET))
    await authn.settle()
    assert caller.name == "alice" and len(iam.touched) == 1


async def test_root_key(authn: Authenticator) -> None:
    caller = await authn.authenticate(Req("AKIAROOT000000000000", signed_with=ROOT_SECRET))
    assert (caller.kind, caller.arn, caller.user_id) == ("root", f"arn:aws:iam::{ACCT}:root", ACCT)
    assert caller.is_root


@pytest.mark.parametrize("req_, reason", [
    (Req("AKIANOPE000000000000", signed_with=USER_SECRET), "access_key_unknown"),
    (Req("AKIAOFF0000000000000", signed_with=USER_SECRET), "access_key_inactive"),
    (Req("AKIAUSER000000000000", security_token="x", signed_with=USER_SECRET), "token_with_long_term_key"),
], ids=["unknown", "inactive", "token-with-long-term-key"])
async def test_long_term_refusals(authn: Authenticator, req_: Req, reason: str) -> None:
    await refused(authn, req_, InvalidClientTokenId, INVALID_TOKEN, reason)


async def test_wrong_secret_is_signature_mismatch(authn: Authenticator, iam: FakeIam) -> None:
    with pytest.raises(SignatureDoesNotMatch):
        await authn.authenticate(Req("AKIAUSER000000000000", signed_with="wrong"))
    await authn.settle()
    assert iam.touched == []


async def test_key_of_deleted_user(authn: Authenticator, iam: FakeIam) -> None:
    del iam.users["alice"]
    await refused(authn, Req("AKIAUSER000000000000", signed_with=USER_SECRET), InvalidClientTokenId,
                  INVALID_TOKEN, "access_key_user_deleted")


# ---- session credentials ----
async def test_role_session(authn: Authenticator, sessions: SessionStore, iam: FakeIam) -> None:
    token = await issue(sessions, role_session())
    caller = await authn.authenticate(Req("ASIAROLE000000000000", token, signed_with=SESSION_SECRET))
    assert iam.pins == [("sess:ASIAROLE000000000000",)]  # epoch + session: one round trip
    assert caller.kind == "assumed-role"
    assert caller.arn == f"arn:aws:sts::{ACCT}:assumed-role/Deploy/ci"
    assert caller.principal_arn == DEPLOY.arn and caller.name == "Deploy"
    assert caller.session is not None and caller.temporary


async def test_user_and_root_sessions_keep_their_kind(authn: Authenticator, sessions: SessionStore) -> None:
    user = Session("ASIAUSER000000000000", SESSION_SECRET, "user-session", ACCT, ALICE.arn, ALICE.user_id,
                   ALICE.arn, ALICE.user_id, "alice", NOW, NOW + 900)
    root = Session("ASIAROOT000000000000", SESSION_SECRET, "root-session", ACCT, arn.root(ACCT), ACCT,
                   arn.root(ACCT), ACCT, "", NOW, NOW + 900)
    for s, kind in ((user, "user"), (root, "root")):
        token = await issue(sessions, s)
        caller = await authn.authenticate(Req(s.access_key_id, token, signed_with=SESSION_SECRET))
        assert (caller.kind, caller.arn, caller.session) == (kind, s.arn, s)


async def test_missing_token(authn: Authenticator, sessions: SessionStore) -> None:
    await issue(sessions, role_session())
    await refused(authn, Req("ASIAROLE000000000000", None, signed_with=SESSION_SECRET),
                  InvalidClientTokenId, INVALID_TOKEN, "session_token_missing")


async def test_forged_token(authn: Authenticator, sessions: SessionStore) -> None:
    await issue(sessions, role_session())
    forged = SessionTokens(SecretBox(b"f" * 32)).issue("ASIAROLE000000000000", NOW + 3600)
    await refused(authn, Req("ASIAROLE000000000000", forged, signed_with=SESSION_SECRET),
                  InvalidClientTokenId, INVALID_TOKEN, "session_token_not_authentic")


async def test_altered_token(authn: Authenticator, sessions: SessionStore) -> None:
    token = await issue(sessions, role_session())
    raw = bytearray(base64.b64decode(token))
    raw[12] ^= 0x20
    await refused(authn, Req("ASIAROLE000000000000", base64.b64encode(bytes(raw)).decode(),
                             signed_with=SESSION_SECRET), InvalidClientTokenId, INVALID_TOKEN,
                  "session_token_not_authentic")


async def test_token_of_another_key(authn: Authenticator, sessions: SessionStore) -> None:
    await issue(sessions, role_session())
    other = await issue(sessions, role_session("ASIAOTHER00000000000"))
    await refused(authn, Req("ASIAROLE000000000000", other, signed_with=SESSION_SECRET),
                  InvalidClientTokenId, INVALID_TOKEN, "session_token_other_key")


async def test_authentic_token_not_the_one_issued(authn: Authenticator, sessions: SessionStore) -> None:
    await issue(sessions, role_session())
    second = TOKENS.issue("ASIAROLE000000000000", NOW + 3600)  # genuine MAC, never stored
    await refused(authn, Req("ASIAROLE000000000000", second, signed_with=SESSION_SECRET),
                  InvalidClientTokenId, INVALID_TOKEN, "session_token_mismatch")


async def test_unknown_session(authn: Authenticator) -> None:
    token = TOKENS.issue("ASIAGONE000000000000", NOW + 3600)
    await refused(authn, Req("ASIAGONE000000000000", token, signed_with=SESSION_SECRET),
                  InvalidClientTokenId, INVALID_TOKEN, "session_unknown")


async def test_expired_session(authn: Authenticator, sessions: SessionStore, clock: FixedClock) -> None:
    token = await issue(sessions, role_session())
    clock.advance(3600)
    await refused(authn, Req("ASIAROLE000000000000", token, signed_with=SESSION_SECRET),
                  ExpiredToken, EXPIRED_TOKEN, "session_expired")


async def test_session_with_wrong_secret(authn: Authenticator, sessions: SessionStore) -> None:
    token = await issue(sessions, role_session())
    with pytest.raises(SignatureDoesNotMatch):
        await authn.authenticate(Req("ASIAROLE000000000000", token, signed_with=USER_SECRET))


@pytest.mark.parametrize("change", ["deleted", "recreated"])
async def test_role_deleted_or_recreated(authn: Authenticator, sessions: SessionStore, iam: FakeIam,
                                         change: str) -> None:
    token = await issue(sessions, role_session())
    if change == "deleted":
        del iam.roles["Deploy"]
    else:
        iam.roles["Deploy"] = replace(DEPLOY, role_id="AROANEW0000000000000")
    await refused(authn, Req("ASIAROLE000000000000", token, signed_with=SESSION_SECRET),
                  InvalidClientTokenId, INVALID_TOKEN, "session_role_gone")


async def test_user_session_of_deleted_user(authn: Authenticator, sessions: SessionStore, iam: FakeIam) -> None:
    s = Session("ASIAUSER000000000000", SESSION_SECRET, "user-session", ACCT, ALICE.arn, ALICE.user_id,
                ALICE.arn, ALICE.user_id, "alice", NOW, NOW + 900)
    token = await issue(sessions, s)
    del iam.users["alice"]
    await refused(authn, Req(s.access_key_id, token, signed_with=SESSION_SECRET),
                  InvalidClientTokenId, INVALID_TOKEN, "session_user_gone")
