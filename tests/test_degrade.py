"""The archive-like damage (training/degrade.py), what training feeds the network
(training/inputs.py), and colorize-eval --degraded run as a user would: clean figures
unchanged beside it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from colorize_cli.colour.lab import gray_to_l
from colorize_cli.training.degrade import KINDS, archive_mix, degrade, grey_of
from colorize_cli.training.inputs import model_input
from colorize_cli.training.traindata import to_lab

from conftest import SAMPLES, photo_like


def _colour_photo(h: int = 96, w: int = 128) -> torch.Tensor:
    """Smooth shapes with a fine checker over them: edges for blur and halftone to act on."""
    g = torch.from_numpy(photo_like(h, w, 3)).float()
    y, x = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    g = g + 0.15 * (((y // 4) + (x // 4)) % 2 - 0.5)
    return torch.stack([g, g.flip(1), 1 - g]).clamp(0, 1)


@pytest.mark.parametrize("kind", KINDS)
def test_each_damage_changes_the_grey_and_is_seeded(kind: str) -> None:
    rgb = _colour_photo()
    clean = grey_of(rgb)
    once = degrade(rgb, (kind,), 0.6, np.random.default_rng(7))
    again = degrade(rgb, (kind,), 0.6, np.random.default_rng(7))
    assert once.shape == clean.shape and once.dtype == torch.float32
    assert float(once.min()) >= 0 and float(once.max()) <= 1
    assert torch.equal(once, again)
    assert float((once - clean).abs().max()) > 0.01, kind


def test_grain_is_strongest_in_the_mid_tones() -> None:
    ramp = torch.linspace(0, 1, 256).repeat(256, 1)
    rgb = ramp.expand(3, -1, -1)
    noise = degrade(rgb, ("grain",), 0.8, np.random.default_rng(0)) - grey_of(rgb)
    mids, ends = noise[:, 96:160].std(), torch.cat([noise[:, :16], noise[:, -16:]], 1).std()
    assert float(mids) > 1.5 * float(ends)


def test_archive_mixes_draw_one_to_three_known_kinds() -> None:
    rng = np.random.default_rng(0)
    mixes = [archive_mix(rng) for _ in range(200)]
    assert {len(k) for k, _ in mixes} == {1, 2, 3}
    assert all(set(k) <= set(KINDS) and 0.2 <= s <= 1.0 for k, s in mixes)
    with pytest.raises(ValueError, match="unknown degradations: mould"):
        degrade(_colour_photo(), ("mould",), 0.5, rng)


def test_training_damages_the_input_share_and_never_the_targets() -> None:
    crops = (np.stack([_colour_photo(64, 64).permute(1, 2, 0).numpy()] * 8) * 255).astype(np.uint8)
    lab = to_lab(crops)
    untouched = lab.clone()
    assert torch.equal(model_input(lab, 0.0, np.random.default_rng(0)), lab[:, :1])
    seen = model_input(lab, 1.0, np.random.default_rng(0))
    assert torch.equal(lab, untouched)  # the targets (and the clean L) stay as they were
    changed = (seen - lab[:, :1]).abs().mean(dim=(1, 2, 3))
    assert bool((changed > 0.001).all())
    half = model_input(lab, 0.5, np.random.default_rng(3))
    n = int(((half - lab[:, :1]).abs().mean(dim=(1, 2, 3)) > 0.001).sum())
    assert 0 < n < 8
    # the damaged L is the L of the damaged grey, as colorize would read it
    assert float(gray_to_l(torch.tensor(0.5))) == pytest.approx(53.39, abs=0.05)


def test_colorize_eval_scores_damaged_copies_beside_unchanged_clean_figures(
    tmp_path: Path,
) -> None:
    photos = tmp_path / "set"
    photos.mkdir()
    for i, p in enumerate(sorted(SAMPLES.rglob("*.png"))[:3]):
        Image.open(p).convert("RGB").resize((96, 72)).save(photos / f"{i}.png")

    def evaluate(out: Path, *extra: str) -> dict:
        cmd = [sys.executable, "-m", "colorize_cli.training.evaluate", photos, "--out", out,
               "--device", "cpu", *extra]  # fmt: skip
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, r.stderr
        return json.loads((out / "metrics.json").read_text())

    plain = evaluate(tmp_path / "plain")
    damaged = evaluate(tmp_path / "damaged", "--degraded", "grain", "--degraded", "archive")
    assert damaged["sets"] == plain["sets"]
    assert set(damaged["degraded"]) == {"grain", "archive"}
    grain = damaged["degraded"]["grain"]["set"]
    assert grain["grey"]["psnr"] < plain["sets"]["set"]["grey"]["psnr"]  # grain costs PSNR
    assert grain["ours"]["colourfulness_ratio"] > 0
    assert (tmp_path / "damaged" / "sheet_set_grain.png").is_file()
    assert set(damaged["degraded_mean"]) == {"ours", "grey"}
