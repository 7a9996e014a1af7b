"""Which byte ranges of a raw C-order sample ``sample[subscript]`` needs, and the result from just those bytes.

A subscript of ints and slices (steps and negative indices included, one ``...``) selects a grid of elements. In C
order the elements of the trailing dimensions it selects whole are contiguous, so the grid is a set of equal runs
of bytes; runs whose gaps are small are read as one range (a gap costs less to read than another request), and a
selection of many scattered runs reads the range covering them all.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["Region", "plan_region"]

#: Runs closer than this many bytes are read as one range.
MERGE_GAP = 64 * 1024
#: More ranges than this after merging: read the one range that covers them.
MAX_RANGES = 64
#: More runs than this are not listed one by one: the covering range is read.
MAX_RUNS = 1 << 20


@dataclass(frozen=True)
class Region:
    """The byte ranges of a sample that ``sample[subscript]`` reads, and how to index the bytes once read."""

    #: Ranges [start, end) in bytes from the sample's first byte, sorted, disjoint; they cover the selection.
    ranges: list[tuple[int, int]]
    #: Shape and element offset (from the sample's start) of the box that bounds the selection.
    box_shape: tuple[int, ...]
    box_offset: int
    #: C-order element strides of the sample.
    strides: tuple[int, ...]
    #: ``box[relative]`` is ``sample[subscript]``.
    relative: tuple[Any, ...]
    #: The result's shape (an empty selection reads nothing).
    shape: tuple[int, ...]

    def assemble(self, buffer: np.ndarray, dtype: np.dtype) -> np.ndarray:
        """``sample[subscript]`` from ``buffer``: the sample's bytes from ``ranges[0][0]`` to ``ranges[-1][1]``
        (only those inside ``ranges`` need be filled)."""
        if not self.ranges:
            return np.empty(self.shape, dtype=dtype)
        items = buffer.view(dtype)
        base = self.box_offset - self.ranges[0][0] // dtype.itemsize
        box = np.lib.stride_tricks.as_strided(
            items[base:],
            shape=self.box_shape,
            strides=tuple(s * dtype.itemsize for s in self.strides),
            writeable=False,
        )
        return np.array(box[self.relative])


def _axes(shape: tuple[int, ...], subscript: tuple[Any, ...]) -> list[tuple[int, int, int, bool]] | None:
    """Per dimension (first index, step, count, picked by an int); None for what this plan does not cover (new
    axes, index arrays, masks, out-of-range ints): numpy then indexes the whole sample and says what is wrong."""
    items = list(subscript)
    if sum(x is Ellipsis for x in items) > 1:
        return None
    if Ellipsis in items:
        k = next(i for i, x in enumerate(items) if x is Ellipsis)
        items[k : k + 1] = [slice(None)] * (len(shape) - len(items) + 1)
    if len(items) > len(shape):
        return None
    items += [slice(None)] * (len(shape) - len(items))
    out = []
    for item, n in zip(items, shape, strict=True):
        if isinstance(item, (int, np.integer)) and not isinstance(item, (bool, np.bool_)):
            if not -n <= int(item) < n:
                return None
            out.append((int(item) % n, 1, 1, True))
        elif isinstance(item, slice):
            r = range(n)[item]
            out.append((r.start, r.step, len(r), False))
        else:
            return None
    return out


def plan_region(shape: tuple[int, ...], subscript: tuple[Any, ...], itemsize: int) -> Region | None:
    """The bytes ``sample[subscript]`` needs of a raw C-order sample of ``shape``; None when the subscript is not
    made of ints, slices and one ``...`` (or an int is out of range)."""
    axes = _axes(shape, subscript)
    if axes is None:
        return None
    strides = tuple(int(np.prod(shape[d + 1 :], dtype=np.int64)) for d in range(len(shape)))
    result = tuple(count for _, _, count, picked in axes if not picked)
    if any(count == 0 for _, _, count, _ in axes):
        return Region([], (), 0, strides, (), result)
    lo = [min(first, first + step * (count - 1)) for first, step, count, _ in axes]
    hi = [max(first, first + step * (count - 1)) + 1 for first, step, count, _ in axes]
    relative = []
    for (first, step, count, picked), low in zip(axes, lo, strict=True):
        start = first - low
        stop = start + step * count
        relative.append(start if picked else slice(start, stop if stop >= 0 else None, step))
    # Dimensions from `inner` on are read whole per run: the trailing whole dimensions, plus the last partial one
    # when its indices are consecutive.
    inner = len(shape)
    while inner > 0 and axes[inner - 1][2] == shape[inner - 1]:
        inner -= 1
    if inner > 0 and abs(axes[inner - 1][1]) == 1:
        inner -= 1
        run = (hi[inner] - lo[inner]) * strides[inner]
        outer = [*axes[:inner], (lo[inner], 1, 1, True)]
    else:
        run = strides[inner - 1] if inner > 0 else int(np.prod(shape, dtype=np.int64))
        outer = axes[:inner]
    box_offset = sum(low * stride for low, stride in zip(lo, strides, strict=True))
    box = tuple(h - low for h, low in zip(hi, lo, strict=True))
    n_runs = int(np.prod([count for _, _, count, _ in outer], dtype=np.int64))
    last = sum((h - 1) * stride for h, stride in zip(hi, strides, strict=True))
    if n_runs > MAX_RUNS:
        return Region(
            [(box_offset * itemsize, (last + 1) * itemsize)], box, box_offset, strides, tuple(relative), result
        )
    starts = np.zeros(1, dtype=np.int64)
    for (first, step, count, _), stride in zip(outer, strides[: len(outer)], strict=True):
        starts = np.add.outer(starts, (first + step * np.arange(count, dtype=np.int64)) * stride).reshape(-1)
    starts = np.sort(starts) * itemsize
    ends = starts + run * itemsize
    breaks = np.flatnonzero(starts[1:] - ends[:-1] >= MERGE_GAP) + 1
    begins, finishes = starts[np.r_[0, breaks]], ends[np.r_[breaks - 1, len(starts) - 1]]
    if len(begins) > MAX_RANGES:
        begins, finishes = begins[:1], finishes[-1:]
    ranges = list(zip(begins.tolist(), finishes.tolist(), strict=True))
    return Region(ranges, box, box_offset, strides, tuple(relative), result)
