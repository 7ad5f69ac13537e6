"""Each photo's confidence (issue 35): from the pass that colours it, on the manifest,
the Result, the summary, /colorize's answer, the review's order and the editor's overlay;
against the real weights, the real command and a real server."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from email.message import Message
from pathlib import Path

import numpy as np
import pytest
import skimage
import torch
from PIL import Image
from safetensors import safe_open
from safetensors.torch import save_file
from scipy.stats import spearmanr
from test_film import make_video

from colorize_cli import Options, colorize_dir
from colorize_cli.colour.confidence import FEATURES, Estimate, fit
from colorize_cli.colour.resample import thumbnail
from colorize_cli.files.read import read_image
from colorize_cli.model.batch import stack_l
from colorize_cli.model.weights import WeightsError, load_weights, shipped_path
from colorize_cli.training.confidence import measure

from conftest import SAMPLES, run_cli, start_server

# colour photos that ship with scikit-image: nobody trained or fitted anything on them
SKIMAGE = Path(skimage.__file__).parent / "data"
COLOUR_PHOTOS = [
    "astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg", "motorcycle_left.png",
    "hubble_deep_field.jpg", "ihc.png", "retina.jpg", "color.png", "chessboard_RGB.png",
]  # fmt: skip


def test_confidence_ranks_the_real_errors_of_photos_nobody_trained_on(colorizer) -> None:
    feats, errors = measure(colorizer, [SKIMAGE / n for n in COLOUR_PHOTOS])
    confidence = np.array(colorizer.spec.confidence.confidence(torch.from_numpy(feats)))
    assert ((confidence >= 0) & (confidence <= 1)).all()
    rho = spearmanr(-confidence, errors).statistic
    print(dict(zip(COLOUR_PHOTOS, zip(confidence, errors.round(1), strict=True), strict=True)))
    assert rho >= 0.6, rho  # 0.89 with the shipped weights
    least_sure = np.argsort(confidence)[:3]
    assert errors[least_sure].mean() > 1.5 * errors.mean()


def test_the_estimate_is_a_fit_kept_in_the_weights_file(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, len(FEATURES)))
    error = 10 + 3 * x[:, 0] - 2 * x[:, 5] + rng.normal(scale=0.1, size=200)
    est = fit(x, error, ridge=1e-3)
    assert np.abs(est.error(torch.from_numpy(x)) - error).max() < 0.5
    sure = est.confidence(torch.from_numpy(x))
    assert spearmanr(sure, error).statistic < -0.99  # surer where the error is smaller
    assert min(sure) >= 0 and max(sure) <= 1
    assert Estimate.from_json(est.to_json()) == est
    # a file whose estimate was fitted on other features is refused by name
    with safe_open(str(shipped_path()), "pt") as f:
        meta, tensors = f.metadata(), {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118
    other = json.loads(meta["confidence"])
    other["features"] = other["features"][:-1]
    save_file(tensors, str(tmp_path / "w.safetensors"), {**meta, "confidence": json.dumps(other)})
    with pytest.raises(WeightsError, match="other features"):
        load_weights(tmp_path / "w.safetensors")


def test_a_run_gives_every_photo_frame_and_film_its_confidence(tmp_path: Path, colorizer) -> None:
    src, out, manifest = tmp_path / "in", tmp_path / "out", tmp_path / "run.jsonl"
    shutil.copytree(SAMPLES, src, ignore=shutil.ignore_patterns("*.py"))
    reel = src / "reel"
    reel.mkdir()
    for i in range(6):  # a pan: a frame folder taken as a film
        Image.open(SAMPLES / "animals" / "chelsea.png").convert("L").crop(
            (8 * i, 0, 8 * i + 200, 150)
        ).save(reel / f"frame_{i:03d}.png")
    make_video(src / "clip.mp4", frames=12)
    r = run_cli(src, out, "--manifest", manifest, "--check-below", "0.3")
    assert r.returncode == 0, r.stderr
    records = {
        Path(x["input"]).relative_to(src).as_posix(): x
        for x in map(json.loads, manifest.read_text().splitlines())
    }
    done = {k: v for k, v in records.items() if v["status"] == "done"}
    assert len(done) == 5 + 6 + 1
    assert all(0 <= v["confidence"] <= 1 for v in done.values())
    # the photo's is what the model's own logits give, through the Python API too
    gray = read_image(src / "people" / "astronaut.png").gray
    L = stack_l([thumbnail(gray, colorizer.input_size)])
    logits = colorizer.logits(L)
    expected = colorizer.confidence(logits, colorizer.decode(logits), L)[0]
    assert abs(done["people/astronaut.png"]["confidence"] - expected) <= 0.002
    # a video: one per frame, and their mean for the film
    clip = done["clip.mp4"]
    assert len(clip["frame_confidence"]) == clip["frames"] == 12
    assert clip["confidence"] == pytest.approx(np.mean(clip["frame_confidence"]), abs=1e-3)
    # a frame folder: one per frame, and the film's (their mean) at the end of the run
    frames = [done[f"reel/frame_{i:03d}.png"] for i in range(6)]
    film = frames[0]["film"]
    mean = np.mean([f["confidence"] for f in frames])
    assert all(f["film"] == film for f in frames)
    assert f"film: {film}: confidence {mean:.2f} (its frames' mean)" in r.stderr
    # the summary counts those below the threshold and says where they are listed
    below = sum(v["confidence"] < 0.3 for v in done.values())
    assert below > 0
    assert f"check first: {below} coloured with confidence below 0.3 ({manifest}" in r.stderr
    # the Python API's Result carries it; a skipped photo (not coloured) has none
    results = []
    summary = colorize_dir(src, out, Options(check_below=0.3), on_result=results.append)
    assert summary.skipped == 12 and summary.unsure == 0
    assert {x.confidence for x in results if x.status == "skipped"} == {None}
    shutil.rmtree(out / "people")
    results.clear()
    colorize_dir(src, out, Options(), colorizer=colorizer, on_result=results.append)
    (again,) = [x for x in results if x.status == "done"]
    assert again.confidence == done["people/astronaut.png"]["confidence"]


def _post(url: str, image: Path) -> tuple[Message, bytes]:
    boundary = "confidence-test"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="a.png"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + image.read_bytes()
        + f"\r\n--{boundary}--\r\n".encode()
    )
    req = urllib.request.Request(
        url, body, {"Content-Type": f"multipart/form-data; boundary={boundary}"}
    )
    with urllib.request.urlopen(req, timeout=120) as reply:
        return reply.headers, reply.read()  # names matched in any case


def test_the_server_answers_with_the_confidence_and_where_it_hesitates(
    server: str, tmp_path: Path
) -> None:
    photo = SAMPLES / "animals" / "chelsea.png"
    manifest = tmp_path / "m.jsonl"
    src = tmp_path / "in"
    src.mkdir()
    shutil.copy(photo, src / "chelsea.png")
    assert run_cli(src, tmp_path / "out", "--manifest", manifest).returncode == 0
    (record,) = map(json.loads, manifest.read_text().splitlines())
    headers, _ = _post(server + "/colorize", photo)
    assert abs(float(headers["X-Confidence"]) - record["confidence"]) <= 0.002
    headers, data = _post(server + "/doubt", photo)
    heat = np.asarray(Image.open(io.BytesIO(data)))
    assert headers["Content-Type"] == "image/png" and heat.ndim == 3 and heat.shape[2] == 4
    assert heat.shape[0] == heat.shape[1]  # the model's own grid, stretched by the page
    assert heat[..., 3].max() > heat[..., 3].min()  # surer in some places than others


@pytest.fixture
def reviewed_run(tmp_path: Path):
    """The samples coloured by the command run from another folder (relative paths in
    its manifest), then again (all skipped: a second manifest with no confidences),
    served for review with both manifests; (manifest records by pair path, url)."""
    src = tmp_path / "in"
    shutil.copytree(SAMPLES, src, ignore=shutil.ignore_patterns("*.py"))
    first = run_cli("in", "out", "--manifest", "first.jsonl", cwd=tmp_path)
    second = run_cli("in", "out", "--manifest", "second.jsonl", cwd=tmp_path)
    assert first.returncode == second.returncode == 0, first.stderr + second.stderr
    records = [json.loads(x) for x in (tmp_path / "first.jsonl").read_text().splitlines()]
    by_path = {Path(r["input"]).relative_to("in").as_posix(): r for r in records}
    proc, base = start_server(
        "--review", src, tmp_path / "out",
        "--manifest", tmp_path / "first.jsonl", "--manifest", tmp_path / "second.jsonl",
    )  # fmt: skip
    yield by_path, base
    proc.terminate()
    proc.wait(timeout=30)


def _get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=60) as reply:
        return json.loads(reply.read())


def test_review_lists_the_least_sure_first(reviewed_run) -> None:
    records, base = reviewed_run
    by_name = _get(base + "/pairs")
    assert [p["path"] for p in by_name["pairs"]] == sorted(records)  # as without a manifest
    assert by_name["confidences"] == len(records) == 5
    least = _get(base + "/pairs?order=confidence")
    shown = [(p["path"], p["confidence"]) for p in least["pairs"]]
    assert [c for _, c in shown] == sorted(r["confidence"] for r in records.values())
    assert all(records[path]["confidence"] == c for path, c in shown)
    paged = _get(base + "/pairs?order=confidence&offset=1&limit=2")
    assert [p["path"] for p in paged["pairs"]] == [p for p, _ in shown[1:3]]
    with pytest.raises(urllib.error.HTTPError) as refused:
        _get(base + "/pairs?order=colour")
    assert refused.value.code == 400


def test_review_without_a_manifest_is_as_before_and_a_bad_one_is_named(tmp_path: Path) -> None:
    src = tmp_path / "in"
    shutil.copytree(SAMPLES, src, ignore=shutil.ignore_patterns("*.py"))
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"input": "in/rocket.jpg", "confidence": 0.5}\nnot json\n{}\n')
    r = run_cli("serve", "--review", src, tmp_path / "out", "--manifest", bad)
    assert r.returncode == 2 and f"{bad}, line 2: not a manifest line" in r.stderr
    proc, base = start_server("--review", src, tmp_path / "out")
    try:
        listing = _get(base + "/pairs?order=confidence")
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert listing["confidences"] == 0
    assert [p["confidence"] for p in listing["pairs"]] == [None] * 5
    assert [p["path"] for p in listing["pairs"]] == sorted(p["path"] for p in listing["pairs"])


def test_the_review_page_sorts_by_confidence_and_shows_where_it_hesitates(
    reviewed_run, browser
) -> None:
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    records, base = reviewed_run
    browser.get(base + "/")
    WebDriverWait(browser, 60).until(lambda b: b.find_elements(By.CSS_SELECTOR, ".pair .sure"))
    cards = browser.find_elements(By.CSS_SELECTOR, ".pair")
    shown = [float(c.get_attribute("data-confidence")) for c in cards]
    assert shown == sorted(r["confidence"] for r in records.values())  # least sure first
    assert cards[0].find_element(By.CSS_SELECTOR, ".sure").text == f"confidence {shown[0]:.2f}"
    WebDriverWait(browser, 60).until(
        lambda b: all(
            i.get_attribute("naturalWidth") != "0"
            for i in b.find_elements(By.CSS_SELECTOR, ".pair img")
        )
    )
    shot = os.environ.get("COLORIZE_REVIEW_SCREENSHOT")  # docs/review-confidence.png
    if shot:
        browser.set_window_size(900, 660)  # the list, without the empty page below it
        browser.save_screenshot(shot)
    # by name on request
    # the grid is drawn again on each change: cards read while it is may have gone
    settled = WebDriverWait(browser, 60, ignored_exceptions=(StaleElementReferenceException,))
    Select(browser.find_element(By.ID, "order")).select_by_value("name")
    settled.until(
        lambda b: (
            [c.get_attribute("data-path") for c in b.find_elements(By.CSS_SELECTOR, ".pair")]
            == sorted(records)
        )
    )
    # the editor's overlay: where the model hesitates over the least sure photo
    Select(browser.find_element(By.ID, "order")).select_by_value("confidence")
    settled.until(
        lambda b: (
            b.find_elements(By.CSS_SELECTOR, ".pair")[0].get_attribute("data-confidence")
            == str(shown[0])
        )
    )
    browser.find_elements(By.CSS_SELECTOR, ".pair")[0].click()
    WebDriverWait(browser, 120).until(
        lambda b: b.find_element(By.ID, "editor").get_attribute("data-ready")
    )
    overlay = browser.find_element(By.ID, "doubtimg")
    assert not overlay.is_displayed()
    browser.find_element(By.ID, "doubt").click()
    WebDriverWait(browser, 60).until(
        lambda b: b.find_element(By.ID, "editor").get_attribute("data-doubt")
    )
    assert overlay.is_displayed()
    photo = browser.find_element(By.ID, "editimg")
    assert overlay.size == photo.size  # laid over the whole photo
    assert "confidence" in browser.find_element(By.ID, "editstatus").text
    browser.find_element(By.ID, "doubt").click()
    assert not overlay.is_displayed()


def test_the_estimate_is_fitted_into_existing_weights_by_its_command(tmp_path: Path) -> None:
    """``python -m colorize_cli.training.confidence WEIGHTS DIR``: how the shipped
    weights got theirs; here on 120 small colour photos, all held out."""
    from test_finetune import _colour_photos

    _colour_photos(tmp_path / "photos", 120)
    weights = tmp_path / "w.safetensors"
    shutil.copy(shipped_path(), weights)
    r = subprocess.run(
        [sys.executable, "-m", "colorize_cli.training.confidence", weights, tmp_path / "photos",
         "--val-fraction", "1"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "on 120 held-out photos" in r.stdout
    net, _, spec = load_weights(weights)
    shipped_net, _, shipped = load_weights()
    assert spec.confidence is not None and spec.confidence != shipped.confidence
    assert spec.temperature == shipped.temperature and spec.input_size == shipped.input_size
    theirs = shipped_net.state_dict()
    assert all(torch.equal(v, theirs[k]) for k, v in net.state_dict().items())
