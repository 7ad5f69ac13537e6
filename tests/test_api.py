"""The Python API: batching, determinism, strips, in-memory images."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from colorize_cli import Options, colorize_dir
from colorize_cli.colour.resample import thumbnail
from colorize_cli.colour.rgb import compose
from colorize_cli.model.batch import stack_l

from conftest import photo_like, save_gray


def test_batch_of_n_equals_n_single_images(colorizer):
    grays = [photo_like(60 + 7 * i, 90 - 5 * i, seed=i).astype(np.float32) for i in range(5)]
    thumbs = [thumbnail(g, colorizer.input_size) for g in grays]
    together = colorizer.predict_ab(stack_l(thumbs))
    for i, t in enumerate(thumbs):
        alone = colorizer.predict_ab(stack_l([t]))[0]
        assert torch.allclose(together[i], alone, atol=1e-3)
        a = compose(grays[i], together[i], 8)
        b = compose(grays[i], alone, 8)
        assert np.abs(a.astype(int) - b).max() <= 1


def test_same_input_twice_gives_the_same_output(tmp_path, colorizer):
    save_gray(tmp_path / "in" / "a.png", seed=4)
    for out in ("o1", "o2"):
        s = colorize_dir(
            tmp_path / "in", tmp_path / out, Options(device="cpu"), colorizer=colorizer
        )
        assert s.done == 1 and s.exit_code == 0
    assert (tmp_path / "o1" / "a.png").read_bytes() == (tmp_path / "o2" / "a.png").read_bytes()


def test_row_streaming_kernel_equals_whole_image_maths_on_a_large_image():
    """The bounded-memory path (one compiled pass, row by row, no temporaries) against
    lab.py's float64 maths run on the whole 3-megapixel image at once."""
    from colorize_cli.colour.lab import gray_to_l, lab_to_rgb

    rng = np.random.default_rng(0)
    gray = photo_like(2000, 1500, seed=9).astype(np.float32)
    ab = torch.from_numpy(rng.uniform(-25, 25, (2, 56, 56)).astype(np.float32))
    lab = torch.cat([gray_to_l(torch.from_numpy(gray).double())[None], _guided_ab(gray, ab)])
    rgb = lab_to_rgb(lab)
    inside = ((rgb > 0.002) & (rgb < 0.998)).all(0).numpy()
    assert inside.mean() > 0.9, "mostly in gamut, so the whole-image maths is the reference"
    for depth, top in ((16, 65535), (8, 255)):
        exact = np.rint(rgb.permute(1, 2, 0).numpy() * top)
        diff = np.abs(compose(gray, ab, depth).astype(np.float64) - exact)[inside]
        assert diff.max() <= 1 and diff.mean() < 0.5  # rounding, not drift


def _guided_ab(gray: np.ndarray, ab: torch.Tensor) -> torch.Tensor:
    """The a/b that compose() puts on each pixel, in float64, for the exact reference."""
    from colorize_cli.colour.lab import gray_to_l
    from colorize_cli.colour.rgb import GUIDE_SCALE, guided_coefficients

    guide = gray_to_l(torch.tensor(thumbnail(gray, GUIDE_SCALE * ab.shape[-1])).double())
    coef = guided_coefficients(guide, ab.double())
    coef = torch.nn.functional.interpolate(
        coef[None], size=gray.shape, mode="bilinear", align_corners=False
    )[0]
    return coef[:2] * gray_to_l(torch.from_numpy(gray).double()) / 100 + coef[2:]


def test_fast_rgb_path_matches_the_exact_maths():
    """Table lookups and the gamut table against lab.py's exact float64 formulas."""
    from colorize_cli.colour.lab import gray_to_l, lab_to_linear, lab_to_rgb, rgb_to_lab

    gray = photo_like(300, 400, seed=2).astype(np.float32)
    ab = torch.zeros(2, 20, 20)  # four saturated quadrants: in and out of gamut by L
    ab[0, :10], ab[0, 10:], ab[1, :, :10], ab[1, :, 10:] = 80.0, -80.0, 80.0, -80.0
    L = gray_to_l(torch.from_numpy(gray).double())
    lab = torch.cat([L[None], _guided_ab(gray, ab)])
    lin = lab_to_linear(lab)
    inside = ((lin >= 0) & (lin <= 1)).all(0).numpy()
    # clear of the boundary, where float32 and the 0.5% safety margin may decide otherwise
    well_inside = ((lin >= 0.01) & (lin <= 0.99)).all(0).numpy()
    assert 0.1 < inside.mean() < 0.95, "the test must exercise both cases"
    for depth, top in ((8, 255), (16, 65535)):
        out = compose(gray, ab, depth)
        exact = np.rint(lab_to_rgb(lab).permute(1, 2, 0).numpy() * top)
        # in gamut: the same colour, up to one step (8-bit) or 0.02% (16-bit, grey table)
        assert np.abs(out.astype(float) - exact)[well_inside].max() <= max(1, top * 2e-4)
        # out of gamut: L is the photograph's own, and chroma was reduced, not removed
        back = rgb_to_lab(torch.from_numpy(out / top).permute(2, 0, 1))
        assert (back[0] - L).abs().max() < (0.5 if depth == 8 else 0.1)
        chroma = torch.hypot(back[1], back[2]).numpy()
        assert np.median(chroma[~inside]) > 10


def test_colour_edges_follow_the_lightness_edge_not_the_colour_grid():
    """A dark/light edge at x = 100 inside an a/b cell that spans x = 96..128: the colour
    change must sit on the edge, not be smeared over the cell (no colour bleeding)."""
    from colorize_cli.colour.lab import rgb_to_lab

    gray = np.full((64, 256), 0.25, np.float32)
    gray[:, 100:] = 0.75
    ab = torch.zeros(2, 8, 8)
    ab[0, :, :3], ab[0, :, 3:] = 30.0, -30.0  # reddish left cells, greenish right cells
    a = rgb_to_lab(torch.from_numpy(compose(gray, ab, 16) / 65535).permute(2, 0, 1))[1]
    row = a[32].numpy()
    assert row[:90].min() > 15 and row[110:].max() < -15
    assert row[96:100].min() > 10 and row[100:104].max() < -10, "colour changes at the edge"
    plain = torch.nn.functional.interpolate(
        ab[None], size=(64, 256), mode="bilinear", align_corners=False
    )[0, 0, 32].numpy()
    assert plain[96:100].min() < 10, "bilinear alone would have bled here"


def test_colorize_in_memory_keeps_size_and_alpha(colorizer):
    g = np.rint(photo_like(33, 47) * 255).astype(np.uint8)
    out = colorizer.colorize(Image.fromarray(g))
    assert out.mode == "RGB" and out.size == (47, 33)
    la = Image.fromarray(np.stack([g, np.full_like(g, 77)], -1), "LA")
    out = colorizer.colorize(la)
    assert out.mode == "RGBA" and np.all(np.asarray(out)[..., 3] == 77)


def test_colorize_paths_takes_an_explicit_list(tmp_path, colorizer):
    from colorize_cli import Job, colorize_paths

    a = save_gray(tmp_path / "a.png")
    b = save_gray(tmp_path / "deep" / "b.jpg", seed=1)
    jobs = [Job(a, tmp_path / "x" / "first.png"), Job(b, tmp_path / "y" / "second.jpg")]
    summary = colorize_paths(jobs, Options(device="cpu"), colorizer=colorizer)
    assert (summary.done, summary.failed, summary.exit_code) == (2, 0, 0)
    for job in jobs:
        with Image.open(job.dest) as out, Image.open(job.source) as src:
            assert out.mode == "RGB" and out.size == src.size
