"""Hand-made labels of real damage on crops of ``../shared/scratched``, rebuilt from a recipe.

The scratch detection benchmark (``scratch_detection.py``) scores detectors on four crops of real
damaged photos (:data:`RECIPES`). The photos are not ours (see
``../shared/scratched/PROVENANCE.md``): they are NEVER copied into this repository, and neither
is any image derived from them (no crop, no mask). What lives here is our annotation, drawn by
us: for each crop the box, a local-contrast rule with its parameters, and polygons and strokes
given as coordinates. :func:`labelled_crops` rebuilds the masks from the photos on any machine
that has them.

Two separate sets of crops:

- :data:`RECIPES`, the four SCORED crops (h_sky, k_top, b_face, c_left on scratched_h, k, b, c):
  for scoring only, never to choose a setting;
- :data:`DEVELOPMENT_RECIPES`, seven development (selection) crops (e_sky, a_sky, o_face, n_crowd
  on scratched_e, a, o, n; and g_wall, f_grass, l_facade on scratched_g, f, l, whose difficulty is
  real picture texture, stone, grass and ornament, that a detector may mark as damage): for
  CHOOSING detector settings, such as the learned detector's mask levels, never to score. They
  lie on photos that hold none of the scored crops, so a setting chosen on them is not fitted to
  the scored crops. Pass them as ``labelled_crops(scratched, recipes=DEVELOPMENT_RECIPES)``.

How a mask is made (:func:`damage_mask`), in photo pixels:

1. contrast: the grey luma (``restoration.luma``, BT.601) in [0, 1] minus its median over a
   ``window`` x ``window`` square; bright damage is where it exceeds the bright thresholds, dark
   damage where its negative exceeds the dark thresholds. Each polarity is a hysteresis threshold:
   pixels above ``low`` are kept when their 8-connected component reaches ``high``, so a faint
   scratch is kept along its length when part of it is clear. Inside a zone polygon the zone's
   own rule replaces the crop's (a part whose tone or grain needs other thresholds);
2. the contrast marks are kept only inside the include polygons (the whole box when there are
   none), and removed inside the exclude polygons (real picture structure: eyes, glasses, lace,
   hair of a person, edges of objects);
3. strokes (polylines with a width) are drawn in as damage where the contrast rule misses a
   scratch one can see, and after the exclusions;
4. everything outside the box is cleared.

What counts as damage ("thin damage", what a scratch detector should mark): scratches, cracks,
crazing lines, hairs, dust specks, small scuffs and spots of either polarity, up to about
8-10 px wide. Not damage: picture structure, film grain, smooth fading.

The first set of masks (PNG files kept outside the repository, at ``/work/scratch_labels``) was
lost with its machine; these labels were remade on 2026-12-03 by looking at each crop at 4x zoom,
by a labeller who ran no detector on these photos and saw no detector's output (the developer who
chooses the detectors' settings had seen their outputs on these photos in earlier sessions). The
development crops were drawn the same way.

Usage (from the repository root):

    python benchmarks/real_damage_labels.py [--scratched ../shared/scratched] [--review /tmp/labels_review] [--development]

It prints the share of each crop labelled (the scored crops, or with ``--development`` the
development crops); ``--review DIR`` also writes, per crop, a PNG at 4x
nearest-neighbour zoom: the crop, and the crop with the mask in red. Keep review images OUT of the
repository (they are derived from the photos).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from scipy import ndimage

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from restoration.components import seeded_components  # noqa: E402
from restoration.imageio import load_photo  # noqa: E402
from restoration.luma import luma  # noqa: E402

__all__ = [
    "SCRATCHED",
    "ContrastRule",
    "CropRecipe",
    "Stroke",
    "LabelledCrop",
    "RECIPES",
    "DEVELOPMENT_RECIPES",
    "local_contrast",
    "contrast_marks",
    "damage_mask",
    "labelled_crops",
    "scratched_photo",
    "labelled_share",
    "review_image",
    "write_review",
    "main",
]

REPOSITORY = Path(__file__).resolve().parents[1]
SCRATCHED = REPOSITORY.parent / "shared" / "scratched"  # the photos (outside the repository)
REVIEW_ZOOM = 4
Point = tuple[int, int]
Polygon = tuple[Point, ...]


@dataclass(frozen=True)
class ContrastRule:
    """Which pixels stand out from their surroundings.

    Attributes:
        window: side of the median window, odd, in px (wider than the widest damage to find).
        bright: (low, high) hysteresis thresholds on ``luma - median`` in [0, 1], or None for no
            bright damage; ``low <= high``.
        dark: (low, high) thresholds on ``median - luma``, or None for no dark damage.
        min_area: 8-connected components of fewer pixels are dropped (grain), per polarity.
    """

    window: int
    bright: tuple[float, float] | None
    dark: tuple[float, float] | None
    min_area: int = 1


@dataclass(frozen=True)
class Stroke:
    """A polyline drawn in as damage: ``points`` (x, y) in photo pixels, ``width`` in px."""

    points: tuple[Point, ...]
    width: int = 1


@dataclass(frozen=True)
class CropRecipe:
    """How to rebuild one crop's mask.

    Attributes:
        photo: file name in the scratched-photos folder.
        box: (x0, y0, x1, y1) in photo pixels, x1 and y1 exclusive.
        rule: the local-contrast rule.
        include: polygons ((x, y) photo pixels); contrast marks are kept only inside them, or in
            the whole box when empty.
        exclude: polygons of real picture structure; contrast marks inside them are dropped.
        strokes: damage drawn in by hand (kept even inside ``exclude``).
        zones: (polygon, rule) pairs: inside the polygon ``rule`` replaces ``rule`` (for a part of
            the crop whose tone or grain needs other thresholds).
    """

    photo: str
    box: tuple[int, int, int, int]
    rule: ContrastRule
    include: tuple[Polygon, ...] = ()
    exclude: tuple[Polygon, ...] = ()
    strokes: tuple[Stroke, ...] = ()
    zones: tuple[tuple[Polygon, ContrastRule], ...] = ()


@dataclass(frozen=True)
class LabelledCrop:
    """One labelled crop: ``truth`` is (H, W) bool over the whole photo, True = damage, only inside
    ``box``; ``image`` is the photo it was drawn on, (H, W, 3) float32 RGB in [0, 1]."""

    name: str
    photo: str
    box: tuple[int, int, int, int]
    truth: np.ndarray
    image: np.ndarray


# The recipe: our annotation (coordinates and parameters), never pixels of the photos.
RECIPES: dict[str, CropRecipe] = {
    "h_sky": CropRecipe(
        photo="scratched_h.png",
        box=(150, 10, 290, 150),
        rule=ContrastRule(window=11, bright=(0.08, 0.12), dark=None),
        strokes=(  # faint scratches the contrast rule breaks into dots
            Stroke(((150, 113), (176, 139))),
            Stroke(((237, 135), (252, 150))),
            Stroke(((272, 80), (283, 97))),
        ),
    ),
    "k_top": CropRecipe(
        photo="scratched_k.png",
        box=(0, 0, 150, 100),
        rule=ContrastRule(window=21, bright=(0.035, 0.10), dark=None, min_area=4),
        strokes=(  # thin bluish scratches, faint in luma
            Stroke(((3, 6), (9, 13))),
            Stroke(((21, 54), (26, 59))),
            Stroke(((53, 55), (58, 59))),
            Stroke(((37, 74), (42, 83), (47, 91))),
            Stroke(((59, 81), (66, 87))),
        ),
    ),
    "b_face": CropRecipe(
        photo="scratched_b.png",
        box=(120, 95, 235, 200),
        rule=ContrastRule(window=9, bright=(0.04, 0.09), dark=None, min_area=2),
        exclude=(  # real structure that stands out of the dark face
            ((120, 95), (152, 95), (152, 98), (120, 101)),  # lower edge of the raised hand's finger
            ((120, 100), (127, 100), (127, 113), (120, 113)),  # the hand's knuckle at the left edge
            ((120, 128), (128, 128), (128, 149), (120, 149)),  # lit edge of the hand, lower left
            ((120, 149), (140, 149), (140, 162), (129, 166), (120, 166)),
            ((158, 131), (175, 131), (175, 145), (158, 145)),  # left eye
            ((205, 95), (235, 95), (235, 108), (205, 101)),  # lit forehead above the glasses
            ((194, 124), (207, 124), (212, 148), (195, 148)),  # bridge of the nose
            ((208, 125), (226, 125), (226, 108), (235, 108), (235, 143), (208, 143)),  # right eye and rim
            ((205, 151), (214, 149), (222, 152), (225, 164), (206, 165)),  # tip of the nose
            ((198, 170), (213, 170), (213, 178), (198, 178)),  # lit upper lip
            ((120, 166), (129, 166), (129, 174), (147, 182), (147, 191), (133, 200), (120, 200)),  # white collar
        ),
    ),
    "c_left": CropRecipe(
        photo="scratched_c.png",
        box=(0, 250, 150, 400),
        rule=ContrastRule(window=11, bright=(0.06, 0.12), dark=None),
        include=(  # dark cloth and the hand; the white sleeve and the lace are structure throughout
            ((0, 250), (45, 250), (46, 290), (49, 300), (50, 320), (50, 370), (48, 400), (0, 400)),  # sweater, trousers
            ((60, 324), (75, 324), (81, 331), (80, 371), (60, 371)),  # the hand (its lit left edge left out)
        ),
        strokes=(  # straight bright scratches across cloth, hand and lace
            Stroke(((19, 275), (50, 298))),
            Stroke(((61, 400), (80, 336))),
            Stroke(((114, 375), (131, 400))),
        ),
    ),
}


# A second, separate set: crops used to CHOOSE detector settings (the learned detector's mask
# levels), never to score. They lie on photos that hold none of the scored crops of RECIPES, which
# stay for scoring only. Same definition of damage, drawn the same way, blind to every detector.
DEVELOPMENT_RECIPES: dict[str, CropRecipe] = {
    "e_sky": CropRecipe(  # harbour sky: long faint bright scratches, saturated near white
        photo="scratched_e.png",
        box=(115, 0, 275, 100),
        # the mottled sky stands out as much as the faint scratches: the rule keeps only clear
        # specks and the scratches are drawn
        rule=ContrastRule(window=11, bright=(0.045, 0.06), dark=None, min_area=4),
        exclude=(((115, 85), (128, 85), (128, 100), (115, 100)),),  # the ship's rigging, lower left
        strokes=(
            Stroke(((115, 14), (170, 13), (232, 12), (246, 10)), 2),
            Stroke(((115, 59), (210, 30), (217, 26), (240, 12)), 2),
            Stroke(((271, 4), (264, 22)), 3),  # a bundle of parallel scratches, upper end
            Stroke(((264, 22), (255, 45), (249, 62), (240, 82), (233, 100)), 7),  # its core
            Stroke(((271, 44), (263, 61)), 2),
            Stroke(((262, 80), (266, 79)), 2),
        ),
    ),
    "a_sky": CropRecipe(  # street sky and clouds: dust specks of both polarities, fine scratches
        photo="scratched_a.png",
        box=(0, 0, 150, 130),
        rule=ContrastRule(window=11, bright=(0.025, 0.05), dark=(0.02, 0.035), min_area=1),
        exclude=(((138, 122), (150, 122), (150, 130), (138, 130)),),  # top of the shop sign
        strokes=(  # faint scratches the rule breaks into dots
            Stroke(((88, 1), (115, 31))),
            Stroke(((38, 10), (50, 48))),
            Stroke(((33, 52), (50, 66))),
            Stroke(((81, 91), (66, 111), (56, 130)), 2),  # a pair of parallel scratches
            Stroke(((77, 92), (63, 111), (53, 130))),
            Stroke(((92, 98), (134, 98))),
        ),
    ),
    "o_face": CropRecipe(  # worn halftone stamp: cracks over hair, brow and temple
        photo="scratched_o.png",
        box=(65, 200, 185, 300),
        # the halftone screen is as contrasted as the cracks: marks are kept only along the cracks
        rule=ContrastRule(window=11, bright=(0.12, 0.2), dark=None, min_area=4),
        include=(
            ((65, 234), (112, 230), (118, 238), (105, 248), (100, 258), (106, 262), (108, 275), (95, 282), (65, 282)),
            ((65, 218), (78, 218), (78, 230), (65, 230)),
        ),
        strokes=(
            Stroke(((101, 240), (107, 233), (113, 227)), 2),
            Stroke(((137, 226), (150, 233), (158, 238), (167, 244)), 2),  # dark crease across the brow
            Stroke(((67, 284), (78, 276)), 2),
        ),
    ),
    "n_crowd": CropRecipe(  # crowd in white clothes on a dusty road, crossed by straight scratches
        photo="scratched_n.png",
        box=(60, 310, 210, 450),
        rule=ContrastRule(window=5, bright=(0.15, 0.22), dark=None, min_area=1),  # specks on the road
        zones=(  # over the crowd only the clearest specks: edges of white clothes are structure
            (
                ((60, 310), (210, 310), (210, 425), (175, 425), (165, 450), (140, 450), (140, 410), (60, 405)),
                ContrastRule(window=5, bright=(0.25, 0.3), dark=None, min_area=1),
            ),
        ),
        strokes=(
            Stroke(((88, 406), (80, 449))),
            Stroke(((110, 402), (110, 449))),
            Stroke(((111, 402), (140, 380))),
            Stroke(((170, 422), (200, 383))),
            Stroke(((88, 310), (78, 326))),
            Stroke(((171, 392), (170, 436))),
        ),
    ),
    "g_wall": CropRecipe(  # weathered stone and brick behind the guitarist, crossed by fine scratches
        photo="scratched_g.png",
        box=(178, 40, 298, 190),
        # stone grain, brick courses, the stone's joint and the guitar's strings and headstock stand
        # out as much as the scratches: no contrast marks, the scratches are drawn
        rule=ContrastRule(window=11, bright=None, dark=None),
        strokes=(
            Stroke(((203, 87), (220, 72))),
            Stroke(((220, 99), (248, 84))),
            Stroke(((196, 147), (225, 122))),
            Stroke(((237, 173), (244, 167))),
            Stroke(((236, 75), (292, 75))),  # straight dashed scratch across stone and bricks
        ),
    ),
    "f_grass": CropRecipe(  # pond edge and tall dry grass: one long straight scratch over water and grass
        photo="scratched_f.png",
        box=(115, 300, 275, 450),
        # the grass blades are thin bright lines as contrasted as the scratch: no contrast marks
        rule=ContrastRule(window=11, bright=None, dark=None),
        strokes=(Stroke(((130, 314), (160, 326), (188, 339), (220, 352), (252, 364)), 2),),
    ),
    "l_facade": CropRecipe(  # ornamented sandstone facade and a latticed door: white dust specks, a scratch
        photo="scratched_l.png",
        box=(86, 120, 214, 236),
        rule=ContrastRule(window=5, bright=(0.1, 0.12), dark=None, min_area=1),  # the clearer specks
        exclude=(  # lit edges of the architecture
            ((124, 120), (137, 120), (137, 128), (124, 128)),  # base of the dome's drum
            ((86, 127), (214, 127), (214, 132), (86, 132)),  # lit top of the parapet against the sky
            ((200, 120), (214, 120), (214, 133), (200, 133)),  # corner turret
            ((86, 137), (214, 137), (214, 147), (86, 147)),  # cornice: lit ledge and its shadow
            ((116, 174), (122, 174), (122, 190), (116, 190)),  # lit left edge of the arch
            ((126, 189), (150, 189), (150, 195), (126, 195)),  # lit sill inside the arch
            ((173, 185), (179, 185), (179, 236), (173, 236)),  # right edge of the arch
            ((131, 200), (140, 196), (150, 196), (158, 201), (163, 210), (163, 236), (131, 236)),  # latticed door
        ),
        strokes=(
            Stroke(((135, 128), (154, 199))),
            Stroke(((151, 129), (158, 122))),
        ),
    ),
}


def local_contrast(image: np.ndarray, window: int) -> np.ndarray:
    """Grey luma minus its median over a ``window`` x ``window`` square (edges reflected).

    Args:
        image: (H, W, 3) float RGB in [0, 1].
        window: odd side of the median window, >= 3.

    Returns:
        (H, W) float32 in [-1, 1]: positive where a pixel is brighter than its surroundings.
    """
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"image must be (H, W, 3) RGB, got shape {image.shape}")
    if window < 3 or window % 2 == 0:
        raise ValueError(f"window must be odd and >= 3, got {window}")
    grey = luma(np.asarray(image, np.float32))
    return grey - ndimage.median_filter(grey, size=window, mode="reflect")


def _hysteresis(values: np.ndarray, thresholds: tuple[float, float], min_area: int) -> np.ndarray:
    """(H, W) bool: pixels of ``values`` above ``low`` in 8-connected components that reach
    ``high`` and hold at least ``min_area`` pixels."""
    low, high = thresholds
    if low > high:
        raise ValueError(f"hysteresis thresholds must be (low, high) with low <= high, got {thresholds}")
    return seeded_components(values > low, values > high, min_area=min_area)


def contrast_marks(contrast: np.ndarray, rule: ContrastRule) -> np.ndarray:
    """Pixels ``rule`` marks on a :func:`local_contrast` map: (H, W) float -> (H, W) bool."""
    marks = np.zeros(contrast.shape, bool)
    if rule.bright is not None:
        marks |= _hysteresis(contrast, rule.bright, rule.min_area)
    if rule.dark is not None:
        marks |= _hysteresis(-contrast, rule.dark, rule.min_area)
    return marks


def _polygons(shape: tuple[int, int], polygons: tuple[Polygon, ...]) -> np.ndarray:
    """(H, W) bool, True inside any of ``polygons`` ((x, y) vertices, edges included)."""
    canvas = np.zeros(shape, np.uint8)
    for polygon in polygons:
        points = np.array(polygon, np.int32).reshape(-1, 1, 2)
        cv2.fillPoly(canvas, [points], 1)
        cv2.polylines(canvas, [points], True, 1)
    return canvas > 0


def _strokes(shape: tuple[int, int], strokes: tuple[Stroke, ...]) -> np.ndarray:
    """(H, W) bool, True under any of ``strokes`` (polylines of their width, no anti-aliasing)."""
    canvas = np.zeros(shape, np.uint8)
    for stroke in strokes:
        points = np.array(stroke.points, np.int32).reshape(-1, 1, 2)
        cv2.polylines(canvas, [points], False, 1, thickness=max(int(stroke.width), 1), lineType=cv2.LINE_8)
    return canvas > 0


def _box_mask(shape: tuple[int, int], box: tuple[int, int, int, int]) -> np.ndarray:
    """(H, W) bool, True inside ``box`` (x0, y0, x1, y1), checked to lie inside the photo."""
    x0, y0, x1, y1 = box
    height, width = shape
    if not (0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height):
        raise ValueError(f"box {box} must satisfy 0 <= x0 < x1 <= {width} and 0 <= y0 < y1 <= {height}")
    inside = np.zeros(shape, bool)
    inside[y0:y1, x0:x1] = True
    return inside


def damage_mask(image: np.ndarray, recipe: CropRecipe) -> np.ndarray:
    """The labelled damage of one crop, rebuilt from the photo and the recipe.

    Args:
        image: the whole photo, (H, W, 3) float RGB in [0, 1].
        recipe: box, contrast rule(s), include and exclude polygons, strokes.

    Returns:
        (H, W) bool, True = damage; False everywhere outside ``recipe.box``.
    """
    shape = image.shape[:2]
    inside = _box_mask(shape, recipe.box)
    marks = contrast_marks(local_contrast(image, recipe.rule.window), recipe.rule)
    for polygon, rule in recipe.zones:
        zone = _polygons(shape, (polygon,))
        marks = np.where(zone, contrast_marks(local_contrast(image, rule.window), rule), marks)
    if recipe.include:
        marks &= _polygons(shape, recipe.include)
    marks &= ~_polygons(shape, recipe.exclude)
    return (marks | _strokes(shape, recipe.strokes)) & inside


def labelled_crops(scratched: Path = SCRATCHED, recipes: dict[str, CropRecipe] | None = None) -> list[LabelledCrop]:
    """Rebuild every labelled crop from the photos in ``scratched``.

    Args:
        scratched: folder holding the photos (``scratched_<letter>.png``).
        recipes: by crop name; default :data:`RECIPES` (the scored crops); pass
            :data:`DEVELOPMENT_RECIPES` for the crops that choose settings.

    Returns:
        One :class:`LabelledCrop` per recipe, in recipe order.

    Raises:
        FileNotFoundError: a photo is missing; the message names the folder.
    """
    crops = []
    for name, recipe in (RECIPES if recipes is None else recipes).items():
        image = scratched_photo(Path(scratched), recipe.photo)
        crops.append(LabelledCrop(name, recipe.photo, recipe.box, damage_mask(image, recipe), image))
    return crops


def scratched_photo(folder: Path, name: str) -> np.ndarray:
    """The photo ``folder / name`` as (H, W, 3) float32 RGB in [0, 1]."""
    path = folder / name
    if not path.is_file():
        raise FileNotFoundError(
            f"{name} not found in {folder}: the labels are rebuilt from the scratched photos; "
            "pass --scratched with the folder that holds them (../shared/scratched)"
        )
    return np.asarray(load_photo(path).pixels, dtype=np.float32)


def review_image(image: np.ndarray, truth: np.ndarray, box: tuple[int, int, int, int], zoom: int = REVIEW_ZOOM) -> np.ndarray:
    """Side by side at ``zoom`` x nearest-neighbour: the crop, and the crop with ``truth`` in red.

    Args:
        image: (H, W, 3) float RGB in [0, 1], the whole photo.
        truth: (H, W) bool.
        box: (x0, y0, x1, y1).

    Returns:
        (zoom * h, 2 * zoom * w + zoom, 3) uint8 RGB, with a ``zoom`` px white gap between the two.
    """
    x0, y0, x1, y1 = box
    crop = np.clip(np.asarray(image[y0:y1, x0:x1], np.float32) * 255 + 0.5, 0, 255).astype(np.uint8)
    marked = crop.copy()
    marked[truth[y0:y1, x0:x1]] = (255, 0, 0)
    gap = np.full((crop.shape[0], 1, 3), 255, np.uint8)
    side_by_side = np.concatenate([crop, gap, marked], axis=1)
    return np.repeat(np.repeat(side_by_side, zoom, axis=0), zoom, axis=1)


def write_review(folder: Path, crops: list[LabelledCrop]) -> list[Path]:
    """Write ``folder/<crop>.png`` (see :func:`review_image`) for every crop; returns the paths.

    Raises:
        ValueError: ``folder`` lies inside this repository (review images are derived from the photos).
    """
    if Path(folder).resolve().is_relative_to(REPOSITORY):
        raise ValueError(f"review folder {folder} is inside the repository; write review images outside it (e.g. /tmp)")
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for crop in crops:
        path = folder / f"{crop.name}.png"
        cv2.imwrite(str(path), cv2.cvtColor(review_image(crop.image, crop.truth, crop.box), cv2.COLOR_RGB2BGR))
        written.append(path)
    return written


def labelled_share(crop: LabelledCrop) -> float:
    """Share of the crop's box labelled as damage, in [0, 1]."""
    x0, y0, x1, y1 = crop.box
    return float(crop.truth[y0:y1, x0:x1].mean())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scratched", type=Path, default=SCRATCHED, help=f"folder of the photos (default {SCRATCHED})")
    parser.add_argument("--review", type=Path, default=None, help="write review PNGs here (outside the repository)")
    parser.add_argument(
        "--development",
        action="store_true",
        help="the development crops (for choosing settings) instead of the scored crops",
    )
    args = parser.parse_args(argv)
    try:
        crops = labelled_crops(args.scratched, DEVELOPMENT_RECIPES if args.development else RECIPES)
    except FileNotFoundError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for crop in crops:
        x0, y0, x1, y1 = crop.box
        print(f"{crop.name}: {crop.photo} box {crop.box} ({x1 - x0}x{y1 - y0} px), {100 * labelled_share(crop):.2f} % labelled")
    if args.review is not None:
        try:
            written = write_review(args.review, crops)
        except ValueError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        for path in written:
            print(f"review: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
