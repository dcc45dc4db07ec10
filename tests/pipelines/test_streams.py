"""`batched`: bounded lists from a stream of any length, read lazily."""

import itertools

import pytest

from titans.pipelines.streams import batched


def test_batches_keep_order_and_the_last_may_be_short():
    assert list(batched(range(7), 3)) == [[0, 1, 2], [3, 4, 5], [6]]
    assert list(batched([], 3)) == []


def test_an_endless_stream_is_read_only_as_far_as_asked():
    first_two = list(itertools.islice(batched(itertools.count(), 4), 2))
    assert first_two == [[0, 1, 2, 3], [4, 5, 6, 7]]


def test_a_size_below_one_is_refused():
    with pytest.raises(ValueError, match="size=0"):
        next(batched([1], 0))
