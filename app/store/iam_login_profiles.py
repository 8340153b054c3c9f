"""Login profiles (a user's console password) and the account password policy.

A login profile is a HASH beside its user (`T:user:l:login`): `h` the current password's
argon2id hash (the store never sees a password), `o` the hashes of earlier passwords, newest
first, as JSON (kept only as many as PasswordReusePrevention asks), `c` when the password was
first set (the profile's CreateDate), `m` when it last changed, `r` "1" while a reset is required,
`u` when it was last used to sign in (app.services.sso_password; written without an epoch bump:
it is not IAM state, as RoleLastUsed is not).
A rename of the user moves the HASH (app.store.iam_users); DeleteUser is refused while it exists.

The account password policy is one JSON record (`T:pwpolicy`), replaced whole by every update.

A password change names the hash it replaces (`expect`): the service verified the old password
(or checked reuse) against that hash off the event loop, and a concurrent change in between
makes the write fail with EntityTemporarilyUnmodifiable rather than silently win.
"""
from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from redis.exceptions import WatchError

from app.core.errors import EntityAlreadyExists, EntityTemporarilyUnmodifiable, NoSuchEntity
from app.core.passwords import PasswordPolicy, StoredLoginProfile
from app.store.iam_entities import EntitiesMixin, not_found
from app.store.keys import Keys
from app.store.mfa_attempts import MfaAttempts

PASSWORD_ATTEMPTS = 5  # failed old-password checks of ChangePassword per user and window
PASSWORD_WINDOW = 900


def login_profile_missing(user_name: str) -> NoSuchEntity:
    return NoSuchEntity(f"Login Profile for User {user_name} cannot be found.")


def _profile(user_name: str, h: dict[str, str]) -> StoredLoginProfile:
    return StoredLoginProfile(user_name=user_name, password_hash=h["h"],
                              previous_hashes=tuple(json.loads(h.get("o") or "[]")),
                              password_created=float(h["c"]),
                              password_last_changed=float(h.get("m") or h["c"]),
                              password_reset_required=h.get("r") == "1",
                              password_last_used=float(h["u"]) if h.get("u") else None)


class LoginProfilesMixin(EntitiesMixin):
    def _login_keys(self, user_name: str) -> tuple[str, str]:
        lname = user_name.lower()
        return self._k.entity("user", lname), self._k.user_login_profile(lname)

    async def get_login_profile(self, user_name: str) -> StoredLoginProfile | None:
        """The user's login profile (hashes and dates included), None when it has none; the
        name in it is the user's as stored. Raises NoSuchEntity when the user does not exist."""
        user_key, key = self._login_keys(user_name)
        raw, h = await self._read(("get", user_key), ("hgetall", key))
        if raw is None:
            raise not_found("user", user_name)
        return _profile(json.loads(raw)["n"], h) if h else None

    async def create_login_profile(self, user_name: str, password_hash: str, *,
                                   reset_required: bool) -> StoredLoginProfile:
        user_key, key = self._login_keys(user_name)
        now = str(self._clock.time())

        async def body(pipe: Any) -> StoredLoginProfile:
            raw, there = await self._read(("get", user_key), ("exists", key))
            if raw is None:
                raise not_found("user", user_name)
            name = json.loads(raw)["n"]
            if there:
                raise EntityAlreadyExists(f"Login Profile for user {name} already exists.")
            h = {"h": password_hash, "o": "[]", "c": now, "m": now,
                 "r": "1" if reset_required else "0"}
            pipe.multi()
            pipe.hset(key, mapping=h)
            return _profile(name, h)

        return await self._atomic([user_key, key], body)

    async def update_login_profile(self, user_name: str, *, password_hash: str | None = None,
                                   expect: str | None = None, keep: int = 0,
                                   reset_required: bool | None = None) -> None:
        """Set a new password hash (the old one joins the `keep` most recent earlier hashes)
        and/or the reset flag. With `expect`, the current hash must still be that one."""
        user_key, key = self._login_keys(user_name)

        async def body(pipe: Any) -> None:
            raw, h = await self._read(("get", user_key), ("hgetall", key))
            if raw is None:
                raise not_found("user", user_name)
            name = json.loads(raw)["n"]
            if not h:
                raise login_profile_missing(name)
            if expect is not None and h["h"] != expect:
                raise EntityTemporarilyUnmodifiable(
                    f"Login Profile for User {name} changed during the request; try again.",
                    reason="login_profile_changed_concurrently")
            change: dict[str, str] = {}
            if password_hash is not None:
                earlier = [h["h"], *json.loads(h.get("o") or "[]")][:keep]
                change.update(h=password_hash, o=json.dumps(earlier),
                              m=str(self._clock.time()))
            if reset_required is not None:
                change["r"] = "1" if reset_required else "0"
            pipe.multi()
            if change:
                pipe.hset(key, mapping=change)

        await self._atomic([user_key, key], body)

    async def delete_login_profile(self, user_name: str) -> None:
        user_key, key = self._login_keys(user_name)

        async def body(pipe: Any) -> None:
            raw, there = await self._read(("get", user_key), ("exists", key))
            if raw is None:
                raise not_found("user", user_name)
            if not there:
                raise login_profile_missing(json.loads(raw)["n"])
            pipe.multi()
            pipe.delete(key)

        await self._atomic([user_key, key], body)

    async def passwords_last_used(self, user_names: list[str]) -> list[float | None]:
        """PasswordLastUsed of each user (None: never, or no login profile), in one round trip."""
        if not user_names:
            return []
        raw = await self._read(*(("hget", self._login_keys(n)[1], "u") for n in user_names))
        return [float(v) if v else None for v in raw]

    async def note_password_used(self, user_name: str, when: float) -> None:
        """PasswordLastUsed: one HSET of `u`, only while the profile exists (WATCHed, so a
        profile deleted meanwhile is not recreated as a hash without a password). Best effort:
        a concurrent change of the profile skips the note."""
        key = self._login_keys(user_name)[1]
        async with self._r.pipeline(transaction=True) as pipe:
            try:
                await pipe.watch(key)
                if not await pipe.exists(key):
                    return
                pipe.multi()
                pipe.hset(key, "u", str(int(when)))
                await pipe.execute()
            except WatchError:
                return

    # ---- failed old-password checks (not IAM state: outside the hash tag, expiring) ----
    def _password_attempts(self) -> MfaAttempts:
        return MfaAttempts(self._r, limit=PASSWORD_ATTEMPTS, window=PASSWORD_WINDOW,
                           key=Keys.password_attempts)

    async def password_attempt(self, user_id: str) -> bool:
        """Count one old-password check of the user; False once the window's are used up."""
        return await self._password_attempts().attempt(user_id)

    async def password_attempt_succeeded(self, user_id: str) -> None:
        await self._password_attempts().succeeded(user_id)

    # ---- the account password policy ----
    async def get_password_policy(self) -> PasswordPolicy | None:
        raw = await self._r.get(self._k.password_policy())
        return PasswordPolicy(**json.loads(raw)) if raw is not None else None

    async def put_password_policy(self, policy: PasswordPolicy) -> None:
        key = self._k.password_policy()

        async def body(pipe: Any) -> None:
            pipe.multi()
            pipe.set(key, json.dumps(asdict(policy), separators=(",", ":")))

        await self._atomic([key], body)

    async def delete_password_policy(self) -> None:
        key = self._k.password_policy()

        async def body(pipe: Any) -> None:
            if not await self._r.exists(key):
                raise NoSuchEntity("The Password Policy with domain name "
                                   f"{self.account} cannot be found.")
            pipe.multi()
            pipe.delete(key)

        await self._atomic([key], body)
