"""Login profiles and the account password policy: CreateLoginProfile GetLoginProfile
UpdateLoginProfile DeleteLoginProfile ChangePassword GetAccountPasswordPolicy
UpdateAccountPasswordPolicy DeleteAccountPasswordPolicy.

Resources authorized, as AWS's Service Authorization Reference lists them: the user (type
`user`) for the login-profile actions and ChangePassword; no resource type (`*`) for the
password-policy actions. ChangePassword is the caller's own (an IAM user, long-term keys or a
session of theirs): with the policy's AllowUsersToChangePassword, users need no iam:ChangePassword
grant (AWS: "all IAM users in your account can change their own password"); an explicit deny
still denies. Without a policy AWS's default policy (app.core.passwords) rules the password.

Passwords are hashed (argon2id) and verified off the event loop (app.services.passwords);
failed old-password checks are counted per user BEFORE the check, as MFA codes are
(app.store.mfa_attempts): at the limit every attempt fails with LimitExceeded, right ones too.
"""
from __future__ import annotations

from typing import Any

from app.core import arn as arns
from app.core.errors import (
    AccessDenied,
    InvalidUserType,
    LimitExceeded,
    NoSuchEntity,
    PasswordPolicyViolation,
    ValidationError,
)
from app.core.passwords import (
    REUSED,
    VIOLATION,
    PasswordPolicy,
    StoredLoginProfile,
    expired,
    violation,
)
from app.core.records import Call
from app.services.iam.users import UsersService
from app.services.passwords import Passwords
from app.store.iam_login_profiles import login_profile_missing

WRONG_OLD = ("Either user is not authorized to perform iam:ChangePassword or entered password "
             "is not valid")
NOT_A_USER = "Only IAM users can change their own password with ChangePassword."
TOO_MANY = "Too many failed attempts to change the password; try again later."
ROOT_PROFILE = ("The account root's password is not a login profile; specify UserName "
                "(an IAM user).")
HARD_EXPIRED = ("The password has expired and the account password policy (HardExpiry) lets "
                "only an administrator reset it.")


class LoginProfilesService(UsersService):
    _pw: Passwords | None = None

    def _passwords(self) -> Passwords:
        """The hashing pool, made on first use (one per service, i.e. per process)."""
        if self._pw is None:
            self._pw = Passwords()
        return self._pw

    async def _check_password(self, password: str, user_name: str,
                              policy: PasswordPolicy | None) -> None:
        problem = violation(policy, password, forbidden=(self._account, user_name))
        if problem is not None:
            raise PasswordPolicyViolation(f"{VIOLATION} {problem}.",
                                          reason="password_policy_violation")

    async def _new_hash(self, profile: StoredLoginProfile, password: str,
                        policy: PasswordPolicy | None) -> tuple[str, int]:
        """-> (hash of the new password, how many earlier hashes to keep); refuses one of the
        last PasswordReusePrevention passwords (the current one included)."""
        keep = (policy.password_reuse_prevention or 0) if policy else 0
        if keep and await self._passwords().matches_any(
                (profile.password_hash, *profile.previous_hashes)[:keep], password):
            raise PasswordPolicyViolation(REUSED, reason="password_reused")
        return await self._passwords().hash(password), max(keep - 1, 0)

    # ---- login profiles ----
    async def _profile_owner(self, call: Call, action: str, user_name: str | None) -> str:
        """The user named, else the calling user (the model leaves UserName optional for the
        root's own password, which is no login profile here)."""
        name = self._caller_user(call, user_name)
        if name == "":
            await self._require(call, action, arns.root(self._account))
            raise ValidationError(ROOT_PROFILE)
        return name

    async def create_login_profile(self, call: Call, *, user_name: str | None = None,
                                   password: str | None = None,
                                   password_reset_required: bool | None = None
                                   ) -> dict[str, Any]:
        name = await self._profile_owner(call, "CreateLoginProfile", user_name)
        user = await self._user_target(call, "CreateLoginProfile", name)
        if password is None:
            raise ValidationError("Password is required to create a login profile")
        await self._check_password(password, user.user_name,
                                   await self._store.get_password_policy())
        digest = await self._passwords().hash(password)
        stored = await self._store.create_login_profile(
            name, digest, reset_required=bool(password_reset_required))
        return {"login_profile": stored.public()}

    async def get_login_profile(self, call: Call, *, user_name: str | None = None
                                ) -> dict[str, Any]:
        name = self._caller_user(call, user_name)
        if name == "":  # the root's password is no login profile
            await self._require(call, "GetLoginProfile", arns.root(self._account))
            raise login_profile_missing("root")
        user = await self._user_target(call, "GetLoginProfile", name)
        profile = await self._store.get_login_profile(user.user_name)
        if profile is None:
            raise login_profile_missing(user.user_name)
        return {"login_profile": profile.public()}

    async def update_login_profile(self, call: Call, *, user_name: str,
                                   password: str | None = None,
                                   password_reset_required: bool | None = None) -> None:
        user = await self._user_target(call, "UpdateLoginProfile", user_name)
        profile = await self._store.get_login_profile(user.user_name)
        if profile is None:
            raise login_profile_missing(user.user_name)
        if password is None:
            await self._store.update_login_profile(user_name,
                                                   reset_required=password_reset_required)
            return
        policy = await self._store.get_password_policy()
        await self._check_password(password, user.user_name, policy)
        digest, keep = await self._new_hash(profile, password, policy)
        await self._store.update_login_profile(user_name, password_hash=digest,
                                               expect=profile.password_hash, keep=keep,
                                               reset_required=password_reset_required)

    async def delete_login_profile(self, call: Call, *, user_name: str | None = None) -> None:
        name = await self._profile_owner(call, "DeleteLoginProfile", user_name)
        await self._user_target(call, "DeleteLoginProfile", name)
        await self._store.delete_login_profile(name)

    async def change_password(self, call: Call, *, old_password: str, new_password: str) -> None:
        caller = call.caller
        if caller is None or caller.kind != "user" or not caller.name:
            raise InvalidUserType(NOT_A_USER, reason="change_password_not_a_user")
        policy = await self._store.get_password_policy()
        try:
            user = await self._user_target(call, "ChangePassword", caller.name)
        except AccessDenied as denied:
            if denied.reason != "implicit_deny" or policy is None \
                    or not policy.allow_users_to_change_password:
                raise
            found = await self._store.get_user(caller.name)
            if found is None:
                raise
            user = found
        profile = await self._store.get_login_profile(user.user_name)
        if profile is None:
            raise login_profile_missing(user.user_name)
        if not await self._store.password_attempt(user.user_id):
            raise LimitExceeded(TOO_MANY, reason="change_password_locked_out")
        if not await self._passwords().verify(profile.password_hash, old_password):
            raise AccessDenied(WRONG_OLD, reason="change_password_old_password_wrong")
        await self._store.password_attempt_succeeded(user.user_id)
        if policy is not None and policy.hard_expiry \
                and expired(policy, profile.password_last_changed, self._clock.time()):
            raise AccessDenied(HARD_EXPIRED, reason="change_password_hard_expired")
        await self._check_password(new_password, user.user_name, policy)
        digest, keep = await self._new_hash(profile, new_password, policy)
        await self._store.update_login_profile(user.user_name, password_hash=digest,
                                               expect=profile.password_hash, keep=keep,
                                               reset_required=False)

    # ---- the account password policy ----
    async def get_account_password_policy(self, call: Call) -> dict[str, Any]:
        await self._require(call, "GetAccountPasswordPolicy", "*")
        policy = await self._store.get_password_policy()
        if policy is None:
            raise NoSuchEntity("The Password Policy with domain name "
                               f"{self._account} cannot be found.")
        return {"password_policy": policy}

    async def update_account_password_policy(
            self, call: Call, *, minimum_password_length: int | None = None,
            require_symbols: bool | None = None, require_numbers: bool | None = None,
            require_uppercase_characters: bool | None = None,
            require_lowercase_characters: bool | None = None,
            allow_users_to_change_password: bool | None = None,
            max_password_age: int | None = None, password_reuse_prevention: int | None = None,
            hard_expiry: bool | None = None) -> None:
        """Every member not given reverts to its default (AWS: the policy is replaced)."""
        await self._require(call, "UpdateAccountPasswordPolicy", "*")
        await self._store.put_password_policy(PasswordPolicy(
            minimum_password_length=minimum_password_length or 6,
            require_symbols=bool(require_symbols), require_numbers=bool(require_numbers),
            require_uppercase_characters=bool(require_uppercase_characters),
            require_lowercase_characters=bool(require_lowercase_characters),
            allow_users_to_change_password=bool(allow_users_to_change_password),
            max_password_age=max_password_age or None,
            password_reuse_prevention=password_reuse_prevention or None,
            hard_expiry=hard_expiry))

    async def delete_account_password_policy(self, call: Call) -> None:
        await self._require(call, "DeleteAccountPasswordPolicy", "*")
        await self._store.delete_password_policy()

