"""Redis restarts under the running service (`tessera serve`), driven by unmodified boto3 that
tries every call once: the first request of each kind after Redis answers again succeeds, with
and without persistence; while Redis is down each answers 503 and issues nothing; the
configured root key works again whenever the store lost its data."""
from __future__ import annotations

import json
import shutil
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from typing import Any

import pytest
import redis as redis_lib
from botocore.exceptions import ClientError

from app.core import totp

from .conftest import ACCOUNT, ROOT_AKID, ROOT_SECRET, Server, allow, client, running_server, trust, unique
from .redis_process import RedisProcess
from .test_sts_mfa import enable_device

pytestmark = pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs the redis-server binary")
ONCE = {"total_max_attempts": 1}  # botocore must not hide a 503 behind a retry


def once(server: Server, service: str, akid: str, secret: str, token: str | None = None) -> Any:
    return client(server, service, akid, secret, token, retries=ONCE)


def error_of(call: Callable[[], Any]) -> tuple[str, int]:
    with pytest.raises(ClientError) as exc:
        call()
    return exc.value.response["Error"]["Code"], exc.value.response["ResponseMetadata"]["HTTPStatusCode"]


def snapshot(r: redis_lib.Redis) -> list[tuple[bytes, int, bytes]]:
    return [(key, max(r.pttl(key), 0), r.dump(key)) for key in r.scan_iter()]  # type: ignore[misc]


def restore(r: redis_lib.Redis, keys: list[tuple[bytes, int, bytes]]) -> None:
    for key, ttl, value in keys:
        r.restore(key, ttl, value, replace=True)


@pytest.fixture
def served(tmp_path: Any, request: pytest.FixtureRequest) -> Iterator[tuple[RedisProcess, Server]]:
    with (closing(RedisProcess(str(tmp_path / "redis"), persistent=request.param)) as redis_proc,
          running_server(str(tmp_path), redis_url=redis_proc.url) as srv):
        yield redis_proc, srv


class Requests:
    """One request of each kind, each going through a different store path."""

    def __init__(self, srv: Server) -> None:
        root_iam = once(srv, "iam", ROOT_AKID, ROOT_SECRET)
        name = unique("user")
        arn = root_iam.create_user(UserName=name)["User"]["Arn"]
        root_iam.put_user_policy(UserName=name, PolicyName="p",
                                 PolicyDocument=allow(["sts:*", "iam:ListAccessKeys"]))
        key = root_iam.create_access_key(UserName=name)["AccessKey"]
        self.key_id = key["AccessKeyId"]
        self.role_arn = root_iam.create_role(RoleName=unique("role"),
                                             AssumeRolePolicyDocument=trust({"AWS": arn}))["Role"]["Arn"]
        self.serial, self.seed = enable_device(root_iam, name)
        self.last_step = totp.step_of(time.time()) - 1  # enabling used the two steps before now
        self.root_iam = root_iam
        self.iam = once(srv, "iam", key["AccessKeyId"], key["SecretAccessKey"])
        self.sts = once(srv, "sts", key["AccessKeyId"], key["SecretAccessKey"])
        creds = self.sts.get_session_token()["Credentials"]
        self.session = once(srv, "sts", creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
        self.user_arn = arn

    def kinds(self) -> dict[str, Callable[[], bool]]:
        return {
            "session lookup (hot path)": lambda: self.session.get_caller_identity()["Arn"] == self.user_arn,
            "IAM read (the pool)": lambda: [k["AccessKeyId"] for k in self.iam.list_access_keys()[
                "AccessKeyMetadata"]] == [self.key_id],
            "IAM transaction (the pool)": lambda: self.root_iam.create_user(UserName=unique("new"))["User"][
                "Arn"].startswith(f"arn:aws:iam::{ACCOUNT}:user/"),
            "MFA check (attempt counter)": self.mfa_check,
            "AssumeRole": lambda: self.sts.assume_role(RoleArn=self.role_arn, RoleSessionName="after-restart")[
                "Credentials"]["AccessKeyId"].startswith("ASIA"),
        }

    def mfa_check(self) -> bool:
        # a code never used with the device: the current step's, or the next one (accepted too)
        step = max(totp.step_of(time.time()), self.last_step + 1)
        creds = self.sts.get_session_token(SerialNumber=self.serial, TokenCode=totp.code_at(self.seed, step))
        self.last_step = step
        return bool(creds["Credentials"]["AccessKeyId"].startswith("ASIA"))


@pytest.mark.parametrize("served", [True, False], ids=["append-only-file", "no-persistence"], indirect=True)
def test_each_kind_of_request_succeeds_once_a_restarted_redis_answers(served) -> None:
    """Redis restarts before each request: every path meets connections to the Redis that is
    gone. Without persistence Redis comes back empty, and the test puts the data back itself
    (as a promoted replica would have it) before the service sees the new Redis."""
    redis_proc, srv = served
    # one set of identities per phase: an MFA device takes a code of each step only once
    clean, crash, outage = Requests(srv), Requests(srv), Requests(srv)
    data = None if redis_proc.persistent else snapshot(redis_proc.client())

    def start() -> None:
        redis_proc.start()
        if data is not None:
            restore(redis_proc.client(), data)

    for requests, sig in ((clean, signal.SIGTERM), (crash, signal.SIGKILL)):
        for kind, request in requests.kinds().items():
            redis_proc.stop(sig)
            start()
            assert request(), f"{kind} after {signal.Signals(sig).name}"

    # while Redis is down every kind answers 503 (and issues nothing), then works at once again
    redis_proc.stop()
    for kind, request in outage.kinds().items():
        assert error_of(request) == ("ServiceUnavailable", 503), kind
    start()
    for kind, request in outage.kinds().items():
        assert request(), kind


def _lost_events(srv: Server, expected: int) -> list[dict[str, Any]]:
    """The `store.bootstrap.lost` lines of the server's log, once `expected` were written (the
    log is written at the end of the event-loop iteration, maybe after the response)."""
    deadline = time.time() + 10
    while True:
        events = [json.loads(line) for line in srv.log().splitlines() if '"store.bootstrap.lost"' in line]
        if len(events) >= expected or time.time() > deadline:
            return events
        time.sleep(0.05)


@pytest.mark.parametrize("served", [False], ids=["no-persistence"], indirect=True)
def test_the_configured_root_key_works_whenever_the_store_answers(served) -> None:
    redis_proc, srv = served
    root_iam = once(srv, "iam", ROOT_AKID, ROOT_SECRET)
    root_sts = once(srv, "sts", ROOT_AKID, ROOT_SECRET)
    second = root_iam.create_access_key()["AccessKey"]  # a second root key, to manage the first
    admin = once(srv, "iam", second["AccessKeyId"], second["SecretAccessKey"])

    # deactivated, then deleted through the API: refused for as long as the store keeps its data
    admin.update_access_key(AccessKeyId=ROOT_AKID, Status="Inactive")
    assert error_of(root_sts.get_caller_identity) == ("InvalidClientTokenId", 403)
    admin.delete_access_key(AccessKeyId=ROOT_AKID)
    assert error_of(root_sts.get_caller_identity) == ("InvalidClientTokenId", 403)
    assert error_of(root_iam.list_users) == ("InvalidClientTokenId", 403)

    # the store loses the account's data (flushed): the configured key works again at once
    redis_proc.client().flushall()
    assert root_sts.get_caller_identity()["Arn"] == f"arn:aws:iam::{ACCOUNT}:root"
    assert error_of(admin.list_users) == ("InvalidClientTokenId", 403)  # gone with the data
    assert [k["AccessKeyId"] for k in root_iam.list_access_keys()["AccessKeyMetadata"]] == [ROOT_AKID]
    assert len(_lost_events(srv, 1)) == 1

    # lost again: Redis restarts without persistence
    redis_proc.restart(signal.SIGKILL)
    assert [k["AccessKeyId"] for k in root_iam.list_access_keys()["AccessKeyMetadata"]] == [ROOT_AKID]
    assert root_iam.create_user(UserName=unique("after"))["User"]["UserName"].startswith("after")
    assert root_sts.get_caller_identity()["Account"] == ACCOUNT
    events = _lost_events(srv, 2)
    assert len(events) == 2 and all(e["level"] == "warning" for e in events)  # once per loss
    assert ROOT_SECRET not in srv.log()
