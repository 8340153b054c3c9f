"""Who is calling: an access key id (+ session token) and a SigV4 signature become a Caller.

Long-term keys (`AKIA…`, and any id that is not `ASIA…`) resolve through the IAM store;
temporary keys (`ASIA…`) through the session store, after the session token's MAC was checked
(no Redis lookup for a forged token). Every failure before the signature check answers
`InvalidClientTokenId` with AWS's message (and a precise `reason` for the audit log), except a
genuine but expired session token, which is `ExpiredToken`.

One Redis round trip per request: `iam.pin(...)` (app.store.iam_cache.CachedIamReads) reads
the IAM epoch together with the session record; the key, user and role lookups that follow
are served from the per-epoch cache once warm. AccessKeyLastUsed is written at most once a
minute per key and process, in the background (best effort: a failure is logged, never
fails the request).
"""
from __future__ import annotations

import asyncio
from typing import Any, Protocol

from app.core import arn as arns
from app.core.clock import Clock
from app.core.errors import ExpiredToken, InvalidClientTokenId
from app.core.ids import TEMPORARY_KEY
from app.core.records import Caller, Session
from app.services.last_used import EVERY, OncePer, settle
from app.services.root_key import ConfiguredRootKey
from app.services.tokens import SessionTokens
from app.store.keys import Keys
from app.store.sessions import SessionStore

TOUCH_EVERY = EVERY  # seconds between two AccessKeyLastUsed writes for one key

INVALID_TOKEN = "The security token included in the request is invalid."
EXPIRED_TOKEN = "The security token included in the request is expired"


class SignedRequest(Protocol):
    """Implemented by app.wire.sigv4.SignedRequest."""

    access_key_id: str
    security_token: str | None
    region: str
    service: str

    def verify(self, secret_access_key: str) -> None: ...


def _invalid(reason: str) -> InvalidClientTokenId:
    return InvalidClientTokenId(INVALID_TOKEN, reason=reason)


class Authenticator:
    def __init__(self, iam_store: Any, session_store: SessionStore, tokens: SessionTokens, *,
                 account: str, clock: Clock, root: ConfiguredRootKey | None = None) -> None:
        self._iam = iam_store
        self._root = root  # the configured root key, re-created if the store lost its data
        self._sessions = session_store
        self._tokens = tokens
        self._account = account
        self._clock = clock
        self._touch_gate = OncePer(TOUCH_EVERY)
        self._pending: set[asyncio.Task[None]] = set()

    async def authenticate(self, req: SignedRequest) -> Caller:
        if req.access_key_id.startswith(TEMPORARY_KEY):
            return await self._temporary(req)
        return await self._long_term(req)

    # ---- long-term keys ----
    async def _long_term(self, req: SignedRequest) -> Caller:
        if req.security_token:
            raise _invalid("token_with_long_term_key")
        await self._iam.pin()
        key = await self._iam.find_access_key(req.access_key_id)
        if key is None and self._root is not None and await self._root.restore(req.access_key_id):
            key = await self._iam.find_access_key(req.access_key_id)  # the store lost its data
        if key is None:
            raise _invalid("access_key_unknown")
        if key.status != "Active" or not key.secret_access_key:
            raise _invalid("access_key_inactive")
        req.verify(key.secret_access_key)
        account = self._account
        if not key.user_name:
            caller = Caller(kind="root", account=account, arn=arns.root(account), user_id=account,
                            principal_arn=arns.root(account), access_key_id=req.access_key_id)
        else:
            user = await self._iam.get_user(key.user_name)
            if user is None:
                raise _invalid("access_key_user_deleted")
            caller = Caller(kind="user", account=account, arn=user.arn, user_id=user.user_id,
                            principal_arn=user.arn, access_key_id=req.access_key_id, name=user.user_name)
        self._touch(req.access_key_id, req.service, req.region)
        return caller

    def _touch(self, access_key_id: str, service: str, region: str) -> None:
        """AccessKeyLastUsed, throttled to one background write per key per TOUCH_EVERY."""
        if not self._touch_gate.due(access_key_id, self._clock.time()):
            return
        task = asyncio.get_running_loop().create_task(
            settle(self._iam.touch_access_key(access_key_id, service, region), "access key last use"))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def settle(self) -> None:
        """Wait for the background last-used writes started so far (tests, shutdown)."""
        while self._pending:
            await asyncio.gather(*list(self._pending), return_exceptions=True)

    # ---- temporary keys ----
    async def _temporary(self, req: SignedRequest) -> Caller:
        token = req.security_token
        if not token:
            raise _invalid("session_token_missing")
        claims = self._tokens.open(token)
        if claims is None:
            raise _invalid("session_token_not_authentic")
        if claims.access_key_id != req.access_key_id:
            raise _invalid("session_token_other_key")
        now = self._clock.time()
        if claims.expires_at <= now:
            raise ExpiredToken(EXPIRED_TOKEN, reason="session_expired")
        [raw] = await self._iam.pin(Keys.session(req.access_key_id))
        found = self._sessions.live(req.access_key_id, raw)
        if found is None:
            raise _invalid("session_unknown")
        session, digest = found
        if not self._tokens.same_digest(digest, self._tokens.digest(token)):
            raise _invalid("session_token_mismatch")
        if session.expires_at <= now:  # pragma: no cover - the store already filters these
            raise ExpiredToken(EXPIRED_TOKEN, reason="session_expired")
        req.verify(session.secret_access_key)
        await self._still_backed(session)
        return self._session_caller(req.access_key_id, session)

    async def _still_backed(self, s: Session) -> None:
        """The role or user behind a session must still exist, as the same entity."""
        if s.kind == "assumed-role":
            role = await self._iam.get_role(s.principal_name)
            if role is None or role.role_id != s.principal_id:
                raise _invalid("session_role_gone")
        elif s.kind in ("user-session", "federated-user"):
            if s.principal_id == s.account:
                return  # a federated-user session of the root, which always exists
            user = await self._iam.get_user(s.principal_name)
            if user is None or user.user_id != s.principal_id:
                raise _invalid("session_user_gone")

    def _session_caller(self, akid: str, s: Session) -> Caller:
        kind = {"assumed-role": "assumed-role", "federated-user": "federated-user",
                "root-session": "root"}.get(s.kind, "user")
        return Caller(kind=kind, account=s.account, arn=s.arn, user_id=s.user_id,
                      principal_arn=s.principal_arn, access_key_id=akid,
                      name=s.principal_name if kind != "root" else None, session=s)
