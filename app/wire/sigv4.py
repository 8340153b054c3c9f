"""AWS Signature Version 4 verification, header and presigned-query forms. Pure: no I/O.

`SigV4Verifier.parse` checks everything that does not need the secret (structure, scope,
clock skew) and returns a `SignedRequest`; the caller resolves the access key to its secret
and calls `SignedRequest.verify(secret)`, which builds the canonical request lazily and
compares signatures in constant time (`app.wire.sigv4_request` owns that half: the canonical
request, the derived-signing-key cache and the check).

Choices (reference §7, §1.4.1):
- any syntactically valid region is accepted; the service must be `expected_service` if given;
- `X-Amz-Content-SHA256` is honoured when present (used literally in the canonical request),
  but it must equal the SHA-256 of the body: `UNSIGNED-PAYLOAD` and streaming markers are
  refused, because for the Query protocol the body *is* the request;
- presigned URLs are valid while now <= X-Amz-Date + min(X-Amz-Expires, max_skew).
Messages never contain the signature, the security token or any secret.
"""
from __future__ import annotations

import re
import time
from collections.abc import Mapping
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from functools import lru_cache
from urllib.parse import unquote

from app.core.clock import Clock
from app.core.errors import (
    IncompleteSignature,
    InvalidClientTokenId,
    MissingAuthenticationToken,
)
from app.wire.sigv4_request import (
    ALGORITHM,
    MISMATCH_MESSAGE,
    TERMINATOR,
    SignatureInputs,
    SignedRequest,
    SigningKeys,
    mismatch,
)

__all__ = ["ALGORITHM", "INVALID_TOKEN_MESSAGE", "MISMATCH_MESSAGE", "MISSING_TOKEN_MESSAGE", "TERMINATOR",
           "SignedRequest", "SigV4Verifier"]

MISSING_TOKEN_MESSAGE = "Request is missing Authentication Token"
INVALID_TOKEN_MESSAGE = "The security token included in the request is invalid."

_MAX_AUTHORIZATION = 4096
_MAX_SIGNED_HEADERS = 64
_MAX_TOKEN = 16384
_MAX_EXPIRES = 604800
_AUTH_QUERY = frozenset({"X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires",
                         "X-Amz-SignedHeaders", "X-Amz-Signature", "X-Amz-Security-Token"})
_PRESIGN_MARKERS = ("X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature")
_AKID = re.compile(r"[A-Za-z0-9_]{16,128}")
_REGION = re.compile(r"[A-Za-z0-9_-]{1,64}")
_SERVICE = re.compile(r"[a-z0-9-]{1,64}")
_HEADER_NAME = re.compile(r"[a-z0-9!#$%&'*+.^_`|~-]+")
_AMZ_DATE = re.compile(r"[0-9]{8}T[0-9]{6}Z")
_SIGNATURE = re.compile(r"[0-9a-f]{64}")
_HEX64 = _SIGNATURE
_LONG_HEX = re.compile(r"[0-9a-fA-F]{16,}")
_EXPIRES = re.compile(r"[0-9]{1,7}")


def _incomplete(message: str, reason: str) -> IncompleteSignature:
    return IncompleteSignature(message, reason=reason)


def _amz(t: float) -> str:
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(int(t)))


def _span(seconds: int) -> str:
    return f"{seconds // 60} min." if seconds % 60 == 0 else f"{seconds} sec."


def _shown(text: str, limit: int = 48) -> str:
    """User input safe to echo: bounded, printable, never a signature value."""
    if text.lower().lstrip().startswith("signature"):
        return "Signature=<redacted>"
    text = _LONG_HEX.sub("<redacted>", text)
    text = "".join(c if c.isprintable() else "?" for c in text[:limit])
    return text + ("..." if len(text) >= limit else "")


@lru_cache(maxsize=256)
def _amz_epoch(amz_date: str) -> float | None:
    """`20300101T000000Z` -> epoch seconds; None unless strictly that format and a real date."""
    if not _AMZ_DATE.fullmatch(amz_date):
        return None
    try:
        return datetime(int(amz_date[0:4]), int(amz_date[4:6]), int(amz_date[6:8]), int(amz_date[9:11]),
                        int(amz_date[11:13]), int(amz_date[13:15]), tzinfo=timezone.utc).timestamp()
    except ValueError:
        return None


class SigV4Verifier:
    def __init__(self, *, clock: Clock, max_skew: int = 900, key_cache_size: int = 4096) -> None:
        self._clock = clock
        self._max_skew = max_skew
        self._keys = SigningKeys(key_cache_size)

    def parse(self, *, method: str, raw_path: str, raw_query: str, headers: Mapping[str, str],
              body: bytes, expected_service: str | None = None) -> SignedRequest:
        pairs = [(n, v) for n, _, v in (p.partition("=") for p in raw_query.split("&"))] if raw_query else []
        auth_q: dict[str, str] = {}
        signature_at = -1
        for i, (name, value) in enumerate(pairs):
            dname = unquote(name)
            if dname == "X-Amz-Signature":
                signature_at = i
            if dname in _AUTH_QUERY:
                if dname in auth_q:
                    raise _incomplete(f"duplicate query parameter '{dname}'", "sigv4_duplicate_query_param")
                auth_q[dname] = unquote(value)
        presigned = any(m in auth_q for m in _PRESIGN_MARKERS)
        authorization = headers.get("authorization")
        if authorization is not None and presigned:
            raise _incomplete("Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter "
                              "or the Authorization header should be specified", "sigv4_two_mechanisms")
        if presigned:
            algorithm, credential, signed, signature = self._from_query(auth_q)
            raw_date: str | None = auth_q.get("X-Amz-Date")
            token = auth_q.get("X-Amz-Security-Token")
            query = tuple(pairs[:signature_at] + pairs[signature_at + 1:])
        elif authorization is not None:
            algorithm, credential, signed, signature = self._from_header(authorization, headers)
            raw_date = headers.get("x-amz-date")
            token = headers.get("x-amz-security-token")
            query = tuple(pairs)
        else:
            raise MissingAuthenticationToken(MISSING_TOKEN_MESSAGE, reason="sigv4_missing")
        if algorithm != ALGORITHM:
            raise mismatch("sigv4_unsupported_algorithm",
                            f"unsupported signature algorithm '{_shown(algorithm, 32)}'; expected {ALGORITHM}")
        akid, scope_date, region, service = self._credential(credential, expected_service)
        amz_date, signed_at = self._date(raw_date, None if presigned else headers.get("date"))
        names = self._signed_header_names(signed, headers)
        if not _SIGNATURE.fullmatch(signature):
            raise mismatch("sigv4_signature_malformed")
        if token is not None and len(token) > _MAX_TOKEN:
            raise InvalidClientTokenId(INVALID_TOKEN_MESSAGE, reason="sigv4_token_too_large")
        content_sha = headers.get("x-amz-content-sha256")
        if content_sha is not None and not _HEX64.fullmatch(content_sha):
            raise mismatch("sigv4_unsigned_payload_refused")
        if scope_date != amz_date[:8]:
            raise mismatch("sigv4_scope_date_mismatch",
                            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date "
                            f"from HTTP: '{_shown(scope_date, 16)}' != '{amz_date[:8]}', from '{amz_date}'.")
        self._check_time(amz_date, signed_at, self._expires(auth_q) if presigned else None)
        return SignedRequest(
            access_key_id=akid, security_token=token, region=region, service=service,
            scope_date=scope_date, amz_date=amz_date, presigned=presigned, signed_at=signed_at,
            _inputs=SignatureInputs(signature, method, raw_path, query, tuple((n, headers[n]) for n in names), signed,
                            content_sha, body, self._keys),
        )

    # ---- the two forms ----
    @staticmethod
    def _from_header(value: str, headers: Mapping[str, str]) -> tuple[str, str, str, str]:
        if len(value) > _MAX_AUTHORIZATION:
            raise _incomplete("Authorization header is too long", "sigv4_authorization_too_long")
        algorithm, _, rest = value.strip().partition(" ")
        if algorithm != ALGORITHM and algorithm.startswith("AWS4-"):
            return algorithm, "", "", ""  # rejected by the algorithm check
        parts: dict[str, str] = {}
        if algorithm == ALGORITHM:
            for piece in rest.split(","):
                piece = piece.strip()
                if not piece:
                    continue
                name, eq, val = piece.partition("=")
                if not eq:
                    raise _incomplete(f"'{_shown(piece)}' not a valid key=value pair (missing equal-sign) "
                                      "in Authorization header.", "sigv4_malformed_authorization")
                name = name.strip()
                if name in parts:
                    raise _incomplete(f"duplicate '{_shown(name, 32)}' in Authorization header.",
                                      "sigv4_malformed_authorization")
                parts[name] = val.strip()
        missing = [f"Authorization header requires '{p}' parameter." for p in ("Credential", "Signature",
                   "SignedHeaders") if not parts.get(p)]
        if "x-amz-date" not in headers and "date" not in headers:
            missing.append("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.")
        if missing:
            raise _incomplete(" ".join(missing), "sigv4_incomplete_authorization")
        return algorithm, parts["Credential"], parts["SignedHeaders"], parts["Signature"]

    @staticmethod
    def _from_query(q: Mapping[str, str]) -> tuple[str, str, str, str]:
        required = ("X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature", "X-Amz-Date", "X-Amz-SignedHeaders")
        if any(not q.get(p) for p in required):
            raise _incomplete("AWS query-string parameters must include 'X-Amz-Algorithm', 'X-Amz-Credential', "
                              "'X-Amz-Signature', 'X-Amz-Date', 'X-Amz-SignedHeaders'. "
                              "Re-examine the query-string parameters.", "sigv4_incomplete_query")
        return q["X-Amz-Algorithm"], q["X-Amz-Credential"], q["X-Amz-SignedHeaders"], q["X-Amz-Signature"]

    # ---- pieces ----
    @staticmethod
    def _credential(value: str, expected_service: str | None) -> tuple[str, str, str, str]:
        parts = value.split("/")
        if len(parts) != 5:
            raise _incomplete("Credential must have the form <AccessKeyId>/<yyyymmdd>/<region>/<service>/"
                              f"aws4_request, got {min(len(parts), 99)} component(s).", "sigv4_malformed_credential")
        akid, date, region, service, terminator = parts
        if not akid:
            raise _incomplete("Credential is missing the access key id.", "sigv4_malformed_credential")
        if not _AKID.fullmatch(akid):
            raise InvalidClientTokenId(INVALID_TOKEN_MESSAGE, reason="sigv4_access_key_malformed")
        if terminator != TERMINATOR:
            raise mismatch("sigv4_bad_terminator", "Credential should be scoped with a valid terminator: "
                            f"'{TERMINATOR}', not '{_shown(terminator, 32)}'.")
        if expected_service is not None and service != expected_service:
            raise mismatch("sigv4_wrong_service",
                            f"Credential should be scoped to correct service: '{expected_service}'.")
        if not _SERVICE.fullmatch(service):
            raise mismatch("sigv4_bad_service", "Credential should be scoped to a valid service.")
        if not _REGION.fullmatch(region):
            raise mismatch("sigv4_bad_region", "Credential should be scoped to a valid region.")
        return akid, date, region, service

    @staticmethod
    def _date(amz_date: str | None, http_date: str | None) -> tuple[str, float]:
        if amz_date is not None:
            signed_at = _amz_epoch(amz_date)
            if signed_at is not None:
                return amz_date, signed_at
            raise _incomplete(f"Date must be in ISO-8601 'basic format'. Got '{_shown(amz_date, 32)}'. "
                              "See http://en.wikipedia.org/wiki/ISO_8601", "sigv4_bad_date")
        try:
            dt = parsedate_to_datetime(http_date or "")
            signed_at = dt.timestamp() if dt.tzinfo is not None else dt.replace(tzinfo=timezone.utc).timestamp()
        except (TypeError, ValueError, IndexError, OverflowError):
            raise _incomplete("Date header must be an RFC 1123 date.", "sigv4_bad_date") from None
        return _amz(signed_at), float(int(signed_at))

    @staticmethod
    def _signed_header_names(value: str, headers: Mapping[str, str]) -> list[str]:
        names = value.split(";")
        if len(names) > _MAX_SIGNED_HEADERS or len(set(names)) != len(names) or not all(
                _HEADER_NAME.fullmatch(n) for n in names):
            raise _incomplete("SignedHeaders must be a ';'-separated list of distinct lowercase header names.",
                              "sigv4_malformed_signed_headers")
        if "host" not in names:
            raise _incomplete("'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.",
                              "sigv4_host_not_signed")
        if any(n not in headers for n in names):
            raise mismatch("sigv4_signed_header_missing")
        return names

    def _expires(self, q: Mapping[str, str]) -> int:
        raw = q.get("X-Amz-Expires")
        if raw is None:
            return self._max_skew
        if not _EXPIRES.fullmatch(raw) or not 1 <= int(raw) <= _MAX_EXPIRES:
            raise _incomplete(f"X-Amz-Expires must be an integer between 1 and {_MAX_EXPIRES} seconds.",
                              "sigv4_bad_expires")
        return int(raw)

    def _check_time(self, amz_date: str, signed_at: float, expires: int | None) -> None:
        now = self._clock.time()
        skew = self._max_skew
        window = skew if expires is None else min(expires, skew)
        if (signed_at < now - window) if expires is None else (now > signed_at + window):
            raise mismatch("sigv4_expired", f"Signature expired: {amz_date} is now earlier than "
                            f"{_amz(now - window)} ({_amz(now)} - {_span(window)})")
        if signed_at > now + skew:
            raise mismatch("sigv4_not_yet_current", f"Signature not yet current: {amz_date} is still later "
                            f"than {_amz(now + skew)} ({_amz(now)} + {_span(skew)})")
