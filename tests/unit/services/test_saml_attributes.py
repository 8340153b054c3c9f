"""What AWS reads from a verified SAML assertion (app.services.saml_attributes)."""
from __future__ import annotations

import base64
import hashlib

import pytest

from app.core.errors import AccessDenied, InvalidIdentityToken
from app.core.records import Tag
from app.services import saml_attributes as sa

ROLE = "arn:aws:iam::123456789012:role/Dev"
OTHER_ROLE = "arn:aws:iam::123456789012:role/Ops"
IDP = "arn:aws:iam::123456789012:saml-provider/Okta"


def test_role_pairs_in_either_order_and_with_spaces() -> None:
    attrs = {sa.ROLE: [f"{ROLE},{IDP}", f" {IDP} , {OTHER_ROLE} ", "garbage", f"{ROLE},{ROLE}", f"{ROLE},{IDP},x"]}
    assert sa.role_pairs(attrs) == [(ROLE, IDP), (OTHER_ROLE, IDP)]
    sa.check_role_pair(attrs, OTHER_ROLE, IDP)


@pytest.mark.parametrize("attrs", [{}, {sa.ROLE: [f"{OTHER_ROLE},{IDP}"]},
                                   {sa.ROLE: [f"{ROLE},arn:aws:iam::123456789012:saml-provider/Other"]}])
def test_the_requested_pair_must_be_in_the_assertion(attrs: dict[str, list[str]]) -> None:
    with pytest.raises(AccessDenied) as exc:
        sa.check_role_pair(attrs, ROLE, IDP)
    assert exc.value.message == "Not authorized to perform sts:AssumeRoleWithSAML"
    assert exc.value.reason == "saml_role_not_in_assertion"


def test_session_name_required_and_patterned() -> None:
    assert sa.session_name({sa.ROLE_SESSION_NAME: ["alice@example.com"]}) == "alice@example.com"
    with pytest.raises(InvalidIdentityToken) as exc:
        sa.session_name({})
    assert exc.value.message == "RoleSessionName is required in AuthnResponse"
    for bad in (["a"], ["x" * 65], ["has space"], ["ünï"], ["a1", "b2"]):
        with pytest.raises(InvalidIdentityToken) as exc:
            sa.session_name({sa.ROLE_SESSION_NAME: bad})
        assert exc.value.message == "RoleSessionName in AuthnResponse must match [a-zA-Z_0-9+=,.@-]{2,64}"


def test_session_duration() -> None:
    assert sa.session_duration({}) is None
    assert sa.session_duration({sa.SESSION_DURATION: ["1800"]}) == 1800
    for bad in ("899", "43201", "abc", "-900", "1e3", "٩٠٠", "9" * 40):
        with pytest.raises(InvalidIdentityToken):
            sa.session_duration({sa.SESSION_DURATION: [bad]})


def test_source_identity() -> None:
    assert sa.source_identity({}) is None
    assert sa.source_identity({sa.SOURCE_IDENTITY: ["alice"]}) == "alice"
    for bad in ("aws:alice", "AWS:x1", "a", "with space"):
        with pytest.raises(InvalidIdentityToken) as exc:
            sa.source_identity({sa.SOURCE_IDENTITY: [bad]})
        assert exc.value.message.startswith("Source Identity must match")


def test_session_tags_and_transitive_keys() -> None:
    attrs = {sa.PRINCIPAL_TAG + "Dept": ["Engineering"], sa.PRINCIPAL_TAG + "Cost Center": ["12 34"],
             sa.TRANSITIVE_TAG_KEYS: ["Dept"], "other": ["x"]}
    tags, transitive = sa.session_tags(attrs)
    assert tags == (Tag("Dept", "Engineering"), Tag("Cost Center", "12 34"))
    assert transitive == ("Dept",)
    for bad in ({sa.PRINCIPAL_TAG + "k": ["a", "b"]}, {sa.PRINCIPAL_TAG: ["v"]},
                {sa.PRINCIPAL_TAG + "k!": ["v"]}, {sa.PRINCIPAL_TAG + "k": ["x" * 257]},
                {sa.PRINCIPAL_TAG + f"k{i}": ["v"] for i in range(51)}):
        with pytest.raises(InvalidIdentityToken):
            sa.session_tags(bad)


def test_name_qualifier_is_awss_formula() -> None:
    expected = base64.b64encode(hashlib.sha1(b"https://example.com/saml123456789012/MySAMLIdP").digest()).decode()
    assert sa.name_qualifier("https://example.com/saml", "123456789012", "MySAMLIdP") == expected


def test_subject_type() -> None:
    assert sa.subject_type("urn:oasis:names:tc:SAML:2.0:nameid-format:transient") == "transient"
    assert sa.subject_type("urn:oasis:names:tc:SAML:2.0:nameid-format:persistent") == "persistent"
    email = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
    assert sa.subject_type(email) == email


def test_attribute_keys_multi_and_single_valued() -> None:
    attrs = {"urn:oid:1.3.6.1.4.1.5923.1.1.1.1": ["member", "staff"],
             "urn:oid:1.3.6.1.4.1.5923.1.1.1.5": ["staff", "member"],  # single-valued: the first
             "urn:oid:2.5.4.3": ["Alice A."],
             "urn:oid:2.5.4.42": ["Al"],
             "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname": ["Alice"],  # preferred
             "urn:oid:0.9.2342.19200300.100.1.1": ["alice"]}
    keys = sa.attribute_keys(attrs)
    assert ("saml:edupersonaffiliation", "member") in keys and ("saml:edupersonaffiliation", "staff") in keys
    assert [v for k, v in keys if k == "saml:edupersonprimaryaffiliation"] == ["staff"]
    assert ("saml:cn", "Alice A.") in keys
    assert [v for k, v in keys if k == "saml:givenName"] == ["Alice"]
    assert ("saml:uid", "alice") in keys
    assert sa.attribute_keys({}) == ()
