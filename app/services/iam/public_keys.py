"""Parsing of what users upload as credentials that are not secrets: X.509 signing certificates
(UploadSigningCertificate) and SSH public keys (UploadSSHPublicKey), checked as AWS checks them.

Pure: the text and `now` in, a parsed value or an AWS error out. Library exception texts never
reach the client; each refusal says what is wrong in our own words.

- A certificate is one PEM `CERTIFICATE` block that cryptography can load
  (else `MalformedCertificate`); one outside its validity period (expired, or not yet valid) is
  `InvalidCertificate`. Its identity for duplicate detection is the SHA-256 of its DER.
- An SSH public key is `ssh-rsa` in OpenSSH format (`ssh-rsa BASE64 [comment]`) or an RSA
  public key in PEM (`PUBLIC KEY` or `RSA PUBLIC KEY`); anything else is
  `UnrecognizedPublicKeyEncoding`. A key of the right encoding that does not load, is not RSA,
  or is shorter than 2048 bits (or longer than 16384) is `InvalidPublicKey`. The fingerprint is
  AWS's: the MD5 of the key's SSH wire blob, as colon-separated hex pairs.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass
from datetime import datetime, timezone

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from app.core.errors import (
    InvalidCertificate,
    InvalidPublicKey,
    MalformedCertificate,
    UnrecognizedPublicKeyEncoding,
)

MIN_RSA_BITS = 2048
MAX_RSA_BITS = 16384
_PEM_CERT = re.compile(r"-----BEGIN CERTIFICATE-----\s+[A-Za-z0-9+/=\s]+-----END CERTIFICATE-----")
_OPENSSH = re.compile(r"^(ssh-[a-z0-9-]+|ecdsa-[a-z0-9-]+)\s+(\S+)(?:\s+.*)?$", re.S)
_PEM_KEY = re.compile(r"^-----BEGIN (RSA )?PUBLIC KEY-----\s.*-----END \1?PUBLIC KEY-----$", re.S)
MALFORMED_CERT = "The certificate is malformed: it must be one X.509 certificate in PEM format."
INVALID_KEY = "The request was rejected because the public key is malformed or otherwise invalid."
UNRECOGNIZED_KEY = ("The request was rejected because the public key encoding format is "
                    "unsupported or unrecognized: use ssh-rsa in OpenSSH format or PEM.")


@dataclass(frozen=True, slots=True)
class ParsedCertificate:
    body: str  # as uploaded, surrounding whitespace removed
    digest: str  # SHA-256 of the DER: the certificate's identity in the account


@dataclass(frozen=True, slots=True)
class ParsedSshKey:
    body: str  # as uploaded, surrounding whitespace removed
    encoding: str  # SSH | PEM: how it was uploaded
    openssh: str  # `ssh-rsa BASE64`
    pem: str  # SubjectPublicKeyInfo PEM
    fingerprint: str  # MD5 of the SSH wire blob, `aa:bb:...`


def parse_certificate(text: str, now: float) -> ParsedCertificate:
    body = text.strip()
    if len(_PEM_CERT.findall(body)) != 1 or not _PEM_CERT.fullmatch(body):
        raise MalformedCertificate(MALFORMED_CERT, reason="signing_cert_not_one_pem_block")
    try:
        cert = x509.load_pem_x509_certificate(body.encode("ascii"))
        der = cert.public_bytes(serialization.Encoding.DER)
        not_before, not_after = cert.not_valid_before_utc, cert.not_valid_after_utc
    except (ValueError, UnicodeEncodeError, TypeError):
        raise MalformedCertificate(MALFORMED_CERT, reason="signing_cert_unparsable") from None
    moment = datetime.fromtimestamp(now, timezone.utc)
    if moment > not_after:
        raise InvalidCertificate(f"The certificate expired on {not_after.isoformat()}.",
                                 reason="signing_cert_expired")
    if moment < not_before:
        raise InvalidCertificate(f"The certificate is not valid before {not_before.isoformat()}.",
                                 reason="signing_cert_not_yet_valid")
    return ParsedCertificate(body=body, digest=hashlib.sha256(der).hexdigest())


def _rsa_key(key: object) -> rsa.RSAPublicKey:
    if not isinstance(key, rsa.RSAPublicKey):
        raise InvalidPublicKey(INVALID_KEY + " Only RSA (ssh-rsa) keys are accepted.",
                               reason="ssh_key_not_rsa")
    if not MIN_RSA_BITS <= key.key_size <= MAX_RSA_BITS:
        raise InvalidPublicKey(f"{INVALID_KEY} The key has {key.key_size} bits; it must have "
                               f"{MIN_RSA_BITS} to {MAX_RSA_BITS}.", reason="ssh_key_size")
    return key


def parse_ssh_public_key(text: str) -> ParsedSshKey:
    body = text.strip()
    if m := _OPENSSH.fullmatch(body):
        if m.group(1) != "ssh-rsa":
            raise InvalidPublicKey(f"{INVALID_KEY} Only ssh-rsa keys are accepted, not "
                                   f"`{m.group(1)}`.", reason="ssh_key_not_rsa")
        loaded: object
        try:
            base64.b64decode(m.group(2), validate=True)
            loaded = serialization.load_ssh_public_key(f"ssh-rsa {m.group(2)}".encode("ascii"))
        except (ValueError, binascii.Error, UnicodeEncodeError, TypeError):
            raise InvalidPublicKey(INVALID_KEY, reason="ssh_key_unparsable") from None
        encoding = "SSH"
    elif _PEM_KEY.fullmatch(body):
        try:
            loaded = serialization.load_pem_public_key(body.encode("ascii"))
        except (ValueError, UnicodeEncodeError, TypeError):
            raise InvalidPublicKey(INVALID_KEY, reason="ssh_key_unparsable") from None
        encoding = "PEM"
    else:
        raise UnrecognizedPublicKeyEncoding(UNRECOGNIZED_KEY, reason="ssh_key_encoding")
    key = _rsa_key(loaded)
    openssh = key.public_bytes(serialization.Encoding.OpenSSH,
                               serialization.PublicFormat.OpenSSH).decode("ascii")
    pem = key.public_bytes(serialization.Encoding.PEM,
                           serialization.PublicFormat.SubjectPublicKeyInfo).decode("ascii").strip()
    blob = base64.b64decode(openssh.split()[1])
    digest = hashlib.md5(blob, usedforsecurity=False).hexdigest()
    fingerprint = ":".join(digest[i:i + 2] for i in range(0, len(digest), 2))
    return ParsedSshKey(body=body, encoding=encoding, openssh=openssh, pem=pem,
                        fingerprint=fingerprint)
