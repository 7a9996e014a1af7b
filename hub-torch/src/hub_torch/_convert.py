"""Turns decoded hub batches into torch values: shared-memory batch tensors, widened dtypes, int64 labels, padding."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from hub.core.meta import TensorMeta
from hub.core.polygons import is_ragged_polygon
from hub.errors import DynamicShapeError
from hub_torch._pack import ArenaAllocator

__all__ = ["WIDER", "torch_dtype_for", "to_torch", "polygons_to_torch", "pad_stack", "writable"]

#: numpy dtypes torch can't hold (or can barely compute with), and the dtype that holds all their values.
WIDER: dict[np.dtype, np.dtype] = {
    np.dtype("uint16"): np.dtype("int32"),
    np.dtype("uint32"): np.dtype("int64"),
    np.dtype("uint64"): np.dtype("int64"),
}


def torch_dtype_for(meta: TensorMeta, dtype: np.dtype) -> np.dtype:
    """The numpy dtype a tensor's values are handed to torch in: class labels as int64, unsigned types widened."""
    if meta.htype == "class_label":
        return np.dtype("int64")
    wider: np.dtype = WIDER.get(dtype, dtype)
    return wider


def to_torch(value: Any, meta: TensorMeta, allocator: ArenaAllocator | None = None) -> Any:
    """One tensor's batch as torch: arrays become tensors (dtype widened), lists of objects stay lists, polygon
    samples (lists of arrays) lists of tensors.

    With ``allocator``, an array becomes a slot of a shared arena: where the allocator placed it, if torch takes
    its dtype as is, else where it is copied (converted) to. Anything else would go to torch's own shared memory,
    made fresh and passed to the main process as a file descriptor for every batch.
    """
    if is_ragged_polygon(meta.htype, meta.layout):
        slots = _polygon_slots(value, meta, allocator) if allocator is not None else None
        return slots if slots is not None else [polygons_to_torch(sample, meta) for sample in value]
    if isinstance(value, np.ndarray):
        wanted = torch_dtype_for(meta, value.dtype)
        if allocator is not None and not value.dtype.hasobject:
            slot = allocator.slot(value) if wanted == value.dtype else None
            if slot is None:
                out = allocator(value.shape, wanted)
                out[...] = value
                slot = allocator.slot(out)
            if slot is not None:
                return slot
        return torch.from_numpy(writable(value, wanted))
    if isinstance(value, list) and value and isinstance(value[0], np.ndarray):
        return [torch.from_numpy(writable(v, torch_dtype_for(meta, v.dtype))) for v in value]
    return value


def _polygon_slots(samples: Sequence[Sequence[np.ndarray]], meta: TensorMeta, allocator: ArenaAllocator) -> Any:
    """A batch of polygon samples as lists of arena slots, one per polygon: the batch's points go into one arena,
    so that the many small polygons cross to the main process in the pack's shared memory, not one by one."""
    polygons = [p for sample in samples for p in sample]
    if not polygons:
        return None
    points = np.concatenate(polygons)
    out = allocator(points.shape, torch_dtype_for(meta, points.dtype))
    out[...] = points
    slot = allocator.slot(out)
    if slot is None:
        return None
    marker, arena, row, _ = slot
    ends = row + np.cumsum([len(p) for p in polygons])
    slots = iter(zip((ends - [len(p) for p in polygons]).tolist(), ends.tolist(), strict=True))
    return [[(marker, arena, start, end) for start, end in itertools.islice(slots, len(sample))] for sample in samples]


def polygons_to_torch(polygons: Sequence[np.ndarray], meta: TensorMeta) -> list[torch.Tensor]:
    """One polygon sample as a list of (points, dims) tensors."""
    return [torch.from_numpy(writable(p, torch_dtype_for(meta, p.dtype))) for p in polygons]


def writable(array: np.ndarray, dtype: np.dtype | None = None) -> np.ndarray:
    """``array`` as a contiguous, writable array of ``dtype`` (samples read straight from a chunk are read-only)."""
    out = np.ascontiguousarray(array, dtype=dtype)
    return out if out.flags.writeable else out.copy()


def pad_stack(values: Sequence[np.ndarray], name: str) -> np.ndarray:
    """Arrays of one ndim zero-padded at the end of each dimension to the largest, stacked into one batch."""
    if len({v.ndim for v in values}) > 1:
        raise DynamicShapeError(
            f"Samples of tensor {name!r} have different numbers of dimensions; they can't be padded."
        )
    shape = tuple(int(max(v.shape[d] for v in values)) for d in range(values[0].ndim))
    out = np.zeros((len(values), *shape), dtype=values[0].dtype)
    for i, v in enumerate(values):
        out[i][tuple(slice(0, d) for d in v.shape)] = v
    return out
