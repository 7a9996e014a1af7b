"""Samples larger than a chunk are tiled; reading part of one fetches only the tiles it touches."""

from __future__ import annotations

import uuid

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import hub
from hub.core.tiles import TILED, choose_tile_shape
from hub.storage import MemoryStorage


class CountingStorage(MemoryStorage):
    """A real memory store that counts the objects read from it."""

    def __init__(self) -> None:
        super().__init__(f"count-{uuid.uuid4().hex}")
        self.reads: list[str] = []

    def _get(self, key: str) -> bytes:
        self.reads.append(key)
        return super()._get(key)


def _dataset(storage: MemoryStorage) -> hub.Dataset:
    return hub.core.dataset.Dataset._create(storage)


def test_choose_tile_shape_keeps_channels() -> None:
    assert choose_tile_shape((4000, 3000, 3), 1, 2**20) == (500, 375, 3)
    assert choose_tile_shape((100,), 8, 160) == (13,)
    assert choose_tile_shape((10, 10), 1, 1000) == (10, 10)


@pytest.mark.parametrize("compression", [None, "png", "lz4-chunk"])
def test_big_sample_round_trip(compression: str | None) -> None:
    ds = hub.empty(f"mem://{uuid.uuid4().hex}")
    ds.create_tensor(
        "img",
        htype="image" if compression == "png" else "generic",
        dtype="uint8",
        sample_compression="png" if compression == "png" else None,
        chunk_compression="lz4" if compression == "lz4-chunk" else None,
        max_chunk_size=4096,
    )
    rng = np.random.default_rng(0)
    small = rng.integers(0, 255, (10, 10, 3), dtype=np.uint8)
    big = rng.integers(0, 255, (100, 90, 3), dtype=np.uint8)
    ds.img.extend([small, big, small])
    ds = hub.load(ds.path)
    np.testing.assert_array_equal(ds.img[1].numpy(), big)
    np.testing.assert_array_equal(ds.img[0].numpy(), small)
    np.testing.assert_array_equal(ds.img[2].numpy(), small)
    assert ds.img.shapes().tolist() == [[10, 10, 3], [100, 90, 3], [10, 10, 3]]
    assert ds.img._engine.index.entries["flags"].tolist() == [0, TILED, 0]
    np.testing.assert_array_equal(ds.img[1, 20:45, 3:80:7, 2].numpy(), big[20:45, 3:80:7, 2])
    np.testing.assert_array_equal(ds.img[1, -1, ::-1].numpy(), big[-1, ::-1])


def test_region_read_fetches_only_touched_tiles() -> None:
    storage = CountingStorage()
    ds = _dataset(storage)
    ds.create_tensor("big", dtype="uint8", max_chunk_size=4096)
    data = np.arange(256 * 256, dtype=np.uint8).reshape(256, 256)
    ds.big.append(data)
    ds = hub.core.dataset.Dataset._open(storage, None, read_only=True)
    storage.reads.clear()
    np.testing.assert_array_equal(ds.big[0, 0:10, 0:10].numpy(), data[0:10, 0:10])
    tile_reads = [k for k in storage.reads if k.startswith("chunks/")]
    # the manifest plus one tile out of (256*256/4096) = 16
    assert len(tile_reads) == 2
    storage.reads.clear()
    np.testing.assert_array_equal(ds.big[0].numpy(), data)
    assert len([k for k in storage.reads if k.startswith("chunks/")]) == 17


def test_update_and_pop_tiled() -> None:
    ds = hub.empty(f"mem://{uuid.uuid4().hex}")
    ds.create_tensor("x", dtype="int32", max_chunk_size=1024)
    big = np.arange(2000, dtype="int32")
    ds.x.extend([np.zeros(3, "int32"), big, np.ones(3, "int32")])
    ds.x[1] = big * 2
    np.testing.assert_array_equal(ds.x[1].numpy(), big * 2)
    ds.x[1] = np.array([7], dtype="int32")
    assert ds.x[1].numpy().tolist() == [7]
    ds.x[1] = big
    ds.pop(1)
    assert [v.tolist() for v in ds.x.numpy(aslist=True)] == [[0, 0, 0], [1, 1, 1]]
    x_chunks = ds.storage.list(f"chunks/{ds.x.meta.id}/")
    assert len(x_chunks) == 2  # the two small samples' chunks; every tile was deleted


@settings(max_examples=25, deadline=None)
@given(
    shape=st.tuples(st.integers(1, 70), st.integers(1, 70)),
    chunk=st.integers(1024, 6000),
    rows=st.slices(70),
    cols=st.slices(70),
)
def test_tiled_region_matches_numpy(shape: tuple[int, int], chunk: int, rows: slice, cols: slice) -> None:
    ds = hub.empty(f"mem://{uuid.uuid4().hex}")
    ds.create_tensor("x", dtype="float64", max_chunk_size=chunk)
    data = np.random.default_rng(1).standard_normal(shape)
    ds.x.append(data)
    np.testing.assert_array_equal(ds.x[0].numpy(), data)
    np.testing.assert_array_equal(ds.x[0, rows, cols].numpy(), data[rows, cols])
