"""Requests/s on one core for each kind of call, for sizing: one `tessera serve --workers 1`
pinned to `--server-cpu`, on its own redis-server (free port, started and stopped here).

    python tests/bench/bench_calls.py [--duration 10] [--rounds 3] [--pairs 3000] [--json calls.json]

Replayable calls go through bench_http's path (runs.Bench.load: one prepared SigV4 request
replayed by `wrk -t1 -c32` from `--client-cpu`, idle-core wait, warm-up, INVALID on any non-2xx):
GetCallerIdentity with the user's key and with session credentials, AssumeRole,
GetSessionToken (each a new session), and as the user (an inline policy allows iam:Get*/List*)
GetRole and ListRoles, and AssumeRoleWithWebIdentity (unsigned; an RS256 token of the demo
issuer served on loopback, provisioned as bench_oidc_http does). The server's own CPU time (/proc/PID/stat utime+stime, over warm-up and
run) gives CPU µs per request too. An IAM write cannot be replayed: `--pairs` CreateUser +
DeleteUser pairs, each signed beforehand as root, are sent from `--threads` keep-alive
connections (a ConcurrentModification answer, a lost race between the account's serialized
writes, is sent again and counted), and their rate and the server's CPU µs per pair are
reported. Rounds alternate
over the calls; medians. Then, per replayable call, the Redis commands and Redis CPU µs per
request over a 3 s run (bench_scale.commands_per_request). Prints figures; asserts nothing.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # app

import bench_http  # noqa: E402
import bench_oidc_http  # noqa: E402
import bench_scale  # noqa: E402
import redisproc  # noqa: E402
import servers  # noqa: E402
import wrkrun  # noqa: E402
from runs import GCI_BODY, Bench, assume_request, gci_request, log  # noqa: E402
from idp_fixtures.oidc.material import load  # noqa: E402
from idp_fixtures.oidc.server import IssuerServer  # noqa: E402
from servers import Identity  # noqa: E402

IAM_VERSION = "2010-05-08"
IAM_READ = json.dumps({"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Action": ["iam:Get*", "iam:List*"], "Resource": "*"}]})


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--duration", type=int, default=10)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--connections", type=int, default=32)
    p.add_argument("--pairs", type=int, default=3000, help="CreateUser+DeleteUser pairs per round")
    p.add_argument("--threads", type=int, default=4, help="connections for the IAM writes")
    p.add_argument("--idle-wait", type=float, default=30.0,
                   help="seconds to wait at most for an idle server core before each run")
    p.add_argument("--server-cpu", type=int, default=0)
    p.add_argument("--client-cpu", type=int, default=1)
    p.add_argument("--json", type=Path)
    args = p.parse_args(argv)
    args.skip_moto = True
    return args


def replayable(ident: Identity) -> dict[str, wrkrun.SignedRequest]:
    user = (ident.user_key, ident.user_secret, None)
    return {
        "GetCallerIdentity (user key)": wrkrun.sign(ident.host, GCI_BODY, *user),
        "GetCallerIdentity (session)": gci_request(ident),
        "AssumeRole": assume_request(ident),
        "GetSessionToken": wrkrun.sign(
            ident.host, f"Action=GetSessionToken&Version={wrkrun.STS_VERSION}&DurationSeconds=900", *user),
        "GetRole": wrkrun.sign(ident.host, f"Action=GetRole&Version={IAM_VERSION}&RoleName={servers.ROLE}",
                               *user, service="iam"),
        "ListRoles": wrkrun.sign(ident.host, f"Action=ListRoles&Version={IAM_VERSION}", *user, service="iam"),
    }


def write_pairs(ident: Identity, root: tuple[str, str], count: int, threads: int, round_no: int,
                pid: int) -> dict:
    """CreateUser + DeleteUser `count` times (signed beforehand); rate and server CPU per pair."""
    pairs = [[wrkrun.sign(ident.host, f"Action={action}&Version={IAM_VERSION}&UserName=w{round_no}-{i}",
                          *root, None, service="iam") for action in ("CreateUser", "DeleteUser")]
             for i in range(count)]
    chunks = [pairs[i::threads] for i in range(threads)]
    bad: list[str] = []
    retried: list[int] = []

    def send(chunk: list[list[wrkrun.SignedRequest]]) -> None:
        conn = http.client.HTTPConnection(ident.host, timeout=30)
        for pair in chunk:
            for req in pair:
                for _ in range(50):  # the account's IAM writes are serialized: a lost race is retried
                    conn.request(req.method, req.path, body=req.body.encode(), headers=dict(req.headers))
                    resp = conn.getresponse()
                    text = resp.read()
                    if resp.status == 200 or b"ConcurrentModification" not in text:
                        break
                    retried.append(1)
                if resp.status != 200:
                    bad.append(f"{resp.status} {text[:200]!r}")
        conn.close()

    cpu0, began = servers.cpu_seconds(pid), time.monotonic()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(send, chunks))
    took, cpu = time.monotonic() - began, servers.cpu_seconds(pid) - cpu0
    row = {"pairs": count, "seconds": took, "pairs_per_s": count / took,
           "cpu_us_per_pair": cpu / count * 1e6, "errors": len(bad), "first_error": bad[0] if bad else "",
           "concurrent_modification_retries": len(retried)}
    log(f"CreateUser+DeleteUser: {row['pairs_per_s']:,.0f} pairs/s, server CPU "
        f"{row['cpu_us_per_pair']:,.0f} µs/pair (with {len(retried)} ConcurrentModification "
        f"answers sent again), {len(bad)} errors{': first ' + bad[0] if bad else ''}")
    return row


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    servers.exit_on_sigterm()
    lock = bench_http.begin(args, "bench_calls")
    if isinstance(lock, int):
        return lock
    bench = Bench(args)
    node = redisproc.RedisServer.start()
    payload: dict = {"load_before": os.getloadavg(),
                     "started": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())}
    results: dict[str, list[dict]] = {}
    idp = None
    try:
        # the account bench_oidc_http's role ARN names
        target = bench.start_tessera("tessera-calls", node.url,
                                     extra_env={"TESSERA_ACCOUNT_ID": bench_oidc_http.ACCOUNT})
        ident, pid = target.ident, target.server.proc.pid
        root = target.root
        servers._client("iam", ident.endpoint, *root).put_user_policy(
            UserName=servers.USER, PolicyName="iam-read", PolicyDocument=IAM_READ)
        idp = IssuerServer(keys=[load("rsa-a")]).start()
        bench_oidc_http.provision(ident.endpoint, *root, idp.url)
        calls = {**replayable(ident), "AssumeRoleWithWebIdentity": bench_oidc_http.request(
            ident.endpoint, idp.issuer.token(sub=bench_oidc_http.SUB, aud="sts.amazonaws.com", ttl=7200))}
        for r in range(1, args.rounds + 1):
            for name, req in calls.items():
                slug = name.replace(" ", "-").replace("(", "").replace(")", "")
                res, cpu_us = bench.load_with_cpu(target, f"{slug}-round{r}", req)
                row = {**res.as_dict(), "cpu_us_per_request": cpu_us}
                results.setdefault(name, []).append(row)
            results.setdefault("CreateUser+DeleteUser", []).append(
                write_pairs(ident, root, args.pairs, args.threads, r, pid))
            log(f"round {r} done; load {os.getloadavg()}")
        commands = {name: bench_scale.commands_per_request(bench, target, f"commands-{i}", req,
                                                           {node.port: node.proc.pid})
                    for i, (name, req) in enumerate(calls.items())}
        payload["commands_per_request"] = commands
    finally:
        bench.stop_servers()
        node.stop()
        if idp is not None:
            idp.stop()
    print(f"\n{'call':<30}{'req/s (1 core)':>15}{'p50 ms':>8}{'p99 ms':>8}{'CPU µs/req':>11}"
          f"{'req/s/core (CPU)':>17}  rounds")
    summary = {}
    for name, rows in results.items():
        if name == "CreateUser+DeleteUser":
            us = statistics.median(r["cpu_us_per_pair"] for r in rows)
            rate = statistics.median(r["pairs_per_s"] for r in rows)
            summary[name] = {"pairs_per_s": rate, "cpu_us_per_pair": us,
                             "errors": sum(r["errors"] for r in rows)}
            print(f"{'CreateUser+DeleteUser (pair)':<30}{rate:>15,.0f}{'-':>8}{'-':>8}{us:>11,.0f}"
                  f"{1e6 / us:>17,.0f}  {', '.join(format(r['pairs_per_s'], ',.0f') for r in rows)}"
                  f"{'' if not summary[name]['errors'] else '  ERRORS'}")
            continue
        m = sorted(rows, key=lambda r: r["rps"])[len(rows) // 2]
        us = statistics.median(r["cpu_us_per_request"] for r in rows)
        valid = all(r["valid"] for r in rows)
        summary[name] = {**m, "cpu_us_per_request": us, "valid": valid}
        print(f"{name:<30}{m['rps']:>15,.0f}{m['p50_ms']:>8.2f}{m['p99_ms']:>8.2f}{us:>11,.0f}"
              f"{1e6 / us:>17,.0f}  {', '.join(format(r['rps'], ',.0f') for r in rows)}"
              f"{'' if valid else '  INVALID (errors)'}")
    print("\nRedis commands and CPU µs per request (INFO commandstats, /proc; a 3 s run):")
    for name, calls in payload.get("commands_per_request", {}).items():
        print(f"  {name}: " + ", ".join(f"{k} {v:g}" for k, v in calls.items()))
    payload.update(results=results, summary=summary, load_after=os.getloadavg())
    log(f"load before {payload['load_before']}, after {payload['load_after']}")
    return bench_http.finish(args, payload, bench.failures)


if __name__ == "__main__":
    sys.exit(main())
