"""The public reading API for loaders (``from hub.reading import DatasetReader, Shard``); see hub.core.reading."""

from __future__ import annotations

from hub.core.decoding import SampleDecoder, register_decoder
from hub.core.reading import (
    Allocator,
    ChunkFetcher,
    ChunkGroup,
    DatasetReader,
    ErrorPolicy,
    RecyclingAllocator,
    Shard,
    epoch_schedule,
)

__all__ = [
    "Allocator",
    "ChunkFetcher",
    "ChunkGroup",
    "DatasetReader",
    "ErrorPolicy",
    "RecyclingAllocator",
    "SampleDecoder",
    "Shard",
    "epoch_schedule",
    "register_decoder",
]
