"""The composition root: builds every settings-driven object once and wires them.

Nothing below this module constructs its own dependencies; nothing here is a global.
"""
from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from app.wire.query import QueryFastPath

from app.core.clock import Clock
from app.core.records import Call, Caller, RequestMeta
from app.core import arn as arns
from app.settings import Settings
from app.store.connection import connect
from app.store.secretbox import SecretBox


@dataclass
class Container:
    settings: Settings
    redis: Any
    hot: Any
    clock: Clock
    box: SecretBox
    iam_store: Any
    session_store: Any
    tokens: Any
    authenticator: Any
    authorizer: Any
    iam: Any
    sts: Any
    codec: Any
    verifier: Any
    metrics: Any
    recorder: Any
    oidc_keys: Any = None  # app.services.oidc_keys.OidcKeys: AssumeRoleWithWebIdentity's key discovery
    oidc_fetcher: Any = None  # its HTTP client (closed at shutdown)
    sso: Any = None  # app.services.sso.SsoService: browser sign-in records, role lists, role choice
    sso_login: Any = None  # app.services.sso_login.SsoLogin: SAML / OIDC browser logins
    sso_state: Any = None  # app.store.sso_state.SsoState (also the OIDC browser clients)
    cli_handoff: Any = None  # app.sso.handoff.CliHandoff: the picker's credentials to `tessera login`
    cli_refresh: Any = None  # app.store.cli_refresh.RefreshGrants: `tessera credential-process` renewals
    device_grants: Any = None  # app.store.device_grants.DeviceGrants: `tessera login --no-browser`
    durable: Any = None  # app.store.durable.DurableWrites when TESSERA_REDIS_WAIT_REPLICAS > 0
    password_signin: Any = None  # app.services.sso_password.PasswordSignIn: IAM users on the sign-in page

    def root_call(self) -> Call:
        """A Call as the account root, for bootstrap and the demo seed (never from the network)."""
        account = self.settings.account_id
        caller = Caller(
            kind="root",
            account=account,
            arn=arns.root(account),
            user_id=account,
            principal_arn=arns.root(account),
            access_key_id="bootstrap",
        )
        return Call(caller, RequestMeta(request_id="bootstrap", received_at=self.clock.time()))


def build(settings: Settings, redis: Any, *, log_stream: Any = None) -> Container:
    from app.audit.log import AuditLog, JsonLogger
    from app.services.authn import Authenticator
    from app.policy.managed import aws_managed_policies
    from app.services.authz import Authorizer
    from app.services.mfa import TotpVerifier
    from app.services.oidc_fetch import HttpFetcher
    from app.services.oidc_keys import OidcKeys
    from app.services.oidc_signin import OidcFederation
    from app.services.root_key import ConfiguredRootKey
    from app.services.iam import IamService
    from app.services.last_accessed import AccessUsage
    from app.services.last_used import RoleUsage
    from app.federation.saml.validate import SamlSettings
    from app.services.saml_signin import SamlFederation
    from app.services.saml_verifier import SamlVerifier
    from app.services.sts import StsService
    from app.services.tokens import SessionTokens
    from app.store.iam_cache import CachedIamReads
    from app.store.iam_store import IamStore
    from app.store.keys import Keys
    from app.store.mfa_attempts import MfaAttempts
    from app.store.oidc_jwks import JwksCache
    from app.store.replay_marks import ReplayMarks
    from app.store.access_usage import AccessUsageStore
    from app.store.role_usage import RoleUsageStore
    from app.store.durable import DurableWrites
    from app.store.sessions import SessionStore
    from app.wire.codec import QueryCodec
    from app.wire.metrics import Metrics
    from app.wire.observe import RequestRecorder
    from app.wire.sigv4 import SigV4Verifier

    if settings.master_key is None:
        raise ValueError("a master key is required to build the service")
    clock = Clock()
    box = SecretBox(settings.master_key)
    account = settings.account_id
    aws_policies = aws_managed_policies()  # read-only data, shared by the process, loaded on first use
    hot = multiplexer(redis)  # concurrent hot-path commands share one connection (per cluster node)
    # TESSERA_REDIS_WAIT_REPLICAS: credentials are returned once replicas have them (app.store.durable)
    durable = None
    if settings.redis_wait_replicas:
        durable = DurableWrites(multiplexer(redis, wait=(settings.redis_wait_replicas,
                                                         settings.redis_wait_timeout_ms)))
    iam_store = IamStore(redis, account=account, box=box, clock=clock, aws_policies=aws_policies, durable=durable)
    hot_reads = CachedIamReads(iam_store, hot, Keys(account))  # per-IAM-epoch cache
    session_store = SessionStore(hot, box=box, clock=clock, writer=durable.writer if durable else None)
    tokens = SessionTokens(box)
    root = None
    if settings.root_access_key_id and settings.root_secret_access_key:
        root = ConfiguredRootKey(iam_store, settings.root_access_key_id, settings.root_secret_access_key,
                                 account=account)
    authenticator = Authenticator(hot_reads, session_store, tokens, account=account, clock=clock, root=root)
    access = AccessUsage(AccessUsageStore(hot, Keys(account)), clock)  # access advisor's records
    authorizer = Authorizer(hot_reads, account=account, clock=clock, aws_policies=aws_policies, usage=access)
    iam = IamService(iam_store, authorizer, account=account, clock=clock, aws_policies=aws_policies)
    mfa = TotpVerifier(iam_store, MfaAttempts(redis), clock=clock)
    saml_settings = SamlSettings(audience=settings.saml_entity_id, recipient=f"{settings.public_url}/saml")
    saml = SamlFederation(hot_reads, SamlVerifier(saml_settings), ReplayMarks(hot), account=account, clock=clock)
    usage = RoleUsage(RoleUsageStore(hot, Keys(account)), clock)  # RoleLastUsed, written with the session
    oidc_fetcher = HttpFetcher.create(ca_bundle=settings.oidc_ca_bundle)  # one HTTP client per process
    oidc_keys = OidcKeys(JwksCache(hot), oidc_fetcher, clock=clock)  # JWKS cached in Redis, shared
    oidc = OidcFederation(hot_reads, oidc_keys, ReplayMarks(hot), account=account, clock=clock)
    sts = StsService(hot_reads, session_store, tokens, authorizer, account=account, clock=clock, mfa=mfa, saml=saml,
                     oidc=oidc, usage=usage)
    from app.services.sso import SsoService
    from app.services.sso_login import SsoLogin
    from app.store.sso_state import SsoState
    from app.sso.handoff import CliHandoff
    from app.store.cli_refresh import RefreshGrants
    from app.store.device_grants import DeviceGrants

    sso_state = SsoState(redis, box, Keys(account))  # not the hot path: the plain client
    from app.services.passwords import Passwords
    from app.services.sso_password import PasswordSignIn
    from app.services.sso_user_roles import UserRoleChoices
    from app.store.signin_throttle import SignInThrottle

    sso = SsoService(sts, hot_reads, iam_store, sso_state, account=account, clock=clock,
                     users=UserRoleChoices(sts, hot_reads, iam_store, account=account))
    passwords = Passwords()  # one argon2 pool per process: ChangePassword's and the sign-in page's
    iam._pw = passwords
    password_signin = PasswordSignIn(iam_store, passwords, SignInThrottle(redis, box), mfa, iam, sso_state, sso,
                                     account=account, clock=clock)
    sso_login = SsoLogin(saml, oidc, saml_settings, hot_reads, iam_store, sso_state, oidc_fetcher, account=account,
                         clock=clock)
    logger = JsonLogger(log_stream, clock)
    metrics = Metrics(counters=lambda: {
        "tessera_log_lines_lost_total": ("Log and audit lines dropped because the log stream kept failing.",
                                         logger.lost)})
    codec = QueryCodec()
    recorder = RequestRecorder(metrics=metrics, audit=AuditLog(logger), logger=logger, clock=clock,
                               trails=codec.trail)
    return Container(
        settings=settings,
        redis=redis,
        hot=hot,
        clock=clock,
        box=box,
        iam_store=iam_store,
        session_store=session_store,
        tokens=tokens,
        authenticator=authenticator,
        authorizer=authorizer,
        iam=iam,
        sts=sts,
        codec=codec,
        verifier=SigV4Verifier(clock=clock),
        metrics=metrics,
        recorder=recorder,
        oidc_keys=oidc_keys,
        oidc_fetcher=oidc_fetcher,
        sso=sso,
        sso_login=sso_login,
        sso_state=sso_state,
        cli_handoff=CliHandoff(sso_state),
        cli_refresh=RefreshGrants(redis, box),
        device_grants=DeviceGrants(redis, box),
        durable=durable,
        password_signin=password_signin,
    )


def asgi(container: Container) -> QueryFastPath:
    import threading

    from app.policy.managed import aws_managed_policies
    from app.audit.log import AuditLog
    from app.policy.simulation import simulate
    from app.sso.audit import SsoAudit
    from app.sso.cookies import Cookies, secure_for
    from app.sso.password_routes import password_routes
    from app.sso.routes import SsoDeps
    from app.sso.cli_routes import CliDeps, routes as cli_routes
    from app.sso.refresh import SsoMinter
    from app.wire.app import WireDeps, create_app
    from app.wire.dispatch import Dispatcher

    async def ready() -> bool:
        return bool(await container.redis.ping())

    async def startup() -> None:
        # the AWS managed policies are read in the background: neither start-up nor the first
        # request that needs them waits for the file (~30 ms; a request arriving sooner waits less)
        threading.Thread(target=_load_then_freeze, args=(aws_managed_policies().load,), name="aws-policies",
                         daemon=True).start()

    async def shutdown() -> None:
        container.recorder.logger.flush()
        if container.oidc_fetcher is not None:
            await container.oidc_fetcher.aclose()
        for client in (container.hot, container.durable, container.redis):
            close = getattr(client, "aclose", None)
            if close is not None:
                await close()

    routes = password_routes(SsoDeps(
        login=container.sso_login, sso=container.sso,
        audit=SsoAudit(AuditLog(container.recorder.logger), account=container.settings.account_id),
        cookies=Cookies(container.box, secure=secure_for(container.settings.public_url)), clock=container.clock,
        public_url=container.settings.public_url, entity_id=container.settings.saml_entity_id,
        sp_certificates=container.settings.saml_sp_certificates, handoff=getattr(container, "cli_handoff", None)),
        container.password_signin, container.box, account=container.settings.account_id)
    deps = WireDeps(
        codec=container.codec,
        verifier=container.verifier,
        authenticator=container.authenticator,
        authorizer=container.authorizer,
        dispatcher=Dispatcher({"iam": container.iam, "sts": container.sts}),
        recorder=container.recorder,
        metrics=container.metrics,
        clock=container.clock,
        ready=ready,
        simulate=simulate,
        startup=startup,
        shutdown=shutdown,
        routes=[*routes, *cli_routes(CliDeps(
            handoffs=container.sso_state, refresh=container.cli_refresh, devices=container.device_grants,
            minter=SsoMinter(container.sso), recorder=container.recorder, clock=container.clock,
            public_url=container.settings.public_url, secure_cookies=secure_for(container.settings.public_url),
            choices=container.sso_login.choices))],
    )
    return create_app(deps)


def multiplexer(redis: Any, *, wait: tuple[int, int] | None = None) -> Any:
    """The hot path's client for the store `redis`: one multiplexed connection, or one per
    primary on a Redis Cluster; `wait`: durable writes (app.store.multiplex)."""
    from app.store.cluster import StoreCluster
    from app.store.cluster_multiplex import ClusterMultiplexedRedis
    from app.store.multiplex import MultiplexedRedis

    if isinstance(redis, StoreCluster):
        return ClusterMultiplexedRedis.of(redis, wait=wait)
    return MultiplexedRedis.of(redis, wait=wait)


def app_from_env() -> QueryFastPath:
    """uvicorn factory for `tessera serve` workers: settings from the environment."""
    host = os.environ.get("TESSERA_BIND_HOST", "127.0.0.1")
    port = int(os.environ.get("TESSERA_BIND_PORT", "8080"))
    settings = Settings.from_env(mode="serve", host=host, port=port)
    assert settings.redis_url is not None
    container = build(settings, connect(settings.redis_url))
    install_logging(container)
    app = asgi(container)
    tune_gc()
    return app


def _load_then_freeze(load: Callable[[], object]) -> None:
    """Run a start-up load in the background, then move what it built out of the collector's
    sight too (tune_gc froze the heap before it): a catalog left unfrozen would be walked by
    every full collection, a latency spike on whichever request triggers it."""
    import gc

    load()
    gc.freeze()


def tune_gc() -> None:
    """Move everything built at start-up out of the collector's sight and collect the young
    generation less often: a request allocates many short-lived objects, and frequent
    collections that walk long-lived ones show up as latency spikes (p99)."""
    import gc

    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 50, 100)


def install_logging(container: Container) -> None:
    """Route the process's `tessera.*` log records into the JSON log (once per process)."""
    from app.audit.log import install

    install(container.recorder.logger)


async def ensure_root_key(container: Container) -> tuple[str, str] | None:
    """Store the configured root key, or generate one on first start.

    Returns (access key id, secret) when a key was generated now (to be printed once), else None.
    """
    from app.core import ids

    settings = container.settings
    if settings.root_access_key_id and settings.root_secret_access_key:
        await container.iam_store.ensure_root_access_key(settings.root_access_key_id, settings.root_secret_access_key)
        return None
    existing = await container.iam.list_access_keys(container.root_call())
    if existing.get("access_key_metadata"):
        return None
    akid, secret = ids.access_key_id(ids.LONG_TERM_KEY), ids.secret_access_key()
    await container.iam_store.ensure_root_access_key(akid, secret)
    return akid, secret
