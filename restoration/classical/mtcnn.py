"""MTCNN face detector: a cascade of three small CNNs that finds faces and five landmarks.

MTCNN (multi-task cascaded convolutional networks) scans an image pyramid with a fully
convolutional proposal network (P-Net, 12 px window, stride 2), refines the surviving boxes
with R-Net on 24 px crops and scores them with O-Net on 48 px crops, which also places five
landmarks. Non-maximum suppression (NMS) follows every stage: IoU 0.5 within each pyramid
scale, then IoU 0.7 over all scales, IoU 0.7 after R-Net, and 0.7 over the smaller box ("Min")
after O-Net.

This is a port of ``facenet_pytorch/models/mtcnn.py`` and ``models/utils/detect_face.py`` of
facenet-pytorch 2.6.0 (single image, CPU, NMS in numpy instead of torchvision, and boxes whose
crop would be empty dropped where facenet-pytorch would fail) and it keeps that package's
arithmetic, so boxes, probabilities and landmarks agree with ``MTCNN.detect``. Like
facenet-pytorch, and unlike the original, crops of boxes that cross the border are clipped to
the image before resizing rather than zero-padded.

Weights: ``restoration/weights/mtcnn.safetensors`` (float32, 0.5 M parameters, keys prefixed
``pnet.``, ``rnet.``, ``onet.``), converted by ``training/convert_mtcnn_weights.py`` from
``facenet_pytorch/data/{pnet,rnet,onet}.pt`` in the facenet-pytorch 2.6.0 wheel on PyPI (its
SHA-256 is in the file's metadata). facenet-pytorch took them from David Sandberg's facenet
(``src/align/det{1,2,3}.npy``), which converted Kaipeng Zhang's original Caffe models
(kpzhang93/MTCNN_face_detection_alignment). Per the paper, the original networks were trained
on WIDER FACE (face / non-face and box regression) and CelebA (landmarks).

Licence: MIT. Ported from facenet-pytorch, Copyright (c) 2019 Timothy Esler; the weights also
carry MIT notices of David Sandberg (2016) and Kaipeng Zhang (2016). The full texts are in
``restoration/weights/LICENSE-mtcnn.txt``.

The module loads nothing at import time; :func:`load_mtcnn` reads the weights once per process
(cached, behind a lock) and the networks are shared read-only afterwards. Inference runs on the
CPU with whatever thread count torch is set to.

References:
    Zhang, Zhang, Li and Qiao, "Joint Face Detection and Alignment using Multi-task Cascaded
    Convolutional Networks", IEEE Signal Processing Letters 23(10), 2016.
    Esler, facenet-pytorch 2.6.0 (https://github.com/timesler/facenet-pytorch), MIT licence.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn.functional import interpolate

from ..errors import InputError
from ..shipped import LoadedOnce
from ..validation import check_rgb

__all__ = [
    "WEIGHTS_PATH",
    "PNet",
    "RNet",
    "ONet",
    "Cascade",
    "mtcnn_weights_available",
    "load_mtcnn",
    "detect_faces_mtcnn",
    "face_probabilities",
]

logger = logging.getLogger(__name__)

WEIGHTS_PATH = Path(__file__).resolve().parent.parent / "weights" / "mtcnn.safetensors"
_STRIDE, _CELL = 2, 12  # P-Net: output stride and window side, px of its input
_NMS_SCALE, _NMS_PNET, _NMS_RNET, _NMS_ONET = 0.5, 0.7, 0.7, 0.7  # as in facenet-pytorch's detect_face
_BATCH = 512  # crops per R-Net / O-Net forward pass (facenet-pytorch's fixed_batch_process)


class PNet(nn.Module):
    """Proposal network: (B, 3, H, W) pixels scaled to [-1, 1] (``(v - 127.5) / 128``) ->
    box offsets (B, 4, H', W') and face / non-face probabilities (B, 2, H', W'), one output
    per 12 px window at stride 2 (H' = ceil((H - 2) / 2) - 4)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 10, kernel_size=3)
        self.prelu1 = nn.PReLU(10)
        self.pool1 = nn.MaxPool2d(2, 2, ceil_mode=True)
        self.conv2 = nn.Conv2d(10, 16, kernel_size=3)
        self.prelu2 = nn.PReLU(16)
        self.conv3 = nn.Conv2d(16, 32, kernel_size=3)
        self.prelu3 = nn.PReLU(32)
        self.conv4_1 = nn.Conv2d(32, 2, kernel_size=1)
        self.softmax4_1 = nn.Softmax(dim=1)
        self.conv4_2 = nn.Conv2d(32, 4, kernel_size=1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.prelu1(self.conv1(x))
        x = self.pool1(x)
        x = self.prelu2(self.conv2(x))
        x = self.prelu3(self.conv3(x))
        return self.conv4_2(x), self.softmax4_1(self.conv4_1(x))


class RNet(nn.Module):
    """Refinement network: (B, 3, 24, 24) crops scaled to [-1, 1] -> box offsets (B, 4) and
    face / non-face probabilities (B, 2)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 28, kernel_size=3)
        self.prelu1 = nn.PReLU(28)
        self.pool1 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv2 = nn.Conv2d(28, 48, kernel_size=3)
        self.prelu2 = nn.PReLU(48)
        self.pool2 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv3 = nn.Conv2d(48, 64, kernel_size=2)
        self.prelu3 = nn.PReLU(64)
        self.dense4 = nn.Linear(576, 128)
        self.prelu4 = nn.PReLU(128)
        self.dense5_1 = nn.Linear(128, 2)
        self.softmax5_1 = nn.Softmax(dim=1)
        self.dense5_2 = nn.Linear(128, 4)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.pool2(self.prelu2(self.conv2(x)))
        x = self.prelu3(self.conv3(x))
        x = x.permute(0, 3, 2, 1).contiguous()  # the converted Caffe weights flatten (W, H, C)
        x = self.prelu4(self.dense4(x.view(x.shape[0], -1)))
        return self.dense5_2(x), self.softmax5_1(self.dense5_1(x))


class ONet(nn.Module):
    """Output network: (B, 3, 48, 48) crops scaled to [-1, 1] -> box offsets (B, 4), landmarks
    (B, 10) as five x then five y, fractions of the box, and face / non-face probabilities (B, 2)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 32, kernel_size=3)
        self.prelu1 = nn.PReLU(32)
        self.pool1 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv2 = nn.Conv2d(32, 64, kernel_size=3)
        self.prelu2 = nn.PReLU(64)
        self.pool2 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv3 = nn.Conv2d(64, 64, kernel_size=3)
        self.prelu3 = nn.PReLU(64)
        self.pool3 = nn.MaxPool2d(2, 2, ceil_mode=True)
        self.conv4 = nn.Conv2d(64, 128, kernel_size=2)
        self.prelu4 = nn.PReLU(128)
        self.dense5 = nn.Linear(1152, 256)
        self.prelu5 = nn.PReLU(256)
        self.dense6_1 = nn.Linear(256, 2)
        self.softmax6_1 = nn.Softmax(dim=1)
        self.dense6_2 = nn.Linear(256, 4)
        self.dense6_3 = nn.Linear(256, 10)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.pool2(self.prelu2(self.conv2(x)))
        x = self.pool3(self.prelu3(self.conv3(x)))
        x = self.prelu4(self.conv4(x))
        x = x.permute(0, 3, 2, 1).contiguous()
        x = self.prelu5(self.dense5(x.view(x.shape[0], -1)))
        return self.dense6_2(x), self.dense6_3(x), self.softmax6_1(self.dense6_1(x))


class Cascade(nn.Module):
    """The three networks, under the names that prefix their weights (``pnet.``, ``rnet.``, ``onet.``)."""

    def __init__(self) -> None:
        super().__init__()
        self.pnet = PNet()
        self.rnet = RNet()
        self.onet = ONet()


def mtcnn_weights_available(path: str | Path | None = None) -> bool:
    """True when the detector's weights file (default :data:`WEIGHTS_PATH`) is on this machine."""
    return Path(WEIGHTS_PATH if path is None else path).is_file()


def load_mtcnn(path: str | Path | None = None) -> Cascade:
    """The three networks with the weights at ``path`` (default :data:`WEIGHTS_PATH`), in eval
    mode; loaded once per process and path.

    Raises:
        WeightsUnavailableError: the file is missing or does not hold exactly the cascade's weights.
    """
    return _loaded(WEIGHTS_PATH if path is None else path)


def _build(path: Path) -> Cascade:
    from safetensors.torch import load_file

    model = Cascade()
    model.load_state_dict(load_file(str(path)), strict=True)
    return model


_loaded = LoadedOnce("the MTCNN face detector", _build)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool) and math.isfinite(value)


def _validate(
    image: np.ndarray, min_face_size: float, thresholds: Sequence[float], scale_factor: float
) -> tuple[np.ndarray, tuple[float, float, float]]:
    """The image as (H, W, 3) float32 in [0, 1] and the thresholds as a tuple, or InputError."""
    if not _is_number(min_face_size) or min_face_size <= 0:
        raise InputError(f"min_face_size must be a positive number of pixels, got {min_face_size!r}; 20 is the default")
    if not _is_number(scale_factor) or not 0.0 < scale_factor < 1.0:
        raise InputError(f"scale_factor must be a number in (0, 1), got {scale_factor!r}; 0.709 is the default")
    try:
        values = () if isinstance(thresholds, (str, bytes)) else tuple(thresholds)
    except TypeError:
        values = ()
    if len(values) != 3 or not all(_is_number(t) and 0.0 <= t <= 1.0 for t in values):
        raise InputError(
            f"thresholds must be three probabilities in [0, 1] (P-Net, R-Net, O-Net), got {thresholds!r}; "
            "(0.6, 0.7, 0.7) is the default"
        )
    return _validate_image(image), (float(values[0]), float(values[1]), float(values[2]))


def _validate_image(image: np.ndarray) -> np.ndarray:
    """(H, W, 3) or (H, W) float in [0, 1] -> (H, W, 3) float32, or InputError."""
    image = np.asarray(image)
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    elif image.ndim != 3 or image.shape[2] != 3:
        raise InputError(f"image must have shape (H, W, 3) (RGB) or (H, W) (gray), got {image.shape}")
    return check_rgb(image)


def _network_input(pixels: np.ndarray) -> torch.Tensor:
    """(H, W, 3) float32 in [0, 1] -> (1, 3, H, W) float32 in [0, 255], channels last in memory
    like facenet-pytorch's input."""
    return torch.from_numpy(pixels * np.float32(255.0)).unsqueeze(0).permute(0, 3, 1, 2)


def _nms(boxes: torch.Tensor, scores: torch.Tensor, threshold: float, *, method: str = "union") -> np.ndarray:
    """Greedy non-maximum suppression; indices kept, by descending score (ties: first first).

    Args:
        boxes: (N, 4) float32 [x1, y1, x2, y2].
        scores: (N,) float32.
        threshold: a box goes when its overlap with a kept box exceeds this.
        method: "union": IoU with areas (x2 - x1) (y2 - y1), as torchvision.ops.nms (used by
            facenet-pytorch after P-Net and R-Net); "min": intersection over the smaller box with
            areas (x2 - x1 + 1) (y2 - y1 + 1), as facenet-pytorch's nms_numpy after O-Net
            (including its order among equal scores).
    """
    b, s = boxes.numpy(), scores.numpy()
    if len(b) == 0:
        return np.zeros(0, np.int64)
    x1, y1, x2, y2 = b[:, 0], b[:, 1], b[:, 2], b[:, 3]
    one = np.float32(1 if method == "min" else 0)
    area = (x2 - x1 + one) * (y2 - y1 + one)
    order = np.argsort(-s, kind="stable") if method == "union" else np.argsort(s)[::-1]
    keep = []
    while order.size:
        i, rest = order[0], order[1:]
        w = np.maximum(np.float32(0), np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]) + one)
        h = np.maximum(np.float32(0), np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]) + one)
        inter = w * h
        overlap = inter / np.minimum(area[i], area[rest]) if method == "min" else inter / (area[i] + area[rest] - inter)
        keep.append(i)
        order = rest[overlap.astype(np.float64) <= threshold]
    return np.asarray(keep, np.int64)


def _proposals(reg: torch.Tensor, prob: torch.Tensor, scale: float, threshold: float) -> torch.Tensor:
    """P-Net windows with face probability >= ``threshold``: (K, 9) [x1, y1, x2, y2 in input
    pixels, probability, 4 offsets], from ``reg`` (1, 4, H', W') and ``prob`` (1, H', W')."""
    mask = prob >= threshold
    where = mask.nonzero()
    score = prob[mask]
    offsets = reg.permute(1, 0, 2, 3)[:, mask].permute(1, 0)
    xy = where[:, 1:].type(reg.dtype).flip(1)
    q1 = ((_STRIDE * xy + 1) / scale).floor()
    q2 = ((_STRIDE * xy + _CELL - 1 + 1) / scale).floor()
    return torch.cat([q1, q2, score.unsqueeze(1), offsets], dim=1)


def _regress(boxes: torch.Tensor, reg: torch.Tensor) -> torch.Tensor:
    """Boxes (K, >= 4) moved by R-/O-Net offsets (K, 4), fractions of the side (+1 px, as MTCNN)."""
    boxes = boxes.clone()
    w = boxes[:, 2] - boxes[:, 0] + 1
    h = boxes[:, 3] - boxes[:, 1] + 1
    moved = torch.stack(
        [boxes[:, 0] + reg[:, 0] * w, boxes[:, 1] + reg[:, 1] * h, boxes[:, 2] + reg[:, 2] * w, boxes[:, 3] + reg[:, 3] * h]
    )
    boxes[:, :4] = moved.permute(1, 0)
    return boxes


def _square(boxes: torch.Tensor) -> torch.Tensor:
    """Boxes (K, >= 4) grown to squares about their centres, side max(w, h)."""
    boxes = boxes.clone()
    h = boxes[:, 3] - boxes[:, 1]
    w = boxes[:, 2] - boxes[:, 0]
    side = torch.max(w, h)
    boxes[:, 0] = boxes[:, 0] + w * 0.5 - side * 0.5
    boxes[:, 1] = boxes[:, 1] + h * 0.5 - side * 0.5
    boxes[:, 2:4] = boxes[:, :2] + side.repeat(2, 1).permute(1, 0)
    return boxes


def _crops(pixels: torch.Tensor, boxes: torch.Tensor, size: int) -> tuple[torch.Tensor, np.ndarray]:
    """Crops of ``boxes`` resized to ``size`` x ``size`` (area averaging) and scaled to [-1, 1].

    Box corners are truncated to integers and clipped to the image (1-based, inclusive, as
    MTCNN's ``pad``); boxes with nothing inside the image are left out.

    Returns:
        (K', 3, size, size) float32, and the (K',) indices of the boxes they come from.
    """
    h, w = pixels.shape[2:]
    corners = boxes[:, :4].trunc().int().numpy()
    x = np.maximum(corners[:, 0], 1)
    y = np.maximum(corners[:, 1], 1)
    ex = np.minimum(corners[:, 2], w)
    ey = np.minimum(corners[:, 3], h)
    inside = np.flatnonzero((ey > y - 1) & (ex > x - 1))
    # contiguous (channels first) like facenet-pytorch's crops: the networks' results depend on the memory layout
    crops = [
        interpolate(pixels[0, :, y[k] - 1 : ey[k], x[k] - 1 : ex[k]].contiguous().unsqueeze(0), size=(size, size), mode="area")
        for k in inside
    ]
    if not crops:
        return torch.zeros((0, 3, size, size)), inside
    return (torch.cat(crops, dim=0) - 127.5) * 0.0078125, inside


def _batched(network: nn.Module, crops: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """``network`` on ``crops`` in batches of :data:`_BATCH`, outputs concatenated."""
    outputs = [network(crops[i : i + _BATCH]) for i in range(0, len(crops), _BATCH)]
    return tuple(torch.cat(parts, dim=0) for parts in zip(*outputs))


def _pyramid(h: int, w: int, min_face_size: float, scale_factor: float) -> list[float]:
    """Scales at which P-Net's 12 px window sees faces from ``min_face_size`` px up to the image's short side."""
    scale = 12.0 / min_face_size
    short = min(h, w) * scale
    scales = []
    while short >= 12:
        scales.append(scale)
        scale = scale * scale_factor
        short = short * scale_factor
    return scales


def _cascade(
    pixels: torch.Tensor, model: Cascade, min_face_size: float, thresholds: tuple[float, float, float], scale_factor: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """facenet-pytorch's ``detect_face`` for one image: (1, 3, H, W) float32 in [0, 255] ->
    boxes (N, 5) [x1, y1, x2, y2, probability] and landmarks (N, 5, 2), by descending probability."""
    h, w = pixels.shape[2:]
    empty = torch.zeros((0, 5)), torch.zeros((0, 5, 2))

    # stage 1: P-Net over the pyramid, NMS within each scale, then across scales
    found = []
    for scale in _pyramid(h, w, min_face_size, scale_factor):
        resized = interpolate(pixels, size=(int(h * scale + 1), int(w * scale + 1)), mode="area")
        reg, prob = model.pnet((resized - 127.5) * 0.0078125)
        boxes = _proposals(reg, prob[:, 1], scale, thresholds[0])
        found.append(boxes[_nms(boxes[:, :4], boxes[:, 4], _NMS_SCALE)])
    boxes = torch.cat(found, dim=0) if found else torch.zeros((0, 9))
    boxes = boxes[_nms(boxes[:, :4], boxes[:, 4], _NMS_PNET)]
    if len(boxes) == 0:
        return empty
    regw = boxes[:, 2] - boxes[:, 0]
    regh = boxes[:, 3] - boxes[:, 1]
    moved = torch.stack(
        [boxes[:, 0] + boxes[:, 5] * regw, boxes[:, 1] + boxes[:, 6] * regh,
         boxes[:, 2] + boxes[:, 7] * regw, boxes[:, 3] + boxes[:, 8] * regh, boxes[:, 4]]
    ).permute(1, 0)
    boxes = _square(moved)

    # stage 2: R-Net on 24 px crops
    crops, inside = _crops(pixels, boxes, 24)
    if len(inside) == 0:
        return empty
    reg, prob = _batched(model.rnet, crops)
    score = prob[:, 1]
    passed = score > thresholds[1]
    boxes = torch.cat((boxes[inside][passed, :4], score[passed].unsqueeze(1)), dim=1)
    reg = reg[passed]
    keep = _nms(boxes[:, :4], boxes[:, 4], _NMS_RNET)
    boxes = _square(_regress(boxes[keep], reg[keep]))
    if len(boxes) == 0:
        return empty

    # stage 3: O-Net on 48 px crops: score, box and landmarks
    crops, inside = _crops(pixels, boxes, 48)
    if len(inside) == 0:
        return empty
    reg, points, prob = _batched(model.onet, crops)
    score = prob[:, 1]
    passed = score > thresholds[2]
    boxes = torch.cat((boxes[inside][passed, :4], score[passed].unsqueeze(1)), dim=1)
    reg, points = reg[passed], points[passed]
    side_w = (boxes[:, 2] - boxes[:, 0] + 1).unsqueeze(1)
    side_h = (boxes[:, 3] - boxes[:, 1] + 1).unsqueeze(1)
    points_x = side_w * points[:, :5] + boxes[:, 0].unsqueeze(1) - 1
    points_y = side_h * points[:, 5:] + boxes[:, 1].unsqueeze(1) - 1
    landmarks = torch.stack((points_x, points_y), dim=2)
    boxes = _regress(boxes, reg)
    keep = _nms(boxes[:, :4], boxes[:, 4], _NMS_ONET, method="min")
    return boxes[keep], landmarks[keep]


def detect_faces_mtcnn(
    image: np.ndarray,
    *,
    min_face_size: float = 20,
    thresholds: Sequence[float] = (0.6, 0.7, 0.7),
    scale_factor: float = 0.709,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Faces in ``image`` with MTCNN: the same boxes, probabilities and landmarks as
    facenet-pytorch 2.6.0's ``MTCNN(keep_all=True, select_largest=False).detect``.

    The first pyramid scale resizes the whole image by 12 / ``min_face_size`` (0.6 by default),
    so time and memory grow with the image's area; downscale very large scans first.

    Args:
        image: (H, W, 3) float RGB in [0, 1], or (H, W) float gray in [0, 1] (repeated over three
            channels). 8-bit pixels must be divided by 255 first (uint8 is refused).
        min_face_size: smallest face side looked for, px (> 0); the pyramid's first scale maps it
            to P-Net's 12 px window, so smaller values cost more time and memory (under 12, the
            image is enlarged).
        thresholds: face probabilities in [0, 1] that P-Net, R-Net and O-Net candidates must
            reach (P-Net: at least; R-Net and O-Net: above).
        scale_factor: ratio between successive pyramid scales, in (0, 1); closer to 1 is
            slower and finer.

    Returns:
        boxes: (N, 4) float32 [x, y, w, h] in input pixels (x, y = top-left corner); not clipped,
            a box may reach past the image's border.
        probabilities: (N,) float32 in [0, 1], O-Net's face probability, descending.
        landmarks: (N, 5, 2) float32 (x, y) in input pixels: left eye, right eye, nose, left
            mouth corner, right mouth corner (left and right as seen in the image).
        N = 0 gives arrays of shape (0, 4), (0,) and (0, 5, 2).

    Raises:
        InputError: bad image (shape, dtype, NaN or values outside [0, 1]) or bad option.
        WeightsUnavailableError: the weights file is missing or unreadable.
    """
    pixels, thresholds = _validate(image, min_face_size, thresholds, scale_factor)
    model = load_mtcnn()
    x = _network_input(pixels)
    with torch.inference_mode():
        boxes, landmarks = _cascade(x, model, float(min_face_size), thresholds, float(scale_factor))
    boxes, landmarks = boxes.numpy().astype(np.float32), landmarks.numpy().astype(np.float32)
    order = np.argsort(-boxes[:, 4], kind="stable")
    boxes, landmarks = boxes[order], landmarks[order]
    xywh = np.stack([boxes[:, 0], boxes[:, 1], boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]], axis=1)
    logger.debug("MTCNN found %d faces in a %dx%d image", len(boxes), pixels.shape[1], pixels.shape[0])
    return xywh.reshape(-1, 4).astype(np.float32), boxes[:, 4].copy(), landmarks.reshape(-1, 5, 2)


def face_probabilities(image: np.ndarray, boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """R-Net's and O-Net's face probabilities for boxes found by something else: MTCNN's last two
    stages as a second opinion, without its pyramid or thresholds.

    Each box is grown to a square about its centre (side max(w, h), as MTCNN squares its own
    boxes between stages), clipped to the image and resized to 24 px for R-Net and 48 px for O-Net.
    MTCNN's face boxes are about 1.25 times as tall as wide, so a box of that shape is what the
    networks were trained to score.

    Args:
        image: as for :func:`detect_faces_mtcnn`: (H, W, 3) or (H, W) float in [0, 1].
        boxes: (K, 4) [x, y, w, h] in input pixels, K >= 0.

    Returns:
        (K,) float32 R-Net probabilities in [0, 1] and (K,) float32 O-Net probabilities in [0, 1];
        0 for a box with nothing inside the image.

    Raises:
        InputError: bad image, or boxes not of shape (K, 4) with finite values.
        WeightsUnavailableError: the weights file is missing or unreadable.
    """
    pixels = _validate_image(image)
    boxes = np.asarray(boxes, dtype=np.float64)
    if boxes.ndim != 2 or boxes.shape[1] != 4 or not np.isfinite(boxes).all():
        raise InputError(f"boxes must be a (K, 4) array of finite [x, y, w, h], got shape {boxes.shape}")
    rnet_p, onet_p = np.zeros(len(boxes), np.float32), np.zeros(len(boxes), np.float32)
    if len(boxes) == 0:
        return rnet_p, onet_p
    model = load_mtcnn()
    x = _network_input(pixels)
    corners = torch.from_numpy(np.concatenate([boxes[:, :2], boxes[:, :2] + boxes[:, 2:]], axis=1).astype(np.float32))
    squares = _square(corners)
    with torch.inference_mode():
        crops, inside = _crops(x, squares, 24)
        if len(inside):
            rnet_p[inside] = _batched(model.rnet, crops)[1][:, 1].numpy()
        crops, inside = _crops(x, squares, 48)
        if len(inside):
            onet_p[inside] = _batched(model.onet, crops)[2][:, 1].numpy()
    return rnet_p, onet_p
