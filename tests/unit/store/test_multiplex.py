"""The hot path's clients: MultiplexedRedis (one shared connection) and AutoPipeline (redis-py
pipelines, used for fakeredis and TLS) keep redis-py's semantics for get/mget/set, on a real
Redis; MultiplexedRedis also survives refused, dropped and silent connections."""
from __future__ import annotations

import asyncio
import contextlib

import fakeredis
import pytest
import redis.asyncio as aioredis
from hypothesis import given, settings
from hypothesis import strategies as st
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from app.store.batching import AutoPipeline
from app.store.multiplex import MultiplexedRedis, pack

URL = "redis://127.0.0.1:6379/9"


@contextlib.asynccontextmanager
async def hot_client(kind: str, redis: aioredis.Redis):
    client = MultiplexedRedis(db=9) if kind == "multiplexed" else AutoPipeline(redis)
    try:
        yield client
    finally:
        close = getattr(client, "aclose", None)
        if close is not None:
            await close()


KINDS = ["multiplexed", "autopipeline"]


# ---- the shared contract ----
@pytest.mark.parametrize("kind", KINDS)
async def test_set_get_mget_answer_as_redis_py(kind, redis):
    async with hot_client(kind, redis) as hot:
        first, second = await asyncio.gather(hot.set("s", "v", nx=True, px=60_000), hot.set("s", "w", nx=True))
        assert first is True and second is None
        assert await redis.get("s") == "v" and 0 < await redis.pttl("s") <= 60_000
        assert await hot.set("plain", "p") is True
        assert await hot.get("plain") == "p" and await redis.ttl("plain") == -1
        assert await hot.mget("s", "none", "plain") == ["v", None, "p"]
        assert await hot.get("none") is None


@pytest.mark.parametrize("kind", KINDS)
async def test_pxat_expires_the_key_at_that_instant(kind, redis):
    async with hot_client(kind, redis) as hot:
        now_ms = int((await redis.time())[0]) * 1000
        assert await hot.set("t", "x", pxat=now_ms + 120_000, nx=True) is True
        assert 100_000 < await redis.pttl("t") <= 120_000


@pytest.mark.parametrize("kind", KINDS)
async def test_each_caller_gets_its_own_answer_under_concurrency(kind, redis):
    await redis.mset({f"k{i}": f"v{i}" for i in range(300)})
    async with hot_client(kind, redis) as hot:
        results = await asyncio.gather(*(hot.get(f"k{i}") for i in range(300)),
                                       *(hot.mget(f"k{i}", f"k{i + 1}") for i in range(299)))
    assert results[:300] == [f"v{i}" for i in range(300)]
    assert results[300:] == [[f"v{i}", f"v{i + 1}"] for i in range(299)]


@pytest.mark.parametrize("kind", KINDS)
async def test_an_error_reply_fails_only_its_own_command(kind, redis):
    await redis.lpush("list", "x")
    async with hot_client(kind, redis) as hot:
        ok, bad, after = await asyncio.gather(hot.set("fine", "1"), hot.get("list"), hot.get("fine"),
                                              return_exceptions=True)
    assert ok is True and after == "1"
    assert isinstance(bad, ResponseError) and "WRONGTYPE" in str(bad)


@pytest.mark.parametrize("kind", KINDS)
async def test_values_round_trip_unchanged(kind, redis):
    values = ["", "ünïcödé ✓", "a\r\nb", "$3\r\nfoo", "x" * 100_000, "0", "-1"]
    async with hot_client(kind, redis) as hot:
        await asyncio.gather(*(hot.set(f"v{i}", v) for i, v in enumerate(values)))
        assert await hot.mget(*(f"v{i}" for i in range(len(values)))) == values


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["set", "setnx", "get", "mget"]),
                          st.sampled_from(["a", "b", "ключ", "c d"]), st.text(max_size=30)),
                min_size=1, max_size=25))
def test_any_command_sequence_matches_redis_py(ops):
    """Issued all at once from concurrent callers, the answers equal redis-py's, one by one."""

    async def run() -> None:
        plain = aioredis.Redis.from_url(URL, decode_responses=True)
        hot = MultiplexedRedis(db=9)
        try:
            results = {}
            for label, client in (("hot", hot), ("plain", plain)):
                await plain.flushdb()
                calls = []
                for op, key, value in ops:
                    if op == "set":
                        calls.append(client.set(key, value))
                    elif op == "setnx":
                        calls.append(client.set(key, value, nx=True))
                    elif op == "get":
                        calls.append(client.get(key))
                    else:
                        calls.append(client.mget(key, "a", "zz"))
                results[label] = await asyncio.gather(*calls) if label == "hot" else \
                    [await c for c in calls]
            assert results["hot"] == results["plain"]
        finally:
            await plain.flushdb()
            await hot.aclose()
            await plain.aclose()

    asyncio.run(run())


# ---- choosing the client ----
def test_like_follows_a_plain_redis_py_client_and_declines_the_rest():
    plain = aioredis.Redis.from_url("redis://127.0.0.1:6390/3", password="pw")
    unix = aioredis.Redis.from_url("unix:///tmp/redis.sock?db=2")
    tls = aioredis.Redis.from_url("rediss://127.0.0.1:6390/0")
    hot = MultiplexedRedis.like(plain)
    assert hot is not None and (hot._host, hot._port) == ("127.0.0.1", 6390)
    assert hot._hello == [pack("AUTH", "pw"), pack("SELECT", 3)]
    assert MultiplexedRedis.like(unix)._path == "/tmp/redis.sock"
    assert MultiplexedRedis.like(tls) is None
    assert MultiplexedRedis.like(fakeredis.FakeAsyncRedis()) is None


def test_pack_is_resp():
    assert pack("SET", "k", "é", 5) == b"*4\r\n$3\r\nSET\r\n$1\r\nk\r\n$2\r\n\xc3\xa9\r\n$1\r\n5\r\n"


async def test_unknown_set_options_are_refused():
    hot = MultiplexedRedis(db=9)
    with pytest.raises(TypeError):
        hot.set("k", "v", keepttl=True)
    await hot.aclose()


# ---- failure: never silent, never stuck ----
async def test_refused_connection_fails_every_caller_then_recovers(redis):
    hot = MultiplexedRedis(port=1, connect_timeout=0.5)
    results = await asyncio.gather(hot.get("a"), hot.set("b", "1"), return_exceptions=True)
    assert all(isinstance(r, RedisConnectionError) for r in results)
    hot._port = 6379  # the server comes back
    hot._hello = [pack("SELECT", 9)]
    await redis.set("a", "back")
    assert await hot.get("a") == "back"
    await hot.aclose()


async def test_a_dropped_connection_fails_in_flight_commands_and_reconnects(redis):
    hot = MultiplexedRedis(db=9)
    await hot.set("k", "1")
    await redis.execute_command("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes")
    await asyncio.sleep(0.05)  # the close reaches the client
    assert hot._protocol is None
    assert await hot.get("k") == "1"
    await hot.aclose()


async def test_a_connection_closed_mid_command_fails_that_command():
    server, port = await _fake_server(b"", close=True)
    hot = MultiplexedRedis(port=port, timeout=2.0)
    with pytest.raises(RedisConnectionError):
        await hot.get("k")
    await hot.aclose()
    server.close()


async def test_a_blocked_server_times_out_every_waiting_command(redis):
    hot = MultiplexedRedis(db=9, timeout=0.3)
    await hot.set("k", "1")
    other = aioredis.Redis.from_url(URL)
    # a script that keeps the (single-threaded) server busy for about a second
    busy = "local s = redis.call('TIME') while tonumber(redis.call('TIME')[1]) - tonumber(s[1]) < 2 do end"
    pause = asyncio.ensure_future(other.eval(busy, 0))
    await asyncio.sleep(0.05)
    results = await asyncio.gather(hot.get("k"), hot.mget("k"), return_exceptions=True)
    assert all(isinstance(r, RedisTimeoutError) for r in results), results
    await pause
    assert await hot.get("k") == "1"  # a fresh connection after the timeout
    await hot.aclose()
    await other.aclose()


async def _fake_server(reply: bytes | None, *, close: bool = False) -> tuple[asyncio.AbstractServer, int]:
    """A TCP server that reads a command, answers `reply` (None: nothing) and then stays
    silent, or closes the connection (`close`)."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1024)
        if reply:
            writer.write(reply)
            await writer.drain()
        if not close:
            await asyncio.sleep(5)
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


async def test_a_silent_server_times_out():
    server, port = await _fake_server(None)
    hot = MultiplexedRedis(port=port, timeout=0.2)
    with pytest.raises(RedisTimeoutError):
        await hot.get("k")
    await hot.aclose()
    server.close()


async def test_garbage_fails_the_command_and_drops_the_connection():
    server, port = await _fake_server(b"?what\r\n")
    hot = MultiplexedRedis(port=port, timeout=1.0)
    with pytest.raises(RedisConnectionError, match="protocol error"):
        await hot.get("k")
    assert hot._protocol is None
    await hot.aclose()
    server.close()


async def test_a_reply_nobody_asked_for_drops_the_connection():
    server, port = await _fake_server(b":1\r\n:2\r\n")
    hot = MultiplexedRedis(port=port, timeout=1.0)
    assert await hot.get("k") == 1
    await asyncio.sleep(0)
    assert hot._protocol is None  # the stream can no longer be trusted
    await hot.aclose()
    server.close()


async def test_a_failed_handshake_is_a_connection_error(redis):
    hot = MultiplexedRedis(db=9, password="not-configured")
    with pytest.raises((RedisConnectionError, ResponseError)):
        await hot.get("k")
    await hot.aclose()


async def test_a_cancelled_caller_does_not_shift_the_replies(redis):
    await redis.mset({"a": "1", "b": "2"})
    hot = MultiplexedRedis(db=9)
    first = asyncio.ensure_future(hot.get("a"))
    second = asyncio.ensure_future(hot.get("b"))
    await asyncio.sleep(0)
    first.cancel()
    assert await second == "2"
    assert await hot.get("a") == "1"
    await hot.aclose()


async def test_closing_fails_nothing_that_was_answered(redis):
    hot = MultiplexedRedis(db=9)
    assert await hot.set("k", "v") is True
    await hot.aclose()
    assert await hot.get("k") == "v"  # a closed client connects again on use
    await hot.aclose()
