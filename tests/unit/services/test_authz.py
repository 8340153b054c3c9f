"""Authorizer against the real IamStore (Redis db 14) and policy engine."""
from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
import redis.asyncio as aioredis

from app.core import arn
from app.core.clock import FixedClock
from app.core.errors import AccessDenied
from app.core.records import Call, Caller, RequestMeta, Session, Tag
from app.policy import Principal, PrincipalType
from app.policy.document import policy_size
from app.services.authz import Authorizer
from app.store.iam_store import IamStore
from app.store.secretbox import SecretBox
from tests.redis_target import redis_url

URL = redis_url(14)
ACCT = "123456789012"
NOW = float(int(time.time()))


def doc(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def st(effect: str, action: str, resource: str = "*", condition: dict | None = None) -> dict:
    out = {"Effect": effect, "Action": action, "Resource": resource}
    if condition:
        out["Condition"] = condition
    return out


@pytest_asyncio.fixture(loop_scope="function")
async def iam() -> AsyncIterator[IamStore]:
    client = aioredis.Redis.from_url(URL, decode_responses=True)
    await client.flushdb()
    store = IamStore(client, account=ACCT, box=SecretBox(b"z" * 32), clock=FixedClock(NOW))
    yield store
    await client.flushdb()
    await client.aclose()


@pytest.fixture
def authz(iam: IamStore) -> Authorizer:
    return Authorizer(iam, account=ACCT, clock=FixedClock(NOW))


async def put(iam: IamStore, kind: str, name: str, policy: str) -> None:
    await iam.put_inline(kind, name, f"p{policy_size(policy)}", policy, policy_size(policy))


async def user_call(iam: IamStore, name: str = "alice", **kw: object) -> Call:
    user = await iam.create_user(name, **kw)  # type: ignore[arg-type]
    caller = Caller("user", ACCT, user.arn, user.user_id, user.arn, "AKIAX", name=name)
    return Call(caller, RequestMeta("r", NOW, source_ip="10.1.2.3"))


async def role_call(iam: IamStore, *, policy: str | None = None, arns: tuple[str, ...] = (),
                    tags: tuple[Tag, ...] = ()) -> Call:
    role = await iam.create_role("R", trust_policy=doc({"Effect": "Allow", "Principal": {"AWS": ACCT},
                                                          "Action": "sts:AssumeRole"}))
    s = Session("ASIAX", "x" * 40, "assumed-role", ACCT, arn.assumed_role(ACCT, "R", "s"), f"{role.role_id}:s",
                role.arn, role.role_id, "R", NOW, NOW + 3600, session_name="s", session_policy=policy,
                session_policy_arns=arns, tags=tags)
    return Call(Caller("assumed-role", ACCT, s.arn, s.user_id, role.arn, "ASIAX", name="R", session=s),
                RequestMeta("r", NOW))


async def test_root_is_allowed_without_policies(authz: Authorizer) -> None:
    root = Caller("root", ACCT, arn.root(ACCT), ACCT, arn.root(ACCT), "AKIAROOT")
    await authz.require(Call(root, RequestMeta("r", NOW)), "iam:DeleteUser", "*")


async def test_no_policy_is_an_implicit_deny_with_aws_message(iam: IamStore, authz: Authorizer) -> None:
    call = await user_call(iam)
    with pytest.raises(AccessDenied) as err:
        await authz.require(call, "iam:ListUsers", f"arn:aws:iam::{ACCT}:user/")
    assert err.value.message == (
        f"User: arn:aws:iam::{ACCT}:user/alice is not authorized to perform: iam:ListUsers on resource: "
        f"arn:aws:iam::{ACCT}:user/ because no identity-based policy allows the iam:ListUsers action")


async def test_inline_allow_and_explicit_deny(iam: IamStore, authz: Authorizer) -> None:
    call = await user_call(iam)
    await put(iam, "user", "alice", doc(st("Allow", "iam:*")))
    await authz.require(call, "iam:ListUsers", "*")  # takes effect on the very next call
    await put(iam, "user", "alice", doc(st("Deny", "iam:ListUsers")))
    with pytest.raises(AccessDenied) as err:
        await authz.require(call, "iam:ListUsers", "*")
    assert err.value.message.endswith("with an explicit deny in an identity-based policy")


async def test_group_and_managed_policies_count(iam: IamStore, authz: Authorizer) -> None:
    call = await user_call(iam)
    pol = await iam.create_policy("List", document=doc(st("Allow", "iam:ListRoles")))
    await iam.create_group("devs")
    await iam.attach("group", "devs", pol.arn)
    await iam.add_user_to_group("devs", "alice")
    await authz.require(call, "iam:ListRoles", "*")


async def test_boundary_limits_and_is_named(iam: IamStore, authz: Authorizer) -> None:
    boundary = await iam.create_policy("B", document=doc(st("Allow", "iam:GetUser")))
    call = await user_call(iam, boundary_arn=boundary.arn)
    await put(iam, "user", "alice", doc(st("Allow", "iam:*")))
    await authz.require(call, "iam:GetUser", "*")
    with pytest.raises(AccessDenied) as err:
        await authz.require(call, "iam:ListUsers", "*")
    assert err.value.message.endswith("because no permissions boundary allows the iam:ListUsers action")


async def test_context_keys_reach_conditions(iam: IamStore, authz: Authorizer) -> None:
    call = await user_call(iam, tags=[Tag("dept", "eng")])
    await put(iam, "user", "alice", doc(
        st("Allow", "iam:GetUser", condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/8"},
                                              "StringEquals": {"aws:PrincipalTag/dept": "eng",
                                                               "aws:username": "alice"}}),
        st("Allow", "iam:TagUser", condition={"StringEquals": {"aws:ResourceTag/owner": "${aws:username}"}})))
    await authz.require(call, "iam:GetUser", "*")
    await authz.require(call, "iam:TagUser", "*", resource_tags=[Tag("owner", "alice")])
    with pytest.raises(AccessDenied):
        await authz.require(call, "iam:TagUser", "*", resource_tags=[Tag("owner", "bob")])


async def test_role_session_policy_and_deleted_managed_session_policy(iam: IamStore, authz: Authorizer) -> None:
    sp = await iam.create_policy("SP", document=doc(st("Allow", "iam:GetRole")))
    call = await role_call(iam, arns=(sp.arn,))
    await put(iam, "role", "R", doc(st("Allow", "iam:*")))
    await authz.require(call, "iam:GetRole", "*")
    with pytest.raises(AccessDenied) as err:
        await authz.require(call, "iam:ListRoles", "*")
    assert err.value.message.endswith("because no session policy allows the iam:ListRoles action")
    await iam.delete_policy(sp.arn)
    with pytest.raises(AccessDenied):  # still narrowed: to nothing, never widened
        await authz.require(call, "iam:GetRole", "*")


async def test_deleted_principal_gets_nothing(iam: IamStore, authz: Authorizer) -> None:
    call = await user_call(iam)
    policy = doc(st("Allow", "*"))
    await iam.put_inline("user", "alice", "all", policy, policy_size(policy))
    await authz.require(call, "iam:ListUsers", "*")
    await iam.delete_inline("user", "alice", "all")
    await iam.delete_user("alice")
    with pytest.raises(AccessDenied):
        await authz.require(call, "iam:ListUsers", "*")


async def test_decide_with_trust_policy_and_federated_principal(iam: IamStore, authz: Authorizer) -> None:
    provider = f"arn:aws:iam::{ACCT}:saml-provider/Okta"
    trust = doc({"Effect": "Allow", "Principal": {"Federated": provider}, "Action": "sts:AssumeRoleWithSAML",
                 "Condition": {"StringEquals": {"saml:aud": "https://tessera/saml"}}})
    call = Call(None, RequestMeta("r", NOW))
    principal = Principal(PrincipalType.FEDERATED, provider, None)
    role_arn = arn.role(ACCT, "/", "R")
    ok = await authz.decide(call, "sts:AssumeRoleWithSAML", role_arn, context={"saml:aud": "https://tessera/saml"},
                            resource_policy=trust, resource_requires_grant=True, principal=principal)
    assert ok.allowed
    bad = await authz.decide(call, "sts:AssumeRoleWithSAML", role_arn, context={"saml:aud": "https://evil/saml"},
                             resource_policy=trust, resource_requires_grant=True, principal=principal)
    assert not bad.allowed


# ---- GetFederationToken sessions: the caller's policies intersected with the session policy ----
def federated_call(principal_arn: str, principal_id: str, principal_name: str, policy: str | None) -> Call:
    s = Session("ASIAF", "x" * 40, "federated-user", ACCT, arn.federated_user(ACCT, "fed"), f"{ACCT}:fed",
                principal_arn, principal_id, principal_name, NOW, NOW + 3600, session_name="fed",
                session_policy=policy)
    caller = Caller("federated-user", ACCT, s.arn, s.user_id, principal_arn, "ASIAF", name=principal_name, session=s)
    return Call(caller, RequestMeta("r", NOW))


async def test_a_federated_session_is_the_intersection_of_user_and_session_policies(
        iam: IamStore, authz: Authorizer) -> None:
    user_call_ = await user_call(iam)
    alice = user_call_.caller
    assert alice is not None
    await put(iam, "user", "alice", doc(st("Allow", "s3:GetObject"), st("Allow", "s3:PutObject")))
    both = federated_call(alice.arn, alice.user_id, "alice", doc(st("Allow", "s3:GetObject"), st("Allow", "ec2:*")))
    assert (await authz.decide(both, "s3:GetObject", "*")).allowed
    assert not (await authz.decide(both, "s3:PutObject", "*")).allowed  # not in the session policy
    assert not (await authz.decide(both, "ec2:RunInstances", "*")).allowed  # not in the user's policies
    bare = federated_call(alice.arn, alice.user_id, "alice", None)
    assert not (await authz.decide(bare, "s3:GetObject", "*")).allowed  # no session policy: nothing


async def test_a_root_federated_session_is_its_session_policy(authz: Authorizer) -> None:
    fed = federated_call(arn.root(ACCT), ACCT, "", doc(st("Allow", "s3:GetObject")))
    assert (await authz.decide(fed, "s3:GetObject", "*")).allowed
    assert not (await authz.decide(fed, "s3:PutObject", "*")).allowed
    assert not (await authz.decide(federated_call(arn.root(ACCT), ACCT, "", None), "s3:GetObject", "*")).allowed
