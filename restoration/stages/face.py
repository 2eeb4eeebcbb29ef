"""Faces: find them, restore each one, paste it back without a seam and without new colour.

Old group photos hold many small, soft, grainy faces. The stage finds them (facexlib's
RetinaFace when its weights are here, else the offline detector of
:mod:`restoration.classical.face_detector`), numbers them from left to right, and restores each
face that is not left out (``exclude_faces``):

* classical engine: the face's window, at the photo's own resolution, is denoised with the
  grain measured on the whole photo, its soft focus undone and its edges given detail; part of
  the removed grain is given back (:mod:`restoration.classical.face_detail`);
* diffusion engine: then the template-aligned crop of that result, at the model's working size,
  is refined SDEdit-style (all-white mask, ``strength`` from ``fidelity``: 0.1 at fidelity 1,
  0.5 at fidelity 0), one seed per face, and only the refinement's fine detail is carried back.

What goes back into the photo is the change, not the crop: through a feathered mask (an ellipse
over the face, or ParseNet's face map with the opt-in, non-commercial ``face_parser``) that is
exactly 0 away from the face, with the change's coarse part removed (tones, shading and colour
stay the original's). A gray, sepia or other monochrome print gets luminance changes only, so
no face gains colour. Pixels away from the faces are the input's own.

Identity: nothing is generated from scratch: the classical path only filters, and the model
only adds detail finer than about 1/64 of the crop on top of the face's own structure.

References:
    Meng et al., "SDEdit", ICLR 2022. Wang et al., "GFPGAN", CVPR 2021 (alignment and
    paste-back). Deng et al., "RetinaFace", CVPR 2020.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field

import numpy as np

from .. import engine as diffusion
from .. import face_models, faces, zerogpu
from ..classical.face_detail import clean_face_region, grain_share
from ..classical.face_detector import Face, detect_faces
from ..classical.grain import estimate_noise
from ..classical.tone import estimate_tone
from ..errors import InputError, WeightsUnavailableError
from ..regions import Window, composite, keep_fine_change
from .context import Stage, StageContext, StageOutput

__all__ = [
    "STAGE",
    "FaceOptions",
    "FoundFaces",
    "face_numbers",
    "find_faces",
    "refine_face_crops",
    "strength_for",
    "run",
]

logger = logging.getLogger(__name__)

LEVELS = 255.0
MIN_FACE_SIZE = 12
_STRENGTH_AT_FULL_FIDELITY, _STRENGTH_AT_NO_FIDELITY = 0.1, 0.5
_WINDOW_MARGIN = 16  # px of context around the paste mask for the denoiser and the blur estimate
_COARSE_SHARE = 1.0 / 8.0  # changes coarser than 1/8 of the face are dropped (tones stay the input's)
_CROP_DETAIL_SHARE = 1.0 / 64.0  # the model's change finer than 1/64 of its crop is kept


def face_numbers(text: str) -> tuple[int, ...]:
    """Parse face numbers such as ``"1,3"`` or ``"2 4"`` (the CLI's ``--exclude-faces``)."""
    parts = [part for part in str(text).replace(",", " ").split() if part]
    try:
        return tuple(int(part) for part in parts)
    except ValueError:
        raise ValueError(f"face numbers must be whole numbers like 1,3; got {text!r}") from None


face_numbers.__name__ = "face numbers"  # argparse names the type in its error message


@dataclass(frozen=True)
class FaceOptions:
    """Options of the face stage.

    Attributes:
        fidelity: 0..1, higher = closer to the input (default 0.7): less detail added
            classically, a lower SDEdit strength (0.5 at 0, 0.1 at 1) with diffusion.
        min_face_size: smallest face looked for, px from the forehead to the chin (about the side of
            RetinaFace's boxes; the offline detector's boxes start at the brows), >= 12 (default 24).
        exclude_faces: numbers of faces to leave as they are (faces are numbered from 1, left to
            right, as the findings and the app list them).
        face_parser: paste through ParseNet's face map instead of an ellipse; needs its opt-in
            weights (CC BY-NC-SA 4.0, non-commercial).
    """

    fidelity: float = field(
        default=0.7, metadata={"help": "0-1, higher stays closer to the input face", "type": float}
    )
    min_face_size: int = field(default=24, metadata={"help": "smallest face to look for, px (>= 12)", "type": int})
    exclude_faces: tuple[int, ...] = field(
        default=(), metadata={"help": "faces to leave out, by number from the left, e.g. 1,3", "type": face_numbers}
    )
    face_parser: bool = field(
        default=False,
        metadata={"help": "paste through the ParseNet face parser (opt-in weights, CC BY-NC-SA: non-commercial)"},
    )

    def __post_init__(self) -> None:
        fidelity = self.fidelity
        if isinstance(fidelity, bool) or not isinstance(fidelity, (int, float, np.number)) or not 0.0 <= fidelity <= 1.0:
            raise InputError(f"fidelity must be between 0 and 1, got {fidelity!r}")
        size = self.min_face_size
        if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < MIN_FACE_SIZE:
            raise InputError(f"min_face_size must be a whole number of px >= {MIN_FACE_SIZE}, got {size!r}")
        numbers = self.exclude_faces
        if isinstance(numbers, str) or not isinstance(numbers, (tuple, list)):
            raise InputError(f"exclude_faces must be a list of face numbers, e.g. (1, 3); got {numbers!r}")
        if any(isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1 for n in numbers):
            raise InputError(f"face numbers start at 1; got {list(numbers)!r}")
        object.__setattr__(self, "fidelity", float(fidelity))
        object.__setattr__(self, "exclude_faces", tuple(sorted({int(n) for n in numbers})))

    def check(self, common) -> None:
        """The parser needs its weights here (fetched only on request: they are non-commercial)."""
        if self.face_parser and not face_models.parser_available():
            raise WeightsUnavailableError(f"the face parser is not on this machine: {face_models.PARSENET_LICENCE_NOTE}")


@dataclass(frozen=True)
class FoundFaces:
    """What :func:`find_faces` found: faces numbered 1.. from left to right, which detector ran,
    and notices (e.g. RetinaFace's weights failed to load)."""

    faces: list[Face]
    detector: str
    notices: list[str]

    def findings(self) -> list[dict]:
        """One JSON-serialisable dict per face: number, box [x, y, w, h], score, landmarks."""
        return [
            {
                "number": number,
                "box": [int(v) for v in face.box],
                "score": round(float(face.score), 3),
                "landmarks": [[round(float(x), 1), round(float(y), 1)] for x, y in landmarks_of(face)],
            }
            for number, face in enumerate(self.faces, start=1)
        ]


def landmarks_of(face: Face) -> np.ndarray:
    """The face's five landmarks (5, 2) px, or points derived from its box when it has none."""
    return face.landmarks if face.landmarks is not None else faces.landmarks_from_box(face.box)


def find_faces(image: np.ndarray, *, min_face_size: int = 24) -> FoundFaces:
    """Find faces: RetinaFace when its weights are here, else the offline detector.

    Args:
        image: (H, W, 3) float32 RGB in [0, 1].
        min_face_size: smallest face, px, >= 12.

    Returns:
        :class:`FoundFaces`, faces sorted by the centre of their box from left to right.
    """
    notices = []
    network = None
    try:
        network = face_models.retinaface()
    except WeightsUnavailableError as error:
        logger.warning("RetinaFace did not load, using the offline detector: %s", error)
        notices.append(f"The RetinaFace face detector could not be loaded ({error}); the offline detector ran instead.")
    if network is not None:
        found, detector = face_models.retinaface_faces(network, image, min_size=int(min_face_size)), "retinaface"
    else:
        found, detector = detect_faces(image, min_size=int(min_face_size)), "classical"
    found = sorted(found, key=lambda face: (face.box[0] + face.box[2] / 2, face.box[1]))
    return FoundFaces(found, detector, notices)


def strength_for(fidelity: float) -> float:
    """SDEdit strength from fidelity in [0, 1]: 0.5 at 0, 0.1 at 1, linear."""
    return _STRENGTH_AT_NO_FIDELITY + (_STRENGTH_AT_FULL_FIDELITY - _STRENGTH_AT_NO_FIDELITY) * fidelity


@dataclass
class _Paste:
    """One face being restored: its number, alignment (at the 512 template), paste weights over
    its window, and the grain taken out of that window."""

    number: int
    landmarks: np.ndarray
    window: Window
    weights: np.ndarray
    grain: np.ndarray | None = None


def run(image: np.ndarray, context: StageContext) -> StageOutput:
    """Find the faces, restore those not left out, paste them back seamlessly.

    Args:
        image: (H, W, 3) float32 RGB in [0, 1].
        context: options (``context.stage_options`` is a :class:`FaceOptions`), the engine
            (None = classical) and progress reporting.

    Returns:
        StageOutput with the (H, W, 3) result, the paste mask (H, W) in [0, 1] (0 = untouched),
        and findings: ``faces`` (number, box [x, y, w, h] in input px, score, landmarks,
        restored), ``detector`` ("retinaface" or "classical"), ``parser`` ("parsenet" or
        "ellipse"), ``fidelity``, ``noise_levels``, ``tone``, with diffusion ``strength``; and
        ``notice`` when there is something to tell the user (no face found, numbers to leave
        out that match no face, a detector that did not load).
    """
    options: FaceOptions = context.stage_options
    context.report(0.0, "finding faces")
    found = find_faces(image, min_face_size=options.min_face_size)
    notices = list(found.notices)
    findings: dict = {"detector": found.detector, "parser": "ellipse", "fidelity": options.fidelity}
    face_findings = found.findings()
    unknown = [n for n in options.exclude_faces if n > len(found.faces)]
    if unknown:
        notices.append(f"No face numbered {', '.join(map(str, unknown))}: {len(found.faces)} found.")
    if not found.faces:
        notices.append(
            f"No faces were found (smallest size looked for: {options.min_face_size} px); no face was changed."
        )
        return StageOutput(image.copy(), None, findings | {"faces": [], "notice": " ".join(notices)})
    parser = face_models.parsenet() if options.face_parser else None
    if parser is not None:
        findings["parser"] = "parsenet"
    context.report(0.1, "measuring grain and tone")
    noise = estimate_noise(image)
    tone = estimate_tone(image).kind
    findings |= {"noise_levels": round(noise.sigma * LEVELS, 2), "tone": tone}
    monochrome = tone != "colour"

    result = image.copy()
    paste_mask = np.zeros(image.shape[:2], np.float32)
    pastes = []
    chosen = [(n, face) for n, face in enumerate(found.faces, start=1) if n not in options.exclude_faces]
    for index, (number, face) in enumerate(chosen):
        context.report(0.15 + 0.45 * index / len(chosen), f"restoring face {number} of {len(found.faces)}")
        paste = _prepare_paste(image, number, landmarks_of(face), parser)
        if paste is None:
            continue
        cleanup = clean_face_region(
            image[paste.window.slices], noise=noise, fidelity=options.fidelity, face_side=_face_side(paste.landmarks)
        )
        paste.grain = cleanup.grain
        restored = cleanup.clean if context.engine is not None else cleanup.clean + grain_share(options.fidelity) * cleanup.grain
        _paste_change(result, image, paste, restored, monochrome)
        paste_mask[paste.window.slices] = np.maximum(paste_mask[paste.window.slices], paste.weights)
        pastes.append(paste)
    if context.engine is not None and pastes:
        findings["strength"] = round(_refine(result, image, pastes, context, options, monochrome), 3)
    restored_numbers = {paste.number for paste in pastes}
    for entry in face_findings:
        entry["restored"] = entry["number"] in restored_numbers
    findings["faces"] = face_findings
    if notices:
        findings["notice"] = " ".join(notices)
    return StageOutput(np.clip(result, 0.0, 1.0).astype(np.float32), paste_mask, findings)


def _face_side(landmarks: np.ndarray) -> float:
    """The face's size in px: the eye-to-mouth span over 0.35 (as for a detector box)."""
    eyes = (landmarks[0] + landmarks[1]) / 2
    mouth = (landmarks[3] + landmarks[4]) / 2
    return float(np.linalg.norm(mouth - eyes)) / 0.35


def _prepare_paste(image: np.ndarray, number: int, landmarks: np.ndarray, parser) -> _Paste | None:
    """Alignment, paste mask and window of one face; None when the mask misses the photo."""
    height, width = image.shape[:2]
    matrix = faces.alignment_matrix(landmarks)
    if parser is not None:
        crop_mask = face_models.parsed_face_mask(parser, faces.warp_to_crop(image, matrix, faces.CROP_SIZE))
    else:
        crop_mask = faces.elliptical_mask()
    weights = faces.paste_weights(crop_mask, matrix, (height, width))
    rows, columns = np.nonzero(weights)
    if rows.size == 0:
        return None
    window = Window(
        max(0, int(rows.min()) - _WINDOW_MARGIN),
        max(0, int(columns.min()) - _WINDOW_MARGIN),
        min(height, int(rows.max()) + 1 + _WINDOW_MARGIN),
        min(width, int(columns.max()) + 1 + _WINDOW_MARGIN),
    )
    if min(window.height, window.width) < 8:
        return None
    return _Paste(number, landmarks, window, weights[window.slices])


def _paste_change(result: np.ndarray, original: np.ndarray, paste: _Paste, restored: np.ndarray, monochrome: bool) -> None:
    """Composite ``restored`` (the face's window) into ``result`` in place: only its change from
    ``original``, fine part only, luminance only for a monochrome print, through the paste weights."""
    slices = paste.window.slices
    change = restored - original[slices]
    if monochrome:
        change = faces.luma_change_only(change)
    change = keep_fine_change(change, sigma=_COARSE_SHARE * _face_side(paste.landmarks))
    target = np.clip(result[slices] + change, 0.0, 1.0)
    result[slices] = composite(result[slices], target, paste.weights)


def _refine(result: np.ndarray, original: np.ndarray, pastes: list[_Paste], context: StageContext, options: FaceOptions, monochrome: bool) -> float:
    """SDEdit each face's aligned crop of the classical ``result`` and paste the model's fine
    detail back (in place), then give back the grain share. Returns the strength used."""
    strength = strength_for(options.fidelity)
    settings = context.inpaint_settings(strength=strength)
    size = context.engine.working_size
    height, width = result.shape[:2]
    matrices = [faces.alignment_matrix(paste.landmarks, size=size) for paste in pastes]
    crops = [faces.warp_to_crop(result, matrix, size) for matrix in matrices]
    seeds = [settings.seed + paste.number - 1 for paste in pastes]
    context.report(0.6, f"refining {len(crops)} faces with the model ({settings.unet_steps} steps each)")
    refined = zerogpu.run_on_gpu(refine_face_crops, crops, settings, seeds, windows=len(crops), steps=settings.unet_steps)
    share = grain_share(options.fidelity)
    for paste, matrix, crop, new in zip(pastes, matrices, crops, refined):
        crop_change = keep_fine_change(new - crop, sigma=size * _CROP_DETAIL_SHARE)
        back = faces.warp_change_back(crop_change, matrix, (height, width))[paste.window.slices]
        restored = result[paste.window.slices] + back + share * paste.grain
        # the classical change is already in ``result``: paste the rest on top of it
        _paste_change(result, result.copy(), paste, restored, monochrome)
    return strength


def refine_face_crops(crops: list[np.ndarray], settings, seeds: list[int]) -> list[np.ndarray]:
    """SDEdit every aligned face crop with the shared engine (all-white mask), one seed each.

    Module-level and free of callbacks, so that ZeroGPU can run it in its GPU worker
    (``zerogpu.run_on_gpu``).

    Args:
        crops: (s, s, 3) float32 RGB in [0, 1] at the engine's working size.
        settings: ``engine.InpaintSettings`` with ``strength`` < 1.
        seeds: one seed per crop.

    Returns:
        The refined crops, same shapes, float32 in [0, 1].
    """
    engine = diffusion.get_engine()
    return [
        engine.inpaint(crop, np.ones(crop.shape[:2], np.float32), dataclasses.replace(settings, seed=seed))
        for crop, seed in zip(crops, seeds)
    ]


STAGE = Stage(
    name="face",
    title="Faces",
    description="find faces and make them clearer while they stay the same person, without seams or new colour",
    options=FaceOptions,
    run=run,
)
