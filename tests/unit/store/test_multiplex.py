"""The hot path's client: MultiplexedRedis shares one redis-py connection between concurrent
callers. On a real Redis and on fakeredis (`tessera dev`) its answers are redis-py's, caller
by caller; refused, dropped, silent and garbled connections fail the waiting commands with
redis-py's errors, and the next command connects again."""
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import fakeredis
import pytest
import pytest_asyncio
import redis.asyncio as aioredis
from hypothesis import given, settings
from hypothesis import strategies as st
from redis.asyncio.retry import Retry
from redis.backoff import ConstantBackoff, NoBackoff
from redis.asyncio.connection import Connection, SSLConnection, UnixDomainSocketConnection
from redis.exceptions import AuthenticationError, BusyLoadingError, RedisError, ResponseError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.maint_notifications import MaintNotificationsConfig

from app.store.connection import recovering, went_away
from app.store.multiplex import MultiplexedRedis, pack
from app.store.sentinel import _SentinelConnection, _SentinelSslConnection
from tests.redis_target import redis_url
from tests.unit.store.socket_writes import counting_writes
from tests.unit.store.faulty_proxy import FaultyProxy

URL = redis_url(9)
NO_RETRY = Retry(NoBackoff(), 0)  # redis-py retries a failed connect ten times by default


@pytest_asyncio.fixture(params=["redis", "fakeredis"], loop_scope="function")
async def pair(request, redis) -> AsyncIterator[tuple[MultiplexedRedis, aioredis.Redis]]:
    """(the multiplexed client, a plain redis-py client on the same store)."""
    plain = redis if request.param == "redis" else fakeredis.FakeAsyncRedis(decode_responses=True)
    hot = MultiplexedRedis.of(plain)
    yield hot, plain
    await hot.aclose()


# ---- redis-py's answers ----
async def test_set_get_mget_answer_as_redis_py(pair):
    hot, plain = pair
    first, second = await asyncio.gather(hot.set("s", "v", nx=True, px=60_000), hot.set("s", "w", nx=True))
    assert first is True and second is None
    assert await plain.get("s") == "v" and 0 < await plain.pttl("s") <= 60_000
    assert await hot.set("plain", "p") is True
    assert await hot.get("plain") == "p" and await plain.ttl("plain") == -1
    assert await hot.mget("s", "none", "plain") == ["v", None, "p"]
    assert await hot.get("none") is None


async def test_pxat_expires_the_key_at_that_instant(pair):
    hot, plain = pair
    now_ms = int((await plain.time())[0]) * 1000
    assert await hot.set("t", "x", pxat=now_ms + 120_000, nx=True) is True
    assert 100_000 < await plain.pttl("t") <= 120_000


async def test_each_caller_gets_its_own_answer_under_concurrency(pair):
    hot, plain = pair
    await plain.mset({f"k{i}": f"v{i}" for i in range(300)})
    results = await asyncio.gather(*(hot.get(f"k{i}") for i in range(300)),
                                   *(hot.mget(f"k{i}", f"k{i + 1}") for i in range(299)))
    assert results[:300] == [f"v{i}" for i in range(300)]
    assert results[300:] == [[f"v{i}", f"v{i + 1}"] for i in range(299)]


async def test_an_error_reply_fails_only_its_own_command(pair):
    hot, plain = pair
    await plain.lpush("list", "x")
    ok, bad, after = await asyncio.gather(hot.set("fine", "1"), hot.get("list"), hot.get("fine"),
                                          return_exceptions=True)
    assert ok is True and after == "1"
    assert isinstance(bad, ResponseError) and "WRONGTYPE" in str(bad)


async def test_values_round_trip_unchanged(pair):
    hot, _ = pair
    values = ["", "ünïcödé ✓", "a\r\nb", "$3\r\nfoo", "x" * 100_000, "0", "-1"]
    await asyncio.gather(*(hot.set(f"v{i}", v) for i, v in enumerate(values)))
    assert await hot.mget(*(f"v{i}" for i in range(len(values)))) == values


async def test_commands_of_one_iteration_share_one_write(redis):
    hot = MultiplexedRedis.of(redis)
    await hot.get("connect")  # the handshake's own writes
    writes = counting_writes(hot)
    await asyncio.gather(*(hot.get(f"k{i}") for i in range(50)))  # on an idle connection
    assert len(writes) == 1
    blocked = hot.submit(("BLPOP", "no-list", "0.2"))  # the reader waits for its reply meanwhile
    await asyncio.sleep(0.05)
    await asyncio.gather(*(hot.get(f"k{i}") for i in range(50)), blocked)  # on a connection in use
    assert len(writes) == 3
    await hot.aclose()


async def test_unknown_set_options_are_refused(redis):
    hot = MultiplexedRedis.of(redis)
    with pytest.raises(TypeError):
        hot.set("k", "v", keepttl=True)
    await hot.aclose()


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["set", "setnx", "get", "mget"]),
                          st.sampled_from(["a", "b", "ключ", "c d"]), st.text(max_size=30)),
                min_size=1, max_size=25))
def test_any_command_sequence_matches_redis_py(ops):
    """Issued all at once from concurrent callers, the answers equal redis-py's, one by one."""

    async def run() -> None:
        plain = aioredis.Redis.from_url(URL, decode_responses=True)
        hot = MultiplexedRedis.of(plain)
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
                results[label] = await asyncio.gather(*calls) if label == "hot" else [await c for c in calls]
            assert results["hot"] == results["plain"]
        finally:
            await plain.flushdb()
            await hot.aclose()
            await plain.aclose()

    asyncio.run(run())


# ---- failure: never silent, never stuck ----
async def test_a_refused_connection_fails_every_caller():
    dead = aioredis.Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.5, retry=NO_RETRY)
    hot = MultiplexedRedis.of(dead)
    results = await asyncio.gather(hot.get("a"), hot.set("b", "1"), return_exceptions=True)
    assert all(isinstance(r, RedisConnectionError) for r in results), results
    await hot.aclose()
    await dead.aclose()


async def test_a_refused_handshake_fails_every_caller(redis):
    wrong = aioredis.Redis.from_url(URL, username="nobody", password="not-the-password", retry=NO_RETRY)
    hot = MultiplexedRedis.of(wrong)
    results = await asyncio.gather(hot.get("a"), hot.get("b"), return_exceptions=True)
    assert all(isinstance(r, (AuthenticationError, ResponseError)) for r in results), results
    await hot.aclose()
    await wrong.aclose()


async def test_a_connection_closed_while_idle_is_replaced_before_use(redis):
    hot = MultiplexedRedis.of(redis)
    await hot.set("k", "1")
    killed = await redis.execute_command("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes")
    assert killed >= 1
    await asyncio.sleep(0.05)  # the close reaches the client
    assert await asyncio.gather(hot.get("k"), hot.mget("k")) == ["1", ["1"]]  # no caller sees it
    await hot.aclose()


async def test_a_connection_reset_while_idle_is_replaced_before_use(redis):
    """A reset (RST) leaves no end-of-file mark, only a closed transport: seen all the same."""
    async with FaultyProxy() as proxy:
        plain = aioredis.Redis.from_url(proxy.url(9), decode_responses=True)
        hot = MultiplexedRedis.of(plain)
        try:
            await hot.set("k", "1")
            proxy.reset_all()
            for _ in range(500):
                if went_away(hot._conn):
                    break
                await asyncio.sleep(0.01)
            assert await asyncio.gather(hot.get("k"), hot.mget("k")) == ["1", ["1"]]
            assert proxy.accepted == 2
        finally:
            await hot.aclose()
            await plain.aclose()


async def test_an_idle_connection_is_health_checked_before_use(redis):
    """Past the client's health_check_interval, redis-py PINGs first and reconnects if the
    connection died while idle: no request sees the dead connection."""
    checked = aioredis.Redis.from_url(URL, decode_responses=True, health_check_interval=1)
    hot = MultiplexedRedis.of(checked)
    await hot.set("k", "1")
    await redis.execute_command("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes")
    await asyncio.sleep(1.1)
    assert await asyncio.gather(hot.get("k"), hot.mget("k")) == ["1", ["1"]]
    await hot.aclose()
    await checked.aclose()


async def test_a_busy_server_times_out_every_waiting_command_then_recovers(redis):
    slow = aioredis.Redis.from_url(URL, decode_responses=True, socket_timeout=0.3)
    hot = MultiplexedRedis.of(slow)
    await hot.set("k", "1")
    other = aioredis.Redis.from_url(URL)
    # a script that keeps the single-threaded server busy for one to two seconds
    busy = "local s = redis.call('TIME') while tonumber(redis.call('TIME')[1]) - tonumber(s[1]) < 2 do end"
    pause = asyncio.ensure_future(other.eval(busy, 0))
    await asyncio.sleep(0.05)
    results = await asyncio.gather(hot.get("k"), hot.mget("k"), return_exceptions=True)
    assert all(isinstance(r, RedisTimeoutError) for r in results), results
    await pause
    assert await hot.get("k") == "1"  # a fresh connection once the server answers again
    await hot.aclose()
    await slow.aclose()
    await other.aclose()


async def _fake_server(reply: bytes | None, *, close: bool = False) -> tuple[asyncio.AbstractServer, int]:
    """A TCP server that reads what comes, answers `reply` (None: nothing) and then stays
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


@pytest.mark.parametrize(("reply", "close", "error"), [
    (None, False, RedisTimeoutError),  # silent
    (b"", True, RedisConnectionError),  # closed mid-command
    (b"?what\r\n", False, RedisError),  # not RESP
])
async def test_a_broken_server_fails_the_command(reply, close, error):
    server, port = await _fake_server(reply, close=close)
    client = aioredis.Redis(host="127.0.0.1", port=port, socket_timeout=0.3, decode_responses=True,
                            retry=NO_RETRY)
    hot = MultiplexedRedis.of(client)
    with pytest.raises(error):
        await asyncio.wait_for(hot.get("k"), 5)
    await hot.aclose()
    await client.aclose()
    server.close()


async def test_a_cancelled_caller_does_not_shift_the_replies(redis):
    await redis.mset({"a": "1", "b": "2"})
    hot = MultiplexedRedis.of(redis)
    first = asyncio.ensure_future(hot.get("a"))
    second = asyncio.ensure_future(hot.get("b"))
    await asyncio.sleep(0)
    first.cancel()
    assert await second == "2"
    assert await hot.get("a") == "1"
    await hot.aclose()


async def test_a_closed_client_connects_again_on_use(redis):
    hot = MultiplexedRedis.of(redis)
    assert await hot.set("k", "v") is True
    await hot.aclose()
    assert await hot.get("k") == "v"
    await hot.aclose()


async def test_a_command_that_cannot_be_encoded_fails_its_batch_instead_of_hanging(redis) -> None:
    hot = MultiplexedRedis.of(redis)
    results = await asyncio.wait_for(asyncio.gather(hot.get("a"), hot.get("\ud800"), hot.mget("a"),
                                                    return_exceptions=True), 5)
    assert all(isinstance(r, RedisError) for r in results), results
    await redis.set("a", "1")
    assert await hot.get("a") == "1"  # the next batch runs normally
    await hot.aclose()


async def test_closing_before_the_first_write_leaves_the_client_usable(redis) -> None:
    await redis.set("k", "v")
    hot = MultiplexedRedis.of(redis)
    pending = hot.get("k")  # its sender task is created but has not run
    await hot.aclose()
    assert isinstance((await asyncio.gather(pending, return_exceptions=True))[0], RedisConnectionError)
    assert await asyncio.wait_for(hot.get("k"), 5) == "v"
    await hot.aclose()


async def test_an_unreachable_server_fails_at_once_not_after_redis_py_retries() -> None:
    """The client's own retry policy (redis-py retries a connect with backoff) is not applied:
    while Redis is down each request gets its 503 right away; the wait_for only guards a hang."""
    dead = aioredis.Redis.from_url("redis://127.0.0.1:1/0", retry=Retry(ConstantBackoff(1), 10))  # ~10 s
    hot = MultiplexedRedis.of(dead)
    with pytest.raises(RedisConnectionError):
        await asyncio.wait_for(hot.get("a"), 2)
    await hot.aclose()
    await dead.aclose()


# ---- the short cuts past redis-py's per-command calls: the same bytes, answers and failures ----
@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["GET", "SET", "MGET", "CONFIG GET", "client  list", "ÉCHO"]),
                          st.lists(st.one_of(st.text(), st.binary(), st.integers(-2**70, 2**70)), max_size=5)),
                min_size=1, max_size=6),
       st.sampled_from([("utf-8", "strict"), ("latin-1", "replace"), ("utf-16", "strict")]))
def test_pack_writes_the_bytes_redis_py_writes(commands, encoding):
    conn = aioredis.Redis(encoding=encoding[0], encoding_errors=encoding[1]).connection_pool.make_connection()
    listed = [(name, *args) for name, args in commands]
    try:
        expected = b"".join(conn.pack_commands(listed))
    except UnicodeError:
        assert pack(listed, *encoding) is None  # redis-py's own packing raises its error
    else:
        assert pack(listed, *encoding) == expected


@pytest.mark.parametrize("arg", [1.5, True, memoryview(b"m"), None, ["a"], "\ud800"])
def test_pack_leaves_what_it_does_not_know_to_redis_py(arg):
    assert pack([("GET", "k"), ("SET", "k", arg)], "utf-8", "strict") is None
    assert pack([(b"GET", "k")], "utf-8", "strict") is None and pack([()], "utf-8", "strict") is None


def test_the_short_cuts_are_taken_only_on_redis_py_s_own_calls():
    """The store's connections (single server, cluster nodes: app.store.connection) take them;
    Sentinel's connections (which look for a new primary as they send, and turn READONLY into a
    failover as they read) write and read through redis-py, fakeredis' connections too."""

    class Pool:
        pass

    for kind in (Connection, SSLConnection, UnixDomainSocketConnection, recovering(Connection),
                 recovering(SSLConnection), recovering(UnixDomainSocketConnection)):
        hot = MultiplexedRedis(kind())
        assert (hot._packs, hot._writes, hot._drains) == (True, True, True), kind
    for kind in (recovering(_SentinelConnection), recovering(_SentinelSslConnection)):
        hot = MultiplexedRedis(kind(connection_pool=Pool()))
        assert (hot._packs, hot._writes, hot._drains) == (True, False, False), kind
    fake = MultiplexedRedis(fakeredis.FakeAsyncRedis().connection_pool.make_connection())
    assert fake._drains is False


async def _scripted_server(*replies: bytes) -> tuple[asyncio.AbstractServer, int]:
    """A TCP server that answers each read with the next of `replies`, then stays silent."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for reply in replies:
            await reader.read(1024)
            writer.write(reply)
            await writer.drain()
        await asyncio.sleep(5)
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


async def _three_gets(protocol: int, *replies: bytes) -> list[object]:
    server, port = await _scripted_server(*replies)
    hot = MultiplexedRedis.on(Connection(  # its handshake: HELLO 3 under RESP3, nothing under RESP2
        host="127.0.0.1", port=port, socket_timeout=0.5, decode_responses=True, protocol=protocol,
        driver_info=None, maint_notifications_config=MaintNotificationsConfig(enabled=False)))
    try:
        return await asyncio.wait_for(asyncio.gather(hot.get("a"), hot.get("b"), hot.get("c"),
                                                     return_exceptions=True), 5)
    finally:
        await hot.aclose()
        server.close()


async def test_a_failure_reply_among_buffered_ones_fails_every_command_from_it():
    """LOADING is a ConnectionError for redis-py: the connection is dropped and what is in
    flight fails, whether the reply is read from the socket or found in the parser's buffer."""
    results = await _three_gets(2, b"$1\r\nx\r\n-LOADING Redis is loading\r\n$1\r\ny\r\n")
    assert results[0] == "x"
    assert all(isinstance(r, BusyLoadingError) for r in results[1:]), results


async def test_a_push_among_buffered_replies_is_not_taken_for_a_reply():
    hello = b"%1\r\n$5\r\nproto\r\n:3\r\n"
    results = await _three_gets(3, hello, b"$1\r\nx\r\n>2\r\n$7\r\nmessage\r\n$1\r\nz\r\n$1\r\ny\r\n_\r\n")
    assert results == ["x", "y", None]
