"""Scale-out figures: one worker on a single Redis vs on a 6-node Redis Cluster, and the cost
of TESSERA_REDIS_WAIT_REPLICAS=1, in one run.

    python tests/bench/bench_scale.py [--duration 10] [--rounds 3] [--json scale.json]

Started by the script, on free loopback ports (never 6379): a redis-server primary with one
replica, and (unless --skip-cluster) a real cluster of three primaries and three replicas
(tests/redis_cluster.py). Four `tessera serve --workers 1` pinned to `--server-cpu`, each
with its own account id (so two share a store without meeting): `single` and `single-wait1`
on the primary (dbs 0 and 1), `cluster` and `cluster-wait1` on the cluster; the `-wait1` ones with
TESSERA_REDIS_WAIT_REPLICAS=1 (`--wait-timeout-ms`). Each is provisioned by
servers.provision, and the prepared requests of bench_http (GetCallerIdentity with session
credentials, AssumeRole with the user's key, signed for each server the same way) are
replayed by wrk from `--client-cpu` (runs.Bench.load: idle-core wait, warm-up, INVALID on any
non-2xx), with Tessera's own CPU µs per request (/proc: steadier than req/s on a shared
machine). Rounds alternate over the four targets; medians are compared. Then Redis commands
and the primaries' CPU µs per request (INFO commandstats, /proc; a 3 s run) and
redis-benchmark's ops/s on the primary
for the hot-path commands (GET, SET of a session-sized value; without and with pipelining).
Prints figures; asserts nothing.
"""
from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # app, tests.redis_cluster

import bench_http  # noqa: E402
import redisproc  # noqa: E402
import servers  # noqa: E402
import wrkrun  # noqa: E402
from runs import Bench, Target, assume_request, gci_request, log  # noqa: E402

KINDS = (("get_caller_identity", gci_request), ("assume_role", assume_request))
_STAT = re.compile(r"^cmdstat_([^:]+):calls=(\d+)", re.M)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--duration", type=int, default=10, help="seconds per measured run")
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--rounds", type=int, default=3, help="alternating rounds (medians)")
    p.add_argument("--connections", type=int, default=32)
    p.add_argument("--idle-wait", type=float, default=30.0,
                   help="seconds to wait at most for an idle server core before each run")
    p.add_argument("--server-cpu", type=int, default=0)
    p.add_argument("--client-cpu", type=int, default=1)
    p.add_argument("--skip-cluster", action="store_true")
    p.add_argument("--skip-wait", action="store_true", help="no -wait1 targets")
    p.add_argument("--wait-timeout-ms", type=int, default=1000)
    p.add_argument("--redis-benchmark-requests", type=int, default=300000, help="0 skips it")
    p.add_argument("--json", type=Path)
    args = p.parse_args(argv)
    args.skip_moto = True  # for bench_http.begin's tool check
    return args


def start_targets(bench: Bench, args: argparse.Namespace, stores: dict[str, str]) -> list[Target]:
    waits = [0] if args.skip_wait else [0, 1]
    targets = []
    for number, (store, url) in enumerate(stores.items()):
        for wait in waits:
            name = store if not wait else f"{store}-wait{wait}"
            env = {"TESSERA_ACCOUNT_ID": f"{100000000000 + 10 * number + wait}"}
            if wait:
                env.update(TESSERA_REDIS_WAIT_REPLICAS=str(wait),
                           TESSERA_REDIS_WAIT_TIMEOUT_MS=str(args.wait_timeout_ms))
            # on a single server each its own db (start_tessera flushes it); a cluster has db 0 only
            where = f"{url.rsplit('/', 1)[0]}/{wait}" if url.startswith("redis://") else url
            log(f"starting {name} on {where}")
            targets.append(bench.start_tessera(name, where, extra_env=env))
    return targets


def command_calls(ports: list[int]) -> dict[str, int]:
    """INFO commandstats calls per command, summed over the servers on `ports`."""
    total: dict[str, int] = {}
    for port in ports:
        text = subprocess.run(["redis-cli", "-p", str(port), "INFO", "commandstats"],
                              capture_output=True, text=True, timeout=30).stdout
        for name, calls in _STAT.findall(text):
            total[name] = total.get(name, 0) + int(calls)
    return total


def commands_per_request(bench: Bench, target: Target, kind: str, req: wrkrun.SignedRequest,
                         pids: dict[int, int]) -> dict[str, float]:
    """Over a 3 s wrk run: Redis commands per request (the INFO commandstats delta of the
    primaries on the ports of `pids` / requests) and the CPU µs per request of those primaries
    (/proc/PID/stat utime+stime, including their replication to the replicas)."""
    ports = list(pids)
    before, cpu0 = command_calls(ports), sum(servers.cpu_seconds(p) for p in pids.values())
    res = wrkrun.run(req, seconds=3, connections=bench.args.connections, cpu=bench.args.client_cpu,
                     workdir=bench.work, name=f"{target.name}-{kind}-commands")
    after, cpu1 = command_calls(ports), sum(servers.cpu_seconds(p) for p in pids.values())
    delta = {k: v - before.get(k, 0) for k, v in after.items() if v - before.get(k, 0) > 0}
    delta = {k: v for k, v in delta.items() if k not in ("info", "ping", "cluster|nodes")}
    if not res.requests:
        return {}
    per = {k: round(v / res.requests, 2) for k, v in sorted(delta.items())}
    return {**{k: v for k, v in per.items() if v > 0},
            "redis_cpu_us": round((cpu1 - cpu0) / res.requests * 1e6, 1), "rps": round(res.rps)}


def redis_benchmark(port: int, requests: int, cpu: int, value_bytes: int = 460) -> dict[str, float]:
    """ops/s of a primary (with its replica attached) for SET and GET of a session-sized value,
    one command per round trip (-P 1) and pipelined 16 deep, 32 clients, from `cpu`."""
    out: dict[str, float] = {}
    for depth in (1, 16):
        cmd = ["taskset", "-c", str(cpu), "redis-benchmark", "-h", "127.0.0.1", "-p", str(port),
               "-t", "set,get", "-d", str(value_bytes), "-r", "1000000", "-n", str(requests),
               "-c", "32", "-P", str(depth), "--csv"]
        text = subprocess.run(cmd, capture_output=True, text=True, timeout=600).stdout
        for line in text.splitlines():
            cells = [c.strip('"') for c in line.split(",")]
            if cells and cells[0] in ("SET", "GET") and len(cells) > 1:
                out[f"{cells[0]} -P{depth}"] = float(cells[1])
    return out


def median(results: list[dict]) -> dict:
    return sorted(results, key=lambda r: r["rps"])[len(results) // 2]


def print_report(results: dict[str, dict[str, list[dict]]]) -> dict:
    summary: dict[str, dict] = {}
    print(f"\n{'target':<15}{'request':<21}{'req/s':>9}{'p50 ms':>8}{'p99 ms':>8}{'CPU µs':>8}"
          f"  rounds (req/s)   CPU µs/request: Tessera's, median of the rounds")
    for kind, _ in KINDS:
        for name, by_kind in results.items():
            runs = by_kind.get(kind, [])
            if not runs:
                continue
            m = median(runs)
            valid = all(r["valid"] for r in runs)
            cpu = statistics.median(r["cpu_us"] for r in runs)
            summary.setdefault(name, {})[kind] = {**m, "valid": valid, "cpu_us_median": cpu,
                                                  "rounds_rps": [round(r["rps"]) for r in runs]}
            print(f"{name:<15}{kind:<21}{m['rps']:>9,.0f}{m['p50_ms']:>8.2f}{m['p99_ms']:>8.2f}{cpu:>8.0f}  "
                  f"{', '.join(format(r['rps'], ',.0f') for r in runs)}{'' if valid else '  INVALID (errors)'}")
    print("\nchanges (medians):")
    pairs = [("cluster", "single"), ("single-wait1", "single"), ("cluster-wait1", "cluster")]
    for a, b in pairs:
        for kind, _ in KINDS:
            x, y = summary.get(a, {}).get(kind), summary.get(b, {}).get(kind)
            if not x or not y or not (x["valid"] and y["valid"]):
                continue
            change = x["rps"] / y["rps"] - 1
            cpu = x["cpu_us_median"] - y["cpu_us_median"]
            summary.setdefault("changes", {})[f"{a} vs {b} {kind}"] = {
                "rps": round(change, 4), "p50_ms": round(x["p50_ms"] - y["p50_ms"], 2),
                "p99_ms": round(x["p99_ms"] - y["p99_ms"], 2), "cpu_us": round(cpu, 1)}
            print(f"  {a} vs {b}, {kind}: req/s {change:+.1%}, p50 {x['p50_ms'] - y['p50_ms']:+.2f} ms, "
                  f"p99 {x['p99_ms'] - y['p99_ms']:+.2f} ms, Tessera CPU {cpu:+.0f} µs/request")
    return summary


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    servers.exit_on_sigterm()
    lock = bench_http.begin(args, "bench_scale")
    if isinstance(lock, int):
        return lock
    bench = Bench(args)
    log(f"scratch dir: {bench.work}; load {os.getloadavg()}")
    nodes: list[redisproc.RedisServer] = []
    cluster = None
    payload: dict = {"load_before": os.getloadavg(), "started": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())}
    try:
        nodes.append(redisproc.RedisServer.start())
        nodes.append(redisproc.RedisServer.start(primary_port=nodes[0].port))
        stores = {"single": nodes[0].url}
        pids = {"single": {nodes[0].port: nodes[0].proc.pid}}
        if not args.skip_cluster:
            from tests.redis_cluster import RedisCluster

            cluster = RedisCluster.start()
            stores["cluster"] = cluster.url
            pids["cluster"] = {p: cluster.procs[p].pid for p, _ in cluster.primaries()}
        targets = start_targets(bench, args, stores)
        results: dict[str, dict[str, list[dict]]] = {t.name: {} for t in targets}
        for r in range(1, args.rounds + 1):
            for kind, make in KINDS:
                for t in targets:
                    res, cpu_us = bench.load_with_cpu(t, f"{kind}-round{r}", make(t.ident))
                    results[t.name].setdefault(kind, []).append({**res.as_dict(), "cpu_us": cpu_us})
            log(f"round {r} done; load {os.getloadavg()}")
        payload["results"] = results
        payload["summary"] = print_report(results)
        per_request: dict[str, dict] = {}
        for t in targets:
            for kind, make in KINDS:
                per_request[f"{t.name} {kind}"] = commands_per_request(
                    bench, t, kind, make(t.ident), pids[t.name.split("-")[0]])
        payload["commands_per_request"] = per_request
        print("\nRedis commands and primaries' CPU µs per request (INFO commandstats, /proc; a 3 s run):")
        for key, calls in per_request.items():
            print(f"  {key}: " + ", ".join(f"{k} {v:g}" for k, v in calls.items()))
        if args.redis_benchmark_requests:
            ops = redis_benchmark(nodes[0].port, args.redis_benchmark_requests, args.client_cpu)
            payload["redis_benchmark"] = ops
            print("\nredis-benchmark on the primary (with its replica), 460-byte values, 32 clients: "
                  + ", ".join(f"{k} {v:,.0f} ops/s" for k, v in ops.items()))
    finally:
        bench.stop_servers()
        if cluster is not None:
            cluster.stop()
        for node in reversed(nodes):
            node.stop()
    payload["load_after"] = os.getloadavg()
    log(f"load after: {payload['load_after']}")
    return bench_http.finish(args, payload, bench.failures)


if __name__ == "__main__":
    sys.exit(main())
