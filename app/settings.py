"""Settings from the environment (see CONTRACT.md). Invalid settings fail fast, in one line."""
from __future__ import annotations

import base64
import binascii
import os
import re
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

_ACCOUNT = re.compile(r"[0-9]{12}")
_AKID = re.compile(r"[A-Z0-9]{16,128}")
_MAX_SECRET_FILE = 64 * 1024  # a setting read from a *_FILE: a key or a URL, never more


class SettingsError(Exception):
    """A setting is missing or invalid; the message is the one line the CLI prints."""


@dataclass(frozen=True)
class Settings:
    redis_url: str | None
    account_id: str = "000000000000"
    root_access_key_id: str | None = None
    root_secret_access_key: str | None = field(default=None, repr=False)
    public_url: str = "http://127.0.0.1:8080"
    saml_entity_id: str = "http://127.0.0.1:8080/saml"
    master_key: bytes | None = field(default=None, repr=False)
    oidc_ca_bundle: str | None = None  # PEM CA bundle for OIDC IdPs' TLS; None: the system's CA store
    saml_sp_certificates: tuple[str, ...] = ()  # TESSERA_SAML_SP_CERT: base64 DER, the SP metadata's encryption certs
    host: str = "127.0.0.1"
    port: int = 8080
    redis_wait_replicas: int = 0  # TESSERA_REDIS_WAIT_REPLICAS: replicas that must have a credential first
    redis_wait_timeout_ms: int = 1000  # TESSERA_REDIS_WAIT_TIMEOUT_MS: how long to wait for them

    @classmethod
    def from_env(
        cls,
        env: Mapping[str, str] | None = None,
        *,
        mode: str = "serve",
        host: str = "127.0.0.1",
        port: int = 8080,
    ) -> Settings:
        env = os.environ if env is None else env
        redis_url = _value(env, "TESSERA_REDIS_URL")
        if mode == "serve":
            if not redis_url:
                raise SettingsError("TESSERA_REDIS_URL is required for `tessera serve` (e.g. redis://127.0.0.1:6379/0)")
            if not redis_url.startswith(("redis://", "rediss://", "unix://", "redis+cluster://", "rediss+cluster://",
                                         "redis+sentinel://", "rediss+sentinel://")):
                raise SettingsError("TESSERA_REDIS_URL must be a redis://, rediss://, redis+cluster:// or "
                                    f"redis+sentinel:// URL, got one {_scheme_shown(redis_url)}")
            _check_store_url(redis_url)
        account = env.get("TESSERA_ACCOUNT_ID", "000000000000")
        if not _ACCOUNT.fullmatch(account):
            raise SettingsError(f"TESSERA_ACCOUNT_ID must be 12 digits, got `{account}`")
        akid = _value(env, "TESSERA_ROOT_ACCESS_KEY_ID")
        secret = _value(env, "TESSERA_ROOT_SECRET_ACCESS_KEY")
        if (akid is None) != (secret is None):
            raise SettingsError("set both TESSERA_ROOT_ACCESS_KEY_ID and TESSERA_ROOT_SECRET_ACCESS_KEY, or neither")
        if akid is not None and not _AKID.fullmatch(akid):
            raise SettingsError("TESSERA_ROOT_ACCESS_KEY_ID must be 16-128 upper-case letters and digits (AKIA...)")
        if secret is not None and len(secret) < 16:
            raise SettingsError("TESSERA_ROOT_SECRET_ACCESS_KEY must be at least 16 characters")
        public_url = (env.get("TESSERA_PUBLIC_URL") or f"http://{_host_for_url(host)}:{port}").rstrip("/")
        if not public_url.startswith(("http://", "https://")):
            raise SettingsError(f"TESSERA_PUBLIC_URL must be an http(s) URL, got `{public_url}`")
        entity_id = env.get("TESSERA_SAML_ENTITY_ID") or f"{public_url}/saml"
        master_key = _master_key(_value(env, "TESSERA_MASTER_KEY"), required=(mode == "serve"))
        ca_bundle = _ca_bundle(env.get("TESSERA_OIDC_CA_BUNDLE") or None)
        sp_certs = _certificates(env.get("TESSERA_SAML_SP_CERT") or None)
        # durability is a property of the real store: `tessera dev`'s embedded one has no replicas
        wait_replicas = _int(env, "TESSERA_REDIS_WAIT_REPLICAS", 0, 0, 100) if mode == "serve" else 0
        wait_timeout = _int(env, "TESSERA_REDIS_WAIT_TIMEOUT_MS", 1000, 1, 60_000)
        return cls(
            redis_url=redis_url,
            account_id=account,
            root_access_key_id=akid,
            root_secret_access_key=secret,
            public_url=public_url,
            saml_entity_id=entity_id,
            master_key=master_key,
            oidc_ca_bundle=ca_bundle,
            saml_sp_certificates=sp_certs,
            host=host,
            port=port,
            redis_wait_replicas=wait_replicas,
            redis_wait_timeout_ms=wait_timeout,
        )

    def with_master_key(self, key: bytes) -> Settings:
        return replace(self, master_key=key)


def _value(env: Mapping[str, str], name: str) -> str | None:
    """`name` from the environment or, for the secrets, from the file that `name_FILE` names
    (Docker and Kubernetes secrets are files): its text without the whitespace around it."""
    value = env.get(name) or None
    path = env.get(f"{name}_FILE") or None
    if path is None:
        return value
    if value is not None:
        raise SettingsError(f"set {name} or {name}_FILE, not both")
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read(_MAX_SECRET_FILE + 1)
    except OSError as exc:
        raise SettingsError(f"{name}_FILE `{path}` cannot be read: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise SettingsError(f"{name}_FILE `{path}` is not UTF-8 text") from None
    if len(text) > _MAX_SECRET_FILE:
        raise SettingsError(f"{name}_FILE `{path}` is larger than {_MAX_SECRET_FILE} bytes")
    if not text.strip():
        raise SettingsError(f"{name}_FILE `{path}` is empty")
    return text.strip()


def _int(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    """An integer setting within [low, high]."""
    raw = (env.get(name) or "").strip()
    if not raw:
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise SettingsError(f"{name} must be a whole number from {low} to {high}, got `{raw[:32]}`")
    return int(raw)


def _scheme_shown(url: str) -> str:
    """How a refused store URL is named in the error: by its scheme only (the rest may hold a
    password, and the error line is printed and logged)."""
    scheme, sep, _ = url.partition("://")
    if not sep or not scheme.isascii() or not scheme.replace("+", "").replace("-", "").replace(".", "").isalnum():
        return "without a scheme"
    return f"with the scheme `{scheme[:32]}`"


def _host_for_url(host: str) -> str:
    if host in ("0.0.0.0", ""):
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


def _master_key(value: str | None, *, required: bool) -> bytes | None:
    if not value:
        if required:
            raise SettingsError(
                "TESSERA_MASTER_KEY is required for `tessera serve`: a base64 32-byte key "
                "(python -c 'import os,base64;print(base64.b64encode(os.urandom(32)).decode())')"
            )
        return None
    try:
        key = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise SettingsError("TESSERA_MASTER_KEY is not valid base64") from None
    if len(key) != 32:
        raise SettingsError(f"TESSERA_MASTER_KEY must decode to 32 bytes, got {len(key)}")
    return key


def _ca_bundle(path: str | None) -> str | None:
    """The bundle's path when it holds at least one usable CA certificate (PEM)."""
    if path is None:
        return None
    try:
        ctx = ssl.create_default_context(cafile=path)
    except OSError as exc:  # ssl.SSLError is one too
        why = exc.strerror if exc.strerror and not isinstance(exc, ssl.SSLError) else "no PEM certificate in it"
        raise SettingsError(f"TESSERA_OIDC_CA_BUNDLE `{path}` is not a readable PEM CA bundle: {why}") from None
    if not ctx.get_ca_certs():
        raise SettingsError(f"TESSERA_OIDC_CA_BUNDLE `{path}` holds no CA certificate")
    return path


def _certificates(path: str | None) -> tuple[str, ...]:
    """TESSERA_SAML_SP_CERT: a PEM file of one or more X.509 certificates (the certificates of the
    private keys registered on SAML providers), as base64 DER for the SP metadata."""
    if path is None:
        return ()
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    try:
        with open(path, "rb") as fh:
            certs = x509.load_pem_x509_certificates(fh.read())
    except OSError as exc:
        raise SettingsError(f"TESSERA_SAML_SP_CERT `{path}` cannot be read: {exc.strerror}") from None
    except ValueError:
        raise SettingsError(f"TESSERA_SAML_SP_CERT `{path}` holds no PEM certificate") from None
    return tuple(base64.b64encode(c.public_bytes(serialization.Encoding.DER)).decode("ascii") for c in certs)


def _check_store_url(url: str) -> None:
    """A redis+cluster:// or redis+sentinel:// URL is parsed at start-up: a bad one fails fast,
    in one line (the parsers' messages never quote the password)."""
    scheme = url.split("://", 1)[0].lower()
    if scheme in ("redis+cluster", "rediss+cluster"):
        from app.store.cluster import ClusterUrlError as Refused, parse_cluster_url as parse
    elif scheme in ("redis+sentinel", "rediss+sentinel"):
        from app.store.sentinel import SentinelUrlError as Refused, parse_sentinel_url as parse  # type: ignore[assignment]
    else:
        return
    try:
        parse(url)
    except Refused as exc:
        raise SettingsError(f"TESSERA_REDIS_URL: {exc}") from None
