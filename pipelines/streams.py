"""Cut a stream into lists of bounded size, so a reader never holds a whole file: DNA records for
`titans predict`, tokens for streaming perplexity. (`itertools.batched` does this from Python 3.12.)"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import islice
from typing import TypeVar

Item = TypeVar("Item")


def batched(items: Iterable[Item], size: int) -> Iterator[list[Item]]:
    """Consecutive lists of `size` items (the last may be shorter), read lazily from `items`."""
    if size < 1:
        raise ValueError(f"size={size}: must be >= 1")
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch
