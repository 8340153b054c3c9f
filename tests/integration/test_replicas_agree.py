"""Replicas that agree (issue 12 item 4): two `tessera serve` processes on different ports against
one Redis (same master key, account, root key and public URL, as behind one load balancer).
Every IAM change made through one is enforced by the other on its very next request, after that
other one had just served (and cached) the old state; a session issued by one is accepted by the
other; an MFA code, a one-time web identity token and a SAML assertion used on one are refused
as replayed on the other."""
from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from app.core import totp
from idp_fixtures.oidc.material import load
from idp_fixtures.oidc.server import IssuerServer
from idp_fixtures.saml.idp import DemoIdP

from .conftest import (ACCOUNT, ROOT_AKID, ROOT_SECRET, Identity, Server, allow, client, running_server, trust,
                       unique)

PUBLIC_URL = "http://tessera.replicas.test"  # the one address both replicas stand behind
ONCE = {"total_max_attempts": 1}
MFA_FAILED = "MultiFactorAuthentication failed with invalid MFA one time pass code."


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Server]]:
    directory = str(tmp_path_factory.mktemp("replicas"))
    env = {"TESSERA_PUBLIC_URL": PUBLIC_URL}
    with running_server(directory, extra_env=env) as a, running_server(directory, extra_env=env) as b:
        yield a, b


def root(server: Server, service: str = "iam") -> Any:
    return client(server, service, ROOT_AKID, ROOT_SECRET, retries=ONCE)


def as_(server: Server, who: Identity, service: str) -> Any:
    return client(server, service, who.akid, who.secret, retries=ONCE)


def new_user(a: Server, policy: str | None = None) -> Identity:
    iam = root(a)
    name = unique("rep")
    arn = iam.create_user(UserName=name)["User"]["Arn"]
    if policy is not None:
        iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=policy)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return Identity(name, arn, key["AccessKeyId"], key["SecretAccessKey"])


def error(call: Any) -> str:
    with pytest.raises(ClientError) as exc:
        call()
    return str(exc.value.response["Error"]["Code"])


def test_a_session_issued_by_one_is_accepted_by_the_other(pair):
    a, b = pair
    alice = new_user(a, allow(["sts:AssumeRole", "sts:GetSessionToken"]))
    role = root(a).create_role(RoleName=unique("rep-role"), AssumeRolePolicyDocument=trust({"AWS": alice.arn}))["Role"]
    creds = as_(a, alice, "sts").assume_role(RoleArn=role["Arn"], RoleSessionName="on-a")["Credentials"]
    on_b = client(b, "sts", creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"], retries=ONCE)
    assert on_b.get_caller_identity()["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/{role['RoleName']}/on-a"
    creds = as_(b, alice, "sts").get_session_token()["Credentials"]
    on_a = client(a, "sts", creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"], retries=ONCE)
    assert on_a.get_caller_identity()["Arn"] == alice.arn


def test_inline_policy_put_and_delete(pair):
    a, b = pair
    alice = new_user(a, allow("iam:ListRoles"))
    on_b = as_(b, alice, "iam")
    on_b.list_roles(MaxItems=1)  # B has served (and cached) the old state
    root(a).delete_user_policy(UserName=alice.name, PolicyName="p")
    assert error(lambda: on_b.list_roles(MaxItems=1)) == "AccessDenied"
    root(a).put_user_policy(UserName=alice.name, PolicyName="p", PolicyDocument=allow("iam:ListRoles"))
    on_b.list_roles(MaxItems=1)
    # an edit of the document in place (same name) too
    root(a).put_user_policy(UserName=alice.name, PolicyName="p", PolicyDocument=allow("iam:ListGroups"))
    assert error(lambda: on_b.list_roles(MaxItems=1)) == "AccessDenied"
    on_b.list_groups(MaxItems=1)


def test_managed_policy_attach_detach_and_new_version(pair):
    a, b = pair
    alice = new_user(a)
    iam = root(a)
    arn = iam.create_policy(PolicyName=unique("rep-pol"), PolicyDocument=allow("iam:ListPolicies"))["Policy"]["Arn"]
    on_b = as_(b, alice, "iam")
    assert error(lambda: on_b.list_policies(MaxItems=1)) == "AccessDenied"
    iam.attach_user_policy(UserName=alice.name, PolicyArn=arn)
    on_b.list_policies(MaxItems=1)
    iam.create_policy_version(PolicyArn=arn, PolicyDocument=allow("iam:ListUsers"), SetAsDefault=True)
    assert error(lambda: on_b.list_policies(MaxItems=1)) == "AccessDenied"
    on_b.list_users(MaxItems=1)
    iam.detach_user_policy(UserName=alice.name, PolicyArn=arn)
    assert error(lambda: on_b.list_users(MaxItems=1)) == "AccessDenied"


def test_trust_policy_update(pair):
    a, b = pair
    alice = new_user(a, allow("sts:AssumeRole"))
    bob = new_user(a, allow("sts:AssumeRole"))
    name = unique("rep-trust")
    role = root(a).create_role(RoleName=name, AssumeRolePolicyDocument=trust({"AWS": alice.arn}))["Role"]
    alice_b, bob_b = as_(b, alice, "sts"), as_(b, bob, "sts")
    alice_b.assume_role(RoleArn=role["Arn"], RoleSessionName="before")
    assert error(lambda: bob_b.assume_role(RoleArn=role["Arn"], RoleSessionName="before")) == "AccessDenied"
    root(a).update_assume_role_policy(RoleName=name, PolicyDocument=trust({"AWS": bob.arn}))
    assert error(lambda: alice_b.assume_role(RoleArn=role["Arn"], RoleSessionName="after")) == "AccessDenied"
    bob_b.assume_role(RoleArn=role["Arn"], RoleSessionName="after")


def test_access_key_deactivation_and_deletion(pair):
    a, b = pair
    alice = new_user(a)
    on_b = as_(b, alice, "sts")
    assert on_b.get_caller_identity()["Arn"] == alice.arn
    root(a).update_access_key(UserName=alice.name, AccessKeyId=alice.akid, Status="Inactive")
    assert error(on_b.get_caller_identity) == "InvalidClientTokenId"
    root(a).update_access_key(UserName=alice.name, AccessKeyId=alice.akid, Status="Active")
    assert on_b.get_caller_identity()["Arn"] == alice.arn
    root(a).delete_access_key(UserName=alice.name, AccessKeyId=alice.akid)
    assert error(on_b.get_caller_identity) == "InvalidClientTokenId"


def test_group_membership(pair):
    a, b = pair
    alice = new_user(a)
    group = unique("rep-group")
    iam = root(a)
    iam.create_group(GroupName=group)
    iam.put_group_policy(GroupName=group, PolicyName="g", PolicyDocument=allow("iam:ListAccountAliases"))
    on_b = as_(b, alice, "iam")
    assert error(on_b.list_account_aliases) == "AccessDenied"
    iam.add_user_to_group(GroupName=group, UserName=alice.name)
    on_b.list_account_aliases()
    iam.remove_user_from_group(GroupName=group, UserName=alice.name)
    assert error(on_b.list_account_aliases) == "AccessDenied"


def test_role_deletion(pair):
    a, b = pair
    alice = new_user(a, allow("sts:AssumeRole"))
    name = unique("rep-gone")
    role = root(a).create_role(RoleName=name, AssumeRolePolicyDocument=trust({"AWS": alice.arn}))["Role"]
    alice_b = as_(b, alice, "sts")
    creds = alice_b.assume_role(RoleArn=role["Arn"], RoleSessionName="before")["Credentials"]
    session_b = client(b, "sts", creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"], retries=ONCE)
    session_b.get_caller_identity()
    root(a).delete_role(RoleName=name)
    assert error(lambda: alice_b.assume_role(RoleArn=role["Arn"], RoleSessionName="after")) == "AccessDenied"
    # a session of the deleted role is no longer honoured either
    assert error(session_b.get_caller_identity) in {"InvalidClientTokenId", "ExpiredToken", "AccessDenied"}


def test_an_mfa_code_used_on_one_is_refused_on_the_other(pair):
    a, b = pair
    alice = new_user(a, allow("sts:GetSessionToken"))
    iam = root(a)
    device = iam.create_virtual_mfa_device(VirtualMFADeviceName=unique("rep-phone"))["VirtualMFADevice"]
    seed = device["Base32StringSeed"].decode()
    step = totp.step_of(time.time())
    iam.enable_mfa_device(UserName=alice.name, SerialNumber=device["SerialNumber"],
                          AuthenticationCode1=totp.code_at(seed, step - 2),
                          AuthenticationCode2=totp.code_at(seed, step - 1))
    code = totp.code_at(seed, totp.step_of(time.time()))
    as_(a, alice, "sts").get_session_token(SerialNumber=device["SerialNumber"], TokenCode=code)
    with pytest.raises(ClientError) as exc:
        as_(b, alice, "sts").get_session_token(SerialNumber=device["SerialNumber"], TokenCode=code)
    assert exc.value.response["Error"]["Code"] == "AccessDenied"
    assert exc.value.response["Error"]["Message"] == MFA_FAILED


def test_a_saml_assertion_used_on_one_is_refused_on_the_other(pair):
    a, b = pair
    idp = DemoIdP()
    provider = root(a).create_saml_provider(SAMLMetadataDocument=idp.metadata(),
                                            Name=unique("rep-idp"))["SAMLProviderArn"]
    stmt = {"Effect": "Allow", "Principal": {"Federated": provider}, "Action": "sts:AssumeRoleWithSAML"}
    role = root(a).create_role(RoleName=unique("rep-saml"), AssumeRolePolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [stmt]}))["Role"]
    endpoint = f"{PUBLIC_URL}/saml"
    assertion = idp.response(recipient=endpoint, audience=endpoint, roles=[(role["Arn"], provider)],
                             session_name="alice")
    unsigned = [client(s, "sts", "AKIAUNUSEDUNUSED0000", "unused", retries=ONCE) for s in (a, b)]
    out = unsigned[0].assume_role_with_saml(RoleArn=role["Arn"], PrincipalArn=provider, SAMLAssertion=assertion)
    assert out["Credentials"]["AccessKeyId"].startswith("ASIA")
    assert error(lambda: unsigned[1].assume_role_with_saml(
        RoleArn=role["Arn"], PrincipalArn=provider, SAMLAssertion=assertion)) == "InvalidIdentityToken"


def test_a_one_time_web_identity_token_used_on_one_is_refused_on_the_other(pair):
    a, b = pair
    idp = IssuerServer(keys=[load("rsa-a")]).start()
    try:
        iam = root(a)
        arn = iam.create_open_id_connect_provider(
            Url=idp.url, ClientIDList=["sts.amazonaws.com"],
            Tags=[{"Key": "tessera:jti-replay-protection", "Value": "true"}])["OpenIDConnectProviderArn"]
        stmt = {"Effect": "Allow", "Principal": {"Federated": arn}, "Action": "sts:AssumeRoleWithWebIdentity"}
        role = iam.create_role(RoleName=unique("rep-web"), AssumeRolePolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [stmt]}))["Role"]
        unsigned = [client(s, "sts", "AKIAUNUSEDUNUSED0000", "unused", retries=ONCE) for s in (a, b)]
        token = idp.issuer.token(sub="alice", aud="sts.amazonaws.com")
        unsigned[0].assume_role_with_web_identity(RoleArn=role["Arn"], RoleSessionName="once", WebIdentityToken=token)
        assert error(lambda: unsigned[1].assume_role_with_web_identity(
            RoleArn=role["Arn"], RoleSessionName="twice", WebIdentityToken=token)) == "InvalidIdentityToken"
        # the provider option switched off through B applies to A's very next request
        unsigned[1].assume_role_with_web_identity(RoleArn=role["Arn"], RoleSessionName="warm",
                                                  WebIdentityToken=idp.issuer.token(sub="alice", aud="sts.amazonaws.com"))
        client(b, "iam", ROOT_AKID, ROOT_SECRET, retries=ONCE).untag_open_id_connect_provider(
            OpenIDConnectProviderArn=arn, TagKeys=["tessera:jti-replay-protection"])
        unsigned[0].assume_role_with_web_identity(RoleArn=role["Arn"], RoleSessionName="again", WebIdentityToken=token)
    finally:
        idp.stop()
