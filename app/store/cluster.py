"""Redis Cluster as the store: redis-py's asyncio cluster client, with the store's recovery policy.

    redis+cluster://[USER:PASSWORD@]HOST:PORT[,HOST:PORT...][?OPTIONS]
    rediss+cluster://...   the same, with TLS to every node

HOST:PORT are seed nodes (1 to 16; IPv6 in brackets): any reachable one tells the client the
whole cluster (CLUSTER SLOTS). A cluster has no databases: a path other than `/` or `/0` is
refused. OPTIONS, each at most once, for TLS only: `ssl_ca_certs`, `ssl_certfile`, `ssl_keyfile`
(file paths) and `ssl_cert_reqs` (`required`, the default, or `none`). Anything else is refused:
a typo must not be ignored silently.

Keys: the schema (app.store.keys) puts every key a multi-key operation touches under one hash
tag (an account's IAM state under `{iam:ACCOUNT}`), so each MULTI/EXEC runs on one node; a
session is one untagged key, so sessions spread over the shards.

The store's recovery policy (app.store.connection) holds in the cluster too:
- Every node connection is a `recovering()` one (a read that fails on a dropped connection is
  sent once more on a new one; a write, MULTI/EXEC included, never), PINGed after
  HEALTH_CHECK_INTERVAL idle seconds.
- redis-py's own cluster retries (three, with backoff, writes included) are off. A node that
  fails (connection refused or dropped, timeout) or that refuses the command because the slot
  map moved (MOVED / ASK are followed by redis-py itself), the cluster is down or the node was
  demoted (CLUSTERDOWN, TRYAGAIN, MASTERDOWN, READONLY) makes the client read the slot map again
  before its next command. The command is sent once more, after that refresh, when it is a read
  or was refused (nothing ran); otherwise it fails with redis-py's ConnectionError (503).
- A slot map that cannot be read (no node answers, or they disagree) is a ConnectionError too
  (SlotMapUnavailable: 503, not asked again for the same command).
So a failover costs the writes in flight on the lost primary a 503, and the first commands after
it find the new primary without a restart.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, cast

from redis.asyncio.cluster import ClusterNode, ClusterPipeline, RedisCluster
from redis.asyncio.connection import Connection, SSLConnection
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import (AskError, ClusterDownError, ClusterError, MasterDownError, ReadOnlyError,
                              RedisClusterException, SlotNotCoveredError, TryAgainError)
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.maint_notifications import MaintNotificationsConfig

from app.store import redis_urls
from app.store.connection import CLUSTER_SCHEMES, HEALTH_CHECK_INTERVAL, recovering, repeatable

SHAPE = "redis+cluster://[USER:PASSWORD@]HOST:PORT[,HOST:PORT...][?OPTIONS]"

# replies that refused the command (nothing ran): safe to send again once the slot map is read anew
REFUSED = (ClusterDownError, TryAgainError, MasterDownError, ReadOnlyError, AskError, SlotNotCoveredError)
# what says the node or the slot map is no longer what the client believes
NODE_FAILURES = (RedisConnectionError, RedisTimeoutError, OSError, ClusterError, *REFUSED)


class ClusterUrlError(ValueError):
    """A redis+cluster:// URL that cannot be used; the message says why (never the password)."""


def _bad(why: str) -> ClusterUrlError:
    return ClusterUrlError(f"invalid Redis Cluster URL: {why} (expected {SHAPE})")


@dataclass(frozen=True)
class ClusterUrl:
    seeds: tuple[tuple[str, int], ...]
    tls: bool = False
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    ssl: dict[str, Any] = field(default_factory=dict)


def parse_cluster_url(url: str) -> ClusterUrl:
    """The parts of a cluster URL; raises ClusterUrlError with a one-line reason."""
    scheme, netloc, path, query = redis_urls.split_url(url, CLUSTER_SCHEMES, _bad)
    if path not in ("", "0"):
        raise _bad(f"a cluster has no databases, got the path `/{path[:32]}`")
    username, password, seeds = redis_urls.credentials_and_hosts(netloc, _bad, host="seed node",
                                                                 hosts="seed nodes")
    tls = scheme == "rediss+cluster"
    given = redis_urls.options(query, redis_urls.TLS_OPTIONS, _bad)
    if given and not tls:
        raise _bad("TLS options need the rediss+cluster scheme")
    return ClusterUrl(seeds, tls, username, password, redis_urls.tls_options(given, _bad) if tls else {})


def as_unavailable(exc: BaseException) -> RedisConnectionError:
    """A cluster failure as the ConnectionError the wire answers with 503."""
    if isinstance(exc, RedisConnectionError):
        return exc
    return RedisConnectionError(f"the Redis Cluster failed the command ({type(exc).__name__})")


class SlotMapUnavailable(RedisConnectionError):
    """The slot map could not be read: no seed or known node answered, or they disagree or
    leave slots uncovered (a failover under way). redis-py says so with RedisClusterException,
    which is no RedisError: the wire would answer 500."""


class StoreCluster(RedisCluster):
    """redis-py's cluster client under the store's recovery policy (module docstring)."""

    async def initialize(self, *args: Any, **kwargs: Any) -> "StoreCluster":
        """Read the slot map when due (every command and pipeline, and the hot path's
        multiplexer, come through here); failing to is a 503, as a failed connect is."""
        try:
            await super().initialize(*args, **kwargs)
        except RedisClusterException as exc:
            raise SlotMapUnavailable(f"the Redis Cluster's slot map could not be read ({exc})") from exc
        return self

    async def execute_command(self, *args: Any, **kwargs: Any) -> Any:
        for attempt in (1, 2):
            try:
                return await super().execute_command(*args, **kwargs)
            except NODE_FAILURES as exc:
                self._initialize = True  # the next command reads the slot map first
                # not after a timeout or an unreadable slot map: asking again would double the wait
                again = isinstance(exc, REFUSED) or (
                    repeatable(args) and not isinstance(exc, (RedisTimeoutError, SlotMapUnavailable)))
                if attempt == 2 or not again or "target_nodes" in kwargs:
                    raise as_unavailable(exc) from exc
        raise AssertionError("unreachable")

    def pipeline(self, transaction: bool | None = None, shard_hint: Any = None) -> ClusterPipeline:
        return StorePipeline(self, transaction=bool(transaction))  # type: ignore[abstract]


class StorePipeline(ClusterPipeline):
    """A cluster pipeline whose failures are 503s (a cluster refusal included) and never sent
    twice: a transaction must run on one slot (the key schema sees to it)."""

    @property
    def explicit_transaction(self) -> bool:
        """Whether `multi()` was called (redis-py's single-server pipeline has this attribute)."""
        return bool(getattr(self._execution_strategy, "_explicit_transaction", False))

    async def execute(self, raise_on_error: bool = True, allow_redirections: bool = True) -> list[Any]:
        try:
            return await super().execute(raise_on_error, allow_redirections)
        except NODE_FAILURES as exc:
            self.cluster_client._initialize = True
            raise as_unavailable(exc) from exc

    async def watch(self, *names: Any) -> Any:  # type: ignore[override]
        try:
            return await super().watch(*names)  # type: ignore[no-untyped-call]
        except NODE_FAILURES as exc:
            self.cluster_client._initialize = True
            raise as_unavailable(exc) from exc


def connect_cluster(url: str, *, max_connections: int = 64, wait: float = 5.0) -> StoreCluster:
    """The store's client for a cluster URL: at most `max_connections` per node (a burst
    beyond gets redis-py's MaxConnectionsError, a ConnectionError: 503). `wait` bounds the
    socket timeouts. Nothing is contacted before the first command."""
    parts = parse_cluster_url(url)
    client = StoreCluster(
        startup_nodes=[ClusterNode(host, port) for host, port in parts.seeds],
        username=parts.username,
        password=parts.password,
        ssl=parts.tls,
        **parts.ssl,
        decode_responses=True,
        max_connections=max_connections,
        retry=Retry(NoBackoff(), 0),
        socket_connect_timeout=min(2.0, wait),
        socket_timeout=max(wait, 1.0),
        health_check_interval=HEALTH_CHECK_INTERVAL,
        maint_notifications_config=MaintNotificationsConfig(enabled=False),
    )
    node_class = cast("type[Connection]", recovering(SSLConnection if parts.tls else Connection))
    client.connection_kwargs["connection_class"] = node_class  # every node discovered from now on
    for node in client.nodes_manager.startup_nodes.values():
        node.connection_class = node_class
    return client
