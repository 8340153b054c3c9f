"""IamService against a real Redis (db 15) with a recording test double of the Authorizer."""
from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest
import redis.asyncio as aioredis

from app.core import arn
from app.core.clock import FixedClock
from app.core.errors import (
    AccessDenied,
    DeleteConflict,
    EntityAlreadyExists,
    InvalidInput,
    LimitExceeded,
    MalformedPolicyDocument,
    NoSuchEntity,
    ValidationError,
)
from app.core.records import (
    AccessKey,
    AccessKeyLastUsed,
    Call,
    Caller,
    ManagedPolicyDetail,
    RequestMeta,
    Role,
    RootUser,
    Tag,
    User,
)
from app.services.iam import IamService
from app.store.iam_store import IamStore
from app.store.secretbox import SecretBox
from tests.redis_target import redis_url

URL = redis_url(15)
ACCT = "123456789012"
NOW = 1_700_000_000.0
DOC = '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}'
DOC2 = '{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*"}]}'
TRUST = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCT}:root"}, "Action": "sts:AssumeRole"}]})
META = RequestMeta(request_id="r-1", received_at=NOW)
ROOT = Call(Caller("root", ACCT, arn.root(ACCT), ACCT, arn.root(ACCT), "AKIAROOT"), META)
ALICE = Call(Caller("user", ACCT, arn.user(ACCT, "/", "alice"), "AIDAX", arn.user(ACCT, "/", "alice"),
                    "AKIAALICE", name="alice"), META)
ROLE_SESSION = Call(Caller("assumed-role", ACCT, arn.assumed_role(ACCT, "R", "s"), "AROAX:s",
                           arn.role(ACCT, "/", "R"), "ASIAX", name="R"), META)


@dataclass
class Authz:
    """Allows everything except the listed actions; records every check."""

    deny: set[str] = field(default_factory=set)
    calls: list[tuple[str, str, dict[str, Any], tuple[Tag, ...]]] = field(default_factory=list)

    async def require(self, call: Call, action: str, resource: str, *,
                      context: Mapping[str, str | list[str]] | None = None,
                      resource_tags: Sequence[Tag] = ()) -> None:
        self.calls.append((action, resource, dict(context or {}), tuple(resource_tags)))
        if action in self.deny:
            raise AccessDenied(f"not authorized to perform: {action} on resource: {resource}")


@pytest.fixture
def authz() -> Authz:
    return Authz()


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
def store(redis: aioredis.Redis, clock: FixedClock) -> IamStore:
    return IamStore(redis, account=ACCT, box=SecretBox(b"m" * 32), clock=clock)


@pytest.fixture
def iam(store: IamStore, authz: Authz, clock: FixedClock) -> IamService:
    return IamService(store, authz, account=ACCT, clock=clock)


async def make_policy(iam: IamService, name: str = "P", doc: str = DOC, path: str = "/") -> str:
    out = await iam.create_policy(ROOT, policy_name=name, policy_document=doc, path=path)
    return str(out["policy"].arn)


# ---- authorization happens first, with the right action, resource and context ----
async def test_authorization_precedes_existence(iam: IamService, authz: Authz) -> None:
    authz.deny = {"iam:GetUser"}
    with pytest.raises(AccessDenied):
        await iam.get_user(ALICE, user_name="ghost")
    assert authz.calls[-1][:2] == ("iam:GetUser", arn.user(ACCT, "/", "ghost"))
    authz.deny = set()
    with pytest.raises(NoSuchEntity, match="ghost"):
        await iam.get_user(ALICE, user_name="ghost")


async def test_denied_create_writes_nothing(iam: IamService, authz: Authz, store: IamStore) -> None:
    authz.deny = {"iam:CreateUser"}
    with pytest.raises(AccessDenied):
        await iam.create_user(ALICE, user_name="bob")
    assert await store.get_user("bob") is None


async def test_request_context_keys(iam: IamService, authz: Authz) -> None:
    bnd = await make_policy(iam, "Bnd")
    await iam.create_user(ROOT, user_name="bob", path="/eng/", permissions_boundary=bnd,
                          tags=[{"Key": "team", "Value": "x"}])
    action, resource, ctx, _ = authz.calls[-1]
    assert (action, resource) == ("iam:CreateUser", arn.user(ACCT, "/eng/", "bob"))
    assert ctx == {"aws:RequestTag/team": "x", "aws:TagKeys": ["team"],
                   "iam:PermissionsBoundary": bnd}
    pol = await make_policy(iam, "P")
    await iam.attach_user_policy(ROOT, user_name="bob", policy_arn=pol)
    action, resource, ctx, tags = authz.calls[-1]
    assert (action, resource) == ("iam:AttachUserPolicy", arn.user(ACCT, "/eng/", "bob"))
    assert ctx == {"iam:PolicyARN": pol, "iam:PermissionsBoundary": bnd}
    assert tags == (Tag("team", "x"),)
    await iam.untag_user(ROOT, user_name="bob", tag_keys=["team"])
    assert authz.calls[-1][2] == {"aws:TagKeys": ["team"]}


# ---- users ----
async def test_user_crud(iam: IamService) -> None:
    out = await iam.create_user(ROOT, user_name="Alice", path="/eng/",
                                tags=[{"Key": "b", "Value": "2"}, {"Key": "a", "Value": "1"}])
    user = out["user"]
    assert isinstance(user, User) and user.user_id.startswith("AIDA")
    assert user.tags == (Tag("a", "1"), Tag("b", "2"))  # sorted by key on create
    with pytest.raises(EntityAlreadyExists):
        await iam.create_user(ROOT, user_name="ALICE")
    assert (await iam.get_user(ROOT, user_name="alice"))["user"] == user
    await iam.update_user(ROOT, user_name="alice", new_user_name="Alicia", new_path="/ops/")
    got = (await iam.get_user(ROOT, user_name="alicia"))["user"]
    assert got.arn == arn.user(ACCT, "/ops/", "Alicia") and got.user_id == user.user_id
    await iam.delete_user(ROOT, user_name="alicia")
    with pytest.raises(NoSuchEntity):
        await iam.delete_user(ROOT, user_name="alicia")


async def test_get_user_defaults_to_the_caller(iam: IamService, store: IamStore) -> None:
    await iam.create_user(ROOT, user_name="alice")
    assert (await iam.get_user(ALICE))["user"].user_name == "alice"
    await store.ensure_root_access_key("AKIAROOT000000000000", "r" * 40)
    root = (await iam.get_user(ROOT))["user"]
    assert root == RootUser(user_id=ACCT, arn=f"arn:aws:iam::{ACCT}:root", create_date=NOW)
    with pytest.raises(ValidationError, match="Must specify userName when calling with "
                                              "non-User credentials"):
        await iam.get_user(ROLE_SESSION)


async def test_user_tags(iam: IamService) -> None:
    await iam.create_user(ROOT, user_name="u", tags=[{"Key": "Env", "Value": "a"}])
    await iam.tag_user(ROOT, user_name="u", tags=[{"Key": "env", "Value": "b"},
                                                  {"Key": "x", "Value": ""}])
    out = await iam.list_user_tags(ROOT, user_name="u")
    assert out == {"tags": [Tag("env", "b"), Tag("x", "")], "is_truncated": False, "marker": None}
    await iam.untag_user(ROOT, user_name="u", tag_keys=["ENV"])
    assert (await iam.list_user_tags(ROOT, user_name="u"))["tags"] == [Tag("x", "")]
    with pytest.raises(InvalidInput, match="Duplicate tag keys"):
        await iam.tag_user(ROOT, user_name="u", tags=[{"Key": "a", "Value": "1"},
                                                      {"Key": "A", "Value": "2"}])
    with pytest.raises(InvalidInput, match="aws:"):
        await iam.tag_user(ROOT, user_name="u", tags=[{"Key": "aws:x", "Value": "1"}])
    many = [{"Key": f"k{i}", "Value": ""} for i in range(50)]
    with pytest.raises(LimitExceeded):
        await iam.tag_user(ROOT, user_name="u", tags=many)  # 50 new + 1 existing
    with pytest.raises(NoSuchEntity):
        await iam.tag_user(ROOT, user_name="nobody", tags=[{"Key": "a", "Value": "b"}])


async def test_list_users_filters_and_pages(iam: IamService) -> None:
    bnd = await make_policy(iam, "B")
    for name, path in (("c", "/eng/"), ("A", "/eng/sub/"), ("b", "/ops/")):
        await iam.create_user(ROOT, user_name=name, path=path, permissions_boundary=bnd,
                              tags=[{"Key": "t", "Value": "v"}])
    out = await iam.list_users(ROOT, path_prefix="/eng/")
    assert [u.user_name for u in out["users"]] == ["A", "c"]
    page1 = await iam.list_users(ROOT, max_items=2)
    assert [u.user_name for u in page1["users"]] == ["A", "b"] and page1["is_truncated"]
    page2 = await iam.list_users(ROOT, max_items=2, marker=page1["marker"])
    assert [u.user_name for u in page2["users"]] == ["c"] and not page2["is_truncated"]
    assert page2["marker"] is None
    with pytest.raises(ValidationError):
        await iam.list_users(ROOT, marker="garbage")


# ---- groups ----
async def test_groups(iam: IamService) -> None:
    g = (await iam.create_group(ROOT, group_name="Devs", path="/t/"))["group"]
    assert g.group_id.startswith("AGPA") and g.arn == arn.group(ACCT, "/t/", "Devs")
    with pytest.raises(EntityAlreadyExists):
        await iam.create_group(ROOT, group_name="devs")
    await iam.create_user(ROOT, user_name="u1", tags=[{"Key": "a", "Value": "b"}])
    await iam.create_user(ROOT, user_name="u2")
    await iam.add_user_to_group(ROOT, group_name="devs", user_name="u2")
    await iam.add_user_to_group(ROOT, group_name="devs", user_name="U1")
    with pytest.raises(NoSuchEntity):
        await iam.add_user_to_group(ROOT, group_name="devs", user_name="ghost")
    out = await iam.get_group(ROOT, group_name="devs", max_items=1)
    assert out["group"] == g and [u.user_name for u in out["users"]] == ["u1"]
    assert out["is_truncated"]
    out = await iam.get_group(ROOT, group_name="devs", marker=out["marker"])
    assert [u.user_name for u in out["users"]] == ["u2"]
    groups = (await iam.list_groups_for_user(ROOT, user_name="u1"))["groups"]
    assert [x.group_name for x in groups] == ["Devs"]
    assert [x.group_name for x in (await iam.list_groups(ROOT, path_prefix="/t/"))["groups"]] == ["Devs"]
    assert (await iam.list_groups(ROOT, path_prefix="/x/"))["groups"] == []
    with pytest.raises(DeleteConflict):
        await iam.delete_group(ROOT, group_name="devs")
    with pytest.raises(DeleteConflict, match="groups"):
        await iam.delete_user(ROOT, user_name="u1")
    await iam.update_group(ROOT, group_name="devs", new_group_name="Builders")
    assert [x.group_name for x in (await iam.list_groups_for_user(ROOT, user_name="u2"))["groups"]] \
        == ["Builders"]
    for u in ("u1", "u2"):
        await iam.remove_user_from_group(ROOT, group_name="builders", user_name=u)
    await iam.delete_group(ROOT, group_name="builders")
    with pytest.raises(NoSuchEntity):
        await iam.get_group(ROOT, group_name="builders")


# ---- roles ----
async def test_role_crud(iam: IamService) -> None:
    out = await iam.create_role(ROOT, role_name="Deploy", assume_role_policy_document=TRUST,
                                path="/ci/", description="deploys", max_session_duration=7200,
                                tags=[{"Key": "k", "Value": "v"}])
    role = out["role"]
    assert isinstance(role, Role) and role.role_id.startswith("AROA")
    assert role.arn == arn.role(ACCT, "/ci/", "Deploy") and role.max_session_duration == 7200
    assert role.assume_role_policy_document == TRUST
    with pytest.raises(EntityAlreadyExists):
        await iam.create_role(ROOT, role_name="deploy", assume_role_policy_document=TRUST)
    await iam.update_role(ROOT, role_name="deploy", max_session_duration=43200)
    got = (await iam.get_role(ROOT, role_name="DEPLOY"))["role"]
    assert got.max_session_duration == 43200 and got.description == "deploys"
    out = await iam.update_role_description(ROOT, role_name="deploy", description="new")
    assert out["role"].description == "new"
    await iam.update_role(ROOT, role_name="deploy", description="")
    assert (await iam.get_role(ROOT, role_name="deploy"))["role"].description is None
    listed = (await iam.list_roles(ROOT, path_prefix="/ci/"))["roles"]
    assert [r.role_name for r in listed] == ["Deploy"]
    await iam.tag_role(ROOT, role_name="deploy", tags=[{"Key": "z", "Value": "1"}])
    assert [t.key for t in (await iam.list_role_tags(ROOT, role_name="deploy"))["tags"]] == ["k", "z"]
    await iam.untag_role(ROOT, role_name="deploy", tag_keys=["k"])
    assert [t.key for t in (await iam.list_role_tags(ROOT, role_name="deploy"))["tags"]] == ["z"]
    await iam.delete_role(ROOT, role_name="deploy")
    with pytest.raises(NoSuchEntity):
        await iam.get_role(ROOT, role_name="deploy")


@pytest.mark.parametrize("doc, error, message", [
    ("{not json", MalformedPolicyDocument, None),
    (json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole"}]}),
     MalformedPolicyDocument, None),
    (json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                 "Principal": {"AWS": f"arn:aws:iam::{ACCT}:role/Missing"}}]}),
     MalformedPolicyDocument, "Invalid principal in policy"),
    (json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                 "Principal": {"AWS": [f"arn:aws:iam::{ACCT}:user/nobody"]}}]}),
     MalformedPolicyDocument, "Invalid principal in policy"),
    (json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                 "Principal": {"AWS": f"arn:aws:iam::{ACCT}:root"}, "Sid": "x" * 2100}]}),
     LimitExceeded, "Cannot exceed quota for ACLSizePerRole: 2048"),
])
async def test_trust_policy_validation(iam: IamService, doc: str, error: type[Exception],
                                       message: str | None) -> None:
    with pytest.raises(error, match=message):
        await iam.create_role(ROOT, role_name="R", assume_role_policy_document=doc)
    with pytest.raises(NoSuchEntity):
        await iam.get_role(ROOT, role_name="R")


async def test_trust_principals_that_exist_are_accepted(iam: IamService) -> None:
    await iam.create_user(ROOT, user_name="Alice", path="/p/")
    await iam.create_role(ROOT, role_name="Base", assume_role_policy_document=TRUST)
    trust = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": "sts:AssumeRole",
        "Principal": {"AWS": [f"arn:aws:iam::{ACCT}:user/p/Alice", f"arn:aws:iam::{ACCT}:role/Base",
                              "arn:aws:iam::999999999999:role/Elsewhere"]}}]})
    await iam.create_role(ROOT, role_name="R", assume_role_policy_document=trust)
    await iam.update_assume_role_policy(ROOT, role_name="R", policy_document=TRUST)
    assert (await iam.get_role(ROOT, role_name="r"))["role"].assume_role_policy_document == TRUST
    with pytest.raises(MalformedPolicyDocument):
        await iam.update_assume_role_policy(ROOT, role_name="R", policy_document=json.dumps({
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                    "Principal": {"AWS": f"arn:aws:iam::{ACCT}:user/Alice"}}]}))


# ---- managed policies ----
async def test_managed_policies(iam: IamService) -> None:
    out = await iam.create_policy(ROOT, policy_name="Ops", policy_document=DOC, path="/t/",
                                  description="d", tags=[{"Key": "a", "Value": "b"}])
    pol = out["policy"]
    assert pol.policy_id.startswith("ANPA") and pol.default_version_id == "v1"
    assert pol.arn == arn.policy(ACCT, "/t/", "Ops") and pol.attachment_count == 0
    with pytest.raises(EntityAlreadyExists):
        await iam.create_policy(ROOT, policy_name="ops", policy_document=DOC)
    v = (await iam.get_policy_version(ROOT, policy_arn=pol.arn, version_id="v1"))["policy_version"]
    assert v.document == DOC and v.is_default_version
    v2 = (await iam.create_policy_version(ROOT, policy_arn=pol.arn, policy_document=DOC2,
                                          set_as_default=True))["policy_version"]
    assert v2.version_id == "v2" and v2.is_default_version
    assert (await iam.get_policy(ROOT, policy_arn=pol.arn))["policy"].default_version_id == "v2"
    versions = await iam.list_policy_versions(ROOT, policy_arn=pol.arn, max_items=1)
    assert [x.version_id for x in versions["versions"]] == ["v2"] and versions["is_truncated"]
    versions = await iam.list_policy_versions(ROOT, policy_arn=pol.arn, marker=versions["marker"])
    assert [x.version_id for x in versions["versions"]] == ["v1"]
    with pytest.raises(DeleteConflict):
        await iam.delete_policy_version(ROOT, policy_arn=pol.arn, version_id="v2")
    await iam.set_default_policy_version(ROOT, policy_arn=pol.arn, version_id="v1")
    with pytest.raises(NoSuchEntity):
        await iam.set_default_policy_version(ROOT, policy_arn=pol.arn, version_id="v9")
    await iam.delete_policy_version(ROOT, policy_arn=pol.arn, version_id="v2")
    with pytest.raises(NoSuchEntity):
        await iam.get_policy_version(ROOT, policy_arn=pol.arn, version_id="v2")
    await iam.tag_policy(ROOT, policy_arn=pol.arn, tags=[{"Key": "c", "Value": "d"}])
    assert [t.key for t in (await iam.list_policy_tags(ROOT, policy_arn=pol.arn))["tags"]] == ["a", "c"]
    await iam.untag_policy(ROOT, policy_arn=pol.arn, tag_keys=["a"])
    assert [t.key for t in (await iam.list_policy_tags(ROOT, policy_arn=pol.arn))["tags"]] == ["c"]
    listed = (await iam.list_policies(ROOT, scope="Local"))["policies"]
    assert [p.policy_name for p in listed] == ["Ops"]
    assert (await iam.list_policies(ROOT, scope="AWS"))["policies"] == []
    await iam.delete_policy(ROOT, policy_arn=pol.arn)
    with pytest.raises(NoSuchEntity):
        await iam.get_policy(ROOT, policy_arn=pol.arn)


@pytest.mark.parametrize("doc, error, message", [
    ('{"Version":"2008-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}',
     MalformedPolicyDocument, "Policy document must be version 2012-10-17 or greater."),
    ('{"Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}',
     MalformedPolicyDocument, "2012-10-17"),
    ('[1,2', MalformedPolicyDocument, None),
    ('{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"*"}]}',
     MalformedPolicyDocument, None),
    (json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:*", "Resource": f"arn:aws:s3:::{'b' * 6200}"}]}),
     LimitExceeded, "Cannot exceed quota for PolicySize: 6144"),
])
async def test_managed_policy_documents_are_validated(iam: IamService, doc: str,
                                                      error: type[Exception],
                                                      message: str | None) -> None:
    with pytest.raises(error, match=message):
        await iam.create_policy(ROOT, policy_name="P", policy_document=doc)
    good = await make_policy(iam, "Good")
    with pytest.raises(error, match=message):
        await iam.create_policy_version(ROOT, policy_arn=good, policy_document=doc)


async def test_policy_document_whitespace_is_not_counted_and_kept(iam: IamService) -> None:
    statement = {"Effect": "Allow", "Action": "s3:*", "Resource": f"arn:aws:s3:::{'b' * 5900}"}
    doc = json.dumps({"Version": "2012-10-17", "Statement": [statement]}, indent=40)
    assert len(doc) > 6144
    arn_ = await make_policy(iam, "Spacy", doc)
    v = (await iam.get_policy_version(ROOT, policy_arn=arn_, version_id="v1"))["policy_version"]
    assert v.document == doc


async def test_invalid_policy_arns(iam: IamService) -> None:
    with pytest.raises(InvalidInput):
        await iam.get_policy(ROOT, policy_arn="not-an-arn")
    with pytest.raises(NoSuchEntity):
        await iam.get_policy(ROOT, policy_arn=arn.policy(ACCT, "/", "Nope"))
    await iam.create_user(ROOT, user_name="u")
    with pytest.raises(NoSuchEntity, match="does not exist or is not attachable"):
        await iam.attach_user_policy(ROOT, user_name="u",
                                     policy_arn="arn:aws:iam::aws:policy/AdministratorAccess")


# ---- attachments and entities ----
async def test_attach_detach_and_entities(iam: IamService) -> None:
    pol = await make_policy(iam, "P", path="/x/")
    await iam.create_user(ROOT, user_name="u")
    await iam.create_group(ROOT, group_name="g")
    await iam.create_role(ROOT, role_name="r", assume_role_policy_document=TRUST)
    await iam.attach_user_policy(ROOT, user_name="u", policy_arn=pol)
    await iam.attach_group_policy(ROOT, group_name="g", policy_arn=pol)
    await iam.attach_role_policy(ROOT, role_name="r", policy_arn=pol)
    assert (await iam.get_policy(ROOT, policy_arn=pol))["policy"].attachment_count == 3
    for lister, kw in ((iam.list_attached_user_policies, {"user_name": "u"}),
                       (iam.list_attached_group_policies, {"group_name": "g"}),
                       (iam.list_attached_role_policies, {"role_name": "r"})):
        out = await lister(ROOT, **kw)
        assert [(a.policy_name, a.policy_arn) for a in out["attached_policies"]] == [("P", pol)]
        assert (await lister(ROOT, path_prefix="/y/", **kw))["attached_policies"] == []
    ents = await iam.list_entities_for_policy(ROOT, policy_arn=pol)
    assert [u.user_name for u in ents["policy_users"]] == ["u"]
    assert [g.group_name for g in ents["policy_groups"]] == ["g"]
    assert [r.role_name for r in ents["policy_roles"]] == ["r"]
    only_roles = await iam.list_entities_for_policy(ROOT, policy_arn=pol, entity_filter="Role")
    assert only_roles["policy_users"] == [] and len(only_roles["policy_roles"]) == 1
    paged = await iam.list_entities_for_policy(ROOT, policy_arn=pol, max_items=2)
    assert paged["is_truncated"] and len(paged["policy_groups"] + paged["policy_roles"]) == 2
    rest = await iam.list_entities_for_policy(ROOT, policy_arn=pol, marker=paged["marker"])
    assert [u.user_name for u in rest["policy_users"]] == ["u"] and not rest["is_truncated"]
    with pytest.raises(DeleteConflict):
        await iam.delete_policy(ROOT, policy_arn=pol)
    with pytest.raises(DeleteConflict, match="detach"):
        await iam.delete_role(ROOT, role_name="r")
    await iam.detach_user_policy(ROOT, user_name="u", policy_arn=pol)
    await iam.detach_group_policy(ROOT, group_name="g", policy_arn=pol)
    await iam.detach_role_policy(ROOT, role_name="r", policy_arn=pol)
    with pytest.raises(NoSuchEntity):
        await iam.detach_role_policy(ROOT, role_name="r", policy_arn=pol)
    await iam.delete_policy(ROOT, policy_arn=pol)


async def test_attach_limit_message(iam: IamService) -> None:
    await iam.create_user(ROOT, user_name="u")
    for i in range(10):
        await iam.attach_user_policy(ROOT, user_name="u", policy_arn=await make_policy(iam, f"p{i}"))
    with pytest.raises(LimitExceeded, match="Cannot exceed quota for PoliciesPerUser: 10"):
        await iam.attach_user_policy(ROOT, user_name="u", policy_arn=await make_policy(iam, "p10"))


# ---- permissions boundaries ----
async def test_permissions_boundaries(iam: IamService, authz: Authz) -> None:
    b1, b2 = await make_policy(iam, "B1"), await make_policy(iam, "B2")
    await iam.create_user(ROOT, user_name="u")
    await iam.create_role(ROOT, role_name="r", assume_role_policy_document=TRUST,
                          permissions_boundary=b1)
    assert (await iam.get_policy(ROOT, policy_arn=b1))["policy"].permissions_boundary_usage_count == 1
    await iam.put_user_permissions_boundary(ROOT, user_name="u", permissions_boundary=b1)
    await iam.put_role_permissions_boundary(ROOT, role_name="r", permissions_boundary=b2)
    assert authz.calls[-1][2] == {"iam:PermissionsBoundary": b2}
    assert (await iam.get_policy(ROOT, policy_arn=b1))["policy"].permissions_boundary_usage_count == 1
    assert (await iam.get_policy(ROOT, policy_arn=b2))["policy"].permissions_boundary_usage_count == 1
    role = (await iam.get_role(ROOT, role_name="r"))["role"]
    assert role.permissions_boundary is not None and role.permissions_boundary.permissions_boundary_arn == b2
    ents = await iam.list_entities_for_policy(ROOT, policy_arn=b1,
                                              policy_usage_filter="PermissionsBoundary")
    assert [u.user_name for u in ents["policy_users"]] == ["u"]
    with pytest.raises(NoSuchEntity):
        await iam.put_user_permissions_boundary(ROOT, user_name="u",
                                                permissions_boundary=arn.policy(ACCT, "/", "Nope"))
    bounded = (await iam.list_policies(ROOT, policy_usage_filter="PermissionsBoundary"))["policies"]
    assert sorted(p.policy_name for p in bounded) == ["B1", "B2"]
    await iam.delete_user_permissions_boundary(ROOT, user_name="u")
    assert authz.calls[-1][2] == {"iam:PermissionsBoundary": b1}
    await iam.delete_role_permissions_boundary(ROOT, role_name="r")
    assert (await iam.get_user(ROOT, user_name="u"))["user"].permissions_boundary is None
    await iam.delete_policy(ROOT, policy_arn=b1)


# ---- inline policies ----
@pytest.mark.parametrize("kind, limit", [("user", 2048), ("group", 5120), ("role", 10240)])
async def test_inline_policies(iam: IamService, kind: str, limit: int) -> None:
    name_kw = {f"{kind}_name": "E"}
    if kind == "user":
        await iam.create_user(ROOT, user_name="E")
    elif kind == "group":
        await iam.create_group(ROOT, group_name="E")
    else:
        await iam.create_role(ROOT, role_name="E", assume_role_policy_document=TRUST)
    put = getattr(iam, f"put_{kind}_policy")
    get = getattr(iam, f"get_{kind}_policy")
    delete = getattr(iam, f"delete_{kind}_policy")
    lst = getattr(iam, f"list_{kind}_policies")
    await put(ROOT, policy_name="b", policy_document=DOC, **{f"{kind}_name": "e"})
    await put(ROOT, policy_name="a", policy_document=DOC2, **name_kw)
    got = await get(ROOT, policy_name="b", **{f"{kind}_name": "e"})
    assert got == {f"{kind}_name": "E", "policy_name": "b", "policy_document": DOC}
    assert (await lst(ROOT, **name_kw))["policy_names"] == ["a", "b"]
    one = await lst(ROOT, max_items=1, **name_kw)
    assert one["policy_names"] == ["a"] and one["is_truncated"]
    assert (await lst(ROOT, marker=one["marker"], **name_kw))["policy_names"] == ["b"]
    big = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:*", "Resource": f"arn:aws:s3:::{'x' * (limit - 150)}"}]})
    with pytest.raises(LimitExceeded, match=f"Maximum policy size of {limit} bytes exceeded for {kind} E"):
        await put(ROOT, policy_name="c", policy_document=big, **name_kw)
    with pytest.raises(MalformedPolicyDocument):
        await put(ROOT, policy_name="c", policy_document='{"Version":"2012-10-17"}', **name_kw)
    await delete(ROOT, policy_name="a", **name_kw)
    with pytest.raises(NoSuchEntity, match=f"{kind} policy with name a"):
        await get(ROOT, policy_name="a", **name_kw)
    with pytest.raises(NoSuchEntity):
        await delete(ROOT, policy_name="a", **name_kw)
    with pytest.raises(NoSuchEntity):
        await lst(ROOT, **{f"{kind}_name": "ghost"})


# ---- access keys ----
async def test_access_keys_for_users(iam: IamService, redis: aioredis.Redis) -> None:
    await iam.create_user(ROOT, user_name="alice")
    made = (await iam.create_access_key(ALICE))["access_key"]  # defaults to the calling user
    assert isinstance(made, AccessKey) and made.user_name == "alice"
    assert made.secret_access_key is not None and len(made.secret_access_key) == 40
    await iam.create_access_key(ROOT, user_name="alice")
    with pytest.raises(LimitExceeded, match="Cannot exceed quota for AccessKeysPerUser: 2"):
        await iam.create_access_key(ROOT, user_name="alice")
    listed = (await iam.list_access_keys(ROOT, user_name="alice"))["access_key_metadata"]
    assert len(listed) == 2 and all(k.secret_access_key is None for k in listed)
    await iam.update_access_key(ALICE, access_key_id=made.access_key_id, status="Inactive")
    listed = (await iam.list_access_keys(ALICE))["access_key_metadata"]
    assert {k.access_key_id: k.status for k in listed}[made.access_key_id] == "Inactive"
    used = await iam.get_access_key_last_used(ROOT, access_key_id=made.access_key_id)
    assert used == {"user_name": "alice", "access_key_last_used": AccessKeyLastUsed()}
    with pytest.raises(DeleteConflict, match="access keys"):
        await iam.delete_user(ROOT, user_name="alice")
    await iam.delete_access_key(ROOT, user_name="alice", access_key_id=made.access_key_id)
    with pytest.raises(NoSuchEntity):
        await iam.delete_access_key(ROOT, user_name="alice", access_key_id=made.access_key_id)
    with pytest.raises(NoSuchEntity):
        await iam.get_access_key_last_used(ROOT, access_key_id=made.access_key_id)
    with pytest.raises(NoSuchEntity):
        await iam.create_access_key(ROOT, user_name="ghost")
    with pytest.raises(ValidationError, match="non-User credentials"):
        await iam.list_access_keys(ROLE_SESSION)
    values = []
    async for key in redis.scan_iter(match="*"):
        if await redis.type(key) == "hash":
            values += list((await redis.hgetall(key)).values())
        elif await redis.type(key) == "string":
            values.append(await redis.get(key))
    assert not any(made.secret_access_key in v for v in values)


async def test_root_manages_its_own_keys(iam: IamService, store: IamStore) -> None:
    await store.ensure_root_access_key("AKIAROOT000000000000", "r" * 40)
    made = (await iam.create_access_key(ROOT))["access_key"]
    assert made.user_name == ""
    listed = (await iam.list_access_keys(ROOT))["access_key_metadata"]
    assert {k.access_key_id for k in listed} == {"AKIAROOT000000000000", made.access_key_id}
    with pytest.raises(LimitExceeded):
        await iam.create_access_key(ROOT)
    await iam.update_access_key(ROOT, access_key_id=made.access_key_id, status="Inactive")
    await iam.delete_access_key(ROOT, access_key_id=made.access_key_id)
    assert await store.find_access_key(made.access_key_id) is None
    used = await iam.get_access_key_last_used(ROOT, access_key_id="AKIAROOT000000000000")
    assert used["user_name"] is None


# ---- account-wide ----
async def test_account_authorization_details(iam: IamService) -> None:
    pol = await make_policy(iam, "P")
    await iam.create_policy_version(ROOT, policy_arn=pol, policy_document=DOC2)
    await iam.create_user(ROOT, user_name="u", permissions_boundary=pol)
    await iam.put_user_policy(ROOT, user_name="u", policy_name="i", policy_document=DOC)
    await iam.create_group(ROOT, group_name="g")
    await iam.add_user_to_group(ROOT, group_name="g", user_name="u")
    await iam.attach_group_policy(ROOT, group_name="g", policy_arn=pol)
    await iam.create_role(ROOT, role_name="r", assume_role_policy_document=TRUST)
    out = await iam.get_account_authorization_details(ROOT)
    [ud] = out["user_detail_list"]
    assert ud.user_name == "u" and ud.group_list == ("g",)
    assert [(p.policy_name, p.policy_document) for p in ud.user_policy_list] == [("i", DOC)]
    assert ud.permissions_boundary is not None
    [gd] = out["group_detail_list"]
    assert [a.policy_arn for a in gd.attached_managed_policies] == [pol]
    [rd] = out["role_detail_list"]
    assert rd.assume_role_policy_document == TRUST
    [pd] = out["policies"]
    assert isinstance(pd, ManagedPolicyDetail) and pd.attachment_count == 1
    assert [(v.version_id, v.is_default_version) for v in pd.policy_version_list] == \
        [("v2", False), ("v1", True)]
    only = await iam.get_account_authorization_details(ROOT, filter=["Role"])
    assert only["user_detail_list"] == [] and len(only["role_detail_list"]) == 1
    seen: list[str] = []
    marker = None
    while True:
        part = await iam.get_account_authorization_details(ROOT, max_items=1, marker=marker)
        got = part["user_detail_list"] + part["group_detail_list"] + part["role_detail_list"] + \
            part["policies"]
        assert len(got) == 1
        seen.append(type(got[0]).__name__)
        if not part["is_truncated"]:
            break
        marker = part["marker"]
    assert seen == ["UserDetail", "GroupDetail", "RoleDetail", "ManagedPolicyDetail"]


async def test_account_summary(iam: IamService) -> None:
    await iam.create_user(ROOT, user_name="u")
    await make_policy(iam)
    summary = (await iam.get_account_summary(ROOT))["summary_map"]
    assert summary["Users"] == 1 and summary["Policies"] == 1 and summary["Roles"] == 0
    assert summary["AccessKeysPerUserQuota"] == 2 and summary["PolicySizeQuota"] == 6144
    assert summary["UserPolicySizeQuota"] == 2048 and summary["VersionsPerPolicyQuota"] == 5
    import botocore.session

    enum = botocore.session.get_session().get_service_model("iam").shape_for("summaryKeyType").enum
    assert set(summary) <= set(enum)
    assert all(isinstance(v, int) for v in summary.values())


def test_every_action_has_a_method_with_the_models_members() -> None:
    import inspect

    import botocore.session
    from botocore import xform_name

    model = botocore.session.get_session().get_service_model("iam")
    actions = """CreateUser GetUser UpdateUser DeleteUser ListUsers TagUser UntagUser ListUserTags
    CreateGroup GetGroup UpdateGroup DeleteGroup ListGroups AddUserToGroup RemoveUserFromGroup
    ListGroupsForUser CreateRole GetRole UpdateRole UpdateRoleDescription UpdateAssumeRolePolicy
    DeleteRole ListRoles TagRole UntagRole ListRoleTags CreatePolicy GetPolicy DeletePolicy
    ListPolicies CreatePolicyVersion GetPolicyVersion DeletePolicyVersion ListPolicyVersions
    SetDefaultPolicyVersion TagPolicy UntagPolicy ListPolicyTags AttachUserPolicy AttachGroupPolicy
    AttachRolePolicy DetachUserPolicy DetachGroupPolicy DetachRolePolicy ListAttachedUserPolicies
    ListAttachedGroupPolicies ListAttachedRolePolicies ListEntitiesForPolicy PutUserPolicy
    GetUserPolicy DeleteUserPolicy ListUserPolicies PutGroupPolicy GetGroupPolicy DeleteGroupPolicy
    ListGroupPolicies PutRolePolicy GetRolePolicy DeleteRolePolicy ListRolePolicies CreateAccessKey
    ListAccessKeys UpdateAccessKey DeleteAccessKey GetAccessKeyLastUsed PutUserPermissionsBoundary
    DeleteUserPermissionsBoundary PutRolePermissionsBoundary DeleteRolePermissionsBoundary
    GetAccountAuthorizationDetails GetAccountSummary""".split()
    for action in actions:
        op = model.operation_model(action)
        method = getattr(IamService, xform_name(action))
        params = inspect.signature(method).parameters
        kw = {n for n, p in params.items() if p.kind is p.KEYWORD_ONLY}
        members = {xform_name(m) for m in (op.input_shape.members if op.input_shape else {})}
        assert kw == members, action
        required = {xform_name(m) for m in (op.input_shape.required_members if op.input_shape else [])}
        assert {n for n in kw if params[n].default is inspect.Parameter.empty} == required, action
