"""Packs: several batches sent from a worker as one message, their arrays carved from a few shared-memory tensors.

Each message between a DataLoader worker and the main process costs about a millisecond (queues, pickling, passing
a file descriptor per shared tensor), as much as gathering a batch of small raw samples. A worker therefore decodes
up to ``size`` batches straight into shared *arenas* (one per sample shape and dtype) and sends them as one pack;
the loader's main process cuts the arenas back into batches (views, no copy).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import torch

__all__ = ["ArenaAllocator", "PACK", "unpack", "pack_size"]

#: The key that marks a pack (a dict, so that DataLoader's pin_memory pins its tensors).
PACK = "__hub_pack__"
_SLOT = "__hub_slot__"
_PACK_BYTES = 8 * 2**20  # a pack's target size: messages of this size cost little next to their data


def pack_size(batch_bytes: int) -> int:
    """How many batches of about ``batch_bytes`` go in one pack (1 for big batches, at most 16)."""
    return max(1, min(16, _PACK_BYTES // max(1, batch_bytes)))


def _torch_dtype(dtype: np.dtype) -> torch.dtype:
    return torch.from_numpy(np.empty(0, dtype=dtype)).dtype


class ArenaAllocator:
    """Hands out batch arrays as rows of shared-memory arenas; ``slot(array)`` names where an array lies."""

    def __init__(self, rows: int, plain: frozenset[np.dtype] = frozenset()) -> None:
        self.rows = rows  # rows per arena: enough for a pack's batches of one tensor
        self.plain = plain  # dtypes converted after decoding anyway: not worth shared memory
        self.arenas: list[torch.Tensor] = []
        self._free: dict[tuple[tuple[int, ...], str], tuple[int, int]] = {}  # (shape, dtype) -> (arena, next row)
        # id -> (the view, its slot). The view is kept so that its id can't be reused by another array
        # (a stacked or converted batch) before the pack is sent, which would then pass for this slot.
        self._slots: dict[int, tuple[np.ndarray, tuple[str, int, int, int]]] = {}

    def __call__(self, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
        if dtype.hasobject or dtype in self.plain:
            return np.empty(shape, dtype=dtype)
        key = (tuple(shape[1:]), dtype.str)
        n = shape[0]
        arena, row = self._free.get(key, (-1, 0))
        if arena < 0 or row + n > self.arenas[arena].shape[0]:
            size = max(self.rows, n)
            nbytes = max(1, size * int(np.prod(shape[1:], dtype=np.int64)) * dtype.itemsize)
            storage = torch.UntypedStorage._new_shared(nbytes)  # type: ignore[no-untyped-call]
            tensor = torch.empty(0, dtype=_torch_dtype(dtype))
            tensor.set_(storage, 0, (size, *shape[1:]), _strides((size, *shape[1:])))
            self.arenas.append(tensor)
            arena, row = len(self.arenas) - 1, 0
        self._free[key] = (arena, row + n)
        view: np.ndarray = self.arenas[arena][row : row + n].numpy()
        self._slots[id(view)] = (view, (_SLOT, arena, row, row + n))
        return view

    def slot(self, array: np.ndarray) -> tuple[str, int, int, int] | None:
        """Where ``array`` lies, if this allocator made it."""
        entry = self._slots.get(id(array))
        return entry[1] if entry is not None and entry[0] is array else None

    def pack(self, batches: list[Any]) -> dict[str, Any]:
        """The message for ``batches`` (whose arrays from this allocator were replaced by their slots); resets."""
        message = {PACK: self.arenas, "batches": batches}
        self.arenas, self._free, self._slots = [], {}, {}
        return message


def unpack(item: Any) -> Iterator[Any]:
    """The batches of a pack (views of its arenas), or ``item`` itself if it is not one."""
    if not (isinstance(item, dict) and PACK in item):
        yield item
        return
    arenas = item[PACK]

    def resolve(value: Any) -> Any:
        if isinstance(value, tuple) and len(value) == 4 and value[0] == _SLOT:
            return arenas[value[1]][value[2] : value[3]]
        return value

    for batch in item["batches"]:
        if isinstance(batch, dict):
            yield {k: resolve(v) for k, v in batch.items()}
        else:
            yield tuple(resolve(v) for v in batch)


def _strides(shape: tuple[int, ...]) -> tuple[int, ...]:
    """C-order strides in elements."""
    strides = [1] * len(shape)
    for d in range(len(shape) - 2, -1, -1):
        strides[d] = strides[d + 1] * shape[d + 1]
    return tuple(strides)
