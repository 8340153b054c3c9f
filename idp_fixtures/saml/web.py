"""A tiny SAML identity provider on loopback, for browser tests and `tessera dev`: the demo IdP
(DemoIdP, its public test key) behind two pages that sign a user in at once.

    with SamlWebIdP(acs_url=ACS, audience=ENTITY_ID, roles=[(role_arn, provider_arn)]) as idp:
        idp.metadata()            # IdP metadata whose SingleSignOnService is idp.sso_url
        idp.start_url             # GET: IdP-initiated sign-in (an auto-posting form to ACS)
        idp.requests              # the AuthnRequests received, parsed and checked
        idp.refusals              # why any request was refused

`GET /sso?SAMLRequest=…&RelayState=…` (HTTP-Redirect binding): the AuthnRequest is inflated,
parsed (no DTD, no network) and checked (its Destination is this page, its
AssertionConsumerServiceURL is `acs_url`, its Issuer is `audience`); the answer is a page that
posts a signed response with `InResponseTo` = the request's ID (and the RelayState back) to the
ACS. `GET /start?relay=…`: the same without a request (IdP-initiated). Test material only.
`python -m idp_fixtures.saml.web --acs-url URL --role ROLE_ARN,PROVIDER_ARN` runs one in the
foreground and prints `saml-idp http://127.0.0.1:PORT`.
"""
from __future__ import annotations

import argparse
import base64
import html
import threading
import urllib.parse
import zlib
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from lxml import etree

from idp_fixtures.saml import material
from idp_fixtures.saml.idp import DemoIdP

SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


class SamlWebIdP:
    def __init__(self, *, acs_url: str, audience: str, roles: Sequence[tuple[str, str]], user: str = "alice",
                 host: str = "127.0.0.1", port: int = 0, session_duration: int | None = None,
                 entity_id: str = material.DEMO_ENTITY_ID) -> None:
        self.acs_url, self.audience, self.roles, self.user = acs_url, audience, list(roles), user
        self.session_duration = session_duration
        self.idp = DemoIdP(entity_id=entity_id)
        self.requests: list[dict[str, str]] = []
        self.refusals: list[str] = []
        self.host = host
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                server._handle(self)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer((host, port), Handler)
        self._httpd.daemon_threads = True
        self.port = int(self._httpd.server_address[1])
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def sso_url(self) -> str:
        return f"{self.url}/sso"

    @property
    def start_url(self) -> str:
        return f"{self.url}/start"

    def metadata(self) -> str:
        return material.metadata_xml(self.idp.entity_id, signing=(self.idp.key_name,), sso_url=self.sso_url)

    def response(self, in_response_to: str | None = None) -> str:
        return self.idp.response(recipient=self.acs_url, audience=self.audience, roles=self.roles,
                                 session_name=self.user, name_id=f"{self.user}@example.test",
                                 session_duration=self.session_duration, in_response_to=in_response_to)

    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        parsed = urllib.parse.urlsplit(request.path)
        query = dict(urllib.parse.parse_qsl(parsed.query))
        if parsed.path == "/start":
            return self._post_page(request, self.response(), query.get("relay"))
        if parsed.path == "/sso":
            checked = self._check(query.get("SAMLRequest", ""))
            if checked is None:
                return self._send(request, 400, b"bad AuthnRequest")
            self.requests.append(checked)
            return self._post_page(request, self.response(in_response_to=checked["ID"]), query.get("RelayState"))
        return self._send(request, 404, b"not found")

    def _check(self, encoded: str) -> dict[str, str] | None:
        try:
            xml = zlib.decompress(base64.b64decode(encoded, validate=True), -15)
            root = etree.fromstring(xml, _PARSER)
        except Exception:  # noqa: BLE001 - any undecodable request is refused
            self.refusals.append("undecodable")
            return None
        issuer = root.find(f"{{{SAML}}}Issuer")
        found = {"ID": root.get("ID") or "", "Destination": root.get("Destination") or "",
                 "AssertionConsumerServiceURL": root.get("AssertionConsumerServiceURL") or "",
                 "ProtocolBinding": root.get("ProtocolBinding") or "",
                 "Issuer": issuer.text if issuer is not None and issuer.text else ""}
        problems = [name for name, ok in (
            ("tag", root.tag == f"{{{SAMLP}}}AuthnRequest"), ("id", bool(found["ID"])),
            ("destination", found["Destination"] == self.sso_url),
            ("acs", found["AssertionConsumerServiceURL"] == self.acs_url),
            ("issuer", found["Issuer"] == self.audience)) if not ok]
        if problems:
            self.refusals.extend(problems)
            return None
        return found

    def _post_page(self, request: BaseHTTPRequestHandler, response: str, relay: str | None) -> None:
        relay_input = (f'<input type="hidden" name="RelayState" value="{html.escape(relay)}">' if relay else "")
        page = (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Demo IdP</title></head><body>'
                f'<p>Signing you in as {html.escape(self.user)}…</p>'
                f'<form method="post" action="{html.escape(self.acs_url)}">'
                f'<input type="hidden" name="SAMLResponse" value="{html.escape(response)}">{relay_input}'
                f'<noscript><button type="submit">Continue</button></noscript></form>'
                f'<script>document.forms[0].submit();</script></body></html>')
        self._send(request, 200, page.encode(), "text/html; charset=utf-8")

    def _send(self, request: BaseHTTPRequestHandler, status: int, body: bytes, ctype: str = "text/plain") -> None:
        try:
            request.send_response(status)
            request.send_header("Content-Type", ctype)
            request.send_header("Content-Length", str(len(body)))
            request.end_headers()
            request.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def start(self) -> SamlWebIdP:
        if self._thread is None:
            self._thread = threading.Thread(target=self._httpd.serve_forever, name=f"saml-idp-{self.port}",
                                            daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._httpd.server_close()

    def __enter__(self) -> SamlWebIdP:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(description="Run the demo SAML IdP's sign-in pages on loopback.")
    p.add_argument("--acs-url", required=True, help="Tessera's ${TESSERA_PUBLIC_URL}/saml")
    p.add_argument("--audience", help="TESSERA_SAML_ENTITY_ID (default: the ACS URL)")
    p.add_argument("--role", action="append", default=[], help="ROLE_ARN,PROVIDER_ARN (repeatable)")
    p.add_argument("--user", default="alice")
    p.add_argument("--port", type=int, default=0)
    args = p.parse_args(argv)
    roles = [tuple(r.split(",", 1)) for r in args.role]
    idp = SamlWebIdP(acs_url=args.acs_url, audience=args.audience or args.acs_url,
                     roles=[(r[0], r[1]) for r in roles], user=args.user, port=args.port)
    print(f"saml-idp {idp.url}  (GET /start: IdP-initiated sign-in; /sso: SP-initiated)", flush=True)
    try:
        idp.start()
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        idp.stop()


if __name__ == "__main__":
    main()
