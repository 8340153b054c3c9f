"""Parsing of uploaded signing certificates and SSH public keys (app.services.iam.public_keys)."""
from __future__ import annotations

import base64
import hashlib
from datetime import datetime, timedelta, timezone

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from cryptography.x509.oid import NameOID

from app.core.errors import (
    InvalidCertificate,
    InvalidPublicKey,
    MalformedCertificate,
    UnrecognizedPublicKeyEncoding,
)
from app.services.iam.public_keys import parse_certificate, parse_ssh_public_key

NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def cert_pem(start: timedelta = timedelta(days=-1), end: timedelta = timedelta(days=30)) -> str:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "t")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(KEY.public_key()).serial_number(7)
            .not_valid_before(NOW + start).not_valid_after(NOW + end).sign(KEY, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


def ssh_text(key: rsa.RSAPrivateKey = KEY) -> str:
    return key.public_key().public_bytes(serialization.Encoding.OpenSSH,
                                         serialization.PublicFormat.OpenSSH).decode("ascii")


def pem_text(key: rsa.RSAPrivateKey = KEY, fmt: serialization.PublicFormat =
             serialization.PublicFormat.SubjectPublicKeyInfo) -> str:
    return key.public_key().public_bytes(serialization.Encoding.PEM, fmt).decode("ascii")


def test_certificate_digest_is_the_der_sha256_and_body_is_trimmed() -> None:
    body = cert_pem()
    parsed = parse_certificate("\n  " + body + "\n\n", NOW.timestamp())
    der = x509.load_pem_x509_certificate(body.encode()).public_bytes(serialization.Encoding.DER)
    assert parsed.digest == hashlib.sha256(der).hexdigest() and parsed.body == body.strip()


@pytest.mark.parametrize("text", ["", "hello", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----",
                                  "-----BEGIN CERTIFICATE-----\n@@@\n-----END CERTIFICATE-----"])
def test_malformed_certificates(text: str) -> None:
    with pytest.raises(MalformedCertificate):
        parse_certificate(text, NOW.timestamp())


def test_two_certificates_in_one_body_are_malformed() -> None:
    with pytest.raises(MalformedCertificate):
        parse_certificate(cert_pem() + cert_pem(), NOW.timestamp())


@pytest.mark.parametrize("start,end", [(timedelta(days=-10), timedelta(seconds=-1)),
                                       (timedelta(seconds=1), timedelta(days=10))])
def test_certificates_outside_their_validity_are_invalid(start: timedelta, end: timedelta) -> None:
    with pytest.raises(InvalidCertificate):
        parse_certificate(cert_pem(start, end), NOW.timestamp())


def test_openssh_key_with_comment_fingerprint_and_both_encodings() -> None:
    text = ssh_text() + " me@host"
    parsed = parse_ssh_public_key(text)
    digest = hashlib.md5(base64.b64decode(ssh_text().split()[1])).hexdigest()
    assert parsed.fingerprint == ":".join(digest[i:i + 2] for i in range(0, 32, 2))
    assert (parsed.body, parsed.encoding, parsed.openssh) == (text, "SSH", ssh_text())
    assert parsed.pem == pem_text().strip()


@pytest.mark.parametrize("fmt", [serialization.PublicFormat.SubjectPublicKeyInfo,
                                 serialization.PublicFormat.PKCS1])
def test_pem_keys_give_the_same_fingerprint(fmt: serialization.PublicFormat) -> None:
    parsed = parse_ssh_public_key(pem_text(fmt=fmt))
    assert parsed.encoding == "PEM" and parsed.openssh == ssh_text()
    assert parsed.fingerprint == parse_ssh_public_key(ssh_text()).fingerprint


def test_invalid_keys() -> None:
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    ed = ed25519.Ed25519PrivateKey.generate().public_key()
    ed_ssh = ed.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()
    ed_pem = ed.public_bytes(serialization.Encoding.PEM,
                             serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    for text in (ssh_text(small), pem_text(small), ed_ssh, ed_pem, "ssh-rsa AAAA", "ssh-rsa ***",
                 "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----"):
        with pytest.raises(InvalidPublicKey):
            parse_ssh_public_key(text)


@pytest.mark.parametrize("text", ["", "hello", "AAAAB3NzaC1yc2E", cert_pem(),
                                  "-----BEGIN RSA PRIVATE KEY-----\nAA\n-----END RSA PRIVATE KEY-----"])
def test_unrecognized_encodings(text: str) -> None:
    with pytest.raises(UnrecognizedPublicKeyEncoding):
        parse_ssh_public_key(text)
