"""The stored form of one ``sequence[...]`` sample: its items' encoded bytes and shapes, packed into one record.

Layout (little-endian): u32 item count ``n``, u32 item ndim ``d``, ``n*d`` u32 item shapes, ``n+1`` u64 offsets of
the items' bytes from the start of the data area, then the data area. Each item's bytes are what the inner htype
stores for one sample (an encoded image, raw array bytes, ...).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from hub.errors import CorruptSampleError

__all__ = ["pack_sequence", "unpack_sequence", "sequence_shape"]

_HEAD = np.dtype("<u4")
_OFFSET = np.dtype("<u8")


def pack_sequence(items: Sequence[tuple[bytes | memoryview, tuple[int, ...]]], ndim: int) -> bytes:
    """One record holding ``items`` (stored bytes and shape each, all of ``ndim`` dimensions)."""
    shapes = np.asarray([shape for _, shape in items], dtype=_HEAD).reshape(len(items), ndim)
    sizes = np.asarray([len(data) for data, _ in items], dtype=_OFFSET)
    offsets = np.zeros(len(items) + 1, dtype=_OFFSET)
    np.cumsum(sizes, out=offsets[1:])
    head = np.asarray([len(items), ndim], dtype=_HEAD)
    return b"".join([head.tobytes(), shapes.tobytes(), offsets.tobytes(), *(bytes(data) for data, _ in items)])


def unpack_sequence(data: bytes | memoryview) -> list[tuple[memoryview, tuple[int, ...]]]:
    """The items of a record made by :func:`pack_sequence`, as views into ``data``."""
    view = memoryview(data).cast("B")
    try:
        n, ndim = (int(x) for x in np.frombuffer(view[:8], dtype=_HEAD))
        shapes_end = 8 + 4 * n * ndim
        shapes = np.frombuffer(view[8:shapes_end], dtype=_HEAD).reshape(n, ndim)
        offsets = np.frombuffer(view[shapes_end : shapes_end + 8 * (n + 1)], dtype=_OFFSET)
        body = view[shapes_end + 8 * (n + 1) :]
        if len(offsets) != n + 1 or int(offsets[-1]) != len(body):
            raise ValueError("item offsets do not match the record's size")
    except ValueError as e:
        raise CorruptSampleError(f"A stored sequence record is malformed: {e}.") from None
    return [(body[int(offsets[i]) : int(offsets[i + 1])], tuple(int(d) for d in shapes[i])) for i in range(n)]


def sequence_shape(shapes: list[tuple[int, ...]], ndim: int) -> tuple[int, ...]:
    """The shape recorded for a sequence: its length, then the largest size of each item dimension."""
    if not shapes:
        return (0, *([0] * ndim))
    return (len(shapes), *(int(d) for d in np.max(np.asarray(shapes, dtype=np.int64).reshape(len(shapes), ndim), 0)))
