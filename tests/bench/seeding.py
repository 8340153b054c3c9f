"""Filling the stores with live sessions before the scale runs.

moto: its sessions live in a Python list, so they can only be created through its API; the
prepared AssumeRole request is replayed from a few threads (moto does not check replays).
Tessera: sessions are written through the real store code (`SessionStore.put`), many at
once on one event loop, with the same master key as the server so they are genuine.
"""
from __future__ import annotations

import asyncio
import base64
import http.client
import itertools
import threading
import time
from collections.abc import Callable
from typing import Any

from servers import Identity
from wrkrun import SignedRequest

Progress = Callable[[int, int, float], None]


def moto_sessions(req: SignedRequest, count: int, *, threads: int = 8,
                  progress: Progress | None = None) -> int:
    """Replay the signed AssumeRole `count` times; returns how many answered 200."""
    lock = threading.Lock()
    state = {"next": 0, "ok": 0, "bad": 0}
    started = time.monotonic()

    def claim() -> bool:
        with lock:
            if state["next"] >= count:
                return False
            state["next"] += 1
            return True

    def worker() -> None:
        conn = http.client.HTTPConnection(req.host, timeout=60)
        body, headers = req.body.encode(), dict(req.headers)
        while claim():
            conn.request(req.method, req.path, body=body, headers=headers)
            resp = conn.getresponse()
            resp.read()
            with lock:
                state["ok" if resp.status == 200 else "bad"] += 1
                done = state["ok"] + state["bad"]
            if progress and done % 5000 == 0:
                progress(done, count, time.monotonic() - started)
        conn.close()

    pool = [threading.Thread(target=worker, daemon=True) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    if state["bad"]:
        raise RuntimeError(f"moto answered non-200 to {state['bad']} seeding AssumeRoles")
    return state["ok"]


def tessera_sessions(redis_url: str, master_key_b64: str, ident: Identity, start: int,
                     count: int, *, pipelined: bool = True, concurrency: int = 256,
                     progress: Progress | None = None) -> float:
    """Put `count` live role sessions through SessionStore.put; returns the seconds it took.

    pipelined: put() writes into pipelines of 1,000 (same records, ~5x faster to seed);
    otherwise `concurrency` coroutines each await one put() at a time, as the server does.
    """
    return asyncio.run(_seed(redis_url, master_key_b64, ident, start, count, pipelined,
                             concurrency, progress))


async def _seed(redis_url: str, master_key_b64: str, ident: Identity, start: int, count: int,
                pipelined: bool, concurrency: int, progress: Progress | None) -> float:
    from app.core import ids
    from app.core.clock import Clock
    from app.core.records import Session
    from app.store.connection import connect
    from app.store.secretbox import SecretBox
    from app.store.sessions import SessionStore

    box = SecretBox(base64.b64decode(master_key_b64))
    clock = Clock()
    redis = connect(redis_url, max_connections=concurrency)
    store = SessionStore(redis, box=box, clock=clock)
    role_name = ident.role_arn.rsplit("/", 1)[-1]
    counter = iter(range(start, start + count))
    done = 0
    began = time.monotonic()

    def make(i: int) -> tuple[Any, str]:
        now = clock.time()
        name = f"seed-{i}"
        session = Session(
            access_key_id=ids.access_key_id(ids.TEMPORARY_KEY),
            secret_access_key=ids.secret_access_key(),
            kind="assumed-role", account=ident.account,
            arn=f"arn:aws:sts::{ident.account}:assumed-role/{role_name}/{name}",
            user_id=f"{ident.role_id}:{name}", principal_arn=ident.role_arn,
            principal_id=ident.role_id, principal_name=role_name,
            issued_at=now, expires_at=now + 12 * 3600, session_name=name)
        return session, box.digest(ids.urlsafe_token(32))

    async def direct() -> None:
        nonlocal done
        for i in counter:
            session, digest = make(i)
            await store.put(session, digest)
            done += 1
            if progress and done % 50000 == 0:
                progress(done, count, time.monotonic() - began)

    async def batched() -> None:
        # SessionStore.put itself writes into a non-transactional pipeline: the very same
        # key, value and PXAT/NX as a live put, sent 1,000 at a time; every SET is checked.
        nonlocal done
        while batch := [make(i) for i in itertools.islice(counter, 1000)]:
            pipe = redis.pipeline(transaction=False)
            piped = SessionStore(pipe, box=box, clock=clock)
            for session, digest in batch:
                await piped.put(session, digest)
            results = await pipe.execute()
            if not all(r is True for r in results):
                raise RuntimeError("a seeded session was not stored (SET NX refused)")
            done += len(batch)
            if progress and done % 100000 < len(batch):
                progress(done, count, time.monotonic() - began)

    try:
        if pipelined:
            await asyncio.gather(*(batched() for _ in range(4)))
        else:
            await asyncio.gather(*(direct() for _ in range(concurrency)))
    finally:
        await redis.aclose()
    return time.monotonic() - began


def redis_used_memory(redis_url: str) -> int:
    import redis

    client = redis.Redis.from_url(redis_url)
    try:
        return int(client.info("memory")["used_memory"])
    finally:
        client.close()


def redis_dbsize(redis_url: str) -> int:
    import redis

    client = redis.Redis.from_url(redis_url)
    try:
        return int(client.dbsize())
    finally:
        client.close()


def redis_flush(redis_url: str) -> None:
    import redis

    client = redis.Redis.from_url(redis_url)
    try:
        client.flushdb()
    finally:
        client.close()
