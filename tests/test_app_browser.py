"""The app in a real browser: headless Debian Chromium driven by Playwright, on 127.0.0.1.

CI installs Chromium (``apt-get install chromium``); without it these tests fail, on purpose.
Every tab is used as a visitor uses it (upload, run, see the result), on small photos. The
screenshots are test artifacts: they go to ``$BROWSER_ARTIFACTS_DIR`` when set, else to a
``browser-screenshots`` folder under pytest's temporary folder (its path is printed).
"""

import os
import re
from pathlib import Path

import numpy as np
import pytest
from helpers import bundled_photo, save_uint8, scratched, smooth_photo
from PIL import Image
from playwright.sync_api import expect
from test_app import server  # noqa: F401 - the app as ``python app.py`` serves it (upload limit, page CSS)

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
PHONE = {"width": 390, "height": 844}  # an iPhone 12-15's CSS viewport
CONTROL_ROLES = {"button", "checkbox", "radio", "slider", "spinbutton", "textbox", "combobox", "tab", "switch", "listbox"}


@pytest.fixture(scope="session")
def artifacts(tmp_path_factory):
    """Where screenshots go: ``$BROWSER_ARTIFACTS_DIR``, else a temporary folder."""
    configured = os.environ.get("BROWSER_ARTIFACTS_DIR", "").strip()
    folder = Path(configured) if configured else tmp_path_factory.mktemp("browser-screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    print(f"\nbrowser screenshots: {folder}")
    return folder


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


def open_page(browser, url, viewport=None):
    """A new visitor (own browser context: no shared cookies or storage) on ``url``."""
    context = browser.new_context(viewport=viewport or {"width": 1400, "height": 1000}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(url)
    return page


@pytest.fixture
def page(browser, server):
    page = open_page(browser, server)
    yield page
    page.context.close()


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


def test_upload_paint_restore_compare_and_download(page, photo_path, tmp_path, artifacts):
    page.get_by_role("tab", name="Scratches").click()
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
    page.screenshot(path=str(artifacts / "scratches-tab.png"), full_page=True)


def test_a_non_image_shows_the_message_and_no_traceback(page, tmp_path):
    path = tmp_path / "notes.png"
    path.write_text("shopping list: flour, eggs")
    page.get_by_role("tab", name="Scratches").click()
    upload(page, path)
    toast = page.locator(".toast-body.error")
    toast.first.wait_for()
    text = toast.first.inner_text()
    assert "notes.png is not an image this app can read" in text
    assert "/tmp/" not in text
    content = page.content()
    assert "Traceback" not in content
    assert 'File "' not in content


def test_denoise_tab_measures_starts_the_sliders_there_and_restores(page, tmp_path, artifacts):
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
    page.screenshot(path=str(artifacts / "denoise-tab.png"), full_page=True)


@pytest.fixture(scope="module")
def portrait_path(tmp_path_factory):
    """scikit-image's astronaut at 256 px (one clear face) with a bright scratch."""
    damaged, _ = scratched(bundled_photo("astronaut", 256))
    path = tmp_path_factory.mktemp("browser") / "portrait.png"
    save_uint8(damaged, path)
    return path


def test_restore_tab_runs_the_chain_shows_each_step_and_shares_a_link(browser, server, portrait_path, tmp_path, artifacts):
    page = open_page(browser, server)
    expect(page.get_by_role("tab", name="Restore")).to_have_attribute("aria-selected", "true")  # the first tab
    expect(page.locator("#restore-limits")).to_contain_text("up to 50 MB and 50 megapixels")
    page.locator("#restore-photo-upload input[type=file]").set_input_files(str(portrait_path))
    expect(page.locator("#restore-estimate")).to_contain_text("256×256 px")
    expect(page.locator("#restore-estimate")).to_contain_text("restoring it takes about")

    page.locator("#restore-run").click()
    info = page.locator("#restore-result-info")
    expect(info).to_contain_text("Engine that ran: classical")
    expect(info).to_contain_text("Scratches")
    expect(info).to_contain_text("Faces")
    expect(page.locator("#restore-before-after img")).to_have_count(2)
    expect(page.locator("#restore-stages img")).to_have_count(4)  # the photo, then after each of 3 steps
    with page.expect_download() as download_info:
        page.locator("#restore-download").click()
    saved = tmp_path / "restored.png"
    download_info.value.save_as(saved)
    with Image.open(saved) as restored:
        assert (restored.format, restored.size) == ("PNG", (256, 256))
    page.screenshot(path=str(artifacts / "restore-tab.png"), full_page=True)

    page.locator("#restore-share").click()
    link_box = page.locator("#restore-share-link textarea, #restore-share-link input").first
    expect(link_box).to_have_value(re.compile(r"^http://127\.0\.0\.1:\d+/\?result=[0-9a-f]{32}$"))
    link = link_box.input_value()

    # Someone else opens the link: that result, and nothing of the first visitor's page.
    other = open_page(browser, link)
    expect(other.locator("#shared-result")).to_be_visible()
    expect(other.locator("#shared-result-info")).to_contain_text("256×256 px")
    expect(other.locator("#shared-before-after img")).to_have_count(2)
    expect(other.locator("#restore-before-after img")).to_have_count(0)
    with other.expect_download() as shared_download:
        other.locator("#shared-download").click()
    shared_saved = tmp_path / "shared.png"
    shared_download.value.save_as(shared_saved)
    assert shared_saved.read_bytes() == saved.read_bytes()
    other.screenshot(path=str(artifacts / "shared-link.png"), full_page=True)

    # A guessed id and a path: the message, and no photo.
    for bad in ("0" * 32, "..%2F..%2Fetc%2Fpasswd"):
        guessed = open_page(browser, f"{server}?result={bad}")
        expect(guessed.locator("#shared-result-info")).to_contain_text("not found or has expired")
        expect(guessed.locator("#shared-before-after img")).to_have_count(0)
        expect(guessed.locator("#shared-download")).to_be_hidden()
        guessed.context.close()
    other.context.close()
    page.context.close()


def test_an_example_thumbnail_restores_with_one_click(page, artifacts):
    examples = page.locator("#restore-examples")
    expect(examples).to_contain_text("1896NewsBoyGirl")
    expect(page.locator("#restore-examples-credit")).to_contain_text("DeOldify")
    examples.get_by_role("button", name="Thumbnail 3 of 8").click()  # 1896NewsBoyGirl.jpg, 564x443
    expect(page.locator("#restore-result-info")).to_contain_text("564×443 px", timeout=120_000)
    expect(page.locator("#restore-before-after img")).to_have_count(2)
    page.screenshot(path=str(artifacts / "restore-example.png"), full_page=True)


def test_faces_tab_finds_the_face_and_restores_it(page, portrait_path, artifacts):
    page.get_by_role("tab", name="Faces").click()
    page.locator("#face-photo-upload input[type=file]").set_input_files(str(portrait_path))
    expect(page.locator("#face-found")).to_contain_text("Found")
    page.locator("#face-restore").click()
    expect(page.locator("#face-result-info")).to_contain_text("Faces restored")
    expect(page.locator("#face-before-after img")).to_have_count(2)
    assert page.locator("#face-gallery img").count() >= 2  # before and after of a face
    page.screenshot(path=str(artifacts / "faces-tab.png"), full_page=True)


def wait_for_photo_on_canvas(canvas):
    """Wait until the editor shows the uploaded photo (a textured canvas, not a blank one)."""
    import io

    canvas.wait_for()
    for _ in range(80):
        pixels = np.asarray(Image.open(io.BytesIO(canvas.screenshot())).convert("L"), dtype=np.float32)
        if pixels.std() > 20:
            return canvas
        canvas.page.wait_for_timeout(250)
    raise AssertionError("the hint editor never showed the photo")


def test_colorize_tab_takes_a_reference_and_a_painted_hint(page, tmp_path, artifacts):
    gray_path, reference_path = tmp_path / "gray.png", tmp_path / "reference.png"
    save_uint8(bundled_photo("coffee", 256).mean(axis=2, keepdims=True).repeat(3, axis=2), gray_path)
    save_uint8(bundled_photo("chelsea", 256), reference_path)
    page.get_by_role("tab", name="Colorize").click()
    page.locator("#colorize-photo-upload input[type=file]").set_input_files(str(gray_path))
    page.locator("#colorize-reference input[type=file]").set_input_files(str(reference_path))
    canvas = wait_for_photo_on_canvas(page.locator("#colorize-hints canvas").first)
    box = canvas.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x - 40, y)
    page.mouse.down()
    page.mouse.move(x + 40, y, steps=4)
    page.mouse.up()

    page.locator("#colorize-run").click()
    info = page.locator("#colorize-result-info")
    expect(info).to_contain_text("Colour from: reference photo")
    expect(info).to_contain_text("hint points")
    expect(page.locator("#colorize-before-after img")).to_have_count(2)
    page.screenshot(path=str(artifacts / "colorize-tab.png"), full_page=True)


def test_the_page_is_usable_at_phone_width(browser, server, artifacts):
    page = open_page(browser, server, PHONE)
    page.locator("#restore-run").wait_for()
    page.wait_for_function(  # the example thumbnails have loaded
        "[...document.querySelectorAll('#restore-examples img')].length === 8 && "
        "[...document.querySelectorAll('#restore-examples img')].every(i => i.complete && i.naturalWidth > 0)"
    )
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]  # no sideways scrolling
    for selector in ["#restore-photo-upload", "#restore-run", "#restore-scratch-on", "#restore-fidelity",
                     "#restore-examples", "#engine-notice"]:
        box = page.locator(selector).bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], (selector, box)
        assert box["width"] >= 200, (selector, box)  # not squeezed
    page.screenshot(path=str(artifacts / "phone-width.png"), full_page=True)
    # Tabs that do not fit are one tap away, in gradio's "More tabs" menu.
    shown = [tab.inner_text() for tab in page.get_by_role("tab").all() if tab.is_visible()]
    assert shown[:2] == ["Restore", "Scratches"]
    page.get_by_role("button", name="More tabs").click()
    menu = page.locator(".overflow-dropdown")
    for name in {"Denoise / Deblur", "Faces", "Colorize"} - set(shown):
        expect(menu.get_by_role("button", name=name)).to_be_visible()
    menu.get_by_role("button", name="Colorize").click()
    run = page.locator("#colorize-run")
    expect(run).to_be_visible()
    box = run.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.context.close()


def unnamed_controls(page) -> list[str]:
    """Controls in the page's accessibility tree (Chromium's) without an accessible name."""
    session = page.context.new_cdp_session(page)
    nodes = session.send("Accessibility.getFullAXTree")["nodes"]
    missing = []
    for node in nodes:
        role = node.get("role", {}).get("value")
        if node.get("ignored") or role not in CONTROL_ROLES:
            continue
        if not str(node.get("name", {}).get("value", "")).strip():
            missing.append(f"{role} (DOM node {node.get('backendDOMNodeId')})")
    return missing


def test_choosing_the_classical_detector_redraws_the_mask(page, photo_path, artifacts):
    page.get_by_role("tab", name="Scratches").click()
    upload(page, photo_path)
    mask_info = page.locator("#scratch-mask-info")
    expect(mask_info).to_contain_text("learned detector")
    wait_for_red_mask(page)
    page.locator("#scratch-photo-upload").locator("xpath=..").get_by_role("button", name=re.compile("^Advanced")).click()
    page.locator("#scratch-detector").get_by_label("Classical (faster)").check()
    expect(mask_info).to_contain_text("classical detector")
    wait_for_red_mask(page)  # the scratch is found by both
    assert "Traceback" not in page.content()
    page.screenshot(path=str(artifacts / "scratches-detector.png"), full_page=True)


def test_every_control_in_every_tab_has_an_accessible_name(page):
    page.locator("#restore-run").wait_for()
    checked = 0
    for name in ["Restore", "Scratches", "Denoise / Deblur", "Faces", "Colorize"]:
        page.get_by_role("tab", name=name).click()
        for accordion in page.get_by_role("button", name=re.compile("^Advanced")).all():
            if accordion.is_visible():
                accordion.click()
        page.wait_for_timeout(300)
        assert unnamed_controls(page) == [], name
        checked += 1
    assert checked == 5


def test_the_restore_tab_works_from_the_keyboard(page, photo_path):
    page.locator("#restore-photo-upload input[type=file]").set_input_files(str(photo_path))
    expect(page.locator("#restore-estimate")).to_contain_text("240×180 px")
    page.locator("#restore-scratch-on input").focus()
    for _ in range(40):  # Tab through the step switches and sliders to the Restore button
        if page.evaluate("document.activeElement.closest('#restore-run') !== null"):
            break
        page.keyboard.press("Tab")
    else:
        raise AssertionError("the Restore button is not reachable with the Tab key")
    page.keyboard.press("Enter")
    expect(page.locator("#restore-result-info")).to_contain_text("Engine that ran: classical")
