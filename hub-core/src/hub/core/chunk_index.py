"""The chunk index of one tensor: which chunk holds which range of global sample indices.

One entry per chunk, run-length by construction: entry ``k`` covers samples
``[end[k-1], end[k])`` and names chunk ``id[k]``. Lookups are binary searches, so memory and
time grow with the number of chunks, never with the number of samples.

Binary layout (little-endian)::

    0   4   magic b"HUBX"
    4   1   format major (1)
    5   1   format minor (0)
    6   2   reserved (0)
    8   8   u64 number of entries
    16  ... entries: (u64 end, u64 chunk id, u32 flags, u32 reserved) each
"""

from __future__ import annotations

import struct

import numpy as np

from hub.errors import CorruptChunkError, FormatVersionError

__all__ = ["ChunkIndex", "chunk_key", "ENTRY_DTYPE"]

MAGIC = b"HUBX"
MAJOR, MINOR = 1, 0
_FIXED = struct.Struct("<4sBBHQ")
ENTRY_DTYPE = np.dtype([("end", "<u8"), ("id", "<u8"), ("flags", "<u4"), ("reserved", "<u4")])


def chunk_key(tensor_id: str, chunk_id: int) -> str:
    """The storage key of a chunk."""
    return f"chunks/{tensor_id}/{chunk_id:016x}"


class ChunkIndex:
    """A growable array of (end, chunk id, flags) entries with binary-search lookup."""

    def __init__(self, entries: np.ndarray | None = None) -> None:
        self._entries = entries if entries is not None else np.zeros(0, dtype=ENTRY_DTYPE)
        self._size = len(self._entries)

    @property
    def entries(self) -> np.ndarray:
        return self._entries[: self._size]

    def __len__(self) -> int:
        return self._size

    @property
    def num_samples(self) -> int:
        return int(self._entries["end"][self._size - 1]) if self._size else 0

    def start_of(self, pos: int) -> int:
        """The first global sample index of entry ``pos``."""
        return int(self._entries["end"][pos - 1]) if pos > 0 else 0

    def chunk_id(self, pos: int) -> int:
        return int(self._entries["id"][pos])

    def locate(self, indices: np.ndarray) -> np.ndarray:
        """The entry position holding each global sample index."""
        return np.searchsorted(self._entries["end"][: self._size], indices, side="right")

    def append(self, chunk_id: int, count: int, flags: int = 0) -> None:
        if self._size == len(self._entries):
            grown = np.zeros(max(16, 2 * self._size), dtype=ENTRY_DTYPE)
            grown[: self._size] = self._entries[: self._size]
            self._entries = grown
        self._entries[self._size] = (self.num_samples + count, chunk_id, flags, 0)
        self._size += 1

    def grow_last(self, count: int) -> None:
        """Add ``count`` samples to the last entry's range."""
        self._entries["end"][self._size - 1] += count

    def set_id(self, pos: int, chunk_id: int) -> None:
        self._entries["id"][pos] = chunk_id

    def truncate(self, num_samples: int) -> None:
        """Drop every sample from ``num_samples`` on (entries past it vanish, the last one shrinks)."""
        if num_samples == 0:
            self._size = 0
            return
        pos = int(self.locate(np.asarray([num_samples - 1]))[0])
        self._size = pos + 1
        self._entries["end"][pos] = num_samples

    def drop_sample(self, pos: int) -> None:
        """One sample fewer in entry ``pos`` (later entries shift down); an emptied entry vanishes."""
        ends = self._entries["end"]
        ends[pos : self._size] -= 1
        if ends[pos] == self.start_of(pos):
            self._entries[pos : self._size - 1] = self._entries[pos + 1 : self._size].copy()
            self._size -= 1

    def copy(self) -> ChunkIndex:
        return ChunkIndex(self.entries.copy())

    def tobytes(self) -> bytes:
        return _FIXED.pack(MAGIC, MAJOR, MINOR, 0, self._size) + self.entries.tobytes()

    @classmethod
    def frombytes(cls, data: bytes, key: str = "") -> ChunkIndex:
        if len(data) < _FIXED.size:
            raise CorruptChunkError(f"Chunk index {key!r} is truncated.")
        magic, major, _minor, _reserved, count = _FIXED.unpack_from(data)
        if magic != MAGIC:
            raise CorruptChunkError(f"Object {key!r} is not a hub chunk index.")
        if major != MAJOR:
            raise FormatVersionError(
                f"Chunk index {key!r} uses format {major}.x; this hub reads {MAJOR}.x. Upgrade hub-core to read it."
            )
        if len(data) != _FIXED.size + count * ENTRY_DTYPE.itemsize:
            raise CorruptChunkError(f"Chunk index {key!r} has the wrong size for its {count} entries.")
        entries = np.frombuffer(data, dtype=ENTRY_DTYPE, offset=_FIXED.size).copy()
        return cls(entries)
