"""Where the app writes its output files, and how long they live.

Every request writes into a new folder of its own, with an unguessable name, under one root
folder (``RESTORATION_OUTPUT_DIR``, else ``<system temp>/restoration-app``). Requests run
concurrently, so no two ever share a path. Folders older than an hour (by default; set
``RESTORATION_MAX_AGE_SECONDS`` to change it) are removed when a new one is made: the app serves each file right after writing it, and nothing else keeps
them. Only this app's folders directly in the root are ever removed; symbolic links are never
followed.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import shutil
import stat
import sys
import tempfile
import time
import unicodedata
from pathlib import Path

__all__ = [
    "DEFAULT_MAX_AGE_SECONDS",
    "MAX_AGE_ENV",
    "OUTPUT_DIR_ENV",
    "configured_max_age",
    "folder_id",
    "fresh_output_dir",
    "output_dir_with_id",
    "output_root",
    "remove_old_output_dirs",
    "safe_stem",
]

logger = logging.getLogger(__name__)

OUTPUT_DIR_ENV = "RESTORATION_OUTPUT_DIR"
"""Environment variable naming the root folder of the output folders (read at each call)."""
DEFAULT_MAX_AGE_SECONDS = 3600.0
"""Output folders older than this are removed when a new one is made (unless configured)."""
MAX_AGE_ENV = "RESTORATION_MAX_AGE_SECONDS"
"""Environment variable: seconds an output folder (a result, a shared result) lives (read at each call)."""

_PREFIX = "request-"
_REMOVING = "removing-"
# This app's folders: "request-<32 hex>" (older versions used tempfile.mkdtemp's 8 characters
# [a-z0-9_]) and "removing-<claim time>_<16 hex>" (claimed for removal by a sweep, which may not
# have finished; older versions named them "removing-<32 hex>").
_OURS = re.compile(r"(?:request|removing)-[a-z0-9_]{8,64}")
# A claimed folder keeps the old modification time of the folder it was, so its age is counted
# from the claim time in its name: a sweep still removing it is never joined by another one.
_CLAIM_TIME = re.compile(r"removing-(\d{10,12})_[0-9a-f]{16}")
_FOLDER_ID = re.compile(r"[0-9a-f]{32}")  # secrets.token_hex(16): 128 random bits
_STEM_MAX_BYTES = 80


def output_root() -> Path:
    """The root folder of the output folders: ``$RESTORATION_OUTPUT_DIR`` if set and not empty,
    else ``<tempfile.gettempdir()>/restoration-app``. Not created here."""
    configured = os.environ.get(OUTPUT_DIR_ENV, "").strip()
    if configured:
        return Path(configured).expanduser().absolute()
    return Path(tempfile.gettempdir()) / "restoration-app"


def configured_max_age() -> float:
    """Seconds an output folder lives: ``$RESTORATION_MAX_AGE_SECONDS`` if set, else
    :data:`DEFAULT_MAX_AGE_SECONDS`.

    Raises:
        ValueError: the variable is not a positive number of seconds (quoting it).
    """
    configured = os.environ.get(MAX_AGE_ENV, "").strip()
    if not configured:
        return DEFAULT_MAX_AGE_SECONDS
    try:
        seconds = float(configured)
    except ValueError:
        seconds = float("nan")
    if not seconds > 0 or seconds == float("inf"):
        raise ValueError(f"{MAX_AGE_ENV} must be a number of seconds > 0 such as 3600, got {configured!r}")
    return seconds


def fresh_output_dir(*, max_age_seconds: float | None = None) -> Path:
    """A new, empty folder for one request's output files, first removing stale ones.

    Args:
        max_age_seconds: this app's folders last modified more than this many seconds ago
            (> 0) are removed first (see :func:`remove_old_output_dirs`); None =
            :func:`configured_max_age`.

    Returns:
        ``<output_root()>/request-<32 random hex digits>``, created with mode 0o700; no two
        calls, in any thread or process, return the same folder.

    Raises:
        ValueError: ``max_age_seconds`` is not positive.
        OSError: the root folder can not be created or written.
    """
    max_age_seconds = _check_max_age(max_age_seconds)
    root = output_root()
    root.mkdir(parents=True, exist_ok=True)
    remove_old_output_dirs(max_age_seconds=max_age_seconds)
    for _ in range(8):
        folder = root / f"{_PREFIX}{secrets.token_hex(16)}"
        try:
            folder.mkdir(mode=0o700)
        except FileExistsError:  # 128 random bits: never in practice
            continue
        return folder
    raise FileExistsError(f"could not create a new output folder in {root}")


def folder_id(folder: str | os.PathLike) -> str:
    """The random part of an output folder made by :func:`fresh_output_dir` (32 hex digits).

    Raises:
        ValueError: ``folder`` is not such a folder's path.
    """
    folder = Path(folder)
    identifier = folder.name.removeprefix(_PREFIX)
    if folder.parent != output_root() or not folder.name.startswith(_PREFIX) or not _FOLDER_ID.fullmatch(identifier):
        raise ValueError(f"{folder} is not an output folder of this app")
    return identifier


def output_dir_with_id(identifier: object) -> Path | None:
    """The output folder whose :func:`folder_id` is ``identifier``, or None.

    None unless ``identifier`` is exactly 32 lowercase hex digits and names an existing
    directory (not a symbolic link) directly in :func:`output_root`: any other text (a path,
    ``..``, another length or alphabet) never reaches the file system.
    """
    if not isinstance(identifier, str) or not _FOLDER_ID.fullmatch(identifier):
        return None
    folder = output_root() / f"{_PREFIX}{identifier}"
    try:
        if not stat.S_ISDIR(os.lstat(folder).st_mode):
            return None
    except OSError:
        return None
    return folder


def remove_old_output_dirs(*, max_age_seconds: float | None = None) -> int:
    """Remove this app's output folders last modified more than ``max_age_seconds`` ago.

    Only directories (not symbolic links) directly in :func:`output_root` whose names this module
    gives are candidates; nothing else in or outside the root is touched, and links inside a
    removed folder are removed, not followed. Safe against concurrent sweeps: a folder is first
    claimed by an atomic rename, so only one sweep removes it, and one that vanishes meanwhile is
    skipped. Failures are logged, never raised.

    Args:
        max_age_seconds: age limit in seconds (> 0); None = :func:`configured_max_age`.

    Returns:
        The number of folders removed.
    """
    max_age_seconds = _check_max_age(max_age_seconds)
    root = output_root()
    now = time.time()
    removed = 0
    try:
        entries = list(os.scandir(root))
    except FileNotFoundError:
        return 0
    except OSError as error:
        logger.warning("Could not list the output folder %s: %s", root, error)
        return 0
    for entry in entries:
        if not _OURS.fullmatch(entry.name):
            continue
        try:
            if not entry.is_dir(follow_symlinks=False):
                continue
            if _age_seconds(entry, now) <= max_age_seconds:
                continue
            claimed = root / f"{_REMOVING}{int(now)}_{secrets.token_hex(8)}"
            os.rename(entry.path, claimed)
        except FileNotFoundError:
            continue  # another request removed or claimed it first
        except OSError as error:
            logger.warning("Could not remove the old output folder %s: %s", entry.path, error)
            continue
        _remove_tree(claimed)
        removed += 1
    if removed:
        logger.info(
            "Removed %d output folder(s) older than %g s from %s", removed, max_age_seconds, root
        )
    return removed


def safe_stem(name: str | os.PathLike) -> str:
    """A file-name stem safe to build output names from: ``"scans/Großmutter (1931).jpg"`` ->
    ``"Großmutter__1931_"``.

    The last component of ``name`` (``/`` or ``\\`` separated) without its last suffix; letters
    and digits (Unicode, NFC) and ``-`` and ``_`` are kept, every other character becomes ``_``;
    at most 80 bytes in UTF-8 (whole characters); ``"photo"`` when nothing is left.
    """
    base = re.split(r"[\\/]", os.fspath(name))[-1]
    stem = Path(base).stem if base not in ("", ".", "..") else ""
    stem = unicodedata.normalize("NFC", stem)
    cleaned = "".join(c if c.isalnum() or c in "-_" else "_" for c in stem)
    while len(cleaned.encode("utf-8")) > _STEM_MAX_BYTES:
        cleaned = cleaned[:-1]
    return cleaned or "photo"


def _check_max_age(max_age_seconds: float | None) -> float:
    """``max_age_seconds``, or the configured age when None; ValueError unless > 0."""
    if max_age_seconds is None:
        return configured_max_age()
    if not max_age_seconds > 0:
        raise ValueError(f"max_age_seconds must be > 0, got {max_age_seconds!r}")
    return max_age_seconds


def _age_seconds(entry: os.DirEntry, now: float) -> float:
    """Seconds since an output folder was last modified, or since a sweep claimed it."""
    claim = _CLAIM_TIME.fullmatch(entry.name)
    if claim is not None:
        return now - int(claim.group(1))
    return now - entry.stat(follow_symlinks=False).st_mtime


def _remove_tree(folder: Path) -> None:
    """``shutil.rmtree`` that skips entries already gone and logs any other failure."""

    def failed(function, path, error) -> None:
        if isinstance(error, tuple):  # Python < 3.12: onerror gets sys.exc_info()
            error = error[1]
        if not isinstance(error, FileNotFoundError):
            logger.warning("Could not remove %s from an old output folder: %s", path, error)

    if sys.version_info >= (3, 12):
        shutil.rmtree(folder, onexc=failed)
    else:
        shutil.rmtree(folder, onerror=failed)
