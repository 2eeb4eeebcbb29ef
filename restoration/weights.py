"""Weights: ``weights_manifest.yaml`` -> local files. The only module that talks to a hub.

Every file the app can load is listed in the manifest with its source (a Hugging Face hub
repository pinned to a commit, or a URL), sha256, size, licence and the stages that use it.
Resolving is purely local and fails fast: nothing here touches the network unless
:func:`download` is called (``python -m restoration weights download``).

Which models a command handles: explicit names win; otherwise the models the given stages need
(:func:`models_for`, from each entry's ``used_by``), never the ``opt_in`` ones (e.g. a
non-commercial licence), and the fast-mode LoRA only in fast mode. The command line passes the
enabled stages, so ``weights download`` fetches what the app can use today and nothing more::

    weights.download(names or None, stages=ENABLED_STAGE_NAMES)

Hub files live in the standard hub cache (``HF_HUB_CACHE``, or ``RESTORATION_CACHE_DIR`` when
set), so a Space or a machine that already has the model shares it. URL files live in
``<cache>/restoration/<model name>/``.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import yaml

from .errors import InputError, WeightsUnavailableError

__all__ = [
    "WeightFile",
    "ModelEntry",
    "FileState",
    "manifest_path",
    "load_manifest",
    "cache_dir",
    "models_for",
    "select",
    "resolve",
    "file_states",
    "download",
    "verify",
]

logger = logging.getLogger(__name__)

_DOWNLOAD_HINT = "python -m restoration weights download"
_HASH_CHUNK = 8 * 1024 * 1024


@dataclass(frozen=True)
class WeightFile:
    """One file of a model: its path inside the repository (or its file name for a URL)."""

    path: str
    sha256: str | None
    size: int | None


@dataclass(frozen=True)
class ModelEntry:
    """One manifest entry. ``source_type`` is ``"hub"`` (``repo`` + ``revision``) or ``"url"``.

    ``used_by`` names the stages that load the model; ``fast_mode_only`` marks a model needed
    only by the LCM fast mode; ``opt_in`` marks a model that is never selected by stage (only
    by its name), e.g. because of a non-commercial licence.
    """

    name: str
    description: str
    source_type: str
    repo: str | None
    revision: str | None
    url: str | None
    variant: str | None
    licence: str | None
    used_by: tuple[str, ...]
    files: tuple[WeightFile, ...]
    fast_mode_only: bool = False
    opt_in: bool = False

    @property
    def pinned(self) -> bool:
        """True when the source revision and every file's sha256 are known."""
        revision_known = self.source_type != "hub" or _is_commit(self.revision)
        return revision_known and all(f.sha256 for f in self.files)


@dataclass(frozen=True)
class FileState:
    """What is on disk for one manifest file.

    ``state`` is one of ``"present"``, ``"missing"`` (status) or ``"ok"``, ``"mismatch"``,
    ``"missing"``, ``"unpinned"`` (verify: present but no published sha256 to check against).
    """

    model: str
    path: str
    state: str
    local_path: Path | None
    detail: str = ""


def manifest_path() -> Path:
    """The manifest in use: ``$RESTORATION_WEIGHTS_MANIFEST`` or the one beside the package."""
    override = os.environ.get("RESTORATION_WEIGHTS_MANIFEST")
    return Path(override) if override else Path(__file__).resolve().parent.parent / "weights_manifest.yaml"


def load_manifest(path: str | os.PathLike | None = None) -> dict[str, ModelEntry]:
    """Parse the manifest into ``{name: ModelEntry}``; InputError when it is malformed."""
    path = Path(path) if path else manifest_path()
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        return {name: _parse_entry(name, raw) for name, raw in document["models"].items()}
    except (OSError, yaml.YAMLError, KeyError, TypeError, AttributeError) as error:
        raise InputError(f"cannot read the weights manifest {path}: {error}") from error


def _parse_entry(name: str, raw: dict) -> ModelEntry:
    source = raw["source"]
    return ModelEntry(
        name=name,
        description=raw.get("description", ""),
        source_type=source["type"],
        repo=source.get("repo"),
        revision=source.get("revision"),
        url=source.get("url"),
        variant=raw.get("variant"),
        licence=raw.get("licence"),
        used_by=tuple(raw.get("used_by") or ()),
        files=tuple(WeightFile(f["path"], f.get("sha256"), f.get("size")) for f in raw["files"]),
        fast_mode_only=_flag(raw, "fast_mode_only"),
        opt_in=_flag(raw, "opt_in"),
    )


def _flag(raw: dict, key: str) -> bool:
    value = raw.get(key, False)
    if not isinstance(value, bool):
        raise TypeError(f"{key} must be true or false, got {value!r}")
    return value


def _is_commit(revision: str | None) -> bool:
    return bool(revision) and len(revision) == 40 and all(c in "0123456789abcdef" for c in revision)


def cache_dir() -> Path | None:
    """``$RESTORATION_CACHE_DIR`` when set (read at call time), else None: the hub's default cache."""
    override = os.environ.get("RESTORATION_CACHE_DIR")
    return Path(override) if override else None


def _url_folder(entry: ModelEntry) -> Path:
    from huggingface_hub import constants

    root = cache_dir() or Path(constants.HF_HUB_CACHE)
    return root / "restoration" / entry.name


def _local_file(entry: ModelEntry, weight_file: WeightFile) -> Path | None:
    """The cached copy of one file, found without any network access, or None."""
    if entry.source_type == "url":
        candidate = _url_folder(entry) / weight_file.path
        return candidate if candidate.is_file() else None
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(
        entry.repo, weight_file.path, cache_dir=cache_dir(), revision=entry.revision or "main"
    )
    return Path(found) if isinstance(found, str) and Path(found).is_file() else None


def models_for(
    stages: Iterable[str], *, manifest: dict[str, ModelEntry] | None = None, fast_mode: bool = True
) -> dict[str, ModelEntry]:
    """The models that the given stages load, in manifest order.

    Args:
        stages: stage names, e.g. ``("scratch",)`` (the pipeline's enabled stages). A model is
            selected when one of them is in its ``used_by``. Unknown names select nothing.
        manifest: ``{name: ModelEntry}``; default :func:`load_manifest`.
        fast_mode: also select the models only the LCM fast mode needs (``fast_mode_only``).

    Returns:
        ``{name: ModelEntry}``, never an ``opt_in`` model (those are fetched only by name).

    Raises:
        InputError: ``stages`` is a single string rather than a collection of names.
    """
    if isinstance(stages, str):
        raise InputError(f"stages must be a collection of stage names, got the string {stages!r}; use ({stages!r},)")
    wanted = set(stages)
    manifest = load_manifest() if manifest is None else manifest
    return {
        name: entry
        for name, entry in manifest.items()
        if wanted.intersection(entry.used_by) and not entry.opt_in and (fast_mode or not entry.fast_mode_only)
    }


def select(
    names: Iterable[str] | None = None,
    *,
    stages: Iterable[str] | None = None,
    manifest: dict[str, ModelEntry] | None = None,
    fast_mode: bool = True,
) -> dict[str, ModelEntry]:
    """The models a ``weights`` command handles.

    Args:
        names: explicit model names; when given (non-empty) they win over ``stages``, and an
            ``opt_in`` model is selected only this way.
        stages: the enabled stages (see :func:`models_for`); None = every stage in the manifest.
        manifest: ``{name: ModelEntry}``; default :func:`load_manifest`.
        fast_mode: include the fast-mode models (``fast_mode_only``) when selecting by stage.

    Returns:
        ``{name: ModelEntry}`` in manifest order (names: in the order given).

    Raises:
        InputError: an unknown model name (the message lists the known ones), or ``names`` or
            ``stages`` given as a single string.
    """
    if isinstance(names, str):
        raise InputError(f"names must be a collection of model names, got the string {names!r}; use [{names!r}]")
    manifest = load_manifest() if manifest is None else manifest
    names = list(names or ())
    if names:
        unknown = [name for name in names if name not in manifest]
        if unknown:
            raise InputError(f"unknown model(s) {', '.join(unknown)}; known: {', '.join(manifest)}")
        return {name: manifest[name] for name in names}
    if stages is None:
        stages = {stage for entry in manifest.values() for stage in entry.used_by}
    return models_for(stages, manifest=manifest, fast_mode=fast_mode)


def resolve(name: str, *, manifest: dict[str, ModelEntry] | None = None) -> Path:
    """The local folder holding every file of model ``name`` (a hub snapshot folder).

    Purely local and fast (no network). Raises WeightsUnavailableError naming the first
    missing file and the command that fetches it.
    """
    manifest = manifest or load_manifest()
    if name not in manifest:
        raise InputError(f"no model named {name!r} in the weights manifest; known: {', '.join(manifest)}")
    entry = manifest[name]
    folders = set()
    for weight_file in entry.files:
        local = _local_file(entry, weight_file)
        if local is None:
            raise WeightsUnavailableError(
                f"the {name} weights are not on this machine (missing {weight_file.path}); "
                f"fetch them with `{_DOWNLOAD_HINT} --model {name}`"
            )
        folders.add(_root_of(local, weight_file.path))
    return folders.pop()


def _root_of(local: Path, relative: str) -> Path:
    """The folder that ``relative`` was resolved against (the snapshot folder)."""
    return Path(str(local)[: -len(relative)].rstrip("/\\")) if str(local).endswith(relative) else local.parent


def file_states(
    names: Iterable[str] | None = None,
    *,
    stages: Iterable[str] | None = None,
    manifest: dict[str, ModelEntry] | None = None,
    fast_mode: bool = True,
    check_hashes: bool = False,
) -> list[FileState]:
    """Status (``check_hashes=False``) or verification (``True``) of the files of the selected
    models (:func:`select`: ``names``, else what ``stages`` need, else every model not opt-in)."""
    states = []
    for entry in select(names, stages=stages, manifest=manifest, fast_mode=fast_mode).values():
        for weight_file in entry.files:
            local = _local_file(entry, weight_file)
            states.append(_state_of(entry, weight_file, local, check_hashes))
    return states


def _state_of(entry: ModelEntry, weight_file: WeightFile, local: Path | None, check_hashes: bool) -> FileState:
    if local is None:
        return FileState(entry.name, weight_file.path, "missing", None, f"fetch with `{_DOWNLOAD_HINT} --model {entry.name}`")
    if not check_hashes:
        return FileState(entry.name, weight_file.path, "present", local)
    size = local.stat().st_size
    if weight_file.size is not None and size != weight_file.size:
        return FileState(entry.name, weight_file.path, "mismatch", local, f"{size} bytes, expected {weight_file.size}")
    if not weight_file.sha256:
        return FileState(entry.name, weight_file.path, "unpinned", local, "no published sha256 in the manifest")
    actual = sha256_of(local)
    if actual != weight_file.sha256:
        return FileState(entry.name, weight_file.path, "mismatch", local, f"sha256 {actual} != {weight_file.sha256}")
    return FileState(entry.name, weight_file.path, "ok", local)


def verify(
    names: Iterable[str] | None = None,
    *,
    stages: Iterable[str] | None = None,
    manifest: dict[str, ModelEntry] | None = None,
    fast_mode: bool = True,
) -> list[FileState]:
    """Check the selected models' files (:func:`select`) against their size and sha256.

    Missing files are ``missing``; files without a published sha256 (and hub entries without a
    full commit) are reported as ``unpinned``.
    """
    chosen = select(names, stages=stages, manifest=manifest, fast_mode=fast_mode)
    states = file_states(manifest=chosen, check_hashes=True)
    for entry in chosen.values():
        if entry.source_type == "hub" and not _is_commit(entry.revision):
            states.append(FileState(entry.name, "(revision)", "unpinned", None, "no full commit hash in the manifest"))
    return states


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def download(
    names: Iterable[str] | None = None,
    *,
    stages: Iterable[str] | None = None,
    manifest: dict[str, ModelEntry] | None = None,
    fast_mode: bool = True,
) -> list[FileState]:
    """Fetch the selected models and verify what was fetched.

    Selection (:func:`select`): the named models when ``names`` is given (an ``opt_in`` model
    only this way); otherwise the models ``stages`` need (:func:`models_for`); with neither,
    every model that is not opt-in. Hub files come from the pinned revision; URL files are
    checked against their sha256 before they are moved into place.

    Raises:
        InputError: an unknown model name.
        WeightsUnavailableError: a source cannot be reached (the message names the model and
            the reason).
    """
    chosen = select(names, stages=stages, manifest=manifest, fast_mode=fast_mode)
    for entry in chosen.values():
        if entry.opt_in:
            logger.warning("%s is opt-in (licence %s): review its terms before use", entry.name, entry.licence)
        try:
            _download_entry(entry)
        except WeightsUnavailableError:
            raise
        except Exception as error:  # network and hub errors come in many types
            raise WeightsUnavailableError(f"could not download {entry.name}: {error}") from error
    return verify(manifest=chosen)


def _download_entry(entry: ModelEntry) -> None:
    logger.info("downloading %s", entry.name)
    if entry.source_type == "hub":
        from huggingface_hub import snapshot_download

        snapshot_download(
            entry.repo,
            revision=entry.revision or "main",
            cache_dir=cache_dir(),
            allow_patterns=[f.path for f in entry.files],
        )
        return
    for weight_file in entry.files:
        target = _url_folder(entry) / weight_file.path
        if not target.is_file():
            _fetch_url(entry.url, weight_file, target)


def _fetch_url(url: str, weight_file: WeightFile, target: Path) -> None:
    """Download ``url`` next to ``target``, check its sha256, then move it into place."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkstemp(dir=target.parent, prefix=".partial-")[1])
    try:
        with urllib.request.urlopen(url, timeout=30) as response, open(partial, "wb") as handle:
            shutil.copyfileobj(response, handle)
        actual = sha256_of(partial)
        if weight_file.sha256 and actual != weight_file.sha256:
            raise WeightsUnavailableError(f"{url} has sha256 {actual}, expected {weight_file.sha256}")
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
