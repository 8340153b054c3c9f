"""Signing certificates and SSH public keys through unmodified boto3 against the real server and
Redis: every operation's success shape, each documented error, both encodings of GetSSHPublicKey,
DeleteUser's conflicts and authorization."""
from __future__ import annotations

import base64
import hashlib
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from botocore.exceptions import ClientError
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from .conftest import allow, aws_error, unique

_RSA = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def certificate(days: int = 30, *, start: int = -1, cn: str | None = None) -> str:
    now = datetime.now(timezone.utc)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn or unique("cert"))])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(_RSA.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now + timedelta(days=start)).not_valid_after(now + timedelta(days=days))
            .sign(_RSA, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


def rsa_key(bits: int = 2048) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def openssh(key: Any) -> str:
    return key.public_key().public_bytes(serialization.Encoding.OpenSSH,
                                         serialization.PublicFormat.OpenSSH).decode("ascii")


def pem(key: Any) -> str:
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo).decode("ascii")


def md5_fingerprint(ssh_text: str) -> str:
    digest = hashlib.md5(base64.b64decode(ssh_text.split()[1])).hexdigest()
    return ":".join(digest[i:i + 2] for i in range(0, 32, 2))


@pytest.fixture(scope="module")
def ssh_keys() -> list[Any]:
    return [rsa_key() for _ in range(6)]


def new_user(root_iam: Any) -> str:
    name = unique("sign")
    root_iam.create_user(UserName=name)
    return name


# ---- signing certificates ----
def test_upload_list_update_delete_certificate(root_iam: Any) -> None:
    user = new_user(root_iam)
    body = certificate()
    got = root_iam.upload_signing_certificate(UserName=user, CertificateBody=body)["Certificate"]
    assert got["UserName"] == user and got["Status"] == "Active"
    assert got["CertificateBody"] == body.strip()
    cid = got["CertificateId"]
    assert len(cid) >= 24 and cid.isalnum() and cid.upper() == cid
    assert isinstance(got["UploadDate"], datetime)
    listed = root_iam.list_signing_certificates(UserName=user)
    assert listed["IsTruncated"] is False
    assert [(c["CertificateId"], c["Status"]) for c in listed["Certificates"]] == [(cid, "Active")]
    root_iam.update_signing_certificate(UserName=user, CertificateId=cid, Status="Inactive")
    assert root_iam.list_signing_certificates(UserName=user)["Certificates"][0]["Status"] == "Inactive"
    root_iam.delete_signing_certificate(UserName=user, CertificateId=cid)
    assert root_iam.list_signing_certificates(UserName=user)["Certificates"] == []
    root_iam.delete_user(UserName=user)


def test_certificate_errors(root_iam: Any) -> None:
    user = new_user(root_iam)
    first = certificate()
    cid = root_iam.upload_signing_certificate(UserName=user, CertificateBody=first)["Certificate"]["CertificateId"]
    with pytest.raises(ClientError) as exc:  # the same certificate, anywhere in the account
        root_iam.upload_signing_certificate(UserName=new_user(root_iam), CertificateBody=first)
    assert aws_error(exc)[0::2] == ("DuplicateCertificate", 409)
    root_iam.upload_signing_certificate(UserName=user, CertificateBody=certificate())
    with pytest.raises(ClientError) as exc:
        root_iam.upload_signing_certificate(UserName=user, CertificateBody=certificate())
    assert aws_error(exc)[0::2] == ("LimitExceeded", 409)
    assert "SigningCertificatesPerUser: 2" in aws_error(exc)[1]
    for bad in ("not a certificate", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----",
                first + first):
        with pytest.raises(ClientError) as exc:
            root_iam.upload_signing_certificate(UserName=user, CertificateBody=bad)
        assert aws_error(exc)[0::2] == ("MalformedCertificate", 400)
    for expired in (certificate(days=-1, start=-10), certificate(days=20, start=5)):
        with pytest.raises(ClientError) as exc:
            root_iam.upload_signing_certificate(UserName=user, CertificateBody=expired)
        assert aws_error(exc)[0::2] == ("InvalidCertificate", 400)
    with pytest.raises(ClientError) as exc:
        root_iam.upload_signing_certificate(UserName=unique("ghost"), CertificateBody=certificate())
    assert aws_error(exc)[0::2] == ("NoSuchEntity", 404)
    with pytest.raises(ClientError) as exc:
        root_iam.list_signing_certificates(UserName=unique("ghost"))
    assert aws_error(exc)[0] == "NoSuchEntity"
    missing = "A" * 32
    for op in (lambda: root_iam.update_signing_certificate(UserName=user, CertificateId=missing, Status="Active"),
               lambda: root_iam.delete_signing_certificate(UserName=user, CertificateId=missing)):
        with pytest.raises(ClientError) as exc:
            op()
        assert aws_error(exc)[0::2] == ("NoSuchEntity", 404)
    with pytest.raises(ClientError) as exc:
        root_iam.update_signing_certificate(UserName=user, CertificateId=cid, Status="Expired")
    assert aws_error(exc)[0] == "InvalidInput"
    # DeleteUser refused while a certificate is there; once deleted, the body can be uploaded again
    with pytest.raises(ClientError) as exc:
        root_iam.delete_user(UserName=user)
    code, msg, status = aws_error(exc)
    assert (code, status) == ("DeleteConflict", 409) and msg == "Cannot delete entity, must delete certificates first."
    for c in root_iam.list_signing_certificates(UserName=user)["Certificates"]:
        root_iam.delete_signing_certificate(UserName=user, CertificateId=c["CertificateId"])
    root_iam.delete_user(UserName=user)
    other = new_user(root_iam)
    assert root_iam.upload_signing_certificate(UserName=other, CertificateBody=first)["Certificate"]["UserName"] == other


def test_root_manages_its_own_certificates(root_iam: Any) -> None:
    got = root_iam.upload_signing_certificate(CertificateBody=certificate())["Certificate"]
    try:
        ids = [c["CertificateId"] for c in root_iam.list_signing_certificates()["Certificates"]]
        assert got["CertificateId"] in ids
        root_iam.update_signing_certificate(CertificateId=got["CertificateId"], Status="Inactive")
    finally:
        root_iam.delete_signing_certificate(CertificateId=got["CertificateId"])
    assert got["CertificateId"] not in [c["CertificateId"] for c in
                                        root_iam.list_signing_certificates()["Certificates"]]


def test_certificate_pagination(root_iam: Any) -> None:
    user = new_user(root_iam)
    ids = [root_iam.upload_signing_certificate(UserName=user, CertificateBody=certificate())
           ["Certificate"]["CertificateId"] for _ in range(2)]
    first = root_iam.list_signing_certificates(UserName=user, MaxItems=1)
    assert first["IsTruncated"] is True
    rest = root_iam.list_signing_certificates(UserName=user, Marker=first["Marker"])
    assert [c["CertificateId"] for c in first["Certificates"] + rest["Certificates"]] == ids


# ---- SSH public keys ----
def test_ssh_key_lifecycle_and_encodings(root_iam: Any, ssh_keys: list[Any]) -> None:
    user = new_user(root_iam)
    text = openssh(ssh_keys[0]) + " someone@host"
    got = root_iam.upload_ssh_public_key(UserName=user, SSHPublicKeyBody=text)["SSHPublicKey"]
    kid = got["SSHPublicKeyId"]
    assert kid.startswith("APKA") and len(kid) == 20
    assert got["Fingerprint"] == md5_fingerprint(text)
    assert (got["UserName"], got["Status"], got["SSHPublicKeyBody"]) == (user, "Active", text)
    as_ssh = root_iam.get_ssh_public_key(UserName=user, SSHPublicKeyId=kid, Encoding="SSH")["SSHPublicKey"]
    assert as_ssh["SSHPublicKeyBody"] == text and as_ssh["Fingerprint"] == got["Fingerprint"]
    as_pem = root_iam.get_ssh_public_key(UserName=user, SSHPublicKeyId=kid, Encoding="PEM")["SSHPublicKey"]
    assert as_pem["SSHPublicKeyBody"] == pem(ssh_keys[0]).strip()
    listed = root_iam.list_ssh_public_keys(UserName=user)
    assert listed["IsTruncated"] is False
    [meta] = listed["SSHPublicKeys"]
    assert set(meta) == {"UserName", "SSHPublicKeyId", "Status", "UploadDate"}
    root_iam.update_ssh_public_key(UserName=user, SSHPublicKeyId=kid, Status="Inactive")
    assert root_iam.get_ssh_public_key(UserName=user, SSHPublicKeyId=kid,
                                       Encoding="SSH")["SSHPublicKey"]["Status"] == "Inactive"
    # a key uploaded as PEM comes back as OpenSSH text too
    pem_id = root_iam.upload_ssh_public_key(UserName=user, SSHPublicKeyBody=pem(ssh_keys[1]))["SSHPublicKey"]["SSHPublicKeyId"]
    back = root_iam.get_ssh_public_key(UserName=user, SSHPublicKeyId=pem_id, Encoding="SSH")["SSHPublicKey"]
    assert back["SSHPublicKeyBody"] == openssh(ssh_keys[1])
    assert back["Fingerprint"] == md5_fingerprint(openssh(ssh_keys[1]))
    with pytest.raises(ClientError) as exc:
        root_iam.delete_user(UserName=user)
    code, msg, status = aws_error(exc)
    assert (code, status) == ("DeleteConflict", 409) and msg == "Cannot delete entity, must remove referenced objects first."
    root_iam.delete_ssh_public_key(UserName=user, SSHPublicKeyId=kid)
    root_iam.delete_ssh_public_key(UserName=user, SSHPublicKeyId=pem_id)
    assert root_iam.list_ssh_public_keys(UserName=user)["SSHPublicKeys"] == []
    root_iam.delete_user(UserName=user)


def test_ssh_key_errors(root_iam: Any, ssh_keys: list[Any]) -> None:
    user = new_user(root_iam)
    for key in ssh_keys[:5]:
        root_iam.upload_ssh_public_key(UserName=user, SSHPublicKeyBody=openssh(key))
    with pytest.raises(ClientError) as exc:
        root_iam.upload_ssh_public_key(UserName=user, SSHPublicKeyBody=openssh(ssh_keys[5]))
    assert aws_error(exc)[0::2] == ("LimitExceeded", 409)
    with pytest.raises(ClientError) as exc:  # the same key in the other encoding is the same key
        root_iam.upload_ssh_public_key(UserName=user, SSHPublicKeyBody=pem(ssh_keys[0]))
    assert aws_error(exc)[0::2] == ("DuplicateSSHPublicKey", 400)
    other = new_user(root_iam)
    small = rsa_key(1024)
    ed = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGv4Vw5q0bZ1o6mLqR8vV0p3m8fZ8w2v5bX9cQyJ7kTn a@b"
    ec_pem = ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode("ascii")
    for bad, want in ((openssh(small), "InvalidPublicKey"), (pem(small), "InvalidPublicKey"),
                      (ed, "InvalidPublicKey"), (ec_pem, "InvalidPublicKey"),
                      ("ssh-rsa !!!notbase64", "InvalidPublicKey"),
                      ("hello world", "UnrecognizedPublicKeyEncoding"),
                      ("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----",
                       "UnrecognizedPublicKeyEncoding")):
        with pytest.raises(ClientError) as exc:
            root_iam.upload_ssh_public_key(UserName=other, SSHPublicKeyBody=bad)
        assert aws_error(exc)[0::2] == (want, 400), bad
    with pytest.raises(ClientError) as exc:
        root_iam.upload_ssh_public_key(UserName=unique("ghost"), SSHPublicKeyBody=openssh(ssh_keys[0]))
    assert aws_error(exc)[0::2] == ("NoSuchEntity", 404)
    missing = "APKA" + "A" * 16
    for op in (lambda: root_iam.get_ssh_public_key(UserName=user, SSHPublicKeyId=missing, Encoding="SSH"),
               lambda: root_iam.update_ssh_public_key(UserName=user, SSHPublicKeyId=missing, Status="Active"),
               lambda: root_iam.delete_ssh_public_key(UserName=user, SSHPublicKeyId=missing),
               lambda: root_iam.list_ssh_public_keys(UserName=unique("ghost"))):
        with pytest.raises(ClientError) as exc:
            op()
        assert aws_error(exc)[0::2] == ("NoSuchEntity", 404)
    kid = root_iam.list_ssh_public_keys(UserName=user)["SSHPublicKeys"][0]["SSHPublicKeyId"]
    with pytest.raises(ClientError) as exc:
        root_iam.update_ssh_public_key(UserName=user, SSHPublicKeyId=kid, Status="Expired")
    assert aws_error(exc)[0] == "InvalidInput"
    page = root_iam.list_ssh_public_keys(UserName=user, MaxItems=2)
    assert page["IsTruncated"] is True and len(page["SSHPublicKeys"]) == 2


def test_rename_carries_certificates_and_keys(root_iam: Any, ssh_keys: list[Any]) -> None:
    user = new_user(root_iam)
    root_iam.upload_signing_certificate(UserName=user, CertificateBody=certificate())
    kid = root_iam.upload_ssh_public_key(UserName=user, SSHPublicKeyBody=openssh(ssh_keys[2]))["SSHPublicKey"]["SSHPublicKeyId"]
    renamed = unique("renamed")
    root_iam.update_user(UserName=user, NewUserName=renamed)
    [cert] = root_iam.list_signing_certificates(UserName=renamed)["Certificates"]
    assert cert["UserName"] == renamed
    assert root_iam.get_ssh_public_key(UserName=renamed, SSHPublicKeyId=kid,
                                       Encoding="PEM")["SSHPublicKey"]["UserName"] == renamed


# ---- authorization ----
def test_actions_need_permission_on_the_user(root_iam: Any, make_user: Any, server: Any,
                                             ssh_keys: list[Any]) -> None:
    target = new_user(root_iam)
    kid = root_iam.upload_ssh_public_key(UserName=target, SSHPublicKeyBody=openssh(ssh_keys[3]))["SSHPublicKey"]["SSHPublicKeyId"]
    cid = root_iam.upload_signing_certificate(UserName=target, CertificateBody=certificate())["Certificate"]["CertificateId"]
    nobody = make_user(allow("iam:GetUser")).client(server, "iam")
    denied = [
        lambda c: c.upload_signing_certificate(UserName=target, CertificateBody=certificate()),
        lambda c: c.list_signing_certificates(UserName=target),
        lambda c: c.update_signing_certificate(UserName=target, CertificateId=cid, Status="Inactive"),
        lambda c: c.delete_signing_certificate(UserName=target, CertificateId=cid),
        lambda c: c.upload_ssh_public_key(UserName=target, SSHPublicKeyBody=openssh(ssh_keys[4])),
        lambda c: c.get_ssh_public_key(UserName=target, SSHPublicKeyId=kid, Encoding="SSH"),
        lambda c: c.list_ssh_public_keys(UserName=target),
        lambda c: c.update_ssh_public_key(UserName=target, SSHPublicKeyId=kid, Status="Inactive"),
        lambda c: c.delete_ssh_public_key(UserName=target, SSHPublicKeyId=kid),
    ]
    for call in denied:
        with pytest.raises(ClientError) as exc:
            call(nobody)
        assert aws_error(exc)[0::2] == ("AccessDenied", 403)
    arn = root_iam.get_user(UserName=target)["User"]["Arn"]
    allowed = make_user(allow(["iam:ListSigningCertificates", "iam:GetSSHPublicKey",
                               "iam:ListSSHPublicKeys"], arn)).client(server, "iam")
    assert allowed.list_signing_certificates(UserName=target)["Certificates"][0]["CertificateId"] == cid
    assert allowed.get_ssh_public_key(UserName=target, SSHPublicKeyId=kid,
                                      Encoding="SSH")["SSHPublicKey"]["SSHPublicKeyId"] == kid
    with pytest.raises(ClientError) as exc:  # another user's: not covered by the resource
        allowed.list_ssh_public_keys(UserName=new_user(root_iam))
    assert aws_error(exc)[0] == "AccessDenied"


def test_a_user_manages_their_own_certificates(make_user: Any, server: Any) -> None:
    me = make_user(allow(["iam:UploadSigningCertificate", "iam:ListSigningCertificates",
                          "iam:ListSSHPublicKeys"], "arn:aws:iam::*:user/${aws:username}"))
    iam = me.client(server, "iam")
    got = iam.upload_signing_certificate(CertificateBody=certificate())["Certificate"]
    assert got["UserName"] == me.name
    assert iam.list_signing_certificates()["Certificates"][0]["CertificateId"] == got["CertificateId"]
    assert iam.list_ssh_public_keys()["SSHPublicKeys"] == []
