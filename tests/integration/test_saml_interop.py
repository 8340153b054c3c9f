"""Interoperability: a SAML IdP nobody on this team wrote (pysaml2's `saml2.server.Server`, from
PyPI, signing with the xmlsec1 binary) runs inside the test with keys made here; its own
metadata registers the provider through CreateSAMLProvider, and its real responses (signed on
the response, the assertion or both; encrypted to the provider's key) become credentials
through unmodified boto3.

pysaml2 hard-wires its content encryption to 3DES-CBC in `pre_encryption_part`; the encrypted
case points that one function at AES-256-CBC (what AWS accepts), and a separate case shows
what becomes of the 3DES default. Skipped when pysaml2 (the `test` extras) or the xmlsec1
binary (`.ci/run` installs it) is missing.
"""
from __future__ import annotations

import base64
import datetime
import functools
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from .conftest import ACCOUNT, client, unique

saml2 = pytest.importorskip("saml2", reason="pysaml2 is in the `test` extras")
if shutil.which("xmlsec1") is None:
    pytest.skip("pysaml2 signs with the xmlsec1 binary (apt-get install xmlsec1)", allow_module_level=True)

from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import rsa  # noqa: E402
from cryptography.x509.oid import NameOID  # noqa: E402
from saml2 import BINDING_HTTP_REDIRECT  # noqa: E402
from saml2 import entity as saml2_entity  # noqa: E402
from saml2.config import IdPConfig  # noqa: E402
from saml2.metadata import entity_descriptor  # noqa: E402
from saml2.saml import AUTHN_PASSWORD_PROTECTED, NAME_FORMAT_URI, NAMEID_FORMAT_PERSISTENT, NameID  # noqa: E402
from saml2.server import Server as Saml2Server  # noqa: E402
from saml2.sigver import pre_encryption_part  # noqa: E402
from saml2.xmldsig import DIGEST_SHA256, SIG_RSA_SHA256  # noqa: E402

AES256_CBC = "http://www.w3.org/2001/04/xmlenc#aes256-cbc"
IDP_ENTITY_ID = "https://pysaml2-idp.interop.test/idp"
AWS = "https://aws.amazon.com/SAML/Attributes/"
EDU_AFFILIATION = "urn:oid:1.3.6.1.4.1.5923.1.1.1.1"


def key_pair(common_name: str) -> tuple[str, str]:
    """(PKCS#8 PEM private key, self-signed PEM certificate)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=365)).sign(key, hashes.SHA256()))
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    return pem.decode(), cert.public_bytes(serialization.Encoding.PEM).decode()


def cert_body(pem: str) -> str:
    return "".join(line for line in pem.strip().splitlines() if "CERTIFICATE" not in line)


def sp_metadata(endpoint: str, encryption_cert: str) -> str:
    """Tessera as pysaml2 sees it: the SP whose entity id and ACS are TESSERA_PUBLIC_URL/saml."""
    return (f'<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" '
            f'xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="{endpoint}">'
            '<md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">'
            '<md:KeyDescriptor use="encryption"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>'
            f'{cert_body(encryption_cert)}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>'
            '<md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" '
            f'Location="{endpoint}" index="0"/></md:SPSSODescriptor></md:EntityDescriptor>')


@dataclass
class Interop:
    idp: Any  # saml2.server.Server
    metadata: str  # the IdP's own metadata document (pysaml2's entity_descriptor)
    endpoint: str
    sp_key: str
    sp_cert: str

    def response(self, roles: list[tuple[str, str]], *, sign: str = "assertion", encrypt: bool = False,
                 subject: str = "alice-7f3a", attributes: dict[str, list[str]] | None = None) -> str:
        identity = {AWS + "Role": [f"{r},{p}" for r, p in roles], AWS + "RoleSessionName": ["alice"],
                    **(attributes or {})}
        resp = self.idp.create_authn_response(
            identity, in_response_to=None, destination=self.endpoint, sp_entity_id=self.endpoint,
            name_id=NameID(format=NAMEID_FORMAT_PERSISTENT, text=subject),
            authn={"class_ref": AUTHN_PASSWORD_PROTECTED},
            sign_response=sign in ("response", "both"), sign_assertion=sign in ("assertion", "both"),
            encrypt_assertion=encrypt, encrypt_cert_assertion=self.sp_cert if encrypt else None,
            sign_alg=SIG_RSA_SHA256, digest_alg=DIGEST_SHA256)
        return base64.b64encode(str(resp).encode("utf-8")).decode("ascii")


@pytest.fixture(scope="module")
def interop(server: Any, tmp_path_factory: pytest.TempPathFactory) -> Interop:
    work: Path = tmp_path_factory.mktemp("pysaml2")
    idp_key, idp_cert = key_pair("pysaml2 interop IdP")
    sp_key, sp_cert = key_pair("tessera interop SP")
    (work / "idp.key").write_text(idp_key)
    (work / "idp.crt").write_text(idp_cert)
    endpoint = f"{server.url}/saml"
    config = IdPConfig().load({
        "entityid": IDP_ENTITY_ID,
        "service": {"idp": {
            "endpoints": {"single_sign_on_service": [(f"{IDP_ENTITY_ID}/sso", BINDING_HTTP_REDIRECT)]},
            "policy": {"default": {"lifetime": {"minutes": 5}, "name_form": NAME_FORMAT_URI}},
            "name_id_format": [NAMEID_FORMAT_PERSISTENT]}},
        "key_file": str(work / "idp.key"), "cert_file": str(work / "idp.crt"),
        "metadata": {"inline": [sp_metadata(endpoint, sp_cert)]},
        "xmlsec_binary": shutil.which("xmlsec1"),
    })
    return Interop(Saml2Server(config=config), str(entity_descriptor(config)), endpoint, sp_key, sp_cert)


@pytest.fixture(scope="module")
def sts(server: Any) -> Any:
    return client(server, "sts", "AKIAUNUSEDUNUSED0000", "unused")


def provider_and_role(root_iam: Any, interop: Interop, condition: dict[str, Any] | None = None,
                      **provider: Any) -> tuple[str, str]:
    arn = root_iam.create_saml_provider(SAMLMetadataDocument=interop.metadata, Name=unique("pysaml2"),
                                        **provider)["SAMLProviderArn"]
    stmt: dict[str, Any] = {"Effect": "Allow", "Principal": {"Federated": arn}, "Action": "sts:AssumeRoleWithSAML"}
    if condition:
        stmt["Condition"] = condition
    role = root_iam.create_role(RoleName=unique("interop"),
                                AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [stmt]}))
    return arn, role["Role"]["Arn"]


@pytest.mark.parametrize("sign", ["assertion", "response", "both"])
def test_pysaml2_signed_responses_are_accepted(server, root_iam, sts, interop, sign) -> None:
    provider, role = provider_and_role(root_iam, interop, {
        "StringEquals": {"saml:sub": "alice-7f3a", "saml:iss": IDP_ENTITY_ID},
        "ForAnyValue:StringEquals": {"saml:edupersonaffiliation": "staff"}})
    out = sts.assume_role_with_saml(RoleArn=role, PrincipalArn=provider, SAMLAssertion=interop.response(
        [(role, provider)], sign=sign, attributes={EDU_AFFILIATION: ["member", "staff"]}))
    assert out["Subject"] == "alice-7f3a" and out["SubjectType"] == "persistent"
    assert out["Issuer"] == IDP_ENTITY_ID and out["Audience"] == interop.endpoint
    creds = out["Credentials"]
    me = client(server, "sts", creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
    assert me.get_caller_identity()["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/{role.rsplit('/', 1)[1]}/alice"


def aes256_cbc(interop: Interop, monkeypatch: pytest.MonkeyPatch) -> None:
    """pysaml2's two hard-wired 3DES choices (the EncryptedData template and xmlsec1's session
    key) pointed at AES-256-CBC."""
    monkeypatch.setattr(saml2_entity, "pre_encryption_part",
                        functools.partial(pre_encryption_part, msg_enc=AES256_CBC))
    monkeypatch.setattr(interop.idp.sec, "encrypt_assertion",
                        functools.partial(interop.idp.sec.encrypt_assertion, key_type="aes-256"))


@pytest.mark.parametrize("sign", ["assertion", "response"])
def test_pysaml2_encrypted_assertion_is_accepted(root_iam, sts, interop, monkeypatch, sign) -> None:
    provider, role = provider_and_role(root_iam, interop, AssertionEncryptionMode="Required",
                                       AddPrivateKey=interop.sp_key)
    aes256_cbc(interop, monkeypatch)
    assertion = interop.response([(role, provider)], sign=sign, encrypt=True)
    document = base64.b64decode(assertion).decode()
    assert "EncryptedAssertion" in document and AES256_CBC in document
    out = sts.assume_role_with_saml(RoleArn=role, PrincipalArn=provider, SAMLAssertion=assertion)
    assert out["Subject"] == "alice-7f3a" and out["AssumedRoleUser"]["Arn"].endswith("/alice")


def test_pysaml2_default_3des_encryption_is_refused_cleanly(root_iam, sts, interop) -> None:
    provider, role = provider_and_role(root_iam, interop, AddPrivateKey=interop.sp_key)
    assertion = interop.response([(role, provider)], encrypt=True)
    assert "tripledes-cbc" in base64.b64decode(assertion).decode()
    with pytest.raises(ClientError) as exc:
        sts.assume_role_with_saml(RoleArn=role, PrincipalArn=provider, SAMLAssertion=assertion)
    assert exc.value.response["Error"]["Code"] == "InvalidIdentityToken"


def test_pysaml2_responses_for_another_role_or_replayed_are_refused(root_iam, sts, interop) -> None:
    provider, role = provider_and_role(root_iam, interop)
    _, other = provider_and_role(root_iam, interop)
    with pytest.raises(ClientError) as exc:
        sts.assume_role_with_saml(RoleArn=role, PrincipalArn=provider,
                                  SAMLAssertion=interop.response([(other, provider)]))
    assert exc.value.response["Error"]["Code"] == "AccessDenied"
    assertion = interop.response([(role, provider)])
    sts.assume_role_with_saml(RoleArn=role, PrincipalArn=provider, SAMLAssertion=assertion)
    with pytest.raises(ClientError) as exc:
        sts.assume_role_with_saml(RoleArn=role, PrincipalArn=provider, SAMLAssertion=assertion)
    assert exc.value.response["Error"]["Code"] == "InvalidIdentityToken"
