"""Film: steady colour over sequences (static shot, cut, fade, moving object, pan), the
sequence guess, and video files in and out (round trip with audio, a truncated file
among good ones, a killed run leaving nothing partial)."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import av
import numpy as np
import pytest
import torch
from PIL import Image

from colorize_cli import Options, colorize_dir
from colorize_cli.colour.lab import rgb_to_lab
from colorize_cli.colour.temporal import Stabiliser, estimate_shift, translate
from colorize_cli.files.discover import discover
from colorize_cli.files.sequences import mark_sequences

from conftest import REPO, SAMPLES, photo_like, run_cli

Q, CELLS, SIDE = 12, 8, 32  # a small stand-in for the model: 12 colours on an 8x8 grid


def scene(seed: int = 0) -> torch.Tensor:
    """A model-input L (SIDE x SIDE, 0-100) with structure."""
    return torch.from_numpy(photo_like(SIDE, SIDE, seed)).float() * 100


def noisy_logits(rng: np.random.Generator, base: torch.Tensor, noise: float) -> torch.Tensor:
    return base + noise * torch.from_numpy(rng.standard_normal(base.shape)).float()


def frame_to_frame(outs: list[torch.Tensor]) -> float:
    return float(np.mean([(b - a).abs().mean() for a, b in itertools.pairwise(outs)]))


# -- the stabiliser, on logits ----------------------------------------------------------


def test_static_shot_steadies_and_keeps_the_choice() -> None:
    rng = np.random.default_rng(0)
    base = torch.zeros(Q, CELLS, CELLS)
    base[3] = 2.0  # colour 3 is the model's choice everywhere, with noisy rivals
    stab = Stabiliser(16)
    L = scene()
    raw, steady = [], []
    for _ in range(40):
        grain = torch.from_numpy(rng.normal(0, 1.0, L.shape)).float()
        gain = 1 + 0.04 * float(rng.standard_normal())  # exposure flicker
        logits = noisy_logits(rng, base, 1.0)
        raw.append(logits)
        steady.append(stab(logits, L * gain + grain, (640, 480)).clone())
    assert stab.cuts == 0
    assert frame_to_frame(steady[10:]) < 0.25 * frame_to_frame(raw[10:])
    assert (steady[-1].argmax(0) == 3).float().mean() > 0.95  # the mode, not a blend
    assert (raw[-1].argmax(0) == 3).float().mean() < 0.9


def test_window_zero_passes_logits_through() -> None:
    stab = Stabiliser(0)
    L = scene()
    for seed in range(3):
        logits = torch.randn(Q, CELLS, CELLS, generator=torch.Generator().manual_seed(seed))
        assert torch.equal(stab(logits, L, (64, 64)), logits)


def test_cut_starts_over_exactly() -> None:
    stab = Stabiliser(16)
    a = scene(1)
    b = a.flip(0).flip(1)  # another shot: the layout of the picture changes as a whole
    for _ in range(10):
        stab(torch.zeros(Q, CELLS, CELLS), a, (64, 64))
    fresh = torch.randn(Q, CELLS, CELLS, generator=torch.Generator().manual_seed(3))
    out = stab(fresh, b, (64, 64))
    assert stab.cuts == 1
    assert torch.equal(out, fresh)  # nothing of the first shot carries over


def test_fade_to_black_and_back_is_not_a_cut() -> None:
    rng = np.random.default_rng(1)
    stab = Stabiliser(16)
    L = scene(2)
    for k in np.abs(np.linspace(-1, 1, 41)):  # 1 -> 0 -> 1
        grain = torch.from_numpy(rng.normal(0, 1.0, L.shape)).float()
        stab(torch.zeros(Q, CELLS, CELLS), (L * float(k) + grain).clamp(0, 100), (64, 64))
    assert stab.cuts == 0


def test_exposure_flicker_does_not_move_the_colour() -> None:
    """A still shot whose exposure flickers by a few percent: the averaged guided
    coefficients, matched to each frame's exposure, give every frame the same colour;
    applied as they were fitted they would move with the frame's brightness."""
    rng = np.random.default_rng(2)
    L = scene(6)
    ab = torch.stack((L / 3 - 10, 20 - L / 4))[:, ::4, ::4].contiguous()  # colour follows L
    stab = Stabiliser(16)
    matched, unmatched = [], []
    for _ in range(30):
        gain = 1 + 0.05 * float(rng.standard_normal())
        frame = ((L + 16) * gain - 16).clamp(0, 100)  # exposure scales L + 16 about evenly
        stab(torch.zeros(Q, CELLS, CELLS), frame, (SIDE, SIDE))
        coef = stab.coefficients(frame, ab)
        raw = stab._coef
        for out, c in ((matched, coef), (unmatched, raw)):
            out.append(c[:2] * frame / 100 + c[2:])  # the a/b they give this frame
    assert frame_to_frame(matched[10:]) < 0.5 * frame_to_frame(unmatched[10:])


def test_a_flash_is_not_a_cut() -> None:
    stab = Stabiliser(16)
    L = scene(4)
    for i in range(20):
        lit = (L * 1.8 + 20).clamp(0, 100) if i == 10 else L
        stab(torch.zeros(Q, CELLS, CELLS), lit, (64, 64))
    assert stab.cuts == 0


def test_moving_object_leaves_no_trail() -> None:
    """A bright square (colour 5) crosses a dark still background (colour 2): where it
    has just left, the background's colour is back within two frames."""
    stab = Stabiliser(16)
    cell = SIDE // CELLS
    trails = []
    for t in range(CELLS):
        L = torch.full((SIDE, SIDE), 20.0)
        L[8:16, 4 * cell * 0 : SIDE] += torch.linspace(0, 5, SIDE)  # a little background texture
        logits = torch.zeros(Q, CELLS, CELLS)
        logits[2] = 4.0
        x0 = t  # the square covers cells [x0, x0 + 2) of rows 3-4
        L[3 * cell : 5 * cell, x0 * cell : (x0 + 2) * cell] = 90.0
        logits[2, 3:5, x0 : x0 + 2] = 0.0
        logits[5, 3:5, x0 : x0 + 2] = 4.0
        out = stab(logits, L, (64, 64))
        if t >= 2:
            left = out[:, 3:5, t - 2]  # where the square was two frames ago
            trails.append(float(left[5].max() - left[2].min()))
    assert max(trails) < 0.0  # background colour 2 wins there again


def test_pan_is_followed() -> None:
    photo = Image.open(SAMPLES / "rocket.jpg").convert("L").resize((64, 48))
    big = torch.from_numpy(np.asarray(photo, np.float32)) / 2.55
    a, b = big[8:40, 8:40], big[7:39, 10:42]  # the camera moved: content 1 down, 2 left
    dy, dx = estimate_shift(a, b)
    assert abs(dy - 1) < 0.2 and abs(dx + 2) < 0.2
    moved = translate(a[None], dy, dx)[0]
    assert (moved - b)[4:-4, 4:-4].abs().mean() < 0.2 * (a - b)[4:-4, 4:-4].abs().mean()


# -- which folders are films ------------------------------------------------------------


def _frames(folder: Path, n: int, size: tuple[int, int] = (64, 48), name: str = "frame_") -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(1, n + 1):
        g = np.rint(photo_like(size[1], size[0], 0) * 255).astype(np.uint8)
        Image.fromarray(g).save(folder / f"{name}{i:04d}.png")


def test_sequence_guess(tmp_path: Path) -> None:
    _frames(tmp_path / "film", 5)
    _frames(tmp_path / "pair", 2)  # too few to be a film
    _frames(tmp_path / "mixed", 3)
    _frames(tmp_path / "mixed", 1, size=(80, 48), name="frame_000")  # frame_0001 redone larger
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / "film" / "poster.png")
    jobs = discover(tmp_path, tmp_path / "out").jobs
    guessed = {
        j.source.relative_to(tmp_path).as_posix(): j.sequence for j in mark_sequences(jobs, None)
    }
    film = {k: v for k, v in guessed.items() if k.startswith("film/frame_")}
    assert len(film) == 5 and len(set(film.values())) == 1 and None not in film.values()
    assert guessed["film/poster.png"] is None
    assert all(v is None for k, v in guessed.items() if k.startswith(("pair/", "mixed/")))
    forced = mark_sequences(jobs, True)
    assert all(j.sequence is not None for j in forced)
    assert all(j.sequence is None for j in mark_sequences(jobs, False))


def _numbered_box_and_pan(root: Path) -> None:
    """box/: the five bundled photos, all 160x120, named img_001 ... (an archive's scans);
    pan/: 12 frames of a slow pan across one of them."""
    photos = sorted(p for p in SAMPLES.rglob("*") if p.suffix in (".png", ".jpg", ".tif"))
    (root / "box").mkdir(parents=True)
    for i, p in enumerate(photos, 1):
        Image.open(p).convert("L").resize((160, 120)).save(root / "box" / f"img_{i:03d}.png")
    (root / "pan").mkdir()
    wide = Image.open(SAMPLES / "people" / "astronaut.png").convert("L").resize((400, 300))
    for i in range(12):
        frame = wide.crop((4 * i, 2 * i, 4 * i + 320, 2 * i + 240)).resize((160, 120))
        frame.save(root / "pan" / f"frame_{i + 1:04d}.png")


def test_the_guess_looks_at_the_pictures(tmp_path: Path) -> None:
    _numbered_box_and_pan(tmp_path / "in")
    jobs = discover(tmp_path / "in", tmp_path / "out").jobs
    guessed = {
        j.source.relative_to(tmp_path / "in").as_posix(): j.sequence
        for j in mark_sequences(jobs, None)
    }
    assert all(v is None for k, v in guessed.items() if k.startswith("box/"))  # photos
    pan = {v for k, v in guessed.items() if k.startswith("pan/")}
    assert len(pan) == 1 and None not in pan  # one film
    assert all(j.sequence is not None for j in mark_sequences(jobs, True))  # --sequence
    assert all(j.sequence is None for j in mark_sequences(jobs, False))  # --no-sequence


def test_the_run_says_which_folders_it_took_as_films(tmp_path: Path) -> None:
    _numbered_box_and_pan(tmp_path / "in")
    manifest = tmp_path / "run.jsonl"
    r = run_cli(tmp_path / "in", tmp_path / "out", "--manifest", manifest)
    assert r.returncode == 0, r.stderr
    pattern = f"{tmp_path / 'in' / 'pan'}/frame_*.png"
    assert f"film: {pattern} (12 frames, coloured in order)" in r.stderr
    assert "box" not in "".join(line for line in r.stderr.splitlines() if "film:" in line)
    lines = [json.loads(line) for line in manifest.read_text().splitlines()]
    assert {rec["film"] for rec in lines if "/pan/" in rec["input"]} == {pattern}
    assert {rec["film"] for rec in lines if "/box/" in rec["input"]} == {None}


def _ab_change(folder: Path) -> float:
    frames = sorted(folder.glob("*.png"))
    abs_ = [
        rgb_to_lab(torch.from_numpy(np.asarray(Image.open(p), np.float32) / 255).permute(2, 0, 1))[
            1:
        ]
        for p in frames
    ]
    return float(np.mean([(b - a).norm(dim=0).mean() for a, b in itertools.pairwise(abs_)]))


def test_frames_folder_is_coloured_steadily(tmp_path: Path, colorizer) -> None:
    """The real model on a still shot with grain and exposure flicker: the default
    window colours it far more steadily than frame by frame."""
    rng = np.random.default_rng(0)
    still = photo_like(96, 128, 3)
    src = tmp_path / "in" / "reel"
    src.mkdir(parents=True)
    for i in range(12):
        g = still * (1 + 0.04 * rng.standard_normal()) + rng.normal(0, 0.02, still.shape)
        Image.fromarray(np.rint(np.clip(g, 0, 1) * 255).astype(np.uint8)).save(
            src / f"f{i:03d}.png"
        )
    steady = colorize_dir(tmp_path / "in", tmp_path / "steady", colorizer=colorizer)
    alone = colorize_dir(
        tmp_path / "in", tmp_path / "alone", Options(temporal_window=0), colorizer=colorizer
    )
    assert steady.done == alone.done == 12
    assert _ab_change(tmp_path / "steady" / "reel") < 0.5 * _ab_change(tmp_path / "alone" / "reel")
    # the first frame has no past: it is coloured exactly as on its own
    first = "reel/f000.png"
    assert np.array_equal(
        np.asarray(Image.open(tmp_path / "steady" / first)),
        np.asarray(Image.open(tmp_path / "alone" / first)),
    )


# -- video files ------------------------------------------------------------------------


def make_video(
    path: Path,
    frames: int = 24,
    size: tuple[int, int] = (96, 64),
    rotation: int = 0,
    audio: bool = True,
) -> None:
    """A small H.264 film of a panning grey scene, with an AAC sine tone."""
    w, h = size
    wide = np.rint(photo_like(h, w + 2 * frames, 1) * 255).astype(np.uint8)
    out = av.open(str(path), "w")
    v = out.add_stream("libx264", rate=24)
    v.width, v.height, v.pix_fmt = w, h, "yuv420p"
    if rotation:
        v.set_display_rotation(rotation)
    a = out.add_stream("aac", rate=16000, layout="mono") if audio else None
    for i in range(frames):
        g = wide[:, 2 * i : 2 * i + w]
        frame = av.VideoFrame.from_ndarray(np.repeat(g[..., None], 3, axis=2), format="rgb24")
        frame.pts = i
        for p in v.encode(frame):
            out.mux(p)
    for p in v.encode():
        out.mux(p)
    if a is not None:
        t = 0
        for _ in range(int(frames / 24 * 16000 / 1024) + 1):
            s = (0.2 * np.sin(2 * np.pi * 440 * (np.arange(1024) + t) / 16000)).astype(np.float32)
            af = av.AudioFrame.from_ndarray(s[None], format="fltp", layout="mono")
            af.sample_rate, af.pts = 16000, t
            t += 1024
            for p in a.encode(af):
                out.mux(p)
        for p in a.encode():
            out.mux(p)
    out.close()


def describe(path: Path) -> dict:
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        decoded = list(c.decode(video=0))
        info = {
            "frames": len(decoded),
            "rate": v.average_rate,
            "size": (decoded[0].width, decoded[0].height),
            "rotation": decoded[0].rotation,
            "pts": [f.pts for f in decoded],
            "duration": c.duration,
            "colour": float(
                np.std(decoded[len(decoded) // 2].to_ndarray(format="rgb24"), axis=2).mean()
            ),
        }
    with av.open(str(path)) as c:
        info["audio"] = (
            [bytes(p) for p in c.demux(audio=0) if p.dts is not None] if c.streams.audio else []
        )
    return info


def test_video_round_trip_keeps_frames_rate_size_rotation_and_audio(tmp_path: Path) -> None:
    src = tmp_path / "film.mp4"
    make_video(src, rotation=90)
    r = run_cli(src, tmp_path / "out", "--manifest", tmp_path / "m.jsonl")
    assert r.returncode == 0, r.stderr
    before, after = describe(src), describe(tmp_path / "out" / "film.mp4")
    for key in ("frames", "rate", "size", "rotation", "pts", "duration"):
        assert after[key] == before[key], key
    assert after["audio"] and after["audio"] == before["audio"]  # copied packet for packet
    assert after["colour"] > 1.0 and before["colour"] < 0.5  # it was coloured
    record = json.loads((tmp_path / "m.jsonl").read_text())
    assert record["status"] == "done" and record["frames"] == 24
    again = run_cli(src, tmp_path / "out")
    assert again.returncode == 0 and "1 skipped" in again.stderr


def test_truncated_video_fails_alone(tmp_path: Path) -> None:
    src = tmp_path / "in"
    src.mkdir()
    make_video(src / "good.mp4", frames=12)
    whole = (src / "good.mp4").read_bytes()
    (src / "cut.mp4").write_bytes(whole[: len(whole) * 2 // 3])
    Image.fromarray(np.rint(photo_like() * 255).astype(np.uint8)).save(src / "photo.png")
    r = run_cli(src, tmp_path / "out")
    assert r.returncode == 1
    assert "cut.mp4" in r.stderr and "video" in r.stderr  # with its reason
    assert "2 done" in r.stderr and "1 failed" in r.stderr
    assert (tmp_path / "out" / "good.mp4").is_file() and (tmp_path / "out" / "photo.png").is_file()
    assert not (tmp_path / "out" / "cut.mp4").exists()
    assert [p.name for p in (tmp_path / "out").iterdir() if p.name.startswith(".")] == []


def _start_film_run(
    tmp_path: Path, *args: str, env: dict[str, str] | None = None
) -> tuple[subprocess.Popen, Path, Path]:
    """A 240-frame film being coloured by the CLI in a subprocess (with ``args``), once
    it has started writing its output."""
    src = tmp_path / "long.mp4"
    make_video(src, frames=240, size=(320, 240), audio=False)
    out = tmp_path / "out"
    env = {**(env or os.environ), "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "colorize_cli", str(src), str(out), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=REPO,
    )
    deadline = time.time() + 180
    while time.time() < deadline and not any(out.glob(".*colorize-tmp")):
        time.sleep(0.05)
    assert any(out.glob(".*colorize-tmp")), "the run never started writing"
    return proc, src, out


def test_killed_video_run_leaves_nothing_partial(tmp_path: Path) -> None:
    proc, src, out = _start_film_run(tmp_path)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert not (out / "long.mp4").exists()  # no half film under the real name
    again = run_cli(src, out, "--temporal-window", "0")
    assert again.returncode == 0, again.stderr
    assert describe(out / "long.mp4")["frames"] == 240
    assert [p.name for p in out.iterdir()] == ["long.mp4"]  # the dead run's temp is gone


def test_interrupted_video_exits_130_and_writes_nothing(tmp_path: Path) -> None:
    proc, _, out = _start_film_run(tmp_path)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=60) == 130
    assert list(out.iterdir()) == []


@pytest.mark.parametrize("name", ["clip.mkv", "clip.mov"])
def test_other_containers(tmp_path: Path, name: str) -> None:
    src = tmp_path / name
    make_video(src, frames=8)
    r = run_cli(src, tmp_path / "out", "--format", "png")  # --format is for photos
    assert r.returncode == 0, r.stderr
    assert describe(tmp_path / "out" / name)["frames"] == 8


def _grainy_shot(folder: Path, n: int, seed: int = 0) -> None:
    """A still shot with grain and exposure flicker, as numbered frames."""
    rng = np.random.default_rng(seed)
    still = photo_like(120, 160, 5)
    folder.mkdir(parents=True)
    for i in range(n):
        g = still * (1 + 0.04 * rng.standard_normal()) + rng.normal(0, 0.03, still.shape)
        Image.fromarray(np.rint(np.clip(g, 0, 1) * 255).astype(np.uint8)).save(
            folder / f"frame_{i:04d}.png"
        )


def _lab_ab(path: Path) -> torch.Tensor:
    rgb = torch.from_numpy(np.asarray(Image.open(path), np.float32) / 255).permute(2, 0, 1)
    return rgb_to_lab(rgb)[1:]


@pytest.mark.parametrize("keyframe", [False, True])
def test_a_killed_film_resumes_without_a_seam(tmp_path: Path, keyframe: bool) -> None:
    """Kill -9 a frame-folder run midway, run it again: the first frame it colours is the
    uninterrupted run's frame, to within less than the usual change between frames; with
    a keyframe's hints (issue 34) too."""
    n = 48
    _grainy_shot(tmp_path / "in" / "reel", n)
    hints: tuple[object, ...] = ()
    if keyframe:
        (tmp_path / "hints" / "reel").mkdir(parents=True)
        red = {"points": [{"x": 80, "y": 60, "rgb": [220, 30, 40]}]}
        (tmp_path / "hints" / "reel" / "frame_0030.hints.json").write_text(json.dumps(red))
        hints = ("--hints", tmp_path / "hints")
    whole = run_cli(tmp_path / "in", tmp_path / "whole", "-q", *hints)
    assert whole.returncode == 0, whole.stderr
    out = tmp_path / "out" / "reel"
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "colorize_cli", tmp_path / "in", tmp_path / "out"]
    proc = subprocess.Popen([*cmd, "--batch-size", "2", *hints], env=env, cwd=REPO)
    deadline = time.time() + 240
    while time.time() < deadline and len(list(out.glob("frame_*.png"))) < 8:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    kept = sorted(out.glob("frame_*.png"))
    assert 8 <= len(kept) < n, "the kill came too late to test a resume"
    resumed = run_cli(tmp_path / "in", tmp_path / "out", "-q", *hints)
    assert resumed.returncode == 0, resumed.stderr
    names = [f"frame_{i:04d}.png" for i in range(n)]
    first = next(i for i, name in enumerate(names) if out / name not in kept)
    whole_ab = [_lab_ab(tmp_path / "whole" / "reel" / name) for name in names]
    usual = float(np.mean([(b - a).norm(dim=0).mean() for a, b in itertools.pairwise(whole_ab)]))
    seam = float((_lab_ab(out / names[first]) - whole_ab[first]).norm(dim=0).mean())
    print(f"seam {seam:.3f}, usual frame-to-frame change {usual:.3f} (a/b units)")
    assert seam < 0.5 * usual, (seam, usual)
    later = zip(names[first:], whole_ab[first:], strict=True)
    assert max(float((_lab_ab(out / name) - ab).norm(dim=0).mean()) for name, ab in later) < usual
