"""Train the learned scratch detector (``restoration/scratch_net.py``) on this machine's CPU.

Data (nothing is downloaded):

* real old prints of the development corpus ``../shared/corpus`` (127 prints, jantic/DeOldify
  ``test_images/``, see its PROVENANCE.md), minus ``HELD_OUT_PRINTS`` (the 40 prints the
  benchmarks score on, ``benchmarks/scratch_quality.py``) and minus ``VALIDATION_PRINTS``
  (6 prints watched during training): 81 training prints;
* synthetic damage from ``benchmarks/damage_synthesis.py`` (aging, then scratches, crack
  networks, creases, tears with paper loss, dust, hairs, stains, spots, both polarities,
  then JPEG), drawn on crops of the prints, ``TRAIN_MIX``; ``--scuffs P`` adds a scuffed patch
  (many short faint strokes) to a share P of the crops, and ``--texture P`` places a share P of
  the crops on the most textured of several positions (stone, foliage, hair, lace: undamaged
  texture that looks like wear), ``--hard P`` centres a share P of the crops on the false
  alarms of the ``--init`` weights on the undamaged prints, and ``--mesh P`` paints a patch of
  lace, net or knitwear, never damage, into a share P of the crops
  (``damage_synthesis.paint_mesh``; experiments: README), ``--halftone P`` reprints a share P
  of the crops through a halftone screen (``damage_synthesis.paint_halftone``), ``--signs P``
  paints a sign or label of printed or handwritten writing, never damage, into a share P of the
  crops (``damage_synthesis.paint_signs``); ``--mix cracks=4,spots=6`` changes counts or
  probabilities of ``TRAIN_MIX`` (the fields of ``damage_synthesis.DamageMix``);
* thin real structures painted into half of the crops before aging (wires, railings, window
  bars, bare twigs, lettering: ``damage_synthesis.paint_structures``), never marked as damage,
  so the network learns that a line under the grain belongs to the scene;
* several scales: each crop comes from the print resized by a factor drawn log-uniformly in
  [``MIN_SCALE``, 1] of its native size, so the network sees grain and damage at many sizes.

Never used here: ``HELD_OUT_PRINTS``, the bundled photos of ``degrade.clean_photos`` and the
photos of ``examples/`` (scored by the benchmarks and tests), and ``../shared/scratched``.

Recipe: a bank of ``--bank`` damaged crops of ``BANK_CROP`` px is drawn once
(``numpy.random.default_rng([seed, k])`` for crop k), then ``--steps`` Adam steps on batches of
random ``--crop`` px sub-crops (default ``TRAIN_CROP``) with flips and quarter turns; loss = binary cross-entropy
(positives weighted ``POS_WEIGHT``) + soft Dice; cosine learning rate. torch runs on
``--threads`` threads with a fixed seed.

Usage (from the repository root)::

    nice -n 10 python training/train_scratch_net.py [--steps N] [--bank N] [--seed S] [--threads T]
        [--corpus DIR] [--output restoration/weights/scratch_net.safetensors] [--init WEIGHTS]

``--init WEIGHTS`` continues from earlier weights with a second cosine cycle (other batches from
the same bank); the output's metadata names the earlier weights by SHA-256 and keeps their recipe.

It prints the validation F1 every ``--eval-every`` steps and the wall time at the end, and
writes the weights (safetensors, float32) with the recipe in their metadata.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import math
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Callable, NamedTuple

import cv2
import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from damage_synthesis import (  # noqa: E402
    DEFAULT_MIX, DUST_ONLY, DamageMix, paint_halftone, paint_mesh, paint_signs, synthesize,
)
from degrade import _downsize  # noqa: E402
from real_damage_labels import DEVELOPMENT_RECIPES, SCRATCHED, LabelledCrop, labelled_crops  # noqa: E402
from scratch_detection import marked_beside  # noqa: E402
from scratch_quality import CORPUS, HELD_OUT_PRINTS, load_prints, prf, prints_except  # noqa: E402

from restoration.classical.scratch_detector import detect_scratches  # noqa: E402
from restoration.luma import luma  # noqa: E402
from restoration.scratch_net import (  # noqa: E402
    WEIGHTS_PATH,
    Levels,
    ScratchNet,
    damage_probability,
    levels_for,
    load_scratch_net,
    masks_at_levels,
    save_scratch_net,
    thin_masks_at,
)

# 6 prints outside HELD_OUT_PRINTS, watched during training, never trained on
VALIDATION_PRINTS = (
    "1867MusicianConstantinople.jpg", "1870sSphinx.jpg", "1888Slum.jpg", "1890BostonHospital.jpg",
    "1874Mexico.png", "1880Paris.jpg",
)
BANK_CROP = 192  # side of the damaged crops drawn once, px
TRAIN_CROP = 96  # default side of the sub-crops a batch is made of, px (a multiple of 16; --crop)
MIN_SCALE = 0.3  # smallest resize factor of a print (log-uniform in [MIN_SCALE, 1])
POS_WEIGHT = 3.0  # weight of damaged pixels in the cross-entropy
VAL_SIDE = 384  # validation prints are downsized to this side
CALIBRATION_SIDE = 1024  # undamaged prints of --calibrate are downsized to this side
DUST_STREAM = 9998  # random stream of --calibrate's dust cases (the validation damage's is 9999)
TRAIN_MIX = replace(DEFAULT_MIX, clean_p=0.2)  # damage of the bank: a fifth of the crops undamaged
STRUCTURES_P = 0.5  # share of bank crops with thin real structures painted in (negatives)
TEXTURE_CANDIDATES = 8  # positions drawn for a texture crop (--texture): the most textured is kept
# the mask's levels --calibrate measures: seed x extent (extent <= seed; seed = extent is a plain
# threshold) x confirm (inf: the classical detector adds its dark straight lines only)
CALIBRATION_LEVELS = tuple(
    Levels(seed, extent, confirm)
    for seed in (0.5, 0.6, 0.7, 0.8, 0.9)
    for extent in (0.3, 0.35, 0.4, 0.45, 0.5)
    for confirm in (math.inf, 0.1, 0.2, 0.3)
    if extent <= seed
)
# the options that draw a share of the bank's crops in a special way, and which crops (their --help)
SHARE_OPTIONS = {
    "scuffs": "with a scuffed patch",
    "texture": "placed on the most textured of several positions",
    "hard": "centred on a false alarm of the --init weights on an undamaged training print (three quarters of "
            "them: --calibrate measures the rest)",
    "mesh": "with a patch of lace, net or knitwear painted in (never damage)",
    "halftone": "reprinted through a halftone screen (never damage)",
    "signs": "with a sign of printed or handwritten writing painted in, left unaged (never damage)",
}
FALSE_ALARM_THRESHOLD = 0.5  # probability at which a mark on an undamaged print is a false alarm (--hard)
FALSE_ALARM_MIN_AREA = 16  # px at CALIBRATION_SIDE: smaller false alarms are not searched for (--hard)


def mix_overrides(text: str) -> dict[str, float]:
    """Parse ``--mix`` (``"cracks=4,crease_p=0.4"``) into fields of ``DamageMix`` and their values.
    Counts must be >= 0 and ``*_p`` fields in [0, 1]; ``scuffs_p`` has its own option
    (``--scuffs``). Raises ValueError naming the bad item."""
    fields = {name for name in DamageMix.__dataclass_fields__ if name != "scuffs_p"}
    overrides: dict[str, float] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, _, value = item.partition("=")
        if name not in fields:
            raise ValueError(f"--mix: unknown kind {name!r}; known: {', '.join(sorted(fields))}")
        try:
            number = float(value)
        except ValueError:
            raise ValueError(f"--mix: {item!r} is not NAME=NUMBER") from None
        if number < 0 or (name.endswith("_p") and number > 1):
            raise ValueError(f"--mix: {name} must be {'in [0, 1]' if name.endswith('_p') else '>= 0'}, got {number}")
        overrides[name] = number
    return overrides


def training_prints(corpus: Path) -> list[str]:
    """Sorted names of the corpus prints used for training (all but held-out and validation)."""
    return prints_except(corpus, HELD_OUT_PRINTS + VALIDATION_PRINTS)


def texture_energy(crop: np.ndarray) -> float:
    """Mean absolute difference between a crop's luma and its Gaussian blur (sigma 1.5 px), in
    [0, 1]: high on stone, foliage, hair and heavy grain, low on sky, skin and plain walls.
    ``crop``: (H, W, 3) float in [0, 1]."""
    gray = luma(crop).astype(np.float32)
    return float(np.abs(gray - cv2.GaussianBlur(gray, (0, 0), 1.5)).mean())


def most_textured_position(image: np.ndarray, rng: np.random.Generator) -> tuple[int, int]:
    """Top-left corner (y, x) of the most textured of ``TEXTURE_CANDIDATES`` random
    ``BANK_CROP`` px crops of ``image`` ((H, W, 3) float in [0, 1], both sides >= BANK_CROP)."""
    h, w = image.shape[:2]
    ys = rng.integers(0, h - BANK_CROP + 1, TEXTURE_CANDIDATES)
    xs = rng.integers(0, w - BANK_CROP + 1, TEXTURE_CANDIDATES)
    energies = [texture_energy(image[y : y + BANK_CROP, x : x + BANK_CROP]) for y, x in zip(ys, xs)]
    best = int(np.argmax(energies))
    return int(ys[best]), int(xs[best])


def false_alarm_spots(model: ScratchNet, image: np.ndarray) -> list[tuple[float, float]]:
    """Where ``model`` marks damage on an undamaged print ((H, W, 3) float in [0, 1], seen at most
    ``CALIBRATION_SIDE`` px): the centres (y / H, x / W) of the regions of at least
    ``FALSE_ALARM_MIN_AREA`` px it marks at ``FALSE_ALARM_THRESHOLD``, wide regions left out as in
    use (one pass of the network, without the mirror pass, so the fifth cycle's bank is drawn again)."""
    probability = damage_probability(_downsize(image, CALIBRATION_SIDE), model=model, mirror=False)
    marked = thin_masks_at(probability, (Levels(FALSE_ALARM_THRESHOLD, FALSE_ALARM_THRESHOLD),))[0]
    _, _, stats, centres = cv2.connectedComponentsWithStats(marked.astype(np.uint8), connectivity=8)
    h, w = marked.shape
    return [(float(cy / h), float(cx / w)) for (cx, cy), area in zip(centres[1:], stats[1:, cv2.CC_STAT_AREA])
            if area >= FALSE_ALARM_MIN_AREA]


def _drawn(rng: np.random.Generator, p: float) -> bool:
    """True with probability ``p``; at ``p`` = 0 no random number is drawn, so a bank drawn
    without an option stays the same, draw for draw, when the option is added to the script."""
    return bool(p) and rng.random() < p


class CropShares(NamedTuple):
    """Shares in [0, 1] of the bank's crops drawn in a special way (each 0 by default: a share of 0
    draws no random number, so the bank is the same as without it, draw for draw)."""

    texture: float = 0.0
    """placed on the most textured of several positions (``most_textured_position``): undamaged
    texture that looks like wear (``--texture``)."""
    hard: float = 0.0
    """centred on a false alarm of earlier weights (``--hard``; needs ``spots``)."""
    mesh: float = 0.0
    """with a patch of lace, net or knitwear painted in before damage, never marked (``--mesh``)."""
    halftone: float = 0.0
    """reprinted through a halftone screen before damage, never marked (``--halftone``)."""
    signs: float = 0.0
    """with a sign or label of printed or handwritten writing painted in before damage, never
    marked, and not aged (``--signs``): writing as crisp as damage."""


def draw_bank(
    prints: list[np.ndarray], count: int, seed: int, mix: DamageMix = TRAIN_MIX, shares: CropShares = CropShares(),
    spots: list[list[tuple[float, float]]] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """``count`` crops damaged by ``mix``: (N, BANK_CROP, BANK_CROP, 3) uint8 and (N, BANK_CROP, BANK_CROP) bool,
    some drawn as ``shares`` says. ``spots``: the false alarms of earlier weights per print, as
    ``false_alarm_spots`` gives them (prints without any are not drawn for the hard crops)."""
    images = np.empty((count, BANK_CROP, BANK_CROP, 3), np.uint8)
    masks = np.empty((count, BANK_CROP, BANK_CROP), bool)
    searched = [i for i, found in enumerate(spots or []) if found]
    for k in range(count):
        rng = np.random.default_rng([seed, k])
        hard = bool(searched) and _drawn(rng, shares.hard)
        index = searched[int(rng.integers(len(searched)))] if hard else int(rng.integers(len(prints)))
        crop = _bank_crop(prints[index], spots[index] if hard else None, shares.texture, rng)
        signed = _drawn(rng, shares.signs)
        if signed:
            crop = paint_signs(crop, rng=rng)
        if _drawn(rng, shares.mesh):
            crop = paint_mesh(crop, rng=rng)
        if _drawn(rng, shares.halftone):
            crop = paint_halftone(crop, rng=rng)
        # a sign crop is left as sharp as the print is: crisp writing, as crisp as the damage painted on it
        damaged, truth = synthesize(crop, rng=rng, mix=mix, age=not signed, structures_p=STRUCTURES_P)
        images[k] = (damaged * 255 + 0.5).astype(np.uint8)
        masks[k] = truth
    return images, masks


def _bank_crop(
    source: np.ndarray, spots: list[tuple[float, float]] | None, texture_p: float, rng: np.random.Generator
) -> np.ndarray:
    """A (BANK_CROP, BANK_CROP, 3) crop of ``source`` at a random scale from ``MIN_SCALE`` to 1:
    centred on one of ``spots`` when given, else on the most textured of several positions with
    probability ``texture_p``, else anywhere."""
    h, w = source.shape[:2]
    low = max(MIN_SCALE, BANK_CROP / min(h, w))
    scale = math.exp(rng.uniform(math.log(low), 0.0)) if low < 1 else 1.0
    scaled = _downsize(source, max(BANK_CROP, int(round(max(h, w) * scale))))
    y = int(rng.integers(0, scaled.shape[0] - BANK_CROP + 1))
    x = int(rng.integers(0, scaled.shape[1] - BANK_CROP + 1))
    if spots is not None:
        fy, fx = spots[int(rng.integers(len(spots)))]
        y = int(np.clip(round(fy * scaled.shape[0]) - BANK_CROP // 2, 0, scaled.shape[0] - BANK_CROP))
        x = int(np.clip(round(fx * scaled.shape[1]) - BANK_CROP // 2, 0, scaled.shape[1] - BANK_CROP))
    elif _drawn(rng, texture_p):
        y, x = most_textured_position(scaled, rng)
    return np.ascontiguousarray(scaled[y : y + BANK_CROP, x : x + BANK_CROP])


def cached_bank(
    path: Path | None, recipe: dict, draw: Callable[[], tuple[np.ndarray, np.ndarray]]
) -> tuple[np.ndarray, np.ndarray]:
    """The bank saved in ``path`` (``.npz``) if it was drawn by ``recipe``; else ``draw()``, saved
    there with its recipe when ``path`` is given. Raises ValueError when the saved bank was drawn
    by another recipe (or saved without one), so a run never trains on a bank its recipe does not
    describe."""
    if path is None or not path.is_file():
        bank = draw()
        if path is not None:
            np.savez(path, images=bank[0], masks=bank[1], recipe=json.dumps(recipe, sort_keys=True))
        return bank
    with np.load(path) as saved:
        saved_recipe = json.loads(str(saved["recipe"])) if "recipe" in saved.files else None
        if saved_recipe != json.loads(json.dumps(recipe)):
            why = (f"{', '.join(sorted(k for k in recipe if saved_recipe.get(k) != recipe[k]))} differ"
                   if saved_recipe else "it was saved without its recipe")
            raise ValueError(f"the bank in {path} was not drawn with these options ({why}): "
                             "delete it or name another --bank-cache file")
        return saved["images"], saved["masks"]


def batch_from(
    bank: tuple[np.ndarray, np.ndarray], size: int, rng: np.random.Generator, crop: int = TRAIN_CROP
) -> tuple[torch.Tensor, torch.Tensor]:
    """Random ``crop`` px sub-crops with flips and quarter turns: (B, 3, C, C) float in [0, 1],
    (B, 1, C, C) float {0, 1}."""
    images, masks = bank
    xs, ys = [], []
    for _ in range(size):
        k = int(rng.integers(len(images)))
        y, x = rng.integers(0, BANK_CROP - crop + 1, 2)
        img = images[k, y : y + crop, x : x + crop]
        msk = masks[k, y : y + crop, x : x + crop]
        turns = int(rng.integers(4))
        img, msk = np.rot90(img, turns), np.rot90(msk, turns)
        if rng.random() < 0.5:
            img, msk = img[:, ::-1], msk[:, ::-1]
        xs.append(img.transpose(2, 0, 1))
        ys.append(msk[None])
    x = torch.from_numpy(np.ascontiguousarray(np.stack(xs))).float() / 255.0
    y = torch.from_numpy(np.ascontiguousarray(np.stack(ys))).float()
    return x, y


def loss_of(logits: torch.Tensor, truth: torch.Tensor) -> torch.Tensor:
    """Weighted binary cross-entropy plus soft Dice over the batch."""
    bce = torch.nn.functional.binary_cross_entropy_with_logits(
        logits, truth, pos_weight=torch.tensor(POS_WEIGHT)
    )
    p = torch.sigmoid(logits)
    dice = 1 - (2 * (p * truth).sum() + 1) / (p.sum() + truth.sum() + 1)
    return bce + dice


def validation_cases(
    corpus: Path, seed: int, draws: int = 1, *, mix: DamageMix = DEFAULT_MIX, stream: int = 9999
) -> list[tuple[np.ndarray, np.ndarray]]:
    """(damaged (H, W, 3) float32, truth (H, W) bool) for each validation print and each of
    ``draws`` fixed draws of ``mix`` from ``default_rng([seed, stream, print, draw])`` (draw 0
    without its number, so the first draw is the same for every ``draws``). The dust cases of
    ``--calibrate`` are ``mix=DUST_ONLY, stream=DUST_STREAM``."""
    prints = load_prints(corpus, VALIDATION_PRINTS, VAL_SIDE)
    return [
        synthesize(image, rng=np.random.default_rng([seed, stream, i, *([draw] if draw else [])]), mix=mix)
        for draw in range(draws)
        for i, image in enumerate(prints.values())
    ]


def validation_f1(model: ScratchNet, cases: list[tuple[np.ndarray, np.ndarray]]) -> float:
    """Mean pixel F1 over the validation cases of the detector's mask at the default sensitivity."""
    return float(validation_curve(model, cases, (levels_for(0.5),))[0])


def detector_masks(model: ScratchNet, image: np.ndarray, levels: tuple[Levels, ...]) -> list[np.ndarray]:
    """The learned detector's mask of ``image`` ((H, W, 3) float in [0, 1]) at each of the mask's
    ``levels``, as ``scratch_net.learned_masks`` makes it at the default sensitivity (thin damage
    of the network, and the classical detector's evidence at sensitivity 0.5): (H, W) bool each."""
    return masks_at_levels(damage_probability(image, model=model), detect_scratches(image, sensitivity=0.5), image, levels)


def validation_curve(
    model: ScratchNet, cases: list[tuple[np.ndarray, np.ndarray]], levels: tuple[Levels, ...]
) -> np.ndarray:
    """Mean pixel F1 over the validation cases of :func:`detector_masks` at each of ``levels``,
    shape (len(levels),)."""
    was_training = model.training
    model.eval()  # batch norm on its running statistics, as in use
    scores = [[prf(mask, truth)[2] for mask in detector_masks(model, damaged, levels)] for damaged, truth in cases]
    model.train(was_training)
    return np.mean(scores, axis=0)


def calibrate(weights: Path, corpus: Path, seed: int, scratched: Path, draws: int = 1) -> int:
    """Print, at each of ``CALIBRATION_LEVELS``, the validation F1 (VALIDATION_PRINTS only, each
    under ``draws`` damage draws: six cases make a noisy mean, 30 a steadier one), the
    share of pixels marked on undamaged prints (the validation prints and every fourth training
    print, as they are, at most ``CALIBRATION_SIDE`` px) and the mean F1 on the development crops
    of real damage (``real_damage_labels.DEVELOPMENT_RECIPES``, when ``scratched`` holds their
    photos) and the share marked beyond 1 px of the dust on the validation prints under a dust
    field alone (:func:`validation_cases` of ``DUST_ONLY``: the scene read as damage): the mask's levels at the default
    sensitivity (``scratch_net.levels_for(0.5)``) are read from this table, never from scored
    photos."""
    model = load_scratch_net(weights).eval()
    cases = validation_cases(corpus, seed, draws)
    curve = validation_curve(model, cases, CALIBRATION_LEVELS)
    undamaged = list(VALIDATION_PRINTS) + training_prints(corpus)[::4]
    marked = np.array([  # % of each undamaged print marked, (prints, levels)
        [100 * mask.mean() for mask in detector_masks(model, image, CALIBRATION_LEVELS)]
        for image in load_prints(corpus, undamaged, CALIBRATION_SIDE).values()
    ])
    beside_dust = np.array([  # % marked beyond 1 px of the dust, (prints, levels)
        [marked_beside(mask, dust) for mask in detector_masks(model, dusty, CALIBRATION_LEVELS)]
        for dusty, dust in validation_cases(corpus, seed, mix=DUST_ONLY, stream=DUST_STREAM)
    ])
    try:
        crops = labelled_crops(scratched, DEVELOPMENT_RECIPES)
    except FileNotFoundError as error:
        print(f"note: no development crops ({error})", file=sys.stderr)
        crops = []
    real = np.array([crop_f1(model, crop, CALIBRATION_LEVELS) for crop in crops]).reshape(
        len(crops), len(CALIBRATION_LEVELS)
    )  # F1 on each development crop, (crops, levels)
    print(f"| seed | extent | confirm | validation F1 | marked on {len(marked)} undamaged prints: mean % | max % "
          f"| {len(crops)} development crops: F1 | beyond the dust % |")
    print("|---|---|---|---|---|---|---|---|")
    for i, levels in enumerate(CALIBRATION_LEVELS):
        print(f"| {levels.seed:.2f} | {levels.extent:.2f} | {levels.confirm:.2f} | {curve[i]:.4f} | "
              f"{marked[:, i].mean():.3f} | {marked[:, i].max():.2f} | {real[:, i].mean() if crops else float('nan'):.4f} | "
              f"{beside_dust[:, i].mean():.3f} |")
    return 0


def crop_f1(model: ScratchNet, crop: LabelledCrop, levels: tuple[Levels, ...]) -> list[float]:
    """Pixel F1 inside ``crop.box`` of :func:`detector_masks` of the crop's whole photo at each of
    ``levels``."""
    x0, y0, x1, y1 = crop.box
    masks = detector_masks(model, crop.image, levels)
    return [prf(mask[y0:y1, x0:x1], crop.truth[y0:y1, x0:x1])[2] for mask in masks]


def _provenance_of(weights: Path) -> dict:
    """What the output's recipe says of the weights a run continues from: their SHA-256 and their
    own recipe. Read before training, since ``--output`` may be the same file."""
    from safetensors import safe_open  # noqa: PLC0415

    with safe_open(str(weights), framework="pt") as handle:
        recipe = (handle.metadata() or {}).get("recipe")
    return {"init_sha256": hashlib.sha256(weights.read_bytes()).hexdigest(), "init_recipe": json.loads(recipe) if recipe else None}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=900, help="Adam steps (default 900)")
    parser.add_argument("--batch", type=int, default=8, help="sub-crops per step (default 8)")
    parser.add_argument(
        "--crop", type=int, default=TRAIN_CROP,
        help=f"side of the sub-crops, px: a multiple of 16 up to {BANK_CROP} (default {TRAIN_CROP})",
    )
    for name, which in SHARE_OPTIONS.items():
        parser.add_argument(
            f"--{name}", type=float, default=0.0, metavar="P", help=f"share of bank crops {which}, in [0, 1] (default 0)"
        )
    parser.add_argument(
        "--mix", type=str, default="", metavar="KIND=N,...",
        help="change the damage of the bank: counts per 512 px or probabilities of damage_synthesis.DamageMix, "
             "e.g. cracks=4,crease_p=0.4,spots=6 (default: TRAIN_MIX as it is)",
    )
    parser.add_argument("--bank", type=int, default=3000, help="damaged crops drawn once (default 3000)")
    parser.add_argument(
        "--bank-cache", type=Path, default=None,
        help="reuse the bank saved in this .npz file if the same options drew it (drawn and saved if missing)",
    )
    parser.add_argument("--lr", type=float, default=3e-3, help="peak learning rate (default 3e-3)")
    parser.add_argument("--seed", type=int, default=0, help="seed of everything (default 0)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    parser.add_argument("--eval-every", type=int, default=150, help="validation every N steps (default 150)")
    parser.add_argument("--corpus", type=Path, default=CORPUS, help=f"folder of the corpus prints (default {CORPUS})")
    parser.add_argument(
        "--scratched", type=Path, default=SCRATCHED,
        help=f"folder of the real scratched photos of the development crops (--calibrate; default {SCRATCHED})",
    )
    parser.add_argument("--output", type=Path, default=WEIGHTS_PATH, help=f"weights file (default {WEIGHTS_PATH})")
    parser.add_argument(
        "--init", type=Path, default=None, metavar="WEIGHTS",
        help="continue from these weights (a second cosine cycle) instead of random ones",
    )
    parser.add_argument(
        "--draws", type=int, default=1,
        help="damage draws per validation print in --calibrate's validation F1 (default 1: six cases; 5 is steadier)",
    )
    parser.add_argument(
        "--calibrate", type=Path, default=None, metavar="WEIGHTS",
        help="do not train: print the validation F1, false alarms and development-crop F1 of WEIGHTS at "
             "several levels of the mask",
    )
    args = parser.parse_args(argv)
    if args.draws < 1:
        parser.error(f"--draws must be at least 1, got {args.draws}")
    if args.crop % 16 or not 16 <= args.crop <= BANK_CROP:
        parser.error(f"--crop must be a multiple of 16 from 16 to {BANK_CROP}, got {args.crop}")
    for name in SHARE_OPTIONS:
        if not 0.0 <= getattr(args, name) <= 1.0:
            parser.error(f"--{name} must be in [0, 1], got {getattr(args, name)}")
    if args.hard and args.init is None:
        parser.error("--hard searches the false alarms of the --init weights: give --init")
    try:
        overrides = mix_overrides(args.mix)
    except ValueError as error:
        parser.error(str(error))
    mix = replace(TRAIN_MIX, scuffs_p=args.scuffs, **overrides)
    if args.calibrate is not None:
        torch.set_num_threads(args.threads)
        return calibrate(args.calibrate, args.corpus, args.seed, args.scratched, args.draws)

    started = time.perf_counter()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    init = _provenance_of(args.init) if args.init is not None else {}
    names = training_prints(args.corpus)
    prints = list(load_prints(args.corpus, names, max_side=None).values())
    print(f"{len(names)} training prints: {', '.join(names)}", flush=True)
    shares = CropShares(texture=args.texture, hard=args.hard, mesh=args.mesh, halftone=args.halftone, signs=args.signs)
    drawing = {  # what draws the bank: in the bank's recipe and in the weights'
        "seed": args.seed, "bank": args.bank, "bank_crop": BANK_CROP, "min_scale": MIN_SCALE, "clean_p": mix.clean_p,
        "scuffs_p": mix.scuffs_p, "texture_p": shares.texture, "hard_p": shares.hard, "mesh_p": shares.mesh,
        # without these the bank, and so its recipe, is as before they existed
        **({"halftone_p": shares.halftone} if shares.halftone else {}), **({"signs_p": shares.signs} if shares.signs else {}),
        "structures_p": STRUCTURES_P, **({"mix": overrides} if overrides else {}),
    }
    bank_recipe = {**drawing, "prints": names, **({"hard_from": init["init_sha256"]} if args.hard else {})}

    def draw() -> tuple[np.ndarray, np.ndarray]:
        spots = None
        if args.hard:  # the calibration quarter (training_prints[::4]) is never searched
            searcher = load_scratch_net(args.init)
            spots = [false_alarm_spots(searcher, image) if i % 4 else [] for i, image in enumerate(prints)]
            print(f"{sum(map(len, spots))} false alarms of the --init weights on {sum(map(bool, spots))} "
                  "undamaged prints", flush=True)
        return draw_bank(prints, args.bank, args.seed, mix, shares, spots)

    try:
        bank = cached_bank(args.bank_cache, bank_recipe, draw)
    except ValueError as error:
        parser.error(str(error))
    print(f"bank of {args.bank} crops drawn in {time.perf_counter() - started:.0f} s "
          f"({100 * bank[1].mean():.2f} % damaged pixels)", flush=True)
    cases = validation_cases(args.corpus, args.seed)

    model = copy.deepcopy(load_scratch_net(args.init)) if args.init is not None else ScratchNet()
    model.train()
    optimiser = torch.optim.Adam(model.parameters(), lr=args.lr)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda step: min(1.0, (step + 1) / 50) * 0.5 * (1 + math.cos(math.pi * step / args.steps))
    )
    rng = np.random.default_rng([args.seed, 1 if args.init is None else 2])  # a continuation draws other batches
    train_started = time.perf_counter()
    running = 0.0
    for step in range(1, args.steps + 1):
        x, y = batch_from(bank, args.batch, rng, args.crop)
        loss = loss_of(model(x), y)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        schedule.step()
        running = 0.95 * running + 0.05 * loss.item() if step > 1 else loss.item()
        if step % 50 == 0:
            elapsed = time.perf_counter() - train_started
            print(f"step {step}/{args.steps} loss {running:.4f} ({elapsed / step:.2f} s/step, "
                  f"{elapsed / 60:.1f} min)", flush=True)
        if step % args.eval_every == 0 or step == args.steps:
            print(f"step {step}: validation F1 {validation_f1(model, cases):.3f}", flush=True)
            save_scratch_net(model.eval(), args.output)
            model.train()
    wall = time.perf_counter() - started
    model.eval()
    recipe = {
        **drawing, "steps": args.steps, "batch": args.batch, "lr": args.lr, "train_crop": args.crop,
        "prints": len(names), "threads": args.threads, "wall_seconds": round(wall), **init,
    }
    save_scratch_net(model, args.output, metadata={"recipe": json.dumps(recipe), "licence": "same as the repository"})
    print(f"wrote {args.output} ({args.output.stat().st_size / 1e6:.2f} MB); wall time {wall / 60:.1f} min "
          f"({args.threads} threads)", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
