"""StsService end to end below the wire: real IamStore, SessionStore, policy engine, Redis db 14."""
from __future__ import annotations

import json
import os
import string
import time
from dataclasses import dataclass, replace

import pytest
import pytest_asyncio
import redis.asyncio as aioredis

from app.core.clock import FixedClock
from app.core.errors import (AccessDenied, InvalidParameterValue, MalformedPolicyDocument, PackedPolicyTooLarge,
                             ServiceUnavailable, SignatureDoesNotMatch, ValidationError)
from app.core.records import Call, Caller, Credentials, RequestMeta, RoleLastUsed, Tag
from app.policy.document import policy_size
from app.services.authn import Authenticator
from app.services.authz import Authorizer
from app.services.last_used import RoleUsage
from app.services.role_session import RoleSessionRequest
from app.services.sts import CHAINED_LIMIT, OVER_MAX, ROOT_REFUSED, SESSION_CREDS_REFUSED, StsService
from app.services.tokens import SessionTokens
from app.store.iam_cache import CachedIamReads
from app.store.iam_store import IamStore
from app.store.keys import Keys
from app.store.role_usage import RoleUsageStore
from app.store.secretbox import SecretBox
from app.store.sessions import SessionStore
from tests.redis_target import redis_url

URL = redis_url(14)
ACCT = "123456789012"
NOW = float(int(time.time()))
BOX = SecretBox(b"s" * 32)
ALICE = f"arn:aws:iam::{ACCT}:user/alice"


def trust(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(principal: object, actions: object = "sts:AssumeRole", condition: dict | None = None) -> dict:
    st = {"Effect": "Allow", "Principal": {"AWS": principal}, "Action": actions}
    if condition:
        st["Condition"] = condition
    return st


def identity(actions: object, resource: str = "*") -> str:
    return json.dumps({"Version": "2012-10-17",
                       "Statement": [{"Effect": "Allow", "Action": actions, "Resource": resource}]})


@dataclass
class Req:
    access_key_id: str
    security_token: str | None
    secret: str
    region: str = "us-east-1"
    service: str = "sts"

    def verify(self, secret_access_key: str) -> None:
        if secret_access_key != self.secret:
            raise SignatureDoesNotMatch("mismatch")


@dataclass
class World:
    iam: IamStore
    sessions: SessionStore
    sts: StsService
    authn: Authenticator
    authz: Authorizer
    clock: FixedClock
    keys: dict[str, tuple[str, str]]

    async def call(self, who: str | Credentials) -> Call:
        if isinstance(who, Credentials):
            req = Req(who.access_key_id, who.session_token, who.secret_access_key)
        else:
            akid, secret = self.keys[who]
            req = Req(akid, None, secret)
        caller: Caller = await self.authn.authenticate(req)
        return Call(caller, RequestMeta("req-1", self.clock.time(), source_ip="10.0.0.1", region="us-east-1"))

    async def assume(self, who: str | Credentials, role: str, **kw: object) -> dict:
        return await self.sts.assume_role(await self.call(who), role_arn=f"arn:aws:iam::{ACCT}:role/{role}",
                                          role_session_name=kw.pop("name", "s1"), **kw)  # type: ignore[arg-type]


@pytest_asyncio.fixture(loop_scope="function")
async def w(redis: aioredis.Redis) -> World:
    clock = FixedClock(NOW)
    iam = IamStore(redis, account=ACCT, box=BOX, clock=clock)
    sessions = SessionStore(redis, box=BOX, clock=clock)
    tokens = SessionTokens(BOX)
    reads = CachedIamReads(iam, redis, Keys(ACCT))  # as bootstrap wires it: cached hot-path reads
    authz = Authorizer(reads, account=ACCT, clock=clock)
    world = World(iam, sessions, StsService(reads, sessions, tokens, authz, account=ACCT, clock=clock),
                  Authenticator(reads, sessions, tokens, account=ACCT, clock=clock), authz, clock, {})
    for name in ("alice", "bob"):
        await iam.create_user(name)
        key = await iam.create_access_key(name)
        world.keys[name] = (key.access_key_id, key.secret_access_key or "")
    root = await iam.create_access_key("")
    world.keys["root"] = (root.access_key_id, root.secret_access_key or "")
    await iam.create_role("Direct", trust_policy=trust(allow(ALICE)), max_session_duration=7200)
    await iam.create_role("Account", trust_policy=trust(allow(f"arn:aws:iam::{ACCT}:root")))
    await iam.create_role("External", trust_policy=trust(allow(ALICE, condition={
        "StringEquals": {"sts:ExternalId": "ext-123"}})))
    await iam.create_role("Tagging", trust_policy=trust(allow(ALICE, ["sts:AssumeRole", "sts:TagSession"])),
                          tags=[Tag("team", "red"), Tag("tier", "1")])
    await iam.create_role("Sourcing", trust_policy=trust(allow(ALICE, ["sts:AssumeRole", "sts:SetSourceIdentity"])))
    await iam.create_role("Chained", trust_policy=trust(allow(
        [f"arn:aws:iam::{ACCT}:role/Direct", f"arn:aws:iam::{ACCT}:role/Tagging",
         f"arn:aws:iam::{ACCT}:role/Sourcing", ALICE],
        ["sts:AssumeRole", "sts:TagSession", "sts:SetSourceIdentity"])), max_session_duration=43200)
    policy = identity(["iam:GetUser", "iam:ListUsers", "sts:AssumeRole"])
    await iam.put_inline("role", "Direct", "p", policy, policy_size(policy))
    return world


# ---- AssumeRole: success path ----
async def test_assume_role_issues_stored_credentials(w: World, redis: aioredis.Redis) -> None:
    out = await w.assume("alice", "Direct", name="deploy-1")
    creds: Credentials = out["credentials"]
    assert creds.access_key_id.startswith("ASIA") and len(creds.access_key_id) == 20
    assert len(creds.secret_access_key) == 40
    assert creds.expiration == NOW + 3600
    role = await w.iam.get_role("Direct")
    assert role is not None
    assert out["assumed_role_user"].arn == f"arn:aws:sts::{ACCT}:assumed-role/Direct/deploy-1"
    assert out["assumed_role_user"].assumed_role_id == f"{role.role_id}:deploy-1"
    assert out["packed_policy_size"] is None and out["source_identity"] is None
    assert await redis.pexpiretime(Keys.session(creds.access_key_id)) == int((NOW + 3600) * 1000)
    ident = await w.sts.get_caller_identity(await w.call(creds))
    assert ident == {"user_id": f"{role.role_id}:deploy-1", "account": ACCT,
                     "arn": f"arn:aws:sts::{ACCT}:assumed-role/Direct/deploy-1"}


async def test_store_failure_returns_nothing(w: World) -> None:
    dead = aioredis.Redis.from_url("redis://127.0.0.1:1/0", decode_responses=True, socket_connect_timeout=0.5)
    w.sts._sessions = SessionStore(dead, box=BOX, clock=w.clock)  # only the session write fails
    with pytest.raises(ServiceUnavailable):
        await w.assume("alice", "Direct")
    await dead.aclose()


# ---- trust ----
async def test_trust_denies_unnamed_user(w: World) -> None:
    with pytest.raises(AccessDenied) as err:
        await w.assume("bob", "Direct")
    assert err.value.message == (f"User: arn:aws:iam::{ACCT}:user/bob is not authorized to perform: "
                                 f"sts:AssumeRole on resource: arn:aws:iam::{ACCT}:role/Direct")


async def test_unknown_role_looks_like_a_denial(w: World) -> None:
    with pytest.raises(AccessDenied):
        await w.assume("alice", "Nope")
    with pytest.raises(AccessDenied):  # wrong path
        await w.sts.assume_role(await w.call("alice"), role_arn=f"arn:aws:iam::{ACCT}:role/x/Direct",
                                role_session_name="s")


async def test_account_trust_needs_an_identity_policy(w: World) -> None:
    with pytest.raises(AccessDenied):
        await w.assume("alice", "Account")
    policy = identity("sts:AssumeRole", f"arn:aws:iam::{ACCT}:role/Account")
    await w.iam.put_inline("user", "alice", "assume", policy, policy_size(policy))
    out = await w.assume("alice", "Account")
    assert out["credentials"].access_key_id.startswith("ASIA")


async def test_root_may_not_assume_roles(w: World) -> None:
    with pytest.raises(AccessDenied) as err:
        await w.assume("root", "Direct")
    assert err.value.message == ROOT_REFUSED


@pytest.mark.parametrize("external_id, ok", [(None, False), ("wrong", False), ("ext-123", True)])
async def test_external_id(w: World, external_id: str | None, ok: bool) -> None:
    if ok:
        await w.assume("alice", "External", external_id=external_id)
    else:
        with pytest.raises(AccessDenied):
            await w.assume("alice", "External", external_id=external_id)


# ---- duration ----
async def test_duration_bounds(w: World) -> None:
    out = await w.assume("alice", "Direct", duration_seconds=7200)
    assert out["credentials"].expiration == NOW + 7200
    with pytest.raises(ValidationError) as err:
        await w.assume("alice", "Direct", duration_seconds=7201)
    assert err.value.message == OVER_MAX
    with pytest.raises(ValidationError):
        await w.assume("alice", "Direct", duration_seconds=899)
    out = await w.assume("alice", "Direct", duration_seconds=900)
    assert out["credentials"].expiration == NOW + 900


async def test_role_chaining_is_capped_at_one_hour(w: World) -> None:
    first = (await w.assume("alice", "Direct"))["credentials"]
    with pytest.raises(ValidationError) as err:
        await w.assume(first, "Chained", duration_seconds=3601)
    assert err.value.message == CHAINED_LIMIT
    second = await w.assume(first, "Chained", duration_seconds=3600)
    found = await w.sessions.get(second["credentials"].access_key_id)
    assert found is not None and found[0].chained


# ---- session policies ----
async def test_session_policy_narrows_the_role(w: World) -> None:
    creds = (await w.assume("alice", "Direct", policy=identity("iam:GetUser")))["credentials"]
    call = await w.call(creds)
    await w.authz.require(call, "iam:GetUser", f"arn:aws:iam::{ACCT}:user/bob")
    with pytest.raises(AccessDenied) as err:
        await w.authz.require(call, "iam:ListUsers", "*")
    assert err.value.message.endswith("because no session policy allows the iam:ListUsers action")
    plain = await w.call((await w.assume("alice", "Direct"))["credentials"])
    await w.authz.require(plain, "iam:ListUsers", "*")


async def test_managed_session_policy(w: World) -> None:
    pol = await w.iam.create_policy("OnlyList", document=identity("iam:ListUsers"))
    out = await w.assume("alice", "Direct", policy_arns=[{"arn": pol.arn}])
    assert isinstance(out["packed_policy_size"], int) and 0 < out["packed_policy_size"] <= 100
    call = await w.call(out["credentials"])
    await w.authz.require(call, "iam:ListUsers", "*")
    with pytest.raises(AccessDenied):
        await w.authz.require(call, "iam:GetUser", "*")


async def test_session_policy_limits(w: World) -> None:
    with pytest.raises(MalformedPolicyDocument):
        await w.assume("alice", "Direct", policy='{"Version":"2012-10-17","Statement":[{"Effect":"Maybe"}]}')
    with pytest.raises(ValidationError):
        await w.assume("alice", "Direct", policy_arns=[{"arn": f"arn:aws:iam::{ACCT}:policy/p{i}"} for i in range(11)])
    with pytest.raises(ValidationError):
        await w.assume("alice", "Direct", policy_arns=[{"arn": f"arn:aws:iam::{ACCT}:policy/Missing"}])
    with pytest.raises(ValidationError) as err:  # the model's descriptor may come without its `arn`
        await w.assume("alice", "Direct", policy_arns=[{"arn": "arn:aws:iam::aws:policy/ReadOnlyAccess"}, {}])
    assert err.value.message == ("1 validation error detected: Value null at 'policyArns.2.member.arn' "
                                 "failed to satisfy constraint: Member must not be null")
    big = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::bucket-{i:04d}/*"}
        for i in range(40)]})
    assert policy_size(big) > 2048
    with pytest.raises(ValidationError):
        await w.assume("alice", "Direct", policy=big)


async def test_packed_policy_too_large(w: World) -> None:
    import random
    rnd = random.Random(7)
    tags = [{"Key": f"k{i}-" + "".join(rnd.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(100)),
             "Value": "".join(rnd.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(200))}
            for i in range(50)]
    with pytest.raises(PackedPolicyTooLarge) as err:
        await w.assume("alice", "Tagging", tags=tags)
    # AWS's texts (repost.aws knowledge-center/iam-role-aws-sts-error) name the part over the limit
    assert err.value.message.startswith("Packed size of session tags consumes ")
    assert err.value.message.endswith("% of allotted space.")
    # tags under the limit alone, over it with an inline policy of incompressible text: the policy
    policy = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject",
                         "Resource": "arn:aws:s3:::" + "".join(rnd.choice(string.ascii_letters) for _ in range(1800))}]})
    with pytest.raises(PackedPolicyTooLarge) as err:
        await w.assume("alice", "Tagging", tags=tags[:6], policy=policy)
    assert err.value.message.startswith("Packed policy consumes ")
    assert err.value.message.endswith("% of allotted space, please use smaller policy.")


# ---- tags ----
async def test_tags_need_tag_session(w: World) -> None:
    with pytest.raises(AccessDenied) as err:
        await w.assume("alice", "Direct", tags=[{"Key": "project", "Value": "x"}])
    assert "sts:TagSession" in err.value.message
    out = await w.assume("alice", "Tagging", tags=[{"Key": "Team", "Value": "blue"}],
                         transitive_tag_keys=["Team"])
    assert out["packed_policy_size"] is not None
    creds = out["credentials"]
    found = await w.sessions.get(creds.access_key_id)
    assert found is not None and found[0].tags == (Tag("Team", "blue"),)
    # the session tag overrides the role's `team` tag (keys case-insensitive) in aws:PrincipalTag
    policy = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iam:GetUser",
                         "Resource": "*", "Condition": {"StringEquals": {"aws:PrincipalTag/team": "blue"}}}]})
    await w.iam.put_inline("role", "Tagging", "p", policy, policy_size(policy))
    await w.authz.require(await w.call(creds), "iam:GetUser", "*")


@pytest.mark.parametrize("tags, keys, error, message", [
    ([{"Key": "aws:x", "Value": "1"}], None, ValidationError, "session tag key `aws:x` may not start with `aws:`"),
    # AWS's code and text (recorded against AWS in LocalStack's STS tests, test_assume_role_tag_validation)
    ([{"Key": "a", "Value": "1"}, {"Key": "A", "Value": "2"}], None, InvalidParameterValue,
     "Duplicate tag keys found. Please note that Tag keys are case insensitive."),
    ([{"Key": "a", "Value": "1"}], ["b"], InvalidParameterValue,
     "The specified transitive tag key must be included in the requested tags."),
])
async def test_bad_tags(w: World, tags: list, keys: list | None, error: type, message: str) -> None:
    with pytest.raises(error) as err:
        await w.assume("alice", "Tagging", tags=tags, transitive_tag_keys=keys)
    assert err.value.message == message


async def test_transitive_tags_are_inherited_and_not_overridable(w: World) -> None:
    first = (await w.assume("alice", "Tagging", tags=[{"Key": "proj", "Value": "x"}, {"Key": "tmp", "Value": "y"}],
                            transitive_tag_keys=["proj"]))["credentials"]
    second = await w.assume(first, "Chained")
    found = await w.sessions.get(second["credentials"].access_key_id)
    assert found is not None
    assert found[0].tags == (Tag("proj", "x"),) and found[0].transitive_tag_keys == ("proj",)
    with pytest.raises(InvalidParameterValue) as err:  # AWS's answer (LocalStack's recorded STS tests)
        await w.assume(first, "Chained", tags=[{"Key": "PROJ", "Value": "z"}])
    assert err.value.message == ("One of the specified transitive tag keys can't be set because it conflicts "
                                 "with a transitive tag key from the calling session.")


# ---- source identity ----
async def test_source_identity_needs_permission_and_is_inherited(w: World) -> None:
    with pytest.raises(AccessDenied) as err:
        await w.assume("alice", "Direct", source_identity="alice")
    assert "sts:SetSourceIdentity" in err.value.message
    out = await w.assume("alice", "Sourcing", source_identity="alice")
    assert out["source_identity"] == "alice"
    first = out["credentials"]
    chained = await w.assume(first, "Chained")
    assert chained["source_identity"] == "alice"
    with pytest.raises(ValidationError):
        await w.assume(first, "Chained", source_identity="mallory")
    with pytest.raises(AccessDenied):  # Direct's trust does not allow sts:SetSourceIdentity
        await w.assume(first, "Direct")


# ---- GetSessionToken / GetCallerIdentity / GetAccessKeyInfo ----
async def test_get_session_token(w: World) -> None:
    creds = (await w.sts.get_session_token(await w.call("alice")))["credentials"]
    assert creds.expiration == NOW + 43200
    ident = await w.sts.get_caller_identity(await w.call(creds))
    user = await w.iam.get_user("alice")
    assert user is not None and ident == {"user_id": user.user_id, "account": ACCT, "arn": ALICE}
    with pytest.raises(AccessDenied) as err:
        await w.sts.get_session_token(await w.call(creds))
    assert err.value.message == SESSION_CREDS_REFUSED
    role_creds = (await w.assume("alice", "Direct"))["credentials"]
    with pytest.raises(AccessDenied):
        await w.sts.get_session_token(await w.call(role_creds))


async def test_session_token_without_mfa_cannot_call_iam(w: World) -> None:
    policy = identity(["iam:*", "sts:*"])
    await w.iam.put_inline("user", "alice", "all", policy, policy_size(policy))
    await w.authz.require(await w.call("alice"), "iam:ListUsers", "*")
    call = await w.call((await w.sts.get_session_token(await w.call("alice")))["credentials"])
    with pytest.raises(AccessDenied) as err:
        await w.authz.require(call, "iam:ListUsers", "*")
    assert "without MFA cannot call IAM" in err.value.message
    with pytest.raises(AccessDenied):
        await w.authz.require(call, "sts:GetAccessKeyInfo", "*")
    await w.authz.require(call, "sts:AssumeRole", f"arn:aws:iam::{ACCT}:role/Direct")


async def test_root_session_token_is_capped_at_one_hour(w: World) -> None:
    creds = (await w.sts.get_session_token(await w.call("root"), duration_seconds=129600))["credentials"]
    assert creds.expiration == NOW + 3600
    ident = await w.sts.get_caller_identity(await w.call(creds))
    assert ident == {"user_id": ACCT, "account": ACCT, "arn": f"arn:aws:iam::{ACCT}:root"}


async def test_caller_identity_is_never_denied(w: World) -> None:
    deny = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*"}]})
    await w.iam.put_inline("user", "bob", "deny", deny, policy_size(deny))
    assert (await w.sts.get_caller_identity(await w.call("bob")))["arn"] == f"arn:aws:iam::{ACCT}:user/bob"


async def test_get_access_key_info(w: World) -> None:
    with pytest.raises(AccessDenied):
        await w.sts.get_access_key_info(await w.call("bob"), access_key_id=w.keys["alice"][0])
    assert await w.sts.get_access_key_info(await w.call("root"), access_key_id="AKIAUNKNOWN000000000") == {
        "account": ACCT}


# ---- RoleLastUsed: recorded by the shared role-session path, outside the IAM epoch ----
async def test_assume_role_records_role_last_used_without_moving_the_iam_epoch(w: World,
                                                                              redis: aioredis.Redis) -> None:
    w.sts._usage = RoleUsage(RoleUsageStore(redis, Keys(ACCT)), w.clock)  # as bootstrap wires it

    async def assume(region: str, role: str = "Direct", **kw: object) -> None:
        call = await w.call("alice")
        await w.sts.assume_role(replace(call, meta=replace(call.meta, region=region)),
                                role_arn=f"arn:aws:iam::{ACCT}:role/{role}", role_session_name="s1", **kw)  # type: ignore[arg-type]

    async def last_used(role: str = "Direct") -> RoleLastUsed | None:
        found = await w.iam.get_role(role)
        return found.role_last_used if found else None

    assert await last_used() == RoleLastUsed()
    epoch = await redis.get(Keys(ACCT).epoch())
    await assume("ap-south-1")
    assert await last_used() == RoleLastUsed(NOW, "ap-south-1")
    assert await redis.get(Keys(ACCT).epoch()) == epoch  # the hot path's caches stay warm
    [detail] = await w.iam.role_details(["direct"])
    assert detail.role_last_used == RoleLastUsed(NOW, "ap-south-1")
    w.clock.advance(59)
    await assume("eu-west-1")  # within the minute: no write
    assert await last_used() == RoleLastUsed(NOW, "ap-south-1")
    w.clock.advance(1)
    await assume("eu-west-1")
    assert await last_used() == RoleLastUsed(NOW + 60, "eu-west-1")
    with pytest.raises(AccessDenied):  # refused by the trust policy: not a use
        await assume("eu-west-1", "External")
    assert await last_used("External") == RoleLastUsed()


async def test_a_role_session_dry_run_is_not_noted_for_access_advisor(w: World, redis: aioredis.Redis) -> None:
    """The role picker asks `role_session_refusal` for every role it lists: an allowed answer is
    no AssumeRole the user attempted, so access advisor must not count it; the AssumeRole is."""
    noted: list[tuple[str, str]] = []

    class Notes:
        def note(self, caller: Caller, action: str, region: str | None) -> None:
            noted.append((caller.arn, action))

    reads = CachedIamReads(w.iam, redis, Keys(ACCT))
    authz = Authorizer(reads, account=ACCT, clock=w.clock, usage=Notes())
    sts = StsService(reads, w.sessions, SessionTokens(BOX), authz, account=ACCT, clock=w.clock)
    call = await w.call("alice")
    req = RoleSessionRequest(role_arn=f"arn:aws:iam::{ACCT}:role/Direct", session_name="s1", duration_seconds=None)
    assert await sts.role_session_refusal(call, req) is None
    assert noted == []
    await sts.issue_role_session(call, req)
    assert noted == [(ALICE, "sts:AssumeRole")]


async def test_a_session_s_key_material_is_one_draw_of_the_injected_randomness(w: World, redis: aioredis.Redis) -> None:
    """The access key id, its secret and the token's nonce come from one call of `rng` (one
    system call in production), and the credentials work."""
    draws: list[int] = []

    class Counting:
        def token_bytes(self, n: int) -> bytes:
            draws.append(n)
            return os.urandom(n)

    reads = CachedIamReads(w.iam, redis, Keys(ACCT))
    sts = StsService(reads, w.sessions, SessionTokens(BOX), w.authz, account=ACCT, clock=w.clock, rng=Counting())
    req = RoleSessionRequest(role_arn=f"arn:aws:iam::{ACCT}:role/Direct", session_name="s1", duration_seconds=None)
    creds = (await sts.issue_role_session(await w.call("alice"), req)).credentials
    assert draws == [16 + 30 + 16]
    assert (await w.call(creds)).caller is not None
