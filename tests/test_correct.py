"""Correcting by hand, in a real headless browser (Debian's chromium and chromium-driver
through Selenium): the model's candidate colours at a clicked point, a hint from one of
them, its hints file reproduced by the command, and a review session over a finished run
that fixes one photo on disk. The candidates API and the review's path refusals are
checked over HTTP. Browser tests skip, with the reason, where chromium is absent."""

from __future__ import annotations

import base64
import http.client
import io
import json
import os
import shutil
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from colorize_cli.colour.lab import rgb_to_lab

from conftest import SAMPLES, review_of, run_cli

pytest.importorskip("starlette", reason='the server extra is not installed: pip install ".[serve]"')
pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

PHOTO = SAMPLES / "people" / "astronaut.png"  # 512x512 grey PNG (lossless, so pixels compare)


def _multipart(fields: dict[str, str], files: dict[str, Path]) -> tuple[bytes, str]:
    boundary = "colorize-test-boundary"
    out = io.BytesIO()
    for name, value in fields.items():
        out.write(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode())
        out.write(value.encode() + b"\r\n")
    for name, path in files.items():
        out.write(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
            f'filename="{path.name}"\r\nContent-Type: application/octet-stream\r\n\r\n'.encode()
        )
        out.write(path.read_bytes() + b"\r\n")
    out.write(f"--{boundary}--\r\n".encode())
    return out.getvalue(), f"multipart/form-data; boundary={boundary}"


def _post(url: str, body: bytes, kind: str) -> tuple[int, dict]:
    request = urllib.request.Request(url, data=body, headers={"Content-Type": kind})
    try:
        with urllib.request.urlopen(request, timeout=120) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def _lab_at(rgb: np.ndarray, x: int, y: int, r: int = 2) -> torch.Tensor:
    patch = rgb[y - r : y + r + 1, x - r : x + r + 1, :3].astype(np.float32) / 255
    return rgb_to_lab(torch.from_numpy(patch).permute(2, 0, 1)).mean(dim=(1, 2))


# -- the candidates API ---------------------------------------------------------------


def test_candidates_are_the_models_colours_at_the_point(server: str, colorizer) -> None:
    body, kind = _multipart({"x": "100", "y": "100"}, {"image": PHOTO})
    status, answer = _post(server + "/candidates", body, kind)
    assert status == 200, answer
    found = answer["candidates"]
    assert 1 <= len(found) <= 6
    shares = [c["p"] for c in found]
    assert shares == sorted(shares, reverse=True) and shares[-1] >= 0.03 and sum(shares) <= 1.0001
    assert all(len(c["rgb"]) == 3 and all(0 <= v <= 255 for v in c["rgb"]) for c in found)
    gray = np.asarray(Image.open(PHOTO), np.float32) / 255  # the same call in Python
    ours = colorizer.candidates(gray, 100, 100)
    assert [list(c.rgb) for c in ours] == [c["rgb"] for c in found]
    # every swatch is at the photo's own lightness there
    L = float(rgb_to_lab(torch.tensor(gray[100, 100]).repeat(3, 1, 1))[0])
    for c in found:
        lab = rgb_to_lab(torch.tensor(c["rgb"], dtype=torch.float32).view(3, 1, 1) / 255)
        assert abs(float(lab[0]) - L) < 2.0


def test_candidates_refuse_a_point_outside_the_photo(server: str) -> None:
    body, kind = _multipart({"x": "600", "y": "10"}, {"image": PHOTO})
    status, answer = _post(server + "/candidates", body, kind)
    assert status == 400 and "x must be a number from 0 to 511" in answer["error"]
    body, kind = _multipart({}, {"image": PHOTO})
    assert _post(server + "/candidates", body, kind)[0] == 400


# -- review over HTTP: nothing from the browser is a path ----------------------------


@pytest.fixture
def finished_run(tmp_path: Path):
    """A small run, coloured by the command, served for review; (IN, OUT, DIR, url)."""
    src, out, hints = tmp_path / "in", tmp_path / "out", tmp_path / "hints"
    (src / "people").mkdir(parents=True)
    shutil.copy(PHOTO, src / "people" / "astronaut.png")
    shutil.copy(SAMPLES / "animals" / "chelsea.png", src / "chelsea.png")
    secret = tmp_path / "secret"
    secret.mkdir()
    shutil.copy(SAMPLES / "rocket.jpg", secret / "rocket.jpg")
    (src / "escape.jpg").symlink_to(secret / "rocket.jpg")  # a symlink out of the tree
    with review_of(src, out, hints) as base:
        yield src, out, hints, base


def _raw(base: str, method: str, path: str, body: bytes = b"") -> tuple[int, dict]:
    """A request with its path sent exactly as written (no client normalising ../)."""
    host, port = base.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=60)
    conn.request(method, path, body=body or None)
    reply = conn.getresponse()
    data = reply.read()
    return reply.status, json.loads(data) if reply.getheader("content-type", "").endswith(
        "json"
    ) else {}


def test_review_refuses_every_path_it_did_not_list(finished_run, tmp_path: Path) -> None:
    _, out, hints, base = finished_run
    status, listing = _raw(base, "GET", "/pairs")
    assert status == 200
    assert [p["path"] for p in listing["pairs"]] == ["chelsea.png", "people/astronaut.png"]
    assert listing["total"] == 2  # the symlink out of IN is not listed
    status, page = _raw(base, "GET", "/pairs?offset=1&limit=1")  # a page at a time
    assert [p["path"] for p in page["pairs"]] == ["people/astronaut.png"] and page["total"] == 2
    assert page["pairs"][0]["output"] == "people/astronaut.png" and page["pairs"][0]["coloured"]
    assert _raw(base, "GET", "/pairs?limit=100000")[0] == 400
    body = json.dumps({"points": [{"x": 1, "y": 1, "rgb": [255, 0, 0]}]}).encode()
    tricks = [
        "/pairs/../../etc/passwd/source",
        "/pairs/%2e%2e/secret/rocket.jpg/source",
        "/pairs/..%2f..%2fsecret/rocket.jpg/input",
        f"/pairs/{tmp_path}/secret/rocket.jpg/source",
        "/pairs//etc/passwd/source",
        "/pairs/escape.jpg/source",
        "/pairs/people/../chelsea.png/source",
        "/pairs/nothing.png/output",
    ]
    for path in tricks:
        status, answer = _raw(base, "GET", path)
        assert status in (403, 404) and "error" in answer, path
        status, answer = _raw(base, "POST", path.replace("/source", "/hints"), body)
        assert 400 <= status < 500, path
    # a listed photo whose folder was swapped for a symlink out of OUT is refused too
    (out / "people").rename(tmp_path / "moved")
    (out / "people").symlink_to(tmp_path / "secret")
    status, answer = _raw(base, "POST", "/pairs/people/astronaut.png/hints", body)
    assert status == 403 and "outside" in answer["error"]
    assert sorted(p.name for p in (tmp_path / "secret").iterdir()) == ["rocket.jpg"]
    assert not hints.exists()


# -- in the browser --------------------------------------------------------------------


def _ready(browser, after: int) -> int:
    """Wait until the editor shows a colouring newer than ``after``; its number."""
    WebDriverWait(browser, 120).until(
        lambda b: int(b.find_element(By.ID, "editor").get_attribute("data-ready") or 0) > after
    )
    return int(browser.find_element(By.ID, "editor").get_attribute("data-ready"))


def _shown(browser) -> np.ndarray:
    """The pixels of the image the editor shows (the PNG the server sent)."""
    data = browser.execute_async_script(
        "const done = arguments[0]; const r = new FileReader();"
        "r.onload = () => done(r.result.split(',')[1]); r.readAsDataURL(ed.shown);"
    )
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(data))).convert("RGB"))


def _click_photo(browser, x: int, y: int) -> None:
    img = browser.find_element(By.ID, "editimg")
    w, h = img.size["width"], img.size["height"]
    natural = browser.execute_script(
        "return [arguments[0].naturalWidth, arguments[0].naturalHeight]", img
    )
    dx = (x + 0.5) * w / natural[0] - w / 2  # Selenium offsets are from the centre
    dy = (y + 0.5) * h / natural[1] - h / 2
    ActionChains(browser).move_to_element_with_offset(img, dx, dy).click().perform()


def _swatches(browser) -> list:
    WebDriverWait(browser, 60).until(lambda b: b.find_elements(By.CSS_SELECTOR, "#choices .swatch"))
    return browser.find_elements(By.CSS_SELECTOR, "#choices .swatch")


def _wait_file(path: Path) -> Path:
    deadline = time.time() + 30
    while time.time() < deadline and not path.exists():
        time.sleep(0.1)
    time.sleep(0.3)  # the browser renames the finished download into place
    return path


def test_click_pick_a_swatch_and_the_command_reproduces_it(
    server: str, browser, tmp_path: Path
) -> None:
    src = tmp_path / "in"
    src.mkdir()
    shutil.copy(PHOTO, src / "astronaut.png")
    browser.get(server + "/")
    browser.find_element(By.ID, "files").send_keys(str(src / "astronaut.png"))
    WebDriverWait(browser, 120).until(lambda b: b.find_elements(By.CSS_SELECTOR, "button.correct"))
    browser.find_element(By.CSS_SELECTOR, "button.correct").click()
    seq = _ready(browser, 0)
    x, y = 100, 100  # the wall behind the astronaut: the model hesitates between colours
    before = _shown(browser)
    _click_photo(browser, x, y)
    swatches = _swatches(browser)
    assert len(swatches) >= 2
    target = [int(v) for v in swatches[1].get_attribute("data-rgb").split(",")]
    shot = os.environ.get("COLORIZE_CORRECT_SCREENSHOT")  # docs/correct.png is taken this way
    swatches[1].click()
    seq = _ready(browser, seq)
    after = _shown(browser)
    want = _lab_at(np.array(target, np.uint8).reshape(1, 1, 3).repeat(5, 0).repeat(5, 1), 2, 2)
    delta_before = float(torch.linalg.norm(_lab_at(before, x, y)[1:] - want[1:]))
    delta_after = float(torch.linalg.norm(_lab_at(after, x, y)[1:] - want[1:]))
    print(f"a/b distance to the swatch: {delta_before:.1f} before, {delta_after:.1f} after")
    assert delta_after < 0.5 * delta_before, (delta_before, delta_after)
    markers = browser.find_elements(By.CSS_SELECTOR, "#stage .marker")
    assert len(markers) == 1
    if shot:
        _click_photo(browser, 235, 110)  # the face: the model offers several tones
        _swatches(browser)
        time.sleep(0.5)
        browser.save_screenshot(shot)
    # drag the marker 60 pixels right: the point moves and the photo is coloured again
    ActionChains(browser).drag_and_drop_by_offset(markers[0], 60, 0).perform()
    seq = _ready(browser, seq)
    moved = browser.execute_script("return ed.points.map((p) => [p.x, p.y])")
    assert len(moved) == 1 and moved[0][0] > x + 40 and abs(moved[0][1] - y) <= 2
    # undo puts it back; undo again takes it away
    browser.find_element(By.ID, "undo").click()
    seq = _ready(browser, seq)
    assert browser.execute_script("return ed.points.map((p) => [p.x, p.y])") == [[x, y]]
    browser.find_element(By.ID, "undo").click()
    seq = _ready(browser, seq)
    assert np.abs(_shown(browser).astype(int) - before).max() <= 1
    assert browser.find_elements(By.CSS_SELECTOR, "#stage .marker") == []
    # a point selected and deleted with the Delete key is gone
    _click_photo(browser, x, y)
    _swatches(browser)[1].click()
    seq = _ready(browser, seq)
    browser.find_element(By.CSS_SELECTOR, "#stage .marker").click()
    ActionChains(browser).send_keys(Keys.DELETE).perform()
    seq = _ready(browser, seq)
    assert browser.execute_script("return ed.points.length") == 0
    # add it again, then download its hints and colour the folder with them
    _click_photo(browser, x, y)
    _swatches(browser)[1].click()
    seq = _ready(browser, seq)
    page = _shown(browser)
    browser.find_element(By.ID, "hintsdl").click()
    hints_file = _wait_file(browser.downloads / "astronaut.hints.json")
    points = json.loads(hints_file.read_text())["points"]
    assert [(p["x"], p["y"], p["rgb"]) for p in points] == [(x, y, target)]
    (tmp_path / "hints").mkdir()
    shutil.copy(hints_file, tmp_path / "hints" / "astronaut.hints.json")
    r = run_cli(src, tmp_path / "out", "--hints", tmp_path / "hints")
    assert r.returncode == 0, r.stderr
    batch = np.asarray(Image.open(tmp_path / "out" / "astronaut.png").convert("RGB"))
    assert batch.shape == page.shape
    assert np.abs(batch.astype(int) - page).max() <= 1


def test_a_review_session_fixes_one_photo_on_disk(finished_run, browser) -> None:
    src, out, hints, base = finished_run
    target = out / "people" / "astronaut.png"
    before_bytes, before_inode = target.read_bytes(), target.stat().st_ino
    other = (out / "chelsea.png").read_bytes()
    browser.get(base + "/")
    WebDriverWait(browser, 60).until(lambda b: b.find_elements(By.CSS_SELECTOR, ".pair"))
    cards = browser.find_elements(By.CSS_SELECTOR, ".pair")
    assert [c.get_attribute("data-path") for c in cards] == ["chelsea.png", "people/astronaut.png"]
    cards[1].click()
    _ready(browser, 0)
    _click_photo(browser, 100, 100)
    _swatches(browser)[1].click()
    _ready(browser, 1)
    shown = _shown(browser)
    browser.find_element(By.ID, "save").click()
    WebDriverWait(browser, 120).until(
        lambda b: b.find_element(By.ID, "editor").get_attribute("data-saved")
    )
    saved = hints / "people" / "astronaut.hints.json"
    assert saved.is_file() and len(json.loads(saved.read_text())["points"]) == 1
    after = target.read_bytes()
    assert after != before_bytes and target.stat().st_ino != before_inode  # renamed into place
    assert np.abs(np.asarray(Image.open(target).convert("RGB"), int) - shown).max() <= 1
    assert (out / "chelsea.png").read_bytes() == other  # only the corrected photo changed
    assert [p.name for p in out.rglob(".*")] == []  # no temporary files left
    # the next batch run with the saved hints gives the same file
    r = run_cli(src, out, "--hints", hints, "--overwrite")
    assert r.returncode == 0, r.stderr
    again = np.asarray(Image.open(target).convert("RGB"), int)
    assert np.abs(again - np.asarray(Image.open(io.BytesIO(after)).convert("RGB"), int)).max() <= 1
