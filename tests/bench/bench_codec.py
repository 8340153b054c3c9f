"""Micro-benchmark of the Query codec: `python tests/bench/bench_codec.py`.

Prints median and p99 microseconds per operation (timed in batches, 2,000+ runs each):
AssumeRole parse_form + decode + encode, GetCallerIdentity, ListRoles with 20 roles
(cold and memoised policy/timestamp caches).
"""
from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from app.core.records import AssumedRoleUser, Credentials, Role, Tag  # noqa: E402
from app.wire.codec import QueryCodec, parse_form  # noqa: E402
from app.wire.codec import xmltext  # noqa: E402

ASSUME_BODY = (
    b"Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fdemo"
    b"&RoleSessionName=s1&DurationSeconds=900&Tags.member.1.Key=team&Tags.member.1.Value=blue"
    b"&Tags.member.2.Key=env&Tags.member.2.Value=dev"
)
TRUST = (
    '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":'
    '"arn:aws:iam::123456789012:root"},"Action":"sts:AssumeRole","Condition":{"Bool":'
    '{"aws:MultiFactorAuthPresent":"true"}}}]}'
)


def measure(fn: Callable[[], object], runs: int = 2000, batch: int = 10) -> tuple[float, float]:
    for _ in range(200):
        fn()
    samples = []
    for _ in range(runs // batch):
        t = time.perf_counter_ns()
        for _ in range(batch):
            fn()
        samples.append((time.perf_counter_ns() - t) / batch / 1000)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.99) - 1]


def main() -> None:
    t = time.perf_counter()
    codec = QueryCodec()
    print(f"QueryCodec() construction: {(time.perf_counter() - t) * 1000:.0f} ms")
    assume = codec.operation("2011-06-15", "AssumeRole")
    result = {
        "credentials": Credentials("ASIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY", "T" * 417, 1893459600.0),
        "assumed_role_user": AssumedRoleUser("AROA3XFRBF535PLBIFPI4:s1", "arn:aws:sts::123456789012:assumed-role/demo/s1"),
        "packed_policy_size": 6,
    }

    def assume_full() -> bytes:
        pairs = parse_form(ASSUME_BODY, "")
        op = codec.operation("2011-06-15", "AssumeRole")
        op.decode(pairs)
        return op.encode(result, "c6104cbe-af31-11e0-8154-cbc7ccf896c7")

    gci = codec.operation("2011-06-15", "GetCallerIdentity")
    gci_result = {"arn": "arn:aws:sts::123456789012:assumed-role/demo/s1", "user_id": "AROA3XFRBF535PLBIFPI4:s1", "account": "123456789012"}

    def caller_identity() -> bytes:
        pairs = parse_form(b"Action=GetCallerIdentity&Version=2011-06-15", "")
        op = codec.operation("2011-06-15", "GetCallerIdentity")
        op.decode(pairs)
        return gci.encode(gci_result, "rid")

    roles = [
        Role(f"role-{i}", f"AROA{i:016d}", "/", f"arn:aws:iam::123456789012:role/role-{i}", 1700000000.0 + i,
             TRUST.replace("root", f"user/u{i}"), description="a role", tags=(Tag("team", "blue"),))
        for i in range(20)
    ]
    list_roles = codec.operation("2010-05-08", "ListRoles")

    def list_roles_full() -> bytes:
        pairs = parse_form(b"Action=ListRoles&Version=2010-05-08&MaxItems=100", "")
        list_roles.decode(pairs)
        return list_roles.encode({"roles": roles, "is_truncated": False}, "rid")

    def list_roles_cold() -> bytes:
        xmltext.pol.cache_clear()
        xmltext._ts_epoch.cache_clear()
        return list_roles_full()

    print(f"{'case':48} {'median µs':>10} {'p99 µs':>10}")
    for name, fn in [
        ("AssumeRole parse_form+decode+encode", assume_full),
        ("AssumeRole decode only (from pairs)", lambda: assume.decode(parse_form(ASSUME_BODY, ""))),
        ("AssumeRole encode only", lambda: assume.encode(result, "rid")),
        ("GetCallerIdentity parse+decode+encode", caller_identity),
        ("ListRoles 20 roles (memoised quote/ts)", list_roles_full),
        ("ListRoles 20 roles (caches cleared each call)", list_roles_cold),
    ]:
        median, p99 = measure(fn)
        print(f"{name:48} {median:10.1f} {p99:10.1f}")


if __name__ == "__main__":
    main()
