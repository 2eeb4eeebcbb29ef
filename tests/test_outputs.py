"""Output folders: one new folder per request, stale ones removed, nothing else touched."""

import os
import tempfile
import threading
import time
from pathlib import Path

import pytest

from restoration import outputs
from restoration.outputs import (
    OUTPUT_DIR_ENV,
    fresh_output_dir,
    output_root,
    remove_old_output_dirs,
    safe_stem,
)

HOUR = 3600.0


@pytest.fixture
def root(tmp_path, monkeypatch):
    """The output root, set through the environment variable."""
    folder = tmp_path / "outputs"
    monkeypatch.setenv(OUTPUT_DIR_ENV, str(folder))
    return folder


def age(path: Path, seconds: float) -> None:
    """Set the modification time of ``path`` (not following links) ``seconds`` in the past."""
    then = time.time() - seconds
    os.utime(path, (then, then), follow_symlinks=False)


def run_together(function, threads: int) -> list:
    """Run ``function()`` in ``threads`` threads started at once; their results, in any order."""
    results, errors = [], []
    start = threading.Barrier(threads)

    def run():
        try:
            start.wait()
            results.append(function())
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)

    workers = [threading.Thread(target=run) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert errors == []
    return results


def test_the_root_defaults_to_the_system_temp_folder(monkeypatch):
    monkeypatch.delenv(OUTPUT_DIR_ENV, raising=False)
    assert output_root() == Path(tempfile.gettempdir()) / "restoration-app"


def test_the_environment_variable_moves_the_root_and_is_read_at_each_call(tmp_path, monkeypatch):
    monkeypatch.setenv(OUTPUT_DIR_ENV, str(tmp_path / "first"))
    first = fresh_output_dir()
    monkeypatch.setenv(OUTPUT_DIR_ENV, str(tmp_path / "second"))
    second = fresh_output_dir()

    assert first.parent == tmp_path / "first" and second.parent == tmp_path / "second"
    assert first.is_dir() and second.is_dir()


def test_an_empty_environment_variable_means_the_default(monkeypatch):
    monkeypatch.setenv(OUTPUT_DIR_ENV, "  ")
    assert output_root() == Path(tempfile.gettempdir()) / "restoration-app"


def test_a_new_folder_is_empty_private_and_unguessable(root):
    folder = fresh_output_dir()

    assert folder.parent == root and list(folder.iterdir()) == []
    assert folder.stat().st_mode & 0o077 == 0
    assert folder.name.startswith("request-") and len(folder.name) == len("request-") + 32
    int(folder.name.removeprefix("request-"), 16)  # 128 random bits, in hex


def test_concurrent_requests_get_distinct_folders_while_they_sweep_the_same_old_ones(root):
    stale = [fresh_output_dir() for _ in range(20)]
    for folder in stale:
        (folder / "photo-restored.png").write_bytes(b"png")
        age(folder, 2 * HOUR)

    batches = run_together(lambda: [fresh_output_dir() for _ in range(10)], 16)

    folders = [folder for batch in batches for folder in batch]
    assert len(folders) == 160 and len(set(folders)) == 160
    assert all(folder.is_dir() for folder in folders)
    assert sorted(root.iterdir()) == sorted(folders)


def test_old_folders_are_removed_and_recent_ones_kept(root):
    old, recent = fresh_output_dir(), fresh_output_dir()
    (old / "photo-restored.png").write_bytes(b"png")
    (recent / "photo-restored.png").write_bytes(b"png")
    (old / "nested").mkdir()
    (old / "nested" / "file").write_bytes(b"x")
    age(old, HOUR + 60)
    age(recent, HOUR - 60)

    new = fresh_output_dir(max_age_seconds=HOUR)

    assert not old.exists()
    assert (recent / "photo-restored.png").read_bytes() == b"png"
    assert sorted(p.name for p in root.iterdir()) == sorted([recent.name, new.name])


def test_the_age_limit_is_an_option(root):
    folder = fresh_output_dir()
    age(folder, 120)
    fresh_output_dir(max_age_seconds=300)
    assert folder.exists()
    fresh_output_dir(max_age_seconds=60)
    assert not folder.exists()


def test_folders_from_the_previous_version_are_removed_when_old(root):
    root.mkdir()
    legacy = Path(tempfile.mkdtemp(prefix="request-", dir=root))  # what app.py used to make
    age(legacy, 2 * HOUR)

    assert remove_old_output_dirs(max_age_seconds=HOUR) == 1
    assert not legacy.exists()


def test_nothing_but_this_apps_folders_is_touched(root, tmp_path):
    outside = tmp_path / "precious"
    outside.mkdir()
    (outside / "keep.txt").write_text("keep")
    root.mkdir()
    others = [root / "notes.txt", root / "someone-else", root / "request-not-ours!", root / "request-abc"]
    others[0].write_text("keep")
    for folder in others[1:]:
        folder.mkdir()
    ours = fresh_output_dir()
    (ours / "link-to-outside").symlink_to(outside, target_is_directory=True)
    (ours / "file-link").symlink_to(outside / "keep.txt")
    link_named_like_ours = root / ("request-" + "0" * 32)
    link_named_like_ours.symlink_to(outside, target_is_directory=True)
    for path in [*others, ours, link_named_like_ours, outside, outside / "keep.txt"]:
        age(path, 10 * HOUR)

    removed = remove_old_output_dirs(max_age_seconds=HOUR)

    assert removed == 1 and not ours.exists()
    assert (outside / "keep.txt").read_text() == "keep"
    assert all(path.exists() for path in others)
    assert link_named_like_ours.is_symlink()
    assert sorted(p.name for p in root.iterdir()) == sorted(p.name for p in [*others, link_named_like_ours])


def test_concurrent_sweeps_remove_each_old_folder_once_without_errors(root, caplog):
    stale = [fresh_output_dir() for _ in range(40)]
    for folder in stale:
        for i in range(5):
            (folder / f"{i}.png").write_bytes(b"png")
        age(folder, 2 * HOUR)

    counts = run_together(lambda: remove_old_output_dirs(max_age_seconds=HOUR), 8)

    assert sum(counts) == 40
    assert not any(folder.exists() for folder in stale)
    assert list(root.iterdir()) == []
    assert not [r for r in caplog.records if r.levelname == "WARNING"]


def test_a_folder_being_removed_is_left_to_its_sweep_and_an_abandoned_one_is_removed(root):
    # a claimed folder keeps its old modification time: its age counts from the claim in its name
    now = int(time.time())
    in_progress = root / f"removing-{now}_{'a' * 16}"
    abandoned = root / f"removing-{now - 2 * int(HOUR)}_{'b' * 16}"
    older_style = root / f"removing-{'c' * 32}"  # named by an older version: its modification time counts
    for folder in (in_progress, abandoned, older_style):
        folder.mkdir(parents=True)
        (folder / "0.png").write_bytes(b"png")
        age(folder, 2 * HOUR)

    assert remove_old_output_dirs(max_age_seconds=HOUR) == 2
    assert sorted(p.name for p in root.iterdir()) == [in_progress.name]


def test_a_folder_removed_by_someone_else_meanwhile_is_skipped(root, monkeypatch):
    folder = fresh_output_dir()
    age(folder, 2 * HOUR)
    rename = os.rename

    def rename_after_another_request(source, target):
        if Path(source) == folder:
            outputs.shutil.rmtree(folder)  # another request got there first
        return rename(source, target)

    monkeypatch.setattr(outputs.os, "rename", rename_after_another_request)

    assert remove_old_output_dirs(max_age_seconds=HOUR) == 0
    assert list(root.iterdir()) == []


def test_a_missing_root_is_created(root):
    assert not root.exists()
    assert remove_old_output_dirs() == 0
    assert fresh_output_dir().parent == root


@pytest.mark.parametrize("max_age", [0, -1.0, float("nan")])
def test_a_max_age_that_is_not_positive_is_refused(root, max_age):
    with pytest.raises(ValueError, match="max_age_seconds"):
        fresh_output_dir(max_age_seconds=max_age)


@pytest.mark.parametrize(
    ("name", "stem"),
    [
        ("/tmp/gradio/abc/scan.jpg", "scan"),
        ("Family photo (1931).TIFF", "Family_photo__1931_"),
        ("archive.tar.gz", "archive_tar"),
        ("C:\\Users\\ann\\scan 1.png", "scan_1"),
        ("../../etc/passwd", "passwd"),
        ("..", "photo"),
        ("", "photo"),
        (".hidden", "_hidden"),
        ("scan-01_b.png", "scan-01_b"),
        ("Großmutter.jpg", "Großmutter"),
        ("a\x00b;rm -rf *.png", "a_b_rm_-rf__"),
        (Path("/x/y/z.png"), "z"),
    ],
)
def test_stems_are_sanitised(name, stem):
    assert safe_stem(name) == stem


def test_long_stems_are_cut_to_80_bytes_of_whole_characters():
    assert safe_stem("a" * 200 + ".png") == "a" * 80
    cut = safe_stem("é" * 100 + ".png")
    assert cut == "é" * 40 and len(cut.encode("utf-8")) == 80
