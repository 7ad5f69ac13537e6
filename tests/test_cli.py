"""The ``colorize`` command end to end: real files, the real weights, a real subprocess."""

from __future__ import annotations

import io
import json
import shutil

import numpy as np
import pytest
import tifffile
from PIL import Image

from conftest import SAMPLES, photo_like, run_cli, save_gray, tree_snapshot


def _open_rgb(path):
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


def test_samples_tree_is_mirrored_in_natural_order_with_sizes_kept(tmp_path):
    src = tmp_path / "in"
    shutil.copytree(SAMPLES, src)
    frames = src / "film"
    for i in (10, 2, 1):
        save_gray(frames / f"frame_{i}.png", 40, 60, seed=i)
    before = tree_snapshot(src)
    manifest = tmp_path / "m.jsonl"
    r = run_cli(src, tmp_path / "out", "--manifest", manifest)
    assert r.returncode == 0, r.stderr
    assert "summary: 8 done, 0 skipped, 0 failed, 1 ignored" in r.stderr
    lines = [json.loads(x) for x in manifest.read_text().splitlines()]
    done = [x for x in lines if x["status"] == "done"]
    order = [x["input"] for x in done]
    assert order.index(str(frames / "frame_1.png")) < order.index(str(frames / "frame_2.png"))
    assert order.index(str(frames / "frame_2.png")) < order.index(str(frames / "frame_10.png"))
    for rec in done:
        out = tmp_path / "out" / (src / rec["input"]).relative_to(src)
        assert rec["output"] == str(out) and out.is_file()
        with Image.open(rec["input"]) as a, Image.open(out) as b:
            assert a.size == b.size
        rgb = _open_rgb(out)
        assert np.abs(rgb[..., 0].astype(int) - rgb[..., 2]).mean() > 1, "output is still grey"
    assert {x["status"] for x in lines} == {"done", "ignored"}
    keys = {
        "input",
        "output",
        "status",
        "reason",
        "seconds",
        "reference",
        "hints",
        "frames",
        "film",
        "redone",
        "confidence",
    }
    assert all(set(x) == keys for x in lines)
    assert not any(x["redone"] for x in lines)  # only a lost cluster node redoes work
    assert all(x["reference"] is None and x["hints"] == 0 for x in lines)
    assert all(x["frames"] is None for x in lines)  # photos, not videos
    assert tree_snapshot(src) == before, "inputs must never change"


def test_rerun_skips_everything_and_overwrite_redoes(tmp_path):
    src = tmp_path / "in"
    save_gray(src / "a.png")
    save_gray(src / "sub" / "b.jpg", seed=3)
    out = tmp_path / "out"
    assert run_cli(src, out).returncode == 0
    stamps = {p: p.stat().st_mtime_ns for p in out.rglob("*.*")}
    r = run_cli(src, out)
    assert r.returncode == 0
    assert "0 done, 2 skipped" in r.stderr
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*.*")} == stamps
    r = run_cli(src, out, "--overwrite")
    assert "2 done, 0 skipped" in r.stderr
    assert all(p.stat().st_mtime_ns != t for p, t in stamps.items())


def _modes(root):
    """One file per Pillow mode that archives hold, and what each output must be."""
    g = np.rint(photo_like(50, 70) * 255).astype(np.uint8)
    g16 = np.rint(photo_like(50, 70) * 65535).astype(np.uint16)
    alpha = np.tile(np.linspace(0, 255, 70).astype(np.uint8), (50, 1))
    rgb = np.stack([g, g, g], -1)
    files = {
        "L.png": (Image.fromarray(g), "RGB"),
        "I16.png": (Image.fromarray(g16), "RGB16"),
        "I16.tif": (Image.fromarray(g16), "RGB16"),
        "P.png": (Image.fromarray(g).convert("P"), "RGB"),
        "LA.png": (Image.fromarray(np.stack([g, alpha], -1), "LA"), "RGBA"),
        "RGB.jpg": (Image.fromarray(rgb), "RGB"),
        "RGBA.png": (Image.fromarray(np.dstack([rgb, alpha]), "RGBA"), "RGBA"),
        "CMYK.tif": (Image.fromarray(rgb).convert("CMYK"), "RGB"),
        "one.bmp": (Image.fromarray(g).convert("1"), "RGB"),
        "grey.webp": (Image.fromarray(g), "RGB"),
    }
    for name, (im, _) in files.items():
        im.save(root / name)
    return files


def test_every_mode_is_coloured_with_depth_and_alpha_kept(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    files = _modes(src)
    r = run_cli(src, tmp_path / "out")
    assert r.returncode == 0, r.stderr
    for name, (im, want) in files.items():
        out = tmp_path / "out" / name
        if want == "RGB16":
            arr = tifffile.imread(out) if name.endswith(".tif") else _png16(out)
            assert arr.dtype == np.uint16 and arr.shape == (50, 70, 3), name
            assert arr.max() > 255, "16-bit data must use the full range"
        else:
            with Image.open(out) as o:
                assert o.mode == want, name
                assert o.size == (70, 50)
                if want == "RGBA":
                    assert np.array_equal(
                        np.asarray(o)[..., 3], np.asarray(im.convert("RGBA"))[..., 3]
                    )


def _png16(path):
    import png

    w, h, rows, info = png.Reader(filename=str(path)).asDirect()
    assert info["bitdepth"] == 16
    return np.vstack([np.asarray(r, dtype=np.uint16) for r in rows]).reshape(h, w, -1)


def test_sixteen_bit_round_trip_keeps_lightness_precision(tmp_path):
    """L of the 16-bit output matches the 16-bit input better than 8 bits could."""
    import torch

    from colorize_cli.colour.lab import gray_to_l, rgb_to_lab

    g16 = np.rint(photo_like(64, 64, seed=5) * 65535).astype(np.uint16)
    Image.fromarray(g16).save(tmp_path / "scan.tif")
    assert run_cli(tmp_path / "scan.tif", tmp_path / "out").returncode == 0
    out = tifffile.imread(tmp_path / "out" / "scan.tif")
    L_in = gray_to_l(torch.from_numpy(g16 / 65535.0))
    L_out = rgb_to_lab(torch.from_numpy(out / 65535.0).permute(2, 0, 1))[0]
    assert (L_in - L_out).abs().max() < 0.02  # 8-bit steps are ~0.4 L units


def test_exif_rotated_input_comes_out_upright(tmp_path):
    g = np.rint(photo_like(40, 80) * 255).astype(np.uint8)
    im = Image.fromarray(g)
    exif = im.getexif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    exif[0x010F] = "TestCam"
    im.save(tmp_path / "rot.jpg", exif=exif.tobytes(), dpi=(300, 300))
    assert run_cli(tmp_path / "rot.jpg", tmp_path / "out").returncode == 0
    with Image.open(tmp_path / "out" / "rot.jpg") as o:
        assert o.size == (40, 80)
        assert o.getexif().get(0x0112) in (None, 1)
        assert o.getexif().get(0x010F) == "TestCam"
        assert o.info["dpi"] == pytest.approx((300, 300))


def test_icc_profile_is_carried_over(tmp_path):
    from PIL import ImageCms

    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    g = np.rint(photo_like() * 255).astype(np.uint8)
    Image.fromarray(np.stack([g] * 3, -1)).save(tmp_path / "p.png", icc_profile=icc)
    assert run_cli(tmp_path / "p.png", tmp_path / "out").returncode == 0
    with Image.open(tmp_path / "out" / "p.png") as o:
        assert o.info.get("icc_profile") == icc


def test_format_option_converts_and_keeps_the_tree(tmp_path):
    save_gray(tmp_path / "in" / "x" / "a.tif")
    r = run_cli(tmp_path / "in", tmp_path / "out", "--format", "jpg")
    assert r.returncode == 0
    with Image.open(tmp_path / "out" / "x" / "a.jpg") as o:
        assert o.format == "JPEG"


def test_bad_file_among_good_ones(tmp_path):
    src = tmp_path / "in"
    save_gray(src / "good1.png")
    (src / "broken.png").write_bytes(b"this is not a png at all")
    save_gray(src / "good2.jpg", seed=2)
    truncated = io.BytesIO()
    Image.fromarray(np.rint(photo_like() * 255).astype(np.uint8)).save(truncated, "PNG")
    (src / "truncated.png").write_bytes(truncated.getvalue()[:200])
    before = tree_snapshot(src)
    manifest = tmp_path / "m.jsonl"
    r = run_cli(src, tmp_path / "out", "--manifest", manifest)
    assert r.returncode == 1
    assert "broken.png" in r.stderr and "truncated.png" in r.stderr
    assert "2 done, 0 skipped, 2 failed" in r.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["good1.png", "good2.jpg"]
    recs = {json.loads(x)["input"]: json.loads(x) for x in manifest.read_text().splitlines()}
    bad = recs[str(src / "broken.png")]
    assert bad["status"] == "failed" and bad["reason"]
    assert tree_snapshot(src) == before


def test_usage_errors_exit_2(tmp_path):
    save_gray(tmp_path / "a.png")
    assert run_cli(tmp_path / "missing", tmp_path / "out").returncode == 2
    r = run_cli(tmp_path / "a.png", tmp_path / "out", "--device", "cuda:7")
    assert r.returncode == 2 and "cuda" in r.stderr.lower()
    bad = tmp_path / "w.safetensors"
    bad.write_bytes(b"junk")
    r = run_cli(tmp_path / "a.png", tmp_path / "out", "--weights", bad)
    assert r.returncode == 2 and "w.safetensors" in r.stderr


def test_out_inside_in_is_not_read_back(tmp_path):
    src = tmp_path / "in"
    save_gray(src / "a.png")
    assert run_cli(src, src / "coloured").returncode == 0
    r = run_cli(src, src / "coloured")
    assert "0 done, 1 skipped, 0 failed" in r.stderr
    assert not (src / "coloured" / "coloured").exists()
