"""One signed request, replayed by wrk: signing, the request file, the run, the figures.

A SigV4 signature stays valid for 15 minutes, so wrk can replay one prepared request;
`sign()` is called right before each run so a long seeding phase never stales it.
"""
from __future__ import annotations

import http.client
import json
import re
import subprocess
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

REPLAY_LUA = Path(__file__).resolve().parent / "wrk" / "replay.lua"
STS_VERSION = "2011-06-15"
FORM = "application/x-www-form-urlencoded; charset=utf-8"
_RESULT = re.compile(r"^BENCH_RESULT (.*)$", re.M)
_ERROR_BODY = re.compile(r"^BENCH_FIRST_ERROR_BODY (.*)$", re.M)


@dataclass(frozen=True, slots=True)
class SignedRequest:
    host: str  # 127.0.0.1:PORT
    method: str
    path: str
    body: str
    headers: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class WrkResult:
    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p99_ms: float
    p999_ms: float
    max_ms: float
    non2xx: int
    socket_errors: dict[str, int]
    first_error_status: int
    first_error_body: str

    @property
    def errors(self) -> int:
        return self.non2xx + sum(self.socket_errors.values())

    @property
    def valid(self) -> bool:
        return self.errors == 0 and self.requests > 0

    def as_dict(self) -> dict[str, object]:
        return {**asdict(self), "errors": self.errors, "valid": self.valid}


def sign(host: str, body: str, key: str, secret: str, token: str | None,
         service: str = "sts", region: str = "us-east-1") -> SignedRequest:
    """Sign `POST /` with SigV4 exactly as botocore would (Host carries the port)."""
    request = AWSRequest(method="POST", url=f"http://{host}/", data=body.encode(),
                         headers={"Host": host, "Content-Type": FORM})
    SigV4Auth(Credentials(key, secret, token), service, region).add_auth(request)
    headers = tuple((k, str(v)) for k, v in request.headers.items())
    return SignedRequest(host=host, method="POST", path="/", body=body, headers=headers)


def check_once(req: SignedRequest) -> tuple[int, str]:
    """Send the request once with http.client; (status, body) for a sanity check."""
    conn = http.client.HTTPConnection(req.host, timeout=30)
    try:
        conn.request(req.method, req.path, body=req.body.encode(), headers=dict(req.headers))
        resp = conn.getresponse()
        return resp.status, resp.read().decode(errors="replace")
    finally:
        conn.close()


def _lua_string(value: str) -> str:
    if not value.isascii() or not value.isprintable():
        raise ValueError("request values must be printable ASCII")
    return json.dumps(value)  # JSON escapes of printable ASCII are valid Lua escapes


def lua_request(req: SignedRequest) -> str:
    headers = ",\n".join(f"    [{_lua_string(k)}] = {_lua_string(v)}" for k, v in req.headers)
    return (f"return {{\n  method = {_lua_string(req.method)},\n  path = {_lua_string(req.path)},\n"
            f"  body = {_lua_string(req.body)},\n  headers = {{\n{headers}\n  }},\n}}\n")


def run(req: SignedRequest, *, seconds: int, connections: int, cpu: int,
        workdir: Path, name: str) -> WrkResult:
    """`taskset -c CPU wrk -t1 -cN -dS --latency -s replay.lua URL -- request.lua`."""
    request_file = workdir / f"{name}.request.lua"
    request_file.write_text(lua_request(req))
    cmd = ["taskset", "-c", str(cpu), "wrk", "-t1", f"-c{connections}", f"-d{seconds}s",
           "--timeout", "5s", "--latency", "-s", str(REPLAY_LUA), f"http://{req.host}/",
           "--", str(request_file)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60)
    (workdir / f"{name}.wrk.txt").write_text(proc.stdout + proc.stderr)
    match = _RESULT.search(proc.stdout)
    if proc.returncode != 0 or not match:
        raise RuntimeError(f"wrk failed ({proc.returncode}): {proc.stderr.strip() or proc.stdout}")
    return parse(proc.stdout)


def parse(output: str) -> WrkResult:
    match = _RESULT.search(output)
    if not match:
        raise ValueError("no BENCH_RESULT line in wrk output")
    f = {k: int(v) for k, v in (item.split("=", 1) for item in match.group(1).split())}
    body = _ERROR_BODY.search(output)
    seconds = f["duration_us"] / 1e6
    return WrkResult(
        requests=f["requests"], seconds=seconds,
        rps=f["requests"] / seconds if seconds else 0.0,
        p50_ms=f["p50_us"] / 1000, p99_ms=f["p99_us"] / 1000,
        p999_ms=f["p999_us"] / 1000, max_ms=f["max_us"] / 1000,
        non2xx=f["non2xx"],
        socket_errors={k: f[k] for k in ("connect", "read", "write", "timeout")},
        first_error_status=f["first_status"],
        first_error_body=body.group(1).strip() if body else "",
    )


def scratch_dir() -> Path:
    return Path(tempfile.mkdtemp(prefix="tessera-bench-"))
