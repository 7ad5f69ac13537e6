"""Installs as users install: the wheel, its metadata, and numba's cache outside the package.

The wheel is built once from this checkout with pip, as the README says, and installed
with ``pip install --target`` into a folder that is then made read-only: a system-wide
install, or a container image run as another user.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import zipfile
from importlib import metadata
from pathlib import Path

import pytest
from PIL import Image

from colorize_cli.config import DISTRIBUTION

from conftest import REPO, SAMPLES, tree_snapshot

VERSION = metadata.version(DISTRIBUTION)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(out), str(REPO)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    (built,) = out.glob("*.whl")
    return built


@pytest.fixture(scope="module")
def read_only_install(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel unpacked by pip into a folder nobody may write to."""
    site = tmp_path_factory.mktemp("site")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site), wheel],
        check=True,
        capture_output=True,
        timeout=600,
    )
    for dirpath, dirnames, filenames in os.walk(site):
        for name in [*dirnames, *filenames]:
            p = Path(dirpath, name)
            p.chmod(p.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    site.chmod(0o555)
    yield site
    for dirpath, dirnames, _ in os.walk(site):
        for name in dirnames:
            Path(dirpath, name).chmod(0o755)
    site.chmod(0o755)


def test_the_wheel_carries_the_weights_and_its_metadata(wheel: Path) -> None:
    assert wheel.name == f"colorize_archive-{VERSION}-py3-none-any.whl"
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        meta = z.read(f"colorize_archive-{VERSION}.dist-info/METADATA").decode()
    assert "colorize_cli/shipped/colorizer.safetensors" in names
    assert "colorize_cli/serve/page.html" in names
    assert f"Name: {DISTRIBUTION}\n" in meta and f"Version: {VERSION}\n" in meta
    assert "License-Expression: MIT" in meta and "Classifier: Environment :: Console" in meta
    assert "Provides-Extra: ray" in meta and "Provides-Extra: serve" in meta


def test_version_is_the_package_metadata() -> None:
    command = Path(sys.executable).parent / "colorize"  # the installed entry point
    r = subprocess.run([command, "--version"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0
    assert r.stdout.strip() == f"colorize ({DISTRIBUTION}) {VERSION}"


def _run_installed(site: Path, tmp_path: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    """Colour a bundled sample with the installed copy (not this checkout) in a child,
    with no NUMBA_CACHE_DIR from this process (importing colorize_cli sets it)."""
    code = (
        "import sys, colorize_cli.colour.rgb as rgb, colorize_cli.numba_cache as nc;"
        "from colorize_cli.cli.colorize import entry;"
        "print(rgb.__file__, nc.CACHE_DIR, file=sys.stderr); entry()"
    )
    return subprocess.run(
        [sys.executable, "-c", code, str(SAMPLES / "people"), str(tmp_path / "out"), "-q"],
        capture_output=True,
        text=True,
        timeout=600,
        env={
            **{k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"},
            **{"PYTHONPATH": str(site), "OMP_NUM_THREADS": "1"},
            **env,
        },
        cwd=tmp_path,
    )


def test_a_read_only_install_caches_numba_in_the_user_cache(
    read_only_install: Path, tmp_path: Path
) -> None:
    before = tree_snapshot(read_only_install)
    r = _run_installed(read_only_install, tmp_path, {"XDG_CACHE_HOME": str(tmp_path / "cache")})
    assert r.returncode == 0, r.stderr
    assert str(read_only_install) in r.stderr  # the installed copy ran, not the checkout
    assert Image.open(tmp_path / "out" / "astronaut.png").mode == "RGB"
    cached = list((tmp_path / "cache" / "colorize-archive" / "numba").rglob("*.nbi"))
    assert cached, "numba's index files belong in the user cache"
    assert tree_snapshot(read_only_install) == before  # nothing written into the package


def test_with_nowhere_writable_it_compiles_without_a_cache(
    read_only_install: Path, tmp_path: Path
) -> None:
    """NUMBA_CACHE_DIR set to a folder that cannot be made (under a file: refused even to
    root, which ignores permissions): the run still colours, caching nothing."""
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    env = {"NUMBA_CACHE_DIR": str(blocker / "numba")}
    before = tree_snapshot(read_only_install)
    r = _run_installed(read_only_install, tmp_path, env)
    assert r.returncode == 0, r.stderr
    assert " None" in r.stderr.splitlines()[0]  # no cache folder was chosen
    assert (
        Image.open(tmp_path / "out" / "astronaut.png").size
        == Image.open(SAMPLES / "people" / "astronaut.png").size
    )
    assert tree_snapshot(read_only_install) == before
