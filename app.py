"""Old-photo restoration: the Gradio app (UI only; the work happens in ``restoration``).

Run it with ``python app.py``. It listens on 127.0.0.1:7860 unless gradio's usual environment
variables say otherwise (``GRADIO_SERVER_NAME=0.0.0.0``, ``GRADIO_SERVER_PORT=8080``). Tests and
other code import :func:`build_demo`; importing this module builds and loads nothing.

Calling the app from Python (``gradio_client``)
-----------------------------------------------
Two named endpoints take plain files, so they work the same from a script as from the page::

    from gradio_client import Client, handle_file

    client = Client("http://127.0.0.1:7860/")

    # 1. Where are the scratches?  -> path of "<stem>.mask.png": an 8-bit gray PNG of the
    #    photo's size, 255 (white) = damaged, 0 (black) = untouched.
    mask_png = client.predict(
        handle_file("scan.jpg"),   # photo: JPEG, PNG, WebP, TIFF, BMP or GIF file
        0.5,                       # sensitivity in [0, 1]; higher finds fainter scratches
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
                                   #   "add" = it is added to the detected one
        api_name="/restore_scratches",
    )

Arguments can also be given by name (``photo=``, ``mask=``, ``sensitivity=``, ``engine=``,
``seed=``, ``steps=``, ``fast=``, ``mask_mode=``); all but ``photo`` have the defaults shown,
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
TIFF, BMP or GIF file". Requests are queued; restorations run one at a time.
The page's own events are private (not part of this API).
"""

from __future__ import annotations

import functools
import logging
import shutil
import tempfile
import time
from pathlib import Path

import gradio as gr
import numpy as np
from PIL import Image

from restoration import imageio
from restoration.engine import on_gpu
from restoration.errors import RestorationError
from restoration.pipeline import RestoreOptions, detect_scratches, engine_status, restore
from restoration.regions import coverage_percent

__all__ = ["build_demo", "EXAMPLES_DIR"]

logger = logging.getLogger(__name__)

EXAMPLES_DIR = Path(__file__).resolve().parent / "examples"
"""Real old photographs shown as examples (see examples/PROVENANCE.md)."""

ENGINES = ["auto", "classical", "diffusion"]
MASK_MODES = ["replace", "add"]

# How the scratch mask is drawn over the photo in the editor: a brush layer of this colour whose
# alpha is the mask value times MASK_OPACITY. Painting with the brush (same colour and opacity)
# gives a mask value of 1; erasing gives 0.
MASK_RGB = (255, 23, 68)
MASK_OPACITY = 0.6
MASK_ALPHA = round(255 * MASK_OPACITY)
MASK_BRUSH_COLOR = (f"rgb{MASK_RGB}", MASK_OPACITY)

EDITOR_SIDE = 1024
"""The mask editor's canvas is EDITOR_SIDE x EDITOR_SIDE pixels: the photo is scaled to fill it
and centred on a grey margin. (Gradio's editor drops the layers it is given whenever an uploaded
background makes it resize its canvas, so the canvas size never changes.)"""
EDITOR_MARGIN_RGB = (229, 231, 235)

OUTPUT_ROOT = Path(tempfile.gettempdir()) / "restoration-app"
"""Parent of the per-request output folders; folders older than OUTPUT_MAX_AGE_S are removed."""
OUTPUT_MAX_AGE_S = 3600.0

INTRO = """\
# Old-photo restoration
Upload a scan of an old photograph. The app finds scratches and cracks and shows them in red
on the photo: paint over damage it missed, erase what is not damage, then press **Restore**.
Compare before and after with the slider and download the full-resolution PNG.
"""


# --------------------------------------------------------------------------------------------
# Helpers
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


def _named(path: str, error: RestorationError) -> RestorationError:
    """``error`` with the server's temporary path of an upload replaced by the file's name."""
    return type(error)(str(error).replace(str(path), Path(path).name))


def _load(path: str | None) -> imageio.Photo:
    """The uploaded photo at full resolution (errors name the file, not the server's copy)."""
    if not path:
        raise gr.Error("Upload a photo first.")
    try:
        return imageio.load_photo(path)
    except RestorationError as error:
        raise _named(path, error) from None


def _load_mask(path: str, photo: imageio.Photo) -> np.ndarray:
    """The uploaded mask, (H, W) float32 in [0, 1] at the photo's size."""
    try:
        return imageio.load_mask(path, size=(photo.width, photo.height))
    except RestorationError as error:
        raise _named(path, error) from None


def _progress_callback(progress: gr.Progress | None):
    """Adapt gradio's progress tracker to the pipeline's ``progress(fraction, description)``."""
    if progress is None:
        return None

    def report(fraction: float, description: str) -> None:
        progress(float(fraction), desc=description)

    return report


def _fresh_output_dir() -> Path:
    """A new folder for one request's output file; removes this app's stale ones."""
    OUTPUT_ROOT.mkdir(parents=True, exist_ok=True)
    now = time.time()
    for old in OUTPUT_ROOT.iterdir():
        try:
            if now - old.stat().st_mtime > OUTPUT_MAX_AGE_S:
                shutil.rmtree(old, ignore_errors=True)
        except OSError:
            pass
    return Path(tempfile.mkdtemp(prefix="request-", dir=OUTPUT_ROOT))


def _editor_box(width: int, height: int) -> tuple[int, int, int, int]:
    """Where the photo sits on the editor's canvas: (left, top, width, height) in canvas pixels."""
    scale = EDITOR_SIDE / max(width, height)
    w, h = max(1, round(width * scale)), max(1, round(height * scale))
    return (EDITOR_SIDE - w) // 2, (EDITOR_SIDE - h) // 2, w, h


def _resize_mask(mask: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize an (H, W) float mask in [0, 1] to ``size`` = (width, height)."""
    if (mask.shape[1], mask.shape[0]) == tuple(size):
        return mask.astype(np.float32)
    image = Image.fromarray(np.asarray(mask, dtype=np.float32), mode="F")
    resample = Image.Resampling.BOX if size[0] < mask.shape[1] else Image.Resampling.BILINEAR
    return np.clip(np.asarray(image.resize(size, resample), dtype=np.float32), 0.0, 1.0)


def _editor_value(photo: imageio.Photo, mask: np.ndarray) -> tuple[dict, dict]:
    """The editor's value (photo as background, mask as a coloured layer) and what to remember.

    Args:
        photo: the uploaded photo.
        mask: (H, W) float in [0, 1] at the photo's size, 1 = damaged.

    Returns:
        (value, detection): ``value`` for ``gr.ImageEditor``; ``detection`` for the session
        state: {"size": (W, H), "mask": (H, W) uint8 mask * 255, "box": (left, top, w, h) of
        the photo on the canvas, "alpha": (h, w) uint8 alpha of the layer sent in that box}.
    """
    left, top, w, h = _editor_box(photo.width, photo.height)
    picture = imageio.to_pil(photo).convert("RGB")
    if picture.size != (w, h):
        picture = picture.resize((w, h), Image.Resampling.LANCZOS)
    background = Image.new("RGB", (EDITOR_SIDE, EDITOR_SIDE), EDITOR_MARGIN_RGB)
    background.paste(picture, (left, top))
    alpha = np.rint(_resize_mask(mask, (w, h)) * MASK_ALPHA).astype(np.uint8)
    layer = np.zeros((EDITOR_SIDE, EDITOR_SIDE, 4), dtype=np.uint8)
    layer[..., :3] = MASK_RGB
    layer[top : top + h, left : left + w, 3] = alpha
    detection = {
        "size": (photo.width, photo.height),
        "mask": np.rint(np.clip(mask, 0.0, 1.0) * 255).astype(np.uint8),
        "box": (left, top, w, h),
        "alpha": alpha,
    }
    return {"background": background, "layers": [layer], "composite": None}, detection


def _painted_alpha(editor_value: dict | None, box: tuple[int, int, int, int]) -> np.ndarray | None:
    """Alpha (h, w) uint8 of the editor's mask layer(s) inside ``box``, or None if there is none."""
    if not editor_value or not editor_value.get("layers"):
        return None
    left, top, w, h = box
    alphas = []
    for layer in editor_value["layers"]:
        layer = np.asarray(layer)
        if layer.ndim == 3 and layer.shape[2] == 4 and layer.shape[:2] == (EDITOR_SIDE, EDITOR_SIDE):
            alphas.append(layer[top : top + h, left : left + w, 3])
    if not alphas:
        return None
    return np.max(np.stack(alphas), axis=0)


def _mask_from_editor(
    editor_value: dict | None, detection: dict | None, photo: imageio.Photo
) -> tuple[np.ndarray | None, str]:
    """The mask to repair, (H, W) float32 in [0, 1] at the photo's size, and its mask_mode.

    The editor's layer is the mask: when the user painted or erased, it replaces detection;
    when they did not, the full-resolution detected mask is used. (None, "add") lets the
    pipeline detect on its own (no detection for this photo yet).
    """
    if detection is None or tuple(detection["size"]) != (photo.width, photo.height):
        return None, "add"
    detected = detection["mask"].astype(np.float32) / 255.0
    painted = _painted_alpha(editor_value, detection["box"])
    if painted is None:
        return detected, "replace"
    sent = detection["alpha"]
    # The canvas round trip is lossless (PNG), but allow a tiny tolerance for rounding.
    edited = np.count_nonzero(np.abs(painted.astype(np.int16) - sent.astype(np.int16)) > 3)
    if edited == 0:
        return detected, "replace"
    logger.info("Using the mask painted in the editor (%d canvas pixels changed)", edited)
    mask = np.clip(painted.astype(np.float32) / MASK_ALPHA, 0.0, 1.0)
    return _resize_mask(mask, (photo.width, photo.height)), "replace"


@on_gpu(duration=120)
def _run_restore(
    photo: imageio.Photo,
    *,
    mask: np.ndarray | None,
    mask_mode: str,
    sensitivity: float,
    engine: str,
    seed: float | int | None,
    steps: float | int | None,
    fast: bool,
    progress: gr.Progress | None,
    stem: str,
):
    """Restore ``photo`` and write the full-resolution PNG in a fresh folder.

    Returns (result, restored photo, path of the PNG, seconds).
    """
    steps_value = int(steps) if steps else None
    options = RestoreOptions(
        engine=str(engine or "auto"),
        seed=int(seed or 0),
        steps=steps_value,
        sensitivity=float(sensitivity),
        mask=mask,
        mask_mode=mask_mode,
        fast=bool(fast),
    )
    started = time.perf_counter()
    result = restore(
        photo.pixels, ("scratch",), options, progress=_progress_callback(progress)
    )
    seconds = time.perf_counter() - started
    restored = photo.with_pixels(result.image)
    path = imageio.save_photo(restored, _fresh_output_dir() / f"{stem}-restored.png")
    return result, restored, Path(path), seconds


def _stem(path: str) -> str:
    stem = Path(path).stem or "photo"
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in stem)[:80]


def _summary(photo: imageio.Photo, result, seconds: float) -> dict:
    summary = result.summary()
    scratch = result.masks.get("scratch")
    return summary | {
        "width": photo.width,
        "height": photo.height,
        "mask_coverage_percent": coverage_percent(scratch) if scratch is not None else None,
        "seconds": round(seconds, 2),
        "notices": [*photo.metadata.notices, *summary["notices"]],
    }


# --------------------------------------------------------------------------------------------
# Page handlers (private events)
# --------------------------------------------------------------------------------------------


def _engine_notice() -> str:
    """Markdown notice saying which engine runs here (and how to get the diffusion one)."""
    return engine_status().message


def reset_outputs():
    """Clear everything that belongs to the previous photo (runs before detection)."""
    return (
        None,
        None,
        "",
        None,
        gr.DownloadButton(value=None, visible=False),
        "",
    )


@_user_errors("looking for scratches on this photo")
def show_detected_mask(photo_path: str | None, sensitivity: float, progress=gr.Progress()):
    """Detect scratches on the uploaded photo and show them on it in the editor.

    Returns (editor value, detection state, text about the mask).
    """
    if not photo_path:
        return None, None, ""
    progress(0.1, desc="Reading the photo")
    photo = _load(photo_path)
    _warn(photo.metadata.notices)
    progress(0.4, desc="Looking for scratches")
    mask = np.clip(detect_scratches(photo.pixels, sensitivity=float(sensitivity)), 0.0, 1.0)
    editor, detection = _editor_value(photo, mask)
    text = (
        f"Scratches found on **{coverage_percent(mask):.2f} %** of the photo "
        f"({photo.width}×{photo.height} px, sensitivity {float(sensitivity):.2f})."
    )
    return editor, detection, text


@_user_errors("restoring this photo")
def restore_from_editor(
    photo_path: str | None,
    editor_value: dict | None,
    detection: dict | None,
    sensitivity: float,
    engine: str,
    seed: float,
    steps: float,
    fast: bool,
    progress=gr.Progress(track_tqdm=True),
):
    """Restore the uploaded photo with the mask from the editor.

    Returns (before/after pair, download button, text about the result).
    """
    photo = _load(photo_path)
    mask, mask_mode = _mask_from_editor(editor_value, detection, photo)
    result, restored, path, seconds = _run_restore(
        photo,
        mask=mask,
        mask_mode=mask_mode,
        sensitivity=sensitivity,
        engine=engine,
        seed=seed,
        steps=steps,
        fast=fast,
        progress=progress,
        stem=_stem(photo_path),
    )
    # The engine notice is already at the top of the page: no toast repeating it.
    _warn(result.notices, skip=engine_status().message)
    summary = _summary(photo, result, seconds)
    text = (
        f"**Engine that ran:** {result.engine} · **Scratch mask:** "
        f"{summary['mask_coverage_percent']:.2f} % of the photo · "
        f"{photo.width}×{photo.height} px · {seconds:.1f} s"
    )
    button = gr.DownloadButton(
        label=f"Download the restored photo (PNG, {photo.width}×{photo.height})",
        value=str(path),
        visible=True,
    )
    return (imageio.to_pil(photo), imageio.to_pil(restored)), button, text


# --------------------------------------------------------------------------------------------
# API endpoints (plain files in, files out)
# --------------------------------------------------------------------------------------------


@_user_errors("looking for scratches on this photo")
def api_detect_scratches(photo: str | None, sensitivity: float = 0.5) -> str:
    """Scratch mask of a photo; returns the path of an 8-bit gray PNG, 255 = damaged."""
    image = _load(photo)
    mask = detect_scratches(image.pixels, sensitivity=float(sensitivity))
    path = imageio.save_mask(np.clip(mask, 0.0, 1.0).astype(np.float32), _fresh_output_dir() / f"{_stem(photo)}.mask.png")
    return str(path)


@_user_errors("restoring this photo")
def api_restore_scratches(
    photo: str | None,
    mask: str | None = None,
    sensitivity: float = 0.5,
    engine: str = "auto",
    seed: float = 0,
    steps: float = 0,
    fast: bool = False,
    mask_mode: str = "replace",
    progress=gr.Progress(track_tqdm=True),
):
    """Remove scratches; returns (path of the restored PNG, summary dict)."""
    image = _load(photo)
    mask_array = None
    if mask:
        mask_array = _load_mask(mask, image)
    result, _, path, seconds = _run_restore(
        image,
        mask=mask_array,
        mask_mode=mask_mode if mask_array is not None else "add",
        sensitivity=sensitivity,
        engine=engine,
        seed=seed,
        steps=steps,
        fast=fast,
        progress=progress,
        stem=_stem(photo),
    )
    return str(path), _summary(image, result, seconds)


# --------------------------------------------------------------------------------------------
# Layout
# --------------------------------------------------------------------------------------------


def _example_photos() -> list[list[str]]:
    return [[str(p)] for p in sorted(EXAMPLES_DIR.glob("*.jpg"))]


def build_demo() -> gr.Blocks:
    """Build the app (no model is loaded here; the pipeline loads what it needs on first use)."""
    with gr.Blocks(title="Old-photo restoration", delete_cache=(3600, 7200)) as demo:
        gr.Markdown(INTRO)
        notice = gr.Markdown(_engine_notice(), elem_id="engine-notice")

        with gr.Tab("Scratches"):
            with gr.Row():
                with gr.Column(scale=1, min_width=280):
                    photo = gr.File(
                        label="Old photo",
                        file_types=["image"],
                        file_count="single",
                        type="filepath",
                        elem_id="photo-upload",
                    )
                    examples = _example_photos()
                    if examples:
                        gr.Examples(
                            examples=examples,
                            inputs=[photo],
                            label="Example photos (public domain, see examples/PROVENANCE.md)",
                            cache_examples=False,
                        )
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
                        engine = gr.Radio(
                            ENGINES,
                            value="auto",
                            label="Engine",
                            info="auto: diffusion when its weights are on this machine and a "
                            "GPU is present, else classical.",
                        )
                        seed = gr.Number(value=0, precision=0, minimum=0, label="Seed")
                        steps = gr.Slider(
                            0,
                            50,
                            value=0,
                            step=1,
                            label="Diffusion steps (0 = engine default)",
                        )
                        fast = gr.Checkbox(
                            value=False, label="Fast mode (LCM, 4-8 steps; diffusion engine)"
                        )
                    restore_button = gr.Button("Restore", variant="primary", elem_id="restore")
                with gr.Column(scale=2):
                    editor = gr.ImageEditor(
                        label="Damage mask: paint missed scratches, erase false ones",
                        type="numpy",
                        image_mode="RGBA",
                        sources=[],
                        transforms=[],
                        brush=gr.Brush(
                            colors=[MASK_BRUSH_COLOR],
                            default_color=MASK_BRUSH_COLOR,
                            color_mode="fixed",
                        ),
                        eraser=gr.Eraser(),
                        layers=gr.LayerOptions(
                            allow_additional_layers=False, layers=["Damage"], disabled=True
                        ),
                        format="png",
                        canvas_size=(EDITOR_SIDE, EDITOR_SIDE),
                        height=560,
                        buttons=["fullscreen"],
                        placeholder="Upload a photo: the scratches found on it appear here.",
                        elem_id="mask-editor",
                    )
                    mask_info = gr.Markdown(elem_id="mask-info")
            with gr.Row():
                with gr.Column(scale=2):
                    comparison = gr.ImageSlider(
                        label="Before / after",
                        type="pil",
                        format="png",
                        interactive=False,
                        max_height=640,
                        elem_id="before-after",
                    )
                with gr.Column(scale=1, min_width=240):
                    result_info = gr.Markdown(elem_id="result-info")
                    download = gr.DownloadButton(
                        "Download the restored photo (PNG)",
                        visible=False,
                        variant="primary",
                        elem_id="download",
                    )
            detection = gr.State(None)

            photo.change(
                reset_outputs,
                inputs=None,
                outputs=[editor, detection, mask_info, comparison, download, result_info],
                queue=False,
                api_visibility="private",
            ).then(
                show_detected_mask,
                inputs=[photo, sensitivity],
                outputs=[editor, detection, mask_info],
                api_visibility="private",
            )
            sensitivity.release(
                show_detected_mask,
                inputs=[photo, sensitivity],
                outputs=[editor, detection, mask_info],
                trigger_mode="always_last",
                api_visibility="private",
            )
            restore_button.click(
                restore_from_editor,
                inputs=[photo, editor, detection, sensitivity, engine, seed, steps, fast],
                outputs=[comparison, download, result_info],
                concurrency_id="restore",
                api_visibility="private",
            )

        # API-only endpoints: plain file inputs, never shown on the page.
        with gr.Column(visible=False):
            api_photo = gr.File(label="photo", type="filepath")
            api_mask = gr.File(label="mask", type="filepath")
            api_sensitivity = gr.Slider(0.0, 1.0, value=0.5, label="sensitivity")
            api_engine = gr.Dropdown(ENGINES, value="auto", label="engine")
            api_seed = gr.Number(value=0, precision=0, label="seed")
            api_steps = gr.Number(value=0, precision=0, label="steps")
            api_fast = gr.Checkbox(value=False, label="fast")
            api_mask_mode = gr.Dropdown(MASK_MODES, value="replace", label="mask_mode")
            api_mask_out = gr.File(label="mask", interactive=False)
            api_restored = gr.File(label="restored", interactive=False)
            api_summary = gr.JSON(label="summary")
            detect_trigger = gr.Button(visible=False)
            restore_trigger = gr.Button(visible=False)
        detect_trigger.click(
            api_detect_scratches,
            inputs=[api_photo, api_sensitivity],
            outputs=[api_mask_out],
            api_name="detect_scratches",
            api_description="Scratch mask of a photo: a grayscale PNG of the photo's size, "
            "white = damaged.",
        )
        restore_trigger.click(
            api_restore_scratches,
            inputs=[
                api_photo,
                api_mask,
                api_sensitivity,
                api_engine,
                api_seed,
                api_steps,
                api_fast,
                api_mask_mode,
            ],
            outputs=[api_restored, api_summary],
            api_name="restore_scratches",
            api_description="Remove scratches: the restored PNG (the photo's size, alpha, ICC "
            "and EXIF kept) and a summary with the engine that ran.",
            concurrency_id="restore",
        )
        # Weights may be downloaded while the app runs: refresh the notice on every page load.
        demo.load(_engine_notice, outputs=[notice], queue=False, api_visibility="private")
    demo.queue(default_concurrency_limit=1, max_size=32)
    return demo


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    build_demo().launch()
