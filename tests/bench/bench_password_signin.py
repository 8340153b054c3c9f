"""Password sign-in on the browser pages: what a failed attempt costs, whether the cost tells
users apart, whether argon2id work stalls the event loop, and how long the IAM-user picker takes.

    python tests/bench/bench_password_signin.py [--redis-url redis://127.0.0.1:6379/10]
                                                [--attempts 60] [--roles 300] [--json out.json]

A real `tessera serve` (one worker) on the given Redis database (FLUSHED at start and end),
driven over HTTP with httpx. Each attempt comes from its own X-Forwarded-For address and each
known user is tried fewer times than its limit, so the counters never refuse a measured attempt.

Figures printed (milliseconds):
- failed sign-in latency, median and p90, for a wrong password of a user, a name that is no
  user, and a user without a login profile (all three verify one argon2id hash);
- GET /healthz latency, median and p99, idle and while 8 clients keep posting wrong passwords
  (the hashing runs on its own thread pool: the loop keeps answering);
- GET /sso/roles for an IAM user in an account of `--roles` roles (every role evaluated as
  AssumeRole would be), median of 5.
Not a pytest file (pytest collects only test_*.py).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import redis

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.integration.conftest import ACCOUNT, ROOT_AKID, ROOT_SECRET, allow, client, start_server  # noqa: E402

PASSWORD = "Bench-Pw9!correct"


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def token(http: httpx.Client) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', http.get("/sso/iam").text)
    assert found
    return found.group(1)


def attempt(http: httpx.Client, csrf: str, user: str, password: str, n: int) -> tuple[float, int]:
    started = time.perf_counter()
    r = http.post("/sso/iam", data={"csrf": csrf, "username": user, "password": password},
                  headers={"X-Forwarded-For": f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}"})
    return (time.perf_counter() - started) * 1000, r.status_code


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--redis-url", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/10"))
    p.add_argument("--attempts", type=int, default=60, help="measured attempts per kind")
    p.add_argument("--roles", type=int, default=300)
    p.add_argument("--json", type=Path)
    args = p.parse_args(argv)
    redis.Redis.from_url(args.redis_url).flushdb()
    server = start_server(tempfile.mkdtemp(prefix="bench-pw-"), redis_url=args.redis_url)
    out: dict[str, float] = {}
    try:
        iam = client(server, "iam", ROOT_AKID, ROOT_SECRET)
        users = [f"bench-{i}" for i in range((args.attempts + 3) // 4)]
        for name in users:
            iam.create_user(UserName=name)
            iam.create_login_profile(UserName=name, Password=PASSWORD)
            iam.create_user(UserName=f"{name}-nopass")
        iam.put_user_policy(UserName=users[0], PolicyName="assume", PolicyDocument=allow(
            "sts:AssumeRole", f"arn:aws:iam::{ACCOUNT}:role/bench-role-1*"))
        trust = json.dumps({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "sts:AssumeRole"}]})
        for i in range(args.roles):
            iam.create_role(RoleName=f"bench-role-{i}", AssumeRolePolicyDocument=trust)
        n = 0
        with httpx.Client(base_url=server.url, timeout=60) as http:
            csrf = token(http)
            attempt(http, csrf, "warm-up", "x", n)  # the dummy hash is made on first use
            kinds = {"wrong_password": lambda i: users[i // 4],
                     "unknown_user": lambda i: f"nobody-{i}",
                     "no_login_profile": lambda i: f"{users[i // 4]}-nopass"}
            measured: dict[str, list[float]] = {kind: [] for kind in kinds}
            for i in range(args.attempts):  # the kinds interleaved, so load changes hit them alike
                for kind, who in kinds.items():
                    n += 1
                    ms, status = attempt(http, csrf, who(i), "Wrong-Pw9!", n)
                    assert status == 401, (kind, status)
                    measured[kind].append(ms)
            for kind, times in measured.items():
                out[f"{kind}_p50_ms"], out[f"{kind}_p90_ms"] = statistics.median(times), pct(times, 0.9)
                print(f"failed sign-in, {kind:17s} p50 {out[f'{kind}_p50_ms']:7.1f} ms  "
                      f"p90 {out[f'{kind}_p90_ms']:7.1f} ms")

            def healthz(samples: int) -> list[float]:
                times = []
                for _ in range(samples):
                    started = time.perf_counter()
                    http.get("/healthz")
                    times.append((time.perf_counter() - started) * 1000)
                    time.sleep(0.005)
                return times

            idle = healthz(200)
            stop = threading.Event()

            def load(k: int) -> None:
                with httpx.Client(base_url=server.url, timeout=60) as h:
                    c = token(h)
                    j = 0
                    while not stop.is_set():
                        j += 1
                        attempt(h, c, f"load-{k}-{j}", "Wrong-Pw9!", 100000 + k * 10000 + j)

            threads = [threading.Thread(target=load, args=(k,)) for k in range(8)]
            for t in threads:
                t.start()
            time.sleep(1)
            busy = healthz(200)
            stop.set()
            for t in threads:
                t.join()
            for label, times in (("idle", idle), ("during 8 sign-in clients", busy)):
                print(f"GET /healthz {label:25s} p50 {statistics.median(times):6.2f} ms  p99 {pct(times, 0.99):6.2f} ms")
            out.update(healthz_idle_p50_ms=statistics.median(idle), healthz_idle_p99_ms=pct(idle, 0.99),
                       healthz_busy_p50_ms=statistics.median(busy), healthz_busy_p99_ms=pct(busy, 0.99))

        with httpx.Client(base_url=server.url, timeout=120) as http:
            csrf = token(http)
            r = http.post("/sso/iam", data={"csrf": csrf, "username": users[0], "password": PASSWORD},
                          headers={"X-Forwarded-For": "10.255.0.1"})
            assert r.status_code == 303, r.text
            http.cookies.set("tessera_sso", r.cookies["tessera_sso"])
            times = []
            for _ in range(5):
                started = time.perf_counter()
                page = http.get("/sso/roles")
                times.append((time.perf_counter() - started) * 1000)
            listed = page.text.count('class="name"')
            out["picker_ms"], out["picker_roles_listed"] = statistics.median(times), listed
            print(f"GET /sso/roles, {args.roles} roles in the account, {listed} listed: "
                  f"p50 {out['picker_ms']:.0f} ms")
    finally:
        server.proc.terminate()
        server.proc.wait(10)
        redis.Redis.from_url(args.redis_url).flushdb()
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
