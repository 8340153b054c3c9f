"""validate_saml_response on well-formed responses: what it accepts and what it reads."""
from __future__ import annotations

import pytest

from app.core.errors import ExpiredTokenException, InvalidIdentityToken
from app.federation.saml.validate import SamlRejected, validate_saml_response
from idp_fixtures.saml import sign
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
