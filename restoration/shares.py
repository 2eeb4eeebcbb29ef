"""Shared results: a link that reopens one finished result for anyone who has it.

Sharing is opt-in, per result. :func:`share_result` writes a small record (``share.json``) and
the photo before restoration (``before.png``) into the result's own output folder
(:mod:`restoration.outputs`); the share id is that folder's random part, 32 hex digits (128 bits
from :mod:`secrets`), so a link names one result and nothing else, and nobody can guess
another's. A shared result lives exactly as long as its output folder
(:func:`outputs.configured_max_age`, ``RESTORATION_MAX_AGE_SECONDS``, one hour by default) and
is removed by the same sweep. :func:`open_shared` refuses every id that is not a live shared
result with one message, whatever the reason (malformed, guessed, a path, expired), so the
answer tells nothing about other results.
"""

from __future__ import annotations

import json
import logging
import os
import stat
import time
from dataclasses import dataclass
from pathlib import Path

from . import imageio, outputs
from .png_writer import write_atomic
from .errors import RestorationError

__all__ = ["BEFORE_NAME", "RECORD_NAME", "ShareNotFoundError", "SharedResult", "open_shared", "share_result"]

logger = logging.getLogger(__name__)

RECORD_NAME = "share.json"
"""The record that marks an output folder as shared: the result's file name and its details."""
BEFORE_NAME = "before.png"
"""The photo before restoration, as shown on the before/after slider."""


class ShareNotFoundError(RestorationError):
    """No live shared result has this id (never says which of the reasons applies)."""


@dataclass(frozen=True)
class SharedResult:
    """A shared result: its id, the before and after PNGs, and what the page shows about it.

    Attributes:
        share_id: 32 lowercase hex digits.
        before: the photo before restoration (PNG).
        after: the restored photo at full resolution (PNG), as it was downloaded.
        details: JSON-serialisable facts set when it was shared (engine, width, height, stages).
        expires_in: seconds until it is removed, >= 0.
    """

    share_id: str
    before: Path
    after: Path
    details: dict
    expires_in: float


def share_result(after: str | os.PathLike, before: imageio.Photo, details: dict) -> str:
    """Share the result ``after`` (a PNG in an output folder); returns its share id.

    Args:
        after: the restored PNG, in a folder made by :func:`outputs.fresh_output_dir`.
        before: the photo before restoration (written as ``before.png`` beside it).
        details: JSON-serialisable facts shown with the shared result (engine, size, stages).

    Raises:
        ValueError: ``after`` is not a file in one of this app's output folders.
    """
    after = Path(after)
    share_id = outputs.folder_id(after.parent)
    if not after.is_file():
        raise ValueError(f"{after} is not a result file")
    imageio.save_photo(before, after.parent / BEFORE_NAME)
    record = {"after": after.name, "details": details, "shared_at": time.time()}
    write_atomic(after.parent / RECORD_NAME, json.dumps(record).encode("utf-8"))
    os.utime(after.parent)  # its life starts now
    return share_id


def open_shared(share_id: object) -> SharedResult:
    """The live shared result with ``share_id``.

    Raises:
        ShareNotFoundError: for anything but the id of a shared result younger than the
            configured age (malformed, guessed, a path, unshared, expired); the message is the
            same for all, and the id is not repeated in it.
    """
    outputs.remove_old_output_dirs()
    max_age = outputs.configured_max_age()
    folder = outputs.output_dir_with_id(share_id)
    record = _read_record(folder) if folder is not None else None
    if record is None:
        raise ShareNotFoundError(_not_found_message(max_age))
    age = time.time() - os.lstat(folder).st_mtime
    after, before = folder / record["after"], folder / BEFORE_NAME
    if age > max_age or not (_is_plain_file(after) and _is_plain_file(before)):
        raise ShareNotFoundError(_not_found_message(max_age))
    return SharedResult(str(share_id), before, after, dict(record.get("details") or {}), max(0.0, max_age - age))


def _not_found_message(max_age: float) -> str:
    return (
        "This shared result was not found or has expired (shared results are kept for "
        f"{_duration(max_age)}). Ask for a new link, or restore the photo again."
    )


def _duration(seconds: float) -> str:
    if seconds >= 7200:
        return f"{seconds / 3600:g} hours"
    if seconds >= 120:
        return f"{round(seconds / 60)} minutes"
    return f"{seconds:g} seconds"


def _read_record(folder: Path) -> dict | None:
    """The folder's share record, or None when it has none or it is not ours."""
    path = folder / RECORD_NAME
    if not _is_plain_file(path):
        return None
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        logger.warning("Unreadable share record %s: %s", path, error)
        return None
    name = record.get("after") if isinstance(record, dict) else None
    if not isinstance(name, str) or Path(name).name != name or name in ("", ".", ".."):
        return None
    return record


def _is_plain_file(path: Path) -> bool:
    """A regular file, not a symbolic link (links are never followed)."""
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False
