"""HTTP benchmark: AssumeRoleWithSAML, Tessera vs moto_server, same requests, same run.

    python tests/bench/bench_saml_http.py [--duration 10] [--warmup 2] [--max-rps 4000]
                                          [--skip-moto] [--json results.json]

The method of bench_http.py (README): each server pinned to core 0 (Tessera: one uvicorn
worker), wrk -t1 -c32 from core 1, measured one after the other with an idle-core wait
between. What differs: an assertion may be redeemed only once (Tessera refuses replays), so
instead of one replayed request wrk sends the next line of a file of prepared bodies
(wrk/bodies.lua), each with its own signed response (a distinct assertion ID) of the demo IdP
(idp_fixtures.saml, ~4.5 KB of XML). The files are written right before the runs (a response
must be redeemed within 5 minutes of its IssueInstant; Tessera is measured first) and hold
`--max-rps` x seconds bodies; both servers get the same files (moto checks nothing, so it does
not care). Should a run outrun its file, the bodies sent again are refused as replays and the
run shows INVALID.

Both servers are provisioned the same way through boto3: the demo IdP's metadata as SAML
provider `bench-idp`, role `bench-saml` trusting it (sts:AssumeRoleWithSAML). Tessera runs with
account 123456789012 (moto's) and TESSERA_PUBLIC_URL=http://bench.tessera.test, so one body
(RoleArn, PrincipalArn, Recipient/Audience http://bench.tessera.test/saml) fits both.

Needs wrk, taskset, moto[server], Redis at 127.0.0.1:6379 (db 13, FLUSHED at start and end;
`--redis-url`). Holds bench_http's lock (/tmp/tessera-bench-http.lock) for the whole run.
Not a pytest file.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import subprocess
import sys
import time
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
PUBLIC_URL = "http://bench.tessera.test"
ACS = f"{PUBLIC_URL}/saml"
PROVIDER_ARN = f"arn:aws:iam::{ACCOUNT}:saml-provider/bench-idp"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/bench-saml"
BODIES_LUA = Path(__file__).resolve().parent / "wrk" / "bodies.lua"
TARGETS = {"x_moto": 4.0, "p99_ms": 40.0}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--duration", type=int, default=10, help="seconds per measured run")
    p.add_argument("--warmup", type=int, default=2, help="unmeasured seconds before each run")
    p.add_argument("--connections", type=int, default=32)
    p.add_argument("--max-rps", type=int, default=4000,
                   help="sizes the body files: max-rps x seconds distinct assertions per run")
    p.add_argument("--skip-moto", action="store_true")
    p.add_argument("--server-cpu", type=int, default=0)
    p.add_argument("--client-cpu", type=int, default=1)
    p.add_argument("--redis-url", default="redis://127.0.0.1:6379/13", help="Tessera's store; FLUSHED")
    p.add_argument("--json", type=Path, help="write the results as JSON here")
    return p.parse_args(argv)


# ---- the prepared bodies ----
def _bodies(count: int) -> list[str]:
    from idp_fixtures.saml.idp import DemoIdP

    idp = DemoIdP()
    head = (f"Action=AssumeRoleWithSAML&Version={wrkrun.STS_VERSION}&RoleArn={quote(ROLE_ARN, safe='')}"
            f"&PrincipalArn={quote(PROVIDER_ARN, safe='')}&SAMLAssertion=")
    return [head + quote(idp.response(recipient=ACS, audience=ACS, roles=[(ROLE_ARN, PROVIDER_ARN)],
                                      session_name="bench"), safe="")
            for _ in range(count)]


def write_bodies(path: Path, count: int, processes: int = 2) -> None:
    """`count` bodies, each with a freshly signed response (its own assertion ID), one a line."""
    chunks = [count // processes + (1 if i < count % processes else 0) for i in range(processes)]
    with multiprocessing.get_context("fork").Pool(processes) as pool, path.open("w") as out:
        for part in pool.imap(_bodies, [c for c in chunks if c]):
            out.writelines(body + "\n" for body in part)


# ---- servers ----
def metadata() -> str:
    from idp_fixtures.saml.idp import DemoIdP

    return DemoIdP().metadata()


def provision(endpoint: str, key: str, secret: str) -> None:
    iam = servers._client("iam", endpoint, key, secret)
    arn = iam.create_saml_provider(SAMLMetadataDocument=metadata(), Name="bench-idp")["SAMLProviderArn"]
    assert arn == PROVIDER_ARN, arn
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Federated": arn},
                                                     "Action": "sts:AssumeRoleWithSAML"}]}
    role = iam.create_role(RoleName="bench-saml", AssumeRolePolicyDocument=json.dumps(trust),
                           MaxSessionDuration=43200)["Role"]
    assert role["Arn"] == ROLE_ARN, role["Arn"]


# ---- runs ----
def check_once(host: str, body: str) -> tuple[int, str]:
    req = wrkrun.SignedRequest(host=host, method="POST", path="/", body=body,
                               headers=(("Host", host), ("Content-Type", wrkrun.FORM)))
    return wrkrun.check_once(req)


def wrk(host: str, bodies: Path, *, seconds: int, args: argparse.Namespace, work: Path,
        name: str) -> tuple[wrkrun.WrkResult, int]:
    cmd = ["taskset", "-c", str(args.client_cpu), "wrk", "-t1", f"-c{args.connections}", f"-d{seconds}s",
           "--timeout", "5s", "--latency", "-s", str(BODIES_LUA), f"http://{host}/", "--", str(bodies), host]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60)
    (work / f"{name}.wrk.txt").write_text(proc.stdout + proc.stderr)
    if proc.returncode != 0 or "BENCH_RESULT" not in proc.stdout:
        raise RuntimeError(f"wrk failed ({proc.returncode}): {proc.stderr.strip() or proc.stdout}")
    wrapped = next((int(line.split()[1]) for line in proc.stdout.splitlines()
                    if line.startswith("BENCH_WRAPPED ")), 0)
    return wrkrun.parse(proc.stdout), wrapped


def measure(name: str, url: str, files: dict[str, Path], check_body: str, args: argparse.Namespace,
            work: Path) -> dict:
    host = url.removeprefix("http://")
    wait_for_idle_cpu(args.server_cpu)
    status, text = check_once(host, check_body)
    if status != 200:
        raise RuntimeError(f"{name}: the prepared request got {status}: {text[:400]}")
    if args.warmup:
        wrk(host, files["warmup"], seconds=args.warmup, args=args, work=work, name=f"{name}-warmup")
    res, wrapped = wrk(host, files["run"], seconds=args.duration, args=args, work=work, name=name)
    log_run(f"{name} AssumeRoleWithSAML", res,
            f" (body file ran out {wrapped}x: raise --max-rps)" if wrapped else "")
    return {**res.as_dict(), "bodies_wrapped": wrapped}


def report(results: dict) -> dict:
    moto, tess = results.get("moto"), results.get("tessera")
    print(f"\n{'target':<9}{'request':<21}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}{'vs moto':>9}  status")
    ratio = None
    if moto and tess and moto["valid"] and tess["valid"] and moto["rps"]:
        ratio = tess["rps"] / moto["rps"]
    for name, r in (("moto", moto), ("tessera", tess)):
        if r is None:
            continue
        vs = f"{ratio:.1f}x" if name == "tessera" and ratio else "-"
        print(f"{name:<9}{'AssumeRoleWithSAML':<21}{r['rps']:>10,.0f}{r['p50_ms']:>9.2f}{r['p99_ms']:>9.2f}"
              f"{r['errors']:>8}{vs:>9}  {'ok' if r['valid'] else 'INVALID (errors)'}")
    verdicts = {}
    if tess is not None:
        verdicts[f"AssumeRoleWithSAML>={TARGETS['x_moto']:g}x moto"] = (
            "n/a" if ratio is None else "PASS" if ratio >= TARGETS["x_moto"] else "FAIL")
        verdicts[f"AssumeRoleWithSAML p99<{TARGETS['p99_ms']:g}ms"] = (
            "n/a" if not tess["valid"] else "PASS" if tess["p99_ms"] < TARGETS["p99_ms"] else "FAIL")
        print("\ntargets: " + "  ".join(f"{k} {v}" for k, v in verdicts.items()))
    return {"x_moto": None if ratio is None else round(ratio, 2), "verdicts": verdicts}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    args.skip_tessera = False
    lock = bench_http.begin(args, "bench_saml_http")
    if isinstance(lock, int):
        return lock
    work = wrkrun.scratch_dir()
    log(f"scratch dir (body files, wrk outputs, server logs): {work}")
    started: list[Server] = []
    results: dict[str, dict] = {}
    failures: list[str] = []
    try:
        targets = []
        # Tessera first: its bodies must be redeemed within 5 minutes of signing; moto checks
        # no time and gets the same files after it
        for name in ["tessera"] + ([] if args.skip_moto else ["moto"]):
            url = start_provisioned(name, cpu=args.server_cpu, work=work, redis_url=args.redis_url,
                                    provision=provision, started=started,
                                    extra_env={"TESSERA_ACCOUNT_ID": ACCOUNT, "TESSERA_PUBLIC_URL": PUBLIC_URL})
            targets.append((name, url))
        files = {"warmup": work / "bodies-warmup.txt", "run": work / "bodies-run.txt"}
        generated = time.time()
        for kind, seconds in (("warmup", args.warmup), ("run", args.duration)):
            count = max(1, args.max_rps * seconds)
            log(f"signing {count:,} responses for the {kind} runs")
            write_bodies(files[kind], count)
        check_bodies = _bodies(len(targets))
        log(f"bodies ready in {time.time() - generated:.0f} s (they stay redeemable 5 minutes)")
        for (name, url), check_body in zip(targets, check_bodies):
            try:
                results[name] = measure(name, url, files, check_body, args, work)
            except Exception as exc:  # report what ran
                failures.append(f"{name}: {type(exc).__name__}: {exc}")
                log(f"{name} FAILED: {exc}")
        if time.time() - generated > 280:
            log("warning: the runs ended more than 280 s after signing; late bodies may have expired")
    finally:
        for srv in started:
            srv.stop()
        seeding.redis_flush(args.redis_url)
    figures = report(results)
    return bench_http.finish(args, {"config": {k: str(v) for k, v in vars(args).items()}, "results": results,
                                    "targets": figures, "failures": failures, "scratch_dir": str(work)}, failures)


if __name__ == "__main__":
    sys.exit(main())
