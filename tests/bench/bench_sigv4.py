"""µs per SigV4 parse+verify (header form and presigned), cold and cached signing key.

Run: python tests/bench/bench_sigv4.py   (prints median and p99; asserts nothing about time)
"""
from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from botocore.auth import SigV4Auth, SigV4QueryAuth  # noqa: E402
from botocore.awsrequest import AWSRequest  # noqa: E402
from botocore.credentials import Credentials  # noqa: E402

from app.core.clock import Clock  # noqa: E402
from app.wire.sigv4 import SigV4Verifier  # noqa: E402

AKID, SECRET, TOKEN = "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "FwoGZXIvYXdzE" * 30
BODY = (b"Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A000000000000%3Arole%2Fdemo"
        b"&RoleSessionName=bench&DurationSeconds=3600")


def _request(presigned: bool) -> dict[str, object]:
    creds = Credentials(AKID, SECRET, TOKEN)
    req = AWSRequest(method="POST", url="http://localhost:8080/", data=BODY,
                     headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
    if presigned:
        req.data = dict(p.split("=", 1) for p in BODY.decode().split("&"))
        SigV4QueryAuth(creds, "sts", "eu-west-1", expires=900).add_auth(req)
    else:
        SigV4Auth(creds, "sts", "eu-west-1").add_auth(req)
    p = req.prepare()
    u = urlsplit(p.url)
    headers = {k.lower(): v for k, v in p.headers.items()}
    headers["host"] = "localhost:8080"
    body = p.body or b""
    return {"method": p.method, "raw_path": u.path, "raw_query": u.query, "headers": headers,
            "body": body.encode() if isinstance(body, str) else body, "expected_service": "sts"}


def _measure(kwargs: dict[str, object], cached: bool, n: int) -> list[float]:
    samples: list[float] = []
    verifier = SigV4Verifier(clock=Clock())
    for _ in range(n):
        if not cached:
            verifier = SigV4Verifier(clock=Clock())
        t0 = time.perf_counter_ns()
        verifier.parse(**kwargs).verify(SECRET)  # type: ignore[arg-type]
        samples.append((time.perf_counter_ns() - t0) / 1000)
    return samples


def main(n: int = 20000) -> None:
    for form in ("header", "presigned"):
        kwargs = _request(form == "presigned")
        for cached in (False, True):
            _measure(kwargs, cached, 500)  # warm-up
            s = sorted(_measure(kwargs, cached, n))
            label = f"{form:9} {'cached' if cached else 'cold':6}"
            print(f"{label} parse+verify: median {statistics.median(s):6.1f} µs   "
                  f"p99 {s[int(len(s) * 0.99)]:6.1f} µs   (n={n})")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20000)
