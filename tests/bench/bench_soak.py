"""Soak: `tessera serve` (one worker) under a steady, rate-limited mix for `--minutes`.

    python tests/bench/bench_soak.py [--minutes 10] [--rate 100] [--json soak.json]

It starts its own redis-server on a free port and Tessera pinned to `--server-cpu`, provisions
the bench user and role (servers.provision), then sends `--rate` requests/s from this process
(on `--client-cpu`), each signed afresh with botocore: GetCallerIdentity with session
credentials (one of the 200 newest sessions), AssumeRole minting a new session
(DurationSeconds=900: sessions start expiring after 15 minutes) and IAM reads as root (GetRole,
ListRoles, GetUser). Every minute it samples Tessera's RSS (VmRSS of its process tree), Redis
`used_memory`, DBSIZE, the live `sess:*` keys and all other keys with the sums of their
MEMORY USAGE, and the key tables (MEMORY STATS). Verdict, over the minutes after
`--warmup-minutes` (default: the first half of the run; Tessera's in-process caches fill first,
e.g. the decoded-session cache of up to 10,000 records takes ~8 minutes at the default mix):
the slopes per minute of the RSS, of the bytes held by keys other than live sessions, and of
the rest of `used_memory` less the key tables (clients, allocator). `--rejudge FILE` prints the
table and verdict of a run saved with `--json` again. Prints figures; asserts nothing.
"""
from __future__ import annotations

import argparse
import json
import os
import queue
import random
import re
import statistics
import sys
import threading
import time
import http.client
from collections import deque
from pathlib import Path
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # app

import redisproc  # noqa: E402
import servers  # noqa: E402
import wrkrun  # noqa: E402
from runs import GCI_BODY, Bench, log  # noqa: E402
from servers import Identity  # noqa: E402

_CRED = {k: re.compile(f"<{k}>([^<]+)</{k}>") for k in ("AccessKeyId", "SecretAccessKey", "SessionToken")}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--minutes", type=int, default=10)
    p.add_argument("--warmup-minutes", type=int, help="left out of the slopes (default: half the run)")
    p.add_argument("--rejudge", type=Path, help="a --json file of an earlier run: table and verdict only")
    p.add_argument("--rate", type=float, default=100.0, help="requests/s, all kinds together")
    p.add_argument("--mix", default="gci=70,assume=20,iam=10", help="shares of the three kinds")
    p.add_argument("--threads", type=int, default=8, help="client connections")
    p.add_argument("--server-cpu", type=int, default=0)
    p.add_argument("--client-cpu", type=int, default=1)
    p.add_argument("--json", type=Path)
    args = p.parse_args(argv)
    args.mix = {k: float(v) for k, v in (x.split("=") for x in args.mix.split(","))}
    return args


class Load:
    """Rate-limited requests from a few threads, each on its own keep-alive connection."""

    def __init__(self, ident: Identity, root: tuple[str, str], rate: float, mix: dict[str, float],
                 threads: int) -> None:
        self.ident, self.root, self.rate = ident, root, rate
        self.kinds, self.weights = list(mix), list(mix.values())
        self.sessions: deque[tuple[str, str, str]] = deque(maxlen=200)
        self.sessions.append((ident.session_key, ident.session_secret, ident.session_token))
        self.lock = threading.Lock()
        self.window: list[float] = []
        self.counts = {"ok": 0, "errors": 0, "late": 0}
        self.first_error = ""
        self.jobs: queue.Queue[str | None] = queue.Queue(maxsize=int(rate * 2) + 10)
        self.stopping = threading.Event()
        self.pool = [threading.Thread(target=self._worker, daemon=True) for _ in range(threads)]
        self.pool.append(threading.Thread(target=self._pace, daemon=True))

    def start(self) -> None:
        for t in self.pool:
            t.start()

    def stop(self) -> None:
        self.stopping.set()
        for t in self.pool:
            t.join(timeout=30)

    def take_window(self) -> tuple[list[float], dict[str, int]]:
        with self.lock:
            window, self.window = self.window, []
            counts = dict(self.counts)
            self.counts = {k: 0 for k in self.counts}
        return window, counts

    def _pace(self) -> None:
        started, sent = time.monotonic(), 0
        while not self.stopping.is_set():
            due = int((time.monotonic() - started) * self.rate)
            while sent < due:
                kind = random.choices(self.kinds, self.weights)[0]
                try:
                    self.jobs.put_nowait(kind)
                except queue.Full:  # the server (or this client) falls behind: counted, dropped
                    with self.lock:
                        self.counts["late"] += 1
                sent += 1
            time.sleep(0.005)
        for _ in self.pool:
            self.jobs.put(None)

    def _request(self, kind: str) -> wrkrun.SignedRequest:
        host = self.ident.host
        if kind == "gci":
            with self.lock:
                key, secret, token = random.choice(self.sessions)
            return wrkrun.sign(host, GCI_BODY, key, secret, token)
        if kind == "assume":
            body = (f"Action=AssumeRole&Version={wrkrun.STS_VERSION}&DurationSeconds=900"
                    f"&RoleArn={quote(self.ident.role_arn, safe='')}&RoleSessionName=soak")
            return wrkrun.sign(host, body, self.ident.user_key, self.ident.user_secret, None)
        action = random.choice(("GetRole&RoleName=bench-role", "ListRoles",
                                "GetUser&UserName=bench-user"))
        return wrkrun.sign(host, f"Action={action}&Version=2010-05-08", *self.root, None,
                           service="iam")

    def _worker(self) -> None:
        conn = http.client.HTTPConnection(self.ident.host, timeout=30)
        while (kind := self.jobs.get()) is not None:
            req = self._request(kind)
            began = time.monotonic()
            try:
                conn.request(req.method, req.path, body=req.body.encode(), headers=dict(req.headers))
                resp = conn.getresponse()
                status, text = resp.status, resp.read().decode(errors="replace")
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                conn = http.client.HTTPConnection(self.ident.host, timeout=30)
                status, text = 0, f"{type(exc).__name__}: {exc}"
            took = time.monotonic() - began
            with self.lock:
                if status == 200:
                    self.counts["ok"] += 1
                    self.window.append(took)
                    if kind == "assume":
                        found = [m.search(text) for m in _CRED.values()]
                        if all(found):
                            self.sessions.append(tuple(m.group(1) for m in found))  # type: ignore[arg-type,union-attr]
                else:
                    self.counts["errors"] += 1
                    self.first_error = self.first_error or f"{kind}: {status} {text[:300]}"
        conn.close()


def process_rss_kb(pid: int) -> int:
    """VmRSS of `pid` and its descendants (uvicorn runs one worker in-process; to be safe)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as fh:
                    ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
            children.setdefault(ppid, []).append(int(entry))
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        todo.extend(children.get(p, []))
        try:
            with open(f"/proc/{p}/status", encoding="ascii") as fh:
                total += next(int(line.split()[1]) for line in fh if line.startswith("VmRSS:"))
        except (OSError, StopIteration):
            continue
    return total


def sample(minute: int, pid: int, client, window: list[float], counts: dict[str, int]) -> dict:
    used = redisproc.used_memory(client)
    keys = redisproc.footprint(client)
    tables = redisproc.table_overhead(client)
    lat = sorted(window)
    return {"minute": minute, "time": time.strftime("%H:%M:%S"), "load1": os.getloadavg()[0],
            "rss_kb": process_rss_kb(pid), "used_memory": used, "dbsize": int(client.dbsize()),
            **keys, "tables": tables, "rest": used - keys["session_bytes"] - keys["other_bytes"],
            "ok": counts.get("ok", 0), "errors": counts.get("errors", 0), "late": counts.get("late", 0),
            "p50_ms": 1000 * lat[len(lat) // 2] if lat else None,
            "p99_ms": 1000 * lat[min(len(lat) - 1, int(len(lat) * 0.99))] if lat else None}


def slope(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of y over x (0 with fewer than two points)."""
    if len(points) < 2:
        return 0.0
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in points) / den if den else 0.0


def print_table(rows: list[dict]) -> None:
    print(f"\n{'min':>4}{'time':>10}{'load1':>6}{'RSS MB':>8}{'used_memory':>12}{'DBSIZE':>8}"
          f"{'sess:*':>8}{'sess B':>11}{'others':>7}{'others B':>9}{'tables B':>10}{'rest B':>11}"
          f"{'req ok':>8}{'err':>4}{'late':>5}{'p50 ms':>7}{'p99 ms':>7}")
    for r in rows:
        p50 = "-" if r["p50_ms"] is None else f"{r['p50_ms']:.1f}"
        p99 = "-" if r["p99_ms"] is None else f"{r['p99_ms']:.1f}"
        print(f"{r['minute']:>4}{r['time']:>10}{r['load1']:>6.2f}{r['rss_kb'] / 1024:>8.1f}"
              f"{r['used_memory']:>12,}{r['dbsize']:>8,}{r['sessions']:>8,}{r['session_bytes']:>11,}"
              f"{r['others']:>7,}{r['other_bytes']:>9,}{r['tables']:>10,}{r['rest']:>11,}"
              f"{r['ok']:>8,}{r['errors']:>4}{r['late']:>5}{p50:>7}{p99:>7}")


def verdict(rows: list[dict], warmup: int) -> dict:
    after = [r for r in rows if r["minute"] >= warmup]

    def per_minute(field: str, scale: float = 1.0) -> float:
        return slope([(r["minute"], r[field] / scale) for r in after])

    rss, others, rest = per_minute("rss_kb", 1024), per_minute("other_bytes"), per_minute("rest")
    sessions, tables = per_minute("session_bytes"), per_minute("tables")
    first, last = rows[0], rows[-1]
    out = {"warmup_minutes": warmup, "rss_mb_per_min": round(rss, 3),
           "rss_mb_whole_run": round((last["rss_kb"] - first["rss_kb"]) / 1024, 1),
           "other_keys_bytes_per_min": round(others),
           "rest_less_tables_bytes_per_min": round(rest - tables), "tables_bytes_per_min": round(tables),
           "session_bytes_per_min": round(sessions),
           "used_memory_per_live_session_fit": round(slope([(r["sessions"], r["used_memory"]) for r in rows])),
           "rss_flat": abs(rss) < 0.5, "other_keys_flat": abs(others) < 1024,
           "errors": sum(r["errors"] for r in rows), "late": sum(r["late"] for r in rows)}
    print(f"\nverdict (least-squares slopes over minutes {warmup}..{rows[-1]['minute']}):\n"
          f"  Tessera RSS {rss:+.3f} MB/min: {'flat' if out['rss_flat'] else 'GROWING'} (threshold 0.5 MB/min)\n"
          f"  Redis, keys other than live sessions {others:+,.0f} B/min: "
          f"{'flat' if out['other_keys_flat'] else 'GROWING'} (threshold 1 KiB/min)\n"
          f"  Redis, live sessions' own bytes {sessions:+,.0f} B/min; the key tables {tables:+,.0f} B/min; "
          f"the rest of used_memory (clients, allocator) {rest - tables:+,.0f} B/min\n"
          f"  whole run: RSS {out['rss_mb_whole_run']:+.1f} MB (minute 0 to {last['minute']}), "
          f"live sessions {first['sessions']:,} -> {last['sessions']:,}\n"
          f"  used_memory per live session (fit over all samples) {out['used_memory_per_live_session_fit']:,} B; "
          f"{out['errors']} errors, {out['late']} requests dropped for falling behind")
    return out


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    servers.exit_on_sigterm()
    if args.rejudge:
        saved = json.loads(args.rejudge.read_text())
        rows = saved["samples"]
        print_table(rows)
        verdict(rows, args.warmup_minutes if args.warmup_minutes is not None else rows[-1]["minute"] // 2)
        return 0
    os.sched_setaffinity(0, {args.client_cpu})
    redis_node = redisproc.RedisServer.start()
    bench = Bench(argparse.Namespace(server_cpu=args.server_cpu))
    log(f"soak: redis on {redis_node.port}; scratch dir {bench.work}")
    rows: list[dict] = []
    try:
        target = bench.start_tessera("tessera-soak", redis_node.url)
        assert target.ident is not None
        root = target.root
        client = redis_node.client()
        pid = target.server.proc.pid
        rows.append(sample(0, pid, client, [], {}))
        load = Load(target.ident, root, args.rate, args.mix, args.threads)
        began = time.monotonic()
        load.start()
        log(f"soak: {args.rate:g} req/s ({args.mix}) for {args.minutes} min against pid {pid}")
        for minute in range(1, args.minutes + 1):
            time.sleep(max(0.0, began + 60 * minute - time.monotonic()))
            window, counts = load.take_window()
            rows.append(sample(minute, pid, client, window, counts))
            r = rows[-1]
            log(f"minute {minute}: RSS {r['rss_kb'] / 1024:.1f} MB, used_memory {r['used_memory']:,}, "
                f"sessions {r['sessions']:,}, ok {r['ok']:,}, errors {r['errors']}, load {r['load1']:.2f}")
        load.stop()
        if load.first_error:
            log(f"first error: {load.first_error}")
        print_table(rows)
        result = verdict(rows, args.warmup_minutes if args.warmup_minutes is not None
                         else max(2, args.minutes // 2))
        if args.json:
            args.json.write_text(json.dumps({"config": {**vars(args), "json": str(args.json), "rejudge": None},
                                             "samples": rows, "verdict": result}, indent=2))
    finally:
        bench.stop_servers()
        redis_node.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
