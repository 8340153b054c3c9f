"""The store's redis-py client: bursts beyond the pool size wait for a connection; a connection
that died (Redis restarted, failed over, dropped it) is replaced before use, or the command is
sent again once when that is safe, and only then."""
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import pytest_asyncio
from redis.exceptions import ConnectionError as RedisConnectionError

from app.store.connection import connect, repeatable, went_away
from tests.redis_target import redis_url
from tests.unit.store.faulty_proxy import FaultyProxy

URL = redis_url(9)


async def test_a_burst_beyond_the_pool_waits_instead_of_failing(redis) -> None:
    client = connect(URL, max_connections=4)
    try:
        async def transaction(i: int) -> list[object]:
            async with client.pipeline(transaction=True) as pipe:
                pipe.set(f"k{i}", i)
                pipe.incr("count")
                return await pipe.execute()

        results = await asyncio.gather(*(transaction(i) for i in range(200)))
        assert sorted(r[1] for r in results) == list(range(1, 201))
        assert await redis.get("count") == "200"
    finally:
        await client.aclose()


# ---- recovery: a dead connection is replaced before use, or a safe command is sent again ----
async def _until(condition: Callable[[], bool]) -> None:
    for _ in range(500):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the client never noticed")


@pytest_asyncio.fixture(loop_scope="function")
async def proxied(redis) -> AsyncIterator[tuple[FaultyProxy, Any]]:
    """(a proxy that breaks connections, the store's client through it)"""
    async with FaultyProxy() as proxy:
        client = connect(proxy.url(9))
        try:
            yield proxy, client
        finally:
            await client.aclose()


async def _pooled(client: Any) -> Any:
    """The connection the client's next command will take (the pool is last in, first out)."""
    conn = await client.connection_pool.get_connection()
    await client.connection_pool.release(conn)
    return conn


@pytest.mark.parametrize("fault", ["close_all", "reset_all"])
async def test_a_connection_dropped_while_idle_is_replaced_before_a_write_uses_it(proxied, fault) -> None:
    proxy, client = proxied
    assert await client.incr("n") == 1
    conn = await _pooled(client)
    getattr(proxy, fault)()
    await _until(lambda: went_away(conn))
    assert await client.incr("n") == 2  # a write: never sent again, so it must not meet the dead one
    assert proxy.accepted == 2


async def test_an_idle_connection_is_pinged_before_use(proxied) -> None:
    """A server that vanished without a word: the health check finds it before the write."""
    proxy, client = proxied
    assert await client.incr("n") == 1
    conn = await _pooled(client)
    proxy.vanish()
    conn.next_health_check = -1  # as after HEALTH_CHECK_INTERVAL seconds of idleness
    assert await client.incr("n") == 2
    assert proxy.accepted == 2


async def _read_pipeline(client: Any) -> list[Any]:
    pipe = client.pipeline(transaction=False)
    pipe.get("k").smembers("s").exists("k")
    return list(await pipe.execute())


@pytest.mark.parametrize("fault", ["vanish", "swallow_replies"])
@pytest.mark.parametrize("read", [lambda c: c.get("k"), _read_pipeline], ids=["command", "pipeline"])
async def test_a_read_that_met_a_dead_connection_is_sent_again_once(redis, proxied, fault, read) -> None:
    proxy, client = proxied
    await redis.set("k", "v")
    await redis.sadd("s", "m")
    first = await read(client)
    getattr(proxy, fault)()
    assert await read(client) == first
    assert proxy.accepted == 2


async def _watched_increment(client: Any, before_exec: Callable[[], None] = lambda: None) -> None:
    async with client.pipeline(transaction=True) as pipe:
        await pipe.watch("n")
        value = int(await pipe.get("n") or 0)
        pipe.multi()
        pipe.set("n", value + 1)
        before_exec()
        await pipe.execute()


async def _transaction(client: Any, before_exec: Callable[[], None] = lambda: None) -> None:
    async with client.pipeline(transaction=True) as pipe:
        pipe.incr("n")
        before_exec()
        await pipe.execute()


async def _command(client: Any, before_exec: Callable[[], None] = lambda: None) -> None:
    before_exec()
    await client.incr("n")


@pytest.mark.parametrize("write", [_command, _transaction, _watched_increment])
async def test_a_write_that_was_sent_is_never_sent_again(redis, proxied, write) -> None:
    """Its EXEC may have run: the caller gets ConnectionError (503), never WatchError (which
    IamStore._atomic answers by running the transaction again)."""
    proxy, client = proxied
    await write(client)
    with pytest.raises(RedisConnectionError):
        await write(client, proxy.swallow_replies)
    assert await redis.get("n") == "2"  # it ran, once


async def test_a_transaction_whose_watch_failed_runs_on_a_new_connection(redis, proxied) -> None:
    proxy, client = proxied
    await _watched_increment(client)
    proxy.vanish()
    await _watched_increment(client)
    assert await redis.get("n") == "2"
    assert proxy.accepted == 2


async def test_a_server_that_is_not_there_fails_at_once_without_a_second_connect(proxied) -> None:
    proxy, client = proxied
    proxy.refuse = True
    with pytest.raises(RedisConnectionError):
        await client.get("k")
    assert proxy.accepted == 1


async def test_a_read_is_sent_again_at_most_once(proxied) -> None:
    """Its connection dead and the server gone: one new connection is tried, then 503."""
    proxy, client = proxied
    await client.get("k")
    proxy.vanish()
    proxy.refuse = True
    with pytest.raises(RedisConnectionError):
        await client.get("k")
    assert proxy.accepted == 2


def test_what_may_be_sent_again() -> None:
    assert repeatable(("GET", "k")) and repeatable((b"HGETALL", "k")) and repeatable(("WATCH", "k"))
    assert repeatable(("CLIENT SETINFO", "LIB-NAME", "x"))
    assert not repeatable(("SET", "k", "v")) and not repeatable(("MULTI",)) and not repeatable(("EXEC",))
    assert not repeatable(("INCR", "k")) and not repeatable(("EVAL", "return 1", 0))
