"""Tiling: a sample larger than a chunk is cut into a grid of tiles, each stored as a chunk of its own.

A tiled sample's chunk-index entry has flag :data:`TILED` and names a *tile manifest*
instead of a chunk. Little-endian layout::

    0   4   magic b"HUBT"
    4   1   format major (1)
    5   1   format minor (0)
    6   1   ndim
    7   1   reserved (0)
    8   ... u64[ndim] sample shape, u64[ndim] tile shape, u64[number of tiles] tile chunk ids

Tiles are listed in C order of the tile grid; edge tiles are smaller. Each tile chunk holds
one sample: the tile, raw or encoded with the tensor's sample compression.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from itertools import product
from typing import Any

import numpy as np

from hub.errors import CorruptChunkError, FormatVersionError

__all__ = ["TILED", "TiledSample", "TileManifest", "choose_tile_shape", "cut_tiles", "region_of"]

TILED = 1
MAGIC = b"HUBT"
MAJOR, MINOR = 1, 0
_FIXED = struct.Struct("<4sBBBB")


@dataclass
class TiledSample:
    """An encoded sample cut into tiles: its shape, the tile shape and each tile's stored bytes."""

    shape: tuple[int, ...]
    tile_shape: tuple[int, ...]
    tiles: list[bytes]


@dataclass
class TileManifest:
    """Where the tiles of one tiled sample live."""

    shape: tuple[int, ...]
    tile_shape: tuple[int, ...]
    tile_ids: list[int]

    @property
    def grid(self) -> tuple[int, ...]:
        return tuple(math.ceil(s / t) if t else 1 for s, t in zip(self.shape, self.tile_shape, strict=True))

    def tile_box(self, coords: Sequence[int]) -> tuple[slice, ...]:
        """The region of the sample the tile at grid ``coords`` covers."""
        return tuple(
            slice(c * t, min((c + 1) * t, s)) for c, t, s in zip(coords, self.tile_shape, self.shape, strict=True)
        )

    def tobytes(self) -> bytes:
        ndim = len(self.shape)
        head = _FIXED.pack(MAGIC, MAJOR, MINOR, ndim, 0)
        return head + np.asarray([*self.shape, *self.tile_shape, *self.tile_ids], dtype="<u8").tobytes()

    @classmethod
    def frombytes(cls, data: bytes, key: str = "") -> TileManifest:
        if len(data) < _FIXED.size:
            raise CorruptChunkError(f"Tile manifest {key!r} is truncated.")
        magic, major, _minor, ndim, _ = _FIXED.unpack_from(data)
        if magic != MAGIC:
            raise CorruptChunkError(f"Object {key!r} is not a tile manifest.")
        if major != MAJOR:
            raise FormatVersionError(f"Tile manifest {key!r} uses format {major}.x; upgrade hub-core to read it.")
        values = np.frombuffer(data, dtype="<u8", offset=_FIXED.size).tolist()
        shape, tile_shape, ids = values[:ndim], values[ndim : 2 * ndim], values[2 * ndim :]
        manifest = cls(tuple(shape), tuple(tile_shape), ids)
        if len(ids) != math.prod(manifest.grid):
            raise CorruptChunkError(f"Tile manifest {key!r} lists {len(ids)} tiles for a grid of {manifest.grid}.")
        return manifest


def choose_tile_shape(shape: tuple[int, ...], itemsize: int, max_bytes: int) -> tuple[int, ...]:
    """Halve the largest dimension until a tile's raw size fits ``max_bytes``.

    For HxWxC-like samples the last (channel) dimension is kept whole when it is small.
    """
    tile = list(shape)
    keep_last = len(shape) >= 3 and shape[-1] <= 4
    cut = range(len(shape) - 1) if keep_last else range(len(shape))
    while math.prod(tile) * itemsize > max_bytes:
        d = max(cut, key=lambda i: tile[i])
        if tile[d] <= 1:
            break
        tile[d] = math.ceil(tile[d] / 2)
    return tuple(tile)


def cut_tiles(array: np.ndarray, tile_shape: tuple[int, ...]) -> Iterator[np.ndarray]:
    """The tiles of ``array`` in C order of the tile grid."""
    manifest = TileManifest(tuple(array.shape), tile_shape, [])
    for coords in product(*(range(g) for g in manifest.grid)):
        yield np.ascontiguousarray(array[manifest.tile_box(coords)])


def region_of(subscript: tuple[Any, ...], shape: tuple[int, ...]) -> tuple[list[tuple[int, int]], list[Any]]:
    """The bounding box a subscript touches, per dimension, and the subscript relative to that box.

    Returns ``(bounds, picks)``: ``bounds[d] = (lo, hi)``; ``picks[d]`` is an int or an index array
    to apply to the box along dimension ``d``.
    """
    bounds: list[tuple[int, int]] = []
    picks: list[Any] = []
    for d, n in enumerate(shape):
        entry = subscript[d] if d < len(subscript) else slice(None)
        if isinstance(entry, slice):
            idx = np.arange(*entry.indices(n))
            lo, hi = (int(idx.min()), int(idx.max()) + 1) if idx.size else (0, 0)
            bounds.append((lo, hi))
            picks.append(idx - lo)
        else:
            i = int(entry)
            if not -n <= i < n:
                raise IndexError(f"index {i} is out of bounds for a dimension of size {n}")
            i %= n
            bounds.append((i, i + 1))
            picks.append(0)
    return bounds, picks


def assemble(
    manifest: TileManifest,
    subscript: tuple[Any, ...],
    fetch: Callable[[list[int]], dict[int, np.ndarray]],
    dtype: np.dtype,
) -> np.ndarray:
    """``sample[subscript]`` of a tiled sample, fetching (through ``fetch``) only the tiles it touches."""
    bounds, picks = region_of(subscript, manifest.shape)
    box = np.zeros([hi - lo for lo, hi in bounds], dtype=dtype)
    if box.size:
        ranges = [range(lo // t, (hi - 1) // t + 1) for (lo, hi), t in zip(bounds, manifest.tile_shape, strict=True)]
        grid = manifest.grid
        wanted = {}
        for coords in product(*ranges):
            flat = int(np.ravel_multi_index(coords, grid))
            wanted[flat] = coords
        tiles = fetch([manifest.tile_ids[f] for f in wanted])
        for flat, coords in wanted.items():
            tile = tiles[manifest.tile_ids[flat]]
            tbox = manifest.tile_box(coords)
            src, dst = [], []
            for (lo, hi), s in zip(bounds, tbox, strict=True):
                a, b = max(lo, s.start), min(hi, s.stop)
                src.append(slice(a - s.start, b - s.start))
                dst.append(slice(a - lo, b - lo))
            box[tuple(dst)] = tile[tuple(src)]
    out = box
    for d in reversed(range(len(picks))):
        out = np.take(out, picks[d], axis=d)
    return out
