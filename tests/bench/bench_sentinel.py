"""Sentinel failover, as a client of Tessera sees it: how long the 503s last and what is lost.

    python tests/bench/bench_sentinel.py [--rounds 3] [--wait-replicas 0]

Starts a primary, two replicas and three sentinels on free loopback ports (tests/redis_sentinel.py:
down-after-milliseconds 1000, failover-timeout 3000) and one `tessera serve` on the Sentinel URL.
One boto3 client (no retries) loops AssumeRole then GetCallerIdentity with the new session. Per
round it SIGKILLs the primary, then (once the failover settled) demotes the new one with SENTINEL
FAILOVER, and prints: seconds from the event to the last 503 and to the first success after it,
the number of 503s and of other errors (which must be 0), and how many of the credentials issued
in the round no longer work once the dust settled (lost with the old primary: asynchronous
replication; with `--wait-replicas 1` nothing returned should be lost). Not a pytest file.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from typing import Any

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))

from botocore.exceptions import BotoCoreError, ClientError  # noqa: E402

from tests.integration.conftest import (ACCOUNT, ROOT_AKID, ROOT_SECRET, Server, allow, client,  # noqa: E402
                                        start_server, trust)
from tests.redis_sentinel import RedisSentinel  # noqa: E402

ONCE = {"total_max_attempts": 1}


@dataclass
class Loop:
    server: Server
    user: Any
    role_arn: str
    events: list[tuple[float, int]] = field(default_factory=list)  # (monotonic, HTTP status; 0: no answer)
    odd: list[str] = field(default_factory=list)  # what answered neither 200 nor 503
    issued: list[dict[str, str]] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                creds = self.user.assume_role(RoleArn=self.role_arn, RoleSessionName="bench")["Credentials"]
                self.issued.append(creds)
                self.events.append((time.monotonic(), 200))
                client(self.server, "sts", creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"],
                       retries=ONCE).get_caller_identity()
                self.events.append((time.monotonic(), 200))
            except ClientError as exc:
                status = int(exc.response["ResponseMetadata"]["HTTPStatusCode"])
                self.events.append((time.monotonic(), status))
                if status != 503:
                    self.odd.append(f"{status} {exc.response['Error'].get('Code')}: {exc.response['Error'].get('Message')}")
            except BotoCoreError as exc:
                self.events.append((time.monotonic(), 0))
                self.odd.append(f"no answer: {exc}")


def works(server: Server, creds: dict[str, str]) -> bool:
    try:
        client(server, "sts", creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"],
               retries=ONCE).get_caller_identity()
        return True
    except ClientError:
        return False


def measure(loop: Loop, name: str, event: Any, settle: Any) -> None:
    start_issued = len(loop.issued)
    time.sleep(1.0)
    t0 = time.monotonic()
    event()
    settle()
    time.sleep(2.0)
    after = [(t - t0, status) for t, status in loop.events if t >= t0]
    failures = [(t, s) for t, s in after if s != 200]
    last_fail = max((t for t, _ in failures), default=0.0)
    first_ok = min((t for t, s in after if s == 200 and t > last_fail), default=float("nan"))
    others = sum(1 for _, s in failures if s != 503)
    issued = loop.issued[start_issued:]
    lost = sum(1 for creds in issued if not works(loop.server, creds))
    print(f"{name:10s} 503s {sum(1 for _, s in failures if s == 503):4d}  other errors {others}  "
          f"last 503 at {last_fail:5.2f} s  first success after at {first_ok:5.2f} s  "
          f"credentials issued {len(issued):4d}, lost {lost}", flush=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--wait-replicas", type=int, default=0, help="TESSERA_REDIS_WAIT_REPLICAS for the server")
    args = p.parse_args(argv)
    with RedisSentinel.start(replicas=2) as rs, tempfile.TemporaryDirectory() as tmp:
        env = {"TESSERA_REDIS_WAIT_REPLICAS": str(args.wait_replicas)} if args.wait_replicas else {}
        server = start_server(tmp, redis_url=rs.url, extra_env=env)
        try:
            iam = client(server, "iam", ROOT_AKID, ROOT_SECRET, retries=ONCE)
            iam.create_user(UserName="bench")
            iam.put_user_policy(UserName="bench", PolicyName="p", PolicyDocument=allow("sts:AssumeRole"))
            key = iam.create_access_key(UserName="bench")["AccessKey"]
            role = iam.create_role(RoleName="bench", AssumeRolePolicyDocument=trust(
                {"AWS": f"arn:aws:iam::{ACCOUNT}:user/bench"}))["Role"]
            user = client(server, "sts", key["AccessKeyId"], key["SecretAccessKey"], retries=ONCE)
            loop = Loop(server, user, role["Arn"])
            thread = threading.Thread(target=loop.run, daemon=True)
            thread.start()
            print(f"redis {os.popen('redis-server --version').read().split()[2]}, "
                  f"TESSERA_REDIS_WAIT_REPLICAS={args.wait_replicas}", flush=True)
            for _ in range(args.rounds):
                old = rs.primary()
                rs_kill = lambda: rs.kill(old)  # noqa: E731
                measure(loop, "SIGKILL", rs_kill, lambda: rs.wait_failover(old))
                rs.restart(old)  # the killed node comes back, as a replica
                demoted: dict[str, int] = {}
                measure(loop, "demotion", lambda: demoted.setdefault("old", rs.failover()),
                        lambda: rs.wait_failover(demoted["old"]))
            loop.stop.set()
            thread.join(30)
            fives = sum(1 for _, s in loop.events if s >= 500 and s != 503)
            print(f"calls {len(loop.events)}, 5xx other than 503: {fives}, server alive: {server.proc.poll() is None}")
            for text in loop.odd:
                print("  neither 200 nor 503:", text)
        finally:
            server.proc.terminate()
            server.proc.wait(10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
