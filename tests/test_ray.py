"""The Ray engine (a real local Ray instance, started by the command): the same outputs,
reports and exit status as the local engine, re-runs skip, and clear refusals."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import run_cli, save_gray

pytest.importorskip("ray.data", reason='the Ray extra is not installed: pip install ".[ray]"')

RAY_ENV = {**os.environ, "OMP_NUM_THREADS": "1", "RAY_num_cpus": "2"}


def tree(root: Path) -> Path:
    """A nested folder of small photos in several formats, and one damaged file."""
    save_gray(root / "a" / "one.png", 64, 80, seed=1)
    save_gray(root / "a" / "b" / "two.jpg", 72, 60, seed=2, quality=92)
    save_gray(root / "a" / "b" / "c" / "three.tif", 48, 96, seed=3)
    save_gray(root / "four.png", 90, 90, seed=4)
    (root / "a" / "b" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    return root


def outputs(root: Path) -> dict[str, np.ndarray]:
    return {
        p.relative_to(root).as_posix(): np.asarray(Image.open(p), np.int16)
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def failures(stderr: str) -> list[str]:
    return sorted(line.split(":")[0] for line in stderr.splitlines() if line.startswith("failed"))


def test_ray_engine_matches_local_and_skips_on_rerun(tmp_path: Path) -> None:
    src = tree(tmp_path / "in")
    local = run_cli(src, tmp_path / "local", env=RAY_ENV)
    manifest = tmp_path / "ray.jsonl"
    ray = run_cli(src, tmp_path / "ray", "--engine", "ray", "--manifest", manifest, env=RAY_ENV)
    assert local.returncode == ray.returncode == 1  # the damaged file, in both
    assert failures(ray.stderr) == failures(local.stderr) == [f"failed {src}/a/b/broken.jpg"]
    assert "4 done" in ray.stderr and "1 failed" in ray.stderr
    records = [json.loads(line) for line in manifest.read_text().splitlines()]
    assert sorted(r["status"] for r in records) == ["done"] * 4 + ["failed"]
    assert all(r["seconds"] > 0 for r in records if r["status"] == "done")
    ours, theirs = outputs(tmp_path / "ray"), outputs(tmp_path / "local")
    assert sorted(ours) == sorted(theirs) and len(ours) == 4
    for name, pixels in ours.items():
        assert pixels.shape == theirs[name].shape
        assert np.abs(pixels - theirs[name]).max() <= 1, name
    (src / "a" / "b" / "broken.jpg").unlink()
    again = run_cli(src, tmp_path / "ray", "--engine", "ray", env=RAY_ENV)
    assert again.returncode == 0, again.stderr
    assert "0 done, 4 skipped" in again.stderr


def test_films_are_refused_with_the_reason(tmp_path: Path) -> None:
    for i in range(3):
        save_gray(tmp_path / "in" / "reel" / f"frame_{i:04d}.png", 32, 32, seed=0)
    r = run_cli(tmp_path / "in", tmp_path / "out", "--engine", "ray", env=RAY_ENV)
    assert r.returncode == 2
    assert "--engine ray colours photos only" in r.stderr and "--no-sequence" in r.stderr
    assert not (tmp_path / "out" / "reel").exists()


def test_missing_ray_says_what_to_install(tmp_path: Path) -> None:
    fake = tmp_path / "no-ray" / "ray"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('No module named ray')\n")
    save_gray(tmp_path / "in" / "x.png", 32, 32)
    env = {**RAY_ENV, "PYTHONPATH": str(tmp_path / "no-ray")}
    r = run_cli(tmp_path / "in", tmp_path / "out", "--engine", "ray", env=env)
    assert r.returncode == 2
    assert "pip install 'ray[data]>=2.40' (the ray extra)" in r.stderr
