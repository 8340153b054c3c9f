"""Login profiles, ChangePassword and the account password policy through unmodified boto3
against the real server and Redis."""
from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
import redis
from botocore.exceptions import ClientError

from .conftest import ACCOUNT, REDIS_URL, Server, aws_error, client, unique

GOOD = "Correct-Horse-9"  # all four classes, 15 characters
NO_POLICY = f"The Password Policy with domain name {ACCOUNT} cannot be found."


@pytest.fixture(autouse=True)
def no_policy(root_iam: Any) -> Iterator[None]:
    """Each test starts and ends without an account password policy (it is account-wide)."""
    try:
        root_iam.delete_account_password_policy()
    except ClientError:
        pass
    yield
    try:
        root_iam.delete_account_password_policy()
    except ClientError:
        pass


def new_user(iam: Any, password: str | None = GOOD, **kw: Any) -> str:
    name = unique("pwuser")
    iam.create_user(UserName=name)
    if password is not None:
        iam.create_login_profile(UserName=name, Password=password, **kw)
    return name


def user_client(server: Server, root_iam: Any, name: str, policy: str | None = None) -> Any:
    if policy is not None:
        root_iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=policy)
    key = root_iam.create_access_key(UserName=name)["AccessKey"]
    return client(server, "iam", key["AccessKeyId"], key["SecretAccessKey"])


def grant(actions: Any, effect: str = "Allow") -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": effect, "Action": actions, "Resource": "*"}]})


# ---- login profiles ----
def test_create_get_update_delete_login_profile(root_iam: Any) -> None:
    name = new_user(root_iam, None)
    out = root_iam.create_login_profile(UserName=name, Password=GOOD,
                                        PasswordResetRequired=True)["LoginProfile"]
    assert out["UserName"] == name and out["PasswordResetRequired"] is True
    assert isinstance(out["CreateDate"], datetime)
    assert "Password" not in out
    got = root_iam.get_login_profile(UserName=name)["LoginProfile"]
    assert got == out
    root_iam.update_login_profile(UserName=name, PasswordResetRequired=False)
    assert root_iam.get_login_profile(UserName=name)["LoginProfile"]["PasswordResetRequired"] is False
    root_iam.update_login_profile(UserName=name, Password="Another-Good-1")
    root_iam.delete_login_profile(UserName=name)
    with pytest.raises(ClientError) as exc:
        root_iam.get_login_profile(UserName=name)
    assert aws_error(exc) == ("NoSuchEntity", f"Login Profile for User {name} cannot be found.", 404)


def test_second_create_is_entity_already_exists(root_iam: Any) -> None:
    name = new_user(root_iam)
    with pytest.raises(ClientError) as exc:
        root_iam.create_login_profile(UserName=name, Password=GOOD)
    assert aws_error(exc)[0::2] == ("EntityAlreadyExists", 409)


@pytest.mark.parametrize("op", ["get_login_profile", "delete_login_profile",
                                "update_login_profile", "create_login_profile"])
def test_missing_user_or_profile_is_no_such_entity(root_iam: Any, op: str) -> None:
    kw = {"Password": GOOD} if op == "create_login_profile" else {}
    with pytest.raises(ClientError) as exc:
        getattr(root_iam, op)(UserName=unique("nobody"), **kw)
    assert aws_error(exc)[0::2] == ("NoSuchEntity", 404)
    if op == "create_login_profile":
        return
    name = new_user(root_iam, None)
    with pytest.raises(ClientError) as exc:
        getattr(root_iam, op)(UserName=name, **kw)
    assert aws_error(exc) == ("NoSuchEntity", f"Login Profile for User {name} cannot be found.", 404)


def test_delete_user_refused_while_login_profile_exists(root_iam: Any) -> None:
    name = new_user(root_iam)
    with pytest.raises(ClientError) as exc:
        root_iam.delete_user(UserName=name)
    assert aws_error(exc) == ("DeleteConflict", "Cannot delete entity, must delete login profile first.", 409)
    root_iam.delete_login_profile(UserName=name)
    root_iam.delete_user(UserName=name)


def test_rename_carries_the_login_profile(root_iam: Any) -> None:
    name = new_user(root_iam)
    renamed = unique("pwrenamed")
    root_iam.update_user(UserName=name, NewUserName=renamed)
    assert root_iam.get_login_profile(UserName=renamed)["LoginProfile"]["UserName"] == renamed


def test_login_profile_actions_are_authorized(server: Server, root_iam: Any) -> None:
    target = new_user(root_iam)
    caller = user_client(server, root_iam, new_user(root_iam, None), grant("iam:GetUser"))
    for op, kw in (("get_login_profile", {}), ("delete_login_profile", {}),
                   ("update_login_profile", {"PasswordResetRequired": True})):
        with pytest.raises(ClientError) as exc:
            getattr(caller, op)(UserName=target, **kw)
        assert aws_error(exc)[0] == "AccessDenied"


# ---- the default policy and the account password policy ----
@pytest.mark.parametrize("password", ["Short-1", "alllowercase1", "NoDigitsOrSymbols"])
def test_default_policy_applies_without_an_account_policy(root_iam: Any, password: str) -> None:
    name = new_user(root_iam, None)
    with pytest.raises(ClientError) as exc:
        root_iam.create_login_profile(UserName=name, Password=password)
    code, text, status = aws_error(exc)
    assert (code, status) == ("PasswordPolicyViolation", 400)
    assert text.startswith("Password does not conform to the account password policy.")


def test_account_password_policy_round_trip(root_iam: Any) -> None:
    with pytest.raises(ClientError) as exc:
        root_iam.get_account_password_policy()
    assert aws_error(exc) == ("NoSuchEntity", NO_POLICY, 404)
    root_iam.update_account_password_policy()
    assert root_iam.get_account_password_policy()["PasswordPolicy"] == {
        "MinimumPasswordLength": 6, "RequireSymbols": False, "RequireNumbers": False,
        "RequireUppercaseCharacters": False, "RequireLowercaseCharacters": False,
        "AllowUsersToChangePassword": False, "ExpirePasswords": False}
    root_iam.update_account_password_policy(
        MinimumPasswordLength=12, RequireSymbols=True, RequireNumbers=True,
        RequireUppercaseCharacters=True, RequireLowercaseCharacters=True,
        AllowUsersToChangePassword=True, MaxPasswordAge=90, PasswordReusePrevention=5,
        HardExpiry=True)
    assert root_iam.get_account_password_policy()["PasswordPolicy"] == {
        "MinimumPasswordLength": 12, "RequireSymbols": True, "RequireNumbers": True,
        "RequireUppercaseCharacters": True, "RequireLowercaseCharacters": True,
        "AllowUsersToChangePassword": True, "ExpirePasswords": True, "MaxPasswordAge": 90,
        "PasswordReusePrevention": 5, "HardExpiry": True}
    root_iam.update_account_password_policy(MinimumPasswordLength=8)  # replaced whole
    assert root_iam.get_account_password_policy()["PasswordPolicy"]["RequireSymbols"] is False
    root_iam.delete_account_password_policy()
    with pytest.raises(ClientError) as exc:
        root_iam.delete_account_password_policy()
    assert aws_error(exc) == ("NoSuchEntity", NO_POLICY, 404)


@pytest.mark.parametrize("member,value", [("MinimumPasswordLength", 5),
                                          ("MinimumPasswordLength", 129),
                                          ("MaxPasswordAge", 0), ("MaxPasswordAge", 1096),
                                          ("PasswordReusePrevention", 0),
                                          ("PasswordReusePrevention", 25)])
def test_policy_bounds_are_validated(unchecked_iam: Any, member: str, value: int) -> None:
    with pytest.raises(ClientError) as exc:
        unchecked_iam.update_account_password_policy(**{member: value})
    assert aws_error(exc)[0] == "ValidationError"


@pytest.mark.parametrize("policy,bad,good", [
    ({"MinimumPasswordLength": 10}, "abcdefghi", "abcdefghij"),
    ({"RequireSymbols": True}, "abcdefgh1A", "abcdefgh'"),
    ({"RequireNumbers": True}, "abcdefgh", "abcdefg7"),
    ({"RequireUppercaseCharacters": True}, "abcdefgh", "abcdefgH"),
    ({"RequireLowercaseCharacters": True}, "ABCDEFGH", "ABCDEFGh"),
], ids=["length", "symbols", "numbers", "uppercase", "lowercase"])
def test_policy_rules_one_by_one(root_iam: Any, policy: dict[str, Any], bad: str,
                                 good: str) -> None:
    root_iam.update_account_password_policy(**policy)
    name = new_user(root_iam, None)
    with pytest.raises(ClientError) as exc:
        root_iam.create_login_profile(UserName=name, Password=bad)
    assert aws_error(exc)[0::2] == ("PasswordPolicyViolation", 400)
    with pytest.raises(ClientError) as exc:  # UpdateLoginProfile applies the policy too
        root_iam.create_login_profile(UserName=name, Password=good)
        root_iam.update_login_profile(UserName=name, Password=bad)
    assert aws_error(exc)[0] == "PasswordPolicyViolation"


# ---- ChangePassword ----
def test_change_password_by_the_user_with_their_keys(server: Server, root_iam: Any) -> None:
    name = new_user(root_iam, PasswordResetRequired=True)
    me = user_client(server, root_iam, name, grant("iam:ChangePassword"))
    with pytest.raises(ClientError) as exc:
        me.change_password(OldPassword="Not-The-Old-1", NewPassword="Brand-New-Pass-2")
    assert aws_error(exc)[0::2] == ("AccessDenied", 403)
    me.change_password(OldPassword=GOOD, NewPassword="Brand-New-Pass-2")
    assert root_iam.get_login_profile(UserName=name)["LoginProfile"]["PasswordResetRequired"] is False
    me.change_password(OldPassword="Brand-New-Pass-2", NewPassword=GOOD)  # no reuse policy


def test_change_password_needs_a_grant_unless_the_policy_allows_users(
        server: Server, root_iam: Any) -> None:
    name = new_user(root_iam)
    me = user_client(server, root_iam, name, grant("iam:GetUser"))
    with pytest.raises(ClientError) as exc:
        me.change_password(OldPassword=GOOD, NewPassword="Brand-New-Pass-2")
    assert aws_error(exc)[0] == "AccessDenied"
    root_iam.update_account_password_policy(AllowUsersToChangePassword=True)
    me.change_password(OldPassword=GOOD, NewPassword="Brand-New-Pass-2")
    root_iam.put_user_policy(UserName=name, PolicyName="deny",
                             PolicyDocument=grant("iam:ChangePassword", "Deny"))
    with pytest.raises(ClientError) as exc:  # an explicit deny still denies
        me.change_password(OldPassword="Brand-New-Pass-2", NewPassword="Brand-New-Pass-3")
    assert aws_error(exc)[0] == "AccessDenied"


def test_change_password_refuses_root_and_users_without_profile(
        server: Server, root_iam: Any) -> None:
    with pytest.raises(ClientError) as exc:
        root_iam.change_password(OldPassword=GOOD, NewPassword="Brand-New-Pass-2")
    assert aws_error(exc)[0] == "InvalidUserType"
    name = new_user(root_iam, None)
    me = user_client(server, root_iam, name, grant("iam:ChangePassword"))
    with pytest.raises(ClientError) as exc:
        me.change_password(OldPassword=GOOD, NewPassword="Brand-New-Pass-2")
    assert aws_error(exc) == ("NoSuchEntity", f"Login Profile for User {name} cannot be found.", 404)


def test_change_password_applies_the_policy(server: Server, root_iam: Any) -> None:
    root_iam.update_account_password_policy(MinimumPasswordLength=20,
                                            AllowUsersToChangePassword=True)
    name = new_user(root_iam, "twenty-characters-ok")
    me = user_client(server, root_iam, name)
    with pytest.raises(ClientError) as exc:
        me.change_password(OldPassword="twenty-characters-ok", NewPassword="too-short")
    assert aws_error(exc)[0] == "PasswordPolicyViolation"


def test_reuse_prevention(server: Server, root_iam: Any) -> None:
    root_iam.update_account_password_policy(PasswordReusePrevention=2,
                                            AllowUsersToChangePassword=True)
    name = new_user(root_iam, "first-password")
    me = user_client(server, root_iam, name)
    with pytest.raises(ClientError) as exc:  # the current one counts
        me.change_password(OldPassword="first-password", NewPassword="first-password")
    assert aws_error(exc) == ("PasswordPolicyViolation", "Policy constraint violation with "
                              "password reuse prevention during password change.", 400)
    me.change_password(OldPassword="first-password", NewPassword="second-password")
    with pytest.raises(ClientError) as exc:  # one of the last two
        me.change_password(OldPassword="second-password", NewPassword="first-password")
    assert aws_error(exc)[0] == "PasswordPolicyViolation"
    with pytest.raises(ClientError):  # an administrator's reset is held to it as well
        root_iam.update_login_profile(UserName=name, Password="first-password")
    me.change_password(OldPassword="second-password", NewPassword="third-password")
    me.change_password(OldPassword="third-password", NewPassword="first-password")  # 3 back


def test_failed_old_password_checks_lock_the_user_out(server: Server, root_iam: Any) -> None:
    name = new_user(root_iam)
    me = user_client(server, root_iam, name, grant("iam:ChangePassword"))
    for _ in range(5):
        with pytest.raises(ClientError) as exc:
            me.change_password(OldPassword="wrong-guess-1A", NewPassword="Brand-New-Pass-2")
        assert aws_error(exc)[0] == "AccessDenied"
    with pytest.raises(ClientError) as exc:  # the right one too, until the window ends
        me.change_password(OldPassword=GOOD, NewPassword="Brand-New-Pass-2")
    assert aws_error(exc)[0::2] == ("LimitExceeded", 409)


# ---- secrecy ----
def test_password_never_in_redis_or_the_log(server: Server, root_iam: Any) -> None:
    secret = "Unmistakable-Plaintext-4711"
    newer = "Another-Unmistakable-0815"
    name = new_user(root_iam, secret)
    me = user_client(server, root_iam, name, grant("iam:ChangePassword"))
    me.change_password(OldPassword=secret, NewPassword=newer)
    root_iam.update_login_profile(UserName=name, Password=secret + "x")
    r = redis.Redis.from_url(REDIS_URL)
    for key in r.scan_iter(count=1000):
        assert secret.encode() not in key and newer.encode() not in key
        kind = r.type(key)
        values: list[bytes] = []
        if kind == b"string":
            values = [r.get(key) or b""]
        elif kind == b"hash":
            values = [*r.hgetall(key).values()]
        elif kind in (b"set",):
            values = list(r.smembers(key))
        elif kind == b"zset":
            values = list(r.zrange(key, 0, -1))
        elif kind == b"list":
            values = list(r.lrange(key, 0, -1))
        for v in values:
            assert secret.encode() not in v and newer.encode() not in v, key
    stored = r.hgetall(f"{{iam:{ACCOUNT}}}:user:{name.lower()}:login".encode())
    assert stored[b"h"].startswith(b"$argon2id$")
    log = server.log()
    assert secret not in log and newer not in log


def test_user_name_defaults_to_the_calling_user(server: Server, root_iam: Any) -> None:
    name = new_user(root_iam)
    me = user_client(server, root_iam, name, grant(["iam:GetLoginProfile"]))
    assert me.get_login_profile()["LoginProfile"]["UserName"] == name
    for op in ("create_login_profile", "delete_login_profile"):  # the root's password: no
        with pytest.raises(ClientError) as exc:
            getattr(root_iam, op)()
        assert aws_error(exc)[0] == "ValidationError"
    with pytest.raises(ClientError) as exc:
        root_iam.create_login_profile(UserName=new_user(root_iam, None))
    assert aws_error(exc)[0] == "ValidationError"
