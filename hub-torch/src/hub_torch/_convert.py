"""Turns decoded hub batches into torch values: shared-memory batch tensors, widened dtypes, int64 labels, padding."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from hub.core.meta import TensorMeta
from hub.errors import DynamicShapeError

__all__ = ["SharedAllocator", "torch_dtype_for", "to_torch", "pad_stack", "writable"]

#: numpy dtypes torch can't hold (or can barely compute with), and the dtype that holds all their values.
_WIDER: dict[np.dtype, np.dtype] = {
    np.dtype("uint16"): np.dtype("int32"),
    np.dtype("uint32"): np.dtype("int64"),
    np.dtype("uint64"): np.dtype("int64"),
}


def torch_dtype_for(meta: TensorMeta, dtype: np.dtype) -> np.dtype:
    """The numpy dtype a tensor's values are handed to torch in: class labels as int64, unsigned types widened."""
    if meta.htype == "class_label":
        return np.dtype("int64")
    wider: np.dtype = _WIDER.get(dtype, dtype)
    return wider


class SharedAllocator:
    """Makes batch arrays that are numpy views of torch shared-memory tensors, so batches cross processes uncopied."""

    def __init__(self) -> None:
        self._tensors: dict[int, torch.Tensor] = {}

    def __call__(self, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
        if dtype in _WIDER or dtype == np.dtype(object):
            return np.empty(shape, dtype=dtype)  # converted later anyway
        nbytes = max(1, int(np.prod(shape)) * dtype.itemsize)
        # Allocated in shared memory from the start: a batch sent to the main process is then not copied.
        storage = torch.UntypedStorage._new_shared(nbytes)  # type: ignore[no-untyped-call]
        tensor = torch.empty(0, dtype=torch.from_numpy(np.empty(0, dtype=dtype)).dtype)
        tensor.set_(storage, 0, shape, _strides(shape))
        array: np.ndarray = tensor.numpy()
        self._tensors[id(array)] = tensor
        return array

    def claim(self, array: np.ndarray) -> torch.Tensor | None:
        """The shared tensor behind ``array`` if this allocator made it (and forget it)."""
        return self._tensors.pop(id(array), None)

    def clear(self) -> None:
        self._tensors.clear()


def _strides(shape: tuple[int, ...]) -> tuple[int, ...]:
    """C-order strides in elements."""
    strides = [1] * len(shape)
    for d in range(len(shape) - 2, -1, -1):
        strides[d] = strides[d + 1] * shape[d + 1]
    return tuple(strides)


def to_torch(value: Any, meta: TensorMeta, allocator: SharedAllocator | None = None) -> Any:
    """One tensor's batch as torch: arrays become tensors (dtype widened), lists of objects stay lists."""
    if isinstance(value, np.ndarray):
        if allocator is not None:
            shared = allocator.claim(value)
            if shared is not None and torch_dtype_for(meta, value.dtype) == value.dtype:
                return shared
        return torch.from_numpy(writable(value, torch_dtype_for(meta, value.dtype)))
    if isinstance(value, list) and value and isinstance(value[0], np.ndarray):
        return [torch.from_numpy(writable(v, torch_dtype_for(meta, v.dtype))) for v in value]
    return value


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
