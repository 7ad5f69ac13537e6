"""What correcting by hand costs: the time from a chosen colour to the new image, and
from a click to the swatches, as the page asks them of ``colorize serve``.

    python benchmarks/correct.py [--width 1024] [--height 768] [--runs 10] [--hints 3]

Starts ``colorize serve`` on a free port, then times, one request at a time (as one
person clicking): ``POST /colorize?format=png`` with the photo and ``--hints`` points (what
the page sends after each choice: decode, model, hints, guided upsampling, PNG encode),
and ``POST /candidates`` at a point. Prints the median and the slowest of ``--runs``; the
last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import urllib.request
import uuid

from serve import free_port, start
from throughput import synthetic_jpeg


def _multipart(fields: dict[str, str], image: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
        for k, v in fields.items()
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="p.jpg"\r\n'
        "Content-Type: image/jpeg\r\n\r\n".encode()
        + image
        + b"\r\n"
    )
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), boundary


def _time(url: str, body: bytes, boundary: str) -> float:
    request = urllib.request.Request(
        url, data=body, headers={"Content-Type": f"multipart/form-data; boundary={boundary}"}
    )
    t0 = time.perf_counter()
    with urllib.request.urlopen(request, timeout=120) as reply:
        reply.read()
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--width", type=int, default=1024)
    ap.add_argument("--height", type=int, default=768)
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--hints", type=int, default=3)
    args = ap.parse_args()
    photo = synthetic_jpeg(args.height, args.width)
    points = [
        {"x": args.width * (k + 1) // (args.hints + 1), "y": args.height // 2, "rgb": [40, 90, 200]}
        for k in range(args.hints)
    ]
    port = free_port()
    server = start(port)
    base = f"http://127.0.0.1:{port}"
    try:
        recolour, boundary = _multipart({"hints": json.dumps({"points": points})}, photo)
        swatches, boundary2 = _multipart({"x": str(args.width // 3), "y": "100"}, photo)
        _time(base + "/colorize?format=png", recolour, boundary)  # warm: numba, first batch
        figures = {}
        for name, url, body, b in (
            ("new image", base + "/colorize?format=png", recolour, boundary),
            ("swatches", base + "/candidates", swatches, boundary2),
        ):
            times = [_time(url, body, b) * 1000 for _ in range(args.runs)]
            figures[name] = {"median_ms": statistics.median(times), "max_ms": max(times)}
            print(
                f"{name}: median {statistics.median(times):.0f} ms, slowest {max(times):.0f} ms "
                f"({args.width}x{args.height}, {args.hints} hints, {args.runs} runs)"
            )
    finally:
        server.terminate()
        server.wait(timeout=30)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
