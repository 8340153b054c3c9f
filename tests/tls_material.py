"""A small PKI made in the test (root CA -> intermediate CA -> server certificate, EC P-256 keys)
and an HTTPS server on loopback that serves fixed documents with a chosen certificate chain:
for TLS trust and thumbprint pinning tests of OIDC key discovery.

    pki = Pki.create()
    leaf = pki.server_cert(["127.0.0.1", "localhost"])
    with HttpsServer(leaf, [pki.intermediate_cert], pki.leaf_key) as srv:   # the chain served
        srv.routes["/doc"] = b"{}"; srv.url  # https://127.0.0.1:PORT
"""
from __future__ import annotations

import datetime
import hashlib
import ipaddress
import os
import ssl
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

_DAY = datetime.timedelta(days=1)


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _usage(ca: bool) -> x509.KeyUsage:
    return x509.KeyUsage(digital_signature=True, key_cert_sign=ca, crl_sign=ca, content_commitment=False,
                         key_encipherment=False, data_encipherment=False, key_agreement=False,
                         encipher_only=False, decipher_only=False)


def issue(subject: str, key: ec.EllipticCurvePrivateKey, issuer: x509.Certificate | None,
          issuer_key: ec.EllipticCurvePrivateKey, *, ca: bool, hosts: Sequence[str] = ()) -> x509.Certificate:
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (x509.CertificateBuilder().subject_name(_name(subject))
               .issuer_name(issuer.subject if issuer else _name(subject)).public_key(key.public_key())
               .serial_number(x509.random_serial_number()).not_valid_before(now - _DAY).not_valid_after(now + _DAY)
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
               .add_extension(_usage(ca), critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
                              critical=False))
    if not ca:
        names: list[x509.GeneralName] = []
        for host in hosts:
            try:
                names.append(x509.IPAddress(ipaddress.ip_address(host)))
            except ValueError:
                names.append(x509.DNSName(host))
        builder = (builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
                   .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False))
    return builder.sign(issuer_key, hashes.SHA256())


def der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def pem(*certs: x509.Certificate) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)


def thumbprint(cert: x509.Certificate) -> str:
    """AWS's thumbprint: hex SHA-1 of the certificate (DER)."""
    return hashlib.sha1(der(cert)).hexdigest()


@dataclass
class Pki:
    root_key: ec.EllipticCurvePrivateKey
    root_cert: x509.Certificate
    intermediate_key: ec.EllipticCurvePrivateKey
    intermediate_cert: x509.Certificate
    leaf_key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))

    @classmethod
    def create(cls, name: str = "Test") -> Pki:
        root_key, inter_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
        root = issue(f"{name} Root CA", root_key, None, root_key, ca=True)
        inter = issue(f"{name} Intermediate CA", inter_key, root, root_key, ca=True)
        return cls(root_key, root, inter_key, inter)

    def server_cert(self, hosts: Sequence[str]) -> x509.Certificate:
        return issue(hosts[0], self.leaf_key, self.intermediate_cert, self.intermediate_key, ca=False, hosts=hosts)


class HttpsServer:
    """HTTPS on 127.0.0.1 (a free port) serving `routes` (path -> bytes, 200, JSON), presenting
    `leaf` followed by `chain` (the certificates the server sends)."""

    def __init__(self, leaf: x509.Certificate, chain: Sequence[x509.Certificate],
                 key: ec.EllipticCurvePrivateKey) -> None:
        self.routes: dict[str, bytes] = {}
        self.requests: list[str] = []
        self._dir = tempfile.TemporaryDirectory()
        cert_file, key_file = os.path.join(self._dir.name, "chain.pem"), os.path.join(self._dir.name, "key.pem")
        with open(cert_file, "wb") as fh:
            fh.write(pem(leaf, *chain))
        with open(key_file, "wb") as fh:
            fh.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert_file, key_file)
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                server.requests.append(self.path)
                body = server.routes.get(self.path.split("?")[0])
                self.send_response(200 if body is not None else 404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body or b"")))
                self.end_headers()
                self.wfile.write(body or b"")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._httpd.socket = context.wrap_socket(self._httpd.socket, server_side=True)
        self._httpd.handle_error = lambda request, client_address: None  # type: ignore[method-assign]
        self.url = f"https://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self) -> HttpsServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)
        self._dir.cleanup()

    def ca_file(self, *certs: x509.Certificate) -> str:
        """A PEM bundle of `certs`, in this server's temporary directory."""
        path = os.path.join(self._dir.name, f"ca-{len(os.listdir(self._dir.name))}.pem")
        with open(path, "wb") as fh:
            fh.write(pem(*certs))
        return path
