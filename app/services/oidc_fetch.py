"""Fetching an OpenID provider's documents (discovery, key set) over HTTP(S), defensively.

`HttpFetcher.get(url, thumbprints=...)` GETs one document with httpx: no redirects (a 3xx is a
failure), a size limit (Content-Length and the bytes actually read), the client's timeout, no
proxies or credentials from the environment. TLS is verified by OpenSSL against the system's CA
store or the configured bundle (`TESSERA_OIDC_CA_BUNDLE`, which then replaces the system store).

Thumbprints, as AWS documents them today: AWS trusts its CA library first and uses a
provider's thumbprints only when the IdP's certificate is not signed by a trusted CA. So does
this: when verification against the CA store fails and the provider has thumbprints, the
document is fetched again without OpenSSL's verification and accepted only if the chain the
server sent verifies (signatures, validity, host name, by `cryptography`) up to a certificate
of that chain whose SHA-1 is a registered thumbprint: the pinned certificate becomes the trust
anchor. Matching a thumbprint alone would prove nothing (a CA certificate is public: anyone can
send it), hence the path validation; the TLS handshake itself proves the server holds the key of
the certificate it sent first. Pin a certificate the server sends: AWS's advice is the top
intermediate CA of the chain the key host serves; a self-signed server certificate may be pinned
itself. A root CA the server does not send cannot be matched.

What fails is a `FetchFailed` with an audit word and whether it is transient (network, time,
5xx: the IdP may answer later) or not (the IdP answers, but with something unusable).
"""
from __future__ import annotations

import hashlib
import ipaddress
import re
import ssl
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import httpx
from cryptography import x509
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError

MAX_DOCUMENT_BYTES = 256 * 1024
_MAX_AGE = re.compile(r"(?:^|[,\s])max-age\s*=\s*\"?([0-9]{1,10})", re.I)
_NO_CACHE = re.compile(r"(?:^|[,\s])(?:no-store|no-cache)(?:$|[,\s=])", re.I)


class FetchFailed(Exception):
    """`reason`: `oidc_idp_unreachable`, `oidc_idp_timeout`, `oidc_idp_status`, `oidc_idp_redirect`,
    `oidc_idp_too_large`, `oidc_tls_untrusted`, `oidc_thumbprint_mismatch`, or (app.services.
    oidc_keys) `oidc_discovery_invalid`, `oidc_jwks_invalid`. `why` is for the log."""

    def __init__(self, reason: str, why: str, *, transient: bool) -> None:
        super().__init__(f"{reason}: {why}")
        self.reason, self.why, self.transient = reason, why, transient


@dataclass(frozen=True, slots=True)
class Fetched:
    body: bytes
    max_age: int | None  # the response's Cache-Control lifetime in seconds (0: no-store/no-cache), None: none given


class DocumentFetcher(Protocol):
    async def get(self, url: str, *, thumbprints: Sequence[str] = ()) -> Fetched: ...


def cache_lifetime(header: str | None) -> int | None:
    if not header:
        return None
    if _NO_CACHE.search(header):
        return 0
    found = _MAX_AGE.search(header)
    return int(found.group(1)) if found else None


def _context(ca_bundle: str | None) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=ca_bundle)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    return ctx


def _unverified_context() -> ssl.SSLContext:
    """For the thumbprint fallback only: the chain is verified afterwards (`_check_pinned`)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def client(verify: ssl.SSLContext, timeout: float) -> httpx.AsyncClient:
    return httpx.AsyncClient(verify=verify, timeout=httpx.Timeout(timeout), follow_redirects=False,
                             trust_env=False, limits=httpx.Limits(max_connections=32, max_keepalive_connections=8),
                             headers={"Accept": "application/json", "Accept-Encoding": "identity",
                                      "User-Agent": "tessera-oidc"})


def _cert_error(exc: BaseException) -> ssl.SSLCertVerificationError | None:
    seen: BaseException | None = exc
    for _ in range(8):
        if seen is None:
            return None
        if isinstance(seen, ssl.SSLCertVerificationError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def served_chain(ssl_object: Any) -> list[bytes]:
    """The certificates the server sent, leaf first, as DER."""
    get = getattr(ssl_object, "get_unverified_chain", None)  # public from Python 3.13
    if get is None:
        get = ssl_object._sslobj.get_unverified_chain  # the same method, private before 3.13
    out: list[bytes] = []
    for cert in get() or ():
        out.append(cert if isinstance(cert, bytes) else cert.public_bytes(ssl._ssl.ENCODING_DER))  # type: ignore[attr-defined]
    return out


def _subject(host: str) -> x509.DNSName | x509.IPAddress:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def check_pinned(chain: Sequence[bytes], host: str, thumbprints: Sequence[str]) -> None:
    """FetchFailed(oidc_thumbprint_mismatch) unless `chain` (leaf first) verifies for `host` up
    to one of its own certificates whose SHA-1 is in `thumbprints`."""
    wanted = {t.lower() for t in thumbprints}
    anchors = [x509.load_der_x509_certificate(der) for der in chain if hashlib.sha1(der).hexdigest() in wanted]
    if not chain or not anchors:
        raise FetchFailed("oidc_thumbprint_mismatch", f"no certificate served by `{host}` has a registered thumbprint",
                          transient=False)
    certs = [x509.load_der_x509_certificate(der) for der in chain]
    try:
        PolicyBuilder().store(Store(anchors)).build_server_verifier(_subject(host)).verify(certs[0], certs[1:])
    except (VerificationError, ValueError) as exc:
        raise FetchFailed("oidc_thumbprint_mismatch", f"the chain served by `{host}` does not verify up to the "
                          f"certificate of the registered thumbprint: {exc}", transient=False) from None


class HttpFetcher:
    """`HttpFetcher.create(ca_bundle=None, timeout=3.0)`, once per process; `aclose()` at shutdown.
    Tests may pass their own clients (`httpx.AsyncClient(transport=httpx.MockTransport(...))`)."""

    def __init__(self, verified: httpx.AsyncClient, unverified: httpx.AsyncClient | None = None, *,
                 max_bytes: int = MAX_DOCUMENT_BYTES) -> None:
        self._verified, self._unverified, self._max = verified, unverified, max_bytes

    @classmethod
    def create(cls, *, ca_bundle: str | None = None, timeout: float = 3.0,
               max_bytes: int = MAX_DOCUMENT_BYTES) -> HttpFetcher:
        return cls(client(_context(ca_bundle), timeout), client(_unverified_context(), timeout), max_bytes=max_bytes)

    async def aclose(self) -> None:
        await self._verified.aclose()
        if self._unverified is not None:
            await self._unverified.aclose()

    async def get(self, url: str, *, thumbprints: Sequence[str] = ()) -> Fetched:
        return await self._fetch(url, thumbprints, "GET", None, None)

    async def post(self, url: str, form: Mapping[str, str], *, headers: Mapping[str, str] | None = None,
                   thumbprints: Sequence[str] = ()) -> Fetched:
        """One form POST (an OAuth token endpoint), under the same rules as `get`: no redirects,
        the size limit, the timeout, TLS as for the provider's other documents. Any status but
        200 is a FetchFailed (`oidc_idp_status`)."""
        return await self._fetch(url, thumbprints, "POST", dict(form), dict(headers or {}))

    async def _fetch(self, url: str, thumbprints: Sequence[str], method: str, form: dict[str, str] | None,
                     headers: dict[str, str] | None) -> Fetched:
        try:
            return await self._get(self._verified, url, None, method, form, headers)
        except httpx.ConnectError as exc:
            if _cert_error(exc) is None:
                raise FetchFailed("oidc_idp_unreachable", f"`{url}`: {type(exc).__name__}", transient=True) from None
            if not thumbprints or self._unverified is None:
                raise FetchFailed("oidc_tls_untrusted", f"the TLS certificate of `{url}` does not verify against "
                                  f"the CA bundle: {_cert_error(exc)}", transient=False) from None
        try:
            return await self._get(self._unverified, url, thumbprints, method, form, headers)
        except httpx.ConnectError as exc:
            raise FetchFailed("oidc_idp_unreachable", f"`{url}`: {type(exc).__name__}", transient=True) from None

    async def _get(self, http: httpx.AsyncClient, url: str, thumbprints: Sequence[str] | None, method: str = "GET",
                   form: dict[str, str] | None = None, headers: dict[str, str] | None = None) -> Fetched:
        """One request; ConnectError passes (the caller tells certificate errors apart)."""
        try:
            async with http.stream(method, url, data=form, headers=headers) as response:
                if thumbprints is not None:
                    stream = response.extensions.get("network_stream")
                    ssl_object = stream.get_extra_info("ssl_object") if stream is not None else None
                    if ssl_object is None:
                        raise FetchFailed("oidc_thumbprint_mismatch", f"`{url}` was not fetched over TLS",
                                          transient=False)
                    check_pinned(served_chain(ssl_object), urllib.parse.urlsplit(url).hostname or "", thumbprints)
                return await self._read(url, response)
        except httpx.ConnectError:
            raise
        except httpx.TimeoutException:
            raise FetchFailed("oidc_idp_timeout", f"`{url}` did not answer in time", transient=True) from None
        except httpx.HTTPError as exc:
            raise FetchFailed("oidc_idp_unreachable", f"`{url}`: {type(exc).__name__}", transient=True) from None

    async def _read(self, url: str, response: httpx.Response) -> Fetched:
        status = response.status_code
        if 300 <= status < 400:
            raise FetchFailed("oidc_idp_redirect", f"`{url}` answered {status} (a redirect): redirects are not "
                              "followed", transient=False)
        if status != 200:
            raise FetchFailed("oidc_idp_status", f"`{url}` answered {status}", transient=status >= 500 or status == 429)
        length = response.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > self._max:
            raise FetchFailed("oidc_idp_too_large", f"`{url}` is larger than {self._max} bytes", transient=False)
        body = bytearray()
        async for chunk in response.aiter_bytes():
            body += chunk
            if len(body) > self._max:
                raise FetchFailed("oidc_idp_too_large", f"`{url}` is larger than {self._max} bytes", transient=False)
        return Fetched(bytes(body), cache_lifetime(response.headers.get("cache-control")))
