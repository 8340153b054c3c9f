"""Redis Cluster as the store (app.store.cluster, app.store.cluster_multiplex): the URL form, the
hot path's slot routing on a real 6-node cluster (tests.redis_cluster), what happens when a
primary dies, and that every multi-key operation of the store stays in one slot."""
from __future__ import annotations

import asyncio
import inspect
import signal
import socket
import time
from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio
import redis as sync_redis
from redis.crc import key_slot
from redis.exceptions import ConnectionError as RedisConnectionError

from app.core.clock import Clock
from app.settings import Settings, SettingsError
from app.store.cluster import ClusterUrlError, StoreCluster, connect_cluster, parse_cluster_url
from app.store.cluster_multiplex import ClusterMultiplexedRedis
from app.store.cli_refresh import RefreshGrants
from app.store.device_grants import DeviceGrants
from app.store.durable import DurableWrites
from app.store.iam_store import IamStore
from app.store.keys import Keys
from app.store.mfa_attempts import MfaAttempts
from app.store.multiplex import NotReplicated
from app.store.oidc_jwks import JwksCache
from app.store.secretbox import SecretBox
from app.store.sso_state import OidcClient, SsoState
from tests.redis_cluster import RedisCluster
from tests.unit.store.test_multiplex import counting_writes

ACCOUNT = "123456789012"
# access advisor's records: spread over the cluster on purpose, each read or written alone (a
# non-transactional pipeline of them is split per node by redis-py), never in a MULTI/EXEC
OUTSIDE_THE_TAG = {"last_accessed", "access_job"}


# ---- the URL ----
def test_a_cluster_url_is_parsed() -> None:
    url = parse_cluster_url("rediss+cluster://app:s%40cret@10.0.0.1:7000,[::1]:7001,redis-2.internal:7002/"
                            "?ssl_ca_certs=/etc/ca.pem&ssl_cert_reqs=none")
    assert url.seeds == (("10.0.0.1", 7000), ("::1", 7001), ("redis-2.internal", 7002))
    assert (url.tls, url.username, url.password) == (True, "app", "s@cret")
    assert url.ssl == {"ssl_cert_reqs": "none", "ssl_check_hostname": False, "ssl_ca_certs": "/etc/ca.pem"}
    plain = parse_cluster_url("redis+cluster://secret@127.0.0.1:7000/0")
    assert (plain.tls, plain.username, plain.password, plain.ssl) == (False, None, "secret", {})
    assert "secret" not in repr(plain)


@pytest.mark.parametrize("url, why", [
    ("redis+cluster://", "no seed node"),
    ("redis+cluster://127.0.0.1", "is not HOST:PORT"),
    ("redis+cluster://127.0.0.1:0", "from 1 to 65535"),
    ("redis+cluster://127.0.0.1:7000,127.0.0.1:x", "from 1 to 65535"),
    ("redis+cluster://127.0.0.1:7000/3", "no databases"),
    ("redis+cluster://127.0.0.1:7000?ssl_ca_certs=/x", "need the rediss+cluster scheme"),
    ("rediss+cluster://127.0.0.1:7000?sslcacerts=/x", "unknown option `sslcacerts`"),
    ("rediss+cluster://127.0.0.1:7000?ssl_cert_reqs=maybe", "required or none"),
    ("rediss+cluster://127.0.0.1:7000?ssl_keyfile=a&ssl_keyfile=b", "more than once"),
    ("redis+cluster://127.0.0.1:7000#frag", "fragment"),
    ("redis+cluster://" + ",".join(f"h{i}:7000" for i in range(17)), "more than 16"),
    ("redis://127.0.0.1:7000", "scheme"),
])
def test_a_bad_cluster_url_is_refused_in_one_line(url: str, why: str) -> None:
    with pytest.raises(ClusterUrlError) as exc:
        parse_cluster_url(url)
    assert why in str(exc.value) and "\n" not in str(exc.value)
    assert "redis+cluster://[USER:PASSWORD@]HOST:PORT" in str(exc.value)


@pytest.mark.parametrize("url", [
    "redis+cluster://u:hun/ter2@127.0.0.1:7000",  # was: "got the path `/ter2@127.0.0.1:7000`"
    "redis+cluster://u:hun?ter2@127.0.0.1:7000",  # was: "the port in `u:hun` is not a number"
    "redis+cluster://u:1234?hunter2@127.0.0.1:7000",  # was: "unknown option `hunter2@127.0.0.1:7000`"
])
def test_a_password_with_a_raw_slash_or_question_mark_is_refused_without_a_piece_of_it(url: str) -> None:
    with pytest.raises(ClusterUrlError) as exc:
        parse_cluster_url(url)
    text = str(exc.value)
    assert "percent-encode" in text
    assert not any(piece in text for piece in ("hun", "ter2", "1234", "u:"))


def test_settings_refuse_a_bad_cluster_url_at_start_up() -> None:
    env = {"TESSERA_REDIS_URL": "redis+cluster://pw@127.0.0.1:7000/2", "TESSERA_MASTER_KEY": "a" * 43 + "="}
    with pytest.raises(SettingsError) as exc:
        Settings.from_env(env)
    assert str(exc.value).startswith("TESSERA_REDIS_URL: invalid Redis Cluster URL") and "pw" not in str(exc.value)
    ok = Settings.from_env({**env, "TESSERA_REDIS_URL": "redis+cluster://127.0.0.1:7000,127.0.0.1:7001"})
    assert ok.redis_url is not None and ok.redis_wait_replicas == 0 and ok.redis_wait_timeout_ms == 1000


@pytest.mark.parametrize("name, value", [("TESSERA_REDIS_WAIT_REPLICAS", "-1"), ("TESSERA_REDIS_WAIT_REPLICAS", "two"),
                                         ("TESSERA_REDIS_WAIT_TIMEOUT_MS", "0"),
                                         ("TESSERA_REDIS_WAIT_TIMEOUT_MS", "99999999")])
def test_the_durability_settings_are_checked(name: str, value: str) -> None:
    env = {"TESSERA_REDIS_URL": "redis://127.0.0.1:6379/0", "TESSERA_MASTER_KEY": "a" * 43 + "=", name: value}
    with pytest.raises(SettingsError) as exc:
        Settings.from_env(env)
    assert str(exc.value).startswith(f"{name} must be a whole number")
    good = Settings.from_env({**env, name: "2"})
    assert (good.redis_wait_replicas, good.redis_wait_timeout_ms)[name.endswith("_MS")] == 2


def test_the_embedded_store_of_tessera_dev_never_waits_for_replicas() -> None:
    dev = Settings.from_env({"TESSERA_REDIS_WAIT_REPLICAS": "1"}, mode="dev")
    assert dev.redis_wait_replicas == 0


async def test_a_cluster_none_of_whose_nodes_answers_is_a_503_not_a_500(monkeypatch: pytest.MonkeyPatch) -> None:
    """redis-py says "no node could be reached" with RedisClusterException, no RedisError: every
    way in (a command, a transaction, the hot path) must turn it into the ConnectionError the wire
    answers with 503, and a read must not try every seed node twice."""
    from app.core.errors import ServiceUnavailable
    from app.wire.query import as_aws_error

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = connect_cluster(f"redis+cluster://u:hunter2@127.0.0.1:{port}")
    reads: list[int] = []
    manager = type(client.nodes_manager)
    original = manager.initialize

    async def counted(self: object, *args: object, **kwargs: object) -> None:
        reads.append(1)
        await original(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(manager, "initialize", counted)
    hot = ClusterMultiplexedRedis.of(client)

    async def transaction() -> None:
        async with client.pipeline(transaction=True) as pipe:
            pipe.multi()
            pipe.set("{t}a", "1")
            await pipe.execute()

    try:
        for attempt in (lambda: client.get("k"), lambda: client.set("k", "v"), transaction, lambda: hot.get("k")):
            with pytest.raises(RedisConnectionError) as exc:
                await attempt()
            assert isinstance(as_aws_error(exc.value, "rid", "GetSessionToken"), ServiceUnavailable)
            assert "hunter2" not in str(exc.value)
        assert len(reads) == 4  # once per call: the GET was not sent again after the failed read
    finally:
        await hot.aclose()
        await client.aclose()


# ---- every multi-key operation stays in one slot (static: the key schema) ----
def test_every_iam_key_of_an_account_is_in_the_slot_of_its_hash_tag() -> None:
    keys = Keys(ACCOUNT)
    slot = key_slot(keys.tag.encode())
    checked = 0
    for name, method in inspect.getmembers(keys, inspect.ismethod):
        if name.startswith("_") or name == "all_keys_pattern" or name in OUTSIDE_THE_TAG:
            continue
        arity = len(inspect.signature(method).parameters)
        key = method(*(["user", "alice"][2 - arity:] if arity <= 2 else ["user"] * arity))
        assert key_slot(key.encode()) == slot, f"Keys.{name} -> {key}"
        checked += 1
    assert checked > 30
    assert key_slot(Keys.durability_mark(keys.tag).encode()) == slot


def test_keys_read_together_outside_the_account_share_a_slot() -> None:
    jwks = Keys.oidc_jwks("https://idp.example", ("ab" * 20,))
    lock = Keys.oidc_jwks_refresh(jwks)
    assert len({key_slot(k.encode()) for k in (jwks, lock, lock + ":outcome")}) == 1
    # sessions carry no tag: they spread over the slots
    assert len({key_slot(Keys.session(f"ASIA{i:016d}").encode()) for i in range(50)}) > 40


# ---- on a real cluster ----
@pytest.fixture(scope="module")
def cluster() -> Iterator[RedisCluster]:
    with RedisCluster.start() as running:
        yield running


@pytest_asyncio.fixture(loop_scope="function")
async def client(cluster: RedisCluster) -> AsyncIterator[StoreCluster]:
    store = connect_cluster(cluster.url)
    yield store
    await store.aclose()


async def test_the_hot_path_routes_each_key_to_its_primary_and_keeps_mget_order(
        cluster: RedisCluster, client: StoreCluster) -> None:
    hot = ClusterMultiplexedRedis.of(client)
    try:
        keys = [f"sess:route-{i}" for i in range(40)]
        assert await asyncio.gather(*(hot.set(k, f"v-{k}", px=60_000) for k in keys[::2])) == [True] * 20
        assert await hot.set(keys[0], "again", nx=True) is None  # NX refused: redis-py's answer
        got = await hot.mget(*keys, Keys(ACCOUNT).epoch())
        assert got == [f"v-{k}" if i % 2 == 0 else None for i, k in enumerate(keys)] + [None]
        assert await hot.get(keys[2]) == f"v-{keys[2]}"
        assert await hot.hset(Keys(ACCOUNT).entity("user", "x"), "f", "v") == 1
        # one multiplexer per primary, and each key really is on the primary that owns its slot
        primaries = {f"127.0.0.1:{port}" for port, _ in cluster.primaries()}
        assert set(hot._nodes) == primaries
        for key in keys[:6:2]:
            owner = cluster.primary_for(key)
            assert sync_redis.Redis(port=owner, decode_responses=True).get(key) == f"v-{key}"
    finally:
        await hot.aclose()


async def test_one_loop_iteration_goes_out_in_one_write_per_node(client: StoreCluster) -> None:
    hot = ClusterMultiplexedRedis.of(client)
    try:
        await hot.get("warm-up")  # the slot map and a connection per primary
        await asyncio.gather(*(hot.get(f"k{i}") for i in range(30)))  # every node's connection open
        writes = [counting_writes(mux) for mux in hot._nodes.values()]
        assert await asyncio.gather(*(hot.get(f"k{i}") for i in range(60))) == [None] * 60
        assert [len(node) for node in writes] == [1, 1, 1]
    finally:
        await hot.aclose()


async def test_single_slot_multi_key_operations_of_the_store_run_on_the_cluster(client: StoreCluster) -> None:
    """What the store does with several keys at once (MULTI/EXEC, WATCH, MGET), on a real
    cluster: a key in another slot would fail with CROSSSLOT or redis-py's cross-slot error."""
    box, keys = SecretBox(b"k" * 32), Keys(ACCOUNT)
    iam = IamStore(client, account=ACCOUNT, box=box, clock=Clock())
    await iam.create_user("slot-user")
    key = await iam.create_access_key("slot-user")
    assert (await iam.find_access_key(key.access_key_id)).user_name == "slot-user"  # type: ignore[union-attr]
    state = SsoState(client, box, keys)
    await state.put_oidc_client(OidcClient("corp", "https://idp.example", "cid", "sec", "https://t/cb"))
    assert await state.oidc_client_names() == ["corp"]
    assert await state.delete_oidc_client("corp")
    grants = DeviceGrants(client, box)
    assert await grants.create("device-code", "USER-CODE", interval=5, until=time.time() + 60)
    grant = await grants.by_user_code("USER-CODE")
    assert grant is not None and await grants.set_state(grant, "denied", expect="pending")
    assert await grants.count("poll", "127.0.0.1", 60) == 1
    refresh = RefreshGrants(client, box)
    await refresh.create("f" * 22, "secret-1", signin_handle="h", role_arn="arn:aws:iam::1:role/r",
                         until=time.time() + 60)
    found = await refresh.find("f" * 22)
    assert found is not None and await refresh.rotate(found, "secret-2")
    assert await MfaAttempts(client).attempt("SERIAL")
    hot = ClusterMultiplexedRedis.of(client)
    try:
        jwks = JwksCache(hot)
        jwks_key = JwksCache.key("https://idp.example", ["ab" * 20])
        token = await jwks.claim_refresh(jwks_key, 30)
        assert token is not None
        await jwks.finish_refresh(jwks_key, token, "ok", 30)
        assert await jwks.refresh_state(jwks_key) is not None
    finally:
        await hot.aclose()


async def test_after_a_primary_dies_reads_recover_and_writes_fail_with_503(cluster: RedisCluster,
                                                                           client: StoreCluster) -> None:
    hot = ClusterMultiplexedRedis.of(client)
    try:
        key = "sess:failover"
        assert await hot.set(key, "before")
        victim = cluster.primary_for(key)
        cluster.kill(victim)
        # a write on the dead primary's connection: not sent again (it may have run), 503
        with pytest.raises(RedisConnectionError):
            await hot.set(key, "during")
        new_primary = cluster.wait_failover(victim)
        # the next commands find the new primary: no restart, no new client
        assert await hot.get(key) == "before"
        assert await hot.set(key, "after")
        assert await client.get(key) == "after"
        assert f"127.0.0.1:{new_primary}" in hot._nodes and f"127.0.0.1:{victim}" not in hot._nodes
    finally:
        await hot.aclose()
        cluster.restart(victim)


async def test_durable_writes_wait_on_the_primary_that_owns_the_key(cluster: RedisCluster,
                                                                     client: StoreCluster) -> None:
    durable = DurableWrites(ClusterMultiplexedRedis.of(client, wait=(1, 300)))
    try:
        keys = [f"sess:durable-{i}" for i in range(12)]
        assert await asyncio.gather(*(durable.writer.set(k, "v", px=60_000) for k in keys)) == [True] * 12
        for key in keys[:4]:  # the owner's replica has it when the write returns
            replica = sync_redis.Redis(port=cluster.replica_of(cluster.primary_for(key)), decode_responses=True,
                                       single_connection_client=True)
            replica.execute_command("READONLY")  # a cluster replica answers reads only when asked so
            assert replica.get(key) == "v"
        await durable.confirm(Keys(ACCOUNT).tag)  # the IAM shard's replica acknowledges too
        # a stalled replica: its shard's durable writes fail alone (503), the others go on
        stalled_key = keys[0]
        other_key = next(k for k in keys if cluster.primary_for(k) != cluster.primary_for(stalled_key))
        replica = cluster.procs[cluster.replica_of(cluster.primary_for(stalled_key))]
        replica.send_signal(signal.SIGSTOP)
        try:
            with pytest.raises(NotReplicated):
                await durable.writer.set(stalled_key, "w")
            assert await durable.writer.set(other_key, "w") is True
        finally:
            replica.send_signal(signal.SIGCONT)
        assert await durable.writer.set(stalled_key, "x") is True
    finally:
        await durable.aclose()
