"""HTTP benchmark: Tessera vs moto_server, GetCallerIdentity and AssumeRole, and scale.

    python tests/bench/bench_http.py [--duration 10] [--sessions 0,1000000] [--skip-moto]
                                     [--moto-sessions 50000] [--json results.json]

Each server runs alone on one core (`taskset -c 0`; Tessera: one uvicorn worker), wrk
loads it with 32 connections from the other core (`taskset -c 1`), replaying ONE prepared
SigV4-signed request (a signature is valid for 15 minutes). A run with any non-2xx answer or
socket error is reported INVALID, never as a speed. Installs nothing: needs `wrk`,
`taskset`, moto[server], and (for Tessera) Redis at 127.0.0.1:6379; uses Redis db 13.
Not a pytest file (pytest collects only test_*.py).
"""
from __future__ import annotations

import argparse
import base64
import json
import os
import secrets
import shutil
import sys
import time
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


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.work = wrkrun.scratch_dir()
        self.results: dict[str, dict] = {}

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
    def moto(self) -> None:
        a, port = self.args, servers.free_port()
        srv = Server("moto_server", servers.moto_command(port), cpu=a.server_cpu,
                     log=self.work / "moto.log")
        try:
            srv.wait_ready(f"http://127.0.0.1:{port}/moto-api/")
            ident = servers.provision(f"http://127.0.0.1:{port}", "testing", "testing1234567890")
            out: dict = {"scale": []}
            out["get_caller_identity"] = self.load("moto", "gci", gci_request(ident)).as_dict()
            ar = self.load("moto", "assume_role", assume_request(ident))
            out["assume_role"] = ar.as_dict()
            if a.moto_sessions:
                # every AssumeRole moto answered (prep + warm-up + run) is a live session
                existing = 2 + ar.requests + self._warm_requests("moto-assume_role")
                extra = max(0, a.moto_sessions - existing)
                log(f"moto: seeding {extra:,} sessions (~{existing:,} exist) via AssumeRole")
                seeding.moto_sessions(assume_request(ident), extra, progress=self._progress)
                fresh = servers.fresh_session(ident, "after-seed")
                res = self.load("moto", f"gci-{a.moto_sessions}", gci_request(fresh))
                out["scale"].append(self._scale_entry(a.moto_sessions, res,
                                                      out["get_caller_identity"]))
            self.results["moto"] = out
        finally:
            srv.stop()

    # ---- tessera ----
    def tessera(self) -> None:
        a, port = self.args, servers.free_port()
        seeding.redis_flush(a.redis_url)
        master = base64.b64encode(secrets.token_bytes(32)).decode()
        root_key = "AKIA" + "".join(secrets.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
                                    for _ in range(16))
        root_secret = base64.b64encode(secrets.token_bytes(30)).decode()
        env = {"TESSERA_REDIS_URL": a.redis_url, "TESSERA_MASTER_KEY": master,
               "TESSERA_ROOT_ACCESS_KEY_ID": root_key,
               "TESSERA_ROOT_SECRET_ACCESS_KEY": root_secret}
        srv = Server("tessera", servers.tessera_command(port), cpu=a.server_cpu,
                     log=self.work / "tessera.log", env=env)
        try:
            srv.wait_ready(f"http://127.0.0.1:{port}/readyz")
            ident = servers.provision(f"http://127.0.0.1:{port}", root_key, root_secret)
            out: dict = {"scale": []}
            sessions = sorted(set(a.sessions))
            gci = self.load("tessera", "gci", gci_request(ident))
            out["get_caller_identity"] = gci.as_dict()
            out["assume_role"] = self.load("tessera", "assume_role",
                                           assume_request(ident)).as_dict()
            seeded = 0
            for n in (s for s in sessions if s > 0):
                mem0, keys0 = seeding.redis_used_memory(a.redis_url), seeding.redis_dbsize(a.redis_url)
                log(f"tessera: seeding {n - seeded:,} sessions through SessionStore.put "
                    f"({a.seed_mode})")
                took = seeding.tessera_sessions(a.redis_url, master, ident, seeded, n - seeded,
                                                pipelined=a.seed_mode == "pipeline",
                                                concurrency=a.seed_concurrency,
                                                progress=self._progress)
                mem1, keys1 = seeding.redis_used_memory(a.redis_url), seeding.redis_dbsize(a.redis_url)
                log(f"tessera: seeded {n - seeded:,} in {took:.0f}s "
                    f"({(n - seeded) / took:,.0f}/s); used_memory +{mem1 - mem0:,} B")
                entry_n = n - seeded
                seeded = n
                fresh = servers.fresh_session(ident, f"after-seed-{n}")
                res = self.load("tessera", f"gci-{n}", gci_request(fresh))
                entry = self._scale_entry(n, res, out["get_caller_identity"])
                entry.update(seed_seconds=round(took, 1), redis_used_memory_delta=mem1 - mem0,
                             redis_keys_delta=keys1 - keys0,
                             bytes_per_session=round((mem1 - mem0) / entry_n, 1))
                out["scale"].append(entry)
            self.results["tessera"] = out
        finally:
            srv.stop()

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
        out["GCI>=8x moto"] = judge(c["get_caller_identity_x_moto"], lambda v: v >= 8)
        out["AssumeRole>=6x moto"] = judge(c.get("assume_role_x_moto"), lambda v: v >= 6)
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


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    problems = missing_tools(args)
    if problems:
        print("bench_http: cannot run:\n  " + "\n  ".join(problems), file=sys.stderr)
        return 2
    os.sched_setaffinity(0, {args.client_cpu})  # keep boto3/seeding off the server's core
    bench = Bench(args)
    log(f"scratch dir (wrk scripts, outputs, server logs): {bench.work}")
    failures = []
    for name, enabled, step in (("moto", not args.skip_moto, bench.moto),
                                ("tessera", not args.skip_tessera, bench.tessera)):
        if not enabled:
            continue
        try:
            step()
        except Exception as exc:  # report what ran; say clearly what did not
            failures.append(f"{name}: {type(exc).__name__}: {exc}")
            log(f"{name} part FAILED: {type(exc).__name__}: {exc}")
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
