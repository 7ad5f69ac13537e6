"""``colorize serve`` against a real server on localhost: a photo in, the coloured photo
out; every refusal a 4xx JSON with a one-line reason; concurrent requests all answered;
the page served; the missing extra named."""

from __future__ import annotations

import http.client
import io
import json
import os
import time
import urllib.error
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from importlib import metadata
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from colorize_cli.config import DISTRIBUTION

from conftest import free_port, photo_like, run_cli

pytest.importorskip("starlette", reason='the server extra is not installed: pip install ".[serve]"')
pytest.importorskip("uvicorn", reason='the server extra is not installed: pip install ".[serve]"')


def photo_bytes(h: int = 96, w: int = 128, fmt: str = "JPEG", seed: int = 0) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.rint(photo_like(h, w, seed) * 255).astype(np.uint8)).save(buf, fmt)
    return buf.getvalue()


def post(url: str, body: bytes, kind: str = "application/octet-stream") -> tuple[int, str, bytes]:
    req = urllib.request.Request(url, data=body, headers={"Content-Type": kind}, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=120) as r:
            return r.status, r.headers["Content-Type"], r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers["Content-Type"], e.read()


def multipart(fields: dict[str, tuple[str, bytes]]) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    out = b""
    for name, (filename, data) in fields.items():
        out += f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '.encode()
        out += f'filename="{filename}"\r\n\r\n'.encode() + data + b"\r\n"
    return out + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def test_health_and_page(server: str) -> None:
    health = json.loads(urllib.request.urlopen(server + "/health").read())
    assert health["model_loaded"] is True and health["device"] == "cpu"
    assert health["version"] == metadata.version(DISTRIBUTION)
    page = urllib.request.urlopen(server + "/").read().decode()
    assert 'type="file"' in page and "/colorize" not in page.split("<script>")[0]
    assert "http" not in page.split("<script>")[1]  # no external assets


def test_colours_an_upload(server: str) -> None:
    body, kind = multipart({"image": ("grandma.jpg", photo_bytes())})
    status, media, data = post(server + "/colorize", body, kind)
    assert status == 200 and media == "image/jpeg"
    out = Image.open(io.BytesIO(data))
    assert out.size == (128, 96) and out.mode == "RGB"
    assert np.asarray(out, np.int16).std(axis=2).mean() > 1  # coloured, not grey
    status, media, data = post(server + "/colorize?format=png&temperature=0.3", photo_bytes())
    assert status == 200 and media == "image/png"
    assert Image.open(io.BytesIO(data)).format == "PNG"


def test_hints_and_reference(server: str) -> None:
    hints = json.dumps({"points": [{"x": 10, "y": 10, "rgb": [200, 30, 40], "radius": 6}]})
    ref = io.BytesIO()
    Image.new("RGB", (64, 64), (30, 60, 200)).save(ref, "PNG")
    body, kind = multipart(
        {
            "image": ("a.png", photo_bytes(fmt="PNG")),
            "hints": ("h.json", hints.encode()),
            "reference": ("r.png", ref.getvalue()),
        }
    )
    status, media, data = post(server + "/colorize", body, kind)
    assert status == 200 and media == "image/png"
    r, g, b = np.asarray(Image.open(io.BytesIO(data)), np.int16)[10, 10]
    assert r > g + 20 and r > b + 20  # the hint's red is there


@pytest.mark.parametrize(
    ("body", "query", "status", "reason"),
    [
        (b"certainly not an image", "", 415, "not a recognised image"),
        (photo_bytes()[:200], "", 415, ""),  # truncated JPEG
        (photo_bytes(800, 800), "", 413, "megapixel limit"),  # 0.64 MP > 0.5
        (photo_bytes(), "?format=gif", 400, "format must be"),
        (photo_bytes(), "?temperature=hot", 400, "temperature"),
        (b"", "", 400, "empty request"),
    ],
)
def test_refusals_are_json_with_a_reason(
    server: str, body: bytes, query: str, status: int, reason: str
) -> None:
    got, media, data = post(server + "/colorize" + query, body)
    assert got == status and media == "application/json"
    assert reason in json.loads(data)["error"]


def test_upload_size_is_refused_before_the_body_is_read(server: str) -> None:
    """Only the headers are sent: the refusal comes from Content-Length alone."""
    host, port = server.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    conn.putrequest("POST", "/colorize")
    conn.putheader("Content-Type", "application/octet-stream")
    conn.putheader("Content-Length", str(600_000))  # 0.57 MB > 0.5
    conn.endheaders()
    reply = conn.getresponse()
    assert reply.status == 413 and "MB limit" in json.loads(reply.read())["error"]
    conn.close()


def test_a_slow_upload_blocks_no_one(server: str) -> None:
    """One client starts an upload and stalls; another is answered meanwhile."""
    host, port = server.removeprefix("http://").split(":")
    slow = http.client.HTTPConnection(host, int(port), timeout=30)
    slow.putrequest("POST", "/colorize")
    slow.putheader("Content-Length", str(100_000))
    slow.endheaders()
    slow.send(b"\xff\xd8" + b"\0" * 1000)  # the rest never comes
    t0 = time.perf_counter()
    status, _, _ = post(server + "/colorize", photo_bytes())
    assert status == 200 and time.perf_counter() - t0 < 60
    slow.close()


def test_malformed_hints_name_the_field(server: str) -> None:
    hints = b'{"points": [{"x": 1, "y": 2, "rgb": [1, 2]}]}'
    body, kind = multipart({"image": ("a.jpg", photo_bytes()), "hints": ("h.json", hints)})
    status, _, data = post(server + "/colorize", body, kind)
    assert status == 400 and "'rgb' must be three integers" in json.loads(data)["error"]


def test_concurrent_requests_all_answered(server: str) -> None:
    sizes = [(64 + 8 * i, 80 + 4 * i) for i in range(12)]

    def one(size: tuple[int, int]) -> tuple[int, tuple[int, int]]:
        status, _, data = post(server + "/colorize", photo_bytes(*size, seed=size[0]))
        return status, Image.open(io.BytesIO(data)).size

    with ThreadPoolExecutor(12) as pool:
        results = list(pool.map(one, sizes))
    assert results == [(200, (w, h)) for h, w in sizes]


def test_missing_extra_says_what_to_install(tmp_path: Path) -> None:
    fake = tmp_path / "no-uvicorn" / "uvicorn"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('No module named uvicorn')\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "no-uvicorn")}
    r = run_cli("serve", "--port", str(free_port()), env=env)
    assert r.returncode == 2
    assert "pip install 'starlette>=0.40' 'uvicorn>=0.30' 'python-multipart>=0.0.9'" in r.stderr
