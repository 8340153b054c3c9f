"""Redis memory per live session and per IAM entity, through the real server.

    python tests/bench/bench_memory.py [--sessions 5000] [--entities 900] [--json mem.json]

Starts its own redis-server (free port, no persistence) and `tessera serve` (one worker), then
creates, with unmodified boto3 from `--threads` threads, N of each and reads `INFO memory`
`used_memory` before and after (the delta / N; it includes the key tables' growth, which
comes in powers of two), and the sums of MEMORY USAGE of the new keys (the delta / N):
- sessions: AssumeRole (DurationSeconds 3600) without, then with a session policy (~200 chars)
  and three session tags;
- users with one access key and an inline policy (CreateUser, CreateAccessKey, PutUserPolicy);
- roles with a trust policy and one customer managed policy attached (CreateRole,
  AttachRolePolicy);
- customer managed policies (CreatePolicy, one version).
`--cluster`: the same on a real 6-node Redis Cluster (three primaries), summed over the
primaries (cluster mode adds per key a link to its slot). Prints figures; asserts nothing.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # app

import redisproc  # noqa: E402
from botocore.exceptions import ClientError  # noqa: E402
import servers  # noqa: E402
from runs import Bench, log  # noqa: E402

READ_S3 = json.dumps({"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"],
    "Resource": ["arn:aws:s3:::example-bucket", "arn:aws:s3:::example-bucket/*"]}]})
TAGS = [{"Key": "team", "Value": "payments"}, {"Key": "project", "Value": "ledger"},
        {"Key": "cost-center", "Value": "cc-1234"}]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sessions", type=int, default=5000, help="sessions of each kind")
    p.add_argument("--entities", type=int, default=900,
                   help="users, roles and policies each (the account allows 1,000 roles)")
    p.add_argument("--threads", type=int, default=8)
    p.add_argument("--cluster", action="store_true",
                   help="a 6-node Redis Cluster (tests/redis_cluster.py): the primaries' sums")
    p.add_argument("--server-cpu", type=int, default=0)
    p.add_argument("--client-cpu", type=int, default=1)
    p.add_argument("--json", type=Path)
    return p.parse_args(argv)


def again(call: Callable[..., object], **params: object) -> object:
    """`call(**params)`, sent again while Tessera answers ConcurrentModification (the IAM writes
    of one account are serialized; concurrent writers lose the race now and then, as on AWS)."""
    for _ in range(20):
        try:
            return call(**params)
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConcurrentModification":
                raise
    return call(**params)


def totals(clients: list) -> tuple[int, dict[str, int]]:
    """used_memory and the key footprint, summed over the servers (a cluster's primaries)."""
    keys: dict[str, int] = {}
    for c in clients:
        for k, v in redisproc.footprint(c).items():
            keys[k] = keys.get(k, 0) + v
    return sum(redisproc.used_memory(c) for c in clients), keys


def measure(name: str, clients: list, count: int, threads: int, make: Callable[[int], object]) -> dict:
    """Run make(0..count-1) from `threads` threads; memory figures per item."""
    mem0, keys0 = totals(clients)
    began = time.monotonic()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(make, range(count)))
    took = time.monotonic() - began
    mem1, keys1 = totals(clients)
    keys = sum(keys1[k] - keys0[k] for k in ("sessions", "others"))
    usage = sum(keys1[k] - keys0[k] for k in ("session_bytes", "other_bytes"))
    row = {"what": name, "count": count, "seconds": round(took, 1),
           "used_memory_per_item": round((mem1 - mem0) / count),
           "memory_usage_per_item": round(usage / count), "keys_per_item": round(keys / count, 2)}
    log(f"{name}: {count:,} in {took:.0f}s; used_memory +{mem1 - mem0:,} B "
        f"({row['used_memory_per_item']:,} B each); MEMORY USAGE of new keys "
        f"{row['memory_usage_per_item']:,} B each; {row['keys_per_item']} keys each")
    return row


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    servers.exit_on_sigterm()
    os.sched_setaffinity(0, {args.client_cpu})
    node = cluster = None
    if args.cluster:
        from tests.redis_cluster import RedisCluster

        cluster = RedisCluster.start()
        url = cluster.url
        clients = [redisproc.node_client(p) for p, _ in cluster.primaries()]
    else:
        node = redisproc.RedisServer.start()
        url, clients = node.url, [node.client()]
    bench = Bench(argparse.Namespace(server_cpu=args.server_cpu))
    rows: list[dict] = []
    try:
        target = bench.start_tessera("tessera-memory", url)
        endpoint = target.ident.endpoint
        root = target.root
        iam = servers._client("iam", endpoint, *root)
        user = iam.create_user(UserName="mem-user")["User"]
        key = iam.create_access_key(UserName="mem-user")["AccessKey"]
        trust = json.dumps({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"AWS": user["Arn"]},
            "Action": ["sts:AssumeRole", "sts:TagSession"]}]})
        role_arn = iam.create_role(RoleName="mem-role", AssumeRolePolicyDocument=trust)["Role"]["Arn"]
        iam.put_user_policy(UserName="mem-user", PolicyName="assume", PolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow",
                                                    "Action": ["sts:AssumeRole", "sts:TagSession"],
                                                    "Resource": role_arn}]}))
        shared = iam.create_policy(PolicyName="mem-shared", PolicyDocument=READ_S3)["Policy"]["Arn"]
        sts = servers._client("sts", endpoint, key["AccessKeyId"], key["SecretAccessKey"])

        def plain(i: int) -> object:
            return sts.assume_role(RoleArn=role_arn, RoleSessionName=f"plain-{i}", DurationSeconds=3600)

        def rich(i: int) -> object:
            return sts.assume_role(RoleArn=role_arn, RoleSessionName=f"rich-{i}", DurationSeconds=3600,
                                   Policy=READ_S3, Tags=TAGS)

        def user_entity(i: int) -> object:
            name = f"mem-user-{i}"
            again(iam.create_user, UserName=name)
            again(iam.create_access_key, UserName=name)
            return again(iam.put_user_policy, UserName=name, PolicyName="read-s3", PolicyDocument=READ_S3)

        def role_entity(i: int) -> object:
            name = f"mem-role-{i}"
            again(iam.create_role, RoleName=name, AssumeRolePolicyDocument=trust)
            return again(iam.attach_role_policy, RoleName=name, PolicyArn=shared)

        def policy_entity(i: int) -> object:
            return again(iam.create_policy, PolicyName=f"mem-policy-{i}", PolicyDocument=READ_S3)

        n, e, t = args.sessions, args.entities, args.threads
        rows.append(measure("session (AssumeRole)", clients, n, t, plain))
        rows.append(measure("session + policy + 3 tags", clients, n, t, rich))
        rows.append(measure("user + access key + inline policy", clients, e, t, user_entity))
        rows.append(measure("role + trust + attached policy", clients, e, t, role_entity))
        rows.append(measure("customer managed policy", clients, e, t, policy_entity))
        print(f"\n{'item':<36}{'count':>7}{'used_memory B/item':>20}{'MEMORY USAGE B/item':>21}"
              f"{'keys/item':>10}")
        for r in rows:
            print(f"{r['what']:<36}{r['count']:>7,}{r['used_memory_per_item']:>20,}"
                  f"{r['memory_usage_per_item']:>21,}{r['keys_per_item']:>10}")
        if args.json:
            args.json.write_text(json.dumps({"config": {**vars(args), "json": str(args.json)},
                                             "rows": rows}, indent=2))
    finally:
        bench.stop_servers()
        if node is not None:
            node.stop()
        if cluster is not None:
            cluster.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
