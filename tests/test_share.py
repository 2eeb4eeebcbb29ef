"""Sharing a result by link: only a live shared result opens, for anyone with its id; any
other id (guessed, malformed, a path, expired) gets one "not found or has expired" message."""

import os
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from helpers import save_uint8, smooth_photo
from PIL import Image

from restoration import imageio, outputs, shares
from restoration.shares import ShareNotFoundError, open_shared, share_result

sys.path.insert(0, str(Path(__file__).absolute().parents[1]))

import app  # noqa: E402


@pytest.fixture
def root(tmp_path, monkeypatch):
    folder = tmp_path / "outputs"
    monkeypatch.setenv(outputs.OUTPUT_DIR_ENV, str(folder))
    monkeypatch.delenv(outputs.MAX_AGE_ENV, raising=False)
    return folder


def make_result(value: float, size=(40, 30)) -> tuple[Path, imageio.Photo]:
    """A result PNG in a fresh output folder, and the photo before it."""
    before = imageio.load_photo(np.full((size[1], size[0], 3), value, np.float32))
    after = imageio.save_photo(before.with_pixels(np.clip(before.pixels + 0.1, 0, 1)), outputs.fresh_output_dir() / "a-restored.png")
    return Path(after), before


def age(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then), follow_symlinks=False)


def test_a_shared_result_opens_with_its_id_and_shows_only_that_result(root):
    after_a, before_a = make_result(0.2)
    after_b, before_b = make_result(0.6)

    id_a = share_result(after_a, before_a, {"engine": "classical", "stages": ["Scratches"]})
    id_b = share_result(after_b, before_b, {"engine": "classical", "stages": ["Faces"]})
    shared_a, shared_b = open_shared(id_a), open_shared(id_b)

    assert id_a != id_b and len(id_a) == 32 and all(c in "0123456789abcdef" for c in id_a)
    assert shared_a.after == after_a and shared_b.after == after_b
    assert np.allclose(imageio.load_photo(shared_a.before).pixels, 0.2, atol=1 / 255)
    assert np.allclose(imageio.load_photo(shared_b.before).pixels, 0.6, atol=1 / 255)
    assert shared_a.details["stages"] == ["Scratches"] and shared_b.details["stages"] == ["Faces"]
    assert 3500 < shared_a.expires_in <= 3600


@pytest.mark.parametrize(
    "share_id",
    [
        "", "abc", "0" * 32, "f" * 31, "F" * 32, "g" * 32, "0" * 33, "../" * 11, "..", "/etc/passwd",
        "%2e%2e%2f" * 4, "0" * 31 + "/", "0" * 16 + "\x00" + "0" * 15, None, 12345,
    ],
)
def test_guessed_and_malformed_ids_get_not_found_and_nothing_else(root, share_id):
    after, before = make_result(0.3)
    share_result(after, before, {})

    with pytest.raises(ShareNotFoundError) as caught:
        open_shared(share_id)

    assert str(caught.value).startswith("This shared result was not found or has expired")
    if share_id:
        assert str(share_id) not in str(caught.value)


def test_path_traversal_never_reaches_outside_the_output_folders(root, tmp_path):
    outside = tmp_path / "secret"
    outside.mkdir()
    Image.new("RGB", (8, 8)).save(outside / "a-restored.png")
    (outside / shares.RECORD_NAME).write_text('{"after": "a-restored.png", "details": {}}')
    Image.new("RGB", (8, 8)).save(outside / shares.BEFORE_NAME)
    root.mkdir(exist_ok=True)
    link = root / f"request-{'a' * 32}"
    link.symlink_to(outside, target_is_directory=True)

    for share_id in ["a" * 32, "../secret", str(outside), "request-" + "a" * 32]:
        with pytest.raises(ShareNotFoundError):
            open_shared(share_id)


def test_a_record_naming_a_file_outside_its_folder_is_refused(root):
    after, before = make_result(0.3)
    share_id = share_result(after, before, {})
    (after.parent / shares.RECORD_NAME).write_text('{"after": "../../etc/passwd", "details": {}}')
    with pytest.raises(ShareNotFoundError):
        open_shared(share_id)


def test_a_result_that_was_never_shared_does_not_open(root):
    after, _ = make_result(0.3)
    with pytest.raises(ShareNotFoundError):
        open_shared(outputs.folder_id(after.parent))


def test_a_shared_result_expires_after_the_configured_time_and_is_removed(root, monkeypatch):
    monkeypatch.setenv(outputs.MAX_AGE_ENV, "120")
    after, before = make_result(0.3)
    share_id = share_result(after, before, {})
    assert open_shared(share_id).expires_in <= 120

    age(after.parent, 121)
    with pytest.raises(ShareNotFoundError, match="kept for 2 minutes"):
        open_shared(share_id)
    assert not after.parent.exists()  # the same sweep as every output folder


def test_a_bad_max_age_setting_is_refused_with_its_value(monkeypatch):
    monkeypatch.setenv(outputs.MAX_AGE_ENV, "an hour")
    with pytest.raises(ValueError, match="RESTORATION_MAX_AGE_SECONDS must be a number of seconds > 0"):
        outputs.configured_max_age()


def request_for(query: dict):
    return SimpleNamespace(query_params=query)


def test_the_page_shares_a_result_and_the_link_opens_it_for_someone_else(root, tmp_path):
    path = tmp_path / "grandma.png"
    save_uint8(smooth_photo(48, 64), path)
    values = app.restore_page(str(path), True, 0.5, False, 1.0, False, 0.7, False, None, False, "classical", 0, 0, False,
                              progress=None)
    comparison, _, info, _, _, source, stage_gallery = values
    assert "Engine that ran:** classical" in info
    assert stage_gallery.visible is True and len(stage_gallery.value) == 2  # the photo, then after Scratches

    link = app.share_page(comparison, source)
    share_id = link.value.removeprefix("?result=")
    column, slider, download, text = app.show_shared(request_for({"result": share_id}))

    assert link.value.startswith("?result=") and len(share_id) == 32
    assert column.visible is True and download.visible is True
    assert Path(slider[1]) == Path(source["after"])
    assert Path(download.value["path"]).read_bytes() == Path(source["after"]).read_bytes()
    assert Image.open(slider[0]).size == (64, 48)
    assert "Scratches" in text and "classical" in text and "grandma" not in text


def test_the_page_without_a_result_id_shows_no_shared_view_and_a_bad_one_only_the_message(root):
    column, slider, download, text = app.show_shared(request_for({}))
    assert column.visible is False and slider is None and text == ""

    column, slider, download, text = app.show_shared(request_for({"result": "../../etc/passwd"}))
    assert column.visible is True and slider is None and download.visible is False
    assert text.startswith("**This shared result was not found or has expired")


def test_sharing_before_any_result_says_what_to_do(root):
    with pytest.raises(app.gr.Error, match="Restore a photo first"):
        app.share_page(None, None)
