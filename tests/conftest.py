"""Shared fixtures: the real shipped colorizer, and the real CLI run in a subprocess."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "samples"


@pytest.fixture(scope="session")
def colorizer():
    from colorize_cli import Colorizer

    return Colorizer(device="cpu")


def run_cli(
    *args: object, timeout: float = 300, env: dict | None = None, **kwargs
) -> subprocess.CompletedProcess:
    """Run ``python -m colorize_cli ARGS`` as a user would; capture text output."""
    env = {**(os.environ if env is None else env), "PYTHONUNBUFFERED": "1"}
    return subprocess.run(
        [sys.executable, "-m", "colorize_cli", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        **kwargs,
    )


def photo_like(h: int = 96, w: int = 128, seed: int = 0) -> np.ndarray:
    """A smooth grey 'photo' (gradients and blobs) as float in [0, 1]."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w] / max(h, w)
    img = 0.5 + 0.3 * np.sin(6 * x + rng.uniform(0, 3)) * np.cos(4 * y + rng.uniform(0, 3))
    cy, cx = rng.uniform(0.2, 0.6, 2)
    img += 0.2 * np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / 0.01)
    return np.clip(img, 0, 1)


def save_gray(path: Path, h: int = 96, w: int = 128, seed: int = 0, **save_kw) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.rint(photo_like(h, w, seed) * 255).astype(np.uint8)).save(path, **save_kw)
    return path


def tree_snapshot(root: Path) -> dict[str, bytes]:
    """Every regular file under ``root`` and its bytes: to prove inputs were left unchanged.
    Links, FIFOs and unreadable files are listed by name only."""
    snap = {}
    for dirpath, _, names in os.walk(root):
        for name in names:
            p = Path(dirpath, name)
            try:
                ok = p.is_file() and not p.is_symlink() and os.access(p, os.R_OK)
            except OSError:
                ok = False
            snap[str(p.relative_to(root))] = p.read_bytes() if ok else b"<not read>"
    return dict(sorted(snap.items()))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(*args: object) -> tuple[subprocess.Popen, str]:
    """``colorize serve ARGS`` on a free localhost port, once it answers; its base URL."""
    port = free_port()
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "colorize_cli", "serve", "--port", str(port), *map(str, args)]
    proc = subprocess.Popen(cmd, env=env, cwd=REPO, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            urllib.request.urlopen(base + "/health", timeout=2)
            return proc, base
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError(proc.stderr.read()) from None
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("colorize serve did not answer within 120 s")


@contextmanager
def review_of(src: Path, out: Path, hints: Path) -> Iterator[str]:
    """Colour ``src`` into ``out`` with the command, then serve that run for review with
    hints kept under ``hints``; the server's base URL, stopped after."""
    r = run_cli(src, out, "-q")
    assert r.returncode == 0, r.stderr
    proc, base = start_server("--review", src, out, "--hints", hints)
    try:
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.fixture(scope="module")
def server():
    """``colorize serve`` on a free localhost port, small limits; its base URL."""
    proc, base = start_server("--max-upload-mb", "0.5", "--max-megapixels", "0.5")
    yield base
    proc.terminate()
    proc.wait(timeout=30)


@pytest.fixture
def browser(tmp_path: Path):
    """Debian's chromium, headless, through Selenium, downloading into ``.downloads``;
    the test is skipped, with the reason, where chromium, its driver or Selenium is
    missing (never passed silently)."""
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
    chromium, driver_path = shutil.which("chromium"), shutil.which("chromedriver")
    if not (chromium and driver_path):
        pytest.skip(
            "Debian's chromium and chromium-driver are not installed "
            "(apt-get update && apt-get install chromium chromium-driver)"
        )
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage"):
        options.add_argument(arg)
    options.add_argument("--window-size=900,1200")
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    options.add_experimental_option(
        "prefs",
        {"download.default_directory": str(downloads), "download.prompt_for_download": False},
    )
    driver = webdriver.Chrome(service=webdriver.ChromeService(driver_path), options=options)
    driver.downloads = downloads
    yield driver
    driver.quit()
