"""The app in a real browser: headless Debian Chromium driven by Playwright, on 127.0.0.1.

CI installs Chromium (``apt-get install chromium``); without it these tests fail, on purpose.
"""

import os
import re
from pathlib import Path

import numpy as np
import pytest
from helpers import save_uint8, scratched, smooth_photo
from PIL import Image
from playwright.sync_api import expect

CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))  # Debian's; CI may point elsewhere
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 60_000




@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: the browser tests need Debian's Chromium "
            "(apt-get install chromium)",
            pytrace=False,
        )
    from playwright.sync_api import sync_playwright

    expect.set_options(timeout=TIMEOUT_MS)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, server):
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(server)
    yield page
    context.close()


@pytest.fixture(scope="module")
def photo_path(tmp_path_factory):
    """A 240x180 photo with a bright scratch."""
    damaged, _ = scratched(smooth_photo(180, 240))
    path = tmp_path_factory.mktemp("browser") / "grandma.png"
    save_uint8(damaged, path)
    return path


def upload(page, path):
    page.locator("#scratch-photo-upload input[type=file]").set_input_files(str(path))


def red_pixels(png: bytes) -> int:
    """Pixels of a screenshot tinted by the mask layer's red."""
    import io

    rgb = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.int16)
    return int(np.count_nonzero((rgb[..., 0] - rgb[..., 1] > 60) & (rgb[..., 0] - rgb[..., 2] > 40)))


def wait_for_red_mask(page):
    """Wait until the editor shows the detected scratches in red over the photo; its canvas."""
    canvas = page.locator("#scratch-mask-editor canvas").first
    canvas.wait_for()
    for _ in range(40):
        if red_pixels(canvas.screenshot()) > 100:
            return canvas
        page.wait_for_timeout(250)
    raise AssertionError("the mask editor never showed the detected scratch in red")


def coverage(text: str) -> float:
    return float(re.search(r"([0-9.]+) %", text).group(1))


def test_upload_paint_restore_compare_and_download(page, photo_path, tmp_path):
    expect(page.locator("#engine-notice")).to_be_visible()
    expect(page.locator("#engine-notice")).to_contain_text("classical engine")

    upload(page, photo_path)
    mask_info = page.locator("#scratch-mask-info")
    expect(mask_info).to_contain_text("Scratches found")
    expect(mask_info).to_contain_text("240×180 px")
    detected = coverage(mask_info.inner_text())
    assert detected > 0.5
    canvas = wait_for_red_mask(page)

    # Paint a stroke of "missed damage" across the photo with the editor's brush.
    box = canvas.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x - 150, y - 60)
    page.mouse.down()
    page.mouse.move(x + 150, y - 60, steps=4)
    page.mouse.up()

    page.locator("#scratch-restore").click()
    result = page.locator("#scratch-result-info")
    expect(result).to_contain_text("Engine that ran: classical")
    assert coverage(result.inner_text()) > detected + 1.0  # the painted stroke was repaired too
    expect(page.locator("#scratch-before-after img")).to_have_count(2)

    with page.expect_download() as download_info:
        page.locator("#scratch-download").click()
    download = download_info.value
    assert download.suggested_filename == "grandma-restored.png"
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    with Image.open(saved) as restored:
        assert restored.format == "PNG"
        assert restored.size == (240, 180)
    assert "Traceback" not in page.content()


def test_a_non_image_shows_the_message_and_no_traceback(page, tmp_path):
    path = tmp_path / "notes.png"
    path.write_text("shopping list: flour, eggs")
    upload(page, path)
    toast = page.locator(".toast-body.error")
    toast.first.wait_for()
    text = toast.first.inner_text()
    assert "notes.png is not an image this app can read" in text
    assert "/tmp/" not in text
    content = page.content()
    assert "Traceback" not in content
    assert 'File "' not in content


def test_denoise_tab_measures_starts_the_sliders_there_and_restores(page, tmp_path):
    rng = np.random.default_rng(0)
    clean = smooth_photo(240, 320)
    path = tmp_path / "grainy.png"
    save_uint8(np.clip(clean + rng.normal(0, 10 / 255, clean.shape[:2])[..., None], 0, 1), path)
    page.get_by_role("tab", name="Denoise / Deblur").click()
    page.locator("#denoise-photo-upload input[type=file]").set_input_files(str(path))
    expect(page.locator("#denoise-estimates")).to_contain_text("Measured")
    measured = float(re.search(r"grain ([0-9.]+) levels", page.locator("#denoise-estimates").inner_text()).group(1))
    grain_box = page.locator("#denoise-grain input[type=number]")
    expect(grain_box).not_to_have_value("0")
    assert float(grain_box.input_value()) == pytest.approx(measured, abs=0.5)
    page.locator("#denoise-restore").click()
    expect(page.locator("#denoise-result-info")).to_contain_text("Engine that ran: classical")
    expect(page.locator("#denoise-before-after img")).to_have_count(2)
    page.screenshot(path=str(tmp_path / "denoise-tab.png"), full_page=True)
