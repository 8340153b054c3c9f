"""Login-profile passwords and the account password policy: the records and the rules.

Pure: the rules of a policy (or of AWS's default policy when the account has none) checked
against a candidate password. Hashing lives above (app.services.passwords): this module
never sees a hash.

AWS's default password policy, used while the account has none: at least 8 characters
(at most 128), at least three of the four character classes (uppercase, lowercase, numbers,
symbols), and not identical to the account's name or e-mail address (here: the account id and
the user's name). A custom policy replaces it entirely.

Whatever the policy, a password is at most 128 characters of the API models' `passwordType`
(tab, line feed, carriage return, U+0020 to U+00FF). The Query API's codec refuses others before
a service sees them; `violation` refuses them too, for the paths that do not come through it
(the browser's forced password change, app.services.sso_password).
"""
from __future__ import annotations

from dataclasses import dataclass

# AWS's symbol set (the IAM user guide's "non-alphanumeric characters")
SYMBOLS = frozenset("!@#$%^&*()_+-=[]{}|'")
VIOLATION = "Password does not conform to the account password policy."
REUSED = "Policy constraint violation with password reuse prevention during password change."
MIN_LENGTH_DEFAULT = 6  # UpdateAccountPasswordPolicy without MinimumPasswordLength
DEFAULT_POLICY_MIN_LENGTH = 8
MAX_LENGTH = 128
ALLOWED = frozenset("\t\n\r" + "".join(map(chr, range(0x20, 0x100))))  # the models' passwordType
DAY = 86400


@dataclass(frozen=True, slots=True)
class LoginProfile:
    """`LoginProfile` as GetLoginProfile shows it (never a password or a hash)."""

    user_name: str
    create_date: float
    password_reset_required: bool


@dataclass(frozen=True, slots=True)
class StoredLoginProfile:
    """A login profile as stored: the current argon2id hash, the hashes of earlier passwords
    (newest first, for PasswordReusePrevention) and the dates a credential report reads
    (`password_last_used`: the last browser sign-in with the password, None when never)."""

    user_name: str
    password_hash: str
    previous_hashes: tuple[str, ...]
    password_created: float
    password_last_changed: float
    password_reset_required: bool
    password_last_used: float | None = None

    def public(self) -> LoginProfile:
        return LoginProfile(self.user_name, self.password_created, self.password_reset_required)


@dataclass(frozen=True, slots=True)
class PasswordPolicy:
    """The account password policy, as GetAccountPasswordPolicy shows it (`ExpirePasswords`
    derives from MaxPasswordAge; members not set are None and left out)."""

    minimum_password_length: int = MIN_LENGTH_DEFAULT
    require_symbols: bool = False
    require_numbers: bool = False
    require_uppercase_characters: bool = False
    require_lowercase_characters: bool = False
    allow_users_to_change_password: bool = False
    max_password_age: int | None = None
    password_reuse_prevention: int | None = None
    hard_expiry: bool | None = None

    @property
    def expire_passwords(self) -> bool:
        return bool(self.max_password_age)


def _classes(password: str) -> dict[str, bool]:
    return {"uppercase": any("A" <= c <= "Z" for c in password),
            "lowercase": any("a" <= c <= "z" for c in password),
            "number": any("0" <= c <= "9" for c in password),
            "symbol": any(c in SYMBOLS for c in password)}


def violation(policy: PasswordPolicy | None, password: str, *,
              forbidden: tuple[str, ...] = ()) -> str | None:
    """What is wrong with `password` under `policy` (None: AWS's default policy), or None.
    `forbidden`: names it must not equal under the default policy (account id, user name)."""
    have = _classes(password)
    if len(password) > MAX_LENGTH:
        return f"Password should have a maximum length of {MAX_LENGTH}"
    if not ALLOWED.issuperset(password):
        return "Password should have only tab, line feed, carriage return and characters U+0020 to U+00FF"
    if policy is None:
        if len(password) < DEFAULT_POLICY_MIN_LENGTH:
            return f"Password should have a minimum length of {DEFAULT_POLICY_MIN_LENGTH}"
        if sum(have.values()) < 3:
            return ("Password should have at least three of: uppercase letters, lowercase "
                    "letters, numbers, symbols")
        if any(password.lower() == f.lower() for f in forbidden if f):
            return "Password should not be the account's or the user's name"
        return None
    if len(password) < policy.minimum_password_length:
        return f"Password should have a minimum length of {policy.minimum_password_length}"
    for wanted, cls, noun in ((policy.require_uppercase_characters, "uppercase",
                               "uppercase letter"),
                              (policy.require_lowercase_characters, "lowercase",
                               "lowercase letter"),
                              (policy.require_numbers, "number", "number"),
                              (policy.require_symbols, "symbol", "symbol")):
        if wanted and not have[cls]:
            return f"Password should have at least one {noun}"
    return None


def expired(policy: PasswordPolicy | None, last_changed: float, now: float) -> bool:
    """Whether a password changed at `last_changed` is past the policy's MaxPasswordAge."""
    age = policy.max_password_age if policy else None
    return bool(age) and now >= last_changed + (age or 0) * DAY
