"""Damage made on purpose, for tests of how readers and loaders report a bad sample."""

from __future__ import annotations

import numpy as np

from hub.core.chunk import parse_header
from hub.core.dataset import Dataset


def corrupt_sample(ds: Dataset, tensor: str, index: int, nbytes: int = 16) -> None:
    """Zero the first ``nbytes`` of sample ``index`` of ``tensor`` (an image's markers) in its chunk on storage."""
    engine = ds._state.engine(tensor)
    pos = int(engine.index.locate(np.asarray([index]))[0])
    key = f"chunks/{engine.meta.id}/{engine.index.chunk_id(pos):016x}"
    data = bytearray(ds.storage.get(key))
    header = parse_header(bytes(data))
    start, _ = header.byte_span(index - engine.index.start_of(pos))
    data[header.header_nbytes + start : header.header_nbytes + start + nbytes] = bytes(nbytes)
    ds.storage.set(key, bytes(data))
