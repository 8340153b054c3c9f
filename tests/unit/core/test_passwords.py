"""The password rules, one by one: AWS's default policy (no account policy) and each member of
an account policy. Each case: (note, policy members or None for the default, password,
whether it is accepted)."""
from __future__ import annotations

from typing import Any

import pytest

from app.core.passwords import SYMBOLS, PasswordPolicy, expired, violation

CASES: list[tuple[str, dict[str, Any] | None, str, bool]] = [
    ("default: 8 characters, three classes", None, "abcdEF12", True),
    ("default: 7 characters are too few", None, "abcDE12", False),
    ("default: two classes are too few", None, "abcdefgh12", False),
    ("default: lower, upper, symbol are three", None, "abcdEFG!", True),
    ("default: the user's name is refused", None, "Pw-User-1", False),
    ("default: 129 characters are too many", None, "aA1!" * 32 + "a", False),
    ("policy: default minimum 6", {}, "abcdef", True),
    ("policy: 5 under the default minimum 6", {}, "abcde", False),
    ("policy: a custom policy replaces the default's classes", {}, "abcdefgh", True),
    ("length 10: 9 refused", {"minimum_password_length": 10}, "abcdefghi", False),
    ("length 10: 10 accepted", {"minimum_password_length": 10}, "abcdefghij", True),
    ("symbols: none refused", {"require_symbols": True}, "abcdefG1", False),
    ("symbols: a quote counts", {"require_symbols": True}, "abcdefg'", True),
    ("symbols: a tilde is no AWS symbol", {"require_symbols": True}, "abcdefg~", False),
    ("numbers: none refused", {"require_numbers": True}, "abcdefG!", False),
    ("numbers: one accepted", {"require_numbers": True}, "abcdef1", True),
    ("uppercase: none refused", {"require_uppercase_characters": True}, "abcdef1!", False),
    ("uppercase: one accepted", {"require_uppercase_characters": True}, "abcdeF", True),
    ("lowercase: none refused", {"require_lowercase_characters": True}, "ABCDEF1!", False),
    ("lowercase: one accepted", {"require_lowercase_characters": True}, "ABCDEf", True),
    ("lowercase: a non-ASCII letter does not count", {"require_lowercase_characters": True},
     "ABCDEé", False),
    ("all four: accepted", {"require_symbols": True, "require_numbers": True,
                            "require_uppercase_characters": True,
                            "require_lowercase_characters": True}, "aB3$xx", True),
]


@pytest.mark.parametrize("note,members,password,ok", CASES, ids=[c[0] for c in CASES])
def test_rule(note: str, members: dict[str, Any] | None, password: str, ok: bool) -> None:
    policy = None if members is None else PasswordPolicy(**members)
    problem = violation(policy, password, forbidden=("123456789012", "pw-user-1"))
    assert (problem is None) == ok, (note, problem)


def test_symbol_set_is_awss() -> None:
    assert SYMBOLS == set("!@#$%^&*()_+-=[]{}|'")


def test_expire_passwords_follows_max_age() -> None:
    assert PasswordPolicy().expire_passwords is False
    assert PasswordPolicy(max_password_age=90).expire_passwords is True


@pytest.mark.parametrize("age,changed_days_ago,out", [
    (None, 5000, False), (90, 89, False), (90, 90, True), (1, 2, True)])
def test_expired(age: int | None, changed_days_ago: int, out: bool) -> None:
    now = 1_700_000_000.0
    policy = PasswordPolicy(max_password_age=age)
    assert expired(policy, now - changed_days_ago * 86400, now) is out
    assert expired(None, 0.0, now) is False
