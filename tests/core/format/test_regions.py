"""Reading part of an untiled raw sample fetches only the byte ranges that part covers, and equals numpy's slice."""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import hub
from hub.core.dataset import Dataset
from hub.core.regions import MAX_RANGES, plan_region
from hub.storage import LocalStorage, MemoryStorage, Storage, Token


class ByteCountingStorage(Storage):
    """A real storage seen through our public Storage interface, counting the bytes its reads return."""

    def __init__(self, inner: Storage) -> None:
        super().__init__()
        self.inner = inner
        self.bytes_read = 0
        self.requests = 0

    @property
    def url(self) -> str:
        return self.inner.url

    def reset(self) -> None:
        self.bytes_read = self.requests = 0

    def _count(self, data: bytes) -> bytes:
        self.bytes_read += len(data)
        self.requests += 1
        return data

    def _get(self, key: str) -> bytes:
        return self._count(self.inner.get(key))

    def _get_range(self, key: str, start: int, end: int | None) -> bytes:
        return self._count(self.inner.get_range(key, start, end))

    def _get_range_into(self, key: str, start: int, out: memoryview) -> int:
        n = self.inner.get_ranges_into([(key, start, out)])[0]
        self.bytes_read += n
        self.requests += 1
        return n

    def _get_with_token(self, key: str) -> tuple[bytes, Token]:
        data, token = self.inner.get_with_token(key)
        return self._count(data), token

    def _exists(self, key: str) -> bool:
        return self.inner.exists(key)

    def _list(self, prefix: str) -> Iterable[str]:
        return self.inner.list(prefix)

    def _set(self, key: str, data: bytes) -> None:
        self.inner.set(key, data)

    def _set_parts(self, key: str, parts: Sequence[bytes | bytearray | memoryview]) -> None:
        self.inner.set_parts(key, parts)

    def _compare_and_swap(self, key: str, data: bytes, expected: Token | None) -> Token | None:
        return self.inner.compare_and_swap(key, data, expected)

    def _delete(self, key: str) -> None:
        self.inner.delete(key)


@pytest.fixture(params=["mem", "local"])
def counting(request: pytest.FixtureRequest, tmp_path: Path) -> ByteCountingStorage:
    inner: Storage = MemoryStorage(uuid.uuid4().hex) if request.param == "mem" else LocalStorage(str(tmp_path / "ds"))
    return ByteCountingStorage(inner)


def _reopened(storage: ByteCountingStorage) -> Dataset:
    """The dataset, opened again so that nothing of it is cached in memory; the count starts at zero."""
    ds = Dataset._open(storage, None, read_only=True)
    storage.reset()
    return ds


def test_rows_of_a_large_sample_read_only_their_bytes(counting: ByteCountingStorage) -> None:
    ds = Dataset._create(counting)
    ds.create_tensor("x", dtype="uint8")
    rng = np.random.default_rng(0)
    samples = [rng.integers(0, 255, (1000, 1000, 3), dtype=np.uint8) for _ in range(4)]
    ds.x.extend(samples)
    assert len(ds.x._engine.index) == 1  # all four in one 16 MB chunk: untiled
    ds.close()

    ds = _reopened(counting)
    len(ds.x._engine.index)  # the chunk index is read once per tensor, not per sample read: not counted below
    counting.reset()
    np.testing.assert_array_equal(ds.x[3, 10:20, :, 1].numpy(), samples[3][10:20, :, 1])
    # the chunk's header probe (64 KiB) and the rows 10..19 of sample 3: not the 3 MB sample, not the 12 MB chunk
    assert counting.bytes_read <= 64 * 1024 + 10 * 1000 * 3 + 1024
    assert counting.requests == 2

    counting.reset()
    np.testing.assert_array_equal(ds.x[2, ::250, -1].numpy(), samples[2][::250, -1])
    assert counting.bytes_read <= 4 * 1000 * 3  # four scattered rows, the header already known
    assert counting.requests == 4

    counting.reset()
    np.testing.assert_array_equal(ds.x[2].numpy(), samples[2])  # a whole sample still reads whole
    assert counting.bytes_read == samples[2].nbytes


def test_each_sample_of_a_view_reads_its_own_ranges(counting: ByteCountingStorage) -> None:
    ds = Dataset._create(counting)
    ds.create_tensor("x", dtype="float32", max_chunk_size=2**20)
    rng = np.random.default_rng(1)
    samples = [rng.standard_normal((300, 400)).astype(np.float32) for _ in range(3)]  # one chunk each
    ds.x.extend(samples)
    ds.close()
    ds = _reopened(counting)
    len(ds.x._engine.index)
    counting.reset()
    got = ds.x[[2, 0], 5:7, -10:].numpy()
    np.testing.assert_array_equal(got, np.stack([samples[2][5:7, -10:], samples[0][5:7, -10:]]))
    assert counting.bytes_read <= 2 * (64 * 1024 + 2 * 400 * 4)


def test_compressed_chunks_and_memory_chunks_still_read_right() -> None:
    ds = hub.empty(f"mem://{uuid.uuid4().hex}")
    ds.create_tensor("lz", dtype="int16", chunk_compression="lz4")
    ds.create_tensor("raw", dtype="int16")
    data = np.arange(200 * 300, dtype=np.int16).reshape(200, 300)
    ds.lz.append(data)
    ds.raw.append(data)
    for name in ("lz", "raw"):
        np.testing.assert_array_equal(ds[name][0, 3:9:2, ::-7].numpy(), data[3:9:2, ::-7])
        np.testing.assert_array_equal(ds[name][0, ..., 4].numpy(), data[..., 4])
        with pytest.raises(IndexError):
            ds[name][0, 500].numpy()


def test_plan_merges_close_runs_and_caps_the_number_of_ranges() -> None:
    assert plan_region((1000, 1000, 3), (slice(10, 20), slice(None), 1), 1).ranges == [(30001, 59999)]
    assert len(plan_region((1000, 1000, 3), (slice(None, None, 100),), 1).ranges) == 10
    assert len(plan_region((5000, 100000), (slice(None, None, 20),), 1).ranges) == 1  # 250 runs: one covering range
    assert MAX_RANGES < 250
    assert plan_region((4, 4), (None,), 1) is None  # new axes: numpy indexes the whole sample
    assert plan_region((4, 4), ([1, 2],), 1) is None


def _index(draw: Any, shape: tuple[int, ...]) -> tuple[Any, ...]:
    items: list[Any] = []
    for n in shape:
        if draw(st.booleans()):
            items.append(draw(st.integers(-n, n - 1)))
        else:
            bound = st.none() | st.integers(-n - 2, n + 2)
            step = st.none() | st.integers(-4, 4).filter(lambda s: s != 0)
            items.append(slice(draw(bound), draw(bound), draw(step)))
    if draw(st.booleans()):  # `...` stands for the dimensions it replaces, taken whole
        k = draw(st.integers(0, len(items)))
        m = draw(st.integers(k, len(items)))
        return (*items[:k], Ellipsis, *items[m:])
    return tuple(items[: draw(st.integers(0, len(items)))])


@st.composite
def _cases(draw: Any) -> tuple[np.ndarray, tuple[Any, ...]]:
    shape = tuple(draw(st.lists(st.integers(1, 40), min_size=1, max_size=4)))
    dtype = draw(st.sampled_from(["uint8", "int16", "float32", "float64", "bool"]))
    size = int(np.prod(shape))
    array = (np.arange(size) * 7919 % 251).astype(dtype).reshape(shape)
    return array, _index(draw, shape)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_cases(), st.sampled_from(["mem", "local"]))
def test_region_read_equals_numpy_slice(case: tuple[np.ndarray, tuple[Any, ...]], kind: str) -> None:
    array, index = case
    with tempfile.TemporaryDirectory() as tmp:
        inner = MemoryStorage(f"regions-{uuid.uuid4().hex}") if kind == "mem" else LocalStorage(tmp)
        _check_region_read(ByteCountingStorage(inner), array, index)


def _check_region_read(storage: ByteCountingStorage, array: np.ndarray, index: tuple[Any, ...]) -> None:
    # A sample past the header probe (64 KiB), so that its bytes come from range reads, after a filler.
    ds = Dataset._create(storage)
    ds.create_tensor("x", dtype=str(array.dtype))
    row = int(np.prod(array.shape[1:])) * array.itemsize
    filler = np.zeros((70_000 // row + 1, *array.shape[1:]), dtype=array.dtype)
    ds.x.extend([filler, array])
    ds.close()
    ds = _reopened(storage)
    expected = array[index]
    got = ds.x[(1, *index)].numpy()
    assert got.shape == expected.shape
    assert got.dtype == expected.dtype
    np.testing.assert_array_equal(got, expected)
    assert storage.bytes_read <= 64 * 1024 + 1024 + array.nbytes + 4096
