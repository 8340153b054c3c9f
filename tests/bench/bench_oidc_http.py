"""HTTP benchmark: AssumeRoleWithWebIdentity, Tessera vs moto_server, same request, same run.

    python tests/bench/bench_oidc_http.py [--duration 10] [--warmup 2] [--rounds 3] [--alg RS256]
                                          [--skip-moto] [--redis-url redis://127.0.0.1:6379/13]
                                          [--reference] [--json results.json]

The method of bench_http.py (README): each server pinned to core 0 (Tessera: one uvicorn
worker), wrk -t1 -c32 from core 1 replaying ONE prepared request, an idle-core wait and an
unmeasured warm-up before each run, INVALID on any non-2xx answer or socket error. The call is
unsigned, so the request is the same bytes for both servers: an ID token of the demo issuer
(idp_fixtures.oidc, RS256 by default, valid 2 hours, not one-time) for role `bench-web`.

The issuer runs in this process (idp_fixtures.oidc.server.IssuerServer on loopback, core 1):
Tessera fetches its discovery document and key set once (the request is sent once before the
runs) and then answers from its per-process key cache; the script reports the issuer's fetch
counts. moto verifies nothing (it does not even fetch keys).

Load on the machine drifts (other test suites run beside it), so the servers are measured in
`--rounds` alternating rounds (moto, Tessera, moto, Tessera, ...) and the median round of each
is compared; the load average is printed before and after.

Both servers are provisioned the same way through boto3: the issuer as OIDC provider (client id
`sts.amazonaws.com`), role `bench-web` trusting it with conditions on `<provider>:aud` and
`<provider>:sub` (as the README's recipes). Tessera runs with account 123456789012 (moto's).

`--reference` adds a third server to every round, measured right after Tessera: reference_app.py,
a stand-in with the request's shape (CPU, one Redis round trip, CPU, another, CPU, served by
uvicorn as Tessera is) and none of its work, its work (a counted loop) set so that it answers at Tessera's
rate of that round (probed and corrected up to three times, within 5%). At one request rate a
closed loop of 32 connections has one mean latency (Little's law: 32 / rate), so what the
reference shows is how far above that mean this machine puts a p99 for a request of this
shape, whatever the server does; Tessera's p99 is read against it.

Needs wrk, taskset, moto[server], Redis (`--redis-url`, db FLUSHED at start and end). Holds
bench_http's lock (/tmp/tessera-bench-http.lock) for the whole run. Not a pytest file.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from pathlib import Path
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # idp_fixtures

import bench_http  # noqa: E402
import seeding  # noqa: E402
import servers  # noqa: E402
import wrkrun  # noqa: E402
from runs import log, log_run, start_provisioned, wait_for_idle_cpu  # noqa: E402
from servers import Server  # noqa: E402

ACCOUNT = "123456789012"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/bench-web"
SUB = "repo:acme/app:ref:refs/heads/main"
TARGETS = {"x_moto": 7.0, "p99_ms": 15.0}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--duration", type=int, default=10, help="seconds per measured run")
    p.add_argument("--warmup", type=int, default=2, help="unmeasured seconds before each run")
    p.add_argument("--rounds", type=int, default=3, help="alternating moto/Tessera rounds (median compared)")
    p.add_argument("--connections", type=int, default=32)
    p.add_argument("--alg", default="RS256", choices=["RS256", "PS256", "ES256"])
    p.add_argument("--skip-moto", action="store_true")
    p.add_argument("--reference", action="store_true",
                   help="also measure reference_app.py at Tessera's rate of each round (the tail's baseline)")
    p.add_argument("--server-cpu", type=int, default=0)
    p.add_argument("--client-cpu", type=int, default=1)
    p.add_argument("--redis-url", default="redis://127.0.0.1:6379/13", help="Tessera's store; FLUSHED")
    p.add_argument("--json", type=Path, help="write the results as JSON here")
    return p.parse_args(argv)


def provision(endpoint: str, key: str, secret: str, issuer_url: str) -> None:
    iam = servers._client("iam", endpoint, key, secret)
    arn = iam.create_open_id_connect_provider(Url=issuer_url, ClientIDList=["sts.amazonaws.com"])[
        "OpenIDConnectProviderArn"]
    prefix = issuer_url.split("://", 1)[1]
    trust = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Federated": arn}, "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": {f"{prefix}:aud": "sts.amazonaws.com"},
                      "StringLike": {f"{prefix}:sub": "repo:acme/*"}}}]}
    role = iam.create_role(RoleName="bench-web", AssumeRolePolicyDocument=json.dumps(trust),
                           MaxSessionDuration=43200)["Role"]
    assert role["Arn"] == ROLE_ARN, role["Arn"]


def request(url: str, token: str) -> wrkrun.SignedRequest:
    """The one unsigned request both servers get (Host differs only by port)."""
    host = url.removeprefix("http://")
    body = (f"Action=AssumeRoleWithWebIdentity&Version={wrkrun.STS_VERSION}&RoleArn={quote(ROLE_ARN, safe='')}"
            f"&RoleSessionName=bench&WebIdentityToken={quote(token, safe='')}")
    return wrkrun.SignedRequest(host=host, method="POST", path="/", body=body,
                                headers=(("Host", host), ("Content-Type", wrkrun.FORM)))


def measure(name: str, req: wrkrun.SignedRequest, args: argparse.Namespace, work: Path, n: int) -> dict:
    wait_for_idle_cpu(args.server_cpu)
    if args.warmup:
        wrkrun.run(req, seconds=args.warmup, connections=args.connections, cpu=args.client_cpu, workdir=work,
                   name=f"{name}-warmup-{n}")
    res = wrkrun.run(req, seconds=args.duration, connections=args.connections, cpu=args.client_cpu,
                     workdir=work, name=f"{name}-{n}")
    log_run(f"round {n} {name} AssumeRoleWithWebIdentity", res)
    return res.as_dict()


def match_rate(url: str, req: wrkrun.SignedRequest, rate: float, args: argparse.Namespace, work: Path,
               n: int) -> float:
    """Set the reference's work per request so that it answers at `rate` req/s (within 5%, at most three
    3-second probes, each correcting the last: the request's time is that work + the rest);
    returns the work in µs (as the reference timed its loop at start-up)."""
    cost = max(1e6 / rate - 80.0, 0.0)
    for attempt in range(3):
        _set_cost(url, cost)
        wait_for_idle_cpu(args.server_cpu)
        probe = wrkrun.run(req, seconds=3, connections=args.connections, cpu=args.client_cpu, workdir=work,
                           name=f"reference-probe-{n}-{attempt}")
        if abs(probe.rps / rate - 1) < 0.05:
            break
        rest = max(1e6 / probe.rps - cost, 0.0)
        cost = max(1e6 / rate - rest, 0.0)
        _set_cost(url, cost)
    return cost


def _set_cost(url: str, cost_us: float) -> None:
    import urllib.request

    with urllib.request.urlopen(urllib.request.Request(f"{url}/cost?us={cost_us:.1f}", method="POST"),
                                timeout=5) as resp:
        assert resp.status == 204, resp.status


def median_round(rounds: list[dict]) -> dict | None:
    valid = [r for r in rounds if r["valid"]]
    if not valid:
        return None
    rps = statistics.median_low([r["rps"] for r in valid])
    return next(r for r in valid if r["rps"] == rps)


def report(results: dict[str, list[dict]]) -> dict:
    moto, tess = median_round(results.get("moto", [])), median_round(results.get("tessera", []))
    ratio = tess["rps"] / moto["rps"] if moto and tess and moto["rps"] else None
    print(f"\n{'target':<11}{'request':<27}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'vs moto':>9}  rounds (req/s)")
    ref = median_round(results.get("reference", []))
    for name, r in (("moto", moto), ("tessera", tess), ("reference", ref)):
        if r is None:
            continue
        vs = f"{ratio:.1f}x" if name == "tessera" and ratio else "-"
        each = ", ".join(f"{x['rps']:,.0f}{'' if x['valid'] else ' INVALID'}" for x in results[name])
        print(f"{name:<11}{'AssumeRoleWithWebIdentity':<27}{r['rps']:>10,.0f}{r['p50_ms']:>9.2f}{r['p99_ms']:>9.2f}"
              f"{vs:>9}  {each}")
    pairs = [t["rps"] / m["rps"] for m, t in zip(results.get("moto", []), results.get("tessera", []))
             if m["valid"] and t["valid"] and m["rps"]]
    if pairs:  # each round's two runs are back to back: the ratio least moved by drifting load
        print(f"\nper-round ratio (Tessera/moto, back-to-back runs): "
              f"{', '.join(f'{x:.1f}x' for x in pairs)}; median {statistics.median(pairs):.1f}x")
    matched = [(t, r) for t, r in zip(results.get("tessera", []), results.get("reference", []))
               if t["valid"] and r["valid"]]
    if matched:
        print("\nthe tail at Tessera's rate (reference_app.py, its work matched per round):")
        for t, r in matched:
            print(f"  Tessera {t['rps']:>6,.0f} req/s p50 {t['p50_ms']:6.2f} p99 {t['p99_ms']:6.2f} ms   reference "
                  f"{r['rps']:>6,.0f} req/s p50 {r['p50_ms']:6.2f} p99 {r['p99_ms']:6.2f} ms "
                  f"(work {r.get('work_us', 0):.0f} µs)")
        print(f"  p99/p50 median: Tessera {statistics.median(t['p99_ms'] / t['p50_ms'] for t, _ in matched):.2f}, "
              f"reference {statistics.median(r['p99_ms'] / r['p50_ms'] for _, r in matched):.2f}")
    verdicts = {}
    if tess is not None or results.get("tessera"):
        verdicts[f"AssumeRoleWithWebIdentity>={TARGETS['x_moto']:g}x moto"] = (
            "n/a" if ratio is None else "PASS" if ratio >= TARGETS["x_moto"] else "FAIL")
        verdicts[f"AssumeRoleWithWebIdentity p99<{TARGETS['p99_ms']:g}ms"] = (
            "n/a" if tess is None else "PASS" if tess["p99_ms"] < TARGETS["p99_ms"] else "FAIL")
        print("\ntargets: " + "  ".join(f"{k} {v}" for k, v in verdicts.items()))
    return {"x_moto": None if ratio is None else round(ratio, 2), "verdicts": verdicts,
            "x_moto_per_round": [round(x, 2) for x in pairs], "median": {"moto": moto, "tessera": tess}}


def main(argv: list[str] | None = None) -> int:
    from idp_fixtures.oidc.material import load
    from idp_fixtures.oidc.server import IssuerServer

    args = parse_args(argv)
    args.skip_tessera = False
    lock = bench_http.begin(args, "bench_oidc_http")
    if isinstance(lock, int):
        return lock
    work = wrkrun.scratch_dir()
    log(f"scratch dir (wrk outputs, server logs): {work}")
    log(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    idp = IssuerServer(keys=[load("rsa-a"), load("ec-p256")]).start()
    token = idp.issuer.token(sub=SUB, aud="sts.amazonaws.com", alg=args.alg, ttl=7200)
    started: list[Server] = []
    results: dict[str, list[dict]] = {}
    failures: list[str] = []
    try:
        targets = {}
        for name in ["tessera"] + ([] if args.skip_moto else ["moto"]):
            url = start_provisioned(name, cpu=args.server_cpu, work=work, redis_url=args.redis_url,
                                    provision=lambda *at: provision(*at, idp.url),
                                    extra_env={"TESSERA_ACCOUNT_ID": ACCOUNT}, started=started)
            req = request(url, token)
            status, text = wrkrun.check_once(req)
            if status != 200:
                raise RuntimeError(f"{name}: the prepared request got {status}: {text[:400]}")
            targets[name] = req
        reference = None
        if args.reference:
            import reference_app

            port = servers.free_port()
            reference = f"http://127.0.0.1:{port}"
            srv = Server("reference", reference_app.command(port), cpu=args.server_cpu, log=work / "reference.log",
                         env={"REFERENCE_REDIS_URL": args.redis_url})
            started.append(srv)
            srv.wait_ready(f"{reference}/")
            ref_req = request(reference, token)
        log(f"issuer fetches after the first requests: discovery {idp.discovery_fetches}, "
            f"key set {idp.jwks_fetches}")
        order = [n for n in ("moto", "tessera") if n in targets]
        for n in range(1, args.rounds + 1):
            for name in order:
                try:
                    results.setdefault(name, []).append(measure(name, targets[name], args, work, n))
                except Exception as exc:  # report what ran
                    failures.append(f"{name} round {n}: {type(exc).__name__}: {exc}")
                    log(f"{name} round {n} FAILED: {exc}")
            tessera_round = results.get("tessera", [])[n - 1:n]
            if reference is not None and tessera_round and tessera_round[0]["valid"]:
                try:
                    cost = match_rate(reference, ref_req, tessera_round[0]["rps"], args, work, n)
                    results.setdefault("reference", []).append(
                        {**measure("reference", ref_req, args, work, n), "work_us": round(cost, 1)})
                except Exception as exc:
                    failures.append(f"reference round {n}: {type(exc).__name__}: {exc}")
                    log(f"reference round {n} FAILED: {exc}")
        log(f"issuer fetches in all: discovery {idp.discovery_fetches}, key set {idp.jwks_fetches}")
    finally:
        for srv in started:
            srv.stop()
        idp.stop()
        seeding.redis_flush(args.redis_url)
    log(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    figures = report(results)
    return bench_http.finish(args, {"config": {k: str(v) for k, v in vars(args).items()}, "results": results,
                                    "targets": figures, "failures": failures, "scratch_dir": str(work)}, failures)


if __name__ == "__main__":
    sys.exit(main())
