"""Cost of the full restoration ("Restore" tab, CLI default chain) on real 1-megapixel old prints,
measured side by side with one OpenCV NLM pass on the same photo.

Photos: the prints of ../shared/corpus between 0.8 and 1.3 megapixels (``PRINTS``), at their own
size (nothing is resized). For each print, in one process and alternating so that a change of
machine load hits both alike:

* **OpenCV NLM**: one ``cv2.fastNlMeansDenoisingColored`` pass with h from the measured noise
  (``benchmarks/denoise_quality.opencv_nlm``, the denoise benchmark's baseline);
* **full restore**: ``restore(image, default_tasks(), RestoreOptions(engine="classical"))``:
  scratches, denoise/deblur and faces (colorize needs a reference and is not in the default
  chain), with each stage's own seconds from its report.

Each is run ``--repeats`` times (default 2) and the fastest run is kept (the least disturbed by
other processes). The issue's bar: the full restore within 10x one NLM pass.

Usage (from the repository root): ``python benchmarks/restore_cost.py [--repeats N] [--threads N]``
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from denoise_quality import opencv_nlm  # noqa: E402

from restoration import imageio  # noqa: E402
from restoration.pipeline import RestoreOptions, default_tasks, restore  # noqa: E402

CORPUS = Path(__file__).resolve().parent.parent.parent / "shared" / "corpus"
PRINTS = ("Cork1905.jpg", "BigManTavern1908NYC.jpg", "HydeParkLondon1920s.jpg", "WaterfordIreland1909.jpg")
"""Real old prints of about one megapixel (0.95-1.25 MP), street and group scenes with faces."""
BAR = 10.0  # the full restore must take at most this many NLM passes


def fastest(run, repeats: int) -> tuple[float, object]:
    """(seconds of the fastest of ``repeats`` calls of ``run()``, that call's result)."""
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        value = run()
        seconds = time.perf_counter() - start
        if seconds < best:
            best, result = seconds, value
    return best, result


def measure(path: Path, repeats: int) -> dict:
    """Seconds of one NLM pass and of the full classical restore of the print at ``path``."""
    image = imageio.load_photo(path).pixels
    tasks = default_tasks()
    nlm_seconds, _ = fastest(lambda: opencv_nlm(image), repeats)
    restore_seconds, result = fastest(lambda: restore(image, tasks, RestoreOptions(engine="classical")), repeats)
    return {
        "photo": path.name,
        "megapixels": image.shape[0] * image.shape[1] / 1e6,
        "nlm": nlm_seconds,
        "restore": restore_seconds,
        "stages": {report.name: report.seconds for report in result.stages},
        "faces": sum(1 for face in result.stages[-1].findings.get("faces", []) if face.get("restored")),
    }


def print_table(rows: list[dict]) -> None:
    stage_names = list(rows[0]["stages"])
    print("| print | MP | NLM s | full restore s | ratio | " + " | ".join(f"{name} s" for name in stage_names) + " | faces |")
    print("|---|---|---|---|---|" + "---|" * len(stage_names) + "---|")
    for row in rows:
        stages = " | ".join(f"{row['stages'][name]:.2f}" for name in stage_names)
        print(f"| {row['photo']} | {row['megapixels']:.2f} | {row['nlm']:.2f} | {row['restore']:.2f} | "
              f"{row['restore'] / row['nlm']:.1f}x | {stages} | {row['faces']} |")
    ratios = [row["restore"] / row["nlm"] for row in rows]
    print(f"\nmedian ratio {np.median(ratios):.1f}x, worst {max(ratios):.1f}x (bar: {BAR:.0f}x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=2, help="runs per method and print; the fastest is kept")
    parser.add_argument("--threads", type=int, default=None, help="cv2.setNumThreads for both (default: OpenCV's)")
    parser.add_argument("--corpus", type=Path, default=CORPUS, help=f"folder of the corpus prints (default {CORPUS})")
    arguments = parser.parse_args()
    if arguments.threads:
        import cv2

        cv2.setNumThreads(arguments.threads)
    rows = []
    for name in PRINTS:
        rows.append(measure(arguments.corpus / name, arguments.repeats))
        print(f"{name}: NLM {rows[-1]['nlm']:.2f} s, restore {rows[-1]['restore']:.2f} s", file=sys.stderr)
    print_table(rows)


if __name__ == "__main__":
    main()
