"""Exceptions whose message is shown to the user as it is.

Every entry point (Python API, command line, Gradio app) turns these into one clear line:
the CLI prints ``error: <message>``, the app raises ``gr.Error(<message>)``.
"""

__all__ = ["RestorationError", "InputError", "WeightsUnavailableError"]


class RestorationError(Exception):
    """Base class: something the user can read and act on, never a traceback."""


class InputError(RestorationError, ValueError):
    """The input (photo, mask, reference or option) cannot be used; the message says why and how to fix it."""


class WeightsUnavailableError(RestorationError):
    """The diffusion engine was asked for but its weights are not on this machine."""
