"""Learned scratch detector: a small U-Net that maps a photo to a per-pixel damage probability.

Following Wan et al. (CVPR 2020), who detect scratches with a U-Net trained on synthetic damage,
this network (about 0.5 M parameters, five levels of 8-16-32-64-128 channels) is trained on
synthetic damage (``benchmarks/damage_synthesis.py``: scratches, crack networks, creases,
tears with paper loss, dust, hairs, stains, both polarities) laid over real old prints that were
first aged (grain, blur, fading, JPEG). ``training/train_scratch_net.py`` reproduces the shipped
weights (``restoration/weights/scratch_net.safetensors``, in the repository, loaded with
safetensors; the weights manifest only lists hub and URL downloads).

The scratch stage's default detector (``ScratchOptions(detector="classical")`` picks the other):
on held-out prints and on real scratched photos it finds more of the damage than the classical
detector with fewer false alarms, and the stage comes closer to the undamaged print with it
(README, "Which detector"); on the bundled photos it is level with it. Its mask grows from the
pixels the network is sure of into fainter ones connected to them (:class:`Levels`), and the
classical detector adds what the network half agrees with and the long, straight, dark lines the
network reads as wires (:func:`classical_evidence`, :func:`learned_masks`).

It runs tiled at native resolution: overlapping tiles of ``TILE`` px, each keeping only its
centre (``TILE_MARGIN`` px of context on every side is discarded), so a scan of any size costs
memory for one tile only and the result matches an untiled pass away from the seams. The map
averages two passes, over the photo and over its mirror image (test-time augmentation, chosen on
the training script's validation prints: more of the damage found, fewer false alarms).

The module loads nothing at import time; :func:`load_scratch_net` reads the weights once per
process (cached, behind a lock) and the model is shared read-only afterwards.

References:
    Ronneberger, Fischer and Brox, "U-Net", MICCAI 2015.
    Wan et al., "Bringing Old Photos Back to Life", CVPR 2020.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import NamedTuple

import cv2
import numpy as np
import torch
from torch import nn

from .classical.scratch_detector import detect_scratches as detect_classical
from .components import seeded_components
from .errors import InputError
from .luma import luma
from .shipped import LoadedOnce
from .validation import check_rgb

__all__ = [
    "WEIGHTS_PATH",
    "CHANNELS",
    "TILE",
    "TILE_MARGIN",
    "ScratchNet",
    "weights_available",
    "load_scratch_net",
    "save_scratch_net",
    "damage_probability",
    "Levels",
    "levels_for",
    "WIDE_DAMAGE",
    "wide_regions",
    "thin_masks_at",
    "damage_masks",
    "LINE_FRACTION",
    "LINE_THICKNESS",
    "long_straight_lines",
    "dark_straight_lines",
    "classical_evidence",
    "masks_at_levels",
    "learned_masks",
    "detect_scratches_learned",
]

WEIGHTS_PATH = Path(__file__).resolve().parent / "weights" / "scratch_net.safetensors"
CHANNELS = (8, 16, 32, 64, 128)  # channels per level, finest first; 4 poolings: inputs padded to a multiple of 16
TILE = 768  # side of an inference tile, px (a multiple of 16)
TILE_MARGIN = 48  # context discarded on every side of a tile, px: beyond the net's effective reach
_MULTIPLE = 2 ** (len(CHANNELS) - 1)
# the mask's levels (Levels) at sensitivity 0, 0.5 (the default) and 1, linear in between. The
# default's, from the table `python training/train_scratch_net.py --calibrate WEIGHTS` prints, never
# from scored photos: among levels whose validation F1 and share of undamaged calibration prints
# marked are no worse than the previous detector's, the best F1 on the development crops of real
# damage (ties within 0.001 broken by the validation F1)
_SEEDS = (0.95, 0.6, 0.05)
_EXTENTS = (0.95, 0.5, 0.05)
_CONFIRMS = (0.95, 0.3, 0.05)
WIDE_DAMAGE = 11  # px: damage this wide or wider is left out of the mask (see wide_regions)
_WIDE_LEVEL = 0.5  # probability at which wide regions are measured
# long, straight, dark lines the classical detector finds join the network's mask (learned_masks);
# the three values chosen on the training script's validation and calibration prints
LINE_FRACTION = 0.2  # at least this share of the photo's longer side (and 40 px) long
LINE_THICKNESS = 8.0  # px: width of the band around the fitted line that holds the line's pixels
_LINE_SHARE = 0.9  # share of a component's pixels that must lie in that band
_LINE_MIN_PX = 40


def _block(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
        nn.Conv2d(c_out, c_out, 3, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    )


class ScratchNet(nn.Module):
    """U-Net: (B, 3, H, W) RGB in [0, 1] -> (B, 1, H, W) damage logits; H and W multiples of
    2 ** (levels - 1) (16 with the default five levels).

    Args:
        channels: channels per level, finest first (default :data:`CHANNELS`).
    """

    def __init__(self, channels: tuple[int, ...] = CHANNELS) -> None:
        super().__init__()
        self.channels = tuple(int(c) for c in channels)
        self.down = nn.ModuleList()
        c_prev = 3
        for c in self.channels:
            self.down.append(_block(c_prev, c))
            c_prev = c
        self.up = nn.ModuleList(
            _block(self.channels[i + 1] + self.channels[i], self.channels[i]) for i in reversed(range(len(self.channels) - 1))
        )
        self.head = nn.Conv2d(self.channels[0], 1, 1)
        self.pool = nn.MaxPool2d(2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x - 0.5
        skips = []
        for i, block in enumerate(self.down):
            x = block(x if i == 0 else self.pool(x))
            skips.append(x)
        for block, skip in zip(self.up, reversed(skips[:-1])):
            x = block(torch.cat([nn.functional.interpolate(x, scale_factor=2.0, mode="nearest"), skip], dim=1))
        return self.head(x)


def save_scratch_net(model: ScratchNet, path: str | Path, *, metadata: dict[str, str] | None = None) -> None:
    """Write ``model``'s weights as safetensors (float32), with its channels in the metadata."""
    from safetensors.torch import save_file

    tensors = {name: t.detach().contiguous().float() for name, t in model.state_dict().items() if t.is_floating_point()}
    info = {"channels": json.dumps(list(model.channels))} | dict(metadata or {})
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(path), metadata=info)


def weights_available(path: str | Path | None = None) -> bool:
    """True when the network's weights file (default :data:`WEIGHTS_PATH`) is on this machine."""
    return Path(WEIGHTS_PATH if path is None else path).is_file()


def load_scratch_net(path: str | Path | None = None) -> ScratchNet:
    """The network with the weights at ``path`` (default :data:`WEIGHTS_PATH`), in eval mode;
    loaded once per process and path.

    Raises:
        WeightsUnavailableError: the file is missing or is not a valid weights file for this network.
    """
    return _loaded(WEIGHTS_PATH if path is None else path)


def _build(path: Path) -> ScratchNet:
    from safetensors import safe_open
    from safetensors.torch import load_file

    with safe_open(str(path), framework="pt") as handle:
        channels = tuple(json.loads((handle.metadata() or {}).get("channels", json.dumps(list(CHANNELS)))))
    model = ScratchNet(channels)
    missing, unexpected = model.load_state_dict(load_file(str(path)), strict=False)
    missing = [name for name in missing if not name.endswith("num_batches_tracked")]
    if missing or unexpected:
        raise ValueError(f"missing {missing[:3]}, unexpected {unexpected[:3]}")
    return model


_loaded = LoadedOnce("the learned scratch detector", _build)


def _pad_to(x: torch.Tensor, top: int, bottom: int, left: int, right: int) -> torch.Tensor:
    """Reflect padding that also works when a pad exceeds the side (repeats the reflection)."""
    while top or bottom or left or right:
        h, w = x.shape[-2:]
        t, b, l, r = min(top, h - 1), min(bottom, h - 1), min(left, w - 1), min(right, w - 1)
        x = nn.functional.pad(x, (l, r, t, b), mode="reflect")
        top, bottom, left, right = top - t, bottom - b, left - l, right - r
    return x


def _logits_untiled(model: ScratchNet, x: torch.Tensor, margin: int) -> torch.Tensor:
    """Logits of (1, 3, H, W) ``x``, reflect-padded by ``margin`` (as tiles are at the photo's
    border) and up to a multiple of 16, then cropped back."""
    h, w = x.shape[-2:]
    ph, pw = -(h + 2 * margin) % _MULTIPLE, -(w + 2 * margin) % _MULTIPLE
    padded = _channels_last(_pad_to(x, margin, margin + ph, margin, margin + pw))
    return model(padded)[..., margin : margin + h, margin : margin + w]


def _channels_last(x: torch.Tensor) -> torch.Tensor:
    """``x`` (B, C, H, W) stored channels last, the layout in which oneDNN runs the network's
    convolutions about twice as fast on the CPU (the same probabilities to 1e-6)."""
    return x.contiguous(memory_format=torch.channels_last)


def damage_probability(
    image: np.ndarray, *, model: ScratchNet | None = None, tile: int = TILE, margin: int = TILE_MARGIN,
    mirror: bool = True,
) -> np.ndarray:
    """Per-pixel damage probability of ``image``, at its native resolution.

    Args:
        image: (H, W, 3) float RGB in [0, 1]; grayscale content as three equal channels.
        model: the network; default :func:`load_scratch_net` (the shipped weights).
        tile: side of a tile in px, a multiple of 16 larger than ``2 * margin``; images whose
            sides fit in one tile run untiled.
        margin: context in px discarded on every side of a tile, a multiple of 16.
        mirror: also run the network on the photo mirrored left to right and average the two
            probabilities (twice the cost; the training script's validation prints gain in F1 and
            lose false alarms, README). A mirrored photo then gets the mirrored map.

    Returns:
        (H, W) float32 in [0, 1], 1 = damaged.

    Raises:
        InputError: bad image, or a tile and margin that do not fit together.
        WeightsUnavailableError: ``model`` is None and the shipped weights are missing.
    """
    image = check_rgb(image, min_side=3)
    if tile % _MULTIPLE or margin % _MULTIPLE or tile <= 2 * margin:
        raise InputError(f"tile ({tile}) and margin ({margin}) must be multiples of {_MULTIPLE} with tile > 2 * margin")
    model = model or load_scratch_net()
    probability = _probability_once(model, image, tile, margin)
    if mirror:
        probability += _probability_once(model, image[:, ::-1], tile, margin)[:, ::-1]
        probability /= 2
    return probability


def _probability_once(model: ScratchNet, image: np.ndarray, tile: int, margin: int) -> np.ndarray:
    """One tiled pass of :func:`damage_probability` over checked ``image``: (H, W) float32 in [0, 1]."""
    h, w = image.shape[:2]
    x = torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1), dtype=np.float32))[None]
    with torch.inference_mode():
        if h <= tile and w <= tile:
            return torch.sigmoid(_logits_untiled(model, x, margin))[0, 0].numpy()
        step = tile - 2 * margin
        rows, cols = -(-h // step), -(-w // step)
        padded = _channels_last(_pad_to(x, margin, rows * step - h + margin, margin, cols * step - w + margin))
        out = np.empty((rows * step, cols * step), np.float32)
        for i in range(rows):
            for j in range(cols):
                crop = padded[..., i * step : i * step + tile, j * step : j * step + tile]
                logits = model(crop)[0, 0, margin : margin + step, margin : margin + step]
                out[i * step : (i + 1) * step, j * step : (j + 1) * step] = torch.sigmoid(logits).numpy()
    return out[:h, :w]


class Levels(NamedTuple):
    """Probability levels in [0, 1] that make the learned detector's mask.

    ``seed`` and ``extent`` make the network's mask from its probability map as Canny's edge
    detector makes edges (hysteresis): a pixel is damage when its probability is at least
    ``extent`` and it is 8-connected, through such pixels, to a pixel of at least ``seed``. A
    crack the network is sure of in places is then marked along its fainter stretches, while
    faint specks on their own are not. ``Levels(t, t)`` is a plain threshold at ``t``.

    ``confirm``: a pixel the classical detector marks joins the mask when the network gives it
    at least this probability (:func:`classical_evidence`); ``math.inf``, the default, never.
    """

    seed: float
    extent: float
    confirm: float = math.inf


def levels_for(sensitivity: float) -> Levels:
    """The mask's :class:`Levels` for ``sensitivity`` in [0, 1]: all fall as it rises (seed
    0.95 / 0.6 / 0.05, extent 0.95 / 0.5 / 0.05 and confirm 0.95 / 0.3 / 0.05 at 0 / 0.5 / 1,
    linear in between), so a mask only grows with its sensitivity."""
    if not isinstance(sensitivity, (int, float, np.integer, np.floating)) or not 0.0 <= float(sensitivity) <= 1.0:
        raise InputError(f"sensitivity must be a number in [0, 1], got {sensitivity!r}; 0.5 is the default")
    return Levels(*(float(np.interp(float(sensitivity), (0.0, 0.5, 1.0), at)) for at in (_SEEDS, _EXTENTS, _CONFIRMS)))


def wide_regions(probability: np.ndarray) -> np.ndarray:
    """Where the network sees damage at least :data:`WIDE_DAMAGE` px across, with a 2 px rim:
    (H, W) bool, from the probability map alone (the same for every sensitivity).

    At that width it cannot tell paper loss from a blank sky, wall or mount touching the
    border (it marked 4.5 % of undamaged prints so, nearly all of it skies), so the detector
    leaves wide damage to the user's brush, as the classical detector does (its widest channel
    finds cracks up to about 8 px).
    """
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (WIDE_DAMAGE, WIDE_DAMAGE))
    core = cv2.morphologyEx((probability >= _WIDE_LEVEL).astype(np.uint8), cv2.MORPH_OPEN, disc)
    return cv2.dilate(core, np.ones((5, 5), np.uint8)) > 0


def thin_masks_at(probability: np.ndarray, levels: tuple[Levels, ...]) -> list[np.ndarray]:
    """One (H, W) bool mask per :class:`Levels` of a map of :func:`damage_probability`, outside
    :func:`wide_regions` (measured once)."""
    thin = ~wide_regions(probability)
    return [seeded_components(thin & (probability >= each.extent), probability >= each.seed) for each in levels]


def damage_masks(probability: np.ndarray, sensitivities: tuple[float, ...]) -> list[np.ndarray]:
    """Thin damage (scratches, cracks, crazing, hairs, dust, spots) from a probability map of
    :func:`damage_probability`, one (H, W) bool mask per sensitivity: :func:`thin_masks_at` the
    :func:`levels_for` ``(sensitivity)``; a mask only grows with its sensitivity."""
    return thin_masks_at(probability, tuple(levels_for(level) for level in sensitivities))


def long_straight_lines(mask: np.ndarray) -> np.ndarray:
    """The long straight lines of ``mask``: for each 8-connected component, a straight line is
    fitted (Huber); when at least :data:`_LINE_SHARE` of its pixels lie within a band
    :data:`LINE_THICKNESS` px wide around it, and those pixels span at least
    :data:`LINE_FRACTION` of the photo's longer side (and 40 px) along it, they are a line.
    Spurs that leave the band (an edge the line crosses) and curved or branching components
    are left out.

    Args:
        mask: (H, W) bool.

    Returns:
        (H, W) bool, a subset of ``mask``.
    """
    mask = np.asarray(mask, dtype=bool)
    min_length = max(_LINE_MIN_PX, LINE_FRACTION * max(mask.shape))
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    lines = np.zeros_like(mask)
    for label in range(1, count):
        x, y, w, h = stats[label, :4]
        if np.hypot(w, h) < min_length:  # even its bounding box's diagonal is too short
            continue
        ys, xs = np.nonzero(labels[y : y + h, x : x + w] == label)
        points = np.stack([xs, ys], axis=1).astype(np.float32)
        vx, vy, x0, y0 = cv2.fitLine(points, cv2.DIST_HUBER, 0, 0.01, 0.01).ravel()
        along = (xs - x0) * vx + (ys - y0) * vy
        near = np.abs((xs - x0) * vy - (ys - y0) * vx) <= LINE_THICKNESS / 2
        if near.mean() >= _LINE_SHARE and np.ptp(along[near]) >= min_length:
            lines[y + ys[near], x + xs[near]] = True
    return lines


def dark_straight_lines(mask: np.ndarray, image: np.ndarray) -> np.ndarray:
    """The :func:`long_straight_lines` of ``mask`` that are darker than the photo around them
    (the mean luma of a line's pixels below the mean luma of the other pixels within 3 px):
    scratches on the negative, which print dark. Bright straight lines are left out: on
    undamaged prints they are roof edges, rails and the lit edges of frames.

    Args:
        mask: (H, W) bool.
        image: (H, W, 3) float RGB in [0, 1].

    Returns:
        (H, W) bool, a subset of ``mask``.
    """
    return _darker_than_around(long_straight_lines(mask), image)


def _darker_than_around(lines: np.ndarray, image: np.ndarray) -> np.ndarray:
    """The 8-connected components of ``lines`` ((H, W) bool) whose mean luma is below that of the
    other pixels within 3 px of them ((H, W, 3) float ``image`` in [0, 1]): (H, W) bool."""
    count, labels = cv2.connectedComponents(lines.astype(np.uint8), connectivity=8)
    if count <= 1:
        return lines
    gray = luma(np.asarray(image, dtype=np.float32))
    around = (~lines).astype(np.float32)
    window = (7, 7)
    surround = cv2.boxFilter(gray * around, -1, window, normalize=False) / np.maximum(
        cv2.boxFilter(around, -1, window, normalize=False), 1.0
    )
    on_line = labels[lines]
    darker = np.bincount(on_line, gray[lines], count) < np.bincount(on_line, surround[lines], count)
    return darker[labels] & lines


def classical_evidence(classical: np.ndarray, probability: np.ndarray, image: np.ndarray, confirm: float) -> np.ndarray:
    """What the classical detector's mask adds to the network's: its pixels where the network's
    probability is at least ``confirm`` (the network half agrees: that lifted the validation F1
    for no more false alarms), except on its long straight lines, and of those the dark ones
    (:func:`dark_straight_lines`). The network reads part of a long, straight, uniform dark
    line, a scratch on the negative, as a wire, which it learned to leave alone; a long straight
    bright line the network half agrees with is mostly a lit edge (a roof's, a rail's).

    Args:
        classical: (H, W) bool, the classical detector's mask.
        probability: (H, W) float in [0, 1], :func:`damage_probability` of ``image``.
        image: (H, W, 3) float RGB in [0, 1].
        confirm: :attr:`Levels.confirm`.

    Returns:
        (H, W) bool, a subset of ``classical``.
    """
    return _evidence_at(_evidence_parts(classical, image), probability, confirm)


def _evidence_at(parts: tuple[np.ndarray, np.ndarray], probability: np.ndarray, confirm: float) -> np.ndarray:
    """:func:`classical_evidence` from its :func:`_evidence_parts` and the network's probability."""
    off_lines, dark_lines = parts
    return (off_lines & (probability >= confirm)) | dark_lines


def _evidence_parts(classical: np.ndarray, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(the marks of ``classical`` off its long straight lines, its dark straight lines): the two
    parts of :func:`classical_evidence` that do not depend on the network, (H, W) bool each."""
    classical = np.asarray(classical, dtype=bool)
    lines = long_straight_lines(classical)
    return classical & ~lines, _darker_than_around(lines, image)


def masks_at_levels(
    probability: np.ndarray, classical: np.ndarray, image: np.ndarray, levels: tuple[Levels, ...]
) -> list[np.ndarray]:
    """The learned detector's mask at each of ``levels``: :func:`thin_masks_at` of the network's
    map, plus the :func:`classical_evidence` of one classical mask (its straight lines found once).

    Args:
        probability: (H, W) float in [0, 1], :func:`damage_probability` of ``image``.
        classical: (H, W) bool, the classical detector's mask of ``image``.
        image: (H, W, 3) float RGB in [0, 1].
        levels: the mask's levels.

    Returns:
        (H, W) bool masks, True = damaged, in the order of ``levels``.
    """
    parts = _evidence_parts(classical, image)
    return [mask | _evidence_at(parts, probability, each.confirm) for mask, each in zip(thin_masks_at(probability, levels), levels)]


def learned_masks(
    image: np.ndarray, sensitivities: tuple[float, ...], *, model: ScratchNet | None = None
) -> list[np.ndarray]:
    """The learned detector's thin-damage masks, one per sensitivity: :func:`masks_at_levels`
    of :func:`damage_probability` (the network runs once) at the :func:`levels_for` the
    sensitivity, with the classical detector at the same sensitivity. A mask only grows with
    its sensitivity.

    Args:
        image: (H, W, 3) float RGB in [0, 1].
        sensitivities: each in [0, 1].
        model: the network; default the shipped weights.

    Returns:
        (H, W) bool masks, True = damaged, in the order of ``sensitivities``.

    Raises:
        InputError: bad image or sensitivity (before the network runs).
        WeightsUnavailableError: ``model`` is None and the shipped weights are missing.
    """
    levels = [levels_for(level) for level in sensitivities]  # refuses a bad sensitivity before the network runs
    probability = damage_probability(image, model=model)
    masks = {}
    found = np.zeros(image.shape[:2], bool)
    for i in sorted(range(len(levels)), key=lambda k: sensitivities[k]):
        classical = detect_classical(image, sensitivity=sensitivities[i])
        found |= masks_at_levels(probability, classical, image, (levels[i],))[0]
        masks[i] = found.copy()
    return [masks[i] for i in range(len(levels))]


def detect_scratches_learned(
    image: np.ndarray, *, sensitivity: float = 0.5, model: ScratchNet | None = None
) -> np.ndarray:
    """Thin-damage mask of the learned detector (:func:`learned_masks` at one sensitivity).

    Args:
        image: (H, W, 3) float RGB in [0, 1].
        sensitivity: in [0, 1]; higher finds fainter damage, and the mask only grows with it.
        model: the network; default the shipped weights.

    Returns:
        (H, W) bool, True = damaged.
    """
    return learned_masks(image, (sensitivity,), model=model)[0]
