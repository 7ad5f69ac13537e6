"""Requests/s and latency of ``colorize serve`` for 1, 4 and 16 concurrent clients.

    python benchmarks/serve.py [--requests 48] [--width 1024] [--height 768]

Starts the server on a free localhost port (the real command, in a subprocess), then for
each concurrency sends ``--requests`` POSTs of one synthetic grey JPEG (bounded in count,
localhost only) and prints requests/s, p50 and p95 latency. The last line is one JSON
object.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

from throughput import synthetic_jpeg


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(port: int) -> subprocess.Popen:
    """``colorize serve`` on ``port`` (the real command, in a subprocess), once it answers."""
    cmd = [sys.executable, "-m", "colorize_cli", "serve", "--port", str(port)]
    proc = subprocess.Popen(cmd, env=os.environ.copy())
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2)
            return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("the server did not start")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--requests", type=int, default=48)
    ap.add_argument("--width", type=int, default=1024)
    ap.add_argument("--height", type=int, default=768)
    args = ap.parse_args()
    body = synthetic_jpeg(args.height, args.width)
    port = free_port()
    proc = start(port)
    url = f"http://127.0.0.1:{port}/colorize"

    def one(_: int) -> float:
        t0 = time.perf_counter()
        req = urllib.request.Request(url, data=body, method="POST")
        with urllib.request.urlopen(req, timeout=300) as r:
            r.read()
        return time.perf_counter() - t0

    figures = {}
    try:
        one(0)  # warm up
        for clients in (1, 4, 16):
            t0 = time.perf_counter()
            with ThreadPoolExecutor(clients) as pool:
                latencies = sorted(pool.map(one, range(args.requests)))
            wall = time.perf_counter() - t0
            p95 = latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))]
            figures[clients] = {
                "requests_per_s": round(args.requests / wall, 2),
                "p50_ms": round(1000 * statistics.median(latencies), 1),
                "p95_ms": round(1000 * p95, 1),
            }
            f = figures[clients]
            print(
                f"{clients:>2} clients: {f['requests_per_s']:6.2f} req/s, "
                f"p50 {f['p50_ms']:7.1f} ms, p95 {f['p95_ms']:7.1f} ms"
            )
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    print(json.dumps({"image": f"{args.width}x{args.height}", **figures}))


if __name__ == "__main__":
    main()
