"""AssumeRoleWithSAML through unmodified boto3 against the real server and Redis, with
responses from the demo IdP (idp_fixtures.saml) and providers registered by CreateSAMLProvider."""
from __future__ import annotations

import base64
import hashlib
import json
import time
from typing import Any

import pytest
from botocore.exceptions import ClientError

from idp_fixtures.saml import material
from idp_fixtures.saml.idp import DemoIdP

from .conftest import (ACCOUNT, allow, audit_line, client, code, message, race, seconds_left, session_client,
                       unique)

EDU_AFFILIATION = "urn:oid:1.3.6.1.4.1.5923.1.1.1.1"
ALL_SAML = ["sts:AssumeRoleWithSAML", "sts:TagSession", "sts:SetSourceIdentity"]


@pytest.fixture(scope="module")
def sts(server: Any) -> Any:
    """An STS client: AssumeRoleWithSAML is unsigned, the keys are never used."""
    return client(server, "sts", "AKIAUNUSEDUNUSED0000", "unused")


@pytest.fixture(scope="module")
def endpoint(server: Any) -> str:
    return f"{server.url}/saml"  # TESSERA_PUBLIC_URL/saml: Recipient, Destination and Audience


def register(root_iam: Any, metadata: str, **kw: Any) -> str:
    return str(root_iam.create_saml_provider(SAMLMetadataDocument=metadata, Name=unique("idp"), **kw)["SAMLProviderArn"])


@pytest.fixture(scope="module")
def provider(root_iam: Any) -> str:
    return register(root_iam, DemoIdP().metadata())


def saml_trust(provider: str, actions: Any = "sts:AssumeRoleWithSAML", condition: dict[str, Any] | None = None) -> str:
    stmt: dict[str, Any] = {"Effect": "Allow", "Principal": {"Federated": provider}, "Action": actions}
    if condition:
        stmt["Condition"] = condition
    return json.dumps({"Version": "2012-10-17", "Statement": [stmt]})


def make_role(root_iam: Any, trust_doc: str, *, policy: str | None = None, max_duration: int | None = None) -> dict:
    name = unique("samlrole")
    kw = {"MaxSessionDuration": max_duration} if max_duration else {}
    role = root_iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust_doc, **kw)["Role"]
    if policy:
        root_iam.put_role_policy(RoleName=name, PolicyName="p", PolicyDocument=policy)
    return dict(role)


class Federation:
    """One provider, its IdP and the server's SAML endpoint: signed responses on demand."""

    def __init__(self, sts: Any, endpoint: str, provider: str, idp: DemoIdP | None = None) -> None:
        self.sts, self.endpoint, self.provider, self.idp = sts, endpoint, provider, idp or DemoIdP()

    def response(self, role_arn: str | None, session_name: str | None = "alice", **kw: Any) -> str:
        roles = kw.pop("roles", [(role_arn, self.provider)] if role_arn else [])
        kw.setdefault("audience", self.endpoint)
        return self.idp.response(recipient=self.endpoint, roles=roles, session_name=session_name, **kw)

    def assume(self, role_arn: str, assertion: str | None = None, principal: str | None = None, **kw: Any) -> Any:
        params = {k: kw.pop(k) for k in ("DurationSeconds", "Policy", "PolicyArns") if k in kw}
        return self.sts.assume_role_with_saml(RoleArn=role_arn, PrincipalArn=principal or self.provider,
                                              SAMLAssertion=assertion or self.response(role_arn, **kw), **params)


@pytest.fixture(scope="module")
def fed(sts: Any, endpoint: str, provider: str) -> Federation:
    return Federation(sts, endpoint, provider)


# ---- happy paths ----
@pytest.mark.parametrize("sign", ["assertion", "response", "both"])
def test_signed_assertion_response_or_both(server, root_iam, fed, sign) -> None:
    role = make_role(root_iam, saml_trust(fed.provider))
    out = fed.assume(role["Arn"], sign=sign)
    creds = out["Credentials"]
    assert creds["AccessKeyId"].startswith("ASIA") and len(creds["SecretAccessKey"]) == 40
    arn = f"arn:aws:sts::{ACCOUNT}:assumed-role/{role['RoleName']}/alice"
    assert out["AssumedRoleUser"] == {"Arn": arn, "AssumedRoleId": f"{role['RoleId']}:alice"}
    assert out["Subject"] == "alice@example.test"
    assert out["SubjectType"] == "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"  # not a 2.0 format
    assert out["Issuer"] == material.DEMO_ENTITY_ID
    assert out["Audience"] == fed.endpoint
    provider_name = fed.provider.rsplit("/", 1)[1]
    digest = hashlib.sha1(f"{material.DEMO_ENTITY_ID}{ACCOUNT}/{provider_name}".encode()).digest()
    assert out["NameQualifier"] == base64.b64encode(digest).decode()
    assert "PackedPolicySize" not in out and "SourceIdentity" not in out
    assert 3500 < seconds_left(out) <= 3605
    assert session_client(server, out, "sts").get_caller_identity()["Arn"] == arn
    used = root_iam.get_role(RoleName=role["RoleName"])["Role"]["RoleLastUsed"]
    assert used["Region"] == "us-east-1" and used["LastUsedDate"].tzinfo is not None  # unsigned: AWS's global STS


def test_encrypted_assertion(server, root_iam, sts, endpoint) -> None:
    provider = register(root_iam, DemoIdP().metadata(), AssertionEncryptionMode="Required",
                        AddPrivateKey=material.key_pem("sp").decode())
    f = Federation(sts, endpoint, provider)
    role = make_role(root_iam, saml_trust(provider))
    out = f.assume(role["Arn"], encrypt_for="sp", name_id_format="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent",
                   name_id="p-123")
    assert out["Subject"] == "p-123" and out["SubjectType"] == "persistent"
    with pytest.raises(ClientError) as exc:  # Required: a plain assertion is refused
        f.assume(role["Arn"])
    assert code(exc) == "InvalidIdentityToken"


def test_rotated_idp_key(root_iam, sts, endpoint) -> None:
    metadata = (material.METADATA / "idp-rotated.xml").read_text()
    provider = register(root_iam, metadata)
    role = make_role(root_iam, saml_trust(provider))
    for key in ("idp", "idp-rotated"):  # both certificates of the metadata are trusted
        out = Federation(sts, endpoint, provider, DemoIdP(key_name=key)).assume(role["Arn"])
        assert out["AssumedRoleUser"]["Arn"].endswith("/alice")
    with pytest.raises(ClientError) as exc:
        Federation(sts, endpoint, provider, DemoIdP(key_name="attacker")).assume(role["Arn"])
    assert code(exc) == "InvalidIdentityToken"


def test_role_pair_in_either_order_among_several(root_iam, fed) -> None:
    role = make_role(root_iam, saml_trust(fed.provider))
    other = f"arn:aws:iam::{ACCOUNT}:role/someone-else"
    roles = [(other, fed.provider), (role["Arn"], fed.provider)]
    for order in ("role,provider", "provider,role"):
        assertion = fed.response(None, roles=roles, role_order=order)
        assert fed.assume(role["Arn"], assertion)["AssumedRoleUser"]["Arn"].endswith("/alice")


def test_durations(root_iam, fed) -> None:
    role = make_role(root_iam, saml_trust(fed.provider), max_duration=7200)
    assert 1700 < seconds_left(fed.assume(role["Arn"], session_duration=1800)) <= 1805  # shortens the 3600
    assert 800 < seconds_left(fed.assume(role["Arn"], session_duration=1800, DurationSeconds=900)) <= 905
    assert 7100 < seconds_left(fed.assume(role["Arn"], DurationSeconds=7200)) <= 7205
    soon = time.time() + 1200
    assert 1100 < seconds_left(fed.assume(role["Arn"], session_not_on_or_after=soon)) <= 1205
    with pytest.raises(ClientError) as exc:
        fed.assume(role["Arn"], DurationSeconds=7201)
    assert code(exc) == "ValidationError"
    assert message(exc) == "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."


def test_session_tags_need_tag_session_and_reach_later_calls(server, root_iam, fed) -> None:
    untagged = make_role(root_iam, saml_trust(fed.provider))
    with pytest.raises(ClientError) as exc:
        fed.assume(untagged["Arn"], tags={"Dept": "Eng"})
    assert code(exc) == "AccessDenied"
    policy = allow("iam:GetRole", "*", Condition={"StringEquals": {"aws:PrincipalTag/Dept": "Eng",
                                                                   "aws:SourceIdentity": "alice-si"}})
    role = make_role(root_iam, saml_trust(fed.provider, ALL_SAML), policy=policy)
    out = fed.assume(role["Arn"], tags={"Dept": "Eng", "Team": "Blue"}, transitive_tag_keys=["Dept"],
                     source_identity="alice-si")
    assert 0 < out["PackedPolicySize"] <= 100
    assert out["SourceIdentity"] == "alice-si"
    assert session_client(server, out, "iam").get_role(RoleName=role["RoleName"])["Role"]["Arn"] == role["Arn"]
    for other in (fed.assume(role["Arn"], tags={"Dept": "Ops"}, source_identity="alice-si"),
                  fed.assume(role["Arn"], tags={"Dept": "Eng"})):  # no source identity
        with pytest.raises(ClientError) as exc:
            session_client(server, other, "iam").get_role(RoleName=role["RoleName"])
        assert code(exc) == "AccessDenied"


def test_source_identity_needs_set_source_identity(root_iam, fed) -> None:
    role = make_role(root_iam, saml_trust(fed.provider))
    with pytest.raises(ClientError) as exc:
        fed.assume(role["Arn"], source_identity="alice-si")
    assert code(exc) == "AccessDenied"
    with pytest.raises(ClientError) as exc:
        fed.assume(role["Arn"], source_identity="aws:alice")
    assert code(exc) == "InvalidIdentityToken"
    assert message(exc) == 'Source Identity must match [a-zA-Z_0-9+=,.@-]{2,64} and not begin with "aws:"'


def test_session_policies(server, root_iam, fed) -> None:
    role = make_role(root_iam, saml_trust(fed.provider), policy=allow(["iam:GetRole", "iam:ListRoles"]))
    out = fed.assume(role["Arn"], Policy=allow("iam:GetRole"))
    assert 0 < out["PackedPolicySize"] <= 100
    iam = session_client(server, out, "iam")
    assert iam.get_role(RoleName=role["RoleName"])["Role"]["RoleName"] == role["RoleName"]
    with pytest.raises(ClientError) as exc:
        iam.list_roles()
    assert code(exc) == "AccessDenied"
    with pytest.raises(ClientError) as exc:
        fed.assume(role["Arn"], Policy='{"Version":"2012-10-17","Statement":[{"Effect":"Allow"}]}')
    assert code(exc) == "MalformedPolicyDocument"


# ---- trust conditions on saml:* keys, then the session's own keys ----
def test_trust_condition_on_saml_sub(root_iam, fed) -> None:
    role = make_role(root_iam, saml_trust(fed.provider, condition={"StringEquals": {"saml:sub": "bob@example.test"}}))
    assert fed.assume(role["Arn"], name_id="bob@example.test")["Subject"] == "bob@example.test"
    with pytest.raises(ClientError) as exc:
        fed.assume(role["Arn"])  # alice
    assert code(exc) == "AccessDenied" and message(exc) == "Not authorized to perform sts:AssumeRoleWithSAML"


def test_trust_condition_on_saml_aud_any_key_case(root_iam, fed) -> None:
    good = make_role(root_iam, saml_trust(fed.provider, condition={"StringEquals": {"SAML:aud": fed.endpoint}}))
    assert fed.assume(good["Arn"])["Audience"] == fed.endpoint
    bad = make_role(root_iam, saml_trust(fed.provider, condition={
        "StringEquals": {"saml:aud": "https://signin.aws.amazon.com/saml"}}))
    with pytest.raises(ClientError) as exc:
        fed.assume(bad["Arn"])
    assert code(exc) == "AccessDenied"


def test_trust_condition_on_a_multivalued_attribute(root_iam, fed) -> None:
    role = make_role(root_iam, saml_trust(fed.provider, condition={
        "ForAnyValue:StringEquals": {"saml:edupersonaffiliation": "staff"},
        "StringEquals": {"saml:doc": f"{ACCOUNT}/{fed.provider.rsplit('/', 1)[1]}", "saml:iss": material.DEMO_ENTITY_ID}}))
    assert fed.assume(role["Arn"], attributes={EDU_AFFILIATION: ["member", "staff"]})
    with pytest.raises(ClientError) as exc:
        fed.assume(role["Arn"], attributes={EDU_AFFILIATION: ["member", "student"]})
    assert code(exc) == "AccessDenied"


def test_saml_sub_and_provider_keys_on_later_calls(server, root_iam, fed) -> None:
    policy = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": "iam:GetRole", "Resource": "*", "Condition": {"StringEquals": {
            "saml:sub": "alice@example.test", "saml:sub_type": "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress",
            "aws:FederatedProvider": fed.provider}}}]})
    role = make_role(root_iam, saml_trust(fed.provider), policy=policy)
    alice = fed.assume(role["Arn"])
    assert session_client(server, alice, "iam").get_role(RoleName=role["RoleName"])["Role"]["Arn"] == role["Arn"]
    bob = fed.assume(role["Arn"], name_id="bob@example.test")
    with pytest.raises(ClientError) as exc:
        session_client(server, bob, "iam").get_role(RoleName=role["RoleName"])
    assert code(exc) == "AccessDenied"


# ---- refusals ----
def test_replay_is_refused(root_iam, fed) -> None:
    role = make_role(root_iam, saml_trust(fed.provider))
    assertion = fed.response(role["Arn"])
    fed.assume(role["Arn"], assertion)
    with pytest.raises(ClientError) as exc:
        fed.assume(role["Arn"], assertion)
    assert code(exc) == "InvalidIdentityToken"


def test_a_refused_attempt_does_not_spend_the_assertion(root_iam, fed) -> None:
    role = make_role(root_iam, saml_trust(fed.provider))
    other = make_role(root_iam, saml_trust(fed.provider))
    assertion = fed.response(None, roles=[(role["Arn"], fed.provider), (other["Arn"], fed.provider)])
    with pytest.raises(ClientError) as exc:
        fed.assume(role["Arn"], assertion, DurationSeconds=43200)  # over the role's maximum
    assert code(exc) == "ValidationError"
    fed.assume(other["Arn"], assertion)  # the first good redemption spends it
    with pytest.raises(ClientError) as exc:
        fed.assume(role["Arn"], assertion)
    assert code(exc) == "InvalidIdentityToken"


def test_ten_concurrent_redemptions_exactly_one_wins(server, root_iam, fed) -> None:
    role = make_role(root_iam, saml_trust(fed.provider))
    assertion = fed.response(role["Arn"])
    outcomes = race(server, lambda sts: sts.assume_role_with_saml(RoleArn=role["Arn"], PrincipalArn=fed.provider,
                                                                  SAMLAssertion=assertion))
    assert outcomes == ["InvalidIdentityToken"] * 9 + ["ok"]


def test_wrong_pair_is_access_denied(root_iam, fed) -> None:
    role = make_role(root_iam, saml_trust(fed.provider))
    other = make_role(root_iam, saml_trust(fed.provider))
    with pytest.raises(ClientError) as exc:
        fed.assume(role["Arn"], fed.response(other["Arn"]))
    assert code(exc) == "AccessDenied" and message(exc) == "Not authorized to perform sts:AssumeRoleWithSAML"
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_missing_or_bad_role_session_name(root_iam, fed) -> None:
    role = make_role(root_iam, saml_trust(fed.provider))
    with pytest.raises(ClientError) as exc:
        fed.assume(role["Arn"], session_name=None)
    assert code(exc) == "InvalidIdentityToken" and message(exc) == "RoleSessionName is required in AuthnResponse"
    with pytest.raises(ClientError) as exc:
        fed.assume(role["Arn"], session_name="no spaces allowed")
    assert message(exc) == "RoleSessionName in AuthnResponse must match [a-zA-Z_0-9+=,.@-]{2,64}"


def test_trust_that_names_another_provider_denies(root_iam, fed) -> None:
    elsewhere = register(root_iam, DemoIdP().metadata())
    role = make_role(root_iam, saml_trust(elsewhere))
    with pytest.raises(ClientError) as exc:
        fed.assume(role["Arn"])
    assert code(exc) == "AccessDenied"
    role = make_role(root_iam, saml_trust(fed.provider, "sts:AssumeRole"))  # the wrong action
    with pytest.raises(ClientError) as exc:
        fed.assume(role["Arn"])
    assert code(exc) == "AccessDenied"


def test_unknown_provider(fed, root_iam) -> None:
    role = make_role(root_iam, saml_trust(fed.provider))
    for principal in (f"arn:aws:iam::{ACCOUNT}:saml-provider/nobody", f"arn:aws:iam::999999999999:saml-provider/x"):
        with pytest.raises(ClientError) as exc:
            fed.assume(role["Arn"], principal=principal)
        assert code(exc) == "InvalidIdentityToken" and message(exc) == "Specified provider doesn't exist."


def test_an_assertion_for_another_provider_is_refused(root_iam, sts, endpoint, fed) -> None:
    other = register(root_iam, DemoIdP(entity_id="https://other-idp.test/saml").metadata())
    role = make_role(root_iam, saml_trust(other))
    assertion = fed.response(None, roles=[(role["Arn"], other)])  # signed by the demo IdP
    with pytest.raises(ClientError) as exc:
        fed.assume(role["Arn"], assertion, principal=other)
    assert code(exc) == "InvalidIdentityToken"


# ---- the audit trail ----
def test_audit_names_the_saml_user_never_the_assertion(server, root_iam, fed) -> None:
    role = make_role(root_iam, saml_trust(fed.provider))
    assertion = fed.response(role["Arn"])
    out = fed.assume(role["Arn"], assertion)
    line = audit_line(server, out["ResponseMetadata"]["RequestId"])
    nq = out["NameQualifier"]
    assert line["userIdentity"] == {"type": "SAMLUser", "principalId": f"{nq}:alice@example.test",
                                    "userName": "alice@example.test", "identityProvider": nq}
    # CloudTrail's form: lowerCamelCase, the assertion never recorded, credentials reduced
    assert line["requestParameters"]["roleArn"] == role["Arn"]
    assert line["requestParameters"]["principalArn"] == fed.provider
    assert "sAMLAssertion" not in line["requestParameters"] and assertion not in json.dumps(line)
    elements = line["responseElements"]
    assert elements["credentials"] == {"accessKeyId": out["Credentials"]["AccessKeyId"],
                                       "expiration": out["Credentials"]["Expiration"].strftime(
                                           "%b %-d, %Y %-I:%M:%S %p")}
    assert elements["assumedRoleUser"] == {"assumedRoleId": out["AssumedRoleUser"]["AssumedRoleId"],
                                           "arn": out["AssumedRoleUser"]["Arn"]}
    assert (elements["subject"], elements["nameQualifier"]) == ("alice@example.test", nq)
    with pytest.raises(ClientError) as exc:
        fed.assume(role["Arn"], assertion)
    line = audit_line(server, exc.value.response["ResponseMetadata"]["RequestId"])
    assert line["reason"] == "saml_replay" and line["userIdentity"]["type"] == "SAMLUser"
    with pytest.raises(ClientError) as exc:
        fed.assume(role["Arn"], fed.response(role["Arn"], audience="https://elsewhere.test/saml"))
    line = audit_line(server, exc.value.response["ResponseMetadata"]["RequestId"])
    assert code(exc) == "InvalidIdentityToken" and line["reason"] == "saml_audience_mismatch"
    log = server.log()
    assert assertion not in log and assertion[100:160] not in log
