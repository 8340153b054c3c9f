"""HTTP benchmark: Tessera vs moto_server, GetCallerIdentity and AssumeRole, and scale.

    python tests/bench/bench_http.py [--duration 10] [--sessions 0,1000000] [--skip-moto]
                                     [--moto-sessions 50000] [--json results.json]

Each server is pinned to one core (`taskset -c 0`; Tessera: one uvicorn worker) and loaded
alone, interleaved with the other, by wrk with 32 connections from the other core
(`taskset -c 1`), replaying ONE prepared SigV4-signed request (valid for 15 minutes; it is
re-signed before every run). A run with any non-2xx answer or socket error is reported
INVALID, never as a speed. Scale comparisons alternate rounds between an empty control
instance and the seeded one (see runs.py). Installs nothing: needs `wrk`, `taskset`,
moto[server], and (for Tessera) Redis at 127.0.0.1:6379; uses and FLUSHES Redis dbs 13
and 12. Not a pytest file (pytest collects only test_*.py).
"""
from __future__ import annotations

import argparse
import fcntl
import json
import os
import shutil
import sys
from pathlib import Path

import report
from runs import Bench, log


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--duration", type=int, default=10, help="seconds per measured run")
    p.add_argument("--warmup", type=int, default=2, help="unmeasured seconds before each run")
    p.add_argument("--connections", type=int, default=32)
    p.add_argument("--sessions", default="0,1000000",
                   help="Tessera live-session counts for GetCallerIdentity (0 = empty store)")
    p.add_argument("--moto-sessions", type=int, default=50000, help="0 skips moto's scale run")
    p.add_argument("--skip-moto", action="store_true")
    p.add_argument("--skip-tessera", action="store_true")
    p.add_argument("--server-cpu", type=int, default=0)
    p.add_argument("--client-cpu", type=int, default=1)
    p.add_argument("--redis-url", default="redis://127.0.0.1:6379/13",
                   help="Tessera's store; FLUSHED at start and end")
    p.add_argument("--control-redis-url", default="redis://127.0.0.1:6379/12",
                   help="the empty control Tessera's store (scale runs); FLUSHED too")
    p.add_argument("--scale-rounds", type=int, default=3,
                   help="alternating control/seeded rounds per scale comparison (median)")
    p.add_argument("--seed-mode", choices=("pipeline", "put"), default="pipeline",
                   help="pipeline: SessionStore.put into pipelines of 1,000 (fast); "
                        "put: concurrent awaited puts, as the server writes")
    p.add_argument("--seed-concurrency", type=int, default=256, help="for --seed-mode put")
    p.add_argument("--json", type=Path, help="write the results as JSON here")
    args = p.parse_args(argv)
    args.sessions = [int(s.replace("_", "")) for s in args.sessions.split(",") if s.strip()]
    return args


def missing_tools(args: argparse.Namespace) -> list[str]:
    need = {"wrk": "apt-get install -y wrk", "taskset": "apt-get install -y util-linux"}
    out = [f"`{t}` not found on PATH (Debian: {fix})" for t, fix in need.items()
           if not shutil.which(t)]
    if not args.skip_moto:
        try:
            import moto.server  # noqa: F401
        except ImportError:
            out.append("moto[server] not installed (pip install -e '.[test]')")
    cpus = os.sched_getaffinity(0)
    if not {args.server_cpu, args.client_cpu} <= cpus or args.server_cpu == args.client_cpu:
        out.append(f"need two distinct CPUs for server/client, have {sorted(cpus)}")
    return out


LOCK_PATH = Path("/tmp/tessera-bench-http.lock")


def run_lock():
    """An exclusive lock held for the whole run (released when the process exits), or None."""
    handle = LOCK_PATH.open("a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return None
    return handle


def begin(args: argparse.Namespace, name: str):
    """What every HTTP benchmark does first: check its tools, take the run lock (keep the
    returned handle for the whole run), and keep this process (boto3, seeding, wrk's driver)
    off the server's core. Returns the lock handle, or an exit code when it cannot run."""
    problems = missing_tools(args)
    if problems:
        print(f"{name}: cannot run:\n  " + "\n  ".join(problems), file=sys.stderr)
        return 2
    lock = run_lock()
    if lock is None:
        print(f"{name}: another benchmark holds {LOCK_PATH} (it would flush this run's "
              "Redis db and share its cores); wait for it to finish", file=sys.stderr)
        return 3
    os.sched_setaffinity(0, {args.client_cpu})
    return lock


def finish(args: argparse.Namespace, payload: dict, failures: list[str]) -> int:
    """What every HTTP benchmark does last: the JSON file if asked, the failures, the exit code."""
    if args.json:
        args.json.write_text(json.dumps(payload, indent=2))
        log(f"results written to {args.json}")
    for f in failures:
        print(f"FAILED {f}", file=sys.stderr)
    return 1 if failures else 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    lock = begin(args, "bench_http")
    if isinstance(lock, int):
        return lock
    bench = Bench(args)
    log(f"scratch dir (wrk scripts, outputs, server logs): {bench.work}")
    bench.run()
    failures = bench.failures
    checks = report.print_table(bench.results)
    payload = {"config": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
               "results": bench.results, "targets": checks, "failures": failures,
               "scratch_dir": str(bench.work)}
    return finish(args, payload, failures)


if __name__ == "__main__":
    sys.exit(main())
