"""Face restoration: seconds per face for each engine, and quality inside the face on synthetic
degradations, against simple baselines run in the same process.

Faces: those the offline detector finds (score >= 0.5, at least ``MIN_FACE`` px) on photos that
need no download: scikit-image's astronaut, the prints of ../shared/photos and the first
``CORPUS_PRINTS`` prints of ../shared/corpus (not ../shared/scratched). Each photo, reduced to at
most ``MAX_SIDE`` px, is the clean reference; it is degraded with ``degrade.gaussian_blur``
(sigma ``BLUR`` px) and ``degrade.add_grain`` (sigma ``GRAIN`` levels, 0.8 px grains), rounded to
8 bits, and restored by:

* **face stage (classical)**: ``restore(image, "face", RestoreOptions(engine="classical"))``,
  which finds the faces on the degraded photo itself (a face it misses scores as the input);
* **grain.denoise, whole photo**: the denoiser alone with the measured noise (baseline);
* **OpenCV NLM**: ``benchmarks/denoise_quality.opencv_nlm`` (h = 0.6 x measured noise);
* **input**: the degraded photo.

Scores are given over every face, and over the faces the stage found and restored on the degraded
photo (the others score as the input).

Scores: PSNR (dB) and SSIM against the clean photo inside each face (the stage's elliptical paste
mask at weight >= 0.5 for the face found on the CLEAN photo; SSIM on the face's bounding box),
averaged over faces. The old prints carry grain and softness of their own, which stay in the
reference: removing it costs a little there.

Cost: the classical stage's seconds per face are measured here (whole stage time on the photo
divided by its faces, detection included). The diffusion engine's are NOT measured (the tiny test
model says nothing about cost); they are computed from the measured SD 1.5 figures of the README
"Diffusion cost" table (2 CPU cores, fp32, 512 px: UNet step 17.7 s default / 9.5 s LCM, VAE
encode 12.4 / 10.3 s, decode 22.7 / 25.3 s), one 512-px inpaint call per face with two encodes
and one decode and ``InpaintSettings.unet_steps`` UNet steps at the stage's default strength.

Usage (from the repository root): ``python benchmarks/face_restoration.py [--corpus-prints N]``
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import cv2
import numpy as np
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from degrade import add_grain, gaussian_blur, quantize  # noqa: E402
from denoise_quality import opencv_nlm  # noqa: E402

from restoration import faces, imageio  # noqa: E402
from restoration.classical.grain import denoise, estimate_noise  # noqa: E402
from restoration.engine import InpaintSettings  # noqa: E402
from restoration.pipeline import RestoreOptions, restore  # noqa: E402
from restoration.stages.face import FaceOptions, find_faces, landmarks_of, strength_for  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
PHOTOS = ROOT.parent / "shared" / "photos"
CORPUS = ROOT.parent / "shared" / "corpus"
MAX_SIDE = 1024
MIN_FACE = 40
CORPUS_PRINTS = 12
BLUR, GRAIN = 1.2, 10.0
SEED = 0
# README "Diffusion cost" (measured on this machine class: 2 CPU cores, fp32, 512 px window)
SD15_CPU = {
    "default": {"step": 17.7, "encode": 12.4, "decode": 22.7},
    "fast (LCM)": {"step": 9.5, "encode": 10.3, "decode": 25.3},
}


def _photos(corpus_prints: int) -> dict[str, np.ndarray]:
    import skimage.data

    photos = {"astronaut": skimage.data.astronaut().astype(np.float32) / 255.0}
    paths = sorted(PHOTOS.glob("*.jpg")) + sorted(p for p in CORPUS.glob("*") if p.suffix in (".jpg", ".png"))[:corpus_prints]
    for path in paths:
        photos[path.stem] = imageio.load_photo(path).pixels
    for name, image in photos.items():
        scale = MAX_SIDE / max(image.shape[:2])
        if scale < 1:
            photos[name] = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    return photos


def _degraded(image: np.ndarray, index: int) -> np.ndarray:
    rng = np.random.default_rng([SEED, index])
    return quantize(add_grain(gaussian_blur(image, sigma=BLUR), rng=rng, sigma=GRAIN / 255.0, size=0.8))


def _face_scores(clean: np.ndarray, result: np.ndarray, regions: list[tuple[np.ndarray, tuple]]) -> list[tuple[float, float]]:
    scores = []
    for inside, (top, left, bottom, right) in regions:
        psnr = peak_signal_noise_ratio(clean[inside], result[inside], data_range=1.0)
        ssim = structural_similarity(
            clean[top:bottom, left:right], result[top:bottom, left:right], channel_axis=2, data_range=1.0
        )
        scores.append((float(psnr), float(ssim)))
    return scores


def _regions(clean: np.ndarray, found) -> list[tuple[np.ndarray, tuple]]:
    regions = []
    for face in found.faces:
        if max(face.box[2:]) < MIN_FACE:
            continue
        weights = faces.paste_weights(faces.elliptical_mask(), faces.alignment_matrix(landmarks_of(face)), clean.shape[:2])
        inside = weights >= 0.5
        rows, columns = np.nonzero(inside)
        if rows.size < 64 or min(np.ptp(rows), np.ptp(columns)) < 8:
            continue
        regions.append((inside, (rows.min(), columns.min(), rows.max() + 1, columns.max() + 1)))
    return regions


def _diffusion_seconds_per_face() -> dict[str, float]:
    fidelity = FaceOptions().fidelity
    strength = strength_for(fidelity)
    settings = {
        "default": InpaintSettings(steps=25, strength=strength),
        "fast (LCM)": InpaintSettings(steps=4, strength=strength, guidance_scale=1.0, fast=True),
    }
    return {
        name: settings[name].unet_steps * cost["step"] + 2 * cost["encode"] + cost["decode"]
        for name, cost in SD15_CPU.items()
    } | {"_steps": {name: s.unet_steps for name, s in settings.items()}, "_strength": strength}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus-prints", type=int, default=CORPUS_PRINTS)
    arguments = parser.parse_args(argv)
    cv2.setNumThreads(2)
    methods = ("input", "face stage (classical)", "grain.denoise, whole photo", "OpenCV NLM")
    scores: dict[str, list[tuple[float, float]]] = {m: [] for m in methods}
    found_scores: dict[str, list[tuple[float, float]]] = {m: [] for m in methods}  # faces the stage restored
    stage_seconds, stage_faces, photos_used = 0.0, 0, 0
    for index, (name, clean) in enumerate(_photos(arguments.corpus_prints).items()):
        regions = _regions(clean, find_faces(clean))
        if not regions:
            continue
        photos_used += 1
        degraded = _degraded(clean, index)
        started = time.perf_counter()
        result = restore(degraded, "face", RestoreOptions(engine="classical"))
        seconds = time.perf_counter() - started
        restored_faces = sum(entry["restored"] for entry in result.stages[0].findings["faces"])
        stage_seconds += seconds
        stage_faces += restored_faces
        noise = estimate_noise(degraded)
        outputs = {
            "input": degraded,
            "face stage (classical)": result.image,
            "grain.denoise, whole photo": denoise(degraded, sigma=noise.sigma, chroma_sigma=noise.chroma_sigma,
                                                  correlation=noise.correlation),
            "OpenCV NLM": opencv_nlm(degraded, noise),
        }
        touched = [bool(np.any(result.image[inside] != degraded[inside])) for inside, _ in regions]
        for method, output in outputs.items():
            per_face = _face_scores(clean, output, regions)
            scores[method] += per_face
            found_scores[method] += [score for score, hit in zip(per_face, touched) if hit]
        print(f"# {name}: {len(regions)} faces scored, {restored_faces} restored by the stage, {seconds:.1f} s", file=sys.stderr)
    count = len(scores["input"])
    print(f"\nQuality inside {count} faces of {photos_used} photos (blur {BLUR} px + grain {GRAIN:g} levels, 8 bits):\n")
    found = len(found_scores["input"])
    print(f"| method | PSNR, all {count} faces (dB) | SSIM, all | PSNR, the {found} the stage found (dB) | SSIM, those |")
    print("|---|---|---|---|---|")
    for method in methods:
        every, hit = np.array(scores[method]), np.array(found_scores[method]).reshape(-1, 2)
        print(f"| {method} | {every[:, 0].mean():.2f} | {every[:, 1].mean():.3f} | {hit[:, 0].mean():.2f} | {hit[:, 1].mean():.3f} |")
    diffusion = _diffusion_seconds_per_face()
    print("\nSeconds per face on 2 CPU cores:\n")
    print("| engine | seconds per face | how |")
    print("|---|---|---|")
    print(f"| classical | {stage_seconds / max(stage_faces, 1):.2f} | measured: whole stage incl. detection, "
          f"{stage_faces} faces on {photos_used} photos |")
    for name in SD15_CPU:
        print(f"| diffusion, {name} | {diffusion[name]:.0f} | computed from the README's SD 1.5 CPU figures: "
              f"{diffusion['_steps'][name]} UNet steps at strength {diffusion['_strength']:.2f} + 2 encodes + 1 decode "
              "(plus the classical pass) |")


if __name__ == "__main__":
    main()
