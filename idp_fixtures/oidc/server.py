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
(a fresh ID token as text; demo only). Other paths: 404. Responses carry `Cache-Control:
max-age=<cache_seconds>` (None: no header). Attributes you may set at any time: `delay`,
`status`, `jwks_override` (a dict or bytes served instead of the key set), `discovery_overrides`
(members replaced in the discovery document). `fetches` counts requests per path; `stop()`
closes the socket (connection refused afterwards: the IdP is down); the instance can be
`start()`ed again on the same port. `python -m idp_fixtures.oidc.server --port 9400` runs one in
the foreground.
"""
from __future__ import annotations

import argparse
import collections
import json
import threading
import urllib.parse
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from idp_fixtures.oidc.issuer import DEMO_CLIENT_ID, DemoIssuer
from idp_fixtures.oidc.material import IssuerKey


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
        if self.mint and parsed.path == f"{self.path}/token":
            query = dict(urllib.parse.parse_qsl(parsed.query))
            token = self.issuer.token(sub=query.get("sub", "demo-user"), aud=query.get("aud"), alg=query.get("alg"))
            return self._send(request, 200, token.encode(), "text/plain")
        return self._send(request, 404, b'{"error":"not_found"}')

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
    args = parser.parse_args(argv)
    server = IssuerServer(host=args.host, port=args.port, path=args.path, mint=True)
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
