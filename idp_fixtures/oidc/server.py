"""A tiny OpenID issuer over HTTP on loopback (stdlib `http.server`, one thread per request), for
tests and `tessera dev`: it serves a DemoIssuer's discovery document and key set, counts every
fetch, and can be made slow, failing, or down.

    with IssuerServer() as idp:                      # binds 127.0.0.1 on a free port
        idp.url                                      # "http://127.0.0.1:PORT" (+ path)
        token = idp.issuer.token(aud="sts.amazonaws.com")
        idp.jwks_fetches                             # GETs of the key set so far
        idp.delay = 10                               # answer every request 10 s late
        idp.status = 503                             # answer every request with this status
        idp.rotate([load("rsa-b")])                  # publish another key set from now on

Routes under `path` (default ""): `GET /.well-known/openid-configuration` (`issuer` = the URL,
`jwks_uri` = URL + `/jwks`), `GET /jwks`, and with `mint=True`, `GET /token?sub=…&aud=…&alg=…`
(a fresh ID token as text; demo only). `enable_code_flow(client_secret=…, redirect_uri=…)` adds
the authorization code flow: `GET /authorize` auto-approves one user (302 to the redirect URI
with `code` and `state`; S256 challenge, state and nonce required) and `POST /token` redeems a
code once (client secret by HTTP Basic or form, the PKCE verifier checked) for an ID token
carrying the nonce; `code_flow.refusals` records why any request was refused. Other paths: 404. Responses carry `Cache-Control:
max-age=<cache_seconds>` (None: no header). Attributes you may set at any time: `delay`,
`status`, `jwks_override` (a dict or bytes served instead of the key set), `discovery_overrides`
(members replaced in the discovery document). `fetches` counts requests per path; `stop()`
closes the socket (connection refused afterwards: the IdP is down); the instance can be
`start()`ed again on the same port. `python -m idp_fixtures.oidc.server --port 9400` runs one in
the foreground.
"""
from __future__ import annotations

import argparse
import base64
import collections
import hashlib
import json
import os
import secrets
import threading
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from idp_fixtures.oidc.issuer import DEMO_CLIENT_ID, DemoIssuer
from idp_fixtures.oidc.material import IssuerKey


@dataclass
class CodeFlow:
    """The authorization code flow's client and auto-approved user; `codes` outstanding,
    `refusals` the reasons of every refused request (`pkce_mismatch`, `invalid_grant`, ...)."""

    client_id: str
    client_secret: str
    redirect_uri: str
    sub: str
    claims: dict[str, Any]
    codes: dict[str, dict[str, str]] = field(default_factory=dict)
    refusals: list[str] = field(default_factory=list)
    authorizations: int = 0


class IssuerServer:
    def __init__(self, *, keys: Sequence[IssuerKey] | None = None, host: str = "127.0.0.1", port: int = 0,
                 path: str = "", client_id: str = DEMO_CLIENT_ID, mint: bool = False,
                 cache_seconds: int | None = 300) -> None:
        self.host, self.path = host, path.rstrip("/")
        self.mint, self.cache_seconds = mint, cache_seconds
        self.delay: float = 0.0
        self.status: int | None = None
        self.jwks_override: dict[str, Any] | bytes | None = None
        self.discovery_overrides: dict[str, Any] = {}
        self.fetches: collections.Counter[str] = collections.Counter()
        self.code_flow: CodeFlow | None = None
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._httpd = self._bind(port)
        self.port = self._httpd.server_address[1]
        self.issuer = DemoIssuer(self.url, keys, client_id=client_id)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self._port()}{self.path}"

    def _port(self) -> int:
        return int(getattr(self, "port", 0) or self._httpd.server_address[1])

    @property
    def jwks_fetches(self) -> int:
        with self._lock:
            return self.fetches[f"{self.path}/jwks"]

    @property
    def discovery_fetches(self) -> int:
        with self._lock:
            return self.fetches[f"{self.path}/.well-known/openid-configuration"]

    def rotate(self, keys: Sequence[IssuerKey]) -> None:
        """Publish `keys` from the next request on (and sign new tokens with them)."""
        self.issuer.keys = list(keys)

    def _bind(self, port: int) -> ThreadingHTTPServer:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                server._handle(self)

            def do_POST(self) -> None:  # noqa: N802
                if server.code_flow is not None and self.path.split("?", 1)[0] == f"{server.path}/token":
                    with server._lock:
                        server.fetches[f"{server.path}/token"] += 1
                    server._token(self)
                else:
                    server._send(self, 404, b'{"error":"not_found"}')

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

        httpd = ThreadingHTTPServer((self.host, port), Handler)
        httpd.daemon_threads = True
        return httpd

    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        parsed = urllib.parse.urlsplit(request.path)
        with self._lock:
            self.fetches[parsed.path] += 1
        if self.delay and self._stopping.wait(self.delay):
            return
        if self.status is not None:
            return self._send(request, self.status, b'{"error":"unavailable"}')
        if parsed.path == f"{self.path}/.well-known/openid-configuration":
            doc = self.issuer.discovery(**self.discovery_overrides)
            return self._send(request, 200, json.dumps(doc).encode())
        if parsed.path == f"{self.path}/jwks":
            body = self.jwks_override if self.jwks_override is not None else self.issuer.jwks()
            return self._send(request, 200, body if isinstance(body, bytes) else json.dumps(body).encode())
        if self.code_flow is not None and parsed.path == f"{self.path}/authorize":
            return self._authorize(request, dict(urllib.parse.parse_qsl(parsed.query)))
        if self.mint and parsed.path == f"{self.path}/token":
            query = dict(urllib.parse.parse_qsl(parsed.query))
            token = self.issuer.token(sub=query.get("sub", "demo-user"), aud=query.get("aud"), alg=query.get("alg"))
            return self._send(request, 200, token.encode(), "text/plain")
        return self._send(request, 404, b'{"error":"not_found"}')

    # ---- the authorization code flow (enable_code_flow) ----
    def enable_code_flow(self, *, client_secret: str, redirect_uri: str, sub: str = "demo-alice",
                         claims: dict[str, Any] | None = None) -> IssuerServer:
        """Serve `GET /authorize` (auto-approves user `sub`: a 302 to `redirect_uri` with a code)
        and `POST /token` (the code for an ID token with the request's `nonce`; client
        authentication by HTTP Basic or form; PKCE S256 checked) for the issuer's client id."""
        self.code_flow = CodeFlow(self.issuer.client_id, client_secret, redirect_uri, sub,
                                  claims if claims is not None else {"email": f"{sub}@example.test"})
        return self

    def _authorize(self, request: BaseHTTPRequestHandler, q: dict[str, str]) -> None:
        flow = self.code_flow
        assert flow is not None
        if q.get("client_id") != flow.client_id or q.get("redirect_uri") != flow.redirect_uri:
            flow.refusals.append("authorize_client")
            return self._send(request, 400, b'{"error":"invalid_request"}')
        if (q.get("response_type") != "code" or q.get("code_challenge_method") != "S256"
                or not q.get("code_challenge") or not q.get("state") or not q.get("nonce")):
            flow.refusals.append("authorize_params")
            return self._send(request, 400, b'{"error":"invalid_request"}')
        code = secrets.token_urlsafe(24)
        with self._lock:
            flow.codes[code] = {"challenge": q["code_challenge"], "nonce": q["nonce"], "redirect_uri": q["redirect_uri"]}
            flow.authorizations += 1
        query = urllib.parse.urlencode({"code": code, "state": q["state"]})
        try:
            request.send_response(302)
            request.send_header("Location", f"{flow.redirect_uri}?{query}")
            request.send_header("Content-Length", "0")
            request.end_headers()
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _token(self, request: BaseHTTPRequestHandler) -> None:
        flow = self.code_flow
        assert flow is not None
        length = int(request.headers.get("Content-Length") or 0)
        form = dict(urllib.parse.parse_qsl(request.rfile.read(min(length, 65536)).decode("utf-8", "replace")))
        client_id, secret = form.get("client_id"), form.get("client_secret")
        auth = request.headers.get("Authorization", "")
        if auth.startswith("Basic "):
            user, _, password = base64.b64decode(auth[6:]).decode("utf-8", "replace").partition(":")
            client_id, secret = urllib.parse.unquote(user), urllib.parse.unquote(password)
        if client_id != flow.client_id or secret != flow.client_secret:
            flow.refusals.append("invalid_client")
            return self._send(request, 401, b'{"error":"invalid_client"}')
        with self._lock:
            grant = flow.codes.pop(form.get("code", ""), None)
        if grant is None or form.get("grant_type") != "authorization_code" \
                or form.get("redirect_uri") != grant["redirect_uri"]:
            flow.refusals.append("invalid_grant")
            return self._send(request, 400, b'{"error":"invalid_grant"}')
        verifier = form.get("code_verifier", "")
        digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        if not verifier or digest != grant["challenge"]:
            flow.refusals.append("pkce_mismatch" if verifier else "pkce_missing")
            return self._send(request, 400, b'{"error":"invalid_grant","error_description":"PKCE verification failed"}')
        token = self.issuer.token(sub=flow.sub, claims={**flow.claims, "nonce": grant["nonce"]})
        body = {"access_token": secrets.token_urlsafe(24), "token_type": "Bearer", "expires_in": 300, "id_token": token}
        return self._send(request, 200, json.dumps(body).encode())

    def _send(self, request: BaseHTTPRequestHandler, status: int, body: bytes,
              content_type: str = "application/json") -> None:
        try:
            request.send_response(status)
            request.send_header("Content-Type", content_type)
            request.send_header("Content-Length", str(len(body)))
            if self.cache_seconds is not None:
                request.send_header("Cache-Control", f"max-age={self.cache_seconds}")
            request.end_headers()
            request.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeouts)
            pass

    def start(self) -> IssuerServer:
        if self._thread is not None:
            return self
        if self._httpd.socket.fileno() < 0:  # restarted after stop(): same port
            self._httpd = self._bind(self.port)
        self._stopping.clear()
        self._thread = threading.Thread(target=self._httpd.serve_forever, name=f"oidc-idp-{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._httpd.server_close()

    def __enter__(self) -> IssuerServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Run the demo OpenID issuer on loopback.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9400)
    parser.add_argument("--path", default="")
    parser.add_argument("--redirect-uri", help="enable the code flow for this redirect URI (client secret: "
                                               "$TESSERA_DEMO_CLIENT_SECRET)")
    args = parser.parse_args(argv)
    server = IssuerServer(host=args.host, port=args.port, path=args.path, mint=True)
    if args.redirect_uri and os.environ.get("TESSERA_DEMO_CLIENT_SECRET"):
        server.enable_code_flow(client_secret=os.environ["TESSERA_DEMO_CLIENT_SECRET"], redirect_uri=args.redirect_uri)
    print(f"issuer {server.url}  (GET /.well-known/openid-configuration, /jwks, /token?sub=&aud=)", flush=True)
    try:
        server.start()
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


if __name__ == "__main__":
    main()
