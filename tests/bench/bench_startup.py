"""Start-up time of `tessera dev`: from spawning the process to the first 200 from /readyz.

Runs `python -m app dev` from `--root` (default: this checkout; point it at an exported older
commit, e.g. `git archive COMMIT | tar -x -C /tmp/base`, to compare) `--runs` times, one at a
time, and prints each time and the median. Prints figures only; asserts nothing.

    python tests/bench/bench_startup.py [--runs 7] [--root /tmp/base]
"""
from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=0.5) as answer:
            return bool(answer.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def one_start(root: str, timeout: float) -> float:
    port = free_port()
    env = {**os.environ, "PYTHONPATH": root}
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "app", "dev", "--port", str(port)], cwd=root, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        while time.perf_counter() - started < timeout:
            if proc.poll() is not None:
                raise SystemExit(f"tessera dev exited with {proc.returncode}")
            if ready(f"http://127.0.0.1:{port}/readyz"):
                return time.perf_counter() - started
            time.sleep(0.005)
        raise SystemExit("tessera dev did not become ready")
    finally:
        proc.terminate()
        proc.wait(10)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=7)
    p.add_argument("--root", default=ROOT, help="the checkout to start (its app/ package)")
    p.add_argument("--timeout", type=float, default=60.0)
    args = p.parse_args()
    times = [one_start(os.path.abspath(args.root), args.timeout) for _ in range(args.runs)]
    for t in times:
        print(f"tessera dev ready in {t * 1e3:7.1f} ms")
    print(f"median {statistics.median(times) * 1e3:.1f} ms over {args.runs} runs ({args.root})")


if __name__ == "__main__":
    main()
