"""validate_saml_response on well-formed responses: what it accepts and what it reads."""
from __future__ import annotations

import copy

import pytest
from lxml import etree

from app.core.errors import ExpiredTokenException, InvalidIdentityToken
from app.federation.saml.validate import (
    FederatedIdentity,
    SamlRejected,
    SamlSettings,
    peek_issuer,
    validate_saml_response,
)
from idp_fixtures.saml import sign
from idp_fixtures.saml.build import SAML, assertion_of, q
from idp_fixtures.saml.idp import encode
from tests.unit.federation.saml_env import ENTITY, IDP, NOW, PROVIDER, ROLE, SETTINGS, URL, defaults, trust


@pytest.mark.parametrize("signed", ["assertion", "response", "both"])
def test_signed_responses_are_accepted(signed: str) -> None:
    identity = validate_saml_response(IDP.response(sign=signed, **defaults()), trust(), SETTINGS, NOW)
    assert identity.kind == "saml"
    assert identity.issuer == ENTITY
    assert identity.subject == "alice@example.test"
    assert identity.audience == URL
    assert identity.attributes["https://aws.amazon.com/SAML/Attributes/Role"] == (f"{ROLE},{PROVIDER}",)


@pytest.mark.parametrize("content", ["aes256-gcm", "aes128-gcm", "aes256-cbc", "aes128-cbc"])
@pytest.mark.parametrize("transport", [sign.RSA_OAEP_MGF1P, sign.RSA_OAEP_11])
def test_encrypted_assertions_are_decrypted(content: str, transport: str) -> None:
    b64 = IDP.response(encrypt_for="sp", content=content, key_transport=transport, **defaults())
    identity = validate_saml_response(b64, trust(), SETTINGS, NOW)
    assert identity.subject == "alice@example.test"


def test_expired_assertion_is_refused() -> None:
    b64 = IDP.response(**defaults(now=NOW - 400, not_on_or_after=NOW - 100))
    with pytest.raises(SamlRejected) as caught:
        validate_saml_response(b64, trust(), SETTINGS, NOW)
    assert caught.value.reason in ("saml_expired", "saml_too_old")
    assert isinstance(caught.value.to_aws_error(), ExpiredTokenException)


def test_other_key_is_refused() -> None:
    b64 = IDP.response(**defaults())
    with pytest.raises(SamlRejected) as caught:
        validate_saml_response(b64, trust("idp-rotated"), SETTINGS, NOW)
    assert caught.value.reason == "saml_signature_invalid"
    assert isinstance(caught.value.to_aws_error(), InvalidIdentityToken)


def _ok(**overrides: object) -> FederatedIdentity:
    return validate_saml_response(IDP.response(**defaults(**overrides)), trust(), SETTINGS, NOW)


def _reason(b64: str, settings: SamlSettings = SETTINGS) -> str:
    with pytest.raises(SamlRejected) as caught:
        validate_saml_response(b64, trust(), settings, NOW)
    return caught.value.reason


def test_identity_fields() -> None:
    identity = _ok(name_id="u-123", name_id_format="urn:oasis:names:tc:SAML:2.0:nameid-format:transient",
                   name_qualifier="https://idp.tessera.test/saml", sp_name_qualifier=URL,
                   not_on_or_after=NOW + 200, subject_not_on_or_after=NOW + 100,
                   session_not_on_or_after=NOW + 7200, in_response_to="_req42")
    assert identity.subject == "u-123"
    assert identity.subject_type == "transient"
    assert identity.name_qualifier == "https://idp.tessera.test/saml"
    assert identity.sp_name_qualifier == URL
    assert identity.issued_at == NOW
    assert identity.expires_at == NOW + 100  # the earliest NotOnOrAfter
    assert identity.redeemable_until == NOW + 100 + SETTINGS.skew_seconds
    assert identity.session_not_on_or_after == NOW + 7200
    assert identity.in_response_to == "_req42"
    assert identity.token_id.startswith("_")


def test_redeemable_until_is_capped_by_the_redemption_window() -> None:
    identity = _ok(not_on_or_after=NOW + 3600)
    assert identity.redeemable_until == NOW + SETTINGS.max_age_seconds


def test_other_nameid_formats_are_kept_whole() -> None:
    fmt = "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified"
    assert _ok(name_id_format=fmt).subject_type == fmt
    assert _ok(name_id_format=None).subject_type == fmt  # no Format: unspecified


def test_attributes_multi_valued_repeated_and_nil() -> None:
    b64 = IDP.response(**defaults(attributes={"urn:oid:2.5.4.3": ["Alice", "A. Liddell"]}))
    identity = validate_saml_response(b64, trust(), SETTINGS, NOW)
    assert identity.attributes["urn:oid:2.5.4.3"] == ("Alice", "A. Liddell")
    assert identity.attributes["https://aws.amazon.com/SAML/Attributes/RoleSessionName"] == ("alice",)


def test_repeated_attribute_statements_add_up_and_nil_values_are_skipped() -> None:
    tree = IDP.response_tree(**defaults(attributes={"urn:x": ["1"]}))
    assertion = assertion_of(tree)
    statement = assertion.find(q(SAML, "AttributeStatement"))
    extra = copy.deepcopy(statement)
    for attribute in list(extra):
        if attribute.get("Name") != "urn:x":
            extra.remove(attribute)
    nil = etree.SubElement(extra[0], q(SAML, "AttributeValue"))
    nil.set("{http://www.w3.org/2001/XMLSchema-instance}nil", "true")
    statement.addnext(extra)
    sign.sign_element(assertion)
    identity = validate_saml_response(encode(tree), trust(), SETTINGS, NOW)
    assert identity.attributes["urn:x"] == ("1", "1")


def test_in_response_to_must_agree() -> None:
    tree = IDP.response_tree(**defaults(in_response_to="_req1"))
    tree.set("InResponseTo", "_other")
    sign.sign_element(assertion_of(tree))
    assert _reason(encode(tree)) == "saml_malformed"


def test_time_boundaries() -> None:
    skew = SETTINGS.skew_seconds
    assert _ok(now=NOW - 10, not_on_or_after=NOW - skew + 1).subject  # inside the skew
    assert _reason(IDP.response(**defaults(now=NOW - 10, not_on_or_after=NOW - skew))) == "saml_expired"
    assert _ok(now=NOW - SETTINGS.max_age_seconds, not_on_or_after=NOW + 60).subject  # exactly 5 minutes old
    assert _reason(IDP.response(**defaults(now=NOW - SETTINGS.max_age_seconds - 1, not_on_or_after=NOW + 60))) \
        == "saml_too_old"
    assert _ok(now=NOW + skew).subject  # issued exactly `skew` ahead
    assert _reason(IDP.response(**defaults(now=NOW + skew + 1))) == "saml_not_yet_valid"


def test_configured_redemption_window_in_the_message() -> None:
    settings = SamlSettings(audience=URL, recipient=URL, max_age_seconds=120)
    with pytest.raises(SamlRejected) as caught:
        validate_saml_response(IDP.response(**defaults(now=NOW - 150)), trust(), settings, NOW)
    assert caught.value.message == "Token must be redeemed within 2 minutes of issuance"


def test_line_wrapped_base64_is_accepted() -> None:
    b64 = IDP.response(**defaults())
    wrapped = "\r\n".join(b64[i:i + 76] for i in range(0, len(b64), 76))
    assert validate_saml_response(wrapped, trust(), SETTINGS, NOW).subject == "alice@example.test"


def test_size_limit_applies_to_the_base64_text() -> None:
    b64 = IDP.response(**defaults())
    small = SamlSettings(audience=URL, recipient=URL, max_bytes=len(b64) - 1)
    assert _reason(b64, small) == "saml_too_large"
    assert "less than or equal to" in SamlRejected("saml_too_large").message


def test_malformed_instant_is_refused() -> None:
    tree = IDP.response_tree(**defaults())
    assertion_of(tree).set("IssueInstant", "yesterday")
    sign.sign_element(assertion_of(tree))
    assert _reason(encode(tree)) == "saml_malformed"


def test_unknown_condition_is_refused() -> None:
    tree = IDP.response_tree(**defaults())
    etree.SubElement(assertion_of(tree).find(q(SAML, "Conditions")), q(SAML, "Condition"))
    sign.sign_element(assertion_of(tree))
    assert _reason(encode(tree)) == "saml_malformed"


def test_every_audience_restriction_must_name_us() -> None:
    tree = IDP.response_tree(**defaults())
    conditions = assertion_of(tree).find(q(SAML, "Conditions"))
    other = etree.SubElement(conditions, q(SAML, "AudienceRestriction"))
    etree.SubElement(other, q(SAML, "Audience")).text = "urn:someone:else"
    sign.sign_element(assertion_of(tree))
    assert _reason(encode(tree)) == "saml_audience_mismatch"


def test_one_of_several_audiences_in_a_restriction_is_enough() -> None:
    tree = IDP.response_tree(**defaults())
    restriction = assertion_of(tree).find(f"{q(SAML, 'Conditions')}/{q(SAML, 'AudienceRestriction')}")
    restriction.insert(0, etree.Element(q(SAML, "Audience")))
    restriction[0].text = "urn:someone:else"
    sign.sign_element(assertion_of(tree))
    assert validate_saml_response(encode(tree), trust(), SETTINGS, NOW).subject == "alice@example.test"


def test_peek_issuer() -> None:
    assert peek_issuer(IDP.response(**defaults()), SETTINGS) == ENTITY
    assert peek_issuer(IDP.response(encrypt_for="sp", **defaults()), SETTINGS) == ENTITY  # the Response's
    assert peek_issuer(IDP.response(**defaults(issuer="https://other.test")), SETTINGS) == "https://other.test"
    assert peek_issuer("not base64", SETTINGS) is None
    assert peek_issuer(encode(b"<a/>"), SETTINGS) is None


def test_decryption_tries_every_registered_key() -> None:
    b64 = IDP.response(encrypt_for="sp", **defaults())
    assert validate_saml_response(b64, trust(keys=("sp-other", "sp")), SETTINGS, NOW).subject == "alice@example.test"
    with pytest.raises(SamlRejected) as caught:
        validate_saml_response(b64, trust(keys=("sp-other",)), SETTINGS, NOW)
    assert caught.value.reason == "saml_decrypt_failed"


def test_decrypted_assertion_with_xml_declaration() -> None:
    """Some encryptors serialize the assertion with an XML declaration."""
    tree = IDP.response_tree(**defaults())
    sign.sign_element(assertion_of(tree))
    sign.encrypt_assertion(tree, xml_declaration=True)
    assert validate_saml_response(encode(tree), trust(), SETTINGS, NOW).subject == "alice@example.test"
