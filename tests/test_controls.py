"""Colour control: the reference palette's prior swap, hints files, edge-aware spreading,
and both controls through the real command and the real weights."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from colorize_cli.colour.hints import Hint, apply_hints
from colorize_cli.colour.lab import rgb_to_lab
from colorize_cli.colour.palette import palette, prior_shift, smooth_distribution
from colorize_cli.colour.rgb import GUIDE_SCALE
from colorize_cli.files.controls import check_inside, read_hints
from colorize_cli.files.read import ReadError

from conftest import SAMPLES, photo_like, run_cli, save_gray

# Three a/b classes far apart: the smoothing kernel leaves them unmixed.
FAR = torch.tensor([[-60.0, 0.0], [0.0, 0.0], [60.0, 0.0]])


# The model's view of a photo it sees as one thing everywhere: no feature edges.
ALIKE = torch.nn.functional.normalize(torch.ones(8, 16, 16), dim=0)


def _lab_ab(im: Image.Image) -> torch.Tensor:
    rgb = torch.tensor(np.asarray(im), dtype=torch.float64).permute(2, 0, 1) / 255
    return rgb_to_lab(rgb)[1:]


def _ab_of(rgb: tuple[int, int, int]) -> np.ndarray:
    t = torch.tensor(rgb, dtype=torch.float64)[:, None, None] / 255.0
    return rgb_to_lab(t)[1:, 0, 0].numpy()


def _mean_ab(path, box=None) -> np.ndarray:
    with Image.open(path) as im:
        rgb = np.asarray(im.convert("RGB"), dtype=np.float64) / 255.0
    if box is not None:
        x0, y0, x1, y1 = box
        rgb = rgb[y0:y1, x0:x1]
    return rgb_to_lab(torch.tensor(rgb).permute(2, 0, 1))[1:].mean(dim=(1, 2)).numpy()


# -- the prior swap -----------------------------------------------------------------------
def test_prior_swap_turns_the_training_prior_into_the_reference():
    p_train = torch.tensor([0.7, 0.2, 0.1])
    p_ref = smooth_distribution(torch.tensor([0.05, 0.15, 0.8]), FAR)
    # a pixel whose evidence is neutral: its logits are the (smoothed) training prior
    logits = smooth_distribution(p_train, FAR).log()
    swapped = torch.softmax(logits + prior_shift(p_ref, p_train, FAR, 1.0), dim=0)
    assert torch.allclose(swapped, p_ref, atol=1e-6)
    assert torch.equal(prior_shift(p_ref, p_train, FAR, 0.0), torch.zeros(3))
    half = torch.softmax(logits + prior_shift(p_ref, p_train, FAR, 0.5), dim=0)
    geometric = (logits.softmax(0) * p_ref).sqrt()
    assert torch.allclose(half, geometric / geometric.sum(), atol=1e-6)


def test_palette_puts_the_mass_on_the_reference_colour():
    ab = torch.zeros(2, 8, 8)
    ab[0] = 58.0  # every pixel near the third class
    p = palette(ab, FAR)
    assert p.argmax() == 2 and p[2] > 0.99 and (p > 0).all()  # unlikely, never impossible


# -- the hints file -----------------------------------------------------------------------
def _hints_file(tmp_path, text: str):
    path = tmp_path / "a.hints.json"
    path.write_text(text)
    return path


def test_a_valid_hints_file_is_read_with_its_defaults(tmp_path):
    path = _hints_file(
        tmp_path,
        '{"points": [{"x": 12, "y": 4.5, "rgb": [200, 30, 40]},\n'
        ' {"x": 1, "y": 2, "rgb": [0, 0, 255], "radius": 9}]}',
    )
    hints = read_hints(path)
    assert hints[0] == Hint(12.0, 4.5, (200, 30, 40))
    assert hints[0].radius > 0 and hints[1].radius == 9.0


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"points": [\n{"x": 1, "y": 2, "rgb": [1, 2, 3]},\n]}', "not valid JSON (line 3"),
        ('{"dots": []}', 'expected an object with a "points" list'),
        ('{"points": [\n {"x": 1, "y": 2, "rgb": [1, 2, 3]},\n {"x": 1, "rgb": [1, 2, 3]}]}',
         "points[1] (line 3): 'y' must be a number, got null"),
        ('{"points": [\n\n {"x": 1, "y": 2, "rgb": [1, 2, 300]}]}',
         "points[0] (line 3): 'rgb' must be three integers 0-255, got [1, 2, 300]"),
        ('{"points": [{"x": 1, "y": 2, "rgb": "red"}]}', "'rgb' must be three integers"),
        ('{"points": [{"x": 1, "y": 2, "color": [1, 2, 3]}]}', "unknown field 'color'"),
        ('{"points": [{"x": 1, "y": 2, "rgb": [1, 2, 3], "radius": 0}]}', "'radius' must be"),
        ('{"points": [{"x": true, "y": 2, "rgb": [1, 2, 3]}]}', "'x' must be a number"),
    ],
)  # fmt: skip
def test_a_malformed_hints_file_names_the_point_line_and_field(tmp_path, text, expected):
    with pytest.raises(ReadError, match=None) as err:
        read_hints(_hints_file(tmp_path, text))
    assert expected in str(err.value)
    assert str(tmp_path / "a.hints.json") in str(err.value)


def test_points_outside_the_photo_are_refused():
    check_inside([Hint(0, 0, (1, 2, 3)), Hint(99.5, 49, (1, 2, 3))], (100, 50))
    with pytest.raises(ReadError, match=r"points\[1\] at x=100, y=3 is outside the 100x50"):
        check_inside([Hint(5, 5, (1, 2, 3)), Hint(100, 3, (1, 2, 3))], (100, 50))
    with pytest.raises(ReadError, match="outside"):
        check_inside([Hint(5, -1, (1, 2, 3))], (100, 50))


# -- spreading ----------------------------------------------------------------------------
def test_a_hint_fills_its_region_and_stops_at_a_strong_edge():
    side = 32 * GUIDE_SCALE
    guide = torch.full((side, side), 30.0)
    guide[:, side // 2 :] = 80.0  # a hard vertical edge down the middle
    model_ab = torch.zeros(2, 32, 32)
    red = (200, 30, 40)
    out = apply_hints(guide, model_ab, ALIKE, [Hint(40, 100, red)], size=(400, 400))
    left, right = out[:, :, : side // 2 - 4], out[:, :, side // 2 + 4 :]
    target = torch.tensor(_ab_of(red), dtype=torch.float32)[:, None, None]
    assert (left - target).norm(dim=0).mean() < 10  # the whole left region takes the hint
    assert right.norm(dim=0).max() < 2  # nothing crosses the edge
    unhinted = apply_hints(guide, model_ab, ALIKE, [], (400, 400))
    assert torch.equal(unhinted, torch.zeros(2, side, side))


def test_a_hint_stops_where_the_model_sees_another_colour():
    """No lightness edge at all, but the model coloured the two halves apart (a face
    beside a wall of the same grey): a hint on one half leaves the other as it was."""
    side = 32 * GUIDE_SCALE
    guide = torch.full((side, side), 50.0)
    model_ab = torch.zeros(2, 32, 32)
    model_ab[:, :, :16] = torch.tensor([20.0, 20.0])[:, None, None]
    model_ab[:, :, 16:] = torch.tensor([-20.0, -20.0])[:, None, None]
    out = apply_hints(guide, model_ab, ALIKE, [Hint(100, 200, (40, 90, 200))], size=(400, 400))
    right = out[:, :, side // 2 + 6 :]
    model_right = torch.tensor([-20.0, -20.0])[:, None, None]
    assert (right - model_right).norm(dim=0).mean() < 3


def test_a_hint_stops_where_the_model_sees_another_thing():
    """Same lightness and same colour from the model on both halves, but the network's
    features tell them apart (a face beside a wall of its grey and its tint): a hint on
    one half leaves the other half as the model coloured it."""
    side = 32 * GUIDE_SCALE
    guide = torch.full((side, side), 50.0)
    model_ab = torch.zeros(2, 32, 32)
    model_ab[0] = 15.0
    features = torch.zeros(8, 16, 16)
    features[0, :, :8], features[1, :, 8:] = 1.0, 1.0
    red = Hint(100, 200, (200, 30, 40))
    out = apply_hints(guide, model_ab, features, [red], size=(400, 400))
    left, right = out[:, :, : side // 2 - 6], out[:, :, side // 2 + 6 :]
    target = torch.tensor(_ab_of(red.rgb), dtype=torch.float32)[:, None, None]
    assert (left - target).norm(dim=0).mean() < 10
    assert (right - torch.tensor([15.0, 0.0])[:, None, None]).norm(dim=0).mean() < 3
    seen_alike = apply_hints(guide, model_ab, ALIKE, [red], size=(400, 400))
    assert (seen_alike[:, :, side // 2 + 6 :] - target).norm(dim=0).mean() < 10  # floods


def test_without_a_hint_nearby_the_model_colour_stays():
    side = 32 * GUIDE_SCALE
    guide = torch.full((side, side), 50.0)
    guide[side // 2 :, :] = 90.0  # a hard horizontal edge
    model_ab = torch.zeros(2, 32, 32)
    model_ab[1] = 30.0  # the model says yellowish everywhere
    out = apply_hints(guide, model_ab, ALIKE, [Hint(5, 5, (0, 0, 255))], size=(256, 256))
    below = out[:, side // 2 + 4 :]
    assert torch.allclose(below, torch.tensor([0.0, 30.0])[:, None, None], atol=1.0)


# -- the real thing ----------------------------------------------------------------------
def test_api_reference_and_hints_move_the_colour(colorizer):
    grey = Image.fromarray(np.rint(photo_like(96, 128) * 255).astype(np.uint8))
    blue = Image.new("RGB", (32, 32), (30, 60, 200))
    auto = colorizer.colorize(grey)
    referenced = colorizer.colorize(grey, reference=blue)
    ab_auto, ab_ref = (_lab_ab(im) for im in (auto, referenced))
    assert ab_ref[1].mean() < ab_auto[1].mean() - 5  # b falls: bluer
    hinted = colorizer.colorize(grey, hints=[Hint(64, 48, (220, 40, 40), radius=4)])
    assert hinted.size == grey.size
    near = np.asarray(hinted, dtype=float)[44:52, 60:68].mean(axis=(0, 1))
    assert near[0] > near[2] + 15  # redder than blue where the red hint is
    with pytest.raises(ReadError, match="outside"):
        colorizer.colorize(grey, hints=[Hint(500, 5, (1, 2, 3))])


def test_a_red_hint_on_the_wall_leaves_the_astronauts_face_alone(colorizer):
    """The bundled portrait: a grey wall behind a face of like lightness. A red point on
    the wall reddens the wall around it and not the face (without the model's features
    in the affinity the face moved 12.6 a/b units, as much as the wall beside it)."""
    grey = Image.open(SAMPLES / "people" / "astronaut.png")
    ab_auto, ab_hinted = (
        _lab_ab(colorizer.colorize(grey, hints=hints))
        for hints in (None, [Hint(330, 120, (200, 40, 40), radius=4)])
    )
    moved = (ab_hinted - ab_auto).norm(dim=0)
    assert moved[100:140, 310:350].mean() > 8  # the wall around the hint
    assert moved[90:150, 190:260].mean() < 4  # her face
    assert moved[350:450, 60:120].mean() < 1  # the suit


def test_cli_folder_forms_of_reference_and_hints(tmp_path):
    src, refs, hints = tmp_path / "in", tmp_path / "refs", tmp_path / "hints"
    for rel in ("a/one.png", "a/two.png", "b/three.jpg"):
        save_gray(src / rel, 64, 80, seed=len(rel))
    refs.joinpath("a").mkdir(parents=True)
    Image.new("RGB", (40, 40), (30, 60, 200)).save(refs / "a" / "one.JPG")  # any extension
    hints.joinpath("a").mkdir(parents=True)
    hints.joinpath("b").mkdir(parents=True)
    (hints / "a" / "two.hints.json").write_text(
        json.dumps({"points": [{"x": 40, "y": 32, "rgb": [220, 40, 40], "radius": 6}]})
    )
    (hints / "b" / "three.hints.json").write_text('{"points": [{"x": 4, "y": 4}]}')
    manifest = tmp_path / "m.jsonl"
    r = run_cli(
        src, tmp_path / "out", "--reference", refs, "--hints", hints, "--manifest", manifest
    )
    assert r.returncode == 1, r.stderr  # one malformed hints file: that photo fails
    assert "summary: 2 done, 0 skipped, 1 failed" in r.stderr
    assert "three.hints.json: points[0] (line 1): 'rgb' must be three integers" in r.stderr
    recs = {json.loads(x)["input"]: json.loads(x) for x in manifest.read_text().splitlines()}
    one, two = recs[str(src / "a/one.png")], recs[str(src / "a/two.png")]
    assert (one["reference"], one["hints"]) == (str(refs / "a" / "one.JPG"), 0)
    assert (two["reference"], two["hints"]) == (None, 1)
    assert not (tmp_path / "out" / "b" / "three.jpg").exists()
    # the blue reference made one.png bluer than the same photo coloured automatically
    auto = run_cli(src / "a" / "one.png", tmp_path / "auto.png")
    assert auto.returncode == 0, auto.stderr
    assert _mean_ab(tmp_path / "out/a/one.png")[1] < _mean_ab(tmp_path / "auto.png")[1] - 3
    red = _mean_ab(tmp_path / "out/a/two.png", (34, 26, 46, 38))
    assert red[0] > 15  # the hinted region is red (a > 0)


def test_cli_hints_are_in_the_upright_photo_coordinates(tmp_path):
    """Stored 80 wide and 40 high with EXIF orientation 6: upright it is 40 x 80, and a
    hint at y=70 is inside it (it would be outside the stored frame)."""
    stored = Image.fromarray(np.rint(photo_like(40, 80) * 255).astype(np.uint8))
    exif = Image.Exif()
    exif[0x0112] = 6
    src = tmp_path / "in"
    src.mkdir()
    stored.save(src / "rot.jpg", exif=exif.tobytes(), quality=95)
    hints = tmp_path / "hints"
    hints.mkdir()
    (hints / "rot.hints.json").write_text(
        json.dumps({"points": [{"x": 20, "y": 70, "rgb": [220, 40, 40], "radius": 5}]})
    )
    r = run_cli(src, tmp_path / "out", "--hints", hints)
    assert r.returncode == 0, r.stderr
    with Image.open(tmp_path / "out" / "rot.jpg") as im:
        assert im.size == (40, 80)
    assert _mean_ab(tmp_path / "out" / "rot.jpg", (14, 64, 26, 76))[0] > 15
