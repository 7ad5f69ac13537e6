"""The page at ``/`` in a real headless browser (Debian's chromium and chromium-driver,
driven by Selenium): pick a photo, the coloured result appears, and the download is a
valid image of the photo's size. Skipped, with the reason, where they are absent."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import SAMPLES

pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
pytest.importorskip("starlette", reason='the server extra is not installed: pip install ".[serve]"')
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as seen
from selenium.webdriver.support.ui import WebDriverWait


def test_pick_a_photo_see_it_coloured_and_download_it(server: str, browser, tmp_path: Path) -> None:
    photo = tmp_path / "grandma.jpg"
    shutil.copy(SAMPLES / "rocket.jpg", photo)  # a bundled grey sample photo, 640x427
    browser.get(server + "/")
    browser.find_element(By.ID, "files").send_keys(str(photo))
    link = WebDriverWait(browser, 120).until(
        seen.presence_of_element_located((By.CSS_SELECTOR, "a.download"))
    )
    assert link.get_attribute("download") == "grandma-colour.jpg"
    shot = os.environ.get("COLORIZE_SCREENSHOT")  # docs/serve.png is taken this way
    if shot:
        time.sleep(0.5)
        browser.save_screenshot(shot)
    link.click()
    target = browser.downloads / "grandma-colour.jpg"
    deadline = time.time() + 30
    while time.time() < deadline and not target.exists():
        time.sleep(0.1)
    out = Image.open(target)
    assert out.size == Image.open(photo).size and out.mode == "RGB"
    assert np.asarray(out, np.int16).std(axis=2).mean() > 1  # coloured
