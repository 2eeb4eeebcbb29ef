"""Face detection in old photographs without downloaded weights.

Finds frontal and three-quarter faces down to about 24 px, including the small faces of group
and street scenes, in gray, sepia, faded and grainy prints. Three detectors propose faces, and
every proposal is verified by local evidence; a logistic score in [0, 1] combines the evidence.

Detectors and models (none is downloaded at run time):

* OpenCV's Haar cascades (Viola and Jones; Lienhart's frontal ``alt2`` cascade), shipped inside
  opencv-python (``cv2.data.haarcascades``). Always available. (The benchmark also loads the
  ``default`` and profile cascades through ``_cascade`` as baselines.)
* dlib's HOG face detector (Dalal and Triggs features, King's max-margin object detection),
  built into dlib itself, and dlib's 5-point landmark model
  ``shape_predictor_5_face_landmarks.dat`` (Kazemi and Sullivan regression trees), shipped by
  the PyPI package ``face_recognition_models``. Optional: both are imported lazily; without them
  the detector runs on the Haar cascades and MTCNN alone (a logged warning), and the landmarks
  are MTCNN's own.
* MTCNN (Zhang et al. 2016; ``restoration/classical/mtcnn.py``, MIT-licensed weights shipped in
  ``restoration/weights/mtcnn.safetensors``), a cascade of three small CNNs trained on WIDER
  FACE that finds faces from 20 px. It is a proposal source, and its last two networks check
  every candidate. Its weights ship with the code, so it is always there (a missing file is a
  ``WeightsUnavailableError``, not a silent loss of faces).

Algorithm:

1. Proposals. The alt2 cascade with one neighbour (high recall, many false alarms) on the grey
   image, when dlib is there the HOG detector (all five of its views: front, left, right
   and the two rotated fronts) with a permissive threshold on a copy enlarged so that the
   smallest face fills its 80-px window, and MTCNN with permissive stage thresholds
   (``_MTCNN_PROPOSE``), its boxes mapped onto dlib's convention. Each pass has a pixel budget
   (12 megapixels for the cascade and MTCNN, 16 for the enlarged HOG copy): past it the pass
   runs on a reduced copy, so that on scans over 12 megapixels the smallest face found grows as
   the square root of the excess (an info message says so). Proposals overlapping by an IoU of
   0.35 are one candidate; an MTCNN box leads its group, then a HOG box.

2. Evidence, per candidate, measured on a crop around it (cheap, and the same at any image size):

   * HOG score: dlib's HOG detector on the crop resized so that the face is 80 px, with the
     threshold lowered to -3 (the best score of a detection overlapping the candidate);
   * landmark stability: dlib's 5-point model run on the candidate box and on six shifted and
     scaled copies of it (10 % shifts, 15 % scalings). On a face the points stay on the eyes
     and nose; on anything else they follow the box. The mean displacement, over the box size,
     is a strong single cue (ROC AUC about 0.94 on the tuning photos' candidates);
   * eye darkness: the eyes (from the landmarks) are darker than the cheeks below them, in units
     of the local contrast;
   * symmetry: correlation of the face, turned upright by its eyes, with its mirror image;
   * MTCNN logit: the log-odds of MTCNN's best detection overlapping the candidate (IoU 0.3),
     clipped to [-3, 8]; -3 when none does. Free: it comes from the proposal pass;
   * R-Net and O-Net logits: MTCNN's second and third networks run on the candidate itself, its
     box turned into MTCNN's shape (1.25 times as tall as wide) and moved and scaled seven ways
     (``_CHECK_JITTER``), the best log-odds of each. Unlike the MTCNN logit they score every
     candidate, also those MTCNN's own first stage missed, on the 24 and 48 px crops the networks
     were trained on; the two best single cues (ROC AUC 0.99 and 0.98 on the tuning photos'
     candidates); about 0.5 s for the 30 candidates of a street scene, on one core.

   Without dlib: the eye darkness at the positions where the cascade puts the eyes, the
   left-right symmetry of the box, and the three MTCNN logits.

3. Score. One logistic regression on the evidence: with dlib on HOG score, landmark stability,
   eye darkness, symmetry and the three MTCNN logits (``_MODEL_WITH_DLIB``), without dlib on the
   five cues above (``_MODEL_WITHOUT_DLIB``); its output is the score, a probability. The feature
   sets were chosen by leave-one-photo-out recall and false alarms on the tuning photos; that
   choice replaced seven logistic views scored apart (one per detector, the best one counting)
   and dlib's CNN face detector as a cue, which found fewer faces and took 0.1 s per candidate.
   The weights were fitted on the candidates of 27 tuning photos: 10 hand-annotated group and
   street scenes and 4 almost face-free prints of the development corpus, and 13 face-free
   photos bundled with scikit-image (``TUNE_PHOTOS`` in ``benchmarks/face_detection.py``, whose
   ``--fit`` reproduces them); the benchmark reports on other photos. Candidates scoring at least
   ``threshold`` are kept, and of overlapping ones (IoU > 0.3) the higher score. A false alarm
   costs more than a miss here (face enhancement would paint a face into a coat or a wall),
   hence the default 0.5.

4. Landmarks, in FFHQ / RetinaFace order. Without dlib, MTCNN's five points (eyes, nose, mouth
   corners: already that order) of its best detection overlapping the face (IoU 0.3), none for a
   face only the cascades found. With dlib: eye centres are the means of dlib's eye
   corners; dlib's fifth point is the base of the nose, and the nose tip and the two mouth
   corners are estimated from it in the frame of the eyes (origin between the eyes, unit = eye
   distance): tip = (1.36 bx, 1.20 by - 0.37), mouth corners = (-/+0.42, 0.52 + 0.78 by), for a
   nose base at (bx, by). The constants are least-squares fits to dlib's 68-point model on 81
   faces of the corpus (residuals 0.04 eye distances for the tip, 0.09 for the mouth corners);
   the 68-point model was used for that measurement only (its training data forbid commercial
   use) and is not needed at run time.

Boxes follow dlib's convention: a square from the eyebrows to the chin, about 1.2 eye
distances wide for a frontal face (Haar boxes are mapped onto it).

Boxes at least ``_BOX_OF_FACE`` (0.8) times ``min_size`` are kept: ``min_size`` is a face's
height from the forehead to the chin, as faces are counted by eye, and the boxes, which start at
the eyebrows, are shorter.

Cost, on one core: about 1-4 s for a photo of 0.3-2 megapixels (``benchmarks/face_detection.py``);
memory is a few grey copies of the photo.

References: Viola and Jones, "Rapid object detection using a boosted cascade of simple
features", CVPR 2001; Lienhart and Maydt, "An extended set of Haar-like features for rapid
object detection", ICIP 2002; Dalal and Triggs, "Histograms of oriented gradients for human
detection", CVPR 2005; King, "Max-margin object detection", arXiv:1502.00046, 2015; Kazemi and
Sullivan, "One millisecond face alignment with an ensemble of regression trees", CVPR 2014;
Karras et al., "A style-based generator architecture for generative adversarial networks"
(FFHQ alignment), CVPR 2019.
"""

from __future__ import annotations

import functools
import importlib.util
import logging
import math
import threading
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from restoration.classical import mtcnn
from restoration.errors import InputError
from restoration.validation import check_rgb

__all__ = ["Face", "detect_faces", "dlib_available"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Face:
    """One face found in a photo.

    Attributes:
        box: (x, y, w, h) in input pixels, integers; a square from the eyebrows to the chin.
        score: confidence in [0, 1] (a calibrated probability on the tuning photos).
        landmarks: (5, 2) float32 x, y in input pixels, in FFHQ / RetinaFace order: left eye,
            right eye (as seen in the image), nose tip, left and right mouth corner; None when
            dlib is not installed. The mouth corners and the nose tip are estimated from dlib's
            eye corners and nose base (see the module docstring).
    """

    box: tuple[int, int, int, int]
    score: float
    landmarks: np.ndarray | None


# --------------------------------------------------------------------------------------------
# Parameters
# --------------------------------------------------------------------------------------------

_MIN_SIZE_FLOOR = 12  # px: smallest accepted min_size
_HAAR_WINDOW = 20  # px, window of the alt2 cascade
_HAAR_STEP = 1.1  # scale step of the cascade pyramid (proposals without dlib)
_HAAR_STEP_WITH_HOG = 1.2  # coarser proposal pass when HOG proposes too (same recall, 40 % less time)
_HAAR_SCALE = 24  # px: the cascade pass scales the image so that min_size becomes this
_HAAR_BUDGET = 12.0e6  # px: largest image the full-image cascade pass runs on
_HOG_WINDOW = 80  # px, dlib's HOG window
_HOG_BUDGET = 16.0e6  # px: largest (enlarged) image the full-image HOG pass runs on
_HOG_PROPOSE = -0.8  # HOG score above which a full-image detection is a proposal
_MERGE_IOU = 0.35  # proposals overlapping this much are one candidate
_CROP_MARGIN = 1.0  # crops reach this many box sizes beyond each side of the box
_CROP_FACE = 80  # px: the crop is resized so that the face fills the HOG window
_HOG_FLOOR = -3.0  # HOG score of a candidate the detector does not see at all
_JITTER = ((0.1, 0, 0), (-0.1, 0, 0), (0, 0.1, 0), (0, -0.1, 0), (0, 0, 0.15), (0, 0, -0.15))
_LANDMARK_FACE = 100  # px: landmarks are predicted on a crop where the face is at least this big
_NMS_IOU = 0.3  # accepted faces overlapping more than this keep the higher score
_LANDMARK_MODEL = "shape_predictor_5_face_landmarks.dat"  # in face_recognition_models/models
_MTCNN_PROPOSE = (0.5, 0.5, 0.3)  # MTCNN's stage thresholds for proposals (its own defaults: 0.6, 0.7, 0.7)
_MTCNN_MIN_FACE = 20  # px: smallest face MTCNN's pyramid looks for (its 12-px window on a copy scaled to 12/20)
_MTCNN_BUDGET = 12.0e6  # px: largest image the MTCNN pass runs on
_MTCNN_FLOOR = -3.0  # MTCNN logit of a candidate no MTCNN detection overlaps
_MTCNN_CAP = 8.0  # MTCNN logits are clipped to [_MTCNN_FLOOR, _MTCNN_CAP] (its probabilities reach 1.0)
# R-Net and O-Net check every candidate on these copies of its MTCNN-shaped box (x and y shifts as
# fractions of the box width, scaling); the best logit of the seven counts
_CHECK_JITTER = ((0, 0, 1), (0.08, 0, 1), (-0.08, 0, 1), (0, 0.08, 1), (0, -0.08, 1), (0, 0, 1.15), (0, 0, 0.87))
_CHECK_CLIP = 1e-6  # their probabilities are clipped to [_CHECK_CLIP, 1 - _CHECK_CLIP] (logits within +-13.8)
_CHECK_MARGIN = 0.6  # the check's crop reaches this many box sizes beyond each side (the copies reach about 0.2)
_BOX_OF_FACE = 0.8  # a face min_size tall (forehead to chin) has a box (brows to chin) about this fraction of it

# dlib's box relative to an alt2 box (x, y offsets and size, as fractions of the alt2 box side):
# medians over 49 faces of the tuning photos
_HAAR_TO_DLIB = (0.057, 0.144, 0.888)
# Where the alt2 cascade puts the eyes in its box (fractions; image-left eye first): medians of
# dlib's eye centres over 66 faces of the tuning photos (spread 0.02-0.03)
_HAAR_EYES = ((0.32, 0.40), (0.665, 0.40))
# dlib's box relative to an MTCNN box (x, y offsets and size, as fractions of the MTCNN box width;
# MTCNN's boxes are 1.25 times as tall as wide): medians over 79 faces of the tuning photos
_MTCNN_TO_DLIB = (-0.070, 0.066, 1.151)

# Logistic models: (feature names, means, scales, weights, intercept), printed by
# ``python benchmarks/face_detection.py --fit`` (see the module docstring, step 3).
_MODEL_WITH_DLIB = (  # 118 faces, 204 non-faces
    ("hog", "jitter", "eyes", "symmetry", "mtcnn", "rnet", "onet"),
    (-0.5508, -3.37, 0.8097, 0.221, 0.4474, 1.607, 2.053),
    (1.001, 0.9798, 0.6633, 0.3732, 4.387, 4.676, 5.497),
    (0.648, -0.5533, 0.3853, 0.09794, 1.437, 1.503, 1.064),
    -0.5576,
)
_MODEL_WITHOUT_DLIB = (  # 111 faces, 76 non-faces
    ("eyes", "symmetry", "mtcnn", "rnet", "onet"),
    (0.8376, 0.2916, 2.786, 3.968, 4.394),
    (0.6632, 0.342, 4.337, 4.705, 5.379),
    (0.2053, 0.09049, 1.143, 1.737, 1.327),
    1.388,
)


# --------------------------------------------------------------------------------------------
# Models: OpenCV's Haar cascades (always there) and dlib (optional)
# --------------------------------------------------------------------------------------------

_CASCADE_FILES = {
    "alt2": "haarcascade_frontalface_alt2.xml",
    "default": "haarcascade_frontalface_default.xml",
    "profile": "haarcascade_profileface.xml",
}


# a CascadeClassifier keeps per-call state ("0 <= scaleIdx" assertions when two requests shared
# one): each thread loads its own (about 10 ms)
_thread_cascades = threading.local()


def _cascade(name: str) -> cv2.CascadeClassifier:
    """OpenCV's cascade ``name`` for the calling thread, loaded once per thread."""
    cascades = _thread_cascades.__dict__.setdefault("by_name", {})
    if name not in cascades:
        path = Path(cv2.data.haarcascades) / _CASCADE_FILES[name]
        cascade = cv2.CascadeClassifier(str(path))
        if cascade.empty():
            raise RuntimeError(f"OpenCV could not load its Haar cascade {path}")
        cascades[name] = cascade
    return cascades[name]


@dataclass(frozen=True)
class _Dlib:
    detector: object  # dlib.fhog_object_detector (built into dlib)
    predictor: object  # dlib.shape_predictor, 5 points
    rectangle: type  # dlib.rectangle


# dlib's detectors are not safe for concurrent use ("concurrent access to an instance of this
# object is not safe", dlib's object_detector docs; two app requests crashed the process in
# dlib's HOG pass): every call into dlib holds this lock
_DLIB_LOCK = threading.Lock()


def _model_path(filename: str) -> Path | None:
    """Path of one of face_recognition_models' model files, found without importing the package
    (its ``__init__`` needs pkg_resources, which recent setuptools no longer ship)."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        path = Path(folder) / "models" / filename
        if path.is_file():
            return path
    return None


@functools.lru_cache(maxsize=1)
def _dlib() -> _Dlib | None:
    """dlib's HOG detector and 5-point model, loaded once; None (and one warning) when dlib or
    the 5-point model is missing."""
    try:
        import dlib  # noqa: PLC0415 (optional dependency, imported on first use)
    except ImportError:
        logger.warning(
            "dlib is not installed: faces are found with OpenCV's Haar cascades and MTCNN only, with more "
            "misses (pip install dlib-bin face_recognition_models)"
        )
        return None
    model = _model_path(_LANDMARK_MODEL)
    if model is None:
        logger.warning(
            "face_recognition_models is not installed: faces are found with OpenCV's Haar cascades and MTCNN "
            "only, with more misses (pip install face_recognition_models)"
        )
        return None
    return _Dlib(dlib.get_frontal_face_detector(), dlib.shape_predictor(str(model)), dlib.rectangle)


def dlib_available() -> bool:
    """True when dlib and the 5-point landmark model of ``face_recognition_models`` are installed."""
    return _dlib() is not None


# --------------------------------------------------------------------------------------------
# Boxes
# --------------------------------------------------------------------------------------------

Box = tuple[float, float, float, float]  # x, y, w, h in input pixels


def _iou(a: Box, b: Box) -> float:
    ix = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    iy = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    if ix <= 0 or iy <= 0:
        return 0.0
    inter = ix * iy
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


def _haar_to_dlib(box: Box) -> Box:
    dx, dy, s = _HAAR_TO_DLIB
    x, y, w, h = box
    return (x + dx * w, y + dy * h, s * w, s * h)


@dataclass
class _Crop:
    """A grey crop around a box, resized by ``scale``; maps crop pixels back to input pixels."""

    pixels: np.ndarray  # uint8
    x0: float
    y0: float
    scale: float

    def to_input(self, x: float, y: float) -> tuple[float, float]:
        return x / self.scale + self.x0, y / self.scale + self.y0


def _crop(gray: np.ndarray, box: Box, scale: float, margin: float = _CROP_MARGIN) -> _Crop:
    x, y, w, h = box
    side = max(w, h)
    x0 = int(max(0, math.floor(x - margin * side)))
    y0 = int(max(0, math.floor(y - margin * side)))
    x1 = int(min(gray.shape[1], math.ceil(x + w + margin * side)))
    y1 = int(min(gray.shape[0], math.ceil(y + h + margin * side)))
    pixels = gray[y0:y1, x0:x1]
    if scale != 1.0:
        interp = cv2.INTER_CUBIC if scale > 1 else cv2.INTER_AREA
        size = (max(1, round(pixels.shape[1] * scale)), max(1, round(pixels.shape[0] * scale)))
        pixels = cv2.resize(pixels, size, interpolation=interp)
    return _Crop(np.ascontiguousarray(pixels), x0, y0, scale)


def _resized(gray: np.ndarray, scale: float) -> np.ndarray:
    if scale == 1.0:
        return gray
    interp = cv2.INTER_LINEAR if scale > 1 else cv2.INTER_AREA
    size = (max(1, round(gray.shape[1] * scale)), max(1, round(gray.shape[0] * scale)))
    return cv2.resize(gray, size, interpolation=interp)


# --------------------------------------------------------------------------------------------
# Proposals
# --------------------------------------------------------------------------------------------


def _haar_scale(shape: tuple[int, int], min_size: int) -> float:
    """Scale of the full-image cascade pass: min_size -> _HAAR_SCALE px, within _HAAR_BUDGET."""
    scale = _HAAR_SCALE / min_size
    return min(scale, math.sqrt(_HAAR_BUDGET / (shape[0] * shape[1])))


def _hog_scale(shape: tuple[int, int], min_size: int) -> float:
    scale = _HOG_WINDOW / min_size
    return min(scale, math.sqrt(_HOG_BUDGET / (shape[0] * shape[1])))


def _haar_proposals(gray: np.ndarray, min_size: int, step: float) -> list[Box]:
    """alt2 cascade, one neighbour: high recall. Boxes in dlib's convention, input pixels."""
    scale = _haar_scale(gray.shape, min_size)
    small = _resized(gray, scale)
    if min(small.shape) < _HAAR_WINDOW:
        return []
    if scale * min_size < _HAAR_WINDOW:
        logger.info("large image: the cascade pass finds faces from %.0f px (min_size %d)", _HAAR_WINDOW / scale, min_size)
    rects = _cascade("alt2").detectMultiScale(
        small, scaleFactor=step, minNeighbors=1, minSize=(_HAAR_WINDOW, _HAAR_WINDOW)
    )
    return [_haar_to_dlib(tuple(float(v) / scale for v in r)) for r in rects]


def _hog_proposals(gray: np.ndarray, min_size: int, dl: _Dlib) -> list[tuple[Box, float]]:
    """dlib's HOG detector (five views) with a permissive threshold: (box, score) pairs."""
    scale = _hog_scale(gray.shape, min_size)
    big = _resized(gray, scale)
    if min(big.shape) < _HOG_WINDOW:
        return []
    if scale * min_size < _HOG_WINDOW:
        logger.debug("HOG pass finds faces from %.0f px; smaller ones come from the cascade pass", _HOG_WINDOW / scale)
    with _DLIB_LOCK:
        rects, scores, _ = dl.detector.run(big, 0, _HOG_PROPOSE)
    return [
        ((r.left() / scale, r.top() / scale, r.width() / scale, r.height() / scale), float(s))
        for r, s in zip(rects, scores)
    ]


def _mtcnn_to_dlib(box: Box) -> Box:
    x, y, w, _ = box
    dx, dy, side = _MTCNN_TO_DLIB
    return (x + dx * w, y + dy * w, side * w, side * w)


def _mtcnn_detections(gray: np.ndarray, min_size: int) -> list[tuple[Box, float, np.ndarray]]:
    """MTCNN's detections with permissive thresholds: (box in dlib's convention, logit in
    [_MTCNN_FLOOR, _MTCNN_CAP], its five points as (5, 2) float32 input pixels)."""
    scale = min(1.0, math.sqrt(_MTCNN_BUDGET / (gray.shape[0] * gray.shape[1])))
    small = _resized(gray, scale) if scale < 1.0 else gray
    if scale < 1.0:
        logger.info("large image: the MTCNN pass finds faces from %.0f px (min_size %d)", _MTCNN_MIN_FACE / scale, min_size)
    boxes, probabilities, points = mtcnn.detect_faces_mtcnn(
        small.astype(np.float32) / 255.0, min_face_size=_MTCNN_MIN_FACE, thresholds=_MTCNN_PROPOSE
    )
    out = []
    for box, p, five in zip(boxes, probabilities, points):
        logit = math.log(max(float(p), 1e-12) / max(1.0 - float(p), 1e-12))
        box = _mtcnn_to_dlib(tuple(float(v) / scale for v in box))
        out.append((box, min(_MTCNN_CAP, max(_MTCNN_FLOOR, logit)), (five / scale).astype(np.float32)))
    return out


def _merge(proposals: list[tuple[Box, float]]) -> list[Box]:
    """Greedy grouping: strongest proposal first; a proposal overlapping a kept one joins it."""
    kept: list[Box] = []
    for box, _ in sorted(proposals, key=lambda p: -p[1]):
        if all(_iou(box, k) < _MERGE_IOU for k in kept):
            kept.append(box)
    return kept


# --------------------------------------------------------------------------------------------
# Evidence
# --------------------------------------------------------------------------------------------


def _hog_score(gray: np.ndarray, box: Box, dl: _Dlib) -> tuple[float, Box | None]:
    """dlib HOG score of the face on a crop where it is _CROP_FACE px, and the refined box."""
    side = max(box[2], box[3])
    crop = _crop(gray, box, _CROP_FACE / side)
    pad = _HOG_WINDOW // 2
    pixels = cv2.copyMakeBorder(crop.pixels, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
    with _DLIB_LOCK:
        rects, scores, _ = dl.detector.run(pixels, 0, _HOG_FLOOR)
    best, refined = _HOG_FLOOR, None
    for r, s in zip(rects, scores):
        x, y = crop.to_input(r.left() - pad, r.top() - pad)
        cand = (x, y, r.width() / crop.scale, r.height() / crop.scale)
        if _iou(cand, box) >= 0.25 and s > best:
            best, refined = float(s), cand
    return best, refined


def _landmarks(gray: np.ndarray, box: Box, dl: _Dlib) -> tuple[np.ndarray, float]:
    """dlib's 5 points (input pixels) for the box, and their mean displacement, over the box
    size, when the box is shifted and scaled (_JITTER)."""
    side = max(box[2], box[3])
    crop = _crop(gray, box, max(1.0, _LANDMARK_FACE / side), margin=0.5)

    def predict(b: Box) -> np.ndarray:
        x, y, w, h = b
        s = crop.scale
        rect = dl.rectangle(
            round((x - crop.x0) * s), round((y - crop.y0) * s), round((x + w - crop.x0) * s), round((y + h - crop.y0) * s)
        )
        with _DLIB_LOCK:
            shape = dl.predictor(crop.pixels, rect)
        pts = np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float64)
        return pts / s + (crop.x0, crop.y0)

    points = predict(box)
    moves = []
    x, y, w, h = box
    for dx, dy, ds in _JITTER:
        bw, bh = w * (1 + ds), h * (1 + ds)
        moved = predict((x + dx * w - (bw - w) / 2, y + dy * h - (bh - h) / 2, bw, bh))
        moves.append(float(np.linalg.norm(moved - points, axis=1).mean()) / side)
    return points, float(np.mean(moves))


def _eye_darkness(gray: np.ndarray, left_eye: np.ndarray, right_eye: np.ndarray) -> float:
    """How much darker the eyes are than the cheeks below them, in units of local contrast."""
    d = float(np.linalg.norm(right_eye - left_eye))
    if d < 2:
        return 0.0
    u = (right_eye - left_eye) / d
    down = np.array([-u[1], u[0]])
    cx, cy = (left_eye + right_eye) / 2
    half = int(math.ceil(1.2 * d))
    x0, y0 = int(max(0, cx - half)), int(max(0, cy - half))
    patch = gray[y0 : int(cy + half) + 1, x0 : int(cx + half) + 1].astype(np.float32)
    if patch.size < 9:
        return 0.0
    smooth = cv2.GaussianBlur(patch, (0, 0), max(0.5, 0.08 * d))

    def value(p: np.ndarray) -> float:
        px = int(round(min(max(p[0] - x0, 0), patch.shape[1] - 1)))
        py = int(round(min(max(p[1] - y0, 0), patch.shape[0] - 1)))
        return float(smooth[py, px])

    eyes = (value(left_eye) + value(right_eye)) / 2
    cheeks = (value(left_eye + 0.45 * d * down) + value(right_eye + 0.45 * d * down)) / 2
    return (cheeks - eyes) / (float(patch.std()) + 4.0)


def _mirror_correlation(patch: np.ndarray) -> float:
    patch = patch.astype(np.float32)
    patch = (patch - patch.mean()) / (patch.std() + 1e-3)
    half = patch.shape[1] // 2
    return float((patch[:, :half] * patch[:, ::-1][:, :half]).mean())


def _symmetry(gray: np.ndarray, box: Box) -> float:
    """Correlation between the box's left half and its mirrored right half (a frontal face is
    symmetric), on a 24-px copy."""
    x, y, w, h = (int(round(v)) for v in box)
    x, y = max(0, x), max(0, y)
    patch = gray[y : y + h, x : x + w]
    if min(patch.shape) < 4:
        return 0.0
    return _mirror_correlation(cv2.resize(patch, (24, 24), interpolation=cv2.INTER_AREA))


def _aligned_symmetry(gray: np.ndarray, left_eye: np.ndarray, right_eye: np.ndarray, size: int = 32) -> float:
    """Mirror correlation of the face turned upright by its eyes (eyes at 30 % and 70 % of the
    width, 38 % of the height of a ``size``-px square)."""
    v = right_eye - left_eye
    d = float(np.linalg.norm(v))
    if d < 2:
        return 0.0
    scale = 0.4 * size / d
    angle = -math.atan2(v[1], v[0])
    c, s = scale * math.cos(angle), scale * math.sin(angle)
    matrix = np.array([[c, -s, 0.0], [s, c, 0.0]])
    matrix[:, 2] = np.array([0.3 * size, 0.38 * size]) - matrix[:, :2] @ left_eye
    patch = cv2.warpAffine(gray, matrix, (size, size), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE)
    return _mirror_correlation(patch)


@dataclass
class _Candidate:
    box: Box
    features: dict[str, float]
    landmarks: np.ndarray | None = None  # (5, 2) in FFHQ order: from dlib's 5 points, else MTCNN's


def _mtcnn_match(box: Box, detections: list[tuple[Box, float, np.ndarray]]) -> tuple[float, np.ndarray | None]:
    """(logit, five points) of the best MTCNN detection overlapping the box (IoU 0.3);
    (_MTCNN_FLOOR, None) when none does."""
    overlapping = [(logit, five) for det, logit, five in detections if _iou(det, box) >= 0.3]
    return max(overlapping, key=lambda m: m[0], default=(_MTCNN_FLOOR, None))


def _mtcnn_check(gray: np.ndarray, box: Box) -> tuple[float, float]:
    """R-Net's and O-Net's logits for one box (dlib's convention), each the best over the
    _CHECK_JITTER copies of the box turned into MTCNN's shape; clipped to +-13.8.

    Measured on a crop around the box (``_CHECK_MARGIN``: every copy lies inside it, so the
    networks see the same pixels as on the whole photo, at any photo size)."""
    dx, dy, side = _MTCNN_TO_DLIB
    crop = _crop(gray, box, 1.0, margin=_CHECK_MARGIN)
    x, y, s, _ = box
    w = s / side  # MTCNN's box: w wide, 1.25 w tall
    cx, cy = x - dx * w + 0.5 * w - crop.x0, y - dy * w + 0.625 * w - crop.y0
    copies = [(cx + jx * w - 0.5 * k * w, cy + jy * w - 0.625 * k * w, k * w, 1.25 * k * w) for jx, jy, k in _CHECK_JITTER]
    probabilities = mtcnn.face_probabilities(crop.pixels.astype(np.float32) / 255.0, np.array(copies))
    best = [float(np.clip(p.astype(np.float64), _CHECK_CLIP, 1.0 - _CHECK_CLIP).max()) for p in probabilities]
    rnet, onet = (math.log(p / (1.0 - p)) for p in best)
    return rnet, onet


def _evidence(gray: np.ndarray, box: Box, dl: _Dlib | None) -> _Candidate:
    features: dict[str, float] = {}
    if dl is None:
        x, y, w, h = box
        big = (x - _HAAR_TO_DLIB[0] * w / _HAAR_TO_DLIB[2], y - _HAAR_TO_DLIB[1] * h / _HAAR_TO_DLIB[2])
        side = w / _HAAR_TO_DLIB[2]
        eyes = [np.array([big[0] + ex * side, big[1] + ey * side]) for ex, ey in _HAAR_EYES]
        features["eyes"] = _eye_darkness(gray, *eyes)
        features["symmetry"] = _symmetry(gray, box)
        return _Candidate(box, features)
    hog, refined = _hog_score(gray, box, dl)
    if refined is not None:
        box = refined
    points, jitter = _landmarks(gray, box, dl)
    features["hog"] = hog
    features["jitter"] = math.log(jitter + 0.005)
    left_eye, right_eye = (points[2] + points[3]) / 2, (points[0] + points[1]) / 2
    features["eyes"] = _eye_darkness(gray, left_eye, right_eye)
    features["symmetry"] = _aligned_symmetry(gray, left_eye, right_eye)
    return _Candidate(box, features, _five_points(points))


def _logit(features: dict[str, float], model: tuple) -> float:
    names, means, scales, weights, intercept = model
    return intercept + sum(w * (features[n] - m) / s for n, m, s, w in zip(names, means, scales, weights))


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))


def _score(features: dict[str, float]) -> float:
    """Probability that a candidate is a face, from its evidence (see the model constants)."""
    return _sigmoid(_logit(features, _MODEL_WITH_DLIB if "hog" in features else _MODEL_WITHOUT_DLIB))


# --------------------------------------------------------------------------------------------
# Landmarks in FFHQ / RetinaFace order
# --------------------------------------------------------------------------------------------


def _five_points(points: np.ndarray) -> np.ndarray:
    """dlib's 5 points (right eye corners, left eye corners, nose base; 'left' = image left)
    -> left eye, right eye, nose tip, left mouth corner, right mouth corner (float32 (5, 2))."""
    left_eye = (points[2] + points[3]) / 2
    right_eye = (points[0] + points[1]) / 2
    centre = (left_eye + right_eye) / 2
    d = max(float(np.linalg.norm(right_eye - left_eye)), 1e-6)
    u = (right_eye - left_eye) / d
    down = np.array([-u[1], u[0]])
    bx, by = ((points[4] - centre) @ u) / d, ((points[4] - centre) @ down) / d

    def at(px: float, py: float) -> np.ndarray:
        return centre + d * (px * u + py * down)

    tip = at(1.36 * bx, 1.20 * by - 0.37)
    mouth_y = 0.52 + 0.78 * by
    return np.stack([left_eye, right_eye, tip, at(-0.42, mouth_y), at(0.42, mouth_y)]).astype(np.float32)


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------


def _validate(image: np.ndarray, min_size: int, threshold: float) -> np.ndarray:
    if isinstance(min_size, bool) or not isinstance(min_size, (int, np.integer)) or min_size < _MIN_SIZE_FLOOR:
        raise InputError(f"min_size must be an integer number of pixels >= {_MIN_SIZE_FLOOR}, got {min_size!r}")
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float, np.floating, np.integer)):
        raise InputError(f"threshold must be a number in [0, 1], got {threshold!r}")
    if not 0.0 <= float(threshold) <= 1.0:  # also refuses NaN
        raise InputError(f"threshold must be in [0, 1], got {threshold!r}")
    return check_rgb(image)


def _gray(image: np.ndarray) -> np.ndarray:
    rgb8 = (np.clip(image, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    return cv2.cvtColor(rgb8, cv2.COLOR_RGB2GRAY)


def _candidates(image: np.ndarray, *, min_size: int = 24, use_dlib: bool = True) -> list[_Candidate]:
    """Every proposal with its evidence, before scoring (for the benchmark's fitting; not API).

    ``image`` is validated RGB float32; ``use_dlib=False`` measures what the Haar-only
    fallback sees even when dlib is installed.
    """
    gray = _gray(image)
    dl = _dlib() if use_dlib else None
    detections = _mtcnn_detections(gray, min_size)
    if dl is None:
        proposals = [(b, 0.0) for b in _haar_proposals(gray, min_size, _HAAR_STEP)]
    else:
        proposals = [(b, 0.0) for b in _haar_proposals(gray, min_size, _HAAR_STEP_WITH_HOG)]
        proposals += [(b, s + 10.0) for b, s in _hog_proposals(gray, min_size, dl)]  # HOG boxes lead groups,
    proposals += [(b, s + 20.0) for b, s, _ in detections]  # and MTCNN's lead them
    boxes = [b for b in _merge(proposals) if max(b[2], b[3]) >= _BOX_OF_FACE * min_size]
    cands = [_evidence(gray, b, dl) for b in boxes]
    for box, cand in zip(boxes, cands):
        cand.features["mtcnn"], five = _mtcnn_match(box, detections)
        cand.features["rnet"], cand.features["onet"] = _mtcnn_check(gray, cand.box)
        if dl is None:
            cand.landmarks = five
    return cands


def _detect(image: np.ndarray, min_size: int, threshold: float, use_dlib: bool) -> list[Face]:
    height, width = image.shape[:2]
    cands = _candidates(image, min_size=min_size, use_dlib=use_dlib)
    scored = sorted(((_score(c.features), c) for c in cands), key=lambda t: -t[0])
    faces: list[Face] = []
    kept: list[Box] = []
    for score, cand in scored:
        if score < threshold:
            break
        if any(_iou(cand.box, k) > _NMS_IOU for k in kept):
            continue
        x, y, w, h = cand.box
        x0, y0 = max(0, int(round(x))), max(0, int(round(y)))
        x1, y1 = min(width, int(round(x + w))), min(height, int(round(y + h)))
        if max(x1 - x0, y1 - y0) < _BOX_OF_FACE * min_size:
            continue
        kept.append(cand.box)
        faces.append(Face((x0, y0, x1 - x0, y1 - y0), float(score), cand.landmarks))
    return faces


def detect_faces(image: np.ndarray, *, min_size: int = 24, threshold: float = 0.5) -> list[Face]:
    """Find the faces in a photo, without downloaded weights.

    Args:
        image: (H, W, 3) float RGB with values in [0, 1]; gray photos as three equal channels.
            Any size: large scans are searched on reduced copies within a fixed pixel budget.
        min_size: smallest face to look for, in pixels from the forehead to the chin, >= 12.
            Default 24. Boxes start at the eyebrows: those down to 0.8 * min_size are kept.
        threshold: smallest score kept, in [0, 1]. Default 0.5; lower finds more faces (and
            more false alarms).

    Returns:
        The faces, best score first. Boxes lie within the image.

    Raises:
        InputError: wrong shape, dtype or value range of the image, min_size not an integer
            >= 12, or threshold outside [0, 1].
    """
    image = _validate(image, min_size, threshold)
    faces = _detect(image, int(min_size), float(threshold), use_dlib=True)
    logger.debug("%d faces found (%s)", len(faces), "Haar cascades + dlib" if dlib_available() else "Haar cascades only")
    return faces
