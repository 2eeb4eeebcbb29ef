"""Restoration stages. Each is a module with ``NAME`` and ``run(image, context) -> StageOutput``;
stages never import each other: the pipeline composes them."""
