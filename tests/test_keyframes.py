"""Colour one frame, the shot follows (issue 34): hints on a film's keyframe reach every
frame of its shot, before and after it, and stop at the cut; for frame folders and
videos, through the real command."""

from __future__ import annotations

import json
import shutil
import urllib.error
import urllib.request
from pathlib import Path

import av
import numpy as np
import pytest
import torch
from PIL import Image
from test_film import make_video

from colorize_cli.colour.lab import rgb_to_lab

from conftest import SAMPLES, review_of, run_cli

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


def _post_json(url: str, body: dict) -> dict:
    req = urllib.request.Request(
        url, json.dumps(body).encode(), {"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(req, timeout=300) as reply:
        return json.loads(reply.read())


def _get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=120) as reply:
        return json.loads(reply.read())


@pytest.fixture
def reviewed_films(tmp_path: Path):
    """A run over a frame folder of two shots and a video, served for review; (IN, OUT,
    HINTS, url)."""
    src, out, hints = tmp_path / "in", tmp_path / "out", tmp_path / "hints"
    two_shots(src)
    make_video(src / "clip.mp4", frames=16, size=(128, 96))
    with review_of(src, out, hints) as base:
        yield src, out, hints, base


def test_review_lists_films_and_saving_a_keyframe_colours_its_shot(reviewed_films) -> None:
    src, out, hints, base = reviewed_films
    listing = _get_json(base + "/pairs")
    films = {p["path"]: p for p in listing["pairs"] if p.get("film")}
    assert sorted(films) == ["clip.mp4", "reel/frame_*.png"] and listing["total"] == 2
    assert films["reel/frame_*.png"]["count"] == 24 and films["clip.mp4"]["count"] == 16
    names = [f"frame_{i:03d}.png" for i in range(24)]
    before = {n: _frame(out / "reel" / n) for n in names}
    saved = _post_json(base + "/pairs/reel/frame_006.png/hints", _hints([(40, 60), (120, 30)]))
    assert saved["frames"] == 12 and saved["points"] == 2  # its shot, not the next one
    assert (hints / "reel" / "frame_006.hints.json").is_file()
    gain = [_redness(_frame(out / "reel" / n)) - _redness(before[n]) for n in names]
    assert min(gain[:12]) > 3 and all(
        np.array_equal(_frame(out / "reel" / n), before[n]) for n in names[12:]
    )
    # a video: its frame as a keyframe, in its hints file by index; the whole video again
    plain = _video_frames(out / "clip.mp4")
    saved = _post_json(base + "/pairs/clip.mp4/frames/5/hints", _hints([(30, 40)]))
    assert saved["frames"] == 16
    assert json.loads((hints / "clip.hints.json").read_text())["frames"][0]["frame"] == 5
    assert _get_json(base + "/pairs/clip.mp4/frames/5/hints")["points"][0]["rgb"] == RED
    hinted = _video_frames(out / "clip.mp4")
    assert min(_redness(a) - _redness(b) for a, b in zip(hinted, plain, strict=True)) > 1
    # the batch with the same hints gives the same frames
    again = run_cli(src, out.with_name("again"), "--hints", hints, "-q")
    assert again.returncode == 0, again.stderr
    for n in names:
        ours = _frame(out.with_name("again") / "reel" / n).astype(int)
        assert np.abs(ours - _frame(out / "reel" / n)).max() <= 1, n
    batch = _video_frames(out.with_name("again") / "clip.mp4")
    assert (
        max(int(np.abs(a.astype(int) - b).max()) for a, b in zip(batch, hinted, strict=True)) <= 2
    )
    # no path from the browser: a frame past the end, or a video never listed
    for bad in ("/pairs/clip.mp4/frames/16/hints", "/pairs/other.mp4/frames/0/hints"):
        with pytest.raises(urllib.error.HTTPError) as refused:
            _get_json(base + bad)
        assert refused.value.code == 404


def test_a_film_is_corrected_in_the_browser_one_keyframe_for_its_shot(
    reviewed_films, browser
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait
    from test_correct import _click_photo, _ready, _swatches

    _, out, hints, base = reviewed_films
    names = [f"frame_{i:03d}.png" for i in range(24)]
    before = {n: (out / "reel" / n).read_bytes() for n in names}
    browser.get(base + "/")
    WebDriverWait(browser, 60).until(lambda b: b.find_elements(By.CSS_SELECTOR, ".pair.film"))
    card = next(
        c
        for c in browser.find_elements(By.CSS_SELECTOR, ".pair.film")
        if c.get_attribute("data-path") == "reel/frame_*.png"
    )
    card.click()
    browser.execute_script(
        "const r = document.getElementById('filmframe'); r.value = 6;"
        "r.dispatchEvent(new Event('input'));"
    )
    assert "frame 6 of 24" in browser.find_element(By.ID, "filmstatus").text
    browser.find_element(By.ID, "filmcorrect").click()
    seq = _ready(browser, 0)
    _click_photo(browser, 40, 60)
    _swatches(browser)[1].click()
    _ready(browser, seq)
    browser.find_element(By.ID, "save").click()
    WebDriverWait(browser, 240).until(
        lambda b: b.find_element(By.ID, "editor").get_attribute("data-saved")
    )
    assert "its shot coloured again (12 frames)" in browser.find_element(By.ID, "editstatus").text
    assert (hints / "reel" / "frame_006.hints.json").is_file()
    changed = [(out / "reel" / n).read_bytes() != before[n] for n in names]
    assert all(changed[:12]) and not any(changed[12:])


def test_keyframes_of_one_shot_share_it_by_nearness_in_time() -> None:
    """Two keyframes in one still shot, each colouring all of it its own colour: a frame
    takes the nearer one's fully and the other's in proportion to nearness, and the
    two together never more than the whole correction."""
    from colorize_cli.colour.keyframes import FilmPlan, Keyframe

    side, cells = 16, 4
    seen = torch.nn.functional.normalize(torch.ones(8, cells, cells), dim=0)

    def key(frame: int, a: float) -> Keyframe:
        reach = torch.ones(1, side, side)
        colour = torch.tensor([a, 0.0])[:, None, None].expand(2, side, side).clone()
        return Keyframe(frame, (), torch.zeros(0, 8), torch.zeros(0, 2), seen, reach, colour)

    plan = FilmPlan([0] * 13, [(0.0, 0.0)] * 13, {0: [key(2, 40.0), key(10, -40.0)]})
    features = torch.ones(8, cells, cells)
    at = {t: plan.carried(t, features, (64, 64)) for t in (2, 4, 6, 10, 12)}
    assert float(at[2].colour[0].mean()) > 20 and float(at[10].colour[0].mean()) < -20
    assert abs(float(at[6].colour[0].mean())) < 1e-4  # halfway: equal shares
    a4 = (40 * 1 + -40 * (3 / 7)) / (1 + 3 / 7)  # nearest 2 frames away, the other 6
    assert float(at[4].colour[0].mean()) == pytest.approx(a4, abs=1e-3)
    assert all(float(c.reach.max()) <= 1 + 1e-6 for c in at.values())
    other = FilmPlan([0] * 6 + [6] * 6, [(0.0, 0.0)] * 12, {0: [key(2, 40.0)]})
    assert other.carried(8, features, (64, 64)) is None  # the next shot takes nothing
