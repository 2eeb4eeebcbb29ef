"""Provenance: every restored PNG records what was done to it, for archivists.

:func:`save_restored` is the one place where a restoration's output is written, for the app,
the command line and the Python API. It writes the restored photo with the source's metadata
(EXIF, ICC profile, XMP, PNG text) and an XMP packet (PNG iTXt ``XML:com.adobe.xmp``) that
extends the source's own:

- ``xmpMM:History`` gains one ``stEvt`` event per stage run (``action="edited"``; ``changed="/"``
  only when the stage changed pixels), after a ``converted`` event when the source was not a
  PNG; each names the program and version (``softwareAgent``), the time (``when``) and, in
  ``parameters``, the stage's settings, the engine, the share of pixels changed, the seed and
  model when diffusion ran, and the stage's notice. Events already in the source are kept.
- ``xmpMM:DerivedFrom`` names the source file; ``xmp:ModifyDate``/``MetadataDate``, a new
  ``xmpMM:InstanceID``, ``dc:format`` (image/png).
- ``restoration:`` properties hold the latest run for programs: ``Software``, ``Version``,
  ``Engine``, ``Seed``, ``Steps`` and ``FastMode`` (diffusion only), ``Models`` (repository or URL and revision, from
  ``weights_manifest.yaml``), ``Stages`` (name, settings, changed percent, seconds, notice),
  ``Notices`` and ``SourceFile``.

A tEXt ``Software`` chunk names the program for tools that read no XMP. The source file itself
is only ever read.
"""

from __future__ import annotations

import json
import mimetypes
import os
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

from . import __version__, imageio, weights, xmp
from .engine import LCM_LORA_NAME, MODEL_NAME
from .face_models import PARSENET_MODEL, RETINAFACE_MODEL
from .metadata import XMP_KEYWORD
from .options import input_fields, option_fields
from .pipeline import RestorationResult, StageReport
from .stages.context import StageContext

__all__ = ["PROGRAM", "models_used", "provenance_text", "save_restored", "software_agent", "stage_settings"]

PROGRAM = "Old Photo Restoration"
"""The program's name in ``stEvt:softwareAgent`` and the PNG ``Software`` text."""

# Findings of the face stage that name a model it loaded: (findings key, value) -> manifest entry.
_FINDINGS_MODELS = {("detector", "retinaface"): RETINAFACE_MODEL, ("parser", "parsenet"): PARSENET_MODEL}


def software_agent() -> str:
    """``"Old Photo Restoration 0.1.0"``: the program and its version (``restoration.__version__``)."""
    return f"{PROGRAM} {__version__}"


def save_restored(
    photo: imageio.Photo, result: RestorationResult, path: str | os.PathLike, *, source_name: str | None = None
) -> imageio.Photo:
    """Write ``result`` as the restored version of ``photo``, with its provenance.

    Args:
        photo: the photo as loaded (its metadata is kept; the source file is not touched).
        result: what :func:`restoration.restore` returned for ``photo.pixels``.
        path: destination ending in ``.png`` (see :func:`restoration.imageio.save_photo`).
        source_name: the source's file name (no folders), recorded as the file it derives from.

    Returns:
        The restored photo as written (``photo.with_pixels(result.image)``).
    """
    restored = photo.with_pixels(result.image)
    imageio.save_photo(restored, path, text=provenance_text(photo, result, source_name=source_name))
    return restored


def provenance_text(
    photo: imageio.Photo, result: RestorationResult, *, source_name: str | None = None, when: datetime | None = None
) -> list[tuple[str, str]]:
    """PNG text metadata describing ``result``: ``[("Software", ...), (XMP_KEYWORD, packet)]``.

    Args:
        photo: the source photo; its XMP packet (``photo.metadata.text``) is extended.
        result: the restoration's result (stages, options, engine, notices).
        source_name: the source's file name, or None when unknown (an upload without a name).
        when: time of the run (timezone-aware), default now in UTC.
    """
    when = when or datetime.now(UTC)
    stamp = when.isoformat(timespec="seconds")
    agent = software_agent()
    events = _conversion_events(photo, stamp, agent) + [_stage_event(result, report, stamp, agent) for report in result.stages]
    previous = dict(photo.metadata.text).get(XMP_KEYWORD)
    packet = xmp.extend(
        previous,
        events=events,
        properties=_run_properties(photo, result, source_name),
        when=stamp,
        derived_from=None if source_name is None else Path(source_name).name,
    )
    return [("Software", agent), (XMP_KEYWORD, packet)]


def _conversion_events(photo: imageio.Photo, stamp: str, agent: str) -> list[xmp.HistoryEvent]:
    """A ``converted`` event when the source was not a PNG (its format is known)."""
    source = photo.metadata.source_format
    if source is None or source == "PNG":
        return []
    media_type = mimetypes.guess_type(f"photo.{source.lower()}")[0] or source
    parameters = f"from {media_type} to image/png ({photo.metadata.bit_depth} bits per channel)"
    return [xmp.HistoryEvent("converted", stamp, agent, parameters)]


def _stage_event(result: RestorationResult, report: StageReport, stamp: str, agent: str) -> xmp.HistoryEvent:
    settings = _settings_text(stage_settings(result.options.stages.get(report.name)))
    parts = [f"{report.name} stage, {result.engine} engine", settings, f"changed {report.changed_percent:g} % of the pixels"]
    if result.engine == "diffusion":
        parts.append(f"seed {result.options.seed}, {_steps(result)} steps{', fast mode' if result.options.fast else ''}")
    parts += [f"model {model['restoration:Source']}@{model['restoration:Revision']}" for model in models_used(result, report)]
    if report.findings.get("notice"):
        parts.append(str(report.findings["notice"]))
    return xmp.HistoryEvent("edited", stamp, agent, "; ".join(part for part in parts if part), "/" if report.changed_percent > 0 else None)


def _run_properties(photo: imageio.Photo, result: RestorationResult, source_name: str | None) -> dict[str, xmp.XmpValue]:
    properties: dict[str, xmp.XmpValue] = {
        "dc:format": "image/png",
        "restoration:Software": PROGRAM,
        "restoration:Version": __version__,
        "restoration:Engine": result.engine,
        "restoration:Seed": str(result.options.seed),
        "restoration:Stages": [
            {
                "restoration:Name": report.name,
                "restoration:Settings": json.dumps(stage_settings(result.options.stages.get(report.name))),
                "restoration:ChangedPercent": f"{report.changed_percent:g}",
                "restoration:Seconds": f"{report.seconds:g}",
            }
            | ({"restoration:Notice": str(report.findings["notice"])} if report.findings.get("notice") else {})
            for report in result.stages
        ],
    }
    if result.engine == "diffusion":
        properties["restoration:Steps"] = str(_steps(result))
        properties["restoration:FastMode"] = str(result.options.fast).lower()
    models = [model for report in result.stages for model in models_used(result, report)]
    unique = list({model["restoration:Name"]: model for model in models}.values())
    if unique:
        properties["restoration:Models"] = unique
    notices = [*photo.metadata.notices, *result.notices]
    if notices:
        properties["restoration:Notices"] = list(dict.fromkeys(notices))
    if source_name is not None:
        properties["restoration:SourceFile"] = Path(source_name).name
    return properties


def _steps(result: RestorationResult) -> int:
    """Denoising steps per diffusion call, as the stages ran them (the user's, or the default)."""
    return StageContext(options=result.options, stage_options=None).steps


def models_used(result: RestorationResult, report: StageReport) -> list[dict[str, str]]:
    """The weights one stage ran on, from ``weights_manifest.yaml``: the diffusion model (and the
    LCM-LoRA in fast mode) when the diffusion engine ran, and the face models its findings name.

    Returns:
        One dict per model: ``restoration:Name`` (manifest entry), ``restoration:Source`` (hub
        repository or URL) and ``restoration:Revision`` (hub commit, or the first file's sha256).
    """
    names = []
    if result.engine == "diffusion":
        names.append(MODEL_NAME)
        if result.options.fast:
            names.append(LCM_LORA_NAME)
    names += [name for (key, value), name in _FINDINGS_MODELS.items() if report.findings.get(key) == value]
    if not names:
        return []
    manifest = weights.load_manifest()
    described = []
    for name in names:
        entry = manifest[name]
        revision = entry.revision if entry.source_type == "hub" else (entry.files[0].sha256 if entry.files else None)
        described.append(
            {
                "restoration:Name": name,
                "restoration:Source": entry.repo if entry.source_type == "hub" else entry.url,
                "restoration:Revision": revision or "unpinned",
            }
        )
    return described


def stage_settings(stage_options: object | None) -> dict[str, object]:
    """A stage's main settings, JSON-serialisable: each user option (``None`` -> ``"auto"``:
    estimated from the photo) and, for inputs given as files, ``"given"`` or ``"none"``
    (colour hints: their number)."""
    if stage_options is None:
        return {}
    settings: dict[str, object] = {}
    for option in option_fields(type(stage_options)):
        value = getattr(stage_options, option.name)
        settings[option.name] = "auto" if value is None else _plain(value)
    for name, kind in input_fields(type(stage_options)).items():
        value = getattr(stage_options, name)
        if kind == "hints":
            settings[name] = len(value or ())
        else:
            settings[name] = "none" if value is None else "given"
    return settings


def _plain(value: object) -> object:
    """A JSON-serialisable form of an option value (tuples become lists)."""
    if isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (tuple, list)):
        return [_plain(item) for item in value]
    return str(value)


def _settings_text(settings: Mapping[str, object]) -> str:
    return ", ".join(f"{name}={json.dumps(value) if isinstance(value, bool) else value}" for name, value in settings.items())
