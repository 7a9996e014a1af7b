"""Packs: several batches sent from a worker as one message, their arrays carved from a few shared-memory tensors.

Each message between a DataLoader worker and the main process costs about a millisecond (queues, pickling, passing
a file descriptor per shared tensor), as much as gathering a batch of small raw samples. A worker therefore decodes
up to ``size`` batches straight into shared *arenas* (one per sample shape and dtype) and sends them as one pack;
the loader's main process cuts the arenas back into batches (views, no copy).

Arenas are recycled, and made by the main process where it can. A fresh page of shared memory costs the kernel
far more than the decode that fills it (on 256x256 JPEGs, fresh arenas halved a worker's throughput), so each
worker keeps its arenas in numbered *slots*.
The main process keeps every slot's arena mapped, and once nothing outside it still references an arena (the
storage's use count is back to what its own reference holds: every view, numpy array or pinned copy the user
kept counts), it marks the slot free in a small shared table of flags; the worker then decodes its next batches
into that arena again, and sends only the slot's number instead of a file descriptor. For tensors of one fixed
shape, the main process makes each worker's first arenas itself before the workers start: they inherit them (fork)
or receive them once at start (spawn), so no pack ever passes a file descriptor, which costs a few milliseconds of
handshake with a busy worker and made the first batch wait.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

__all__ = ["ArenaAllocator", "ArenaReturns", "PACK", "SLOTS", "unpack", "pack_size", "slot_flags"]

#: The key that marks a pack (a dict, so that DataLoader's pin_memory pins its tensors).
PACK = "__hub_pack__"
_SLOT = "__hub_slot__"
_ARENA = "__hub_arena__"
_PACK_BYTES = 8 * 2**20  # a pack's target size: messages of this size cost little next to their data
#: Recycled arenas per worker: packs in flight (prefetch) plus those the user still holds, with room to spare.
SLOTS = 16
_FREE, _BUSY = 0, 1


def pack_size(batch_bytes: int) -> int:
    """How many batches of about ``batch_bytes`` go in one pack (1 for big batches, at most 16)."""
    return max(1, min(16, _PACK_BYTES // max(1, batch_bytes)))


def slot_flags(num_workers: int) -> torch.Tensor:
    """The shared table of the workers' slots (made in the main process before they start): per worker and slot,
    its flag (free or busy) and the number of the last pack of it the main process took."""
    table = torch.zeros((num_workers, 2, SLOTS), dtype=torch.int64)
    table[:, 1] = -1
    table.share_memory_()  # type: ignore[no-untyped-call]
    return table


Key = tuple[tuple[int, ...], str]  # an arena's sample shape and dtype
#: What the main process makes for a worker before it starts: (slot, key, arena) triples.
Premade = list[tuple[int, Key, torch.Tensor]]


def premade_arenas(
    keys: list[tuple[tuple[int, ...], np.dtype]], rows: int, per_key: int, num_workers: int
) -> list[Premade]:
    """Each worker's first ``per_key`` arenas of ``rows`` samples for each of ``keys`` (repeated keys get more)."""
    out: list[Premade] = []
    for _ in range(num_workers):
        made: Premade = []
        for tail, dtype in keys:
            for _ in range(per_key):
                if len(made) < SLOTS:
                    made.append((len(made), (tail, dtype.str), _new_arena(rows, tail, dtype)))
        out.append(made)
    return out


def _use_count(tensor: torch.Tensor) -> int:
    count: int = torch._C._storage_Use_Count(tensor.untyped_storage()._cdata)
    return count


#: Whether this torch tells how many references a storage has; without it, arenas are not recycled.
RECYCLES = hasattr(torch._C, "_storage_Use_Count")


def _torch_dtype(dtype: np.dtype) -> torch.dtype:
    return torch.from_numpy(np.empty(0, dtype=dtype)).dtype


def _shared_storage(nbytes: int) -> torch.UntypedStorage:
    """Shared memory whose pages are allocated as they are first written.

    torch's own shared storages allocate every page up front (a few ms per batch-sized arena, which made the
    first batch wait) in ``/dev/shm``, which containers often keep small; a memfd is in neither case.
    """
    if not hasattr(os, "memfd_create"):
        storage: torch.UntypedStorage = torch.UntypedStorage._new_shared(nbytes)  # type: ignore[no-untyped-call]
        return storage
    fd = os.memfd_create("hub-arena", os.MFD_CLOEXEC)
    try:
        os.ftruncate(fd, nbytes)
        # Maps its own duplicate of fd (torch's way of receiving a shared storage from another process).
        storage = torch.UntypedStorage._new_shared_fd_cpu(fd, nbytes)  # type: ignore[attr-defined]
    finally:
        os.close(fd)
    return storage


def _new_arena(rows: int, tail: tuple[int, ...], dtype: np.dtype) -> torch.Tensor:
    nbytes = max(1, rows * int(np.prod(tail, dtype=np.int64)) * dtype.itemsize)
    storage = _shared_storage(nbytes)
    tensor = torch.empty(0, dtype=_torch_dtype(dtype))
    tensor.set_(storage, 0, (rows, *tail), _strides((rows, *tail)))
    return tensor


@dataclass
class _Slot:
    key: Key
    arena: torch.Tensor
    generation: int
    sent: int = -1  # the generation the main process has mapped
    packed: int = -1  # the number of the last pack that used it


class ArenaAllocator:
    """Hands out batch arrays as rows of shared-memory arenas; ``slot(array)`` names where an array lies.

    With ``flags`` (this worker's row of :func:`slot_flags`), arenas are taken from recycled slots when the main
    process has freed them; ``resend`` sends a recycled arena's file descriptor with every pack (needed when the
    main process only sees pinned copies of the arenas).
    """

    def __init__(
        self,
        rows: int,
        plain: frozenset[np.dtype] = frozenset(),
        flags: torch.Tensor | None = None,
        worker: int = 0,
        resend: bool = False,
        premade: Premade = (),  # type: ignore[assignment]
    ) -> None:
        self.rows = rows  # rows per arena: enough for a pack's batches of one tensor
        self.plain = plain  # dtypes converted after decoding anyway: not worth shared memory
        self.worker = worker
        self.resend = resend
        table = flags.numpy() if flags is not None and RECYCLES else None
        self._flags = table[:, 0] if table is not None else None
        self._taken = table[:, 1] if table is not None else None
        self._packs = 0  # packs sent so far
        self._slots: list[_Slot | None] = [None] * SLOTS
        for number, key, arena in premade if self._flags is not None else ():
            self._slots[number] = _Slot(key, arena, 0, sent=0)  # the main process made it, so it has it mapped
        # This pack's arenas: (tensor, slot number or -1 for a one-off arena, next free row).
        self.arenas: list[list[Any]] = []
        self._open: dict[Key, int] = {}  # key -> index in arenas
        # id -> (the view, its slot). The view is kept so that its id can't be reused by another array
        # (a stacked or converted batch) before the pack is sent, which would then pass for this slot.
        self._views: dict[int, tuple[np.ndarray, tuple[str, int, int, int]]] = {}

    def __call__(self, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
        if dtype.hasobject or dtype in self.plain:
            return np.empty(shape, dtype=dtype)
        key = (tuple(shape[1:]), dtype.str)
        n = shape[0]
        index = self._open.get(key)
        if index is None or self.arenas[index][2] + n > self.arenas[index][0].shape[0]:
            self.arenas.append([*self._take(key, max(self.rows, n), dtype), 0])
            index = self._open[key] = len(self.arenas) - 1
        arena, _, row = self.arenas[index]
        self.arenas[index][2] = row + n
        view: np.ndarray = arena[row : row + n].numpy()
        self._views[id(view)] = (view, (_SLOT, index, row, row + n))
        return view

    def _take(self, key: Key, rows: int, dtype: np.dtype) -> tuple[torch.Tensor, int]:
        """An arena for ``rows`` samples of ``key``: a freed slot's, a new one in a free slot, or a one-off."""
        if self._flags is None:
            return _new_arena(rows, key[0], dtype), -1
        in_pack = {number for _, number, _ in self.arenas}
        free = [s for s in range(SLOTS) if self._flags[self.worker, s] == _FREE and s not in in_pack]
        for s in free:
            slot = self._slots[s]
            if slot is not None and slot.key == key and slot.arena.shape[0] >= rows:
                return slot.arena, s
        if not free:  # the user holds on to many batches: they keep their arenas, and this one is new
            return _new_arena(rows, key[0], dtype), -1
        s = next((s for s in free if self._slots[s] is None), free[0])
        old = self._slots[s]
        self._slots[s] = _Slot(key, _new_arena(rows, key[0], dtype), 0 if old is None else old.generation + 1)
        return self._slots[s].arena, s  # type: ignore[union-attr]

    def restart(self) -> None:
        """Start a new epoch of persistent workers: drop a pack left unfinished, and free the slots of packs that the
        main process never took (it drops what the workers sent for an epoch it left early)."""
        self.arenas, self._open, self._views = [], {}, {}
        if self._flags is None or self._taken is None:
            return
        for number, slot in enumerate(self._slots):
            busy = slot is not None and self._flags[self.worker, number] == _BUSY
            if busy and slot.packed > self._taken[self.worker, number]:  # type: ignore[union-attr]
                self._flags[self.worker, number] = _FREE

    def slot(self, array: np.ndarray) -> tuple[str, int, int, int] | None:
        """Where ``array`` lies, if this allocator made it."""
        entry = self._views.get(id(array))
        return entry[1] if entry is not None and entry[0] is array else None

    def pack(self, batches: list[Any]) -> dict[str, Any]:
        """The message for ``batches`` (whose arrays from this allocator were replaced by their slots); resets."""
        arenas: list[Any] = []
        for arena, number, _ in self.arenas:
            slot = self._slots[number] if number >= 0 else None
            if slot is None or self._flags is None:
                arenas.append(arena)
                continue
            self._flags[self.worker, number] = _BUSY
            send = self.resend or slot.sent != slot.generation
            arenas.append((_ARENA, self.worker, number, slot.generation, self._packs, arena if send else None))
            slot.sent = slot.generation
            slot.packed = self._packs
        message = {PACK: arenas, "batches": batches}
        self.arenas, self._open, self._views = [], {}, {}
        self._packs += 1
        return message


class ArenaReturns:
    """The main process's side of recycling: keeps each slot's arena mapped and frees the slots nothing uses."""

    def __init__(self, flags: torch.Tensor, premade: list[Premade] | None = None) -> None:
        self.flags = flags
        self.premade = premade or [[] for _ in range(flags.shape[0])]
        self._flags = flags.numpy()[:, 0]
        self._taken = flags.numpy()[:, 1]
        self._mapped: dict[tuple[int, int], tuple[int, torch.Tensor]] = {  # (worker, slot) -> (generation, arena)
            (worker, number): (0, arena) for worker, made in enumerate(self.premade) for number, _, arena in made
        }
        self._busy: set[tuple[int, int]] = set()
        self._alone = _use_count(torch.empty(1))  # the count of an arena held by one tensor only

    def resolve(self, entry: tuple[str, int, int, int, int, torch.Tensor | None]) -> torch.Tensor:
        """The arena a pack's entry names (mapping it if it came with the pack)."""
        _, worker, number, generation, pack, arena = entry
        self._taken[worker, number] = pack
        if arena is not None:
            self._mapped[(worker, number)] = (generation, arena)
        mapped_generation, mapped = self._mapped[(worker, number)]
        if mapped_generation != generation:
            raise RuntimeError(f"worker {worker} reused arena slot {number} the loader had not mapped")
        self._busy.add((worker, number))
        return mapped

    def release(self) -> None:
        """Free every busy slot whose arena nothing but this object references any more."""
        for key in list(self._busy):
            if _use_count(self._mapped[key][1]) <= self._alone:
                self._busy.discard(key)
                self._flags[key] = _FREE


def unpack(item: Any, returns: ArenaReturns | None = None) -> Iterator[Any]:
    """The batches of a pack (views of its arenas), or ``item`` itself if it is not one."""
    if not (isinstance(item, dict) and PACK in item):
        yield item
        return
    arenas = [
        returns.resolve(a) if returns is not None and isinstance(a, tuple) and a[0] == _ARENA else a for a in item[PACK]
    ]

    def resolve(value: Any) -> Any:
        if isinstance(value, tuple) and len(value) == 4 and value[0] == _SLOT:
            return arenas[value[1]][value[2] : value[3]]
        if isinstance(value, list) and value and isinstance(value[0], (list, tuple)):
            return [resolve(v) for v in value]  # a batch of polygon samples: a list of slots per sample
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
