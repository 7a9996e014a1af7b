"""The stored form of one ragged ``polygon`` sample: a list of polygons with different point counts, in one record.

Layout (little-endian, ``docs/format.md``): u32 polygon count ``n``, u32 point dimensions ``d``, ``n`` u32 point
counts, a u32 0 when ``n`` is odd (so the points start 8-byte aligned), then every polygon's points back to back as
one C-order ``(total points, d)`` array in the tensor's dtype. Packing and unpacking run no Python loop per point.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from hub.errors import CorruptSampleError, DatasetIndexError

__all__ = ["RAGGED", "is_ragged_polygon", "pack_polygons", "unpack_polygons", "polygons_shape", "pick_polygons"]

#: The tensor meta ``layout`` of polygon tensors stored as ragged records (format 1.3); absent: the 1.2 layout.
RAGGED = "ragged"

_U32 = np.dtype("<u4")


def is_ragged_polygon(htype: str, layout: str | None) -> bool:
    """Whether a tensor's samples are ragged polygon records (a polygon tensor created by format 1.3 or later)."""
    return htype == "polygon" and layout == RAGGED


def _header_nbytes(n: int) -> int:
    return 8 + 4 * (n + n % 2)


def pack_polygons(points: np.ndarray, counts: np.ndarray) -> bytes:
    """One record of polygons whose points lie back to back in ``points`` (total, d), ``counts[k]`` for polygon k."""
    n, d = len(counts), int(points.shape[1])
    head = np.zeros(_header_nbytes(n) // 4, dtype=_U32)
    head[0], head[1] = n, d
    head[2 : 2 + n] = counts
    return head.tobytes() + np.ascontiguousarray(points).tobytes()


def _parse(data: bytes | memoryview, dtype: np.dtype) -> tuple[np.ndarray, np.ndarray]:
    """(counts, points as a (total, d) view into ``data``) of a record made by :func:`pack_polygons`."""
    view = memoryview(data).cast("B")
    try:
        if len(view) < 8:
            raise ValueError(f"{len(view)} bytes, less than its 8-byte header")
        n, d = (int(x) for x in np.frombuffer(view[:8], dtype=_U32))
        start = _header_nbytes(n)
        if len(view) < start:
            raise ValueError(f"{len(view)} bytes, less than the point counts of {n} polygons")
        counts = np.frombuffer(view[8 : 8 + 4 * n], dtype=_U32).astype(np.int64)
        total = int(counts.sum())
        if len(view) - start != total * d * dtype.itemsize:
            raise ValueError(f"{len(view) - start} bytes of points, but {total} points of {d} {dtype} values")
        points = np.frombuffer(view[start:], dtype=dtype).reshape(total, d)
    except ValueError as e:
        raise CorruptSampleError(f"A stored polygon record is malformed: {e}.") from None
    return counts, points


def unpack_polygons(data: bytes | memoryview, dtype: np.dtype) -> list[np.ndarray]:
    """The polygons of a record, each a read-only (points, d) view into ``data``."""
    counts, points = _parse(data, dtype)
    if not len(counts):
        return []
    return np.split(points, np.cumsum(counts[:-1]))


def polygons_shape(counts: Sequence[int] | np.ndarray, d: int) -> tuple[int, int, int]:
    """The shape recorded for a polygon sample: (polygons, most points of one polygon, point dimensions)."""
    counts = np.asarray(counts, dtype=np.int64)
    return (len(counts), int(counts.max()) if len(counts) else 0, d)


def pick_polygons(data: bytes | memoryview, dtype: np.dtype, subscript: tuple[Any, ...]) -> Any:
    """``sample[subscript]``: the whole list of polygons; ``[j]`` polygon j (an array, ``[j, rows, ...]`` a part of
    it); ``[a:b]`` or a list of ints a list of polygons."""
    polygons = unpack_polygons(data, dtype)
    if not subscript:
        return polygons
    first, rest = subscript[0], subscript[1:]
    if isinstance(first, (int, np.integer)):
        n = len(polygons)
        if not -n <= int(first) < n:
            raise DatasetIndexError(f"Polygon {int(first)} is out of range for a sample of {n} polygons.")
        polygon = polygons[int(first)]
        return polygon[rest] if rest else polygon
    if isinstance(first, slice):
        chosen = polygons[first]
    else:
        try:
            chosen = [polygons[int(i)] for i in np.asarray(first).reshape(-1)]
        except (IndexError, ValueError, TypeError) as e:
            raise DatasetIndexError(f"Can't pick polygons with {first!r}: {e}") from None
    return [p[rest] for p in chosen] if rest else chosen
