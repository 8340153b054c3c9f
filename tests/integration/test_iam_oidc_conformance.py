"""The IAM OpenID Connect provider API held to AWS's recorded answers, through unmodified boto3
against the real server and Redis: what GetOpenIDConnectProvider answers for a provider created
with nothing but its URL, the ARN and `Url` of URLs with a path, a port and a trailing slash,
the error code, text and HTTP status of every action on a provider that does not exist, each
action's AccessDenied text for a caller without permission (and its audit event), and
AssumeRoleWithWebIdentity refused on the very next request after the provider is deleted.

AWS's answers are the ones LocalStack recorded from AWS (tests/aws/services/iam/test_iam_oidc.py
and its .snapshot.json, validated against AWS on 2026-02-17/18); the AccessDenied text is AWS's
for identity-based policies (`... because no identity-based policy allows the <action> action`)."""
from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from idp_fixtures.oidc.server import IssuerServer

from .conftest import ACCOUNT, audit_line, aws_error as err, client, trust, unique


def arn_of(url: str) -> str:
    return f"arn:aws:iam::{ACCOUNT}:oidc-provider/{url.split('://', 1)[1]}"


def issuer(path: str = "") -> str:
    return f"https://{unique('conf')}.example.com{path}"


def test_get_answers_every_list_even_empty(root_iam: Any) -> None:
    """AWS (snapshot `get-response` and `after-update`): an untagged provider's Get carries
    `Tags: []`, and `ClientIDList: []` when it has no client id; the create echo has the ARN
    only (snapshot `create-https`)."""
    url = issuer()
    made = root_iam.create_open_id_connect_provider(Url=url)
    made.pop("ResponseMetadata")
    assert made == {"OpenIDConnectProviderArn": arn_of(url)}
    try:
        got = root_iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn_of(url))
        got.pop("ResponseMetadata")
        assert got.pop("CreateDate")
        assert got == {"Url": url.removeprefix("https://"), "ClientIDList": [], "ThumbprintList": [], "Tags": []}
        root_iam.tag_open_id_connect_provider(OpenIDConnectProviderArn=arn_of(url), Tags=[{"Key": "k", "Value": "v"}])
        root_iam.untag_open_id_connect_provider(OpenIDConnectProviderArn=arn_of(url), TagKeys=["k"])
        assert root_iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn_of(url))["Tags"] == []
    finally:
        root_iam.delete_open_id_connect_provider(OpenIDConnectProviderArn=arn_of(url))


@pytest.mark.parametrize("suffix", ["/oidc", "/id/EXAMPLED539D4633E53DE1B716D3041E", ":8443", "/", ":8443/realms/a/"])
def test_the_arn_and_url_are_the_url_without_scheme(root_iam: Any, suffix: str) -> None:
    """ARN `arn:aws:iam::ACCOUNT:oidc-provider/<url without https://>`, path (and port) included
    (snapshot `create-with-path`; EKS's `oidc.eks.REGION.amazonaws.com/id/ID`); nothing is
    normalised: a trailing slash makes another provider, as a token's `iss` is compared exactly."""
    base = issuer()
    url = base + suffix
    arn = root_iam.create_open_id_connect_provider(Url=url)["OpenIDConnectProviderArn"]
    other = root_iam.create_open_id_connect_provider(Url=base)["OpenIDConnectProviderArn"]
    try:
        assert arn == f"arn:aws:iam::{ACCOUNT}:oidc-provider/{base.removeprefix('https://')}{suffix}"
        assert other != arn
        assert root_iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)["Url"] == url.removeprefix("https://")
        listed = [p["Arn"] for p in root_iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]]
        assert arn in listed and other in listed
    finally:
        for a in (arn, other):
            root_iam.delete_open_id_connect_provider(OpenIDConnectProviderArn=a)


# every action that names a provider: (action, call, AWS's text for an unknown provider or None
# when no recording of it is known; then the code, the status and the ARN in the text are held)
ON_ONE: list[tuple[str, Callable[[Any, str], Any], str | None]] = [
    ("GetOpenIDConnectProvider", lambda iam, a: iam.get_open_id_connect_provider(OpenIDConnectProviderArn=a),
     "OpenIDConnect Provider not found for arn {arn}"),
    ("DeleteOpenIDConnectProvider", lambda iam, a: iam.delete_open_id_connect_provider(OpenIDConnectProviderArn=a),
     "OpenId connect Provider {arn} cannot be found."),
    ("AddClientIDToOpenIDConnectProvider",
     lambda iam, a: iam.add_client_id_to_open_id_connect_provider(OpenIDConnectProviderArn=a, ClientID="c"), None),
    ("RemoveClientIDFromOpenIDConnectProvider",
     lambda iam, a: iam.remove_client_id_from_open_id_connect_provider(OpenIDConnectProviderArn=a, ClientID="c"), None),
    ("UpdateOpenIDConnectProviderThumbprint",
     lambda iam, a: iam.update_open_id_connect_provider_thumbprint(OpenIDConnectProviderArn=a,
                                                                   ThumbprintList=["a" * 40]), None),
    ("TagOpenIDConnectProvider",
     lambda iam, a: iam.tag_open_id_connect_provider(OpenIDConnectProviderArn=a, Tags=[{"Key": "k", "Value": "v"}]),
     None),
    ("UntagOpenIDConnectProvider",
     lambda iam, a: iam.untag_open_id_connect_provider(OpenIDConnectProviderArn=a, TagKeys=["k"]), None),
    ("ListOpenIDConnectProviderTags",
     lambda iam, a: iam.list_open_id_connect_provider_tags(OpenIDConnectProviderArn=a), None),
]


@pytest.mark.parametrize("action,call,text", ON_ONE, ids=[c[0] for c in ON_ONE])
def test_an_unknown_provider_is_no_such_entity(root_iam: Any, action: str, call: Callable[[Any, str], Any],
                                               text: str | None) -> None:
    arn = arn_of(issuer("/never"))
    with pytest.raises(ClientError) as exc:
        call(root_iam, arn)
    code, message, status = err(exc)
    assert (code, status) == ("NoSuchEntity", 404)
    assert message == text.format(arn=arn) if text else arn in message


def test_quota_errors_are_409(root_iam: Any) -> None:
    """LimitExceeded is HTTP 409 (snapshots `quota-error` and `tags-limit-error`), as is
    EntityAlreadyExists (`duplicate-error`)."""
    url = issuer()
    arn = root_iam.create_open_id_connect_provider(Url=url, ClientIDList=[str(i) for i in range(100)],
                                                   Tags=[{"Key": f"k{i:02d}", "Value": ""} for i in range(50)]
                                                   )["OpenIDConnectProviderArn"]
    try:
        answers = []
        for call in (lambda: root_iam.create_open_id_connect_provider(Url=issuer(), ClientIDList=[str(i) for i in range(101)]),
                     lambda: root_iam.add_client_id_to_open_id_connect_provider(OpenIDConnectProviderArn=arn, ClientID="x"),
                     lambda: root_iam.tag_open_id_connect_provider(OpenIDConnectProviderArn=arn,
                                                                   Tags=[{"Key": "more", "Value": ""}]),
                     lambda: root_iam.create_open_id_connect_provider(Url=url)):
            with pytest.raises(ClientError) as exc:
                call()
            answers.append(err(exc))
        assert answers == [
            ("LimitExceeded", "Cannot exceed quota for ClientIdsPerOpenIdConnectProvider: 100", 409),
            ("LimitExceeded", "Cannot exceed quota for ClientIdsPerOpenIdConnectProvider: 100", 409),
            ("LimitExceeded", "The number of tags has reached the maximum limit.", 409),
            ("EntityAlreadyExists", f"Provider with url {url} already exists.", 409),
        ]
        # a tag that replaces one of the 50 adds none: allowed
        root_iam.tag_open_id_connect_provider(OpenIDConnectProviderArn=arn, Tags=[{"Key": "k00", "Value": "new"}])
        tags = root_iam.list_open_id_connect_provider_tags(OpenIDConnectProviderArn=arn, MaxItems=1)
        assert tags["Tags"] == [{"Key": "k00", "Value": "new"}] and tags["IsTruncated"]
    finally:
        root_iam.delete_open_id_connect_provider(OpenIDConnectProviderArn=arn)


ALL_ACTIONS: list[tuple[str, Callable[[Any, str, str], Any]]] = [
    ("CreateOpenIDConnectProvider", lambda iam, url, a: iam.create_open_id_connect_provider(Url=url)),
    *[(action, lambda iam, url, a, call=call: call(iam, a)) for action, call, _ in ON_ONE],
]


def test_each_action_needs_its_permission_on_the_provider(root_iam: Any, make_user: Any, server: Any) -> None:
    """A caller without permission: AccessDenied (403) with AWS's text naming the action and the
    provider ARN (for a create: the ARN it would have), the provider unchanged, and an audit
    event of the refusal. ListOpenIDConnectProviders is authorized on `*`."""
    url = issuer("/authz")
    arn = root_iam.create_open_id_connect_provider(Url=url, ClientIDList=["c"], Tags=[{"Key": "k", "Value": "v"}]
                                                   )["OpenIDConnectProviderArn"]
    user = make_user()
    nobody = user.client(server, "iam")
    try:
        for action, call in ALL_ACTIONS:
            target = url if action != "CreateOpenIDConnectProvider" else issuer("/new")
            with pytest.raises(ClientError) as exc:
                call(nobody, target, arn)
            assert err(exc) == ("AccessDenied", f"User: {user.arn} is not authorized to perform: iam:{action} on "
                                f"resource: {arn_of(target)} because no identity-based policy allows the "
                                f"iam:{action} action", 403), action
            line = audit_line(server, exc.value.response["ResponseMetadata"]["RequestId"])
            assert (line["eventName"], line["eventSource"], line["outcome"], line["errorCode"]) == (
                action, "iam.amazonaws.com", "error", "AccessDenied")
            assert line["userIdentity"]["arn"] == user.arn
        with pytest.raises(ClientError) as exc:
            nobody.list_open_id_connect_providers()
        assert err(exc)[0::2] == ("AccessDenied", 403)
        assert f"is not authorized to perform: iam:ListOpenIDConnectProviders" in err(exc)[1]
        got = root_iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)
        assert (got["ClientIDList"], got["Tags"]) == (["c"], [{"Key": "k", "Value": "v"}])

        # each action allowed on this provider's ARN alone
        actions = [a for a, _ in ALL_ACTIONS if a != "CreateOpenIDConnectProvider"]
        policy = {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": [f"iam:{a}" for a in actions if a != "DeleteOpenIDConnectProvider"],
             "Resource": arn}]}
        allowed = make_user(json.dumps(policy)).client(server, "iam")
        allowed.add_client_id_to_open_id_connect_provider(OpenIDConnectProviderArn=arn, ClientID="d")
        allowed.remove_client_id_from_open_id_connect_provider(OpenIDConnectProviderArn=arn, ClientID="c")
        allowed.update_open_id_connect_provider_thumbprint(OpenIDConnectProviderArn=arn, ThumbprintList=["b" * 40])
        allowed.tag_open_id_connect_provider(OpenIDConnectProviderArn=arn, Tags=[{"Key": "t", "Value": "u"}])
        allowed.untag_open_id_connect_provider(OpenIDConnectProviderArn=arn, TagKeys=["k"])
        assert allowed.list_open_id_connect_provider_tags(OpenIDConnectProviderArn=arn)["Tags"] == [
            {"Key": "t", "Value": "u"}]
        got = allowed.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)
        assert (got["ClientIDList"], got["ThumbprintList"]) == (["d"], ["b" * 40])
        with pytest.raises(ClientError) as exc:  # not granted; another provider's ARN neither
            allowed.delete_open_id_connect_provider(OpenIDConnectProviderArn=arn)
        assert err(exc)[0] == "AccessDenied"
        with pytest.raises(ClientError) as exc:
            allowed.get_open_id_connect_provider(OpenIDConnectProviderArn=arn_of(issuer()))
        assert err(exc)[0] == "AccessDenied"
    finally:
        root_iam.delete_open_id_connect_provider(OpenIDConnectProviderArn=arn)


def test_web_identity_stops_on_the_next_request_after_the_delete(root_iam: Any, server: Any) -> None:
    """AWS: a token whose `iss` names no provider of the role's account is InvalidIdentityToken
    `No OpenIDConnect provider found in your account for <iss>`; Tessera's contract: an IAM
    change takes effect on the very next request (no cached provider or key set lets it through),
    and a provider created again under the same URL works again at once."""
    sts = client(server, "sts", "AKIAUNUSEDUNUSED0000", "unused")
    with IssuerServer() as idp:
        arn = root_iam.create_open_id_connect_provider(Url=idp.url, ClientIDList=["sts.amazonaws.com"]
                                                       )["OpenIDConnectProviderArn"]
        role = root_iam.create_role(RoleName=unique("conf-web"), AssumeRolePolicyDocument=trust(
            {"Federated": arn}, "sts:AssumeRoleWithWebIdentity"))["Role"]

        def assume() -> Any:
            return sts.assume_role_with_web_identity(RoleArn=role["Arn"], RoleSessionName="conf",
                                                     WebIdentityToken=idp.issuer.token(aud="sts.amazonaws.com"))

        try:
            assert assume()["Provider"] == arn  # keys fetched and cached, provider read
            root_iam.delete_open_id_connect_provider(OpenIDConnectProviderArn=arn)
            with pytest.raises(ClientError) as exc:
                assume()
            assert err(exc) == ("InvalidIdentityToken",
                                f"No OpenIDConnect provider found in your account for {idp.url}", 400)
            root_iam.create_open_id_connect_provider(Url=idp.url, ClientIDList=["sts.amazonaws.com"])
            assert assume()["Provider"] == arn
        finally:
            root_iam.delete_open_id_connect_provider(OpenIDConnectProviderArn=arn)
            root_iam.delete_role(RoleName=role["RoleName"])


def test_tag_pages_as_recorded(root_iam: Any) -> None:
    """Snapshot `final-page`: 10 tags read 4, 4, then the last 2 with no Marker and
    IsTruncated false; each page's Marker leads to the next."""
    tags = [{"Key": f"k{i:02d}", "Value": f"v{i}"} for i in range(10)]
    arn = root_iam.create_open_id_connect_provider(Url=issuer(), Tags=tags)["OpenIDConnectProviderArn"]
    try:
        first = root_iam.list_open_id_connect_provider_tags(OpenIDConnectProviderArn=arn, MaxItems=4)
        second = root_iam.list_open_id_connect_provider_tags(OpenIDConnectProviderArn=arn, MaxItems=4,
                                                             Marker=first["Marker"])
        last = root_iam.list_open_id_connect_provider_tags(OpenIDConnectProviderArn=arn, Marker=second["Marker"])
        assert (first["IsTruncated"], second["IsTruncated"], last["IsTruncated"]) == (True, True, False)
        assert "Marker" not in last
        assert first["Tags"] + second["Tags"] + last["Tags"] == tags
    finally:
        root_iam.delete_open_id_connect_provider(OpenIDConnectProviderArn=arn)
