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

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
pytest.importorskip("starlette", reason='the server extra is not installed: pip install ".[serve]"')
CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")
if not (CHROMIUM and DRIVER):
    pytest.skip(
        "Debian's chromium and chromium-driver are not installed "
        "(apt-get update && apt-get install chromium chromium-driver)",
        allow_module_level=True,
    )
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as seen  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402


@pytest.fixture
def browser(tmp_path: Path):
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--window-size=900,1000",
    ):
        options.add_argument(arg)
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    options.add_experimental_option(
        "prefs",
        {"download.default_directory": str(downloads), "download.prompt_for_download": False},
    )
    driver = webdriver.Chrome(service=webdriver.ChromeService(DRIVER), options=options)
    driver.downloads = downloads
    yield driver
    driver.quit()


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
