"""Colour one frame, the shot follows (issue 34): hints on a film's keyframe reach every
frame of its shot, before and after it, and stop at the cut; for frame folders and
videos, through the real command."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import av
import numpy as np
import torch
from PIL import Image
from test_film import make_video

from colorize_cli.colour.lab import rgb_to_lab

from conftest import SAMPLES, run_cli

RED = [220, 30, 40]


def _pan(folder: Path, photo: Path, first: int, n: int) -> None:
    """``n`` frames of a slow pan across ``photo`` (grey), numbered from ``first``."""
    wide = Image.open(photo).convert("L").resize((300, 220))
    for i in range(n):
        frame = wide.crop((4 * i, 2 * i, 4 * i + 160, 2 * i + 120))
        frame.save(folder / f"frame_{first + i:03d}.png")


def two_shots(root: Path) -> Path:
    """reel/: 12 frames panning across the cat, then a cut to 12 across the astronaut."""
    reel = root / "reel"
    reel.mkdir(parents=True)
    _pan(reel, SAMPLES / "animals" / "chelsea.png", 0, 12)
    _pan(reel, SAMPLES / "people" / "astronaut.png", 12, 12)
    return reel


def _redness(rgb: np.ndarray) -> float:
    """Mean Lab a* of an RGB frame: how red it is."""
    t = torch.from_numpy(rgb.astype(np.float32) / 255).permute(2, 0, 1)
    return float(rgb_to_lab(t)[1].mean())


def _frame(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


def _hints(points: list[tuple[int, int]]) -> dict:
    return {"points": [{"x": x, "y": y, "rgb": RED} for x, y in points]}


def test_a_keyframe_colours_its_shot_before_and_after_and_stops_at_the_cut(tmp_path: Path):
    src = tmp_path / "in"
    two_shots(src)
    hints = tmp_path / "hints" / "reel"
    hints.mkdir(parents=True)
    (hints / "frame_006.hints.json").write_text(json.dumps(_hints([(40, 60), (120, 30)])))
    plain = run_cli(src, tmp_path / "plain", "-q")
    manifest = tmp_path / "run.jsonl"
    hinted = run_cli(
        src, tmp_path / "hinted", "--hints", tmp_path / "hints", "--manifest", manifest
    )
    assert plain.returncode == hinted.returncode == 0, hinted.stderr
    assert "reel/frame_*.png (24 frames" in hinted.stderr  # one film, cut inside it
    names = [f"frame_{i:03d}.png" for i in range(24)]
    gain = [
        _redness(_frame(tmp_path / "hinted" / "reel" / n))
        - _redness(_frame(tmp_path / "plain" / "reel" / n))
        for n in names
    ]
    print("a* gained per frame:", [round(g, 1) for g in gain])
    assert gain[6] > 3  # the keyframe itself
    assert min(gain[:12]) > 0.5 * gain[6]  # every frame of its shot, before and after
    for n in names[12:]:  # the next shot, after the cut, exactly as without hints
        assert np.array_equal(
            _frame(tmp_path / "hinted" / "reel" / n), _frame(tmp_path / "plain" / "reel" / n)
        ), n
    records = {Path(r["input"]).name: r for r in map(json.loads, manifest.read_text().splitlines())}
    assert records["frame_006.png"]["hints"] == 2 and records["frame_005.png"]["hints"] == 0
    # a resumed run (the second half of the shot lost) has no seam: the same frames
    for n in names[8:]:
        (tmp_path / "hinted" / "reel" / n).unlink()
    again = run_cli(src, tmp_path / "again", "--hints", tmp_path / "hints", "-q")
    resumed = run_cli(src, tmp_path / "hinted", "--hints", tmp_path / "hints", "-q")
    assert again.returncode == resumed.returncode == 0, resumed.stderr
    for n in names[8:]:
        a = _frame(tmp_path / "hinted" / "reel" / n).astype(int)
        b = _frame(tmp_path / "again" / "reel" / n).astype(int)
        assert np.abs(a - b).max() <= 1, n


def test_a_bad_keyframe_hints_file_fails_its_film_alone(tmp_path: Path):
    src = tmp_path / "in"
    two_shots(src)
    shutil.copy(SAMPLES / "rocket.jpg", src / "rocket.jpg")
    hints = tmp_path / "hints" / "reel"
    hints.mkdir(parents=True)
    bad = _hints([(40, 60)])
    bad["points"][0]["rgb"] = [300, 0, 0]
    (hints / "frame_006.hints.json").write_text(json.dumps(bad, indent=1))
    r = run_cli(src, tmp_path / "out", "--hints", tmp_path / "hints")
    assert r.returncode == 1
    assert "24 failed" in r.stderr and "1 done" in r.stderr
    assert "frame_006.hints.json: points[0] (line 3): 'rgb' must be three integers" in r.stderr
    assert not (tmp_path / "out" / "reel").exists() or not any(
        (tmp_path / "out" / "reel").iterdir()
    )
    assert (tmp_path / "out" / "rocket.jpg").is_file()


def _video_frames(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as c:
        return [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]


def test_a_videos_keyframes_colour_its_frames_and_a_bad_index_fails_it(tmp_path: Path):
    src = tmp_path / "in"
    src.mkdir()
    make_video(src / "clip.mp4", frames=24, size=(128, 96))
    make_video(src / "other.mp4", frames=8, size=(128, 96))
    hints = tmp_path / "hints"
    hints.mkdir()
    (hints / "clip.hints.json").write_text(
        json.dumps({"frames": [{"frame": 10, **_hints([(30, 40), (90, 60)])}]})
    )
    (hints / "other.hints.json").write_text(
        json.dumps({"frames": [{"frame": 99, **_hints([(30, 40)])}]})
    )
    plain = run_cli(src, tmp_path / "plain", "--video-crf", "0", "-q")
    hinted = run_cli(src, tmp_path / "hinted", "--hints", hints, "--video-crf", "0")
    assert plain.returncode == 0, plain.stderr
    assert hinted.returncode == 1 and "1 done" in hinted.stderr and "1 failed" in hinted.stderr
    assert "other.hints.json: frame 99 is past the end of the video (8 frames" in hinted.stderr
    assert sorted(p.name for p in (tmp_path / "hinted").iterdir()) == ["clip.mp4"]
    ours, theirs = (
        _video_frames(tmp_path / "hinted" / "clip.mp4"),
        _video_frames(tmp_path / "plain" / "clip.mp4"),
    )
    assert len(ours) == len(theirs) == 24
    gain = [_redness(a) - _redness(b) for a, b in zip(ours, theirs, strict=True)]
    print("a* gained per frame:", [round(g, 1) for g in gain])
    assert gain[10] > 3 and min(gain) > 0.3 * gain[10]
