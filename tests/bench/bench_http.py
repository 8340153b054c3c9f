"""HTTP benchmark: Tessera vs moto_server, GetCallerIdentity and AssumeRole, and scale.

    python tests/bench/bench_http.py [--duration 10] [--sessions 0,1000000] [--skip-moto]
                                     [--moto-sessions 50000] [--json results.json]

Each server is pinned to one core (`taskset -c 0`; Tessera: one uvicorn worker) and loaded
alone, interleaved with the other, by wrk with 32 connections from the other core
(`taskset -c 1`), replaying ONE prepared SigV4-signed request (valid for 15 minutes; it is
re-signed before every run). A run with any non-2xx answer or
socket error is reported INVALID, never as a speed. Installs nothing: needs `wrk`,
`taskset`, moto[server], and (for Tessera) Redis at 127.0.0.1:6379; uses Redis db 13.
Not a pytest file (pytest collects only test_*.py).
"""
from __future__ import annotations

import argparse
import base64
import fcntl
import json
import os
import secrets
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import seeding
import servers
import wrkrun
from servers import Identity, Server
from wrkrun import WrkResult

GCI_BODY = f"Action=GetCallerIdentity&Version={wrkrun.STS_VERSION}"
TARGETS = {"gci_x_moto": 8.0, "assume_role_x_moto": 6.0, "p99_ms": 15.0,
           "scale_drop": 0.10, "bytes_per_session": 1024}


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def assume_body(role_arn: str, name: str) -> str:
    from urllib.parse import quote

    return (f"Action=AssumeRole&Version={wrkrun.STS_VERSION}&RoleArn={quote(role_arn, safe='')}"
            f"&RoleSessionName={name}&DurationSeconds=900")


def gci_request(ident: Identity) -> wrkrun.SignedRequest:
    return wrkrun.sign(ident.host, GCI_BODY, ident.session_key, ident.session_secret,
                       ident.session_token)


def assume_request(ident: Identity) -> wrkrun.SignedRequest:
    return wrkrun.sign(ident.host, assume_body(ident.role_arn, "wrk"), ident.user_key,
                       ident.user_secret, None)


@dataclass
class Target:
    """A started, provisioned server and what its scale run needs."""

    name: str
    server: Server
    ident: Identity
    env: dict[str, str] = field(default_factory=dict)
    out: dict = field(default_factory=lambda: {"scale": []})


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.work = wrkrun.scratch_dir()
        self.results: dict[str, dict] = {}
        self.failures: list[str] = []

    def run(self) -> None:
        """Start both servers, measure them interleaved (so load drifting on the machine
        hits both alike), then the scale runs; stop everything whatever happens."""
        a, targets = self.args, []
        try:
            for name, enabled, start in (("moto", not a.skip_moto, self.start_moto),
                                         ("tessera", not a.skip_tessera, self.start_tessera)):
                if enabled:
                    self._attempt(name, lambda: targets.append(start()))
            for kind, make in (("get_caller_identity", gci_request),
                               ("assume_role", assume_request)):
                for t in targets:
                    self._attempt(t.name, lambda: t.out.__setitem__(
                        kind, self.load(t.name, kind, make(t.ident)).as_dict()))
            for t in targets:
                self.results[t.name] = t.out
                if "get_caller_identity" in t.out and "assume_role" in t.out:
                    self._attempt(f"{t.name} scale", lambda: self.scale(t))
        finally:
            for t in targets:
                t.server.stop()
            if not a.skip_tessera:
                seeding.redis_flush(a.redis_url)  # do not leave a million sessions behind

    def _attempt(self, what: str, step) -> None:
        try:
            step()
        except Exception as exc:  # report what ran; say clearly what did not
            self.failures.append(f"{what}: {type(exc).__name__}: {exc}")
            log(f"{what} FAILED: {type(exc).__name__}: {exc}")

    def load(self, target: str, name: str, req: wrkrun.SignedRequest) -> WrkResult:
        status, body = wrkrun.check_once(req)
        if status != 200:
            raise RuntimeError(f"{target} {name}: prepared request got {status}: {body[:400]}")
        a = self.args
        if a.warmup:
            wrkrun.run(req, seconds=a.warmup, connections=a.connections, cpu=a.client_cpu,
                       workdir=self.work, name=f"{target}-{name}-warmup")
        res = wrkrun.run(req, seconds=a.duration, connections=a.connections,
                         cpu=a.client_cpu, workdir=self.work, name=f"{target}-{name}")
        verdict = "ok" if res.valid else (f"INVALID: {res.non2xx} non-2xx (first "
                                          f"{res.first_error_status}), socket {res.socket_errors}")
        log(f"{target} {name}: {res.rps:,.0f} req/s p50 {res.p50_ms:.2f} ms "
            f"p99 {res.p99_ms:.2f} ms [{verdict}]")
        if not res.valid and res.first_error_body:
            log(f"  first error body: {res.first_error_body[:300]}")
        return res

    # ---- moto ----
    def start_moto(self) -> Target:
        port = servers.free_port()
        srv = Server("moto_server", servers.moto_command(port), cpu=self.args.server_cpu,
                     log=self.work / "moto.log")
        try:
            srv.wait_ready(f"http://127.0.0.1:{port}/moto-api/")
            ident = servers.provision(f"http://127.0.0.1:{port}", "testing", "testing1234567890")
        except BaseException:
            srv.stop()
            raise
        return Target("moto", srv, ident)

    def scale(self, t: Target) -> None:
        (self.scale_moto if t.name == "moto" else self.scale_tessera)(t)

    def scale_moto(self, t: Target) -> None:
        n, ident = self.args.moto_sessions, t.ident
        if not n:
            return
        # every AssumeRole moto answered (prep + checks + warm-up + run) is a live session
        existing = 2 + t.out["assume_role"]["requests"] + self._warm_requests("moto-assume_role")
        extra = max(0, n - existing)
        log(f"moto: seeding {extra:,} sessions (~{existing:,} exist) via AssumeRole")
        # moto scans its session list from the oldest: measure a session from the middle
        # of the list (a typical live session) and the newest (its worst case)
        half = max(0, n // 2 - existing)
        seeding.moto_sessions(assume_request(ident), half, progress=self._progress)
        middle = servers.fresh_session(ident, "middle")
        seeding.moto_sessions(assume_request(ident), extra - half, progress=self._progress)
        newest = servers.fresh_session(ident, "newest")
        res = self.load("moto", f"gci-{n}-middle", gci_request(middle))
        worst = self.load("moto", f"gci-{n}-newest", gci_request(newest))
        entry = self._scale_entry(n, res, t.out["get_caller_identity"])
        entry["session_position"] = "middle of moto's list"
        entry["newest_session"] = self._scale_entry(n, worst, t.out["get_caller_identity"])
        t.out["scale"].append(entry)

    # ---- tessera ----
    def start_tessera(self) -> Target:
        a, port = self.args, servers.free_port()
        seeding.redis_flush(a.redis_url)
        root_key = "AKIA" + "".join(secrets.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
                                    for _ in range(16))
        env = {"TESSERA_REDIS_URL": a.redis_url,
               "TESSERA_MASTER_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
               "TESSERA_ROOT_ACCESS_KEY_ID": root_key,
               "TESSERA_ROOT_SECRET_ACCESS_KEY": base64.b64encode(secrets.token_bytes(30)).decode()}
        srv = Server("tessera", servers.tessera_command(port), cpu=a.server_cpu,
                     log=self.work / "tessera.log", env=env)
        try:
            srv.wait_ready(f"http://127.0.0.1:{port}/readyz")
            ident = servers.provision(f"http://127.0.0.1:{port}", root_key,
                                      env["TESSERA_ROOT_SECRET_ACCESS_KEY"])
        except BaseException:
            srv.stop()
            raise
        return Target("tessera", srv, ident, env)

    def scale_tessera(self, t: Target) -> None:
        a, seeded = self.args, 0
        for n in sorted({s for s in a.sessions if s > 0}):
            count = n - seeded
            mem0, keys0 = seeding.redis_used_memory(a.redis_url), seeding.redis_dbsize(a.redis_url)
            log(f"tessera: seeding {count:,} sessions through SessionStore.put ({a.seed_mode})")
            took = seeding.tessera_sessions(a.redis_url, t.env["TESSERA_MASTER_KEY"], t.ident,
                                            seeded, count, pipelined=a.seed_mode == "pipeline",
                                            concurrency=a.seed_concurrency,
                                            progress=self._progress)
            mem1, keys1 = seeding.redis_used_memory(a.redis_url), seeding.redis_dbsize(a.redis_url)
            log(f"tessera: seeded {count:,} in {took:.0f}s ({count / took:,.0f}/s); "
                f"used_memory +{mem1 - mem0:,} B")
            seeded = n
            fresh = servers.fresh_session(t.ident, f"after-seed-{n}")
            res = self.load("tessera", f"gci-{n}", gci_request(fresh))
            entry = self._scale_entry(n, res, t.out["get_caller_identity"])
            entry.update(seed_seconds=round(took, 1), redis_used_memory_delta=mem1 - mem0,
                         redis_keys_delta=keys1 - keys0,
                         bytes_per_session=round((mem1 - mem0) / count, 1))
            t.out["scale"].append(entry)

    def _warm_requests(self, name: str) -> int:
        path = self.work / f"{name}-warmup.wrk.txt"
        if not path.exists():
            return 0
        return wrkrun.parse(path.read_text()).requests

    @staticmethod
    def _scale_entry(n: int, res: WrkResult, empty: dict) -> dict:
        base = empty["rps"] if empty["valid"] else 0
        change = (res.rps / base - 1) if base and res.valid else None
        return {"sessions": n, "get_caller_identity": res.as_dict(), "change_vs_empty": change}

    @staticmethod
    def _progress(done: int, total: int, elapsed: float) -> None:
        log(f"  seeded {done:,}/{total:,} ({done / elapsed:,.0f}/s)")


def report(results: dict) -> dict:
    """Print the table and return the target checks."""
    moto, tess = results.get("moto", {}), results.get("tessera", {})
    rows = [("moto", "GetCallerIdentity", moto.get("get_caller_identity")),
            ("moto", "AssumeRole", moto.get("assume_role")),
            ("tessera", "GetCallerIdentity", tess.get("get_caller_identity")),
            ("tessera", "AssumeRole", tess.get("assume_role"))]
    key = {"GetCallerIdentity": "get_caller_identity", "AssumeRole": "assume_role"}
    print(f"\n{'target':<9}{'request':<19}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}"
          f"{'errors':>8}{'vs moto':>9}  status")
    checks: dict[str, object] = {}
    for target, request, r in rows:
        if r is None:
            continue
        m = moto.get(key[request])
        ratio = r["rps"] / m["rps"] if (m and m["valid"] and r["valid"] and m["rps"]) else None
        if target == "tessera":
            checks[f"{key[request]}_x_moto"] = None if ratio is None else round(ratio, 2)
            checks[f"{key[request]}_p99_ms"] = r["p99_ms"] if r["valid"] else None
        print(f"{target:<9}{request:<19}{r['rps']:>10,.0f}{r['p50_ms']:>9.2f}{r['p99_ms']:>9.2f}"
              f"{r['errors']:>8}{(f'{ratio:.1f}x' if ratio else '-'):>9}  "
              f"{'ok' if r['valid'] else 'INVALID (errors)'}")
    scale = [(t, e) for t in ("moto", "tessera") for e in results.get(t, {}).get("scale", [])]
    if scale:
        print(f"\n{'target':<9}{'live sessions':>14}{'GCI req/s':>11}{'vs empty':>10}"
              f"{'p99 ms':>9}{'B/session':>11}  status")
        for target, e in scale:
            r, ch = e["get_caller_identity"], e["change_vs_empty"]
            bps = e.get("bytes_per_session")
            print(f"{target:<9}{e['sessions']:>14,}{r['rps']:>11,.0f}"
                  f"{(f'{ch:+.1%}' if ch is not None else '-'):>10}{r['p99_ms']:>9.2f}"
                  f"{(f'{bps:,.0f}' if bps is not None else '-'):>11}  "
                  f"{'ok' if r['valid'] else 'INVALID (errors)'}")
            worst = e.get("newest_session")
            if worst:
                w, wch = worst["get_caller_identity"], worst["change_vs_empty"]
                print(f"{'  newest':<9}{'(worst case)':>14}{w['rps']:>11,.0f}"
                      f"{(f'{wch:+.1%}' if wch is not None else '-'):>10}{w['p99_ms']:>9.2f}"
                      f"{'-':>11}  {'ok' if w['valid'] else 'INVALID (errors)'}")
            if target == "tessera":
                checks[f"scale_{e['sessions']}_change"] = ch
                checks[f"scale_{e['sessions']}_bytes_per_session"] = bps
    verdicts = _verdicts(checks)
    if verdicts:
        print("\ntargets: " + "  ".join(f"{k} {v}" for k, v in verdicts.items()))
    return {"figures": checks, "verdicts": verdicts}


def _verdicts(c: dict) -> dict[str, str]:
    def judge(value, ok) -> str:
        return "n/a" if value is None else ("PASS" if ok(value) else "FAIL")

    out = {}
    if "get_caller_identity_x_moto" in c:
        out["GCI>=8x moto"] = judge(c["get_caller_identity_x_moto"],
                                    lambda v: v >= TARGETS["gci_x_moto"])
        out["AssumeRole>=6x moto"] = judge(c.get("assume_role_x_moto"),
                                           lambda v: v >= TARGETS["assume_role_x_moto"])
    for req in ("get_caller_identity", "assume_role"):
        if f"{req}_p99_ms" in c:
            out[f"{req} p99<15ms"] = judge(c[f"{req}_p99_ms"], lambda v: v < TARGETS["p99_ms"])
    for k, v in c.items():
        if k.endswith("_change"):
            out[f"{k} within 10%"] = judge(v, lambda x: x >= -TARGETS["scale_drop"])
        if k.endswith("_bytes_per_session"):
            out[f"{k} <1KB"] = judge(v, lambda x: x < TARGETS["bytes_per_session"])
    return out


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
                   help="Tessera's store; FLUSHED at start")
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


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    problems = missing_tools(args)
    if problems:
        print("bench_http: cannot run:\n  " + "\n  ".join(problems), file=sys.stderr)
        return 2
    lock = run_lock()
    if lock is None:
        print(f"bench_http: another bench_http run holds {LOCK_PATH} (it would flush this run's "
              "Redis db and share its cores); wait for it to finish", file=sys.stderr)
        return 3
    os.sched_setaffinity(0, {args.client_cpu})  # keep boto3/seeding off the server's core
    bench = Bench(args)
    log(f"scratch dir (wrk scripts, outputs, server logs): {bench.work}")
    bench.run()
    failures = bench.failures
    checks = report(bench.results)
    payload = {"config": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
               "results": bench.results, "targets": checks, "failures": failures,
               "scratch_dir": str(bench.work)}
    if args.json:
        args.json.write_text(json.dumps(payload, indent=2))
        log(f"results written to {args.json}")
    for f in failures:
        print(f"FAILED {f}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
