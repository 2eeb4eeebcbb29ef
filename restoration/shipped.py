"""Networks whose weights ship inside the package (``restoration/weights/``): each read once
per process and path, behind a lock, and shared read-only afterwards.

Used by :mod:`restoration.scratch_net` and :mod:`restoration.classical.mtcnn`; the diffusion
model and facexlib's networks come through :mod:`restoration.weights` and the engine instead.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Generic, TypeVar

from torch import nn

from .errors import WeightsUnavailableError

__all__ = ["LoadedOnce"]

logger = logging.getLogger(__name__)

Model = TypeVar("Model", bound=nn.Module)


class LoadedOnce(Generic[Model]):
    """The network ``build`` makes of a weights file, in eval mode, read once per resolved path.

    Args:
        what: the network's name in messages, e.g. "the MTCNN face detector".
        build: path of an existing file -> the network with its weights loaded; may raise
            OSError, ValueError, RuntimeError or safetensors' SafetensorError on a bad file.
    """

    def __init__(self, what: str, build: Callable[[Path], Model]) -> None:
        self.what = what
        self._build = build
        self._models: dict[Path, Model] = {}
        self._lock = threading.Lock()  # concurrent first calls read the file once

    def __call__(self, path: str | Path) -> Model:
        """The network for ``path``.

        Raises:
            WeightsUnavailableError: the file is missing or unusable (nothing is cached then).
        """
        path = Path(path).resolve()
        with self._lock:
            if path not in self._models:
                self._models[path] = self._read(path)
            return self._models[path]

    def _read(self, path: Path) -> Model:
        from safetensors import SafetensorError

        if not path.is_file():
            raise WeightsUnavailableError(f"{self.what}'s weights are missing ({path})")
        try:
            model = self._build(path)
        except (OSError, ValueError, RuntimeError, SafetensorError) as error:
            raise WeightsUnavailableError(f"cannot load {self.what} from {path}: {error}") from error
        model.eval()
        logger.info("loaded %s from %s", self.what, path)
        return model
