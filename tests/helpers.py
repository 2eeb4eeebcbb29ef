"""Small synthetic photos with known damage, shared by the pipeline, CLI and app tests, and the
loader of the benchmark scripts they test."""

import importlib.util
import sys
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
TRAINING = BENCHMARKS.parent / "training"


def benchmark_script(name: str, monkeypatch, folder: Path = BENCHMARKS):
    """``benchmarks/<name>.py`` (or ``folder/<name>.py``, e.g. ``TRAINING``) as a module (a script
    folder, not part of the package), registered in ``sys.modules`` for the test only (its
    dataclasses look their module up)."""
    spec = importlib.util.spec_from_file_location(f"{name}_under_test", folder / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)
    spec.loader.exec_module(module)
    return module


def smooth_photo(height: int = 96, width: int = 128, *, gray: bool = False) -> np.ndarray:
    """A smooth colour (or gray) gradient photo, (H, W, 3) float32 in [0, 1]."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    red = 0.25 + 0.5 * x / width
    green = 0.3 + 0.4 * y / height
    blue = 0.5 + 0.2 * np.sin(x / 17.0) * np.cos(y / 23.0)
    photo = np.stack([red, green, blue], axis=2)
    if gray:
        photo = np.repeat(photo.mean(axis=2, keepdims=True), 3, axis=2)
    return np.clip(photo, 0.0, 1.0).astype(np.float32)


def scratched(photo: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``photo`` with a bright diagonal 2-px scratch; returns (damaged, (H, W) bool scratch mask)."""
    height, width = photo.shape[:2]
    mask = np.zeros((height, width), bool)
    for x in range(width // 8, width - width // 8):
        y = int(height * 0.2 + 0.5 * x * height / width)
        mask[y : y + 2, x] = True
    damaged = photo.copy()
    damaged[mask] = 0.97
    return damaged, mask


def save_uint8(photo: np.ndarray, path) -> None:
    """Write (H, W, 3) float32 [0, 1] as an 8-bit file (format from the suffix)."""
    Image.fromarray(np.rint(photo * 255).astype(np.uint8)).save(path)


def bundled_photo(name: str = "astronaut", side: int = 256) -> np.ndarray:
    """A clean scikit-image photo (``skimage.data.<name>``) as (H, W, 3) float32 in [0, 1],
    resized so that its longest side is ``side`` px; gray ones are repeated over three channels."""
    import skimage.data

    image = getattr(skimage.data, name)()
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=2)
    image = image[..., :3].astype(np.float32) / 255.0
    height, width = image.shape[:2]
    scale = side / max(height, width)
    resized = cv2.resize(image, (round(width * scale), round(height * scale)), interpolation=cv2.INTER_AREA)
    return np.clip(resized, 0, 1)
