"""IAM SAML providers through unmodified boto3 against the real server and Redis: every action,
AWS's errors and limits, authorization by policy (tags included), and private keys that never
leave the server nor rest in Redis in plaintext. Metadata and keys are generated in the test."""
from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

import pytest
import redis
from botocore.exceptions import ClientError

from tests.saml_provider_material import certificate, ec_key, metadata, private_key_pem, rsa_key

from .conftest import ACCOUNT, REDIS_URL, aws_error as err, unique

IDP = "https://idp.example/saml"


def doc(entity: str = IDP, n: int = 0, **kw: Any) -> str:
    return metadata(entity, [certificate(rsa_key(2048, n), cn=f"idp-{n}")], **kw)


def key(n: int) -> str:
    return private_key_pem(rsa_key(2048, 20 + n))


def arn_of(name: str) -> str:
    return f"arn:aws:iam::{ACCOUNT}:saml-provider/{name}"


def raw_bodies(iam: Any) -> list[bytes]:
    """Collects the raw XML of every response the client reads from now on."""
    seen: list[bytes] = []
    iam.meta.events.register("before-parse.iam.*", lambda response_dict, **_: seen.append(response_dict["body"]))
    return seen


def test_provider_lifecycle(root_iam: Any) -> None:
    name = unique("Okta")
    arn = arn_of(name)
    providers_before = root_iam.get_account_summary()["SummaryMap"]["Providers"]
    made = root_iam.create_saml_provider(Name=name, SAMLMetadataDocument=doc(),
                                         Tags=[{"Key": "team", "Value": "a"}, {"Key": "Env", "Value": "prod"}],
                                         AssertionEncryptionMode="Required", AddPrivateKey=key(0))
    assert made["SAMLProviderArn"] == arn
    assert made["Tags"] == [{"Key": "Env", "Value": "prod"}, {"Key": "team", "Value": "a"}]
    assert root_iam.get_account_summary()["SummaryMap"]["Providers"] == providers_before + 1

    bodies = raw_bodies(root_iam)
    got = root_iam.get_saml_provider(SAMLProviderArn=arn)
    assert got["SAMLMetadataDocument"] == doc()
    uuid = got["SAMLProviderUUID"]
    assert 22 <= len(uuid) <= 64 and uuid.isalnum() and uuid.isupper()
    created, until = got["CreateDate"], got["ValidUntil"]
    assert abs(created.timestamp() - datetime.now(timezone.utc).timestamp()) < 300
    assert until.year == created.year + 100 and until.month == created.month  # AWS's default: +100 years
    assert got["AssertionEncryptionMode"] == "Required"
    (first,) = got["PrivateKeyList"]
    assert 22 <= len(first["KeyId"]) <= 64 and first["Timestamp"].year == created.year
    assert sorted(t["Key"] for t in got["Tags"]) == ["Env", "team"]
    assert bodies and b"PRIVATE KEY" not in bodies[-1] and key(0)[60:120].encode() not in bodies[-1]

    listed = {p["Arn"]: p for p in root_iam.list_saml_providers()["SAMLProviderList"]}
    assert listed[arn]["ValidUntil"] == until and listed[arn]["CreateDate"] == created
    # the name is unique case-insensitively; the ARN resolves whatever its case
    assert root_iam.get_saml_provider(SAMLProviderArn=arn.upper().replace("ARN:AWS:IAM", "arn:aws:iam")
                                      .replace("SAML-PROVIDER", "saml-provider"))["SAMLProviderUUID"] == uuid

    # a new metadata document, with its own validUntil
    root_iam.update_saml_provider(SAMLProviderArn=arn, SAMLMetadataDocument=doc("https://idp2.example", 1,
                                  valid_until="2040-01-01T00:00:00Z"))
    got = root_iam.get_saml_provider(SAMLProviderArn=arn)
    assert 'entityID="https://idp2.example"' in got["SAMLMetadataDocument"]
    assert got["ValidUntil"] == datetime(2040, 1, 1, tzinfo=timezone.utc)

    # private keys: a second, not a third; keys removed one at a time, never the last one of Required
    assert root_iam.update_saml_provider(SAMLProviderArn=arn, AddPrivateKey=key(1))["SAMLProviderArn"] == arn
    with pytest.raises(ClientError) as exc:
        root_iam.update_saml_provider(SAMLProviderArn=arn, AddPrivateKey=key(2))
    assert err(exc)[:2] == ("LimitExceeded", "Private key limit of 2 is reached.")
    ids = [k["KeyId"] for k in root_iam.get_saml_provider(SAMLProviderArn=arn)["PrivateKeyList"]]
    assert len(ids) == 2 and ids[0] == first["KeyId"]
    root_iam.update_saml_provider(SAMLProviderArn=arn, RemovePrivateKey=ids[0])
    with pytest.raises(ClientError) as exc:
        root_iam.update_saml_provider(SAMLProviderArn=arn, RemovePrivateKey=ids[1])
    assert err(exc)[0] == "InvalidInput" and "Failed to remove private key" in err(exc)[1]
    root_iam.update_saml_provider(SAMLProviderArn=arn, AssertionEncryptionMode="Allowed")
    root_iam.update_saml_provider(SAMLProviderArn=arn, RemovePrivateKey=ids[1])
    got = root_iam.get_saml_provider(SAMLProviderArn=arn)
    assert "PrivateKeyList" not in got and got["AssertionEncryptionMode"] == "Allowed"

    # tags
    root_iam.tag_saml_provider(SAMLProviderArn=arn, Tags=[{"Key": "owner", "Value": "me"}])
    root_iam.untag_saml_provider(SAMLProviderArn=arn, TagKeys=["TEAM"])
    tags = root_iam.list_saml_provider_tags(SAMLProviderArn=arn)
    assert tags["Tags"] == [{"Key": "Env", "Value": "prod"}, {"Key": "owner", "Value": "me"}]
    assert not tags["IsTruncated"]
    page = root_iam.list_saml_provider_tags(SAMLProviderArn=arn, MaxItems=1)
    assert page["IsTruncated"] and page["Tags"] == [{"Key": "Env", "Value": "prod"}]
    rest = root_iam.list_saml_provider_tags(SAMLProviderArn=arn, Marker=page["Marker"])
    assert rest["Tags"] == [{"Key": "owner", "Value": "me"}]

    root_iam.delete_saml_provider(SAMLProviderArn=arn)
    assert arn not in {p["Arn"] for p in root_iam.list_saml_providers()["SAMLProviderList"]}
    assert root_iam.get_account_summary()["SummaryMap"]["Providers"] == providers_before
    for call in (lambda: root_iam.get_saml_provider(SAMLProviderArn=arn),
                 lambda: root_iam.delete_saml_provider(SAMLProviderArn=arn),
                 lambda: root_iam.list_saml_provider_tags(SAMLProviderArn=arn)):
        with pytest.raises(ClientError) as exc:
            call()
        assert err(exc) == ("NoSuchEntity", f"Manifest not found for arn {arn}", 404)


def test_rotation_metadata_keeps_both_signing_certificates(root_iam: Any) -> None:
    name = unique("rotating")
    two = metadata(IDP, [certificate(rsa_key(2048, 0), cn="old"), certificate(ec_key(), cn="new")])
    root_iam.create_saml_provider(Name=name, SAMLMetadataDocument=two)
    assert root_iam.get_saml_provider(SAMLProviderArn=arn_of(name))["SAMLMetadataDocument"] == two
    root_iam.delete_saml_provider(SAMLProviderArn=arn_of(name))


def test_private_keys_rest_sealed_in_redis_and_stay_out_of_the_logs(root_iam: Any, server: Any) -> None:
    name = unique("sealed")
    pem, other = key(3), key(4)
    root_iam.create_saml_provider(Name=name, SAMLMetadataDocument=doc(), AddPrivateKey=pem)
    root_iam.update_saml_provider(SAMLProviderArn=arn_of(name), AddPrivateKey=other)
    with pytest.raises(ClientError):  # a refused call is audited too
        root_iam.update_saml_provider(SAMLProviderArn=arn_of(name), AddPrivateKey=key(5))
    r = redis.Redis.from_url(REDIS_URL)
    needles = [p.splitlines()[5].encode() for p in (pem, other, key(5))]  # lines from the middle of the keys
    for k in r.scan_iter(match=f"{{iam:{ACCOUNT}}}:saml:*"):
        values = [r.get(k)] if r.type(k) == b"string" else list(r.hgetall(k).values())
        assert not any(n in (v or b"") or b"PRIVATE KEY" in (v or b"") for v in values for n in needles)
    root_iam.delete_saml_provider(SAMLProviderArn=arn_of(name))
    log = server.log()
    assert "UpdateSAMLProvider" in log  # the calls were logged...
    assert not any(n.decode() in log for n in needles) and "PRIVATE KEY" not in log  # ...without the keys


BAD_CALLS: list[tuple[str, Callable[[Any, str], Any], str, str]] = [
    ("metadata that is not metadata",
     lambda iam, n: iam.create_saml_provider(Name=n, SAMLMetadataDocument="<a>" + "x" * 1000 + "</a>"),
     "InvalidInput", "Could not parse metadata: the root element is `a`"),
    ("metadata with a DTD",
     lambda iam, n: iam.create_saml_provider(Name=n, SAMLMetadataDocument='<!DOCTYPE a [<!ENTITY x "y">]>'
                                             + doc()[38:]),
     "InvalidInput", "Could not parse metadata: the XML document carries a DTD"),
    ("metadata of a service provider",
     lambda iam, n: iam.create_saml_provider(Name=n, SAMLMetadataDocument=metadata(IDP, idp=False)),
     "InvalidInput", "no IDPSSODescriptor"),
    ("a weak signing certificate",
     lambda iam, n: iam.create_saml_provider(Name=n, SAMLMetadataDocument=metadata(
         IDP, [certificate(rsa_key(1024))])), "InvalidInput", "1024-bit RSA key"),
    ("metadata shorter than the model's 1000 characters",
     lambda iam, n: iam.create_saml_provider(Name=n, SAMLMetadataDocument="<short/>"), "ValidationError", "1000"),
    ("a name outside [\\w._-]+",
     lambda iam, n: iam.create_saml_provider(Name=n + " x", SAMLMetadataDocument=doc()), "ValidationError", "at 'name'"),
    ("a private key that is not one",
     lambda iam, n: iam.create_saml_provider(Name=n, SAMLMetadataDocument=doc(), AddPrivateKey="nope"),
     "InvalidInput", "Invalid private key: Key format is not recognized"),
    ("an EC private key",
     lambda iam, n: iam.create_saml_provider(Name=n, SAMLMetadataDocument=doc(),
                                             AddPrivateKey=private_key_pem(ec_key())),
     "InvalidInput", "RSA-OAEP"),
    ("Required without a private key",
     lambda iam, n: iam.create_saml_provider(Name=n, SAMLMetadataDocument=doc(), AssertionEncryptionMode="Required"),
     "InvalidInput", "no private key is provided"),
    ("an encryption mode outside the model's enum",
     lambda iam, n: iam.create_saml_provider(Name=n, SAMLMetadataDocument=doc(), AssertionEncryptionMode="Sometimes"),
     "ValidationError", "at 'assertionEncryptionMode'"),
    ("trusted identity propagation",
     lambda iam, n: iam.create_saml_provider(Name=n, SAMLMetadataDocument=doc(),
                                             ContextProvider={"SubjectSourceKey": "NameID"}),
     "InvalidInput", "trusted identity propagation"),
    ("a provider that does not exist",
     lambda iam, n: iam.get_saml_provider(SAMLProviderArn=arn_of(n)), "NoSuchEntity", "Manifest not found for arn"),
    ("a provider of another account",
     lambda iam, n: iam.delete_saml_provider(SAMLProviderArn=f"arn:aws:iam::999999999999:saml-provider/{n}"),
     "NoSuchEntity", "Manifest not found for arn arn:aws:iam::999999999999"),
    ("an ARN that names no SAML provider",
     lambda iam, n: iam.get_saml_provider(SAMLProviderArn=f"arn:aws:iam::{ACCOUNT}:role/{n}"),
     "InvalidInput", "is not a SAML provider ARN"),
]


@pytest.mark.parametrize("note,call,code,words", BAD_CALLS, ids=[b[0] for b in BAD_CALLS])
def test_bad_calls(unchecked_iam: Any, note: str, call: Callable[[Any, str], Any], code: str, words: str) -> None:
    name = unique("bad")
    with pytest.raises(ClientError) as exc:
        call(unchecked_iam, name)
    got_code, got_message, status = err(exc)
    assert (got_code, status < 500) == (code, True)
    assert words in got_message
    assert "MII" not in got_message  # no key or certificate material is echoed


def test_rules_of_existing_providers(root_iam: Any) -> None:
    name = unique("rules")
    arn = arn_of(name)
    root_iam.create_saml_provider(Name=name, SAMLMetadataDocument=doc())
    with pytest.raises(ClientError) as exc:
        root_iam.create_saml_provider(Name=name.upper(), SAMLMetadataDocument=doc())
    assert err(exc)[0] == "EntityAlreadyExists"
    cases: list[tuple[dict[str, str], str, str]] = [
        ({}, "InvalidInput", "No updates are defined"),
        ({"AddPrivateKey": key(0), "RemovePrivateKey": "A" * 24}, "InvalidInput",
         "Unable to add and remove private keys in the same request"),
        ({"RemovePrivateKey": "A" * 24}, "InvalidInput", "does not match a private key"),
        ({"AssertionEncryptionMode": "Required"}, "InvalidInput", "no private key is provided"),
        ({"SAMLMetadataDocument": doc(valid_until="2001-01-01T00:00:00Z")}, "InvalidInput", "expired"),
    ]
    for args, code, words in cases:
        with pytest.raises(ClientError) as exc:
            root_iam.update_saml_provider(SAMLProviderArn=arn, **args)
        assert err(exc)[0] == code and words in err(exc)[1], args.keys()
    # nothing of the refused updates stuck
    assert root_iam.get_saml_provider(SAMLProviderArn=arn)["SAMLMetadataDocument"] == doc()
    with pytest.raises(ClientError) as exc:
        root_iam.tag_saml_provider(SAMLProviderArn=arn, Tags=[{"Key": f"k{i}", "Value": ""} for i in range(51)])
    assert err(exc)[0] in ("LimitExceeded", "ValidationError")
    root_iam.delete_saml_provider(SAMLProviderArn=arn)


def test_authorization_by_policy(root_iam: Any, make_user: Any, server: Any) -> None:
    mine, theirs = unique("Mine"), unique("Theirs")
    for name, owner in ((mine, "me"), (theirs, "them")):
        root_iam.create_saml_provider(Name=name, SAMLMetadataDocument=doc(), Tags=[{"Key": "owner", "Value": owner}])
    nobody = make_user().client(server, "iam")
    for call in (lambda: nobody.list_saml_providers(),
                 lambda: nobody.get_saml_provider(SAMLProviderArn=arn_of(mine)),
                 lambda: nobody.create_saml_provider(Name=unique("x"), SAMLMetadataDocument=doc()),
                 lambda: nobody.get_saml_provider(SAMLProviderArn=arn_of(unique("missing")))):
        with pytest.raises(ClientError) as exc:
            call()
        assert err(exc)[0] == "AccessDenied" and err(exc)[2] == 403

    policy = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["iam:GetSAMLProvider", "iam:UpdateSAMLProvider", "iam:DeleteSAMLProvider",
                                       "iam:ListSAMLProviderTags"],
         "Resource": "*", "Condition": {"StringEquals": {"aws:ResourceTag/owner": "me"}}},
        {"Effect": "Allow", "Action": "iam:ListSAMLProviders", "Resource": "*"},
        {"Effect": "Allow", "Action": "iam:CreateSAMLProvider", "Resource": arn_of("team-*"),
         "Condition": {"StringEquals": {"aws:RequestTag/owner": "me"}}},
        {"Effect": "Allow", "Action": ["iam:TagSAMLProvider", "iam:UntagSAMLProvider"],
         "Resource": arn_of(mine), "Condition": {"ForAllValues:StringEquals": {"aws:TagKeys": ["env"]}}},
    ]}
    user = make_user(json.dumps(policy)).client(server, "iam")
    assert arn_of(mine) in {p["Arn"] for p in user.list_saml_providers()["SAMLProviderList"]}
    assert user.get_saml_provider(SAMLProviderArn=arn_of(mine))["SAMLProviderUUID"]
    user.update_saml_provider(SAMLProviderArn=arn_of(mine), AssertionEncryptionMode="Allowed")
    user.tag_saml_provider(SAMLProviderArn=arn_of(mine), Tags=[{"Key": "env", "Value": "x"}])
    user.untag_saml_provider(SAMLProviderArn=arn_of(mine), TagKeys=["env"])
    team = unique("team")
    user.create_saml_provider(Name=team, SAMLMetadataDocument=doc(), Tags=[{"Key": "owner", "Value": "me"}])
    denied: list[Callable[[], Any]] = [
        lambda: user.get_saml_provider(SAMLProviderArn=arn_of(theirs)),
        lambda: user.delete_saml_provider(SAMLProviderArn=arn_of(theirs)),
        lambda: user.tag_saml_provider(SAMLProviderArn=arn_of(mine), Tags=[{"Key": "owner", "Value": "x"}]),
        lambda: user.untag_saml_provider(SAMLProviderArn=arn_of(mine), TagKeys=["owner"]),
        lambda: user.create_saml_provider(Name=unique("team"), SAMLMetadataDocument=doc()),  # no owner tag
        lambda: user.create_saml_provider(Name=unique("other"), SAMLMetadataDocument=doc(),
                                          Tags=[{"Key": "owner", "Value": "me"}]),
    ]
    for call in denied:
        with pytest.raises(ClientError) as exc:
            call()
        code, message, _ = err(exc)
        assert code == "AccessDenied" and "iam:" in message and "SAMLProvider" in message
    user.delete_saml_provider(SAMLProviderArn=arn_of(mine))
    for name in (theirs, team):
        root_iam.delete_saml_provider(SAMLProviderArn=arn_of(name))
