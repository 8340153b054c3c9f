"""A demo OpenID issuer that mints ID tokens with any claim, header or key: the good tokens of
the tests and of `tessera dev`, and the raw material of the attack builders (attacks.py).

    issuer = DemoIssuer("https://oidc.demo.tessera.test")
    token = issuer.token(sub="repo:acme/app:ref:refs/heads/main", aud="sts.amazonaws.com")
    token = issuer.token(alg="PS256", kid="demo-rsa-b", claims={"amr": ["mfa"]}, exp_in=-600)
    issuer.jwks()          # {"keys": [...]} of its published keys
    issuer.discovery()     # the openid-configuration document (jwks_uri: <url>/jwks)

`token` arguments: `sub`, `aud` (a string or a list), `alg` (default: the signing key's),
`key` (an IssuerKey or a key file name of material.KEYS; default: the first published key
that can sign `alg`), `kid` (default: the signing key's kid; `OMIT`: no kid header; any other
string: that kid, whatever key signs), `claims` and `headers` (added last, override anything;
a value `OMIT` removes the member), `now` (default: `clock()`), `ttl`, and `exp_in`, `iat_in`,
`nbf_in` (seconds from `now`; `nbf` is only present when given).
"""
from __future__ import annotations

import itertools
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from idp_fixtures.oidc.documents import discovery_document, jwks_document
from idp_fixtures.oidc.jws import compact
from idp_fixtures.oidc.material import IssuerKey, demo_keys, load

DEMO_ISSUER = "https://oidc.demo.tessera.test"
DEMO_CLIENT_ID = "tessera-demo"


class _Omit:
    def __repr__(self) -> str:
        return "OMIT"


OMIT: Any = _Omit()
_counter = itertools.count(1)


def _fits(key: IssuerKey, alg: str) -> bool:
    if alg[:2] in ("RS", "PS"):
        return key.alg[:2] in ("RS", "PS")
    return key.alg == alg


def _merge(base: dict[str, Any], extra: Mapping[str, Any] | None) -> dict[str, Any]:
    for name, value in (extra or {}).items():
        if value is OMIT:
            base.pop(name, None)
        else:
            base[name] = value
    return base


class DemoIssuer:
    """An issuer at `url` publishing `keys` (default: the demo keys, RSA first)."""

    def __init__(self, url: str = DEMO_ISSUER, keys: Sequence[IssuerKey] | None = None, *,
                 client_id: str = DEMO_CLIENT_ID, clock: Callable[[], float] = time.time) -> None:
        self.url = url
        self.keys: list[IssuerKey] = list(keys) if keys is not None else demo_keys()
        self.client_id = client_id
        self.clock = clock

    def key(self, which: IssuerKey | str | None = None, alg: str | None = None) -> IssuerKey:
        if isinstance(which, IssuerKey):
            return which
        if which is not None:
            for key in self.keys:
                if which in (key.kid, key.name):
                    return key
            return load(which)
        for key in self.keys:
            if alg is None or _fits(key, alg):
                return key
        raise LookupError(f"no published key can sign {alg}")

    @property
    def jwks_uri(self) -> str:
        return f"{self.url.rstrip('/')}/jwks"

    def jwks(self, *, alg: bool = False, **options: Any) -> dict[str, Any]:
        """The published key set. Keys carry no `alg` by default (RFC 7517 makes it optional), so
        one RSA key serves RS* and PS* alike; `alg=True` pins each key to its default alg."""
        return jwks_document(self.keys, alg=alg, **options)

    def discovery(self, jwks_uri: str | None = None, /, **overrides: Any) -> dict[str, Any]:
        return discovery_document(self.url, jwks_uri or self.jwks_uri, **overrides)

    def claims(self, sub: str = "demo-user", aud: str | list[str] | None = None, *, now: float | None = None,
               ttl: int = 600, exp_in: int | None = None, iat_in: int = 0, nbf_in: int | None = None,
               claims: Mapping[str, Any] | None = None) -> dict[str, Any]:
        at = int(self.clock() if now is None else now)
        out: dict[str, Any] = {
            "iss": self.url, "sub": sub, "aud": self.client_id if aud is None else aud,
            "exp": at + (ttl if exp_in is None else exp_in), "iat": at + iat_in,
            "jti": f"{uuid.uuid4().hex}-{next(_counter)}",
        }
        if nbf_in is not None:
            out["nbf"] = at + nbf_in
        return _merge(out, claims)

    def token(self, sub: str = "demo-user", aud: str | list[str] | None = None, *, alg: str | None = None,
              key: IssuerKey | str | None = None, kid: Any = None, claims: Mapping[str, Any] | None = None,
              headers: Mapping[str, Any] | None = None, now: float | None = None, ttl: int = 600,
              exp_in: int | None = None, iat_in: int = 0, nbf_in: int | None = None) -> str:
        signer = self.key(key, alg)
        alg = alg or signer.alg
        header: dict[str, Any] = {"alg": alg, "typ": "JWT"}
        chosen = signer.kid if kid is None else kid
        if chosen is not OMIT and chosen is not None:
            header["kid"] = chosen
        _merge(header, headers)
        payload = self.claims(sub, aud, now=now, ttl=ttl, exp_in=exp_in, iat_in=iat_in, nbf_in=nbf_in, claims=claims)
        return compact(header, payload, key=signer.private_key, alg=alg)
