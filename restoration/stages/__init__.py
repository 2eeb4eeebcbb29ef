"""Restoration stages. Each is a module that declares one :class:`~.context.Stage` named
``STAGE`` (name, options dataclass, inputs, ``run(image, context) -> StageOutput``); stages never
import each other: the pipeline composes them from its one ordered list, ``pipeline.STAGES``."""
