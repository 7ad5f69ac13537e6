"""Fine-tuning on a user's own colour photos: ``colorize-train --init-from shipped
--minutes M``, run as a user would (a subprocess), its weights used by ``colorize``."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from colorize_cli.colour.resample import thumbnail
from colorize_cli.model.batch import stack_l
from colorize_cli.model.colorizer import Colorizer
from colorize_cli.model.net import normalise_l
from colorize_cli.model.weights import load_weights
from colorize_cli.training.traindata import random_batch, source_balance

from conftest import photo_like, run_cli, save_gray


def _colour_photos(root, n: int = 20) -> None:
    """Small colour 'photos' of two kinds (two source folders): shapes on skies."""
    rng = np.random.default_rng(0)
    for i in range(n):
        folder = root / ("beach" if i % 2 else "garden")
        folder.mkdir(parents=True, exist_ok=True)
        sky = tuple(int(v) for v in rng.integers(80, 230, 3))
        im = Image.new("RGB", (150, 130), sky)
        draw = ImageDraw.Draw(im)
        for _ in range(4):
            x, y = rng.integers(0, 120, 2)
            colour = tuple(int(v) for v in rng.integers(0, 255, 3))
            draw.ellipse((x, y, x + rng.integers(15, 50), y + rng.integers(15, 50)), fill=colour)
        im.save(folder / f"p{i:02d}.jpg", quality=92)


def _train(*args: object, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "colorize_cli.training.train", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    root = tmp_path_factory.mktemp("mine")
    _colour_photos(root)
    return root


def test_minutes_stops_on_time_and_writes_weights_colorize_uses(photos, tmp_path):
    run = tmp_path / "run"
    budget_s = 12.0
    r = _train(
        photos, "--run", run, "--cache", tmp_path / "cache", "--init-from", "shipped",
        "--minutes", budget_s / 60, "--batch-size", "4", "--crop", "64", "--threads", "1",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    ckpt = torch.load(run / "last.pt", weights_only=True)
    # it stops at the first step boundary past the budget: not before, not much after
    assert budget_s <= ckpt["seconds"] < budget_s + 20
    assert ckpt["step"] > 0
    assert ckpt["ema"]["n_averaged"].item() == ckpt["step"]  # a fine-tune averages by default
    assert "chose input size" in r.stdout  # a fine-tune chooses its settings by default
    chosen = json.loads((run / "temperature.json").read_text())
    _, _, spec = load_weights(run / "colorizer.safetensors")
    assert (spec.input_size, spec.temperature, spec.undo_rebalancing) == (
        chosen["input_size"],
        chosen["temperature"],
        chosen["undo_rebalancing"],
    )
    assert spec.prior is not None and torch.isclose(spec.prior.sum(), torch.tensor(1.0))
    # too few validation photos to fit a confidence estimate: the shipped one is kept
    assert "kept the starting weights' confidence estimate" in r.stdout
    assert spec.confidence == load_weights()[2].confidence
    save_gray(tmp_path / "in" / "a.png", 48, 64)
    manifest = tmp_path / "run.jsonl"
    out = run_cli(
        tmp_path / "in", tmp_path / "out", "--weights", run / "colorizer.safetensors",
        "--manifest", manifest,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "out" / "a.png").is_file()
    assert 0 <= json.loads(manifest.read_text())["confidence"] <= 1
    # a second run of the same command has nothing left to do: the budget is spent
    again = _train(
        photos, "--run", run, "--cache", tmp_path / "cache", "--init-from", "shipped",
        "--minutes", budget_s / 60, "--batch-size", "4", "--crop", "64", "--threads", "1",
        "--keep-temperature",
    )  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert torch.load(run / "last.pt", weights_only=True)["step"] == ckpt["step"]


def test_init_from_shipped_starts_from_the_shipped_outputs(photos, tmp_path, colorizer):
    run = tmp_path / "run"
    r = _train(
        photos, "--run", run, "--cache", tmp_path / "cache", "--init-from", "shipped",
        "--steps", "0", "--keep-temperature", "--threads", "1",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    started = Colorizer(run / "colorizer.safetensors", device="cpu")
    assert (started.temperature, started.input_size) == (
        colorizer.temperature,
        colorizer.input_size,
    )
    assert started.spec.undo_rebalancing == colorizer.spec.undo_rebalancing
    # the same network; the file's prior is now the collection's (what its class weights
    # and the share of them taken back refer to), so the decoded colours may differ
    L = stack_l([thumbnail(photo_like(96, 128, seed=s).astype(np.float32), 128) for s in (1, 2)])
    x = normalise_l(L)
    with torch.inference_mode():
        assert torch.allclose(started.net(x), colorizer.net(x), atol=1e-4)


def test_init_from_a_missing_file_is_a_usage_error(photos, tmp_path):
    r = _train(photos, "--run", tmp_path / "run", "--init-from", tmp_path / "nope.safetensors")
    assert r.returncode == 2
    assert "no such weights file" in r.stderr


def test_source_balance_draws_sources_by_a_power_of_their_size():
    sources = ["faces"] * 90 + ["streets"] * 10
    for power, faces_share in ((1.0, 0.9), (0.5, 3 / 4), (0.0, 0.5)):
        p = source_balance(sources, power)
        assert p.sum() == pytest.approx(1.0)
        assert p[:90].sum() == pytest.approx(faces_share)
        assert np.ptp(p[:90]) == 0 and np.ptp(p[90:]) == 0  # photos of a source alike
    rng = np.random.default_rng(0)
    crops = np.zeros((100, 16, 16, 3), np.uint8)
    crops[90:] = 255  # the streets are white
    lab = random_batch(crops, 4000, 8, rng, source_balance(sources, 0.0))
    assert (lab[:, 0].mean(dim=(1, 2)) > 50).float().mean().item() == pytest.approx(0.5, abs=0.03)


def test_ema_exports_and_resumes_the_averaged_weights(photos, tmp_path):
    run = tmp_path / "run"
    common = (
        photos, "--run", run, "--cache", tmp_path / "cache", "--init-from", "shipped",
        "--keep-temperature", "--batch-size", "4", "--crop", "64", "--threads", "1",
        "--ema", "0.5", "--balance-sources", "0.5", "--lr", "1e-3",
    )  # fmt: skip
    r = _train(*common, "--steps", "3")
    assert r.returncode == 0, r.stderr
    ckpt = torch.load(run / "last.pt", weights_only=True)
    assert ckpt["ema"]["n_averaged"].item() == 3
    net, _, _ = load_weights(run / "colorizer.safetensors")
    name = "head.weight"  # a trained tensor (a fine-tune keeps the ImageNet layers frozen)
    exported = net.state_dict()[name].float()
    averaged = ckpt["ema"][f"module.{name}"].float()
    assert torch.allclose(exported, averaged, atol=1e-3)
    assert not torch.allclose(exported, ckpt["model"][name].float(), atol=1e-4)
    # validation scores the average, and the weights themselves beside it
    vals = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    last = [v for v in vals if "val_sloss" in v][-1]
    assert last["step"] == 3 and last["val_sloss"] != last["raw_val_sloss"]
    r = _train(*common, "--steps", "5")  # resumes the average, not a fresh one
    assert r.returncode == 0, r.stderr
    assert torch.load(run / "last.pt", weights_only=True)["ema"]["n_averaged"].item() == 5


def test_whole_trains_on_the_whole_photo_shrunk(photos, tmp_path):
    rng = np.random.default_rng(0)
    crops = np.zeros((3, 32, 32, 3), np.uint8)
    crops[:, :, 16:] = 255  # every photo: black left half, white right half
    whole = random_batch(crops, 50, 8, rng, whole=True)[:, 0]
    assert whole.shape == (50, 8, 8)
    # each thumbnail shows both halves; a crop of a quarter of the side would not
    sides = whole[:, :, :3].mean(dim=(1, 2)), whole[:, :, -3:].mean(dim=(1, 2))
    assert ((sides[0] - sides[1]).abs() > 90).all()
    assert {bool(b) for b in sides[0] < sides[1]} == {True, False}  # flipped at random
    cropped = random_batch(crops, 50, 8, rng)[:, 0]
    assert (cropped.amax(dim=(1, 2)) - cropped.amin(dim=(1, 2)) < 1).any()
    # and the command trains with it
    run = tmp_path / "run"
    r = _train(
        photos, "--run", run, "--cache", tmp_path / "cache", "--init-from", "shipped",
        "--keep-temperature", "--batch-size", "4", "--crop", "48", "--whole",
        "--threads", "1", "--steps", "20", "--val-every", "20",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    logged = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert logged[0]["whole"] is True and logged[0]["crop"] == 48
