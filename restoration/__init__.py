"""Old-photo restoration: scratch and crack removal, denoise/deblur/fading (faces and colorization to come),
backed by one shared latent diffusion model, with a classical engine that needs no weights.

    from restoration import RestoreOptions, ScratchOptions, imageio, provenance, restore
    photo = imageio.load_photo("scan.jpg")
    options = RestoreOptions(engine="classical", stages={"scratch": ScratchOptions(sensitivity=0.6)})
    result = restore(photo.pixels, "scratch", options)
    provenance.save_restored(photo, result, "scan.restored.png", source_name="scan.jpg")  # with its edit history
"""

__version__ = "0.1.0"
"""The program's version, written into every output's provenance (restoration.provenance);
set before the imports below, which may read it."""

from .errors import InputError, RestorationError, WeightsUnavailableError
from .pipeline import STAGES, TASKS, RestorationResult, RestoreOptions, detect_scratches, engine_status, restore
from .stages.denoise import DenoiseOptions
from .stages.scratch import ScratchOptions

__all__ = [
    "STAGES",
    "TASKS",
    "InputError",
    "RestorationError",
    "RestorationResult",
    "RestoreOptions",
    "DenoiseOptions",
    "ScratchOptions",
    "WeightsUnavailableError",
    "detect_scratches",
    "engine_status",
    "restore",
]
