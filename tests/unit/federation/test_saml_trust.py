"""SamlTrust.load (what a provider's registered material becomes) and SamlRejected (what a
refusal becomes for the client and for the audit log)."""
from __future__ import annotations

import base64
import datetime

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from app.core import errors
from app.federation.saml.errors import SamlRejected
from app.federation.saml.validate import SamlTrust, SamlTrustError
from idp_fixtures.saml import material

ENTITY = material.DEMO_ENTITY_ID


def _self_signed(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> str:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "t")])
    start = datetime.datetime(2025, 1, 1, tzinfo=datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(start).not_valid_after(start.replace(year=2030)).sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def test_load_accepts_pem_bytes_and_bare_base64_der() -> None:
    trust = SamlTrust.load(ENTITY, [material.cert_pem("idp"), material.cert_pem("idp-rotated").encode(),
                                    material.cert_b64("idp-ec")], [material.key_pem("sp")], True)
    assert [c.kind for c in trust.certificates] == ["rsa", "rsa", "ec"]
    assert len({c.sha256 for c in trust.certificates}) == 3
    assert len(trust.private_keys) == 1 and trust.encryption_required


def test_wrapped_base64_der_as_in_metadata() -> None:
    b64 = material.cert_b64("idp")
    wrapped = "\n    ".join(b64[i:i + 64] for i in range(0, len(b64), 64))
    assert SamlTrust.load(ENTITY, [wrapped]).certificates[0].der == base64.b64decode(b64)


@pytest.mark.parametrize("certs, message", [
    ([], "no signing certificate"),
    (["garbage"], "certificate 1 is not a valid X.509 certificate"),
    (["-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"], "certificate 1 is not a valid"),
    ([material.cert_pem("idp"), material.cert_pem("dsa")], "certificate 2 has neither an RSA nor an EC key"),
])
def test_unusable_certificates(certs: list[str], message: str) -> None:
    with pytest.raises(SamlTrustError, match=message):
        SamlTrust.load(ENTITY, certs)


def test_short_rsa_keys_are_refused() -> None:
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    with pytest.raises(SamlTrustError, match="1024-bit RSA key"):
        SamlTrust.load(ENTITY, [_self_signed(weak)])
    pem = weak.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    with pytest.raises(SamlTrustError, match="private key 1 has 1024 bits"):
        SamlTrust.load(ENTITY, [material.cert_pem("idp")], [pem])


def test_unusable_private_keys() -> None:
    encrypted = material.private_key("sp").private_bytes(  # type: ignore[union-attr]
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.BestAvailableEncryption(b"pw"))
    for key, message in ((encrypted, "not an unencrypted PEM"), ("junk", "not an unencrypted PEM"),
                         (material.key_pem("idp-ec"), "not an RSA key")):
        with pytest.raises(SamlTrustError, match=message) as caught:
            SamlTrust.load(ENTITY, [material.cert_pem("idp")], [key])
        assert "PRIVATE KEY" not in str(caught.value)


def test_no_entity_id() -> None:
    with pytest.raises(SamlTrustError):
        SamlTrust.load("", [material.cert_pem("idp")])


@pytest.mark.parametrize("reason, code, status, message", [
    ("saml_signature_invalid", "InvalidIdentityToken", 400, "Response signature invalid"),
    ("saml_issuer_mismatch", "InvalidIdentityToken", 400, "Issuer not present in specified provider"),
    ("saml_expired", "ExpiredTokenException", 400, "Response has expired"),
    ("saml_too_old", "ExpiredTokenException", 400, "Token must be redeemed within 5 minutes of issuance"),
    ("saml_status", "IDPRejectedClaim", 403, None),
    ("saml_no_nameid", "AccessDenied", 403, "Not authorized to perform sts:AssumeRoleWithSAML"),
    ("saml_too_large", "ValidationError", 400, None),
    ("xml_dtd", "InvalidIdentityToken", 400, None),
    ("something_new", "InvalidIdentityToken", 400, "Invalid SAML response"),
])
def test_rejections_become_aws_errors(reason: str, code: str, status: int, message: str | None) -> None:
    error = SamlRejected(reason).to_aws_error()
    assert isinstance(error, errors.AwsError)
    assert (error.code, error.status, error.reason) == (code, status, reason)
    if message is not None:
        assert error.message == message


def test_opaque_keeps_the_reason_and_hides_the_cause() -> None:
    masked = SamlRejected("xml_malformed", "Invalid SAML response: the XML document is not well-formed").opaque()
    assert masked.reason == "xml_malformed"
    assert masked.message == SamlRejected("saml_decrypt_failed").message
    assert masked.to_aws_error().code == "InvalidIdentityToken"
