"""Old-photo restoration: scratch and crack removal (denoise, faces and colorization to come),
backed by one shared latent diffusion model, with a classical engine that needs no weights.

    from restoration import imageio, restore, RestoreOptions
    photo = imageio.load_photo("scan.jpg")
    result = restore(photo.pixels, "scratch", RestoreOptions(engine="classical"))
    imageio.save_photo(photo.with_pixels(result.image), "scan.restored.png")
"""

from .errors import InputError, RestorationError, WeightsUnavailableError
from .pipeline import TASKS, RestorationResult, RestoreOptions, detect_scratches, engine_status, restore

__all__ = [
    "TASKS",
    "InputError",
    "RestorationError",
    "RestorationResult",
    "RestoreOptions",
    "WeightsUnavailableError",
    "detect_scratches",
    "engine_status",
    "restore",
]

__version__ = "0.1.0"
