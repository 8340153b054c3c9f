"""The cost of the store's recovery policy (app.store.connection) on a real Redis.

    python tests/bench/bench_store_connection.py [--url redis://127.0.0.1:6379/13] [--rounds 7]

Interleaved A/B rounds, plain redis-py connections against the recovering ones `connect()`
builds: the hot-path multiplexer (batches of concurrent GETs) and the pool (one GET awaited at a
time, and one WATCH + MULTI/EXEC transaction). Prints the median per operation of each side."""
from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from typing import Any

import redis.asyncio as aioredis

from app.store.connection import connect
from app.store.multiplex import MultiplexedRedis


def plain(url: str) -> Any:
    pool = aioredis.BlockingConnectionPool.from_url(url, decode_responses=True, max_connections=64, timeout=5)
    return aioredis.Redis.from_pool(pool)


async def hot_gets(client: Any, n: int) -> float:
    hot = MultiplexedRedis.of(client)
    await hot.get("bench:k")
    start = time.perf_counter()
    for _ in range(n // 100):
        await asyncio.gather(*(hot.get("bench:k") for _ in range(100)))
    took = time.perf_counter() - start
    await hot.aclose()
    return took / n


async def pool_gets(client: Any, n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        await client.get("bench:k")
    return (time.perf_counter() - start) / n


async def transactions(client: Any, n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        async with client.pipeline(transaction=True) as pipe:
            await pipe.watch("bench:k")
            pipe.multi()
            pipe.set("bench:k", "v")
            await pipe.execute()
    return (time.perf_counter() - start) / n


async def main(url: str, rounds: int) -> None:
    sides = {"redis-py": plain(url), "recovering": connect(url)}
    await sides["redis-py"].set("bench:k", "v")
    cases = {"multiplexer GET (batches of 100)": (hot_gets, 20_000),
             "pool GET": (pool_gets, 3_000), "pool WATCH+MULTI/EXEC": (transactions, 1_000)}
    for case, (run, n) in cases.items():
        times: dict[str, list[float]] = {side: [] for side in sides}
        for _ in range(rounds):
            for side, client in sides.items():
                times[side].append(await run(client, n))
        print(f"{case}: " + ", ".join(f"{side} {statistics.median(t) * 1e6:.2f} µs" for side, t in times.items()))
    await sides["redis-py"].delete("bench:k")
    for client in sides.values():
        await client.aclose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", default="redis://127.0.0.1:6379/13")
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    asyncio.run(main(args.url, args.rounds))
