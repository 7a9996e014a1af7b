"""A chunk: the self-describing binary object that holds a run of samples of one tensor.

Layout (little-endian; ``docs/format.md`` is the normative spec)::

    offset  size  field
    0       4     magic b"HUBC"
    4       1     format major (1)
    5       1     format minor (0)
    6       1     flags: bit 0 = body compressed with lz4 (chunk_compression="lz4")
    7       1     ndim of every sample
    8       4     u32 number of samples
    12      4     u32 number of shape runs
    16      4     u32 number of byte runs
    20      4     u32 header size in bytes (where the body starts)
    24      8     u64 body size in bytes, uncompressed
    32      ...   shape runs: u32[runs, 1 + ndim] = (count, dim0, dim1, ...)
    ...     ...   byte runs:  u64[runs, 3]        = (count, first offset, bytes per sample)
    header  ...   body: the samples' bytes back to back (lz4 frame of them if flag bit 0)

Runs are run-length encodings: ``count`` consecutive samples share a shape; ``count``
consecutive samples share a byte size and lie back to back from ``first offset``. A batch
of equal-shape raw samples is therefore one run of each, and reads as one numpy view.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from hub.errors import CorruptChunkError, FormatVersionError

__all__ = [
    "ChunkHeader",
    "ChunkBuilder",
    "parse_header",
    "short_chunk_error",
    "header_size",
    "read_chunk",
    "HEADER_PROBE",
    "MAGIC",
]

MAGIC = b"HUBC"
MAJOR, MINOR = 1, 0
FLAG_LZ4 = 1
_FIXED = struct.Struct("<4sBBBBIIIIQ")
#: Bytes to read speculatively when only a chunk's header is wanted.
HEADER_PROBE = 64 * 1024


@dataclass(frozen=True)
class ChunkHeader:
    """A parsed chunk header: where each sample lies in the body and what shape it has."""

    ndim: int
    num_samples: int
    flags: int
    header_nbytes: int
    body_nbytes: int
    shape_runs: np.ndarray  # u32 (runs, 1 + ndim)
    byte_runs: np.ndarray  # u64 (runs, 3)
    _shape_ends: np.ndarray = field(repr=False, compare=False)
    _byte_ends: np.ndarray = field(repr=False, compare=False)
    key: str = field(default="", compare=False)  # the chunk's storage key, for error messages

    def _check(self, low: int, high: int) -> None:
        """Raise CorruptChunkError unless samples ``low`` to ``high`` (inclusive) lie in this chunk: a chunk index
        that places more samples in a chunk than it holds names a damaged or foreign chunk."""
        if low < 0 or high >= self.num_samples:
            raise short_chunk_error(self.key, self.num_samples, low if low < 0 else high)

    @property
    def lz4(self) -> bool:
        return bool(self.flags & FLAG_LZ4)

    def shape(self, i: int) -> tuple[int, ...]:
        self._check(i, i)
        run = int(np.searchsorted(self._shape_ends, i, side="right"))
        return tuple(int(d) for d in self.shape_runs[run, 1:])

    def shapes(self) -> np.ndarray:
        """Every sample's shape as an int64 array (num_samples, ndim)."""
        return np.repeat(self.shape_runs[:, 1:].astype(np.int64), self.shape_runs[:, 0].astype(np.int64), axis=0)

    def byte_span(self, i: int) -> tuple[int, int]:
        """Body offsets [start, end) of sample ``i``."""
        self._check(i, i)
        run = int(np.searchsorted(self._byte_ends, i, side="right"))
        count, first, size = (int(v) for v in self.byte_runs[run])
        before = int(self._byte_ends[run]) - count
        start = first + (i - before) * size
        return start, start + size

    def byte_spans(self, samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Body offsets (starts, ends) of samples ``samples`` (an int array), with no Python loop per sample."""
        if len(samples):
            self._check(int(samples.min()), int(samples.max()))
        run = np.searchsorted(self._byte_ends, samples, side="right")
        count, first, size = (self.byte_runs[run, k].astype(np.int64) for k in range(3))
        starts = first + (samples - (self._byte_ends[run].astype(np.int64) - count)) * size
        return starts, starts + size

    def shapes_of(self, samples: np.ndarray) -> list[tuple[int, ...]]:
        """The shapes of samples ``samples`` (an int array), looked up with no Python loop per run."""
        if len(samples):
            self._check(int(samples.min()), int(samples.max()))
        run = np.searchsorted(self._shape_ends, samples, side="right")
        return list(map(tuple, self.shape_runs[run, 1:].astype(np.int64).tolist()))

    @cached_property
    def uniform(self) -> tuple[int, int, tuple[int, ...]] | None:
        """(body start, body end, shape) if all the chunk's samples share a shape and lie back to back, else None.

        Computed once per parsed header: loaders gather raw samples from a whole-chunk view, a copy per chunk run.
        """
        return self.uniform_span(0, self.num_samples) if self.num_samples else None

    def uniform_span(self, start: int, stop: int) -> tuple[int, int, tuple[int, ...]] | None:
        """(body start, body end, shape) if samples [start, stop) share a shape and lie back to back."""
        self._check(start, stop - 1)
        srun = int(np.searchsorted(self._shape_ends, start, side="right"))
        if int(self._shape_ends[srun]) < stop:
            return None
        brun = int(np.searchsorted(self._byte_ends, start, side="right"))
        if int(self._byte_ends[brun]) < stop:
            return None
        count, first, size = (int(v) for v in self.byte_runs[brun])
        before = int(self._byte_ends[brun]) - count
        begin = first + (start - before) * size
        return begin, begin + (stop - start) * size, tuple(int(d) for d in self.shape_runs[srun, 1:])


def header_size(data: bytes | memoryview, key: str = "") -> int:
    """The size of a chunk's header, read from its first 32 bytes."""
    where = f" {key!r}" if key else ""
    if len(data) < _FIXED.size or bytes(data[:4]) != MAGIC:
        raise CorruptChunkError(f"Object{where} is not a hub chunk or is truncated.")
    return int(_FIXED.unpack_from(data)[8])


def short_chunk_error(key: str, held: int, placed: int, tensor: str = "") -> CorruptChunkError:
    """The error for chunk ``key`` holding ``held`` samples where its tensor's chunk index places sample ``placed``."""
    where = f" {key!r}" if key else ""
    of = f" of tensor {tensor!r}" if tensor else ""
    return CorruptChunkError(
        f"Chunk{where}{of} holds {held} samples, but the tensor's chunk index places sample {placed} in it."
    )


def parse_header(data: bytes | bytearray | memoryview, key: str = "") -> ChunkHeader:
    """Parse a chunk header from the chunk's first bytes (at least ``header_nbytes`` of them)."""
    where = f" {key!r}" if key else ""
    if len(data) < _FIXED.size:
        raise CorruptChunkError(f"Chunk{where} is truncated: {len(data)} bytes, less than its fixed header.")
    magic, major, _minor, flags, ndim, n, n_shape, n_byte, header_nbytes, body_nbytes = _FIXED.unpack_from(data)
    if magic != MAGIC:
        raise CorruptChunkError(f"Object{where} is not a hub chunk (magic {magic!r}).")
    if major != MAJOR:
        raise FormatVersionError(
            f"Chunk{where} uses chunk format {major}.x; this hub reads {MAJOR}.x. Upgrade hub-core to read it."
        )
    if len(data) < header_nbytes:
        raise CorruptChunkError(f"Chunk{where} is truncated inside its header.")
    pos = _FIXED.size
    shape_runs = np.frombuffer(data, dtype="<u4", count=n_shape * (1 + ndim), offset=pos).reshape(n_shape, 1 + ndim)
    pos += shape_runs.nbytes
    byte_runs = np.frombuffer(data, dtype="<u8", count=n_byte * 3, offset=pos).reshape(n_byte, 3)
    shape_ends = np.cumsum(shape_runs[:, 0], dtype=np.int64)
    byte_ends = np.cumsum(byte_runs[:, 0], dtype=np.int64)
    if (n_shape and shape_ends[-1] != n) or (n_byte and byte_ends[-1] != n) or (n and not (n_shape and n_byte)):
        raise CorruptChunkError(f"Chunk{where} has a header whose runs do not add up to its {n} samples.")
    return ChunkHeader(ndim, n, flags, header_nbytes, body_nbytes, shape_runs, byte_runs, shape_ends, byte_ends, key)


def read_chunk(data: bytes | bytearray | memoryview, key: str = "") -> tuple[ChunkHeader, memoryview]:
    """A whole chunk's parsed header and its body, decompressed if the chunk is lz4-compressed."""
    header = parse_header(data, key)
    raw = memoryview(data)[header.header_nbytes :]
    if header.lz4:
        from hub.compression import decompress_bytes

        raw = memoryview(decompress_bytes("lz4", bytes(raw)))
    if len(raw) != header.body_nbytes:
        raise CorruptChunkError(f"Chunk {key!r} has {len(raw)} body bytes, its header says {header.body_nbytes}.")
    return header, raw


class ChunkBuilder:
    """An open chunk being filled with samples; serializes itself with :meth:`tobytes`.

    Also rebuilt from an existing chunk's bytes to append to it (the open tail chunk).
    """

    def __init__(self, ndim: int) -> None:
        self.ndim = ndim
        self.body = bytearray()
        self._borrowed: memoryview | None = None  # see borrowing()
        self.shape_runs: list[list[int]] = []  # [count, *shape]
        self.byte_runs: list[list[int]] = []  # [count, first offset, size]
        self.num_samples = 0

    @classmethod
    def from_chunk(cls, header: ChunkHeader, body: bytes) -> ChunkBuilder:
        builder = cls(header.ndim)
        builder.body = bytearray(body)
        builder.shape_runs = header.shape_runs.astype(np.int64).tolist()
        builder.byte_runs = header.byte_runs.astype(np.int64).tolist()
        builder.num_samples = header.num_samples
        return builder

    @classmethod
    def borrowing(cls, data: memoryview, shape: tuple[int, ...], count: int) -> ChunkBuilder:
        """A chunk of ``count`` samples of one shape that refers to ``data`` instead of copying it.

        For writing at once (:meth:`parts`): nothing may be added to it, and ``data`` must not change
        before it is written.
        """
        builder = cls(len(shape))
        builder._borrowed = data
        builder.shape_runs = [[count, *shape]]
        builder.byte_runs = [[count, 0, len(data) // count if count else 0]]
        builder.num_samples = count
        return builder

    @property
    def nbytes(self) -> int:
        return len(self.body) if self._borrowed is None else len(self._borrowed)

    def add(self, data: bytes | memoryview, shape: tuple[int, ...], count: int = 1) -> None:
        """Append ``count`` samples of one ``shape`` whose bytes lie back to back in ``data``."""
        if count == 0:
            return
        assert self._borrowed is None, "a borrowing chunk is written as it is"
        size = len(data) // count
        offset = len(self.body)
        self.body += data
        if self.shape_runs and tuple(self.shape_runs[-1][1:]) == shape:
            self.shape_runs[-1][0] += count
        else:
            self.shape_runs.append([count, *shape])
        last = self.byte_runs[-1] if self.byte_runs else None
        if last is not None and last[2] == size and last[1] + last[0] * size == offset:
            last[0] += count
        else:
            self.byte_runs.append([count, offset, size])
        self.num_samples += count

    def add_range(self, header: ChunkHeader, body: bytes | memoryview, start: int, stop: int) -> None:
        """Append samples [start, stop) of another chunk, one :meth:`add` per run rather than per sample."""
        while start < stop:
            srun = int(np.searchsorted(header._shape_ends, start, side="right"))
            brun = int(np.searchsorted(header._byte_ends, start, side="right"))
            end = min(stop, int(header._shape_ends[srun]), int(header._byte_ends[brun]))
            count, first, size = (int(v) for v in header.byte_runs[brun])
            begin = first + (start - (int(header._byte_ends[brun]) - count)) * size
            shape = tuple(int(d) for d in header.shape_runs[srun, 1:])
            self.add(body[begin : begin + (end - start) * size], shape, end - start)
            start = end

    def truncate(self, num_samples: int) -> None:
        """Keep only the first ``num_samples`` samples."""
        if num_samples >= self.num_samples:
            return
        for runs in (self.shape_runs, self.byte_runs):
            total = 0
            for k, run in enumerate(runs):
                if total + run[0] >= num_samples:
                    run[0] = num_samples - total
                    del runs[k + 1 :]
                    if run[0] == 0:
                        del runs[k]
                    break
                total += run[0]
        if self.byte_runs:
            count, first, size = self.byte_runs[-1]
            del self.body[first + count * size :]
        else:
            self.body.clear()
        self.num_samples = num_samples

    def tobytes(self, lz4: bool = False) -> bytes:
        return b"".join(self.parts(lz4))

    def parts(self, lz4: bool = False) -> list[bytes | bytearray | memoryview]:
        """The serialized chunk as pieces to write one after another: the header, then the body (not copied)."""
        shape_runs = np.asarray(self.shape_runs, dtype="<u4").reshape(-1, 1 + self.ndim)
        byte_runs = np.asarray(self.byte_runs, dtype="<u8").reshape(-1, 3)
        header_nbytes = _FIXED.size + shape_runs.nbytes + byte_runs.nbytes
        body: bytes | bytearray | memoryview = self.body if self._borrowed is None else self._borrowed
        if lz4:
            from hub.compression import compress_bytes

            body = compress_bytes("lz4", body)
        fixed = _FIXED.pack(
            MAGIC,
            MAJOR,
            MINOR,
            FLAG_LZ4 if lz4 else 0,
            self.ndim,
            self.num_samples,
            len(shape_runs),
            len(byte_runs),
            header_nbytes,
            self.nbytes,
        )
        return [fixed + shape_runs.tobytes() + byte_runs.tobytes(), body]
