"""Running independent pieces of one image (strips, blocks) on a few threads."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

__all__ = ["run_each"]

Item = TypeVar("Item")


def run_each(function: Callable[[Item], object], items: Sequence[Item] | Iterable[Item], *, workers: int = 1) -> None:
    """Call ``function(item)`` for every item: on ``workers`` threads when there are more than
    one worker and more than one item, else in order in this thread. Exceptions propagate."""
    items = list(items)
    if workers > 1 and len(items) > 1:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(function, items))
        return
    for item in items:
        function(item)
