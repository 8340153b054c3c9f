"""IAM OpenID Connect providers through unmodified boto3 against the real server and Redis: every
action, AWS's errors and limits (texts recorded from AWS where known), URL rules (https, http on
loopback hosts only), authorization by policy (tags included), GetAccountSummary, and trust
policies that may name only providers that exist."""
from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

import pytest
from botocore.exceptions import ClientError

from .conftest import ACCOUNT, aws_error as err, trust, unique


def arn_of(url: str) -> str:
    return f"arn:aws:iam::{ACCOUNT}:oidc-provider/{url.split('://', 1)[1]}"


def issuer(path: str = "") -> str:
    return f"https://{unique('idp')}.example.com{path}"


def providers(iam: Any) -> int:
    return int(iam.get_account_summary()["SummaryMap"]["Providers"])


def test_provider_lifecycle(root_iam: Any) -> None:
    url = issuer("/realms/acme")
    arn = arn_of(url)
    before = providers(root_iam)
    made = root_iam.create_open_id_connect_provider(
        Url=url, ClientIDList=["sts.amazonaws.com", "app", "sts.amazonaws.com"], ThumbprintList=["a" * 40],
        Tags=[{"Key": "team", "Value": "a"}, {"Key": "Env", "Value": "prod"}])
    assert made["OpenIDConnectProviderArn"] == arn  # the issuer URL without scheme, path included
    assert made["Tags"] == [{"Key": "Env", "Value": "prod"}, {"Key": "team", "Value": "a"}]
    assert providers(root_iam) == before + 1

    got = root_iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)
    assert got["Url"] == url.removeprefix("https://")  # as AWS returns it
    assert got["ClientIDList"] == ["sts.amazonaws.com", "app"] and got["ThumbprintList"] == ["a" * 40]
    assert abs(got["CreateDate"].timestamp() - datetime.now(timezone.utc).timestamp()) < 300
    assert sorted(t["Key"] for t in got["Tags"]) == ["Env", "team"]
    assert {"Arn": arn} in root_iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]

    # client ids: adding one twice and removing an unknown one are no-ops (as AWS)
    for _ in range(2):
        root_iam.add_client_id_to_open_id_connect_provider(OpenIDConnectProviderArn=arn, ClientID="ci")
    root_iam.remove_client_id_from_open_id_connect_provider(OpenIDConnectProviderArn=arn, ClientID="app")
    root_iam.remove_client_id_from_open_id_connect_provider(OpenIDConnectProviderArn=arn, ClientID="never")
    # thumbprints: the list is replaced, not merged
    root_iam.update_open_id_connect_provider_thumbprint(OpenIDConnectProviderArn=arn,
                                                        ThumbprintList=["c" * 40, "D" * 40])
    got = root_iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)
    assert got["ClientIDList"] == ["sts.amazonaws.com", "ci"] and got["ThumbprintList"] == ["c" * 40, "D" * 40]
    root_iam.update_open_id_connect_provider_thumbprint(OpenIDConnectProviderArn=arn, ThumbprintList=[])
    assert root_iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn).get("ThumbprintList", []) == []

    # tags
    root_iam.tag_open_id_connect_provider(OpenIDConnectProviderArn=arn, Tags=[{"Key": "owner", "Value": "me"}])
    root_iam.untag_open_id_connect_provider(OpenIDConnectProviderArn=arn, TagKeys=["TEAM"])
    tags = root_iam.list_open_id_connect_provider_tags(OpenIDConnectProviderArn=arn)
    assert tags["Tags"] == [{"Key": "Env", "Value": "prod"}, {"Key": "owner", "Value": "me"}] and not tags["IsTruncated"]
    page = root_iam.list_open_id_connect_provider_tags(OpenIDConnectProviderArn=arn, MaxItems=1)
    assert page["IsTruncated"] and page["Tags"] == [{"Key": "Env", "Value": "prod"}]
    rest = root_iam.list_open_id_connect_provider_tags(OpenIDConnectProviderArn=arn, Marker=page["Marker"])
    assert rest["Tags"] == [{"Key": "owner", "Value": "me"}]

    root_iam.delete_open_id_connect_provider(OpenIDConnectProviderArn=arn)
    assert {"Arn": arn} not in root_iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]
    assert providers(root_iam) == before
    with pytest.raises(ClientError) as exc:
        root_iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)
    assert err(exc) == ("NoSuchEntity", f"OpenIDConnect Provider not found for arn {arn}", 404)
    with pytest.raises(ClientError) as exc:
        root_iam.delete_open_id_connect_provider(OpenIDConnectProviderArn=arn)
    assert err(exc) == ("NoSuchEntity", f"OpenId connect Provider {arn} cannot be found.", 404)


def test_loopback_issuers_may_use_http(root_iam: Any) -> None:
    for url in ("http://127.0.0.1:9400", "http://localhost:8080/realms/dev", "http://[::1]:8443/",
                "http://127.9.9.9", "https://127.0.0.1:9443"):
        arn = root_iam.create_open_id_connect_provider(Url=url)["OpenIDConnectProviderArn"]
        assert arn == arn_of(url)
        assert root_iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)["Url"] == url.split("://")[1]
        if url.startswith("http://127.0.0.1"):  # same URL without scheme: the same provider
            with pytest.raises(ClientError) as exc:
                root_iam.create_open_id_connect_provider(Url="https" + url[4:])
            assert err(exc)[0] == "EntityAlreadyExists"
        root_iam.delete_open_id_connect_provider(OpenIDConnectProviderArn=arn)


BAD_CALLS: list[tuple[str, Callable[[Any, str], Any], str, str]] = [
    ("a URL without scheme", lambda iam, u: iam.create_open_id_connect_provider(Url="example.org"),
     "ValidationError", "Invalid Open ID Connect Provider URL"),
    ("http on a host that is not loopback",
     lambda iam, u: iam.create_open_id_connect_provider(Url="http://idp.example.com"),
     "ValidationError", "only loopback hosts"),
    ("http on a name that only starts like a loopback address",
     lambda iam, u: iam.create_open_id_connect_provider(Url="http://127.0.0.1.example.com"),
     "ValidationError", "only loopback hosts"),
    ("a query", lambda iam, u: iam.create_open_id_connect_provider(Url=u + "?tenant=a"),
     "ValidationError", "must not have a query"),
    ("a fragment", lambda iam, u: iam.create_open_id_connect_provider(Url=u + "#x"),
     "ValidationError", "must not have a fragment"),
    ("user information", lambda iam, u: iam.create_open_id_connect_provider(Url="https://me@idp.example.com"),
     "ValidationError", "user information"),
    ("a port out of range", lambda iam, u: iam.create_open_id_connect_provider(Url="https://idp.example.com:70000"),
     "ValidationError", "port"),
    ("a space in the path", lambda iam, u: iam.create_open_id_connect_provider(Url=u + "/a b"),
     "ValidationError", "path"),
    ("a URL over 255 characters",
     lambda iam, u: iam.create_open_id_connect_provider(Url="https://" + "a" * 250 + ".com"),
     "ValidationError", "at 'url'"),
    ("six thumbprints",
     lambda iam, u: iam.create_open_id_connect_provider(Url=u, ThumbprintList=[c * 40 for c in "abcdef"]),
     "InvalidInput", "Thumbprint list must contain fewer than 5 entries."),
    ("a thumbprint that is not hex",
     lambda iam, u: iam.create_open_id_connect_provider(Url=u, ThumbprintList=["g" * 40]),
     "InvalidInput", "not 40 hexadecimal characters"),
    ("a thumbprint of 41 characters",
     lambda iam, u: iam.create_open_id_connect_provider(Url=u, ThumbprintList=["a" * 41]),
     "ValidationError", "at 'thumbprintList.1.member'"),
    ("101 client ids",
     lambda iam, u: iam.create_open_id_connect_provider(Url=u, ClientIDList=[str(i) for i in range(101)]),
     "LimitExceeded", "Cannot exceed quota for ClientIdsPerOpenIdConnectProvider: 100"),
    ("a client id over 255 characters",
     lambda iam, u: iam.create_open_id_connect_provider(Url=u, ClientIDList=["c" * 256]),
     "ValidationError", "at 'clientIDList.1.member'"),
    ("trusted identity propagation",
     lambda iam, u: iam.create_open_id_connect_provider(Url=u, ContextProvider={"SubjectSourceKey": "sub"}),
     "InvalidInput", "trusted identity propagation"),
    ("a provider that does not exist",
     lambda iam, u: iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn_of(u)),
     "NoSuchEntity", "OpenIDConnect Provider not found for arn"),
    ("a provider of another account",
     lambda iam, u: iam.add_client_id_to_open_id_connect_provider(
         OpenIDConnectProviderArn=arn_of(u).replace(ACCOUNT, "999999999999"), ClientID="x"),
     "NoSuchEntity", "arn:aws:iam::999999999999:oidc-provider/"),
    ("an ARN that names no OIDC provider",
     lambda iam, u: iam.get_open_id_connect_provider(OpenIDConnectProviderArn=f"arn:aws:iam::{ACCOUNT}:role/x"),
     "InvalidInput", "is not an OpenID Connect provider ARN"),
]


@pytest.mark.parametrize("note,call,code,words", BAD_CALLS, ids=[b[0] for b in BAD_CALLS])
def test_bad_calls(unchecked_iam: Any, note: str, call: Callable[[Any, str], Any], code: str, words: str) -> None:
    url = issuer()
    with pytest.raises(ClientError) as exc:
        call(unchecked_iam, url)
    got_code, got_message, status = err(exc)
    assert (got_code, status < 500) == (code, True)
    assert words in got_message
    with pytest.raises(ClientError):  # nothing was created
        unchecked_iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn_of(url))


def test_rules_of_existing_providers(root_iam: Any) -> None:
    url = issuer()
    arn = arn_of(url)
    root_iam.create_open_id_connect_provider(Url=url, ClientIDList=[str(i) for i in range(99)])
    with pytest.raises(ClientError) as exc:
        root_iam.create_open_id_connect_provider(Url=url)
    assert err(exc) == ("EntityAlreadyExists", f"Provider with url {url} already exists.", 409)
    root_iam.add_client_id_to_open_id_connect_provider(OpenIDConnectProviderArn=arn, ClientID="100th")
    with pytest.raises(ClientError) as exc:
        root_iam.add_client_id_to_open_id_connect_provider(OpenIDConnectProviderArn=arn, ClientID="101st")
    assert err(exc)[:2] == ("LimitExceeded", "Cannot exceed quota for ClientIdsPerOpenIdConnectProvider: 100")
    with pytest.raises(ClientError) as exc:
        root_iam.update_open_id_connect_provider_thumbprint(OpenIDConnectProviderArn=arn,
                                                            ThumbprintList=[c * 40 for c in "abcdef"])
    assert err(exc)[:2] == ("InvalidInput", "Thumbprint list must contain fewer than 5 entries.")
    root_iam.tag_open_id_connect_provider(OpenIDConnectProviderArn=arn,
                                          Tags=[{"Key": f"k{i:02d}", "Value": ""} for i in range(50)])
    with pytest.raises(ClientError) as exc:
        root_iam.tag_open_id_connect_provider(OpenIDConnectProviderArn=arn, Tags=[{"Key": "one", "Value": "more"}])
    assert err(exc)[:2] == ("LimitExceeded", "The number of tags has reached the maximum limit.")
    got = root_iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)
    assert (len(got["ClientIDList"]), len(got["Tags"])) == (100, 50)
    root_iam.delete_open_id_connect_provider(OpenIDConnectProviderArn=arn)


def test_authorization_by_policy(root_iam: Any, make_user: Any, server: Any) -> None:
    mine, theirs = issuer(), issuer()
    for url, owner in ((mine, "me"), (theirs, "them")):
        root_iam.create_open_id_connect_provider(Url=url, Tags=[{"Key": "owner", "Value": owner}])
    nobody = make_user().client(server, "iam")
    for call in (lambda: nobody.list_open_id_connect_providers(),
                 lambda: nobody.get_open_id_connect_provider(OpenIDConnectProviderArn=arn_of(mine)),
                 lambda: nobody.create_open_id_connect_provider(Url=issuer()),
                 lambda: nobody.get_open_id_connect_provider(OpenIDConnectProviderArn=arn_of(issuer()))):
        with pytest.raises(ClientError) as exc:
            call()
        assert err(exc)[0] == "AccessDenied" and err(exc)[2] == 403

    team = f"https://team-{unique('x')}.example.com"
    policy = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["iam:GetOpenIDConnectProvider", "iam:AddClientIDToOpenIDConnectProvider",
                                       "iam:DeleteOpenIDConnectProvider", "iam:ListOpenIDConnectProviderTags"],
         "Resource": "*", "Condition": {"StringEquals": {"aws:ResourceTag/owner": "me"}}},
        {"Effect": "Allow", "Action": "iam:ListOpenIDConnectProviders", "Resource": "*"},
        {"Effect": "Allow", "Action": "iam:CreateOpenIDConnectProvider",
         "Resource": f"arn:aws:iam::{ACCOUNT}:oidc-provider/team-*",
         "Condition": {"StringEquals": {"aws:RequestTag/owner": "me"}}},
        {"Effect": "Allow", "Action": ["iam:TagOpenIDConnectProvider", "iam:UntagOpenIDConnectProvider"],
         "Resource": arn_of(mine), "Condition": {"ForAllValues:StringEquals": {"aws:TagKeys": ["env"]}}},
    ]}
    user = make_user(json.dumps(policy)).client(server, "iam")
    assert {"Arn": arn_of(mine)} in user.list_open_id_connect_providers()["OpenIDConnectProviderList"]
    assert user.get_open_id_connect_provider(OpenIDConnectProviderArn=arn_of(mine))["Url"]
    user.add_client_id_to_open_id_connect_provider(OpenIDConnectProviderArn=arn_of(mine), ClientID="x")
    user.tag_open_id_connect_provider(OpenIDConnectProviderArn=arn_of(mine), Tags=[{"Key": "env", "Value": "x"}])
    user.untag_open_id_connect_provider(OpenIDConnectProviderArn=arn_of(mine), TagKeys=["env"])
    user.create_open_id_connect_provider(Url=team, Tags=[{"Key": "owner", "Value": "me"}])
    denied: list[Callable[[], Any]] = [
        lambda: user.get_open_id_connect_provider(OpenIDConnectProviderArn=arn_of(theirs)),
        lambda: user.delete_open_id_connect_provider(OpenIDConnectProviderArn=arn_of(theirs)),
        lambda: user.update_open_id_connect_provider_thumbprint(OpenIDConnectProviderArn=arn_of(mine),
                                                                ThumbprintList=["a" * 40]),
        lambda: user.tag_open_id_connect_provider(OpenIDConnectProviderArn=arn_of(mine),
                                                  Tags=[{"Key": "owner", "Value": "x"}]),
        lambda: user.untag_open_id_connect_provider(OpenIDConnectProviderArn=arn_of(mine), TagKeys=["owner"]),
        lambda: user.create_open_id_connect_provider(Url=f"https://team-{unique('y')}.example.com"),  # no tag
        lambda: user.create_open_id_connect_provider(Url=issuer(), Tags=[{"Key": "owner", "Value": "me"}]),
    ]
    for call in denied:
        with pytest.raises(ClientError) as exc:
            call()
        code, message, _ = err(exc)
        assert code == "AccessDenied" and "iam:" in message and "OpenIDConnectProvider" in message
    user.delete_open_id_connect_provider(OpenIDConnectProviderArn=arn_of(mine))
    for url in (theirs, team):
        root_iam.delete_open_id_connect_provider(OpenIDConnectProviderArn=arn_of(url))


def test_trust_policies_name_only_providers_that_exist(root_iam: Any) -> None:
    url = issuer("/id/EXAMPLE")
    arn = arn_of(url)
    prefix = url.removeprefix("https://")
    web = "sts:AssumeRoleWithWebIdentity"
    condition = {"StringEquals": {f"{prefix}:aud": "sts.amazonaws.com"}}
    saml = f"arn:aws:iam::{ACCOUNT}:saml-provider/{unique('nope')}"
    for principal, action in ((arn, web), (saml, "sts:AssumeRoleWithSAML")):
        with pytest.raises(ClientError) as exc:
            root_iam.create_role(RoleName=unique("r"), AssumeRolePolicyDocument=trust({"Federated": principal}, action))
        assert err(exc)[:2] == ("MalformedPolicyDocument", f'Invalid principal in policy: "Federated":"{principal}"')

    root_iam.create_open_id_connect_provider(Url=url, ClientIDList=["sts.amazonaws.com"])
    name = unique("r")
    root_iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust({"Federated": arn}, web, condition))
    # built-in providers and other accounts' providers are not looked up
    for principal in ("cognito-identity.amazonaws.com", "accounts.google.com", "graph.facebook.com",
                      "www.amazon.com", "arn:aws:iam::999999999999:oidc-provider/elsewhere.example.com"):
        root_iam.update_assume_role_policy(RoleName=name, PolicyDocument=trust({"Federated": principal}, web))
    root_iam.delete_open_id_connect_provider(OpenIDConnectProviderArn=arn)
    with pytest.raises(ClientError) as exc:
        root_iam.update_assume_role_policy(RoleName=name, PolicyDocument=trust({"Federated": arn}, web))
    assert err(exc)[:2] == ("MalformedPolicyDocument", f'Invalid principal in policy: "Federated":"{arn}"')
    root_iam.delete_role(RoleName=name)
