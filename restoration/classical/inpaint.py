"""Classical inpainting of scratches, cracks, dust and specks: the offline engine's repair.

Three passes, all restricted to the damage so that the cost follows the damaged area, not the
photo size:

1. Biharmonic fill. The masked pixels become the smoothest continuation of their surroundings
   (minimum of the summed squared Laplacian, which carries gradients across the gap rather than
   only values as a harmonic or Telea fill does). One sparse direct solve whose unknowns are the
   masked pixels only; every damaged region is an independent block of the system.
2. Patch refinement of the regions wider than a thin scratch. Starting from the biharmonic
   fill, a few expectation-maximisation rounds in the manner of Wexler et al.: every patch that
   overlaps the damage is matched to its nearest fully known patch within a local search
   window, and every damaged pixel becomes the average of the co-located pixels of the matches
   of all patches covering it. Patches are compared and copied without their mean: a match
   brings its structure at the brightness of the patch it replaces, so smooth gradients (skies,
   walls, skin) stay as smooth as the biharmonic fill while texture and edges are continued.
   Matching runs block by block of the photo where there is damage, in a 12-dimensional PCA
   projection of patch space (computed by convolution), exhaustively on a coarse grid of
   candidates for every other target, then propagated and refined to the pixel as in
   PatchMatch. Thin scratches keep the biharmonic fill, which measures as good there.
3. Exemplar fill of the regions wider than ``_EXEMPLAR_WIDTH`` px (tears, paper loss, torn
   corners). There pass 2 cannot work: the patches in the middle of the hole see only the smooth
   fill, match flat sources, and the hole stays a blurred streak across edges and texture. So
   the photo is halved until the hole is a few pixels wide; there the hole is filled in
   onion-peel order (Criminisi et al.), each pixel copied from the known patch most like its
   known or already filled neighbourhood, so structure crossing the border is continued inward.
   Each finer level starts from the coarser one: every hole pixel copies the known pixel its
   coarser match points to (the shift doubled, as in Newson et al.'s upsampling of the
   nearest-neighbour field), then EM rounds as in pass 2 but with patches compared and copied
   with their brightness, averaged over the covering patches at the coarse levels and taken
   from the pixel's own patch's match at full resolution (no blur). The result is plausible
   texture and continued edges rather than the true content: it scores a little lower than the
   smooth fill in PSNR, and looks far better (benchmarks/wide_tears.py).

Film grain is optionally re-synthesised in the fill at the noise level measured around it (off
by default: added noise lowers PSNR even where it looks right).

References: Bertalmio et al., "Image inpainting", SIGGRAPH 2000 (PDE continuation of
isophotes); Damelin and Hoang, "On surface completion and image inpainting by biharmonic
functions", Int. J. Math. Math. Sci. 2018; Wexler, Shechtman and Irani, "Space-time completion
of video", IEEE TPAMI 2007; Newson, Almansa, Gousseau and Perez, "Non-local patch-based image
inpainting", IPOL 2017; Barnes, Shechtman, Finkelstein and Goldman, "PatchMatch", SIGGRAPH 2009;
Criminisi, Perez and Toyama, "Region filling and object removal by exemplar-based image
inpainting", IEEE TIP 2004.
"""

from __future__ import annotations

import logging

import cv2
import numpy as np
import scipy.sparse as sparse
import scipy.sparse.linalg as sparse_linalg

from ..errors import InputError
from ..validation import check_mask, check_rgb
from .threads import run_each

__all__ = ["inpaint_classical"]

logger = logging.getLogger(__name__)

_NEIGHBOURS_4 = ((0, 1), (0, -1), (1, 0), (-1, 0))
_NEIGHBOURS_8 = ((-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1))
_BLOCK = 128  # side of the blocks of the photo refined independently, px
_TILE = 32  # targets matched together against one search window, px
_PCA_COMPONENTS = 12
_SOURCE_STRIDE = 3  # coarse grid of candidate patches, refined to the pixel afterwards
_DEEP = 12  # px; see _biharmonic_fill
_DEEP_LIMIT = 20000  # deep pixels solved directly at most
_SEED_STRIDE = 2  # exhaustive search for one target centre in _SEED_STRIDE ** 2, the rest propagated
_TONE_SIGMA = 0.25  # pass 3 takes the tones on scales above this times the hole half-width from the smooth fill
_EXEMPLAR_WIDTH = 12.0  # px; regions wider than this get the exemplar fill (pass 3)
_COARSEST_HALF_WIDTH = 4  # px; pass 3 halves the photo until its holes are about twice this wide
_COARSE_EXTRA_ITERATIONS = 2  # more EM rounds at the (cheap) coarse levels, where the structure is decided
_PEEL_SOURCES = 20000  # known patches an onion-peel pixel is compared with, at most
_PEEL_CHUNK = 512  # onion-peel pixels compared at once
_SEARCH_BEYOND = 8  # px; the search window reaches this far past the widest hole's centre and a patch


def inpaint_classical(
    image: np.ndarray,
    mask: np.ndarray,
    *,
    patch_radius: int = 3,
    search_radius: int = 16,
    iterations: int = 2,
    thin_width: float = 3.5,
    exemplar: bool = True,
    grain: bool = False,
    seed: int = 0,
    workers: int = 2,
) -> np.ndarray:
    """Repaint the masked pixels of ``image`` from their surroundings.

    Args:
        image: (H, W, 3) float32 (float64 accepted) RGB with values in [0, 1].
        mask: (H, W) bool, or float/int with values in [0, 1]; pixels > 0.5 are repainted.
        patch_radius: patches are ``2 * patch_radius + 1`` px square, >= 1.
        search_radius: matching patches are looked for up to this many px around each 32-px tile
            of damage, >= 1.
        iterations: patch refinement rounds, >= 0 (0 = biharmonic fill only).
        thin_width: damaged regions at most this wide (px) keep the biharmonic fill, which is as
            good there and much cheaper; wider ones are refined with patches. 0 refines all.
        exemplar: fill the regions wider than ``_EXEMPLAR_WIDTH`` px (tears, paper loss) with
            patches copied coarse to fine (pass 3 below) instead of refining their smooth fill,
            which smears there. False refines them like the narrower ones.
        grain: add film grain to the fill matching the noise measured around it (lowers PSNR;
            for looks only).
        seed: seed of the grain and of the sampling of the patch statistics.
        workers: threads refining blocks in parallel, >= 1.

    Returns:
        (H, W, 3) float32 with values in [0, 1]. Pixels where ``mask <= 0.5`` are bit-identical
        to ``image`` (for a float32 input). A gray photo (three equal channels on the undamaged
        pixels) gets an exactly gray fill.

    Raises:
        InputError: wrong shapes, non-float image, values outside [0, 1] or not finite, or a mask
            that covers the whole image (nothing to inpaint from).
    """
    image = check_rgb(image)
    damaged = check_mask(mask, image.shape[:2])
    for name, value, low in (
        ("patch_radius", patch_radius, 1),
        ("search_radius", search_radius, 1),
        ("iterations", iterations, 0),
        ("workers", workers, 1),
    ):
        if int(value) != value or value < low:
            raise InputError(f"{name} must be an integer >= {low}, got {value!r}")
    if not thin_width >= 0:
        raise InputError(f"thin_width must be >= 0 px, got {thin_width!r}")

    out = image.copy()
    if not damaged.any():
        return out
    if damaged.all():
        raise InputError(
            f"the mask covers the whole {image.shape[1]}x{image.shape[0]} image, so there is nothing "
            "to inpaint from; mark only the damaged pixels"
        )

    # gray when the undamaged pixels are (the paint of a scratch may carry a colour)
    gray = bool(np.all((image[..., 0] == image[..., 1]) & (image[..., 0] == image[..., 2]) | damaged))
    work = image[..., :1] if gray else image
    filled = _biharmonic_fill(work, damaged)

    if iterations > 0:
        refined = _wide_regions(damaged, thin_width)
        wide = _wide_regions(damaged, max(thin_width, _EXEMPLAR_WIDTH)) if exemplar else np.zeros_like(damaged)
        patch_options = {
            "radius": int(patch_radius),
            "search": int(search_radius),
            "iterations": int(iterations),
            "rng": np.random.default_rng(seed),
            "workers": int(workers),
        }
        if (refined & ~wide).any():
            filled = _patch_refine(filled, damaged, refined & ~wide, **patch_options)
        if wide.any():
            filled = _exemplar_fill(filled, damaged, wide, **patch_options)
    if grain:
        filled = _add_grain(filled, damaged, rng=np.random.default_rng(seed))

    values = np.clip(filled[damaged], 0.0, 1.0)
    out[damaged] = values  # (N, 1) broadcasts to the three channels of a gray photo
    return out


# ----------------------------------------------------------------------------------------------
# Input checks
# ----------------------------------------------------------------------------------------------


# ----------------------------------------------------------------------------------------------
# Pass 1: biharmonic fill
# ----------------------------------------------------------------------------------------------


def _biharmonic_fill(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Minimise the summed squared 4-neighbour Laplacian over the masked pixels.

    Args:
        image: (H, W, C) float32; the masked pixels' values are ignored.
        mask: (H, W) bool, True = unknown; not all True.

    Returns:
        (H, W, C) float32, ``image`` with the masked pixels replaced (not clipped).

    Pixels deeper than ``_DEEP`` px inside large holes take the (recursive) solution at half
    resolution instead, and the exact solve runs on the band between them and the known pixels:
    a direct solve of a large 2D hole costs superlinear time and memory, a band does not.
    """
    h, w, channels = image.shape
    deep = cv2.distanceTransform(mask.astype(np.uint8), cv2.DIST_L2, 3) > _DEEP
    if np.count_nonzero(deep) > _DEEP_LIMIT and min(h, w) >= 4 * _DEEP:
        half = ((w + 1) // 2, (h + 1) // 2)
        small = cv2.resize(image, half, interpolation=cv2.INTER_AREA).reshape(half[1], half[0], channels)
        small_mask = cv2.resize(mask.astype(np.float32), half, interpolation=cv2.INTER_AREA) > 0
        coarse = _biharmonic_fill(small, small_mask)
        up = cv2.resize(coarse, (w, h), interpolation=cv2.INTER_LINEAR).reshape(h, w, channels)
        image = image.copy()
        image[deep] = up[deep]
        mask = mask & ~deep
    flat_mask = mask.ravel()
    unknown = np.flatnonzero(flat_mask)
    cross = np.array([[0, 1, 0], [1, 1, 1], [0, 1, 0]], np.uint8)
    rows_y, rows_x = np.nonzero(cv2.dilate(mask.astype(np.uint8), cross))
    n_rows = len(rows_y)
    flat_image = image.reshape(-1, channels).astype(np.float64)

    # Laplacian rows (Neumann at the image border): degree * centre - sum of neighbours
    row_index = np.arange(n_rows)
    degree = np.zeros(n_rows)
    entries = []
    for dy, dx in _NEIGHBOURS_4:
        ny, nx = rows_y + dy, rows_x + dx
        inside = (ny >= 0) & (ny < h) & (nx >= 0) & (nx < w)
        degree += inside
        entries.append((row_index[inside], ny[inside] * w + nx[inside], np.full(int(inside.sum()), -1.0)))
    entries.append((row_index, rows_y * w + rows_x, degree))
    row_ids, col_ids, weights = [], [], []
    known_part = np.zeros((n_rows, channels))
    for rows, flat, coefficient in entries:
        is_unknown = flat_mask[flat]
        row_ids.append(rows[is_unknown])
        col_ids.append(np.searchsorted(unknown, flat[is_unknown]))
        weights.append(coefficient[is_unknown])
        is_known = ~is_unknown
        np.add.at(known_part, rows[is_known], coefficient[is_known, None] * flat_image[flat[is_known]])
    laplacian = sparse.csr_matrix(
        (np.concatenate(weights), (np.concatenate(row_ids), np.concatenate(col_ids))), shape=(n_rows, len(unknown))
    )
    normal = (laplacian.T @ laplacian).tocsc()
    normal = normal + sparse.identity(len(unknown), format="csc") * 1e-9
    solution = sparse_linalg.splu(normal).solve(np.ascontiguousarray(-(laplacian.T @ known_part)))
    filled = image.copy()
    filled.reshape(-1, channels)[unknown] = solution.astype(np.float32)
    return filled


# ----------------------------------------------------------------------------------------------
# Pass 2: patch refinement
# ----------------------------------------------------------------------------------------------


def _wide_regions(mask: np.ndarray, thin_width: float) -> np.ndarray:
    """The connected damaged regions (8-connectivity) wider than ``thin_width`` px somewhere."""
    if thin_width <= 0:
        return mask
    count, labels = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
    # twice the largest distance to the boundary = the region's widest point
    distance = cv2.distanceTransform(mask.astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    widest = np.zeros(count, np.float32)
    np.maximum.at(widest, labels[mask], distance[mask])
    # a w-px wide line has its centre (w + 1) / 2 px from the nearest unmasked pixel
    keep = 2.0 * widest - 1.0 > thin_width
    keep[0] = False
    return keep[labels]


def _exemplar_fill(
    filled: np.ndarray,
    mask: np.ndarray,
    work: np.ndarray,
    *,
    radius: int,
    search: int,
    iterations: int,
    rng: np.random.Generator,
    workers: int,
) -> np.ndarray:
    """Exemplar fill of the ``work`` pixels (pass 3 of the module docstring), coarse to fine.

    The photo is halved until the widest hole is within about ``2 * _COARSEST_HALF_WIDTH`` px
    of its border (or the photo gets too small), filled there in onion-peel order, then at each
    finer level from the coarser level's shifts and refined with EM rounds. The search window
    grows with the hole at each level so that every target reaches known patches.

    Args:
        filled: (H, W, C) float32, the biharmonic fill.
        mask: (H, W) bool, all damaged pixels (never used as sources).
        work: (H, W) bool, the damaged pixels to fill with patches (a union of regions of ``mask``).

    Returns:
        (H, W, C) float32, ``filled`` with the ``work`` pixels replaced.
    """
    h, w, channels = filled.shape
    half_width = float(cv2.distanceTransform(mask.astype(np.uint8), cv2.DIST_L2, 3)[work].max())
    smallest_side = 4 * (2 * radius + 1)  # a coarse level keeps room for sources around its holes
    levels = 0
    while half_width / 2 ** (levels + 1) >= _COARSEST_HALF_WIDTH and min(h, w) / 2 ** (levels + 1) >= smallest_side:
        levels += 1
    pyramid = [(filled, mask, work)]
    for _ in range(levels):
        image, level_mask, level_work = pyramid[-1]
        size = ((image.shape[1] + 1) // 2, (image.shape[0] + 1) // 2)
        pyramid.append(
            (
                cv2.resize(image, size, interpolation=cv2.INTER_AREA).reshape(size[1], size[0], channels),
                cv2.resize(level_mask.astype(np.float32), size, interpolation=cv2.INTER_AREA) > 0,
                cv2.resize(level_work.astype(np.float32), size, interpolation=cv2.INTER_AREA) > 0,
            )
        )
    current = shift = None
    for level in range(levels, -1, -1):
        image, level_mask, level_work = pyramid[level]
        if current is None:  # the coarsest level: grow the fill inwards from the border
            image, start = _onion_peel_fill(image, level_mask, level_work, radius=radius, rng=rng)
            # exhaustive matching reaches past the hole's middle here, where it is cheap
            level_search = max(search, int(np.ceil(half_width / 2**level)) + 2 * radius + _SEARCH_BEYOND)
        else:  # start from the coarser fill, sharpened by copying along the coarser level's shifts
            up = cv2.resize(current, (image.shape[1], image.shape[0]), interpolation=cv2.INTER_LINEAR)
            image = image.copy()
            image[level_work] = up.reshape(image.shape)[level_work]
            start = _copy_along_shifts(image, level_mask, level_work, shift)
            level_search = search  # the shifts carry the far matches; the search looks nearby
        shift = np.zeros(image.shape[:2] + (2,), np.int32)
        current = _patch_refine(
            image,
            level_mask,
            level_work,
            radius=radius,
            search=level_search,
            iterations=iterations + (_COARSE_EXTRA_ITERATIONS if level else 0),
            rng=rng,
            workers=workers,
            sharp=level == 0,
            absolute=True,
            shift_in=start,
            shift_out=shift,
        )
    # copied patches keep their own tones, so a gradient (sky, wall) would stop at the hole's
    # border: the tones on scales wider than the hole come from the smooth fill, which continues it
    sigma = max(1.0, _TONE_SIGMA * half_width)
    weight = work.astype(np.float32)
    difference = cv2.GaussianBlur((filled - current) * weight[..., None], (0, 0), sigma).reshape(current.shape)
    support = cv2.GaussianBlur(weight, (0, 0), sigma).reshape(h, w, 1)
    current[work] += (difference / np.maximum(support, 1e-3))[work]
    return current


def _copy_along_shifts(image: np.ndarray, mask: np.ndarray, work: np.ndarray, coarse_shift: np.ndarray) -> np.ndarray:
    """Copy, in place, into each ``work`` pixel q the known pixel q + 2 * shift(q // 2), where
    ``coarse_shift`` (h, w, 2) int (dy, dx) is the coarser level's match offset of each pixel.

    Returns the shifts used, (H, W, 2) int32 (0 where none was)."""
    h, w = work.shape
    ys, xs = np.nonzero(work)
    cy, cx = np.minimum(ys // 2, coarse_shift.shape[0] - 1), np.minimum(xs // 2, coarse_shift.shape[1] - 1)
    offset = coarse_shift[cy, cx]
    has = offset.any(axis=1)
    sy, sx = ys + 2 * offset[:, 0], xs + 2 * offset[:, 1]
    ok = has & (sy >= 0) & (sy < h) & (sx >= 0) & (sx < w)
    ok[ok] &= ~mask[sy[ok], sx[ok]]
    image[ys[ok], xs[ok]] = image[sy[ok], sx[ok]]
    shift = np.zeros((h, w, 2), np.int32)
    shift[ys[ok], xs[ok]] = 2 * offset[ok]
    return shift


def _onion_peel_fill(
    image: np.ndarray, mask: np.ndarray, work: np.ndarray, *, radius: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Fill the ``work`` pixels layer by layer from their border inwards, each pixel copied from
    the centre of the known patch most like its known (or already filled) neighbourhood.

    The onion-peel order of exemplar-based inpainting (Criminisi et al.), pixel by pixel: every
    pixel of a layer is compared (sum of squared differences over its valid pixels, means
    included) with up to ``_PEEL_SOURCES`` fully known patches, so structure crossing the hole's
    border is continued into it rather than diffused. Meant for a coarse level, where holes are
    a few pixels wide and the photo is small.

    Args:
        image: (H, W, C) float32; values under ``mask`` are ignored.
        mask: (H, W) bool, all damaged pixels (never compared, never used as sources).
        work: (H, W) bool, the damaged pixels to fill.

    Returns:
        (H, W, C) float32, ``image`` with the ``work`` pixels replaced (those no known pixel
        reaches keep their value), and (H, W, 2) int32, the (dy, dx) from each filled pixel to
        the pixel it was copied from (0 elsewhere).
    """
    h, w, channels = image.shape
    size = 2 * radius + 1
    out = image.copy()
    valid = ~mask
    interior = np.zeros((h, w), bool)
    interior[radius : h - radius, radius : w - radius] = True
    box = np.ones((size, size), np.uint8)
    source = (cv2.erode(valid.astype(np.uint8), box, borderType=cv2.BORDER_CONSTANT, borderValue=0) > 0) & interior
    ys, xs = np.nonzero(source)
    if len(ys) == 0:
        return out, np.zeros((h, w, 2), np.int32)
    if len(ys) > _PEEL_SOURCES:
        pick = np.sort(rng.choice(len(ys), _PEEL_SOURCES, replace=False))
        ys, xs = ys[pick], xs[pick]
    windows = np.lib.stride_tricks.sliding_window_view(out, (size, size), axis=(0, 1))  # (H-2r, W-2r, C, s, s)
    sources = windows[ys - radius, xs - radius].reshape(len(ys), -1).astype(np.float32)  # (N, C * s * s)
    source_energy = (sources**2).T  # (C * s * s, N)
    centres = out[ys, xs]  # (N, C)
    todo = work.copy()
    shift = np.zeros((h, w, 2), np.int32)
    cross = np.array([[0, 1, 0], [1, 1, 1], [0, 1, 0]], np.uint8)
    while todo.any():
        front = todo & (cv2.dilate(valid.astype(np.uint8), cross) > 0)
        if not front.any():
            break
        fy, fx = np.nonzero(front)
        padded = np.pad(out, ((radius, radius), (radius, radius), (0, 0)))
        padded_valid = np.pad(valid, radius).astype(np.float32)
        offsets = np.arange(-radius, radius + 1)
        rows = fy[:, None, None] + radius + offsets[None, :, None]
        cols = fx[:, None, None] + radius + offsets[None, None, :]
        targets = padded[rows, cols].transpose(0, 3, 1, 2).reshape(len(fy), -1)  # (F, C * s * s)
        weights = np.repeat(padded_valid[rows, cols].reshape(len(fy), 1, -1), channels, axis=1).reshape(len(fy), -1)
        best = np.empty(len(fy), np.int64)
        for start in range(0, len(fy), _PEEL_CHUNK):  # bounds the (chunk, N) distance matrix
            part = slice(start, start + _PEEL_CHUNK)
            weighted = weights[part] * targets[part]
            distance = (weighted * targets[part]).sum(axis=1, keepdims=True) - 2.0 * weighted @ sources.T
            distance += weights[part] @ source_energy
            best[part] = np.argmin(distance / np.maximum(weights[part].sum(axis=1, keepdims=True), 1.0), axis=1)
        out[fy, fx] = centres[best]
        shift[fy, fx, 0], shift[fy, fx, 1] = ys[best] - fy, xs[best] - fx
        valid[fy, fx] = True
        todo[fy, fx] = False
    return out, shift


def _patch_refine(
    filled: np.ndarray,
    mask: np.ndarray,
    work: np.ndarray,
    *,
    radius: int,
    search: int,
    iterations: int,
    rng: np.random.Generator,
    workers: int,
    sharp: bool = False,
    absolute: bool = False,
    shift_in: np.ndarray | None = None,
    shift_out: np.ndarray | None = None,
) -> np.ndarray:
    """Patch-based EM refinement of the pixels ``work`` (a subset of ``mask``) of ``filled``.

    Args:
        filled: (H, W, C) float32, the biharmonic fill (or, in pass 3, a level's first fill).
        mask: (H, W) bool, all damaged pixels (never used as sources).
        work: (H, W) bool, the damaged pixels to refine.
        sharp: each pixel takes the value its own patch's match brings, not the average over
            all the patches covering it (no blur; pass 3 at full resolution).
        absolute: patches are compared and copied with their brightness (pass 3), instead of
            structure only at the brightness of the patch they replace (pass 2).
        shift_in: (H, W, 2) int or None; (dy, dx) from pixels to a first guess of their
            patch's match (0 = none), kept where it beats the exhaustive search (pass 3).
        shift_out: (H, W, 2) int32 or None; receives, at the ``work`` pixels, the (dy, dx) from
            each pixel to its patch's match (left as it is where no match was found).

    Returns:
        (H, W, C) float32, ``filled`` with the ``work`` pixels replaced.
    """
    h, w, channels = filled.shape
    size = 2 * radius + 1
    if h < size + 2 or w < size + 2:
        return filled
    box = np.ones((size, size), np.uint8)
    interior = np.zeros((h, w), bool)
    interior[radius : h - radius, radius : w - radius] = True
    known_centre = cv2.erode((~mask).astype(np.uint8), box, borderType=cv2.BORDER_CONSTANT, borderValue=0) > 0
    known_centre &= interior
    near = cv2.dilate(work.astype(np.uint8), np.ones((2 * search + 1, 2 * search + 1), np.uint8)) > 0
    if not (known_centre & near).any():
        return filled
    basis = _PatchBasis.fit(filled, known_centre & near, radius, rng, mean_free=not absolute)
    targets = (cv2.dilate(work.astype(np.uint8), box) > 0) & interior

    blocks = [
        (top, left)
        for top in range(0, h, _BLOCK)
        for left in range(0, w, _BLOCK)
        if work[top : top + _BLOCK, left : left + _BLOCK].any()
    ]
    out = filled.copy()
    margin = 2 * radius + search

    def refine_block(corner: tuple[int, int]) -> None:
        top, left = corner
        bottom, right = min(top + _BLOCK, h), min(left + _BLOCK, w)
        y0, x0 = max(top - margin, 0), max(left - margin, 0)
        y1, x1 = min(bottom + margin, h), min(right + margin, w)
        inner = (slice(top - y0, bottom - y0), slice(left - x0, right - x0))
        # target centres: those whose patch reaches a pixel of the block core
        near_core = np.zeros((y1 - y0, x1 - x0), bool)
        near_core[
            max(top - radius - y0, 0) : bottom + radius - y0, max(left - radius - x0, 0) : right + radius - x0
        ] = True
        crop = filled[y0:y1, x0:x1].copy()
        initial = None
        if shift_in is not None:
            cy, cx = np.mgrid[y0:y1, x0:x1]
            sy, sx = cy + shift_in[y0:y1, x0:x1, 0], cx + shift_in[y0:y1, x0:x1, 1]
            inside = shift_in[y0:y1, x0:x1].any(axis=2) & (sy >= y0) & (sy < y1) & (sx >= x0) & (sx < x1)
            initial = np.where(inside, (sy - y0) * (x1 - x0) + sx - x0, -1).ravel()
        match = _refine_crop(
            crop,
            mask[y0:y1, x0:x1],
            known_centre[y0:y1, x0:x1],
            targets[y0:y1, x0:x1] & near_core,
            (y0, x0),
            basis,
            radius=radius,
            search=search,
            iterations=iterations,
            sharp=sharp,
            absolute=absolute,
            initial=initial,
        )
        keep = work[top:bottom, left:right]
        out[top:bottom, left:right][keep] = crop[inner][keep]
        if shift_out is not None and match is not None:
            ky, kx = np.nonzero(keep)
            ky, kx = ky + top, kx + left
            found = match[(ky - y0) * (x1 - x0) + kx - x0]
            has = found >= 0
            sy, sx = np.divmod(found[has], x1 - x0)
            shift_out[ky[has], kx[has], 0] = sy + y0 - ky[has]
            shift_out[ky[has], kx[has], 1] = sx + x0 - kx[has]

    run_each(refine_block, blocks, workers=workers)
    return out


class _PatchBasis:
    """Leading principal axes of mean-free known patches: a patch -> K = _PCA_COMPONENTS coordinates."""

    def __init__(self, mean: np.ndarray, axes: np.ndarray, radius: int, channels: int):
        size = 2 * radius + 1
        self.axes = axes  # (C * size * size, K), rows ordered (channel, dy, dx)
        self.offsets = (mean @ axes).astype(np.float32)
        per_channel = axes.reshape(channels, size, size, -1)
        self.kernels = [
            [np.ascontiguousarray(per_channel[c, :, :, k]) for c in range(channels)] for k in range(axes.shape[1])
        ]

    @classmethod
    def fit(
        cls, image: np.ndarray, centres: np.ndarray, radius: int, rng: np.random.Generator, *, mean_free: bool = True
    ) -> "_PatchBasis":
        ys, xs = np.nonzero(centres)
        if len(ys) > 4000:
            pick = np.sort(rng.choice(len(ys), 4000, replace=False))
            ys, xs = ys[pick], xs[pick]
        size = 2 * radius + 1
        windows = np.lib.stride_tricks.sliding_window_view(image, (size, size), axis=(0, 1))
        patches = windows[ys - radius, xs - radius].reshape(len(ys), image.shape[2], -1).astype(np.float64)
        if mean_free:
            patches -= patches.mean(axis=2, keepdims=True)  # match structure, not brightness
        patches = patches.reshape(len(ys), -1)
        mean = patches.mean(axis=0)
        centred = patches - mean
        _, axes = np.linalg.eigh(centred.T @ centred)
        components = min(_PCA_COMPONENTS, patches.shape[1])
        axes = np.ascontiguousarray(axes[:, ::-1][:, :components]).astype(np.float32)
        return cls(mean.astype(np.float32), axes, radius, image.shape[2])

    def feature_map(self, image: np.ndarray) -> np.ndarray:
        """Coordinates of the patch centred at every pixel, (H * W, K) float32; wrong within r of the edge."""
        h, w, channels = image.shape
        out = np.empty((h, w, len(self.kernels)), np.float32)
        planes = [np.ascontiguousarray(image[..., c]) for c in range(channels)]
        for k, per_channel in enumerate(self.kernels):
            acc = cv2.filter2D(planes[0], cv2.CV_32F, per_channel[0], borderType=cv2.BORDER_REFLECT)
            for c in range(1, channels):
                acc += cv2.filter2D(planes[c], cv2.CV_32F, per_channel[c], borderType=cv2.BORDER_REFLECT)
            out[..., k] = acc - self.offsets[k]
        return out.reshape(h * w, -1)

    def of_patches(self, flat_image: np.ndarray, centres: np.ndarray, patch_offsets: np.ndarray) -> np.ndarray:
        """Coordinates of the patches centred at flat indices ``centres``, (N, K) float32."""
        patches = flat_image[centres[:, None] + patch_offsets[None, :]]  # (N, size*size, C)
        patches = patches.transpose(0, 2, 1).reshape(len(centres), -1)
        return patches @ self.axes - self.offsets


def _refine_crop(
    crop: np.ndarray,
    mask: np.ndarray,
    known_centre: np.ndarray,
    targets: np.ndarray,
    origin: tuple[int, int],
    basis: _PatchBasis,
    *,
    radius: int,
    search: int,
    iterations: int,
    sharp: bool = False,
    absolute: bool = False,
    initial: np.ndarray | None = None,
) -> np.ndarray | None:
    """EM rounds on one crop, in place (``sharp`` and ``absolute`` as in :func:`_patch_refine`).

    Flat indices throughout: a shift of at most ``radius`` from a valid centre (at least
    ``radius`` px from every crop edge) never wraps a row. Returns the (h * w,) int64 flat index
    of each target centre's match in the crop (-1: none, or not a target), or None when there
    was nothing to do."""
    h, w, channels = crop.shape
    valid = np.zeros((h, w), bool)
    valid[radius : h - radius, radius : w - radius] = True
    known = (known_centre & valid).ravel()
    targets = targets & valid
    if not targets.any() or not known.any():
        return None
    flat = crop.reshape(-1, channels)
    span = np.arange(-radius, radius + 1)
    patch_offsets = (span[:, None] * w + span[None, :]).ravel()  # (dy, dx) row-major
    source_feats = basis.feature_map(crop)  # right for the known patches, which never change
    target_ids = np.flatnonzero(targets)
    # exhaustive search for every other target centre (and for isolated ones), the rest by propagation
    on_grid = np.zeros((h, w), bool)
    on_grid[(-origin[0]) % _SEED_STRIDE :: _SEED_STRIDE, (-origin[1]) % _SEED_STRIDE :: _SEED_STRIDE] = True
    seeds = targets & on_grid
    seeds |= targets & ~(cv2.dilate(seeds.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0)
    grid = np.zeros((h, w), bool)
    grid[(-origin[0]) % _SOURCE_STRIDE :: _SOURCE_STRIDE, (-origin[1]) % _SOURCE_STRIDE :: _SOURCE_STRIDE] = True
    sources = known.reshape(h, w) & grid
    # voting: pixel q takes crop[match(q - o) + o] from every target centre q - o covering it
    covered = cv2.dilate(targets.astype(np.uint8), np.ones((2 * radius + 1,) * 2, np.uint8)) > 0
    voters = np.flatnonzero((mask & covered).ravel())
    vote_centres = np.clip(voters[:, None] - patch_offsets[None, :], 0, h * w - 1)
    match = np.full(h * w, -1, np.int64)
    neighbours_4 = np.array([dy * w + dx for dy, dx in _NEIGHBOURS_4])
    neighbours_8 = np.array([dy * w + dx for dy, dx in _NEIGHBOURS_8])
    for iteration in range(iterations):
        if iteration == 0:
            queries = source_feats[target_ids]
            for top in range(0, h, _TILE):
                for left in range(0, w, _TILE):
                    _match_tile(source_feats, seeds, sources, (top, left), search, match)
            if initial is not None:
                _keep_better(source_feats, known, queries, target_ids, match, initial[target_ids])
            _improve(source_feats, known, queries, target_ids, match, neighbours_8, local=False)
        else:
            queries = basis.of_patches(flat, target_ids, patch_offsets)
        _improve(source_feats, known, queries, target_ids, match, neighbours_4, local=True)
        matched = match[vote_centres]  # (V, size*size)
        ok = matched >= 0
        matched = np.where(ok, matched, 0)
        values = flat[matched + patch_offsets[None, :]]  # (V, size*size, C)
        # each match brings its structure at the brightness of the patch it replaces, which
        # keeps gradients (skies, walls, skin) as smooth as the biharmonic fill
        local_mean = cv2.blur(crop, (2 * radius + 1,) * 2, borderType=cv2.BORDER_REFLECT).reshape(-1, channels)
        if not absolute:
            values += local_mean[vote_centres] - local_mean[matched]
        if sharp:  # the pixel's own patch's match alone, where it has one: no blur from averaging
            centre = len(patch_offsets) // 2
            own = np.zeros_like(ok)
            own[:, centre] = True
            ok = np.where(ok[:, centre : centre + 1], own, ok)
        count = ok.sum(axis=1)
        has = count > 0
        total = np.einsum("vp,vpc->vc", ok.astype(np.float32), values)
        flat[voters[has]] = total[has] / count[has, None]
    return match


def _keep_better(
    source_feats: np.ndarray,
    known: np.ndarray,
    queries: np.ndarray,
    target_ids: np.ndarray,
    match: np.ndarray,
    guesses: np.ndarray,
) -> None:
    """Replace, in place, the match of each target by its guess (flat index, -1 = none) where the
    guess is a known patch nearer to the target's query than the current match."""
    ok = guesses >= 0
    ok[ok] &= known[guesses[ok]]
    current = match[target_ids]

    def distance(candidates: np.ndarray, valid: np.ndarray) -> np.ndarray:
        diff = source_feats[np.where(valid, candidates, 0)] - queries
        return np.where(valid, np.einsum("tk,tk->t", diff, diff), np.inf)

    better = ok & (distance(guesses, ok) < distance(current, current >= 0))
    match[target_ids[better]] = guesses[better]


def _match_tile(
    feats: np.ndarray,
    seeds: np.ndarray,
    sources: np.ndarray,
    corner: tuple[int, int],
    search: int,
    match: np.ndarray,
) -> None:
    """Exhaustive nearest source (in PCA space) of the seed centres of one tile, in place.

    ``feats`` (N, K) holds the coordinates of the patches centred at every flat index."""
    h, w = seeds.shape
    top, left = corner
    tys, txs = np.nonzero(seeds[top : top + _TILE, left : left + _TILE])
    if len(tys) == 0:
        return
    y0, x0 = max(top - search, 0), max(left - search, 0)
    y1, x1 = min(top + _TILE + search, h), min(left + _TILE + search, w)
    src_y, src_x = np.nonzero(sources[y0:y1, x0:x1])
    if len(src_y) == 0:
        return
    seed_ids = (tys + top) * w + txs + left
    source_ids = (src_y + y0) * w + src_x + x0
    candidates = feats[source_ids]
    distance = np.einsum("ij,ij->i", candidates, candidates)[None, :] - 2.0 * (feats[seed_ids] @ candidates.T)
    match[seed_ids] = source_ids[np.argmin(distance, axis=1)]


def _improve(
    source_feats: np.ndarray,
    known: np.ndarray,
    queries: np.ndarray,
    target_ids: np.ndarray,
    match: np.ndarray,
    neighbours: np.ndarray,
    *,
    local: bool,
) -> None:
    """One PatchMatch-like round for all targets at once, in place (flat indices).

    Candidates for a target t: its current match m(t); for each neighbour offset d, the
    neighbour's match shifted back, m(t + d) - d (propagation); and when ``local``, m(t) + d
    (one-pixel local search). The nearest known candidate wins.
    """
    n = len(match)
    current = match[target_ids]
    columns = [current]
    for d in neighbours:
        m = match[np.clip(target_ids + d, 0, n - 1)]
        columns.append(np.where(m >= 0, m - d, -1))
        if local:
            columns.append(np.where(current >= 0, current + d, -1))
    cand = np.stack(columns, axis=1)
    ok = (cand >= 0) & (cand < n)
    cand = np.where(ok, cand, 0)
    ok &= known[cand]
    diff = source_feats[cand] - queries[:, None, :]
    distance = np.einsum("tnk,tnk->tn", diff, diff)
    distance[~ok] = np.inf
    best = np.argmin(distance, axis=1)
    rows = np.arange(len(best))
    found = ok[rows, best]
    match[target_ids[found]] = cand[rows[found], best[found]]


# ----------------------------------------------------------------------------------------------
# Optional film grain
# ----------------------------------------------------------------------------------------------


def _add_grain(filled: np.ndarray, mask: np.ndarray, *, rng: np.random.Generator) -> np.ndarray:
    """Top up the noise of each filled region to the level of the photo around it.

    Args:
        filled: (H, W, C) float32, the photo with its masked pixels filled (C = 1 or 3).
        mask: (H, W) bool, the filled pixels.
        rng: source of the grain.

    Returns:
        (H, W, C) float32 (not clipped); the same luminance noise is added to every channel, so
        gray stays gray. A region whose fill already carries the surrounding level (copied
        patches often do) gets nothing.
    """
    luminance = filled.mean(axis=2)
    detail = luminance - cv2.GaussianBlur(luminance, (0, 0), 1.0)
    grown = cv2.dilate(mask.astype(np.uint8), np.ones((11, 11), np.uint8)) > 0
    count, labels = cv2.connectedComponents(grown.astype(np.uint8), connectivity=8)
    ring = grown & ~(cv2.dilate(mask.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0)
    around = _robust_level(detail[ring], labels[ring], count)
    inside = _robust_level(detail[mask], labels[mask], count)
    noise = rng.standard_normal(mask.shape).astype(np.float32)
    # the same detail filter applied to the grain itself converts detail levels to grain levels
    gain = _robust_level((noise - cv2.GaussianBlur(noise, (0, 0), 1.0)).ravel(), np.zeros(noise.size, np.int32), 1)[0]
    extra = np.sqrt(np.maximum(around**2 - inside**2, 0.0)) / max(gain, 1e-6)
    out = filled.copy()
    out[mask] += (noise[mask] * extra[labels[mask]])[:, None]
    return out


def _robust_level(values: np.ndarray, labels: np.ndarray, count: int) -> np.ndarray:
    """Per label, the noise standard deviation estimated as 1.4826 * median(|values|); (count,)."""
    order = np.argsort(labels, kind="stable")
    labels, values = labels[order], np.abs(values[order])
    bounds = np.searchsorted(labels, np.arange(count + 1))
    level = np.zeros(count, np.float32)
    for label in range(count):
        group = values[bounds[label] : bounds[label + 1]]
        if len(group):
            level[label] = 1.4826 * float(np.median(group))
    return level
