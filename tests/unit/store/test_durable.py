"""Durable writes (TESSERA_REDIS_WAIT_REPLICAS, app.store.durable): on a real primary with one
replica started here, a session or access key is returned only once the replica has it; with the
replica gone or stalled the write answers ServiceUnavailable and nothing is returned; concurrent
writes share one WAIT; reads never queue behind a WAIT."""
from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio
import redis
import redis.asyncio as aioredis

from app.core.clock import Clock
from app.core.errors import ServiceUnavailable
from app.core.records import Session
from app.store.durable import DurableWrites
from app.store.iam_store import IamStore
from app.store.keys import Keys
from app.store.multiplex import MultiplexedRedis
from app.store.secretbox import SecretBox
from app.store.sessions import SessionStore
from tests.redis_replica import Pair, primary_with_replica

ACCOUNT = "123456789012"


@pytest.fixture(scope="module")
def pair() -> Iterator[Pair]:
    """A primary and its replica (synced) on free loopback ports, nothing persisted."""
    with primary_with_replica() as running:
        yield running


@pytest_asyncio.fixture(loop_scope="function")
async def primary(pair: Pair) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis(port=pair.primary, decode_responses=True)
    yield client
    await client.aclose()


def _session(akid: str, clock: Clock) -> Session:
    now = clock.time()
    return Session(access_key_id=akid, secret_access_key="s" * 40, kind="assumed-role", account=ACCOUNT,
                   arn=f"arn:aws:sts::{ACCOUNT}:assumed-role/r/s", user_id="AROAEXAMPLE000000001:s",
                   principal_arn=f"arn:aws:iam::{ACCOUNT}:role/r", principal_id="AROAEXAMPLE000000001",
                   principal_name="r", session_name="s", issued_at=now, expires_at=now + 900)


def _replica(pair: Pair) -> "redis.Redis[str]":
    return redis.Redis(port=pair.replica, decode_responses=True)


async def test_a_session_is_returned_once_the_replica_has_it(pair: Pair, primary: aioredis.Redis) -> None:
    clock, box = Clock(), SecretBox(b"k" * 32)
    writer = MultiplexedRedis.of(primary, wait=(1, 2000))
    try:
        store = SessionStore(MultiplexedRedis.of(primary), box=box, clock=clock, writer=writer)
        await store.put(_session("ASIADURABLE000000001", clock), "digest")
        # WAIT answered 1: the replica has the record the moment put() returns
        assert _replica(pair).get(Keys.session("ASIADURABLE000000001")) is not None
    finally:
        await writer.aclose()


async def test_concurrent_durable_writes_share_one_wait(primary: aioredis.Redis) -> None:
    writer = MultiplexedRedis.of(primary, wait=(1, 2000))
    try:
        await primary.config_resetstat()
        assert await asyncio.gather(*(writer.set(f"group:{i}", "v", px=60_000) for i in range(50))) == [True] * 50
        waits = (await primary.info("commandstats")).get("cmdstat_wait", {}).get("calls", 0)
        assert 1 <= waits < 50
    finally:
        await writer.aclose()


async def test_a_new_access_key_is_returned_once_the_replica_has_it(pair: Pair, primary: aioredis.Redis) -> None:
    box = SecretBox(b"k" * 32)
    durable = DurableWrites(MultiplexedRedis.of(primary, wait=(1, 2000)))
    try:
        iam = IamStore(primary, account=ACCOUNT, box=box, clock=Clock(), durable=durable)
        await iam.create_user("durable-user")
        key = await iam.create_access_key("durable-user")
        assert _replica(pair).hget(Keys(ACCOUNT).access_key(key.access_key_id), "s") == "Active"
    finally:
        await durable.aclose()


async def test_without_the_replica_nothing_is_returned_and_reads_do_not_wait(
        pair: Pair, primary: aioredis.Redis) -> None:
    clock, box = Clock(), SecretBox(b"k" * 32)
    hot = MultiplexedRedis.of(primary)
    durable = DurableWrites(MultiplexedRedis.of(primary, wait=(1, 300)))
    iam = IamStore(primary, account=ACCOUNT, box=box, clock=clock, durable=durable)
    await iam.create_user("stalled-user")
    store = SessionStore(hot, box=box, clock=clock, writer=durable.writer)
    pair.replica_proc.send_signal(signal.SIGSTOP)  # connected, but acknowledging nothing
    try:
        put = asyncio.ensure_future(store.put(_session("ASIASTALLED000000001", clock), "digest"))
        read = asyncio.ensure_future(hot.get("anything"))
        done, _ = await asyncio.wait({put, read}, return_when=asyncio.FIRST_COMPLETED)
        assert read in done and put not in done  # the read did not queue behind the WAIT
        with pytest.raises(ServiceUnavailable):
            await put
        with pytest.raises(ServiceUnavailable):
            await iam.create_access_key("stalled-user")
        # and once the replica is back, the same objects work again
        pair.replica_proc.send_signal(signal.SIGCONT)
        await store.put(_session("ASIASTALLED000000002", clock), "digest")
        assert _replica(pair).get(Keys.session("ASIASTALLED000000002")) is not None
    finally:
        pair.replica_proc.send_signal(signal.SIGCONT)
        await durable.aclose()
        await hot.aclose()


async def test_fewer_replicas_than_required_refuse_every_durable_write(pair: Pair, primary: aioredis.Redis) -> None:
    clock, box = Clock(), SecretBox(b"k" * 32)
    writer = MultiplexedRedis.of(primary, wait=(2, 200))  # two replicas asked for, one exists
    try:
        store = SessionStore(MultiplexedRedis.of(primary), box=box, clock=clock, writer=writer)
        with pytest.raises(ServiceUnavailable):
            await store.put(_session("ASIATWOREPLICAS00001", clock), "digest")
    finally:
        await writer.aclose()


async def test_durable_writes_follow_the_primary_through_sentinel() -> None:
    """With Sentinel (app.store.sentinel) the durable connection is the pool's like every other:
    it WAITs on the current primary, and after a failover on the new one."""
    from app.store.connection import connect
    from tests.redis_sentinel import RedisSentinel

    clock, box = Clock(), SecretBox(b"k" * 32)
    with RedisSentinel.start(replicas=1) as rs:
        client = connect(rs.url)
        durable = DurableWrites(MultiplexedRedis.of(client, wait=(1, 1000)))
        store = SessionStore(MultiplexedRedis.of(client), box=box, clock=clock, writer=durable.writer)
        try:
            await store.put(_session("ASIABEFOREFAILOVER01", clock), "digest")
            old = rs.primary()
            replica = next(p for p in rs.data_ports if p != old)
            rs.kill(old)
            new = rs.wait_failover(old)
            rs.restart(old)  # back as the new primary's replica: WAIT 1 can be met again
            for attempt in range(20):  # the first writes may meet the dead primary's connection
                try:
                    await store.put(_session(f"ASIASENTINEL{attempt:08d}", clock), "digest")
                    break
                except ServiceUnavailable:
                    await asyncio.sleep(0.1)
            else:
                raise AssertionError("durable writes did not resume after the failover")
            assert rs.data_client(old).get(Keys.session(f"ASIASENTINEL{attempt:08d}")) is not None
            assert new == replica
            # what was returned before the primary died is on the promoted replica
            assert rs.data_client(new).get(Keys.session("ASIABEFOREFAILOVER01")) is not None
        finally:
            await durable.aclose()
            await client.aclose()


def test_serve_refuses_to_start_in_one_line_when_the_root_key_cannot_be_replicated(pair: Pair) -> None:
    env = {**os.environ, "TESSERA_REDIS_URL": f"redis://127.0.0.1:{pair.primary}/0",
           "TESSERA_MASTER_KEY": "a" * 43 + "=", "TESSERA_ROOT_ACCESS_KEY_ID": "AKIAROOTTESTKEY00009",
           "TESSERA_ROOT_SECRET_ACCESS_KEY": "rootSecretKeyForDurabilityTests000000000",
           "TESSERA_REDIS_WAIT_REPLICAS": "2", "TESSERA_REDIS_WAIT_TIMEOUT_MS": "100"}  # one replica exists
    out = subprocess.run([sys.executable, "-m", "app", "serve", "--port", "9"], env=env, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 1 and out.stdout == ""
    assert out.stderr.strip().count("\n") == 0, out.stderr
    assert "could not keep the root access key" in out.stderr and "1 of 2 replicas acknowledged" in out.stderr
