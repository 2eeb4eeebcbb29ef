"""facexlib's face networks, from the weights manifest: RetinaFace (detector) and ParseNet (parser).

Both are optional. Each is loaded on first use, once per process, behind a lock, from the files
``weights.resolve`` finds locally (manifest entries ``facexlib-retinaface`` and
``facexlib-parsenet``); nothing is downloaded. The networks are built from facexlib's classes
and their state dicts read with ``torch.load(weights_only=True)`` here, instead of through
``facexlib.detection.init_detection_model`` / ``init_parsing_model``, which would fetch a
missing file from GitHub and unpickle it without ``weights_only``.

No weights -> the getters return None and the face stage uses the offline detector and an
elliptical paste mask. Weights present but unreadable -> WeightsUnavailableError.

ParseNet's weights derive from PSFR-GAN, licensed CC BY-NC-SA 4.0 (non-commercial): the manifest
marks them ``opt_in``, they are fetched only by name
(``python -m restoration weights download --model facexlib-parsenet``) and the stage uses them
only when asked (``--face-parser``).

References:
    Deng et al., "RetinaFace: Single-shot multi-level face localisation in the wild", CVPR 2020.
    Chen et al., "Progressive semantic-aware style transformation for blind face restoration"
    (PSFR-GAN, whose ParseNet facexlib ships), CVPR 2021.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import cv2
import numpy as np

from . import weights
from .classical.face_detector import Face
from .errors import WeightsUnavailableError

__all__ = [
    "RETINAFACE_MODEL",
    "PARSENET_MODEL",
    "PARSENET_LICENCE_NOTE",
    "retinaface",
    "parsenet",
    "parser_available",
    "retinaface_faces",
    "parsed_face_mask",
    "reset_face_models",
]

logger = logging.getLogger(__name__)

RETINAFACE_MODEL = "facexlib-retinaface"
PARSENET_MODEL = "facexlib-parsenet"
_RETINAFACE_FILE = "detection_Resnet50_Final.pth"
_PARSENET_FILE = "parsing_parsenet.pth"
PARSENET_LICENCE_NOTE = (
    "ParseNet's weights are CC BY-NC-SA 4.0 (non-commercial use only); "
    f"fetch them yourself with `python -m restoration weights download --model {PARSENET_MODEL}`"
)

_RETINAFACE_LONG_SIDE = 1600  # px: larger photos are searched on a reduced copy (facexlib's target size)
_RETINAFACE_NMS = 0.4
# ParseNet's 19 classes that belong to the face (facexlib's paste-back colour map: skin, brows,
# eyes, glasses, ears, nose, mouth, lips; not the neck (14), hair (16-17), hat or clothes (18)).
_FACE_CLASSES = np.array([0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 0, 0, 0], np.float32)
_PARSE_BLUR = 11.0  # px at 512: softens the parsed map's edge (facexlib: two 101-px blurs of sigma 11)
_PARSE_BORDER = 10  # px at 512 zeroed at the crop's borders

_lock = threading.Lock()
_loaded: dict[str, object] = {}


def _device():
    import torch

    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _weights_file(model: str, file_name: str) -> Path | None:
    """The local weights file of ``model``, or None when it is not on this machine."""
    try:
        return weights.resolve(model) / file_name
    except WeightsUnavailableError:
        return None


def _state_dict(path: Path) -> dict:
    """A checkpoint's tensors, read without unpickling code (``weights_only=True``); facexlib's
    checkpoints may prefix their keys with ``module.`` (saved from DataParallel)."""
    import torch

    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many types for a damaged or foreign file
        raise WeightsUnavailableError(f"could not read the face model weights {path}: {error}") from error
    if not isinstance(state, dict):
        raise WeightsUnavailableError(f"{path} holds no state dict (got {type(state).__name__})")
    return {key.removeprefix("module."): value for key, value in state.items()}


def _load(name: str, build):
    """``build()`` once per process under the lock; the cached network afterwards."""
    if name in _loaded:
        return _loaded[name]
    with _lock:
        if name not in _loaded:
            _loaded[name] = build()
        return _loaded[name]


def _with_weights(network, path: Path, device, description: str):
    """``network`` with the state dict of ``path`` (strict), in eval mode on ``device``."""
    try:
        network.load_state_dict(_state_dict(path), strict=True)
    except RuntimeError as error:
        raise WeightsUnavailableError(f"{path} is not a {description} checkpoint: {error}") from error
    network.eval().to(device)
    logger.info("%s loaded from %s on %s", description, path, device)
    return network


def _build_retinaface(path: Path):
    from facexlib.detection.retinaface import RetinaFace

    device = _device()
    return _with_weights(RetinaFace(network_name="resnet50", half=False, device=device), path, device, "RetinaFace ResNet-50")


def _build_parsenet(path: Path):
    from facexlib.parsing.parsenet import ParseNet

    device = _device()
    network = ParseNet(in_size=512, out_size=512, parsing_ch=19)
    network = _with_weights(network, path, device, "ParseNet")
    logger.info("ParseNet's weights are licensed CC BY-NC-SA 4.0 (non-commercial)")
    return network


def retinaface():
    """facexlib's RetinaFace ResNet-50 with the manifest's weights, or None when they are not
    here. Raises WeightsUnavailableError when the file is here but unreadable."""
    path = _weights_file(RETINAFACE_MODEL, _RETINAFACE_FILE)
    return None if path is None else _load(RETINAFACE_MODEL, lambda: _build_retinaface(path))


def parser_available() -> bool:
    """True when ParseNet's (opt-in, non-commercial) weights are on this machine (local check)."""
    return _weights_file(PARSENET_MODEL, _PARSENET_FILE) is not None


def parsenet():
    """facexlib's ParseNet with the manifest's weights, or None when they are not here."""
    path = _weights_file(PARSENET_MODEL, _PARSENET_FILE)
    return None if path is None else _load(PARSENET_MODEL, lambda: _build_parsenet(path))


def reset_face_models() -> None:
    """Forget the loaded networks (tests; after weights change on disk)."""
    with _lock:
        _loaded.clear()


def retinaface_faces(network, image: np.ndarray, *, min_size: int = 24, threshold: float = 0.8) -> list[Face]:
    """Faces found by RetinaFace, with its five landmarks.

    Args:
        network: from :func:`retinaface`.
        image: (H, W, 3) float32 RGB in [0, 1]. A photo longer than 1600 px is searched on a
            reduced copy; boxes and landmarks are returned in input pixels.
        min_size: smallest face kept, px (the larger box side).
        threshold: smallest confidence kept, in [0, 1].

    Returns:
        Faces, best score first: boxes (x, y, w, h) clipped to the photo, landmarks (5, 2)
        float32 in FFHQ order (left eye, right eye, nose tip, mouth corners).
    """
    import torch

    height, width = image.shape[:2]
    scale = min(1.0, _RETINAFACE_LONG_SIDE / max(height, width))
    bgr = cv2.cvtColor(np.clip(image, 0.0, 1.0), cv2.COLOR_RGB2BGR) * 255.0
    if scale < 1.0:
        bgr = cv2.resize(bgr, (round(width * scale), round(height * scale)), interpolation=cv2.INTER_AREA)
    with torch.no_grad():
        rows = network.detect_faces(bgr, conf_threshold=float(threshold), nms_threshold=_RETINAFACE_NMS)
    faces = []
    for row in np.asarray(rows, dtype=np.float64):
        x0, y0, x1, y1 = np.clip(row[:4] / scale, 0, [width, height, width, height])
        box = (int(round(x0)), int(round(y0)), int(round(x1 - x0)), int(round(y1 - y0)))
        if max(box[2], box[3]) < min_size or min(box[2], box[3]) < 1:
            continue
        landmarks = (row[5:15].reshape(5, 2) / scale).astype(np.float32)
        faces.append(Face(box, float(row[4]), landmarks))
    return faces


def parsed_face_mask(network, crop: np.ndarray) -> np.ndarray:
    """ParseNet's face region of an aligned crop, softened as facexlib does for paste-back.

    Args:
        network: from :func:`parsenet`.
        crop: (s, s, 3) float32 RGB in [0, 1], template-aligned (:mod:`restoration.faces`).

    Returns:
        (s, s) float32 in [0, 1]: 1 on skin, brows, eyes, nose, mouth and ears; 0 on hair, neck,
        clothes and background, and on the crop's border.
    """
    import torch

    size = crop.shape[0]
    face = cv2.resize(crop, (512, 512), interpolation=cv2.INTER_LINEAR)
    tensor = torch.from_numpy((face.transpose(2, 0, 1) - 0.5) / 0.5).unsqueeze(0).float()
    with torch.no_grad():
        labels = network(tensor.to(next(network.parameters()).device))[0].argmax(dim=1).squeeze(0).cpu().numpy()
    mask = _FACE_CLASSES[labels]
    mask = cv2.GaussianBlur(mask, (0, 0), _PARSE_BLUR)
    mask = cv2.GaussianBlur(mask, (0, 0), _PARSE_BLUR)
    mask[:_PARSE_BORDER], mask[-_PARSE_BORDER:], mask[:, :_PARSE_BORDER], mask[:, -_PARSE_BORDER:] = 0, 0, 0, 0
    return np.clip(cv2.resize(mask, (size, size), interpolation=cv2.INTER_LINEAR), 0.0, 1.0).astype(np.float32)
