"""CPU per request of the Query endpoint, in process: no HTTP server, no wrk.

The real container (build()) on a real Redis serves the same signed request from
`--concurrency` coroutines on one uvloop event loop; µs per request is wall time over
requests (the loop is CPU-bound, Redis runs on the other core). Steadier than the HTTP
benchmark for comparing changes to the request path; `--profile` prints cProfile's top
functions. Prints figures only; asserts nothing.

    python tests/bench/bench_inproc.py [--action assume|gci|web] [--grant inline|aws-admin|customer-admin]
                                       [--requests 20000] [--profile] [--access-advisor on|off|alternate]

`--access-advisor alternate` measures what access advisor's recording costs (app.services.last_accessed):
rounds alternate with the recording on and off in the same process (on, off, off, on, ...: the order
and any drift cancel out), and the medians of each are printed with their difference, in wall time
per request and in the process's CPU time per request (steadier on a shared machine).
"""
from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import secrets
import statistics
import sys
import time
from urllib.parse import quote

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

import wrkrun  # noqa: E402

HOST = "127.0.0.1:9"


AWS_ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"
ADMIN_DOC = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}'


async def provision(container, grant: str = "inline") -> tuple[str, str, str]:
    """The bench user, its key and the role it assumes; `grant` says how the user may:
    `inline` (a policy allowing sts:AssumeRole on the role), `aws-admin` (the AWS managed
    AdministratorAccess attached) or `customer-admin` (a customer managed copy of it attached)."""
    root = container.root_call()
    iam = container.iam
    user = (await iam.create_user(root, user_name="bench-user"))["user"]
    key = (await iam.create_access_key(root, user_name="bench-user"))["access_key"]
    trust = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": user.arn}, "Action": "sts:AssumeRole"}]}
    role = (await iam.create_role(root, role_name="bench-role", assume_role_policy_document=json.dumps(trust),
                                  max_session_duration=43200))["role"]
    allow = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": "sts:AssumeRole", "Resource": role.arn}]}
    if grant == "inline":
        await iam.put_user_policy(root, user_name="bench-user", policy_name="p", policy_document=json.dumps(allow))
    else:
        policy_arn = AWS_ADMIN if grant == "aws-admin" else (await iam.create_policy(
            root, policy_name="BenchAdmin", policy_document=ADMIN_DOC))["policy"].arn
        await iam.attach_user_policy(root, user_name="bench-user", policy_arn=policy_arn)
    return key.access_key_id, key.secret_access_key, role.arn


def scope_of(req: wrkrun.SignedRequest) -> dict:
    headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in req.headers]
    headers.append((b"content-length", str(len(req.body)).encode()))
    return {"type": "http", "method": "POST", "path": "/", "raw_path": b"/", "query_string": b"",
            "headers": headers, "client": ("127.0.0.1", 5555), "scheme": "http"}


async def drive(app, req: wrkrun.SignedRequest, total: int, concurrency: int) -> tuple[float, list[float]]:
    scope, body = scope_of(req), req.body.encode()
    statuses: list[int] = []
    latencies: list[float] = []
    left = [total]

    async def receive():
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message):
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    async def worker():
        while left[0] > 0:
            left[0] -= 1
            t = time.perf_counter()
            # a task per request, as uvicorn runs each: context variables (the pinned IAM
            # epoch, app.store.iam_cache) start empty for every request, as they do there
            await asyncio.create_task(app(scope, receive, send))
            latencies.append(time.perf_counter() - t)

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - t0
    bad = [s for s in statuses if s != 200]
    if bad:
        raise RuntimeError(f"{len(bad)} non-200 answers (first {bad[0]})")
    return elapsed, latencies


async def main_async(args) -> None:
    from app.bootstrap import asgi, build, tune_gc
    from app.settings import Settings
    from app.store.connection import connect

    os.environ.setdefault("TESSERA_MASTER_KEY", base64.b64encode(secrets.token_bytes(32)).decode())
    os.environ["TESSERA_REDIS_URL"] = args.redis_url
    settings = Settings.from_env(mode="serve", host="127.0.0.1", port=9)
    redis = connect(args.redis_url)
    await redis.flushdb()
    log = open(os.devnull, "w") if args.log == "null" else open(args.log, "w")
    container = build(settings, redis, log_stream=log)
    app = asgi(container)
    akid, secret, role_arn = await provision(container, args.grant)
    idp = None
    if args.action == "assume":
        body = (f"Action=AssumeRole&Version={wrkrun.STS_VERSION}&RoleArn={quote(role_arn, safe='')}"
                f"&RoleSessionName=bench&DurationSeconds=900")
        req = wrkrun.sign(HOST, body, akid, secret, None)
    elif args.action == "web":
        idp, req = await web_identity_request(container)
    else:
        creds = await _session(akid, secret, role_arn, app)
        req = wrkrun.sign(HOST, f"Action=GetCallerIdentity&Version={wrkrun.STS_VERSION}", *creds)
    await drive(app, req, 2000, args.concurrency)  # warm caches
    tune_gc()  # the collector as `tessera serve` sets it (app.bootstrap.app_from_env)
    rounds = []
    prof = None
    if args.profile:
        import cProfile
        prof = cProfile.Profile()
        prof.enable()
    usage = container.authorizer._usage  # access advisor's recorder (bench-only reach into the authorizer)
    modes = {"on": ["on"], "off": ["off"], "alternate": ["on", "off"]}[args.access_advisor]
    by_mode: dict[str, list[float]] = {"on": [], "off": []}
    cpu_by_mode: dict[str, list[float]] = {"on": [], "off": []}  # the process's CPU time: steadier when the machine is shared
    for i in range(args.rounds * len(modes)):
        mode = modes[(0, 1, 1, 0)[i % 4] % len(modes)]  # on off off on ...: order and drift cancel out
        container.authorizer._usage = usage if mode == "on" else None
        cpu = time.process_time()
        elapsed, lat = await drive(app, req, args.requests, args.concurrency)
        cpu = time.process_time() - cpu
        lat.sort()
        rounds.append((elapsed / args.requests * 1e6, lat[len(lat) // 2] * 1e3, lat[int(len(lat) * 0.99)] * 1e3))
        by_mode[mode].append(elapsed / args.requests * 1e6)
        cpu_by_mode[mode].append(cpu / args.requests * 1e6)
    container.authorizer._usage = usage
    if prof:
        prof.disable()
        import pstats
        pstats.Stats(prof).sort_stats(args.sort).print_stats(args.top)
    for us, p50, p99 in rounds:
        print(f"{args.action}: {us:7.1f} µs/request  ({1e6 / us:,.0f} req/s on one core)  "
              f"p50 {p50:.2f} ms  p99 {p99:.2f} ms at {args.concurrency} in flight")
    print(f"{args.action} ({args.grant}): median {statistics.median(r[0] for r in rounds):.1f} µs/request "
          f"over {args.rounds} rounds")
    if args.access_advisor == "alternate":
        on, off = statistics.median(by_mode["on"]), statistics.median(by_mode["off"])
        print(f"{args.action} ({args.grant}) access advisor recording: on {on:.1f} µs/request, off {off:.1f} "
              f"µs/request (medians of {args.rounds} alternated rounds each): {on - off:+.1f} µs, "
              f"{(on - off) / off * 100:+.1f}%")
        on, off = statistics.median(cpu_by_mode["on"]), statistics.median(cpu_by_mode["off"])
        print(f"{args.action} ({args.grant}) access advisor recording, process CPU: on {on:.1f} µs/request, off "
              f"{off:.1f} µs/request: {on - off:+.1f} µs, {(on - off) / off * 100:+.1f}%")
    await redis.flushdb()
    await redis.aclose()
    if idp is not None:
        idp.stop()


async def web_identity_request(container):
    """AssumeRoleWithWebIdentity (unsigned) with an RS256 token of the demo issuer, served on
    loopback by this process (its key set is fetched once, then cached): (the issuer, the request)."""
    from idp_fixtures.oidc.server import IssuerServer

    idp = IssuerServer().start()
    root = container.root_call()
    arn = (await container.iam.create_open_id_connect_provider(root, url=idp.url, client_id_list=["sts.amazonaws.com"]))[
        "open_id_connect_provider_arn"]
    prefix = idp.url.split("://", 1)[1]
    trust = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Federated": arn}, "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": {f"{prefix}:aud": "sts.amazonaws.com"}, "StringLike": {f"{prefix}:sub": "repo:acme/*"}}}]}
    role = (await container.iam.create_role(root, role_name="bench-web", assume_role_policy_document=json.dumps(trust),
                                            max_session_duration=43200))["role"]
    token = idp.issuer.token(sub="repo:acme/app:ref:refs/heads/main", aud="sts.amazonaws.com", ttl=7200)
    body = (f"Action=AssumeRoleWithWebIdentity&Version={wrkrun.STS_VERSION}&RoleArn={quote(role.arn, safe='')}"
            f"&RoleSessionName=bench&WebIdentityToken={token}")
    return idp, wrkrun.SignedRequest(host=HOST, method="POST", path="/", body=body,
                                     headers=(("Host", HOST), ("Content-Type", wrkrun.FORM)))


async def _session(akid, secret, role_arn, app) -> tuple[str, str, str]:
    body = (f"Action=AssumeRole&Version={wrkrun.STS_VERSION}&RoleArn={quote(role_arn, safe='')}"
            f"&RoleSessionName=bench&DurationSeconds=3600")
    req = wrkrun.sign(HOST, body, akid, secret, None)
    out: list[bytes] = []

    async def receive():
        return {"type": "http.request", "body": req.body.encode(), "more_body": False}

    async def send(message):
        if message["type"] == "http.response.body":
            out.append(message["body"])

    await app(scope_of(req), receive, send)
    import re
    text = out[0].decode()
    pick = {k: re.search(f"<{k}>(.*?)</{k}>", text).group(1) for k in ("AccessKeyId", "SecretAccessKey", "SessionToken")}
    return pick["AccessKeyId"], pick["SecretAccessKey"], pick["SessionToken"]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--action", choices=("assume", "gci", "web"), default="assume",
                   help="AssumeRole, GetCallerIdentity, or AssumeRoleWithWebIdentity (a demo issuer's token)")
    p.add_argument("--grant", choices=("inline", "aws-admin", "customer-admin"), default="inline",
                   help="how the user is allowed to assume the role (see provision)")
    p.add_argument("--requests", type=int, default=20000)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--concurrency", type=int, default=32)
    p.add_argument("--redis-url", default="redis://127.0.0.1:6379/10", help="FLUSHED at start and end")
    p.add_argument("--log", default="file", help="'null' for /dev/null, else a file path (default: a temp file)")
    p.add_argument("--profile", action="store_true")
    p.add_argument("--access-advisor", choices=("on", "off", "alternate"), default="on",
                   help="access advisor's recording on the request path (alternate: rounds switch it on and off)")
    p.add_argument("--sort", default="tottime")
    p.add_argument("--top", type=int, default=45)
    args = p.parse_args()
    if args.log == "file":
        import tempfile
        args.log = os.path.join(tempfile.gettempdir(), "tessera-bench-inproc.log")
    import uvloop
    uvloop.install()
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
