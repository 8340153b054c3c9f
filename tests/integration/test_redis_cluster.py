"""`tessera serve` on a real Redis Cluster (three primaries, three replicas, tests.redis_cluster),
driven by unmodified boto3: the acceptance-style calls work (IAM changes, AssumeRole, session
use, MFA), sessions spread over every primary, and with TESSERA_REDIS_WAIT_REPLICAS=1 a primary
killed with SIGKILL in the middle of a bounded load loses nothing that was returned: every
credential handed out before, during and after the failover still works, every refused call was
a 503 (never a 500), and the same Tessera process serves again without a restart."""
from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from botocore.exceptions import ClientError

from app.core import totp
from tests.redis_cluster import RedisCluster

from .conftest import ROOT_AKID, ROOT_SECRET, Server, allow, client, start_server, stop_server, trust, unique

ACCOUNT_TAG = "{iam:123456789012}"


@pytest.fixture(scope="module")
def cluster() -> Iterator[RedisCluster]:
    with RedisCluster.start() as running:
        yield running


@pytest.fixture(scope="module")
def tessera(cluster: RedisCluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = start_server(str(tmp_path_factory.mktemp("cluster")), redis_url=cluster.url)
    yield server
    stop_server(server)


def _session_keys_per_primary(cluster: RedisCluster) -> dict[int, int]:
    counts = {}
    for port, _ in cluster.primaries():
        node = redis.Redis(host="127.0.0.1", port=port, decode_responses=True)
        counts[port] = sum(1 for _ in node.scan_iter(match="sess:*", count=1000))
    return counts


def test_acceptance_calls_on_a_cluster(cluster: RedisCluster, tessera: Server) -> None:
    iam = client(tessera, "iam", ROOT_AKID, ROOT_SECRET)
    # IAM changes: a user in a group with a managed policy, an inline policy, a key
    name, group = unique("cu"), unique("cg")
    user = iam.create_user(UserName=name)["User"]
    iam.create_group(GroupName=group)
    iam.add_user_to_group(GroupName=group, UserName=name)
    policy = iam.create_policy(PolicyName=unique("cp"), PolicyDocument=allow("sts:AssumeRole"))["Policy"]
    iam.attach_group_policy(GroupName=group, PolicyArn=policy["Arn"])
    iam.put_user_policy(UserName=name, PolicyName="self", PolicyDocument=allow("iam:GetUser"))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    assert [g["GroupName"] for g in iam.list_groups_for_user(UserName=name)["Groups"]] == [group]
    me = client(tessera, "iam", key["AccessKeyId"], key["SecretAccessKey"])
    assert me.get_user(UserName=name)["User"]["Arn"] == user["Arn"]
    with pytest.raises(ClientError) as denied:
        me.list_users()
    assert denied.value.response["Error"]["Code"] == "AccessDenied"

    # AssumeRole through the group's policy, and the session used
    role = iam.create_role(RoleName=unique("cr"), AssumeRolePolicyDocument=trust({"AWS": user["Arn"]}))["Role"]
    sts = client(tessera, "sts", key["AccessKeyId"], key["SecretAccessKey"])
    out = sts.assume_role(RoleArn=role["Arn"], RoleSessionName="on-cluster")["Credentials"]
    session = client(tessera, "sts", out["AccessKeyId"], out["SecretAccessKey"], out["SessionToken"])
    assert session.get_caller_identity()["Arn"].endswith(f":assumed-role/{role['RoleName']}/on-cluster")

    # an IAM change applies on the very next request: without its inline policy, GetUser is denied
    iam.delete_user_policy(UserName=name, PolicyName="self")
    with pytest.raises(ClientError) as refused:
        me.get_user(UserName=name)
    assert refused.value.response["Error"]["Code"] == "AccessDenied"

    # MFA: a virtual device enabled, then required by the role's trust
    device = iam.create_virtual_mfa_device(VirtualMFADeviceName=unique("cphone"))["VirtualMFADevice"]
    seed, step = device["Base32StringSeed"].decode(), totp.step_of(time.time())
    iam.enable_mfa_device(UserName=name, SerialNumber=device["SerialNumber"],
                          AuthenticationCode1=totp.code_at(seed, step - 2),
                          AuthenticationCode2=totp.code_at(seed, step - 1))
    mfa_role = iam.create_role(RoleName=unique("cmr"), AssumeRolePolicyDocument=trust(
        {"AWS": user["Arn"]}, condition={"Bool": {"aws:MultiFactorAuthPresent": "true"}}))["Role"]
    with pytest.raises(ClientError):
        sts.assume_role(RoleArn=mfa_role["Arn"], RoleSessionName="no-mfa")
    with_mfa = sts.assume_role(RoleArn=mfa_role["Arn"], RoleSessionName="with-mfa",
                               SerialNumber=device["SerialNumber"],
                               TokenCode=totp.code_at(seed, totp.step_of(time.time())))["Credentials"]
    assert client(tessera, "sts", with_mfa["AccessKeyId"], with_mfa["SecretAccessKey"],
                  with_mfa["SessionToken"]).get_caller_identity()["Arn"].endswith("/with-mfa")

    # sessions spread over all three primaries (no hash tag on `sess:AKID`)
    for i in range(24):
        sts.assume_role(RoleArn=role["Arn"], RoleSessionName=f"spread-{i}")
    counts = _session_keys_per_primary(cluster)
    assert len(counts) == 3 and all(n > 0 for n in counts.values()), counts
    # every IAM key of the account lives on one primary (one hash tag)
    owner = cluster.primary_for(ACCOUNT_TAG)
    iam_keys = redis.Redis(host="127.0.0.1", port=owner, decode_responses=True).scan_iter(
        match=f"{ACCOUNT_TAG}:*", count=1000)
    assert sum(1 for _ in iam_keys) > 10


class Load:
    """A bounded load loop (AssumeRole and CreateAccessKey) in two threads; records every
    credential returned and the status of every refusal."""

    def __init__(self, server: Server, role_arn: str, caller: dict[str, str], users: list[str]) -> None:
        self.server, self.role_arn, self.users = server, role_arn, users
        self.sts = client(server, "sts", caller["AccessKeyId"], caller["SecretAccessKey"])
        self.iam = client(server, "iam", ROOT_AKID, ROOT_SECRET)
        self.sessions: list[dict[str, Any]] = []
        self.keys: list[dict[str, Any]] = []
        self.failures: list[int | str] = []
        self.stop = threading.Event()
        self.calls = 0
        self._lock = threading.Lock()

    def run(self, which: str, limit: int) -> None:
        i = 0
        while not self.stop.is_set() and i < limit:
            i += 1
            try:
                if which == "sts":
                    got = self.sts.assume_role(RoleArn=self.role_arn, RoleSessionName=f"load-{i}")["Credentials"]
                    with self._lock:
                        self.sessions.append(got)
                else:
                    user = self.users[i - 1]  # one attempt per user: a 503 may have made a key
                    made = self.iam.create_access_key(UserName=user)["AccessKey"]
                    with self._lock:
                        self.keys.append(made)
                time.sleep(0.02)  # a steady load, not a flood: the bound is the stop event
            except ClientError as exc:
                with self._lock:
                    self.failures.append(int(exc.response["ResponseMetadata"]["HTTPStatusCode"]))
                time.sleep(0.2)
            except Exception as exc:  # noqa: BLE001 - anything but an AWS error is a failure of its own
                with self._lock:
                    self.failures.append(type(exc).__name__)
                time.sleep(0.2)
            with self._lock:
                self.calls += 1

    def counts(self) -> tuple[int, int, int]:
        with self._lock:
            return len(self.sessions), len(self.keys), len(self.failures)


def test_failover_under_load_loses_no_returned_credential(cluster: RedisCluster, tessera: Server,
                                                          tmp_path_factory: pytest.TempPathFactory) -> None:
    durable = start_server(str(tmp_path_factory.mktemp("durable")), redis_url=cluster.url,
                           extra_env={"TESSERA_REDIS_WAIT_REPLICAS": "1", "TESSERA_REDIS_WAIT_TIMEOUT_MS": "500"})
    try:
        iam = client(durable, "iam", ROOT_AKID, ROOT_SECRET)
        caller_name = unique("lc")
        caller = iam.create_user(UserName=caller_name)["User"]
        iam.put_user_policy(UserName=caller_name, PolicyName="p", PolicyDocument=allow("sts:AssumeRole"))
        caller_key = iam.create_access_key(UserName=caller_name)["AccessKey"]
        role = iam.create_role(RoleName=unique("lr"), AssumeRolePolicyDocument=trust({"AWS": caller["Arn"]}))["Role"]
        users = [iam.create_user(UserName=unique("lk"))["User"]["UserName"] for _ in range(150)]

        load = Load(durable, role["Arn"], caller_key, users)
        threads = [threading.Thread(target=load.run, args=(which, limit)) for which, limit in (("sts", 2000),
                                                                                              ("iam", len(users)))]
        for t in threads:
            t.start()
        try:
            _wait(lambda: load.counts()[0] >= 5 and load.counts()[1] >= 3, 30, "load before the kill")
            victim = cluster.primary_for(ACCOUNT_TAG)  # IAM state and a third of the sessions
            before = load.counts()
            cluster.kill(victim)
            cluster.wait_failover(victim)
            # the shard's replica is its primary now, without a replica of its own: WAIT=1 holds
            # its durable writes back (503) until the old primary rejoins as its replica
            cluster.restart(victim)
            during = load.counts()
            _wait(lambda: load.counts()[0] >= during[0] + 5 and load.counts()[1] >= during[1] + 3, 30,
                  "load after the failover")
        finally:
            load.stop.set()
            for t in threads:
                t.join(30)
        after = load.counts()
        assert after[0] > before[0] and after[1] > before[1]
        assert all(f == 503 for f in load.failures), load.failures  # refusals only, never a 500
        assert load.failures, "the kill should have refused some calls"

        # every credential returned before, during and after the failover works now
        for got in load.sessions:
            who = client(durable, "sts", got["AccessKeyId"], got["SecretAccessKey"], got["SessionToken"])
            assert who.get_caller_identity()["Arn"].startswith(f"arn:aws:sts::123456789012:assumed-role/")
        for made in load.keys:
            who = client(durable, "sts", made["AccessKeyId"], made["SecretAccessKey"])
            assert who.get_caller_identity()["Arn"].endswith(f":user/{made['UserName']}")
        # the other Tessera (no WAIT) recovered without a restart too
        assert client(tessera, "sts", ROOT_AKID, ROOT_SECRET).get_caller_identity()["Account"] == "123456789012"
        assert durable.proc.poll() is None and tessera.proc.poll() is None
    finally:
        stop_server(durable)


def _wait(check: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")
