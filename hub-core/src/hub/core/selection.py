"""Which samples a view sees: a lazy selection of global sample indices.

A selection is a Python ``range`` (slices compose without materializing anything) or an
int64 array (for lists), plus whether it came from a single integer (a view of one sample,
whose arrays have no batch dimension).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from hub.errors import DatasetIndexError

__all__ = ["Selection", "pop_position"]


class Selection:
    """Global sample indices picked out of a tensor or dataset of some length."""

    __slots__ = ("items", "scalar")

    def __init__(self, items: range | np.ndarray, scalar: bool = False) -> None:
        self.items = items
        self.scalar = scalar

    @classmethod
    def all(cls, length: int) -> Selection:
        return cls(range(length))

    def __len__(self) -> int:
        return len(self.items)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Selection):
            return False
        return self.scalar == other.scalar and np.array_equal(self.array(), other.array())

    def __hash__(self) -> int:
        return hash((self.scalar, self.array().tobytes()))

    def array(self) -> np.ndarray:
        if isinstance(self.items, range):
            return np.arange(self.items.start, self.items.stop, self.items.step, dtype=np.int64)
        return self.items

    def contiguous(self) -> tuple[int, int] | None:
        """(start, stop) if the selection is a run of consecutive indices."""
        if isinstance(self.items, range) and (self.items.step == 1 or len(self.items) <= 1):
            if len(self.items) == 0:
                return (0, 0)
            return self.items[0], self.items[-1] + 1
        return None

    def __getitem__(self, item: Any) -> Selection:
        if self.scalar:
            raise DatasetIndexError("A view of one sample can't be indexed by sample again.")
        n = len(self.items)
        if isinstance(item, (int, np.integer)) and not isinstance(item, bool):
            i = int(item)
            if not -n <= i < n:
                raise DatasetIndexError(f"Index {i} is out of range for {n} samples.")
            return Selection(np.asarray([self.items[i]], dtype=np.int64), scalar=True)
        if isinstance(item, slice):
            if isinstance(self.items, range):
                return Selection(self.items[item])
            return Selection(self.items[item])
        if isinstance(item, (list, tuple, np.ndarray)):
            picks = np.asarray(item)
            if picks.size == 0:
                return Selection(np.zeros(0, dtype=np.int64))
            if picks.dtype == bool:
                if len(picks) != n:
                    raise DatasetIndexError(f"A boolean mask of length {len(picks)} can't select from {n} samples.")
                picks = np.flatnonzero(picks)
            if picks.dtype.kind not in "iu":
                raise DatasetIndexError(f"Sample indices must be integers, got {picks.dtype}.")
            picks = picks.astype(np.int64)
            if picks.ndim != 1:
                raise DatasetIndexError("A list of sample indices must be one-dimensional.")
            if ((picks < -n) | (picks >= n)).any():
                raise DatasetIndexError(f"An index in {item!r} is out of range for {n} samples.")
            picks = np.where(picks < 0, picks + n, picks)
            return Selection(self.array()[picks])
        raise DatasetIndexError(
            f"Can't index samples with {type(item).__name__}; use an int, a slice or a list of ints."
        )

    def __repr__(self) -> str:
        if self.scalar:
            return f"Selection({int(self.array()[0])})"
        return f"Selection({self.items!r})"


def pop_position(index: int | None, n: int, what: str) -> int:
    """The position ``pop(index)`` removes from ``what`` (of ``n`` samples): the last by default, negative from the
    end; :class:`~hub.errors.DatasetIndexError` if there is none."""
    if n == 0:
        raise DatasetIndexError(f"pop from {what}, which is empty.")
    index = n - 1 if index is None else index
    if not -n <= index < n:
        raise DatasetIndexError(f"Index {index} is out of range for {what} of {n} samples.")
    return index % n
