"""µs per OIDC web identity token validation: Tessera's `validate_web_identity_token` (strict
parse, key-derived algorithm allow-list, signature, claims, FederatedIdentity) beside a bare
python-jose `jwt.decode` with a pre-built key (the issue's baseline), per algorithm.

Run: python tests/bench/bench_oidc.py [--rounds 15] [--batch 2000]
(prints medians over interleaved rounds; asserts nothing about time). `+peek` is what the service
pays: `peek` (provider lookup) then validation reusing its parse. python-jose has no PS*
algorithms, so PS256 has no jose figure; the `verify only` column is cryptography's signature
check alone (the floor every validator pays) for context.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from jose import jwk as jose_jwk  # noqa: E402
from jose import jwt as jose_jwt  # noqa: E402

from app.federation.oidc.compact import parse  # noqa: E402
from app.federation.oidc.signature import verify  # noqa: E402
from app.federation.oidc.validate import KeySet, OidcTrust, peek, validate_web_identity_token  # noqa: E402
from idp_fixtures.oidc.issuer import DemoIssuer  # noqa: E402
from idp_fixtures.oidc.material import load  # noqa: E402

CASES = [("RS256", "rsa-a"), ("PS256", "rsa-a"), ("ES256", "ec-p256"), ("ES384", "ec-p384")]


def per_op(fn: Callable[[], object], batch: int) -> float:
    # CPU time of this thread: other processes on a shared machine do not inflate it the way they
    # inflate wall-clock time (cache and frequency effects remain).
    t0 = time.thread_time()
    for _ in range(batch):
        fn()
    return (time.thread_time() - t0) / batch * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--batch", type=int, default=2000)
    args = parser.parse_args()
    issuer = DemoIssuer()
    now = time.time()
    trust = OidcTrust(issuer.url, ("tessera-demo", "sts.amazonaws.com"))
    keys = KeySet.from_jwks(issuer.jwks())
    print(f"CPU µs/op; median [best] of {args.rounds} interleaved rounds × {args.batch} ops (best: the least-disturbed round)")
    print(f"{'alg':6} {'tessera':>15} {'+peek':>15} {'python-jose':>15} {'ratio':>11} {'verify only':>15}")
    for alg, key_name in CASES:
        key = load(key_name)
        token = issuer.token(alg=alg, key=key_name, aud="sts.amazonaws.com",
                             claims={"amr": ["mfa"], "repository": "acme/app", "ref": "refs/heads/main"})
        ours = lambda: validate_web_identity_token(token, trust, keys, now)  # noqa: E731
        with_peek = lambda: validate_web_identity_token(token, trust, keys, now, peeked=peek(token))  # noqa: E731
        parsed = parse(token)
        selected = keys.select(key.kid)
        assert selected is not None
        floor = lambda: verify(selected, alg, parsed.signing_input, parsed.signature)  # noqa: E731
        jose: Callable[[], object] | None = None
        if not alg.startswith("PS"):
            jose_key = jose_jwk.construct(key.public_jwk(alg=False), alg)  # pre-built once
            jose = lambda: jose_jwt.decode(token, jose_key, algorithms=[alg], audience="sts.amazonaws.com",  # noqa: E731
                                           issuer=issuer.url)
            jose()
        ours()
        samples: dict[str, list[float]] = {"ours": [], "peek": [], "jose": [], "floor": []}
        for _ in range(args.rounds):  # interleaved: machine load drifts alike for all
            samples["ours"].append(per_op(ours, args.batch))
            if jose is not None:
                samples["jose"].append(per_op(jose, args.batch))
            samples["peek"].append(per_op(with_peek, args.batch))
            samples["floor"].append(per_op(floor, args.batch))
        med = {k: statistics.median(v) for k, v in samples.items() if v}
        best = {k: min(v) for k, v in samples.items() if v}

        def cell(name: str) -> str:
            return f"{med[name]:7.1f} [{best[name]:5.1f}]" if name in med else f"{'n/a':>15}"

        ratio = f"{med['ours'] / med['jose']:4.2f} [{best['ours'] / best['jose']:4.2f}]" if "jose" in med else f"{'-':>11}"
        print(f"{alg:6} {cell('ours'):>15} {cell('peek'):>15} {cell('jose'):>15} {ratio:>11} {cell('floor'):>15}")


if __name__ == "__main__":
    main()
