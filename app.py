"""Old-photo restoration: the Gradio app (UI only; the work happens in ``restoration``).

Run it with ``python app.py``. It listens on 127.0.0.1:7860 unless gradio's usual environment
variables say otherwise (``GRADIO_SERVER_NAME=0.0.0.0``, ``GRADIO_SERVER_PORT=8080``). Tests and
other code import :func:`build_demo`; importing this module builds and loads nothing.

Calling the app from Python (``gradio_client``)
-----------------------------------------------
Every tab declares its endpoints once (``gr.api``, typed by the handler's signature); they take
plain files, so they work the same from a script as from the page::

    from gradio_client import Client, handle_file

    client = Client("http://127.0.0.1:7860/")

    # 0. The whole chain (the Restore tab): scratches, denoise/deblur, faces, colour.
    #    -> (path of "<stem>-restored.png", summary dict listing every stage that ran)
    restored_png, summary = client.predict(
        photo=handle_file("scan.jpg"),
        scratch=True, sensitivity=0.5,          # each stage: on/off and its main control
        denoise=True, denoise_strength=1.0,     # 0-2, 1 = the grain measured on the photo
        face=True, fidelity=0.7,
        colorize=True, reference=None,          # colour only from a reference photo, or with
        automatic_colour=False,                 #   automatic_colour (diffusion engine only)
        engine="auto", seed=0, steps=0, fast=False,
        api_name="/restore",
    )

    # 1. Where are the scratches?  -> path of "<stem>.mask.png": an 8-bit gray PNG of the
    #    photo's size, 255 (white) = damaged, 0 (black) = untouched.
    mask_png = client.predict(
        handle_file("scan.jpg"),   # photo: JPEG, PNG, WebP, TIFF, BMP or GIF file
        0.5,                       # sensitivity in [0, 1]; higher finds fainter scratches
        "learned",                 # detector: "learned" (the network) | "classical" (faster)
        api_name="/detect_scratches",
    )

    # 2. Remove them.  -> (path of "<stem>-restored.png", summary dict)
    restored_png, summary = client.predict(
        handle_file("scan.jpg"),   # photo
        None,                      # mask: None (detect), or handle_file("mask.png") drawn at the
                                   #   photo's size: white/bright = damaged, or strokes on a
                                   #   transparent background (e.g. an edited detect_scratches mask)
        0.5,                       # sensitivity in [0, 1] (used when the app detects the mask)
        "auto",                    # engine: "auto" | "classical" | "diffusion"
        0,                         # seed >= 0 (diffusion engine)
        0,                         # steps: 0 = the engine's default, else 1-200
        False,                     # fast: LCM fast mode (diffusion engine)
        "replace",                 # mask_mode: "replace" = the mask given is the whole mask,
                                   #   "add" = it is added to the detected one (used with a mask)
        "learned",                 # detector: "learned" | "classical" (used when the app detects)
        api_name="/restore_scratches",
    )

Arguments can also be given by name (``photo=``, ``mask=``, ``sensitivity=``, ``engine=``,
``seed=``, ``steps=``, ``fast=``, ``mask_mode=``, ``detector=``); all but ``photo`` have the defaults shown,
e.g. ``client.predict(photo=handle_file("scan.jpg"), api_name="/restore_scratches")``.
The restored PNG has the photo's pixel size and keeps its alpha channel, ICC profile and EXIF.
``summary`` is a dict::

    {"engine": "classical", "width": 640, "height": 492, "mask_coverage_percent": 1.9,
     "seconds": 0.8,
     "stages": [{"name": "scratch", "seconds": 0.7,
                 "findings": {"coverage_percent": 1.9, "regions": 4}}],
     "notices": ["..."]}

``engine`` is the engine that actually ran. A bad input (not an image, a truncated file, a
1x1 image, a mask of the wrong size, diffusion asked for without its weights) raises
``gradio_client.exceptions.AppError`` whose message says what is wrong and how to fix it,
e.g. "scan.png is not an image this app can read, or it is damaged; use a JPEG, PNG, WebP,
TIFF, BMP or GIF file". Photos are limited to 50 MB (``MAX_FILE_SIZE``) and 50 megapixels
(``RESTORATION_MAX_PIXELS``). Requests are queued; at most ``RESTORATION_CPU_SLOTS`` (2)
classical and ``RESTORATION_GPU_SLOTS`` (1) diffusion restorations run at once, each engine
with its own limit. The page's own events (and its Share button) are private (not part of this API).
"""

# No ``from __future__ import annotations`` here: gr.api reads the endpoints' type hints,
# return types included, from the live annotations.
import functools
import logging
import math
import os
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import gradio as gr
import numpy as np
from gradio import FileData

from restoration import (
    face_models,
    faces,
    imageio,
    mask_editor,
    outputs,
    provenance,
    shares,
    zerogpu,
)
from restoration.errors import InputError, RestorationError
from restoration.pipeline import (
    STAGES,
    RestorationResult,
    RestoreOptions,
    detect_scratches,
    engine_status,
    parse_tasks,
    restore,
    stage_named,
)
from restoration.regions import coverage_percent
from restoration.stages import colorize as colorize_stage
from restoration.stages import denoise as denoise_stage
from restoration.stages import face as face_stage
from restoration.stages.colorize import ColorizeOptions
from restoration.stages.denoise import DenoiseOptions
from restoration.stages.face import FaceOptions
from restoration.stages.scratch import DEFAULT_DETECTOR, ScratchOptions

__all__ = ["EXAMPLES_DIR", "TAB_BUILDERS", "build_demo", "launch_options"]

logger = logging.getLogger(__name__)

EXAMPLES_DIR = Path(__file__).resolve().parent / "examples"
"""Real old photographs shown as examples (see examples/PROVENANCE.md)."""

MAX_FILE_SIZE = "50mb"
"""Largest upload gradio accepts (``launch(max_file_size=...)``); the pixel limit is imageio's
(``RESTORATION_MAX_PIXELS``, 50 megapixels by default)."""

WORK_SLOTS_ENV = {"classical": "RESTORATION_CPU_SLOTS", "diffusion": "RESTORATION_GPU_SLOTS"}
"""Environment variables setting how many restorations run at once per engine (read at import)."""
_DEFAULT_WORK_SLOTS = {"classical": 2, "diffusion": 1}  # 2: the CPU cores of a free Space; 1: one GPU
MAX_QUEUE = 32
"""Requests waiting in gradio's queue beyond which new ones are refused ("queue is full")."""

ENGINES = ["auto", "classical", "diffusion"]
Engine = Literal["auto", "classical", "diffusion"]
MaskMode = Literal["replace", "add"]
Detector = Literal["learned", "classical"]  # scratch.DETECTORS

INTRO = """\
# Old-photo restoration
Upload a scan of an old photograph, compare before and after with the slider and download the
full-resolution PNG. **Restore** does everything in one go: scratches, grain and blur, faces and,
with a colour reference photo, colour; switch off any step you do not want.
"""

TABS_HELP = """\
**Scratches** finds scratches and cracks and shows them in red on the photo: paint over damage it
missed, erase what is not damage, then press **Restore**. **Denoise / Deblur** measures film
grain, blur and fading, starts its sliders from what it measured, and removes them while a sepia
print stays sepia. **Faces** finds the faces, shows them numbered from the left (leave any of
them out), and makes them clearer while they stay the same person: no box around them, no colour
added to a black-and-white or sepia print. **Colorize** colours a black-and-white or sepia photo
from a colour photo of a similar scene that you choose, and from colours you paint on it; its
lightness and sharpness stay exactly the same.
"""


# --------------------------------------------------------------------------------------------
# Errors and inputs
# --------------------------------------------------------------------------------------------


def _short_reason(error: BaseException) -> str:
    """One short line naming an unexpected error, for the message shown to the user."""
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    reason = f"{type(error).__name__}: {text}" if text else type(error).__name__
    return reason if len(reason) <= 160 else reason[:157] + "..."


def _user_errors(action: str):
    """Turn every exception of a handler into one ``gr.Error`` the user can read.

    ``RestorationError`` messages are shown as they are; anything else is logged with its
    traceback and shown as "Something went wrong while <action>: <short reason>. ..."
    """

    def decorate(fn):
        @functools.wraps(fn)
        def handler(*args, **kwargs):
            try:
                return fn(*args, **kwargs)
            except gr.Error:
                raise
            except RestorationError as error:
                raise gr.Error(str(error)) from None
            except Exception as error:
                logger.exception("Unexpected error while %s", action)
                raise gr.Error(
                    f"Something went wrong while {action}: {_short_reason(error)}. "
                    "The details are in the server log."
                ) from None

        return handler

    return decorate


def _plain(text: str) -> str:
    return " ".join(str(text).replace("*", "").replace("`", "").split())


def _warn(notices, *, skip: str = "") -> None:
    """One ``gr.Warning`` toast per notice, except a notice equal to ``skip`` (Markdown ignored)."""
    for notice in notices:
        if not skip or _plain(notice) != _plain(skip):
            gr.Warning(str(notice))


@dataclass(frozen=True)
class Upload:
    """An uploaded file: where the server keeps it and the name the user gave it."""

    path: str
    name: str

    @classmethod
    def of(cls, value: str | dict | FileData | None) -> "Upload | None":
        """From a page component's file path or an API ``FileData``; None when nothing came."""
        if not value:
            return None
        if isinstance(value, str):
            return cls(value, Path(value).name)
        path = value["path"] if isinstance(value, dict) else value.path
        name = (value.get("orig_name") if isinstance(value, dict) else value.orig_name) or Path(path).name
        return cls(path, name)

    def named(self, error: RestorationError) -> RestorationError:
        """``error`` with the server's path of the upload replaced by the user's file name."""
        return type(error)(str(error).replace(self.path, self.name))


def _load(upload: Upload | None) -> imageio.Photo:
    """The uploaded photo at full resolution (errors name the file, not the server's copy)."""
    if upload is None:
        raise gr.Error("Upload a photo first.")
    try:
        return imageio.load_photo(upload.path)
    except RestorationError as error:
        raise upload.named(error) from None


def _load_mask(upload: Upload, photo: imageio.Photo) -> np.ndarray:
    """The uploaded mask, (H, W) float32 in [0, 1] at the photo's size."""
    try:
        return imageio.load_mask(upload.path, size=photo.size)
    except RestorationError as error:
        raise upload.named(error) from None


def _common_options(engine: str | None, seed, steps, fast, stages: dict) -> RestoreOptions:
    """RestoreOptions from the engine controls (gradio gives numbers as floats, or None)."""
    return RestoreOptions(
        engine=str(engine or "auto"),
        seed=int(seed or 0),
        steps=int(steps) if steps else None,
        fast=bool(fast),
        stages=stages,
    )


# --------------------------------------------------------------------------------------------
# The one handler that runs a restoration, for every tab and endpoint
# --------------------------------------------------------------------------------------------


def _work_slots(engine: str) -> int:
    """Restorations that may run at once on ``engine`` (``RESTORATION_CPU_SLOTS`` /
    ``RESTORATION_GPU_SLOTS``, else 2 classical and 1 diffusion)."""
    configured = os.environ.get(WORK_SLOTS_ENV[engine], "").strip()
    if not configured:
        return _DEFAULT_WORK_SLOTS[engine]
    if not configured.isdigit() or int(configured) < 1:
        raise ValueError(f"{WORK_SLOTS_ENV[engine]} must be a whole number >= 1, got {configured!r}")
    return int(configured)


WORK_SLOTS = {engine: threading.BoundedSemaphore(_work_slots(engine)) for engine in WORK_SLOTS_ENV}
"""One limit per engine, shared by every request of the process: diffusion work waits only for
diffusion work, so classical requests are never stuck behind it (gradio's queue does not limit
the restoring events itself, see ``build_demo``)."""


RESTORE_WORK = {"concurrency_id": "restore", "concurrency_limit": None}
"""Queue settings of every restoring event: no gradio limit, :data:`WORK_SLOTS` limits them."""


def _engine_to_run(requested: str) -> str:
    """The engine a request will run: ``auto`` is what :func:`engine_status` picks here."""
    return engine_status().default_engine if requested == "auto" else requested


@dataclass(frozen=True)
class Outcome:
    """A finished request: the input, the result, the restored photo and its PNG file.

    ``stage_images`` holds (thumbnail, caption) pairs: the photo, then each stage's result, when
    the request asked for them."""

    photo: imageio.Photo
    result: RestorationResult
    restored: imageio.Photo
    path: Path
    seconds: float
    stage_images: tuple = ()

    def summary(self) -> dict:
        """What the API returns beside the PNG: engine, size, seconds, stages, notices."""
        summary = self.result.summary()
        scratch = self.result.masks.get("scratch")
        return summary | {
            "width": self.photo.width,
            "height": self.photo.height,
            "mask_coverage_percent": coverage_percent(scratch) if scratch is not None else None,
            "seconds": round(self.seconds, 2),
            "notices": [*self.photo.metadata.notices, *summary["notices"]],
        }


STAGE_THUMBNAIL_SIDE = 384
"""Long side, px, of the thumbnails in the gallery of each stage's result."""


@dataclass
class StageProgress:
    """Progress text that names the stage running ("Step 2 of 3 · Denoise / Deblur: ...") and,
    when asked, thumbnails of each stage's result (one per request, never shared)."""

    progress: gr.Progress | None
    names: tuple[str, ...]
    keep_thumbnails: bool = False
    thumbnails: list = field(default_factory=list)
    current: str = ""

    def report(self, fraction: float, description: str) -> None:
        if self.progress is None:
            return
        if len(self.names) > 1 and self.current:
            step = self.names.index(self.current) + 1
            description = f"Step {step} of {len(self.names)} · {stage_named(self.current).title}: {description}"
        self.progress(float(fraction), desc=description)

    def on_stage(self, name: str, image: np.ndarray | None) -> None:
        if image is None:
            self.current = name
            self.report(self.names.index(name) / len(self.names), "starting")
        elif self.keep_thumbnails:
            self.thumbnails.append((_thumbnail(image), f"{len(self.thumbnails)} · after {stage_named(name).title}"))


def _thumbnail(pixels: np.ndarray):
    """A PIL thumbnail of (H, W, 3) float32 pixels in [0, 1], long side STAGE_THUMBNAIL_SIDE."""
    image = imageio.to_pil(imageio.load_photo(np.ascontiguousarray(pixels, dtype=np.float32)))
    image.thumbnail((STAGE_THUMBNAIL_SIDE, STAGE_THUMBNAIL_SIDE))
    return image


def run_request(
    photo: imageio.Photo,
    tasks: str | tuple[str, ...],
    options: RestoreOptions,
    *,
    source_name: str,
    progress: gr.Progress | None = None,
    keep_stage_images: bool = False,
) -> Outcome:
    """Restore ``photo`` and write the full-resolution PNG, ``<stem of source_name>-restored.png``
    with its provenance (:mod:`restoration.provenance`), into a new folder of its own.

    The request first takes a work slot of the engine it will run (:data:`WORK_SLOTS`), saying
    so in the progress bar while it waits. Only the diffusion work inside the stages asks for a
    GPU (``zerogpu.run_on_gpu``); reading, classical work and PNG encoding run on the CPU.
    With ``keep_stage_images`` the outcome holds thumbnails of the photo and of each stage's result.
    """
    names = parse_tasks(tasks)
    tracker = StageProgress(progress, names, keep_thumbnails=keep_stage_images)
    if keep_stage_images:
        tracker.thumbnails.append((_thumbnail(photo.pixels), "0 · your photo"))
    engine = _engine_to_run(options.engine)
    slots = WORK_SLOTS[engine]
    if not slots.acquire(blocking=False):
        if progress is not None:
            progress(0.0, desc=f"Waiting for a free {engine} slot: other photos are being restored")
        slots.acquire()
    try:
        started = time.perf_counter()
        result = restore(photo.pixels, names, options, progress=tracker.report, on_stage=tracker.on_stage)
        seconds = time.perf_counter() - started
    finally:
        slots.release()
    path = outputs.fresh_output_dir() / f"{outputs.safe_stem(source_name)}-restored.png"
    restored = provenance.save_restored(photo, result, path, source_name=Path(source_name).name)
    if result.engine == "classical":
        COSTS.record(photo.width * photo.height / 1e6, result.stages)
    return Outcome(photo, result, restored, path, seconds, tuple(tracker.thumbnails))


# --------------------------------------------------------------------------------------------
# The result panel every tab shares
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ResultPanel:
    """Before/after slider, download button, a line about the run, and the Share button with
    its link. ``source`` (server side only) remembers the result's PNG for sharing."""

    comparison: gr.ImageSlider
    download: gr.DownloadButton
    info: gr.Markdown
    share: gr.Button
    link: gr.Textbox
    source: gr.State

    @property
    def components(self) -> list:
        """What a restoring handler returns, in the order of :meth:`showing`."""
        return [self.comparison, self.download, self.info, self.share, self.link, self.source]

    @staticmethod
    def cleared() -> tuple:
        return (
            None, gr.DownloadButton(value=None, visible=False), "", gr.Button(visible=False),
            gr.Textbox(value="", visible=False), None,
        )

    @staticmethod
    def showing(outcome: Outcome, details: str = "") -> tuple:
        """Values of :attr:`components` for a finished request."""
        photo = outcome.photo
        # The engine notice is already at the top of the page: no toast repeating it.
        _warn(outcome.result.notices, skip=engine_status().message)
        text = " · ".join(
            part
            for part in (
                f"**Engine that ran:** {outcome.result.engine}",
                details,
                f"{photo.width}×{photo.height} px",
                f"{outcome.seconds:.1f} s",
            )
            if part
        )
        button = gr.DownloadButton(
            label=f"Download the restored photo (PNG, {photo.width}×{photo.height})",
            value=str(outcome.path),
            visible=True,
        )
        source = {"after": str(outcome.path), "details": _share_details(outcome)}
        return (
            (imageio.to_pil(photo), imageio.to_pil(outcome.restored)), button, text, gr.Button(visible=True),
            gr.Textbox(value="", visible=False), source,
        )


def _share_details(outcome: Outcome) -> dict:
    """What a shared result's page says about it (nothing about the user or their file)."""
    return {
        "engine": outcome.result.engine,
        "width": outcome.photo.width,
        "height": outcome.photo.height,
        "stages": [stage_named(stage.name).title for stage in outcome.result.stages],
    }


@_user_errors("sharing this result")
def share_page(comparison, source: dict | None):
    """Share the result on show; returns the link box (a relative ``?result=ID`` that the
    browser makes absolute)."""
    if not source or not comparison or comparison[0] is None:
        raise gr.Error("Restore a photo first, then share the result.")
    before = imageio.load_photo(comparison[0])
    share_id = shares.share_result(source["after"], before, source["details"])
    minutes = round(outputs.configured_max_age() / 60)
    return gr.Textbox(
        value=f"?result={share_id}",
        visible=True,
        info=f"Anyone with this link sees this result (and nothing else) for the next {minutes} minutes.",
    )


_ABSOLUTE_LINK_JS = (
    "(link) => link && link.startsWith('?') ? window.location.origin + window.location.pathname + link : link"
)


def build_result_panel(prefix: str) -> ResultPanel:
    """The shared before/after panel with its Share button; ``prefix`` keeps element ids unique per tab."""
    with gr.Row():
        with gr.Column(scale=2):
            comparison = gr.ImageSlider(
                label="Before / after",
                type="pil",
                format="png",
                interactive=False,
                max_height=640,
                elem_id=f"{prefix}-before-after",
            )
        with gr.Column(scale=1, min_width=240):
            info = gr.Markdown(elem_id=f"{prefix}-result-info")
            download = gr.DownloadButton(
                "Download the restored photo (PNG)", visible=False, variant="primary", elem_id=f"{prefix}-download"
            )
            share = gr.Button("Share a link to this result", visible=False, elem_id=f"{prefix}-share")
            link = gr.Textbox(label="Link to this result", visible=False, interactive=False, buttons=["copy"],
                              elem_id=f"{prefix}-share-link")
    source = gr.State(None)
    share.click(share_page, inputs=[comparison, source], outputs=[link], api_visibility="private").then(
        None, inputs=[link], outputs=[link], js=_ABSOLUTE_LINK_JS, api_visibility="private"
    )
    return ResultPanel(comparison, download, info, share, link, source)


@dataclass(frozen=True)
class EngineControls:
    """The engine, seed, steps and fast-mode controls (inside a tab's Advanced accordion)."""

    engine: gr.Radio
    seed: gr.Number
    steps: gr.Slider
    fast: gr.Checkbox

    @property
    def components(self) -> list:
        return [self.engine, self.seed, self.steps, self.fast]


def build_engine_controls() -> EngineControls:
    engine = gr.Radio(
        ENGINES,
        value="auto",
        label="Engine",
        info="auto: diffusion when its weights are on this machine and a GPU is present, else classical.",
    )
    seed = gr.Number(value=0, precision=0, minimum=0, label="Seed")
    steps = gr.Slider(0, 50, value=0, step=1, label="Diffusion steps (0 = engine default)")
    fast = gr.Checkbox(value=False, label="Fast mode (LCM, 4-8 steps; diffusion engine)")
    return EngineControls(engine, seed, steps, fast)


def _limits_text() -> str:
    """The upload limits, as the page states them."""
    megapixels = imageio._pixel_limit(None) / 1e6  # RESTORATION_MAX_PIXELS, else the default
    return (
        f"JPEG, PNG, WebP, TIFF, BMP or GIF; up to {MAX_FILE_SIZE.upper().replace('MB', ' MB')} "
        f"and {megapixels:g} megapixels."
    )


def build_photo_input(prefix: str, *, examples: bool = True) -> gr.File:
    """The photo upload, its limits and, below them, the example photos (as file names)."""
    photo = gr.File(
        label="Old photo", file_types=["image"], file_count="single", type="filepath", elem_id=f"{prefix}-photo-upload"
    )
    gr.Markdown(_limits_text(), elem_id=f"{prefix}-limits", elem_classes=["limits"])
    paths = [[str(example.path)] for example in example_photos()] if examples else []
    if paths:
        gr.Examples(
            examples=paths,
            inputs=[photo],
            label="Example photos (public domain, see examples/PROVENANCE.md)",
            cache_examples=False,
        )
    return photo


@dataclass(frozen=True)
class ExamplePhoto:
    """A bundled example: its file and the caption and credit shown under its thumbnail."""

    path: Path
    caption: str


EXAMPLES_CREDIT = (
    "Real photographs taken before 1927 (public domain in the US), from the `test_images` folder "
    "of the DeOldify repository (jantic/DeOldify); details in `examples/PROVENANCE.md`."
)
_PROVENANCE_ROW = re.compile(r"^\|\s*([^|]+?\.jpg)\s*\|[^|]*\|\s*([^|]+?)\s*\|", re.MULTILINE)


@functools.cache
def example_photos() -> tuple[ExamplePhoto, ...]:
    """The bundled examples with captions from ``examples/PROVENANCE.md`` ("what it shows")."""
    provenance = EXAMPLES_DIR / "PROVENANCE.md"
    shows = dict(_PROVENANCE_ROW.findall(provenance.read_text(encoding="utf-8"))) if provenance.exists() else {}
    return tuple(
        ExamplePhoto(path, f"{path.stem}: {shows.get(path.name, 'an old photograph')} (public domain)")
        for path in sorted(EXAMPLES_DIR.glob("*.jpg"))
    )


# --------------------------------------------------------------------------------------------
# Scratches tab and its API endpoints
# --------------------------------------------------------------------------------------------


def build_painting_editor(*, label: str, brush: gr.Brush, layer: str, placeholder: str, elem_id: str) -> gr.ImageEditor:
    """An editor for painting on the photo (one fixed layer, brush and eraser) on the square
    canvas that ``mask_editor`` maps to and from the photo's full resolution."""
    return gr.ImageEditor(
        label=label,
        type="numpy",
        image_mode="RGBA",
        sources=[],
        transforms=[],
        brush=brush,
        eraser=gr.Eraser(),
        layers=gr.LayerOptions(allow_additional_layers=False, layers=[layer], disabled=True),
        format="png",
        canvas_size=(mask_editor.EDITOR_SIDE, mask_editor.EDITOR_SIDE),
        height=560,
        buttons=["fullscreen"],
        placeholder=placeholder,
        elem_id=elem_id,
    )


@_user_errors("looking for scratches on this photo")
def show_detected_mask(photo_path: str | None, sensitivity: float, detector: str, progress=gr.Progress()):
    """Detect scratches on the uploaded photo and show them on it in the editor.

    Returns (editor value, detection state, text about the mask).
    """
    upload = Upload.of(photo_path)
    if upload is None:
        return None, None, ""
    progress(0.1, desc="Reading the photo")
    photo = _load(upload)
    _warn(photo.metadata.notices)
    progress(0.4, desc="Looking for scratches")
    mask = np.clip(detect_scratches(photo.pixels, sensitivity=float(sensitivity), detector=detector), 0.0, 1.0)
    editor, detection = mask_editor.editor_value(imageio.to_pil(photo), mask)
    text = (
        f"Scratches found on **{coverage_percent(mask):.2f} %** of the photo "
        f"({photo.width}×{photo.height} px, sensitivity {float(sensitivity):.2f}, {detector} detector)."
    )
    return editor, detection, text


@_user_errors("restoring this photo")
def restore_from_editor(
    photo_path: str | None,
    editor_value: dict | None,
    detection: dict | None,
    sensitivity: float,
    detector: str,
    engine: str,
    seed: float,
    steps: float,
    fast: bool,
    progress=gr.Progress(track_tqdm=True),
):
    """Restore the uploaded photo with the mask from the editor; returns the result panel's values."""
    upload = Upload.of(photo_path)
    photo = _load(upload)
    mask, mask_mode = mask_editor.mask_from_editor(editor_value, detection, photo.size)
    scratch = ScratchOptions(sensitivity=float(sensitivity), mask=mask, mask_mode=mask_mode, detector=detector)
    options = _common_options(engine, seed, steps, fast, {"scratch": scratch})
    outcome = run_request(photo, "scratch", options, source_name=upload.name, progress=progress)
    coverage = outcome.summary()["mask_coverage_percent"]
    return ResultPanel.showing(outcome, f"**Scratch mask:** {coverage:.2f} % of the photo")


@_user_errors("looking for scratches on this photo")
def detect_scratches_api(photo: FileData, sensitivity: float = 0.5, detector: Detector = DEFAULT_DETECTOR) -> FileData:
    """Scratch mask of a photo: an 8-bit gray PNG of the photo's size, 255 (white) = damaged.

    Args:
        photo: the photo (JPEG, PNG, WebP, TIFF, BMP or GIF).
        sensitivity: in [0, 1]; higher finds fainter scratches (and more false ones).
        detector: "learned" (the network, the default) or "classical" (hand-made, faster).
    """
    upload = Upload.of(photo)
    image = _load(upload)
    mask = np.clip(detect_scratches(image.pixels, sensitivity=float(sensitivity), detector=detector), 0.0, 1.0).astype(np.float32)
    path = imageio.save_mask(mask, outputs.fresh_output_dir() / f"{outputs.safe_stem(upload.name)}.mask.png")
    return FileData(path=str(path))


@_user_errors("restoring this photo")
def restore_scratches_api(
    photo: FileData,
    mask: FileData | None = None,
    sensitivity: float = 0.5,
    engine: Engine = "auto",
    seed: int = 0,
    steps: int = 0,
    fast: bool = False,
    mask_mode: MaskMode = "replace",
    detector: Detector = DEFAULT_DETECTOR,
) -> tuple[FileData, dict]:
    """Remove scratches: the restored PNG (the photo's size; alpha, ICC and EXIF kept) and a summary.

    Args:
        photo: the photo (JPEG, PNG, WebP, TIFF, BMP or GIF).
        mask: None (detect), or a mask at the photo's size: white = damaged, or strokes on a
            transparent background.
        sensitivity: in [0, 1], used when the app detects the mask.
        engine: "auto", "classical" or "diffusion".
        seed: >= 0, for the diffusion engine.
        steps: 0 = the engine's default, else 1-200.
        fast: LCM fast mode (diffusion engine).
        mask_mode: "replace" (the mask is the whole mask) or "add" (added to the detected one).
        detector: "learned" (the network, the default) or "classical" (hand-made, faster), used
            when the app detects the mask.
    """
    upload = Upload.of(photo)
    image = _load(upload)
    mask_upload = Upload.of(mask)
    mask_array = _load_mask(mask_upload, image) if mask_upload else None
    scratch = ScratchOptions(
        sensitivity=float(sensitivity), mask=mask_array, mask_mode=mask_mode if mask_array is not None else "add",
        detector=detector,
    )
    options = _common_options(engine, seed, steps, fast, {"scratch": scratch})
    outcome = run_request(image, "scratch", options, source_name=upload.name)
    return FileData(path=str(outcome.path)), outcome.summary()


def build_scratch_tab() -> None:
    """The Scratches tab: upload, editable damage mask, Restore, shared result panel; and the
    stage's API endpoints ``/detect_scratches`` and ``/restore_scratches``."""
    with gr.Row():
        with gr.Column(scale=1, min_width=280):
            photo = build_photo_input("scratch")
            with gr.Accordion("Advanced", open=False):
                sensitivity = gr.Slider(
                    0.0,
                    1.0,
                    value=0.5,
                    step=0.05,
                    label="Sensitivity",
                    info="Higher finds fainter scratches (and more false ones). "
                    "Changing it redraws the mask and discards your painting.",
                )
                detector = gr.Radio(
                    choices=[("Learned (finds more)", "learned"), ("Classical (faster)", "classical")],
                    value=DEFAULT_DETECTOR,
                    label="Detector",
                    info="The small network trained on damaged prints, or the hand-made detector. "
                    "Changing it redraws the mask and discards your painting.",
                    elem_id="scratch-detector",
                )
                controls = build_engine_controls()
            restore_button = gr.Button("Restore", variant="primary", elem_id="scratch-restore")
        with gr.Column(scale=2):
            editor = build_painting_editor(
                label="Damage mask: paint missed scratches, erase false ones",
                brush=gr.Brush(
                    colors=[mask_editor.MASK_BRUSH_COLOR],
                    default_color=mask_editor.MASK_BRUSH_COLOR,
                    color_mode="fixed",
                ),
                layer="Damage",
                placeholder="Upload a photo: the scratches found on it appear here.",
                elem_id="scratch-mask-editor",
            )
            mask_info = gr.Markdown(elem_id="scratch-mask-info")
    panel = build_result_panel("scratch")
    detection = gr.State(None)

    photo.change(
        lambda: (None, None, "", *ResultPanel.cleared()),
        inputs=None,
        outputs=[editor, detection, mask_info, *panel.components],
        queue=False,
        api_visibility="private",
    ).then(
        show_detected_mask,
        inputs=[photo, sensitivity, detector],
        outputs=[editor, detection, mask_info],
        api_visibility="private",
    )
    for redraw in (sensitivity.release, detector.change):
        redraw(
            show_detected_mask,
            inputs=[photo, sensitivity, detector],
            outputs=[editor, detection, mask_info],
            trigger_mode="always_last",
            api_visibility="private",
        )
    restore_button.click(
        restore_from_editor,
        inputs=[photo, editor, detection, sensitivity, detector, *controls.components],
        outputs=panel.components,
        **RESTORE_WORK,
        api_visibility="private",
    )
    gr.api(detect_scratches_api, api_name="detect_scratches")
    gr.api(restore_scratches_api, api_name="restore_scratches", **RESTORE_WORK)


# --------------------------------------------------------------------------------------------
# Denoise / Deblur tab and its API endpoints
# --------------------------------------------------------------------------------------------


def _estimates_text(findings: dict) -> str:
    """One Markdown line with the estimates of the denoise stage."""
    cast = findings["cast_ab"]
    return (
        f"**Measured:** grain {findings['noise_levels']:.1f} levels (size {findings['grain_size_px']:.1f} px) · "
        f"blur σ {findings['blur_sigma_px']:.1f} px · fade {findings['fade']:.2f} · "
        f"cast a* {cast[0]:+.1f} b* {cast[1]:+.1f} · {findings['tone']} print"
    )


@_user_errors("measuring grain, blur and fading")
def show_estimates(photo_path: str | None, progress=gr.Progress()):
    """Measure the uploaded photo; returns (text, grain, sharpen, measured photo) with the sliders
    set to the estimates and the photo they were measured on (for :func:`restore_denoise_page`)."""
    upload = Upload.of(photo_path)
    if upload is None:
        return "", gr.Slider(value=0), gr.Slider(value=0), None
    progress(0.2, desc="Measuring grain, blur and fading")
    photo = _load(upload)
    _warn(photo.metadata.notices)
    findings = denoise_stage.estimate(photo.pixels).findings()
    grain = min(denoise_stage.MAX_GRAIN_LEVELS, findings["noise_levels"])
    sharpen = min(denoise_stage.MAX_SHARPEN_SIGMA, findings["blur_sigma_px"])
    return _estimates_text(findings), gr.Slider(value=grain), gr.Slider(value=sharpen), photo_path


def _denoise_options(grain, sharpen, fade, keep_tone, strength) -> DenoiseOptions:
    """DenoiseOptions from the tab's controls or the API (None = estimate; strength 0 = auto)."""
    return DenoiseOptions(
        grain=None if grain is None else float(grain),
        sharpen=None if sharpen is None else float(sharpen),
        fade=None if fade is None else float(fade),
        keep_tone=bool(keep_tone),
        strength=float(strength) if strength else None,
    )


@_user_errors("restoring this photo")
def restore_denoise_page(
    photo_path: str | None,
    measured_photo: str | None,
    grain: float,
    sharpen: float,
    fade: float,
    keep_tone: bool,
    strength: float,
    engine: str,
    seed: float,
    steps: float,
    fast: bool,
    progress=gr.Progress(track_tqdm=True),
):
    """Denoise, deblur and restore the tone of the uploaded photo; returns the result panel's values.

    Until the sliders show this photo's estimates (``measured_photo``), grain and blur are
    estimated by the stage itself, so a quick click never means "off".
    """
    upload = Upload.of(photo_path)
    photo = _load(upload)
    if measured_photo != photo_path:
        grain = sharpen = None
    options = _common_options(engine, seed, steps, fast, {"denoise": _denoise_options(grain, sharpen, fade, keep_tone, strength)})
    outcome = run_request(photo, "denoise", options, source_name=upload.name, progress=progress)
    applied = outcome.result.stages[0].findings["applied"]
    return ResultPanel.showing(
        outcome,
        f"**Removed:** grain {applied['grain_levels']:.1f} levels, blur σ {applied['sharpen_sigma_px']:.1f} px, "
        f"fade {applied['fade']:.2f}",
    )


@_user_errors("measuring grain, blur and fading")
def estimate_degradation_api(photo: FileData) -> dict:
    """Grain, blur and fading of a photo, as the denoise stage measures them.

    Args:
        photo: the photo (JPEG, PNG, WebP, TIFF, BMP or GIF).

    Returns:
        {"noise_levels", "chroma_noise_levels" (8-bit levels), "grain_size_px", "blur_sigma_px",
        "fade" (0-1), "cast_ab" ([a*, b*]), "black_point", "white_point", "tone" ("gray",
        "toned" or "colour")}.
    """
    return denoise_stage.estimate(_load(Upload.of(photo)).pixels).findings()


@_user_errors("restoring this photo")
def denoise_api(
    photo: FileData,
    grain: float | None = None,
    sharpen: float | None = None,
    fade: float | None = None,
    keep_tone: bool = True,
    engine: Engine = "auto",
    seed: int = 0,
    steps: int = 0,
    fast: bool = False,
    strength: float = 0.0,
) -> tuple[FileData, dict]:
    """Remove grain, sharpen soft focus, restore faded contrast and casts: the restored PNG and a summary.

    Args:
        photo: the photo (JPEG, PNG, WebP, TIFF, BMP or GIF).
        grain: noise to remove in 8-bit levels, 0-50 (0 = off); None = estimated.
        sharpen: blur to undo, Gaussian sigma in px, 0-5 (0 = off); None = estimated.
        fade: fading and cast correction, 0-1; None = 1 (a no-op on unfaded photos).
        keep_tone: keep a sepia or other toned print's tone.
        engine: "auto", "classical" or "diffusion".
        seed: >= 0, for the diffusion engine.
        steps: 0 = the engine's default, else 1-200.
        fast: LCM fast mode (diffusion engine).
        strength: diffusion refinement strength, 0.05-0.6; 0 = from the degradation.
    """
    upload = Upload.of(photo)
    image = _load(upload)
    options = _common_options(engine, seed, steps, fast, {"denoise": _denoise_options(grain, sharpen, fade, keep_tone, strength)})
    outcome = run_request(image, "denoise", options, source_name=upload.name)
    return FileData(path=str(outcome.path)), outcome.summary()


def build_denoise_tab() -> None:
    """The Denoise / Deblur tab: upload, the measured grain/blur/fading with sliders starting
    from them, Restore, shared result panel; and the endpoints ``/estimate_degradation`` and
    ``/denoise``."""
    with gr.Row():
        with gr.Column(scale=1, min_width=280):
            photo = build_photo_input("denoise")
        with gr.Column(scale=1, min_width=280):
            estimates = gr.Markdown("Upload a photo: its grain, blur and fading are measured here.", elem_id="denoise-estimates")
            grain = gr.Slider(0, denoise_stage.MAX_GRAIN_LEVELS, value=0, step=0.5, label="Grain to remove (8-bit levels)",
                              info="Starts at the measured grain; 0 = off.", elem_id="denoise-grain")
            sharpen = gr.Slider(0, denoise_stage.MAX_SHARPEN_SIGMA, value=0, step=0.1, label="Blur to undo (σ in px)",
                                info="Starts at the measured blur; 0 = off.", elem_id="denoise-sharpen")
            fade = gr.Slider(0, 1, value=1, step=0.05, label="Fading and colour-cast correction",
                             info="1 = full; does nothing to a photo with a full range and no cast.")
            keep_tone = gr.Checkbox(value=True, label="Keep the print's tone (sepia stays sepia)")
            with gr.Accordion("Advanced", open=False):
                strength = gr.Slider(0, denoise_stage.MAX_STRENGTH, value=0, step=0.05,
                                     label="Diffusion refinement strength (0 = from the degradation)")
                controls = build_engine_controls()
            restore_button = gr.Button("Restore", variant="primary", elem_id="denoise-restore")
    panel = build_result_panel("denoise")
    measured_photo = gr.State(None)

    photo.change(
        lambda: (None, *ResultPanel.cleared()),
        inputs=None,
        outputs=[measured_photo, *panel.components],
        queue=False,
        api_visibility="private",
    ).then(show_estimates, inputs=[photo], outputs=[estimates, grain, sharpen, measured_photo], api_visibility="private")
    restore_button.click(
        restore_denoise_page,
        inputs=[photo, measured_photo, grain, sharpen, fade, keep_tone, strength, *controls.components],
        outputs=panel.components,
        **RESTORE_WORK,
        api_visibility="private",
    )
    gr.api(estimate_degradation_api, api_name="estimate_degradation")
    gr.api(denoise_api, api_name="denoise", **RESTORE_WORK)


# --------------------------------------------------------------------------------------------
# Faces tab and its API endpoints
# --------------------------------------------------------------------------------------------

_GALLERY_CROP = 256  # px: side of the aligned face crops shown in the gallery


def _face_label(number: int) -> str:
    return f"Face {number}"


def _face_numbers_from_labels(labels) -> tuple[int, ...]:
    """("Face 1", "Face 3") -> (1, 3)."""
    return tuple(int(str(label).rsplit(" ", 1)[-1]) for label in labels or ())


def _face_crops(image: np.ndarray, face_findings: list[dict], caption: str) -> list[tuple]:
    """Aligned crops (PIL, ``_GALLERY_CROP`` px) of the faces in ``image``, with captions."""
    crops = []
    for entry in face_findings:
        matrix = faces.alignment_matrix(np.array(entry["landmarks"], np.float32), size=_GALLERY_CROP)
        crop = np.clip(faces.warp_to_crop(image, matrix, _GALLERY_CROP), 0.0, 1.0)
        crops.append((imageio.to_pil(imageio.load_photo(crop)), f"{_face_label(entry['number'])} {caption}".strip()))
    return crops


def _before_after_crops(before: np.ndarray, after: np.ndarray, face_findings: list[dict]) -> list[tuple]:
    """Before and after crops of each face, in pairs; left-out faces are marked so."""
    pairs = []
    for entry in face_findings:
        label = "after" if entry.get("restored", True) else "left out"
        pairs += _face_crops(before, [entry], "before") + _face_crops(after, [entry], label)
    return pairs


def _faces_text(found: list[dict], detector: str) -> str:
    if not found:
        return "No faces were found on this photo; try a smaller *Smallest face* size."
    return (
        f"Found **{len(found)} face{'s' if len(found) != 1 else ''}** ({detector} detector), numbered from the "
        "left. Tick any you want left as they are."
    )


@_user_errors("looking for faces on this photo")
def show_found_faces(photo_path: str | None, min_face_size: float, progress=gr.Progress()):
    """Find the faces on the uploaded photo; returns (text, leave-out choices, gallery of the faces)."""
    upload = Upload.of(photo_path)
    if upload is None:
        return "", gr.CheckboxGroup(choices=[], value=[]), []
    progress(0.1, desc="Looking for faces")
    photo = _load(upload)
    _warn(photo.metadata.notices)
    found = face_stage.find_faces(photo.pixels, min_face_size=int(min_face_size or 24))
    _warn(found.notices)
    entries = found.findings()
    choices = [_face_label(entry["number"]) for entry in entries]
    return _faces_text(entries, found.detector), gr.CheckboxGroup(choices=choices, value=[]), _face_crops(photo.pixels, entries, "")


def _face_options(fidelity, min_face_size, exclude_faces, face_parser) -> FaceOptions:
    """FaceOptions from the tab's controls or the API (gradio gives numbers as floats)."""
    return FaceOptions(
        fidelity=float(0.7 if fidelity is None else fidelity),
        min_face_size=int(min_face_size or 24),
        exclude_faces=tuple(int(n) for n in exclude_faces or ()),
        face_parser=bool(face_parser),
    )


@_user_errors("restoring the faces on this photo")
def restore_faces_page(
    photo_path: str | None,
    fidelity: float,
    min_face_size: float,
    leave_out: list[str] | None,
    face_parser: bool,
    engine: str,
    seed: float,
    steps: float,
    fast: bool,
    progress=gr.Progress(track_tqdm=True),
):
    """Restore the faces of the uploaded photo; returns the result panel's values and the gallery."""
    upload = Upload.of(photo_path)
    photo = _load(upload)
    face_options = _face_options(fidelity, min_face_size, _face_numbers_from_labels(leave_out), face_parser)
    options = _common_options(engine, seed, steps, fast, {"face": face_options})
    outcome = run_request(photo, "face", options, source_name=upload.name, progress=progress)
    findings = outcome.result.stages[0].findings
    if "notice" in findings:
        gr.Warning(findings["notice"])
    restored = sum(entry["restored"] for entry in findings["faces"])
    details = f"**Faces restored:** {restored} of {len(findings['faces'])} ({findings['detector']} detector)"
    gallery = _before_after_crops(photo.pixels, outcome.restored.pixels, findings["faces"])
    return (*ResultPanel.showing(outcome, details), gallery)


@_user_errors("looking for faces on this photo")
def detect_faces_api(photo: FileData, min_face_size: int = 24) -> dict:
    """The faces on a photo, as the face stage finds them.

    Args:
        photo: the photo (JPEG, PNG, WebP, TIFF, BMP or GIF).
        min_face_size: smallest face to look for, px (>= 12).

    Returns:
        {"detector": "retinaface" | "classical", "faces": [{"number", "box" ([x, y, w, h] in
        photo px), "score" (0-1), "landmarks" (5 [x, y] points: eyes, nose tip, mouth corners)}]},
        faces numbered from 1, left to right (the numbers ``exclude_faces`` takes).
    """
    found = face_stage.find_faces(_load(Upload.of(photo)).pixels, min_face_size=int(min_face_size))
    return {"detector": found.detector, "faces": found.findings(), "notices": found.notices}


@_user_errors("restoring the faces on this photo")
def restore_faces_api(
    photo: FileData,
    fidelity: float = 0.7,
    min_face_size: int = 24,
    exclude_faces: list[int] | None = None,
    face_parser: bool = False,
    engine: Engine = "auto",
    seed: int = 0,
    steps: int = 0,
    fast: bool = False,
) -> tuple[FileData, dict]:
    """Make the faces clearer: the restored PNG (the photo's size) and a summary whose face
    stage findings list every face (box [x, y, w, h], score, restored or left out).

    Args:
        photo: the photo (JPEG, PNG, WebP, TIFF, BMP or GIF).
        fidelity: 0-1, higher stays closer to the input face.
        min_face_size: smallest face to look for, px (>= 12).
        exclude_faces: numbers of faces to leave as they are (from /detect_faces).
        face_parser: paste through ParseNet (needs its opt-in, non-commercial weights).
        engine: "auto", "classical" or "diffusion".
        seed: >= 0, for the diffusion engine.
        steps: 0 = the engine's default, else 1-200.
        fast: LCM fast mode (diffusion engine).
    """
    upload = Upload.of(photo)
    image = _load(upload)
    options = _common_options(engine, seed, steps, fast, {"face": _face_options(fidelity, min_face_size, exclude_faces, face_parser)})
    outcome = run_request(image, "face", options, source_name=upload.name)
    return FileData(path=str(outcome.path)), outcome.summary()


def build_face_tab() -> None:
    """The Faces tab: upload (faces found at once, shown numbered), leave-out choices, fidelity,
    Restore, the shared result panel and a before/after gallery of the faces; and the endpoints
    ``/detect_faces`` and ``/restore_faces``."""
    parser_here = face_models.parser_available()
    with gr.Row():
        with gr.Column(scale=1, min_width=280):
            photo = build_photo_input("face")
        with gr.Column(scale=1, min_width=280):
            found_text = gr.Markdown("Upload a photo: the faces found on it are listed here.", elem_id="face-found")
            leave_out = gr.CheckboxGroup(choices=[], value=[], label="Leave out faces", elem_id="face-leave-out")
            fidelity = gr.Slider(0, 1, value=0.7, step=0.05, label="Fidelity",
                                 info="Higher stays closer to the input face; lower adds more detail.",
                                 elem_id="face-fidelity")
            with gr.Accordion("Advanced", open=False):
                min_face_size = gr.Slider(face_stage.MIN_FACE_SIZE, 200, value=24, step=1,
                                          label="Smallest face to look for (px)", elem_id="face-min-size")
                face_parser = gr.Checkbox(
                    value=False,
                    interactive=parser_here,
                    label="Paste with the ParseNet face parser",
                    info="Its weights are CC BY-NC-SA 4.0 (non-commercial) and opt-in"
                    + ("." if parser_here else f": {face_models.PARSENET_LICENCE_NOTE}."),
                    elem_id="face-parser",
                )
                controls = build_engine_controls()
            restore_button = gr.Button("Restore faces", variant="primary", elem_id="face-restore")
    panel = build_result_panel("face")
    gallery = gr.Gallery(label="Faces: before / after", columns=4, height=320, format="png", elem_id="face-gallery")

    photo.change(
        lambda: ([], *ResultPanel.cleared()),
        inputs=None,
        outputs=[gallery, *panel.components],
        queue=False,
        api_visibility="private",
    ).then(show_found_faces, inputs=[photo, min_face_size], outputs=[found_text, leave_out, gallery], api_visibility="private")
    min_face_size.release(
        show_found_faces,
        inputs=[photo, min_face_size],
        outputs=[found_text, leave_out, gallery],
        trigger_mode="always_last",
        api_visibility="private",
    )
    restore_button.click(
        restore_faces_page,
        inputs=[photo, fidelity, min_face_size, leave_out, face_parser, *controls.components],
        outputs=[*panel.components, gallery],
        **RESTORE_WORK,
        api_visibility="private",
    )
    gr.api(detect_faces_api, api_name="detect_faces")
    gr.api(restore_faces_api, api_name="restore_faces", **RESTORE_WORK)


# --------------------------------------------------------------------------------------------
# Colorize tab and its API endpoint
# --------------------------------------------------------------------------------------------

HINT_COLOURS = ["#b22222", "#e07b39", "#e8c07d", "#d9a38a", "#f2d16b", "#4f7942", "#87a96b", "#4682b4",
                "#87ceeb", "#1c2e5a", "#6b4226", "#8e7cc3", "#ffffff"]
"""Brush colours offered for colour hints (reds, skin and hair tones, greens, blues, ...)."""


@_user_errors("showing the photo for colour hints")
def show_hint_canvas(photo_path: str | None):
    """The uploaded photo as the hint editor's background (nothing painted yet)."""
    upload = Upload.of(photo_path)
    if upload is None:
        return None
    photo = _load(upload)
    _warn(photo.metadata.notices)
    value, _ = mask_editor.editor_value(imageio.to_pil(photo), np.zeros((photo.height, photo.width), np.float32))
    return value


def _hints_from_editor(editor_value: dict | None, photo: imageio.Photo) -> tuple:
    """Colour hints (photo pixels) from the strokes painted in the hint editor."""
    layers = (editor_value or {}).get("layers") or []
    hints: tuple = ()
    box = mask_editor.editor_box(photo.width, photo.height)
    for layer in layers:
        if layer is not None and np.asarray(layer).shape[:2] == (mask_editor.EDITOR_SIDE, mask_editor.EDITOR_SIDE):
            hints += colorize_stage.hints_from_painting(np.asarray(layer), box, photo.size)
    return hints


def _reference_pixels(reference: str | dict | FileData | None) -> np.ndarray | None:
    upload = Upload.of(reference)
    return None if upload is None else _load(upload).pixels


def _colorize_options(reference, hints, hint_reach, colour_strength) -> ColorizeOptions:
    """ColorizeOptions from the tab's controls or the API (colour_strength 0 = the default)."""
    return ColorizeOptions(
        reference=reference,
        hints=hints or (),
        hint_reach=float(0.15 if hint_reach is None else hint_reach),
        colour_strength=float(colour_strength) if colour_strength else None,
    )


def _colorize_details(outcome: Outcome) -> str:
    findings = outcome.result.stages[0].findings
    source = "reference photo" if findings["reference"] else "the model alone"
    hints = f", {findings['hints']} hint points" if findings["hints"] else ""
    return f"**Colour from:** {source}{hints} · mean chroma C* {findings['mean_chroma']:.1f}"


@_user_errors("colouring this photo")
def colorize_page(
    photo_path: str | None,
    reference_path: str | None,
    editor_value: dict | None,
    hint_reach: float,
    colour_strength: float,
    engine: str,
    seed: float,
    steps: float,
    fast: bool,
    progress=gr.Progress(track_tqdm=True),
):
    """Colour the uploaded photo from the reference and the painted hints; returns the result panel's values."""
    upload = Upload.of(photo_path)
    photo = _load(upload)
    colorize = _colorize_options(_reference_pixels(reference_path), _hints_from_editor(editor_value, photo), hint_reach,
                                 colour_strength)
    options = _common_options(engine, seed, steps, fast, {"colorize": colorize})
    outcome = run_request(photo, "colorize", options, source_name=upload.name, progress=progress)
    return ResultPanel.showing(outcome, _colorize_details(outcome))


@_user_errors("colouring this photo")
def colorize_api(
    photo: FileData,
    reference: FileData | None = None,
    hints: list | None = None,
    hint_reach: float = 0.15,
    engine: Engine = "auto",
    seed: int = 0,
    steps: int = 0,
    fast: bool = False,
    colour_strength: float = 0.0,
) -> tuple[FileData, dict]:
    """Colour a black-and-white or sepia photo: the coloured PNG (the photo's size, its
    lightness unchanged) and a summary.

    Args:
        photo: the photo (JPEG, PNG, WebP, TIFF, BMP or GIF).
        reference: a colour photo of a similar scene whose colours are used; needed by the
            classical engine; None = the diffusion model colours alone.
        hints: colour hints in photo pixels, e.g. [{"x": 120, "y": 80, "radius": 10, "colour":
            [200, 30, 30]}], strokes {"points": [[x, y], ...], "radius": 8, "colour": "#c81e1e"},
            or [x, y, radius, [r, g, b]]; r, g, b in 0-255.
        hint_reach: how far a hint spreads inside its object, share of the photo's side, 0.01-1.
        engine: "auto", "classical" or "diffusion".
        seed: >= 0, for the diffusion engine.
        steps: 0 = the engine's default, else 1-200.
        fast: LCM fast mode (diffusion engine).
        colour_strength: diffusion strength, 0.1-1; 0 = 0.35 with a reference, 0.75 without.
    """
    upload = Upload.of(photo)
    image = _load(upload)
    colorize = _colorize_options(_reference_pixels(reference), hints, hint_reach, colour_strength)
    options = _common_options(engine, seed, steps, fast, {"colorize": colorize})
    outcome = run_request(image, "colorize", options, source_name=upload.name)
    return FileData(path=str(outcome.path)), outcome.summary()


def build_colorize_tab() -> None:
    """The Colorize tab: the gray photo, a colour reference photo, optional colour hints painted
    on the photo, Colorize, the shared result panel; and the endpoint ``/colorize``."""
    with gr.Row():
        with gr.Column(scale=1, min_width=280):
            photo = build_photo_input("colorize")
            reference = gr.File(label="Colour reference photo (a similar scene in colour)", file_types=["image"],
                                file_count="single", type="filepath", elem_id="colorize-reference")
            with gr.Accordion("Advanced", open=False):
                hint_reach = gr.Slider(0.01, 1.0, value=0.15, step=0.01, label="How far a colour hint spreads",
                                       info="Share of the photo's side; colour stops at edges either way.")
                colour_strength = gr.Slider(0.0, 1.0, value=0.0, step=0.05,
                                            label="Diffusion strength (0 = 0.35 with a reference, 0.75 without)")
                controls = build_engine_controls()
            colorize_button = gr.Button("Colorize", variant="primary", elem_id="colorize-run")
        with gr.Column(scale=2):
            editor = build_painting_editor(
                label="Colour hints (optional): paint a colour where you know it, e.g. the dress was red",
                brush=gr.Brush(colors=HINT_COLOURS, default_color=HINT_COLOURS[0], color_mode="defaults"),
                layer="Hints",
                placeholder="Upload a photo: paint colour hints on it here.",
                elem_id="colorize-hints",
            )
    panel = build_result_panel("colorize")

    photo.change(
        lambda: (None, *ResultPanel.cleared()),
        inputs=None,
        outputs=[editor, *panel.components],
        queue=False,
        api_visibility="private",
    ).then(show_hint_canvas, inputs=[photo], outputs=[editor], api_visibility="private")
    colorize_button.click(
        colorize_page,
        inputs=[photo, reference, editor, hint_reach, colour_strength, *controls.components],
        outputs=panel.components,
        **RESTORE_WORK,
        api_visibility="private",
    )
    gr.api(colorize_api, api_name="colorize", **RESTORE_WORK)


# --------------------------------------------------------------------------------------------
# Restore tab: the whole chain in one click, and its API endpoint
# --------------------------------------------------------------------------------------------

CLASSICAL_COST = {"scratch": (0.5, 6.0), "denoise": (0.2, 7.0), "face": (0.8, 4.5), "colorize": (0.5, 2.7)}
"""(seconds, seconds per megapixel) of each stage on the classical engine, the starting point of
:data:`COSTS`: fitted to four bundled examples (1896NewsBoyGirl, 1908FamilyPhoto,
FarmWomen1895, 1860Girls; 0.25-1.65 MP) restored by the full chain on 2 CPU cores shared with
other work (1860Girls: denoise 11 s, face 7.5 s, colorize 4.5 s; scratch 3.7-16 s as the load varied)."""
SLOW_SECONDS = 15.0
"""An estimate above this is shown in bold before the restoration starts."""
_ESTIMATE_MARGIN = 1.25  # estimates err on the long side
_COST_MIN_MEGAPIXELS = 0.1  # smaller photos say little about the cost per megapixel
_COST_WEIGHT = 0.3  # weight of the latest request in the moving average


class StageCosts:
    """Seconds per megapixel of each classical stage, following this machine: each classical
    request's stage seconds move the figure (an exponential moving average), so the estimate
    fits a slow machine or a loaded one. Shared by every request (it holds no user data)."""

    def __init__(self, initial: dict[str, tuple[float, float]]):
        self._fixed = {name: fixed for name, (fixed, _) in initial.items()}
        self._per_megapixel = {name: per_mp for name, (_, per_mp) in initial.items()}
        self._lock = threading.Lock()

    def estimate(self, megapixels: float, names) -> float:
        """Seconds the classical work of the stages ``names`` takes on a photo of ``megapixels``."""
        with self._lock:
            return sum(self._fixed[name] + self._per_megapixel[name] * megapixels for name in names)

    def record(self, megapixels: float, reports) -> None:
        """Learn from a finished classical request: its ``StageReport``s, on ``megapixels``."""
        if megapixels < _COST_MIN_MEGAPIXELS:
            return
        with self._lock:
            for report in reports:
                if report.name in self._per_megapixel:
                    observed = max(0.0, report.seconds - self._fixed[report.name]) / megapixels
                    old = self._per_megapixel[report.name]
                    self._per_megapixel[report.name] = (1 - _COST_WEIGHT) * old + _COST_WEIGHT * observed


COSTS = StageCosts(CLASSICAL_COST)
"""The cost model the estimates use (see :class:`StageCosts`)."""

NO_COLOUR_SOURCE = "Colour was not added: add a colour reference photo, or tick *Automatic colour*."
AUTO_COLOUR_UNAVAILABLE = (
    "Automatic colour needs the diffusion engine, which is not available here (no weights or no GPU), "
    "so the photo was restored without colour; add a colour reference photo to colour it."
)


def estimate_seconds(width: int, height: int, names, engine: str) -> float:
    """Seconds the classical work of ``names`` takes on a ``width`` x ``height`` photo on this
    machine (:data:`COSTS`); the diffusion engine's model time comes on top."""
    return COSTS.estimate(width * height / 1e6, names) * _ESTIMATE_MARGIN


def _estimate_text(size: tuple[int, int] | None, names, engine: str) -> str:
    """One Markdown line: the photo's size and about how long restoring it takes."""
    if not size:
        return ""
    width, height = size
    if not names:
        return f"{width}×{height} px · every stage is switched off."
    seconds = estimate_seconds(width, height, names, engine)
    figure = f"about {math.ceil(seconds)} s" if seconds < 90 else f"about {math.ceil(seconds / 60)} min"
    figure = f"**{figure}**" if seconds > SLOW_SECONDS else figure
    model = " plus the diffusion model's time" if _engine_to_run(engine) == "diffusion" else ""
    return f"{width}×{height} px ({width * height / 1e6:.1f} MP) · restoring it takes {figure}{model} here."


def _chain_plan(switches: dict[str, bool], *, reference_given: bool, automatic_colour: bool, engine: str):
    """(stage names to run, in order; notices about stages left out) for the Restore tab.

    Colorize runs only with a reference photo, or with *automatic colour* on the diffusion
    engine; on the classical engine automatic colour is left out with a notice, not an error.

    Raises:
        InputError: nothing would run (every stage off, or only colour without a source).
    """
    names = [stage.name for stage in STAGES if switches.get(stage.name)]
    notices = []
    if "colorize" in names and not reference_given:
        if not automatic_colour:
            names.remove("colorize")
            notices.append(NO_COLOUR_SOURCE)
        elif _engine_to_run(engine) == "classical":
            names.remove("colorize")
            notices.append(AUTO_COLOUR_UNAVAILABLE)
    if not names:
        raise InputError(_plain(notices[0]) if notices else "every stage is switched off; switch on at least one")
    return tuple(names), notices


def _chain_options(names, *, sensitivity, denoise_strength, fidelity, reference) -> dict:
    """Per-stage options of the Restore tab's main controls, for the stages in ``names``.

    ``denoise_strength`` is the denoise stage's ``grain_scale``: it scales the grain the stage
    measures on the photo it receives (1 = as measured, 0 = keep the grain; blur and fading are
    corrected either way).
    """
    chosen = {
        "scratch": ScratchOptions(sensitivity=float(0.5 if sensitivity is None else sensitivity)),
        "denoise": DenoiseOptions(grain_scale=1.0 if denoise_strength is None else float(denoise_strength)),
        "face": _face_options(fidelity, None, (), False),
        "colorize": _colorize_options(reference, (), None, 0),
    }
    return {name: chosen[name] for name in names}


def run_chain(
    photo_value: str | dict | FileData | None,
    scratch: bool,
    sensitivity: float,
    denoise: bool,
    denoise_strength: float,
    face: bool,
    fidelity: float,
    colorize: bool,
    reference: str | dict | FileData | None,
    automatic_colour: bool,
    engine: str,
    seed,
    steps,
    fast,
    *,
    progress: gr.Progress | None = None,
    keep_stage_images: bool = False,
) -> tuple[Outcome, list[str]]:
    """The Restore tab's and ``/restore``'s work (their arguments, in their order): the chain,
    its outcome and notices about stages left out (with ``keep_stage_images``, thumbnails of
    each step's result)."""
    upload = Upload.of(photo_value)
    photo = _load(upload)
    reference_pixels = _reference_pixels(reference)
    engine = str(engine or "auto")
    names, notices = _chain_plan(
        {"scratch": scratch, "denoise": denoise, "face": face, "colorize": colorize},
        reference_given=reference_pixels is not None,
        automatic_colour=bool(automatic_colour),
        engine=engine,
    )
    if progress is not None:
        seconds = estimate_seconds(photo.width, photo.height, names, engine)
        progress(0.0, desc=f"Starting: {len(names)} step(s), about {math.ceil(seconds)} s of classical work")
    stage_options = _chain_options(names, sensitivity=sensitivity, denoise_strength=denoise_strength,
                                   fidelity=fidelity, reference=reference_pixels)
    options = _common_options(engine, seed, steps, fast, stage_options)
    outcome = run_request(photo, names, options, source_name=upload.name, progress=progress,
                          keep_stage_images=keep_stage_images)
    return outcome, notices


def _chain_details(outcome: Outcome, notices: list[str]) -> str:
    ran = " → ".join(f"{stage_named(stage.name).title} {stage.seconds:.1f} s" for stage in outcome.result.stages)
    return " · ".join([f"**Steps:** {ran}", *notices])


@_user_errors("looking at this photo")
def inspect_restore_photo(photo_path: str | None, *chain_controls):
    """On upload: the photo's size (kept for the estimate) and the estimate line."""
    upload = Upload.of(photo_path)
    if upload is None:
        return None, ""
    photo = _load(upload)
    _warn(photo.metadata.notices)
    size = (photo.width, photo.height)
    return size, restore_estimate(size, *chain_controls)


def restore_estimate(size, scratch_on, denoise_on, face_on, colorize_on, reference_path, automatic_colour, engine) -> str:
    """The estimate line for the stages switched on (no file is read)."""
    switches = {"scratch": scratch_on, "denoise": denoise_on, "face": face_on, "colorize": colorize_on}
    try:
        names, _ = _chain_plan(switches, reference_given=bool(reference_path), automatic_colour=bool(automatic_colour),
                               engine=str(engine or "auto"))
    except InputError:
        names = ()
    return _estimate_text(tuple(size) if size else None, names, str(engine or "auto"))


@_user_errors("restoring this photo")
def restore_page(
    photo_path: str | None,
    scratch_on: bool,
    sensitivity: float,
    denoise_on: bool,
    denoise_strength: float,
    face_on: bool,
    fidelity: float,
    colorize_on: bool,
    reference_path: str | None,
    automatic_colour: bool,
    engine: str,
    seed: float,
    steps: float,
    fast: bool,
    progress=gr.Progress(track_tqdm=True),
):
    """Run the whole chain on the uploaded photo; returns the result panel's values and the
    gallery of each stage's result."""
    outcome, notices = run_chain(
        photo_path, scratch_on, sensitivity, denoise_on, denoise_strength, face_on, fidelity, colorize_on,
        reference_path, automatic_colour, engine, seed, steps, fast, progress=progress, keep_stage_images=True,
    )
    _warn(notice for notice in notices if notice != NO_COLOUR_SOURCE)  # that one is in the result line
    gallery = gr.Gallery(value=list(outcome.stage_images), visible=True)
    return (*ResultPanel.showing(outcome, _chain_details(outcome, notices)), gallery)


@_user_errors("restoring this photo")
def restore_api(
    photo: FileData,
    scratch: bool = True,
    sensitivity: float = 0.5,
    denoise: bool = True,
    denoise_strength: float = 1.0,
    face: bool = True,
    fidelity: float = 0.7,
    colorize: bool = True,
    reference: FileData | None = None,
    automatic_colour: bool = False,
    engine: Engine = "auto",
    seed: int = 0,
    steps: int = 0,
    fast: bool = False,
) -> tuple[FileData, dict]:
    """Restore a photo with the whole chain (scratches, denoise/deblur, faces, colour): the
    restored PNG (the photo's size) and a summary listing every stage that ran.

    Args:
        photo: the photo (JPEG, PNG, WebP, TIFF, BMP or GIF).
        scratch: remove scratches and cracks.
        sensitivity: scratch detection sensitivity in [0, 1].
        denoise: remove grain and blur, restore fading.
        denoise_strength: grain removed relative to the measured grain, 0-2 (1 = as measured).
        face: make faces clearer.
        fidelity: 0-1, higher stays closer to the input face.
        colorize: add colour, from ``reference`` or (``automatic_colour``) from the diffusion model.
        reference: a colour photo of a similar scene; None = no reference.
        automatic_colour: colour without a reference (diffusion engine only; on the classical
            engine colour is left out and ``notices`` says so).
        engine: "auto", "classical" or "diffusion".
        seed: >= 0, for the diffusion engine.
        steps: 0 = the engine's default, else 1-200.
        fast: LCM fast mode (diffusion engine).
    """
    outcome, notices = run_chain(
        photo, scratch, sensitivity, denoise, denoise_strength, face, fidelity, colorize, reference, automatic_colour,
        engine, seed, steps, fast,
    )
    summary = outcome.summary()
    return FileData(path=str(outcome.path)), summary | {"notices": [*summary["notices"], *map(_plain, notices)]}


def pick_example(selected: gr.SelectData):
    """The example photo whose thumbnail was clicked (an index into the fixed list, nothing else)."""
    examples = example_photos()
    index = selected.index if isinstance(selected.index, int) else -1
    if not 0 <= index < len(examples):
        raise gr.Error("Choose one of the example photos.")
    return str(examples[index].path)


def build_restore_tab() -> None:
    """The Restore tab: one upload runs every stage in order, each with an on/off switch and its
    main control; the estimate, the progress naming the stage, the shared result panel, a gallery
    of each stage's result and clickable example photos; and the endpoint ``/restore``."""
    status = engine_status()
    with gr.Row():
        with gr.Column(scale=1, min_width=280):
            photo = build_photo_input("restore", examples=False)
            estimate = gr.Markdown(elem_id="restore-estimate")
            examples = example_photos()
            gr.Markdown(f"**Or try an example:** one click restores it. {EXAMPLES_CREDIT}",
                        elem_id="restore-examples-credit")
            example_gallery = gr.Gallery(
                value=[(str(example.path), example.caption) for example in examples],
                label="Example photos",
                columns=4,
                height=300,
                allow_preview=False,
                interactive=False,
                object_fit="cover",
                buttons=[],
                elem_id="restore-examples",
            )
        with gr.Column(scale=1, min_width=280):
            scratch_on = gr.Checkbox(value=True, label="1. Remove scratches, cracks and specks", elem_id="restore-scratch-on")
            sensitivity = gr.Slider(0, 1, value=0.5, step=0.05, label="Scratch sensitivity",
                                    info="Higher finds fainter scratches (and more false ones).", elem_id="restore-sensitivity")
            denoise_on = gr.Checkbox(value=True, label="2. Remove grain and blur, restore faded contrast",
                                     elem_id="restore-denoise-on")
            denoise_strength = gr.Slider(0, 2, value=1, step=0.1, label="Denoise strength",
                                         info="1 = the grain measured on the photo; 0 keeps the grain.",
                                         elem_id="restore-denoise-strength")
            face_on = gr.Checkbox(value=True, label="3. Make faces clearer", elem_id="restore-face-on")
            fidelity = gr.Slider(0, 1, value=0.7, step=0.05, label="Face fidelity",
                                 info="Higher stays closer to the input face.", elem_id="restore-fidelity")
            colorize_on = gr.Checkbox(value=True, label="4. Colorize (with a reference photo or automatic colour)",
                                      elem_id="restore-colorize-on")
            reference = gr.File(label="Colour reference photo (optional: a similar scene in colour)",
                                file_types=["image"], file_count="single", type="filepath", elem_id="restore-reference")
            automatic_colour = gr.Checkbox(
                value=False,
                interactive=status.diffusion_available,
                label="Automatic colour (no reference; diffusion engine)",
                info="The diffusion model chooses the colours."
                if status.diffusion_available
                else "Unavailable here: the classical engine colours only from a reference photo.",
                elem_id="restore-automatic-colour",
            )
            with gr.Accordion("Advanced", open=False):
                controls = build_engine_controls()
            restore_button = gr.Button("Restore", variant="primary", elem_id="restore-run")
    panel = build_result_panel("restore")
    stage_gallery = gr.Gallery(label="The photo after each step", columns=5, height=220, format="png",
                               visible=False, buttons=["fullscreen"], elem_id="restore-stages")
    size = gr.State(None)

    chain_controls = [scratch_on, denoise_on, face_on, colorize_on, reference, automatic_colour, controls.engine]
    run_inputs = [photo, scratch_on, sensitivity, denoise_on, denoise_strength, face_on, fidelity, colorize_on,
                  reference, automatic_colour, *controls.components]
    photo.change(
        lambda: (None, gr.Gallery(value=[], visible=False), *ResultPanel.cleared()),
        inputs=None,
        outputs=[size, stage_gallery, *panel.components],
        queue=False,
        api_visibility="private",
    ).then(inspect_restore_photo, inputs=[photo, *chain_controls], outputs=[size, estimate], api_visibility="private")
    for control in chain_controls:
        control.change(restore_estimate, inputs=[size, *chain_controls], outputs=[estimate], queue=False,
                       api_visibility="private")
    restore_button.click(
        restore_page,
        inputs=run_inputs,
        outputs=[*panel.components, stage_gallery],
        **RESTORE_WORK,
        api_visibility="private",
    )
    example_gallery.select(pick_example, inputs=None, outputs=[photo], queue=False, api_visibility="private").then(
        restore_page,
        inputs=run_inputs,
        outputs=[*panel.components, stage_gallery],
        **RESTORE_WORK,
        api_visibility="private",
    )
    gr.api(restore_api, api_name="restore", **RESTORE_WORK)


TAB_BUILDERS = {
    "scratch": build_scratch_tab, "denoise": build_denoise_tab, "face": build_face_tab, "colorize": build_colorize_tab,
}
"""One tab builder per stage name; ``build_demo`` makes a tab for each stage in ``STAGES``."""


# --------------------------------------------------------------------------------------------
# The page
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SharedView:
    """The part of the page a share link opens: hidden unless the page's URL has ``?result=ID``."""

    column: gr.Column
    comparison: gr.ImageSlider
    download: gr.DownloadButton
    info: gr.Markdown

    @property
    def components(self) -> list:
        return [self.column, self.comparison, self.download, self.info]


def build_shared_view() -> SharedView:
    with gr.Column(visible=False, elem_id="shared-result") as column:
        gr.Markdown("## A restored photo shared with you")
        info = gr.Markdown(elem_id="shared-result-info")
        comparison = gr.ImageSlider(label="Before / after", type="filepath", format="png", interactive=False,
                                    max_height=640, elem_id="shared-before-after")
        download = gr.DownloadButton("Download the restored photo (PNG)", visible=False, variant="primary",
                                     elem_id="shared-download")
    return SharedView(column, comparison, download, info)


def show_shared(request: gr.Request):
    """Values of the shared view for the page's ``?result=ID`` (hidden without one). A bad,
    guessed or expired id shows one message and nothing else."""
    share_id = request.query_params.get("result") if request is not None else None
    if share_id is None:
        return gr.Column(visible=False), None, gr.DownloadButton(visible=False), ""
    try:
        shared = shares.open_shared(share_id)
    except shares.ShareNotFoundError as error:
        return gr.Column(visible=True), None, gr.DownloadButton(visible=False), f"**{error}**"
    details = shared.details
    minutes = max(1, round(shared.expires_in / 60))
    text = (
        f"{' → '.join(details.get('stages', []))} · **Engine that ran:** {details.get('engine')} · "
        f"{details.get('width')}×{details.get('height')} px · this link works for about {minutes} more minutes."
    )
    button = gr.DownloadButton(label="Download the restored photo (PNG)", value=str(shared.after), visible=True)
    return gr.Column(visible=True), (str(shared.before), str(shared.after)), button, text


def _engine_notice() -> str:
    """Markdown notice saying which engine runs here (and how to get the diffusion one)."""
    return engine_status().message


def launch_options() -> dict:
    """Keyword arguments for ``demo.launch`` that the app relies on (the upload limit)."""
    return {"max_file_size": MAX_FILE_SIZE, "css": _PAGE_CSS}


_PAGE_CSS = """
.limits p { font-size: var(--text-sm); opacity: 0.8; }
@media (max-width: 480px) { .gradio-container { padding-left: 4px !important; padding-right: 4px !important; } }
"""


def build_demo() -> gr.Blocks:
    """Build the app (no model is loaded here; the pipeline loads what it needs on first use).

    Uploads (gradio's cache) and results (:mod:`restoration.outputs`) live as long as
    ``RESTORATION_MAX_AGE_SECONDS`` says (an hour by default). The restoring events share the
    concurrency id "restore" without a gradio limit: :data:`WORK_SLOTS` limits them per engine.
    """
    max_age = int(outputs.configured_max_age())
    gr.set_static_paths([EXAMPLES_DIR])
    with gr.Blocks(title="Old-photo restoration", delete_cache=(max(60, max_age // 4), max_age)) as demo:
        shared = build_shared_view()  # first: a share link opens on the result
        gr.Markdown(INTRO)
        with gr.Accordion("What each tab does", open=False):
            gr.Markdown(TABS_HELP)
        notice = gr.Markdown(_engine_notice(), elem_id="engine-notice")
        with gr.Tab("Restore", id="restore"):
            build_restore_tab()
        for stage in STAGES:
            with gr.Tab(stage.title, id=stage.name):
                TAB_BUILDERS[stage.name]()
        # Weights may be downloaded while the app runs: refresh the notice on every page load.
        demo.load(_engine_notice, outputs=[notice], queue=False, api_visibility="private")
        demo.load(show_shared, inputs=None, outputs=shared.components, queue=False, api_visibility="private")
    demo.queue(default_concurrency_limit=1, max_size=MAX_QUEUE)
    return demo


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    zerogpu.preload_for_zero_gpu()
    build_demo().launch(**launch_options())
