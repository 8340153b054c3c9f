"""AWS managed policies through IamService, the IamStore (real Redis db 3) and the real Authorizer:
reads, listing with Scope/OnlyAttached/PathPrefix/PolicyUsageFilter/paging, attachments and
boundaries with AttachmentCount, GetAccountAuthorizationDetails, the refusals, and the policy
engine evaluating them (on a user, a group, a boundary, a session policy)."""
from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
import redis.asyncio as aioredis

from app.core import arn
from app.core.clock import FixedClock
from app.core.errors import AccessDenied, InvalidInput, NoSuchEntity, PolicyNotAttachable
from app.core.records import Call, Caller, RequestMeta, Session
from app.policy.managed import AwsManagedPolicies, aws_managed_policies
from app.services.authz import Authorizer
from app.services.iam import IamService
from app.store.iam_store import IamStore
from app.store.secretbox import SecretBox
from tests.redis_target import redis_url

URL = redis_url(3)
ACCT = "123456789012"
NOW = 1_700_000_000.0
AWS = "arn:aws:iam::aws:policy/"
ADMIN, READ_ONLY, IAM_RO = AWS + "AdministratorAccess", AWS + "ReadOnlyAccess", AWS + "IAMReadOnlyAccess"
VIEW = AWS + "job-function/ViewOnlyAccess"
SERVICE_ROLE = AWS + "aws-service-role/AmazonSSMServiceRolePolicy"
MISSING = AWS + "NoSuchPolicyAnywhere"
META = RequestMeta(request_id="r-1", received_at=NOW)
ROOT = Call(Caller("root", ACCT, arn.root(ACCT), ACCT, arn.root(ACCT), "AKIAROOT"), META)
TRUST = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCT}:root"}, "Action": "sts:AssumeRole"}]})
ALLOW_ALL = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}'


@pytest.fixture(scope="module")
def catalog() -> AwsManagedPolicies:
    return aws_managed_policies()


@pytest_asyncio.fixture(loop_scope="function")
async def store(catalog: AwsManagedPolicies) -> AsyncIterator[IamStore]:
    client = aioredis.Redis.from_url(URL, decode_responses=True)
    await client.flushdb()
    yield IamStore(client, account=ACCT, box=SecretBox(b"m" * 32), clock=FixedClock(NOW), aws_policies=catalog)
    await client.flushdb()
    await client.aclose()


@pytest.fixture
def authz(store: IamStore, catalog: AwsManagedPolicies) -> Authorizer:
    return Authorizer(store, account=ACCT, clock=FixedClock(NOW), aws_policies=catalog)


@pytest.fixture
def iam(store: IamStore, authz: Authorizer, catalog: AwsManagedPolicies) -> IamService:
    return IamService(store, authz, account=ACCT, clock=FixedClock(NOW), aws_policies=catalog)


def user_call(name: str) -> Call:
    user_arn = arn.user(ACCT, "/", name)
    return Call(Caller("user", ACCT, user_arn, "AIDAX", user_arn, "AKIAX", name=name), META)


async def counts(iam: IamService, policy_arn: str) -> tuple[int, int]:
    p = (await iam.get_policy(ROOT, policy_arn=policy_arn))["policy"]
    return p.attachment_count, p.permissions_boundary_usage_count


# ---- reading ----
async def test_get_policy_and_versions(iam: IamService, catalog: AwsManagedPolicies) -> None:
    p = (await iam.get_policy(ROOT, policy_arn=VIEW))["policy"]
    shipped = catalog.get(VIEW)
    assert shipped is not None
    assert (p.policy_name, p.path, p.arn, p.policy_id, p.default_version_id, p.create_date, p.update_date) == (
        "ViewOnlyAccess", "/job-function/", VIEW, shipped.policy_id, shipped.default_version_id,
        shipped.create_date, shipped.update_date)
    assert (p.attachment_count, p.permissions_boundary_usage_count, p.is_attachable, p.tags) == (0, 0, True, ())
    v = (await iam.get_policy_version(ROOT, policy_arn=VIEW, version_id=p.default_version_id))["policy_version"]
    assert v.is_default_version and v.document == shipped.document
    listed = (await iam.list_policy_versions(ROOT, policy_arn=READ_ONLY, max_items=1000))["versions"]
    older = listed[-1]
    again = (await iam.get_policy_version(ROOT, policy_arn=READ_ONLY, version_id=older.version_id))["policy_version"]
    assert not again.is_default_version and json.loads(again.document)["Statement"]
    first = await iam.list_policy_versions(ROOT, policy_arn=READ_ONLY, max_items=2)
    assert [x.version_id for x in first["versions"]] == [x.version_id for x in listed[:2]] and first["is_truncated"]
    rest = await iam.list_policy_versions(ROOT, policy_arn=READ_ONLY, marker=first["marker"], max_items=1000)
    assert [x.version_id for x in first["versions"] + rest["versions"]] == [x.version_id for x in listed]
    with pytest.raises(NoSuchEntity, match="version v9999 does not exist"):
        await iam.get_policy_version(ROOT, policy_arn=VIEW, version_id="v9999")
    for call in (iam.get_policy(ROOT, policy_arn=MISSING), iam.list_policy_versions(ROOT, policy_arn=MISSING),
                 iam.list_entities_for_policy(ROOT, policy_arn=MISSING)):
        with pytest.raises(NoSuchEntity, match=MISSING):
            await call
    assert (await iam.list_policy_tags(ROOT, policy_arn=ADMIN))["tags"] == []


async def _all_pages(iam: IamService, **kw: Any) -> list[Any]:
    out, marker = [], None
    while True:
        page = await iam.list_policies(ROOT, marker=marker, **kw)
        out += page["policies"]
        if not page["is_truncated"]:
            return out
        marker = page["marker"]


async def test_list_policies_scopes_and_paging(iam: IamService, catalog: AwsManagedPolicies) -> None:
    mine = (await iam.create_policy(ROOT, policy_name="AdministratorAccess", policy_document=ALLOW_ALL))["policy"]
    await iam.create_policy(ROOT, policy_name="zz-last", policy_document=ALLOW_ALL, path="/job-function/")
    every = await _all_pages(iam, max_items=400)
    assert len(every) == len(catalog) + 2
    assert [p.policy_name.lower() for p in every] == sorted(p.policy_name.lower() for p in every)
    assert len({p.arn for p in every}) == len(every)
    admins = [p.arn for p in every if p.policy_name == "AdministratorAccess"]
    assert admins == [mine.arn, ADMIN]  # same name: the account's own first
    aws = await _all_pages(iam, scope="AWS", max_items=1000)
    assert [p.arn for p in aws] == [p.arn for p in catalog.all()]
    local = await _all_pages(iam, scope="Local")
    assert [p.policy_name for p in local] == ["AdministratorAccess", "zz-last"]
    job = await _all_pages(iam, path_prefix="/job-function/", max_items=3)
    assert {p.path for p in job} == {"/job-function/"} and "zz-last" in [p.policy_name for p in job]
    assert len(job) == 1 + sum(p.path == "/job-function/" for p in catalog.all())


async def test_attachments_counts_and_usage_filters(iam: IamService, store: IamStore) -> None:
    await iam.create_user(ROOT, user_name="bob")
    await iam.create_group(ROOT, group_name="devs")
    await iam.create_role(ROOT, role_name="ops", assume_role_policy_document=TRUST)
    await iam.attach_user_policy(ROOT, user_name="bob", policy_arn=ADMIN)
    await iam.attach_group_policy(ROOT, group_name="devs", policy_arn=ADMIN)
    await iam.attach_role_policy(ROOT, role_name="ops", policy_arn=ADMIN)
    await iam.attach_user_policy(ROOT, user_name="bob", policy_arn=ADMIN)  # again: no change
    await iam.put_role_permissions_boundary(ROOT, role_name="ops", permissions_boundary=VIEW)
    assert await counts(iam, ADMIN) == (3, 0) and await counts(iam, VIEW) == (0, 1)
    entities = await iam.list_entities_for_policy(ROOT, policy_arn=ADMIN)
    assert ([u.user_name for u in entities["policy_users"]], [g.group_name for g in entities["policy_groups"]],
            [r.role_name for r in entities["policy_roles"]]) == (["bob"], ["devs"], ["ops"])
    bounded = await iam.list_entities_for_policy(ROOT, policy_arn=VIEW, policy_usage_filter="PermissionsBoundary")
    assert [r.role_name for r in bounded["policy_roles"]] == ["ops"]
    attached = await _all_pages(iam, scope="AWS", only_attached=True)
    assert [(p.arn, p.attachment_count) for p in attached] == [(ADMIN, 3)]
    boundaries = await _all_pages(iam, policy_usage_filter="PermissionsBoundary")
    assert [(p.arn, p.permissions_boundary_usage_count) for p in boundaries] == [(VIEW, 1)]
    listed = (await iam.list_attached_user_policies(ROOT, user_name="bob"))["attached_policies"]
    assert [(a.policy_name, a.policy_arn) for a in listed] == [("AdministratorAccess", ADMIN)]
    await iam.update_user(ROOT, user_name="bob", new_user_name="carol")  # usage follows a rename
    entities = await iam.list_entities_for_policy(ROOT, policy_arn=ADMIN, entity_filter="User")
    assert [u.user_name for u in entities["policy_users"]] == ["carol"]
    await iam.detach_user_policy(ROOT, user_name="carol", policy_arn=ADMIN)
    await iam.detach_group_policy(ROOT, group_name="devs", policy_arn=ADMIN)
    await iam.detach_role_policy(ROOT, role_name="ops", policy_arn=ADMIN)
    await iam.delete_role_permissions_boundary(ROOT, role_name="ops")
    assert await counts(iam, ADMIN) == (0, 0) and await counts(iam, VIEW) == (0, 0)
    assert await store.aws_policies_used() == {ADMIN, VIEW}  # once used: candidates, counts decide
    assert await _all_pages(iam, only_attached=True) == []
    assert await _all_pages(iam, policy_usage_filter="PermissionsBoundary") == []
    assert (await iam.get_account_authorization_details(ROOT, filter=["AWSManagedPolicy"]))["policies"] == []
    with pytest.raises(NoSuchEntity):
        await iam.detach_user_policy(ROOT, user_name="carol", policy_arn=ADMIN)


async def test_boundaries_at_creation_and_deletion(iam: IamService) -> None:
    await iam.create_user(ROOT, user_name="u", permissions_boundary=IAM_RO)
    await iam.create_role(ROOT, role_name="r", assume_role_policy_document=TRUST, permissions_boundary=IAM_RO)
    user = (await iam.get_user(ROOT, user_name="u"))["user"]
    assert user.permissions_boundary.permissions_boundary_arn == IAM_RO
    assert await counts(iam, IAM_RO) == (0, 2)
    await iam.delete_user(ROOT, user_name="u")
    await iam.delete_role(ROOT, role_name="r")
    assert await counts(iam, IAM_RO) == (0, 0)
    await iam.create_role(ROOT, role_name="r2", assume_role_policy_document=TRUST, permissions_boundary=VIEW)
    listed = await _all_pages(iam, policy_usage_filter="PermissionsBoundary")
    assert [(p.arn, p.permissions_boundary_usage_count) for p in listed] == [(VIEW, 1)]


async def test_unknown_and_service_role_policies_are_refused(iam: IamService) -> None:
    await iam.create_user(ROOT, user_name="bob")
    with pytest.raises(NoSuchEntity, match="does not exist or is not attachable"):
        await iam.attach_user_policy(ROOT, user_name="bob", policy_arn=MISSING)
    with pytest.raises(NoSuchEntity):
        await iam.put_user_permissions_boundary(ROOT, user_name="bob", permissions_boundary=MISSING)
    for attempt in (iam.attach_user_policy(ROOT, user_name="bob", policy_arn=SERVICE_ROLE),
                    iam.put_user_permissions_boundary(ROOT, user_name="bob", permissions_boundary=SERVICE_ROLE),
                    iam.create_role(ROOT, role_name="r", assume_role_policy_document=TRUST,
                                    permissions_boundary=SERVICE_ROLE)):
        with pytest.raises(PolicyNotAttachable, match="Cannot attach a Service Role Policy to a Customer Role."):
            await attempt
    assert (await iam.list_attached_user_policies(ROOT, user_name="bob"))["attached_policies"] == []


CHANGES = [
    ("delete_policy", {}), ("create_policy_version", {"policy_document": ALLOW_ALL, "set_as_default": True}),
    ("delete_policy_version", {"version_id": "v1"}), ("set_default_policy_version", {"version_id": "v1"}),
]


@pytest.mark.parametrize("action,kw", CHANGES, ids=[c[0] for c in CHANGES])
@pytest.mark.parametrize("policy_arn", [ADMIN, MISSING])
async def test_changes_are_access_denied_even_to_the_root(iam: IamService, action: str, kw: dict[str, Any],
                                                          policy_arn: str) -> None:
    with pytest.raises(AccessDenied) as err:
        await getattr(iam, action)(ROOT, policy_arn=policy_arn, **kw)
    name = "".join(w.capitalize() for w in action.split("_"))
    assert err.value.message == (f"User: {arn.root(ACCT)} is not authorized to perform: iam:{name} on resource: "
                                 f"{policy_arn} because no resource-based policy allows the iam:{name} action")
    assert await counts(iam, ADMIN) == (0, 0)


async def test_tagging_is_invalid_input(iam: IamService) -> None:
    with pytest.raises(InvalidInput, match="Tags not supported for policies in this domain"):
        await iam.tag_policy(ROOT, policy_arn=ADMIN, tags=[{"Key": "a", "Value": "b"}])
    with pytest.raises(InvalidInput, match="Tags not supported"):
        await iam.untag_policy(ROOT, policy_arn=ADMIN, tag_keys=["a"])
    with pytest.raises(NoSuchEntity):
        await iam.tag_policy(ROOT, policy_arn=MISSING, tags=[{"Key": "a", "Value": "b"}])


async def test_account_authorization_details(iam: IamService, catalog: AwsManagedPolicies) -> None:
    await iam.create_user(ROOT, user_name="bob", permissions_boundary=IAM_RO)
    await iam.attach_user_policy(ROOT, user_name="bob", policy_arn=VIEW)
    await iam.create_policy(ROOT, policy_name="Mine", policy_document=ALLOW_ALL)
    only_aws = await iam.get_account_authorization_details(ROOT, filter=["AWSManagedPolicy"])
    assert only_aws["user_detail_list"] == []
    details = {p.arn: p for p in only_aws["policies"]}
    assert list(details) == [IAM_RO, VIEW]  # only those in use, in name order
    view = details[VIEW]
    assert (view.attachment_count, view.permissions_boundary_usage_count, view.default_version_id) == (
        1, 0, catalog.get(VIEW).default_version_id)  # type: ignore[union-attr]
    [version] = view.policy_version_list  # the default version only, with its document
    assert version.is_default_version and version.document == catalog.document(VIEW)
    everything = await iam.get_account_authorization_details(ROOT)
    assert [p.policy_name for p in everything["policies"]] == ["Mine", "IAMReadOnlyAccess", "ViewOnlyAccess"]
    local = await iam.get_account_authorization_details(ROOT, filter=["LocalManagedPolicy"])
    assert [p.policy_name for p in local["policies"]] == ["Mine"]
    paged = await iam.get_account_authorization_details(ROOT, filter=["AWSManagedPolicy"], max_items=1)
    rest = await iam.get_account_authorization_details(ROOT, filter=["AWSManagedPolicy"], marker=paged["marker"])
    assert [p.arn for p in paged["policies"] + rest["policies"]] == [IAM_RO, VIEW]


# ---- the policy engine evaluates them ----
async def test_administrator_access_allows_everything(iam: IamService, authz: Authorizer) -> None:
    await iam.create_user(ROOT, user_name="admin")
    call = user_call("admin")
    with pytest.raises(AccessDenied):
        await iam.create_user(call, user_name="x")
    await iam.attach_user_policy(ROOT, user_name="admin", policy_arn=ADMIN)
    await iam.create_user(call, user_name="x")
    await iam.attach_user_policy(call, user_name="x", policy_arn=IAM_RO)
    await authz.require(call, "s3:DeleteBucket", "arn:aws:s3:::any")


async def test_iam_read_only_through_a_group(iam: IamService, authz: Authorizer) -> None:
    await iam.create_user(ROOT, user_name="reader")
    await iam.create_group(ROOT, group_name="readers")
    await iam.add_user_to_group(ROOT, group_name="readers", user_name="reader")
    await iam.attach_group_policy(ROOT, group_name="readers", policy_arn=IAM_RO)
    call = user_call("reader")
    assert [u.user_name for u in (await iam.list_users(call))["users"]] == ["reader"]
    assert (await iam.get_policy(call, policy_arn=ADMIN))["policy"].arn == ADMIN  # an AWS policy is readable
    await iam.get_policy_version(call, policy_arn=ADMIN, version_id="v1")
    with pytest.raises(AccessDenied, match="because no identity-based policy allows the iam:CreateUser action"):
        await iam.create_user(call, user_name="x")
    with pytest.raises(AccessDenied):
        await authz.require(call, "s3:GetObject", "arn:aws:s3:::b/k")


async def test_aws_policy_as_boundary_and_session_policy(iam: IamService, authz: Authorizer,
                                                         store: IamStore) -> None:
    await iam.create_user(ROOT, user_name="bounded", permissions_boundary=IAM_RO)
    await iam.put_user_policy(ROOT, user_name="bounded", policy_name="all", policy_document=ALLOW_ALL)
    call = user_call("bounded")
    await authz.require(call, "iam:ListRoles", "*")
    with pytest.raises(AccessDenied, match="because no permissions boundary allows"):
        await authz.require(call, "iam:CreateRole", "*")
    role = (await iam.create_role(ROOT, role_name="R", assume_role_policy_document=TRUST))["role"]
    await iam.put_role_policy(ROOT, role_name="R", policy_name="all", policy_document=ALLOW_ALL)
    session = Session("ASIAX", "x" * 40, "assumed-role", ACCT, arn.assumed_role(ACCT, "R", "s"),
                      f"{role.role_id}:s", role.arn, role.role_id, "R", NOW, NOW + 3600, session_name="s",
                      session_policy_arns=(READ_ONLY,))
    role_call = Call(Caller("assumed-role", ACCT, session.arn, session.user_id, role.arn, "ASIAX", name="R",
                            session=session), META)
    await authz.require(role_call, "ec2:DescribeInstances", "*")
    with pytest.raises(AccessDenied, match="because no session policy allows"):
        await authz.require(role_call, "ec2:RunInstances", "*")


async def test_documents_are_never_read_from_redis(iam: IamService, store: IamStore) -> None:
    """An AWS policy's record and documents are data: only its usage sets live in Redis."""
    await iam.create_user(ROOT, user_name="bob")
    await iam.attach_user_policy(ROOT, user_name="bob", policy_arn=ADMIN)
    keys = await store._r.keys("*aws*")  # noqa: SLF001 (the key schema is what is tested)
    assert sorted(keys) == [f"{{iam:{ACCT}}}:idx:awspolicy", f"{{iam:{ACCT}}}:policy:aws/AdministratorAccess:ents"]
    pp = await store.principal_policies("user", "bob")
    assert pp is not None and [source for source, _ in pp.identity] == [ADMIN]
    assert await store.managed_policy_document(ADMIN) == aws_managed_policies().document(ADMIN)


async def test_the_authorizer_uses_the_catalogs_compiled_form(iam: IamService, store: IamStore) -> None:
    fresh = AwsManagedPolicies()
    asked: list[tuple[str, Any]] = []
    compiled = fresh.compiled

    def counting(policy_arn: str, kind: Any) -> Any:
        asked.append((policy_arn, kind))
        return compiled(policy_arn, kind)

    fresh.compiled = counting  # type: ignore[method-assign]
    authz = Authorizer(store, account=ACCT, clock=FixedClock(NOW), aws_policies=fresh)
    await iam.create_user(ROOT, user_name="admin")
    await iam.attach_user_policy(ROOT, user_name="admin", policy_arn=ADMIN)
    for action in ("iam:CreateUser", "ec2:RunInstances", "iam:CreateUser"):
        await authz.require(user_call("admin"), action, "*")
    assert [a for a, _ in asked] == [ADMIN]  # compiled by the catalog, once
