"""The benchmark's sequence: start and provision the servers, measure, seed, compare.

Load on this machine drifts by a factor of two within minutes (test suites run beside the
benchmark), so nothing is compared across a gap: the four main runs alternate between moto
and Tessera, and each scale comparison alternates, round after round, between a second,
empty instance of the same server (the control) and the seeded one; medians are compared.
"""
from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import seeding
import servers
import wrkrun
from servers import Identity, Server
from wrkrun import SignedRequest, WrkResult

GCI_BODY = f"Action=GetCallerIdentity&Version={wrkrun.STS_VERSION}"


def _cpu_times(cpu: int) -> tuple[int, int]:
    with open("/proc/stat", encoding="ascii") as fh:
        for line in fh:
            if line.startswith(f"cpu{cpu} "):
                fields = [int(x) for x in line.split()[1:]]
                idle = fields[3] + fields[4]
                return sum(fields) - idle, sum(fields)
    return 0, 0


def wait_for_idle_cpu(cpu: int, *, busy_below: float = 0.10, timeout: float = 30.0) -> None:
    """Block until `cpu` is less than `busy_below` busy over a 0.5 s window (or timeout)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        b0, t0 = _cpu_times(cpu)
        time.sleep(0.5)
        b1, t1 = _cpu_times(cpu)
        if t1 == t0 or (b1 - b0) / (t1 - t0) < busy_below:
            return
    log(f"cpu{cpu} still busy after {timeout:.0f} s; measuring anyway")


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def log_run(label: str, res: WrkResult, note: str = "") -> None:
    """One measured run's figures and verdict (INVALID on any non-2xx answer or socket error),
    then the first error body if there was one."""
    verdict = "ok" if res.valid else (f"INVALID: {res.non2xx} non-2xx (first "
                                      f"{res.first_error_status}), socket {res.socket_errors}")
    log(f"{label}: {res.rps:,.0f} req/s p50 {res.p50_ms:.2f} ms "
        f"p99 {res.p99_ms:.2f} ms [{verdict}]{note}")
    if not res.valid and res.first_error_body:
        log(f"  first error body: {res.first_error_body[:300]}")


def gci_request(ident: Identity) -> SignedRequest:
    return wrkrun.sign(ident.host, GCI_BODY, ident.session_key, ident.session_secret,
                       ident.session_token)


def assume_request(ident: Identity) -> SignedRequest:
    from urllib.parse import quote

    body = (f"Action=AssumeRole&Version={wrkrun.STS_VERSION}"
            f"&RoleArn={quote(ident.role_arn, safe='')}&RoleSessionName=wrk&DurationSeconds=900")
    return wrkrun.sign(ident.host, body, ident.user_key, ident.user_secret, None)


def start_provisioned(name: str, *, cpu: int, work: Path, redis_url: str,
                      provision: Callable[[str, str, str], object],
                      extra_env: dict[str, str] | None = None, started: list[Server]) -> str:
    """moto_server (`name` "moto") or `tessera serve` (on `redis_url`, FLUSHED; `extra_env` on top
    of servers.tessera_env) pinned to `cpu`, appended to `started` (the caller stops those) before
    it is awaited; once ready, `provision(url, root key id, root secret)`. Returns its URL."""
    port = servers.free_port()
    url = f"http://127.0.0.1:{port}"
    if name == "moto":
        srv = Server(name, servers.moto_command(port), cpu=cpu, log=work / "moto.log")
        started.append(srv)
        srv.wait_ready(f"{url}/moto-api/")
        provision(url, "testing", "testing1234")
        return url
    seeding.redis_flush(redis_url)
    env = servers.tessera_env(redis_url, extra_env)
    srv = Server(name, servers.tessera_command(port), cpu=cpu, log=work / f"{name}.log", env=env)
    started.append(srv)
    srv.wait_ready(f"{url}/readyz")
    provision(url, *servers.root_of(env))
    return url


@dataclass
class Target:
    """A started, provisioned server."""

    name: str
    server: Server
    ident: Identity | None = None
    env: dict[str, str] = field(default_factory=dict)

    @property
    def root(self) -> tuple[str, str]:
        """Tessera's root access key id and secret (servers.root_of)."""
        return servers.root_of(self.env)


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.work = wrkrun.scratch_dir()
        self.results: dict[str, dict] = {}
        self.failures: list[str] = []
        self._started: list[Target] = []

    def run(self) -> None:
        a, main = self.args, []
        try:
            if not a.skip_moto:
                self._attempt("moto", lambda: main.append(self.start_moto("moto")))
            if not a.skip_tessera:
                self._attempt("tessera", lambda: main.append(
                    self.start_tessera("tessera", a.redis_url)))
            for t in main:
                self.results[t.name] = {"scale": []}
            for kind, make in (("get_caller_identity", gci_request),
                               ("assume_role", assume_request)):
                for t in main:
                    self._attempt(t.name, lambda: self.results[t.name].__setitem__(
                        kind, self.load(t.name, kind, make(t.ident)).as_dict()))
            for t in main:
                if t.name == "moto" and a.moto_sessions:
                    self._attempt("moto scale", lambda: self.scale_moto(t))
                if t.name == "tessera" and any(n > 0 for n in a.sessions):
                    self._attempt("tessera scale", lambda: self.scale_tessera(t))
        finally:
            for t in self._started:
                t.server.stop()
            if not a.skip_tessera:  # do not leave a million sessions behind
                for url in (a.redis_url, a.control_redis_url):
                    seeding.redis_flush(url)

    def stop_servers(self) -> None:
        """Stop every server this bench started (each by its own process group)."""
        for t in self._started:
            t.server.stop()
        self._started.clear()

    def _attempt(self, what: str, step: Callable[[], object]) -> None:
        try:
            step()
        except Exception as exc:  # report what ran; say clearly what did not
            self.failures.append(f"{what}: {type(exc).__name__}: {exc}")
            log(f"{what} FAILED: {type(exc).__name__}: {exc}")

    def load(self, target: str, name: str, req: SignedRequest) -> WrkResult:
        # Both servers share the server core: a server still working off its previous run's
        # backlog (moto answers slowly and keeps going after wrk stops) must not steal the
        # core from the next one. Wait until the core is idle before every measurement.
        wait_for_idle_cpu(self.args.server_cpu, timeout=getattr(self.args, "idle_wait", 30.0))
        status, body = wrkrun.check_once(req)
        if status != 200:
            raise RuntimeError(f"{target} {name}: prepared request got {status}: {body[:400]}")
        a = self.args
        if a.warmup:
            wrkrun.run(req, seconds=a.warmup, connections=a.connections, cpu=a.client_cpu,
                       workdir=self.work, name=f"{target}-{name}-warmup")
        res = wrkrun.run(req, seconds=a.duration, connections=a.connections,
                         cpu=a.client_cpu, workdir=self.work, name=f"{target}-{name}")
        log_run(f"{target} {name}", res)
        return res

    def load_with_cpu(self, target: Target, name: str, req: SignedRequest) -> tuple[WrkResult, float]:
        """load(), and the server's own CPU µs per request it served (warm-up and run; from
        /proc/PID/stat: steadier than req/s when other jobs share the server's core)."""
        pid = target.server.proc.pid
        before = servers.cpu_seconds(pid)
        res = self.load(target.name, name, req)
        served = res.requests + self._warm_requests(f"{target.name}-{name}")
        return res, (servers.cpu_seconds(pid) - before) / max(1, served) * 1e6

    # ---- servers ----
    def start_moto(self, name: str) -> Target:
        port = servers.free_port()
        srv = Server(name, servers.moto_command(port), cpu=self.args.server_cpu,
                     log=self.work / f"{name}.log")
        target = Target(name, srv)
        self._started.append(target)
        srv.wait_ready(f"http://127.0.0.1:{port}/moto-api/")
        target.ident = servers.provision(f"http://127.0.0.1:{port}", "testing", "testing1234")
        return target

    def start_tessera(self, name: str, redis_url: str,
                      extra_env: dict[str, str] | None = None) -> Target:
        """`tessera serve` on `redis_url` (a single server's db is flushed first; a cluster is
        the caller's to prepare), provisioned; `extra_env` adds or overrides settings."""
        a, port = self.args, servers.free_port()
        if redis_url.startswith(("redis://", "rediss://", "unix://")):
            seeding.redis_flush(redis_url)
        env = servers.tessera_env(redis_url, extra_env)
        srv = Server(name, servers.tessera_command(port), cpu=a.server_cpu,
                     log=self.work / f"{name}.log", env=env)
        target = Target(name, srv, env=env)
        self._started.append(target)
        srv.wait_ready(f"http://127.0.0.1:{port}/readyz")
        target.ident = servers.provision(f"http://127.0.0.1:{port}", *target.root)
        return target

    # ---- scale ----
    def scale_moto(self, t: Target) -> None:
        n, ident, out = self.args.moto_sessions, t.ident, self.results["moto"]
        control = self.start_moto("moto-control")
        # every AssumeRole moto answered (prep, checks, warm-up, run) is a live session
        existing = 2 + out["assume_role"]["requests"] + self._warm_requests("moto-assume_role")
        extra = max(0, n - existing)
        log(f"moto: seeding {extra:,} sessions (~{existing:,} exist) via AssumeRole")
        # moto scans its session list from the oldest: measure a session from the middle
        # of the list (a typical live session: the figure compared) and the newest (worst)
        half = max(0, n // 2 - existing)
        seeding.moto_sessions(assume_request(ident), half, progress=self._progress)
        middle = servers.fresh_session(ident, "middle")
        seeding.moto_sessions(assume_request(ident), extra - half, progress=self._progress)
        newest = servers.fresh_session(ident, "newest")
        rounds = self.alternate("moto", control.ident, {"middle": middle, "newest": newest}, n)
        entry = self._scale_entry(n, rounds["empty"], rounds["middle"])
        entry["newest_session"] = self._scale_entry(n, rounds["empty"], rounds["newest"])
        out["scale"].append(entry)

    def scale_tessera(self, t: Target) -> None:
        a, seeded, out = self.args, 0, self.results["tessera"]
        control = self.start_tessera("tessera-control", a.control_redis_url)
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
            rounds = self.alternate("tessera", control.ident, {"seeded": fresh}, n)
            entry = self._scale_entry(n, rounds["empty"], rounds["seeded"])
            entry.update(seed_seconds=round(took, 1), redis_used_memory_delta=mem1 - mem0,
                         redis_keys_delta=keys1 - keys0,
                         bytes_per_session=round((mem1 - mem0) / count, 1))
            out["scale"].append(entry)

    def alternate(self, target: str, control: Identity, seeded: dict[str, Identity],
                  n: int) -> dict[str, list[WrkResult]]:
        """Rounds of: the empty control instance, then each seeded session, in turn."""
        rounds: dict[str, list[WrkResult]] = {"empty": [], **{k: [] for k in seeded}}
        for r in range(1, self.args.scale_rounds + 1):
            rounds["empty"].append(self.load(target, f"gci-empty-round{r}", gci_request(control)))
            for key, ident in seeded.items():
                rounds[key].append(self.load(target, f"gci-{n}-{key}-round{r}",
                                             gci_request(ident)))
        return rounds

    def _warm_requests(self, name: str) -> int:
        path = self.work / f"{name}-warmup.wrk.txt"
        return wrkrun.parse(path.read_text()).requests if path.exists() else 0

    @staticmethod
    def _scale_entry(n: int, empty: list[WrkResult], seeded: list[WrkResult]) -> dict:
        def median(results: list[WrkResult]) -> WrkResult:
            return sorted(results, key=lambda r: r.rps)[len(results) // 2]

        valid = all(r.valid for r in empty + seeded)
        e, s = median(empty), median(seeded)
        return {"sessions": n, "get_caller_identity": {**s.as_dict(), "valid": valid},
                "empty_store": {**e.as_dict(), "valid": valid},
                "rounds_rps": {"empty": [round(r.rps) for r in empty],
                               "seeded": [round(r.rps) for r in seeded]},
                "change_vs_empty": (s.rps / e.rps - 1) if valid and e.rps else None}

    @staticmethod
    def _progress(done: int, total: int, elapsed: float) -> None:
        log(f"  seeded {done:,}/{total:,} ({done / elapsed:,.0f}/s)")
