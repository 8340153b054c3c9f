"""What the durability setting (TESSERA_REDIS_WAIT_REPLICAS=1) costs per request, in process.

A Redis primary with one replica is started on loopback (tests.redis_replica). Two containers
(build()) share it: one without WAIT, one with `wait` replicas; the same signed AssumeRole
(a session written, so one durable write per request) is served by each in alternated rounds
from `--concurrency` coroutines on one uvloop event loop, at each concurrency given. Prints µs per
request (wall time over requests: CPU plus what the loop waits for) and latency percentiles;
asserts nothing.

    python tests/bench/bench_durability.py [--requests 3000] [--rounds 3] [--concurrency 1,32]
                                           [--wait 1] [--timeout-ms 1000]
"""
from __future__ import annotations

import argparse
import asyncio
import base64
import os
import secrets
import statistics
import sys
from urllib.parse import quote

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

import wrkrun  # noqa: E402
from bench_inproc import HOST, drive, provision  # noqa: E402


async def main_async(args, primary_port: int) -> None:
    from app.bootstrap import asgi, build
    from app.settings import Settings
    from app.store.connection import connect

    url = f"redis://127.0.0.1:{primary_port}/0"
    env = {"TESSERA_REDIS_URL": url, "TESSERA_MASTER_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
           "TESSERA_ACCOUNT_ID": "123456789012"}
    apps = {}
    clients = []
    for label, wait in (("no WAIT", "0"), (f"WAIT {args.wait}", str(args.wait))):
        settings = Settings.from_env({**env, "TESSERA_REDIS_WAIT_REPLICAS": wait,
                                      "TESSERA_REDIS_WAIT_TIMEOUT_MS": str(args.timeout_ms)},
                                     mode="serve", host="127.0.0.1", port=9)
        redis = connect(url)
        clients.append(redis)
        container = build(settings, redis, log_stream=open(os.devnull, "w"))
        apps[label] = (container, asgi(container))
    first = next(iter(apps.values()))[0]
    akid, secret, role_arn = await provision(first)
    body = (f"Action=AssumeRole&Version={wrkrun.STS_VERSION}&RoleArn={quote(role_arn, safe='')}"
            f"&RoleSessionName=bench&DurationSeconds=900")
    signed = wrkrun.sign(HOST, body, akid, secret, None)

    for concurrency in args.concurrency:
        results: dict[str, list[tuple[float, float, float]]] = {label: [] for label in apps}
        for label, (_, app) in apps.items():
            await drive(app, signed, min(500, args.requests), concurrency)  # warm-up
        for _ in range(args.rounds):
            for label, (_, app) in apps.items():
                elapsed, lat = await drive(app, signed, args.requests, concurrency)
                lat.sort()
                results[label].append((elapsed / args.requests * 1e6, lat[len(lat) // 2] * 1e3,
                                       lat[int(len(lat) * 0.99)] * 1e3))
        medians = {}
        for label, rows in results.items():
            us = statistics.median(r[0] for r in rows)
            p50 = statistics.median(r[1] for r in rows)
            p99 = statistics.median(r[2] for r in rows)
            medians[label] = us
            print(f"AssumeRole at {concurrency:>3} in flight, {label:>7}: {us:8.1f} µs/request "
                  f"({1e6 / us:,.0f}/s)  p50 {p50:.2f} ms  p99 {p99:.2f} ms  (medians of {args.rounds} rounds)")
        base, waited = medians["no WAIT"], medians[f"WAIT {args.wait}"]
        print(f"AssumeRole at {concurrency:>3} in flight: WAIT costs {waited - base:+.1f} µs/request "
              f"({(waited - base) / base * 100:+.1f}%)")
    for container, _ in apps.values():
        for client in (container.hot, container.durable):
            if client is not None:
                await client.aclose()
    for client in clients:
        await client.aclose()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--requests", type=int, default=3000)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--concurrency", default="1,32", help="comma-separated")
    p.add_argument("--wait", type=int, default=1)
    p.add_argument("--timeout-ms", type=int, default=1000)
    args = p.parse_args()
    args.concurrency = [int(c) for c in args.concurrency.split(",")]
    from tests.redis_replica import primary_with_replica

    import uvloop
    uvloop.install()
    with primary_with_replica() as pair:
        asyncio.run(main_async(args, pair.primary))


if __name__ == "__main__":
    main()
