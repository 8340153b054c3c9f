"""Session store at scale: Redis memory per live session and lookup latency, empty vs N.

    python tests/bench/bench_sessions.py [N] [--url redis://127.0.0.1:6379/14]

Seeds N genuine sessions (records built by `SessionStore.encode`, written with the same
`SET … PXAT … NX` as `SessionStore.put`, pipelined 1,000 at a time) into a database it FLUSHES
first and again at the end, then prints:
- used_memory delta / N and `MEMORY USAGE` of sample keys (typical role session, and one with
  session tags + a ~1.9 KB session policy);
- latency of one raw GET and of `SessionStore.get` (GET + JSON + AES-GCM open) at the start
  (a handful of keys) and with N live sessions: the lookup is one GET by access key id, so it
  should not change with N.
Figures are printed, never asserted.
"""
from __future__ import annotations

import argparse
import asyncio
import math
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import redis.asyncio as aioredis  # noqa: E402

from app.core import arn, ids  # noqa: E402
from app.core.clock import Clock  # noqa: E402
from app.core.records import Session, Tag  # noqa: E402
from app.services.tokens import SessionTokens  # noqa: E402
from app.store.keys import Keys  # noqa: E402
from app.store.secretbox import SecretBox  # noqa: E402
from app.store.sessions import SessionStore  # noqa: E402

ACCT = "123456789012"
ROLE_ID = "AROAEXAMPLEROLEID0001"
POLICY = ('{"Version":"2012-10-17","Statement":['
          + ",".join(f'{{"Sid":"S{i}","Effect":"Allow","Action":["s3:GetObject","s3:ListBucket"],'
                     f'"Resource":"arn:aws:s3:::bucket-{i}/*"}}' for i in range(18)) + "]}")


def session(now: float, i: int, *, rich: bool = False) -> Session:
    name = f"session-{i}"
    s = Session(ids.access_key_id(ids.TEMPORARY_KEY), ids.secret_access_key(), "assumed-role", ACCT,
                arn.assumed_role(ACCT, "DeployRole", name), f"{ROLE_ID}:{name}", arn.role(ACCT, "/ci/", "DeployRole"),
                ROLE_ID, "DeployRole", now, now + 3600, session_name=name)
    if rich:
        from dataclasses import replace
        s = replace(s, session_policy=POLICY, tags=(Tag("team", "platform"), Tag("env", "prod")),
                    transitive_tag_keys=("team",), source_identity="alice@example.com")
    return s


async def latency(fn, keys: list[str], rounds: int) -> tuple[float, float]:
    samples = []
    for i in range(rounds):
        key = keys[i % len(keys)]
        t0 = time.perf_counter()
        await fn(key)
        samples.append((time.perf_counter() - t0) * 1e6)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.99)]


async def measure(redis: aioredis.Redis, store: SessionStore, akids: list[str], label: str) -> None:
    raw = await latency(lambda k: redis.get(Keys.session(k)), akids, 3000)
    full = await latency(store.get, akids, 3000)
    print(f"  {label:<22} raw GET p50 {raw[0]:6.1f} µs p99 {raw[1]:6.1f} µs | "
          f"SessionStore.get p50 {full[0]:6.1f} µs p99 {full[1]:6.1f} µs")


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("n", nargs="?", type=int, default=100_000)
    parser.add_argument("--url", default="redis://127.0.0.1:6379/14")
    args = parser.parse_args()
    redis = aioredis.Redis.from_url(args.url, decode_responses=True)
    box = SecretBox(os.urandom(32))
    clock = Clock()
    store, tokens = SessionStore(redis, box=box, clock=clock), SessionTokens(box)
    await redis.flushdb()
    now = float(int(clock.time()))
    try:
        probes = [session(now, -i) for i in range(1, 33)]
        for s in probes:
            await store.put(s, tokens.digest(tokens.issue(s.access_key_id, s.expires_at)))
        rich = session(now, -100, rich=True)
        await store.put(rich, tokens.digest(tokens.issue(rich.access_key_id, rich.expires_at)))
        typical = await redis.memory_usage(Keys.session(probes[0].access_key_id))
        rich_usage = await redis.memory_usage(Keys.session(rich.access_key_id))
        print(f"record bytes: typical {len(store.encode(probes[0], 'x' * 64))}, "
              f"rich {len(store.encode(rich, 'x' * 64))} (policy {len(POLICY)} chars)")
        print(f"MEMORY USAGE: typical role session {typical} B, with tags + policy {rich_usage} B")
        akids = [s.access_key_id for s in probes]
        print("lookup latency (sequential, one connection):")
        await measure(redis, store, akids, f"{len(probes) + 1} live sessions")

        before = (await redis.info("memory"))["used_memory"]
        t0 = time.perf_counter()
        batch = 1000
        for start in range(0, args.n, batch):
            pipe = redis.pipeline(transaction=False)
            for i in range(start, min(start + batch, args.n)):
                s = session(now, i)
                digest = tokens.digest(tokens.issue(s.access_key_id, s.expires_at))
                pipe.set(Keys.session(s.access_key_id), store.encode(s, digest),
                         pxat=math.ceil(s.expires_at * 1000), nx=True)
            await pipe.execute()
        seeded = time.perf_counter() - t0
        after = (await redis.info("memory"))["used_memory"]
        print(f"seeded {args.n:,} sessions in {seeded:.1f} s ({args.n / seeded:,.0f}/s); "
              f"used_memory +{(after - before) / 2**20:.1f} MiB = {(after - before) / args.n:.0f} B per session "
              f"(includes the key's expiry entry)")
        await measure(redis, store, akids, f"{args.n + len(probes) + 1:,} live sessions")
    finally:
        await redis.flushdb()
        await redis.aclose()


if __name__ == "__main__":
    asyncio.run(main())
