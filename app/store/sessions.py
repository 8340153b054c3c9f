"""Temporary credentials in Redis: one key per session, named by its access key id.

One record = one compact JSON string under `Keys.session(akid)`, written with a single
`SET … PXAT <expiry> NX`, so the session expires in Redis exactly when its credentials do and
a lookup is one GET whatever the number of live sessions.

Compactness (memory per live session must stay well under 1 KB):
- short field names; fields at their default are omitted;
- values derivable from others are not stored: the access key id (it is the key), the session
  ARN, `aws:userid` and the principal name are rebuilt on read and stored only if the writer
  gave something else;
- the secret is sealed (AES-GCM, aad = access key id); the session token is never stored, only
  its keyed digest;
- an inline session policy is stored only when present, zlib-compressed when that is shorter.
"""
from __future__ import annotations

import base64
import math
import zlib
from functools import lru_cache
from typing import Any

import orjson

from redis.exceptions import RedisError

from app.core import arn as arns
from app.core.clock import Clock
from app.core.errors import InternalFailure, ServiceUnavailable
from app.core.records import Session, Tag
from app.store.keys import Keys
from app.store.secretbox import SecretBox

_KINDS = {"assumed-role": "r", "user-session": "u", "root-session": "o", "federated-user": "f"}
_KIND_NAMES = {v: k for k, v in _KINDS.items()}
_COMPRESS_ABOVE = 160  # chars; below this zlib+base85 does not pay
_DECODED_MAX = 10_000  # decoded records remembered (all forgotten on overflow)


def _derived_arn(kind: str, account: str, principal_name: str, session_name: str | None) -> str | None:
    if kind == "assumed-role" and session_name:
        return arns.assumed_role(account, principal_name, session_name)
    if kind == "federated-user" and session_name:
        return arns.federated_user(account, session_name)
    return None


def _derived_user_id(kind: str, account: str, principal_id: str, session_name: str | None) -> str:
    if kind == "assumed-role":
        return f"{principal_id}:{session_name}"
    if kind == "federated-user":
        return f"{account}:{session_name}"
    if kind == "root-session":
        return account
    return principal_id


@lru_cache(maxsize=4096)
def _derived_name(principal_arn: str) -> str:
    """The principal's name from its ARN; memoised (a pure function of the ARN, and a
    deployment's sessions name few principals): one dict lookup per encode and decode."""
    parsed = arns.parse(principal_arn)
    return parsed.resource_name if parsed else ""


def _ms(t: float) -> int:
    return int(round(t * 1000))


class SessionStore:
    def __init__(self, redis: Any, *, box: SecretBox, clock: Clock, writer: Any = None) -> None:
        self._redis = redis
        # where sessions are written: `redis`, or the durable writes' connection
        # (TESSERA_REDIS_WAIT_REPLICAS, app.store.durable), which answers once replicas have them
        self._writer = redis if writer is None else writer
        self._box = box
        self._clock = clock
        # akid -> (raw record, decoded): a record never changes once written (SET NX), and
        # decoding is a pure function of (akid, raw), so a repeat costs one string compare
        # instead of JSON + AES-GCM; expiry is still checked against the clock every time
        self._decoded: dict[str, tuple[str | bytes, tuple[Session, str]]] = {}

    # ---- write ----
    async def put(self, session: Session, token_digest: str) -> None:
        """Store the session; raises unless Redis confirmed the write (nothing may be issued
        that was not durably stored first)."""
        if session.expires_at <= self._clock.time():
            raise ValueError("refusing to store a session that has already expired")
        value = self.encode(session, token_digest)
        try:
            ok = await self._writer.set(
                Keys.session(session.access_key_id), value, pxat=math.ceil(session.expires_at * 1000), nx=True
            )
        except RedisError as exc:
            raise ServiceUnavailable("the credential store is unavailable", reason="store_unavailable") from exc
        if not ok:  # an access key id collision: astronomically unlikely, never overwrite
            raise InternalFailure("could not store the session", reason="session_key_collision")

    def encode(self, s: Session, token_digest: str) -> bytes:
        """The record's JSON, as the UTF-8 bytes Redis stores (no str made to be encoded again)."""
        kind = _KINDS.get(s.kind, s.kind)
        rec: dict[str, Any] = {
            "k": kind,
            "a": s.account,
            "s": self._box.seal(s.secret_access_key, s.access_key_id),
            "h": token_digest,
            "pa": s.principal_arn,
            "pi": s.principal_id,
            "i": _ms(s.issued_at),
            "e": _ms(s.expires_at),
        }
        if s.session_name is not None:
            rec["n"] = s.session_name
        if s.principal_name != _derived_name(s.principal_arn):
            rec["pn"] = s.principal_name
        if s.arn != (_derived_arn(s.kind, s.account, s.principal_name, s.session_name) or s.principal_arn):
            rec["arn"] = s.arn
        if s.user_id != _derived_user_id(s.kind, s.account, s.principal_id, s.session_name):
            rec["u"] = s.user_id
        if s.session_policy is not None:
            packed = base64.b85encode(zlib.compress(s.session_policy.encode("utf-8"), 9)).decode()
            if len(s.session_policy) > _COMPRESS_ABOVE and len(packed) < len(s.session_policy):
                rec["pz"] = packed
            else:
                rec["p"] = s.session_policy
        if s.session_policy_arns:
            rec["pr"] = list(s.session_policy_arns)
        if s.tags:
            rec["t"] = [[t.key, t.value] for t in s.tags]
        if s.transitive_tag_keys:
            rec["tt"] = list(s.transitive_tag_keys)
        if s.source_identity is not None:
            rec["si"] = s.source_identity
        if s.mfa_authenticated:
            rec["m"] = _ms(s.mfa_authenticated_at) if s.mfa_authenticated_at is not None else 1
        if s.chained:
            rec["c"] = 1
        if s.federated_provider is not None:
            rec["fp"] = s.federated_provider
        if s.federation_context:
            rec["fc"] = [[k, v] for k, v in s.federation_context]
        return orjson.dumps(rec)

    # ---- read ----
    async def get(self, access_key_id: str) -> tuple[Session, str] | None:
        """(session with its secret decrypted, stored token digest); None if unknown or expired."""
        try:
            raw = await self._redis.get(Keys.session(access_key_id))
        except RedisError as exc:
            raise ServiceUnavailable("the credential store is unavailable", reason="store_unavailable") from exc
        return self.live(access_key_id, raw)

    def live(self, access_key_id: str, raw: str | bytes | None) -> tuple[Session, str] | None:
        """`decode` of a record read elsewhere (e.g. pipelined with other reads); None when
        missing, unreadable or expired."""
        if raw is None:
            return None
        known = self._decoded.get(access_key_id)
        if known is not None and known[0] == raw:
            decoded: tuple[Session, str] | None = known[1]
        else:
            decoded = self.decode(access_key_id, raw)
            if decoded is not None:
                if len(self._decoded) >= _DECODED_MAX:
                    self._decoded.clear()
                self._decoded[access_key_id] = (raw, decoded)
        if decoded is None or decoded[0].expires_at <= self._clock.time():
            return None
        return decoded

    def decode(self, access_key_id: str, raw: str | bytes) -> tuple[Session, str] | None:
        """None when the record does not parse or its secret does not open (altered, moved to
        another key, or sealed under another master key)."""
        try:
            rec = orjson.loads(raw)
            secret = self._box.open(rec["s"], access_key_id)
            kind = _KIND_NAMES.get(rec["k"], rec["k"])
            account, principal_arn, principal_id = rec["a"], rec["pa"], rec["pi"]
            session_name = rec.get("n")
            principal_name = rec["pn"] if "pn" in rec else _derived_name(principal_arn)
            policy = rec.get("p")
            if "pz" in rec:
                policy = zlib.decompress(base64.b85decode(rec["pz"])).decode("utf-8")
            mfa = rec.get("m")
            session = Session(
                access_key_id=access_key_id,
                secret_access_key=secret,
                kind=kind,
                account=account,
                arn=rec["arn"] if "arn" in rec else (
                    _derived_arn(kind, account, principal_name, session_name) or principal_arn),
                user_id=rec["u"] if "u" in rec else _derived_user_id(kind, account, principal_id, session_name),
                principal_arn=principal_arn,
                principal_id=principal_id,
                principal_name=principal_name,
                issued_at=rec["i"] / 1000,
                expires_at=rec["e"] / 1000,
                session_name=session_name,
                session_policy=policy,
                session_policy_arns=tuple(rec.get("pr", ())),
                tags=tuple(Tag(k, v) for k, v in rec.get("t", ())),
                transitive_tag_keys=tuple(rec.get("tt", ())),
                source_identity=rec.get("si"),
                mfa_authenticated=mfa is not None,
                mfa_authenticated_at=mfa / 1000 if mfa not in (None, 1) else None,
                chained=bool(rec.get("c")),
                federated_provider=rec.get("fp"),
                federation_context=tuple((k, v) for k, v in rec.get("fc", ())),
            )
            return session, rec["h"]
        except (ValueError, KeyError, TypeError, zlib.error):
            return None
