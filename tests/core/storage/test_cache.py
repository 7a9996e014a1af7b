"""The LRU cache: the store kit through it, and its read-through, write-back behaviour."""

from __future__ import annotations

import pickle
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from hub.errors import StorageError
from hub.storage import LocalStorage, LRUCache, MemoryStorage, Storage
from hub.testing.store import StoreTests, store_state_machine


class RecordingStorage(MemoryStorage):
    """A real memory store that also records the order of the writes it receives."""

    def __init__(self) -> None:
        super().__init__(f"rec-{uuid.uuid4().hex}")
        self.writes: list[str] = []

    def _set(self, key: str, data: bytes) -> None:
        self.writes.append(key)
        super()._set(key, data)


class TestLargeCache(StoreTests):
    @pytest.fixture
    def store(self) -> Iterator[Storage]:
        yield LRUCache(MemoryStorage(f"c-{uuid.uuid4().hex}"), 64 * 2**20)

    def read_only(self, store: Storage) -> Storage:
        assert isinstance(store, LRUCache)
        return LRUCache(MemoryStorage(store.base.url.removeprefix("mem://"), read_only=True))


class TestTinyCache(TestLargeCache):
    """A cache smaller than most values: every path through eviction is taken."""

    @pytest.fixture
    def store(self) -> Iterator[Storage]:
        yield LRUCache(MemoryStorage(f"c-{uuid.uuid4().hex}"), 40)


class TestDiskTier(StoreTests):
    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[Storage]:
        disk = LRUCache(LocalStorage(tmp_path / "base"), 4 * 2**20, cache_storage=LocalStorage(tmp_path / "disk"))
        yield LRUCache(disk, 1024)

    def read_only(self, store: Storage) -> Storage:
        assert isinstance(store, LRUCache) and isinstance(store.base, LRUCache)
        return LocalStorage(store.base.base.url, read_only=True)


TestCacheStateMachine = store_state_machine(lambda: LRUCache(MemoryStorage(f"sm-{uuid.uuid4().hex}"), 100)).TestCase


def test_reads_fill_the_cache() -> None:
    base = MemoryStorage(f"b-{uuid.uuid4().hex}")
    base.set("k", b"value")
    cache = LRUCache(base)
    assert cache.get("k") == b"value"
    base.delete("k")
    assert cache.get("k") == b"value"
    assert cache.get_range("k", 1, 3) == b"al"
    assert cache.used_bytes == 5


def test_range_of_uncached_key_does_not_fill() -> None:
    base = MemoryStorage(f"b-{uuid.uuid4().hex}")
    base.set("k", b"0123456789")
    cache = LRUCache(base)
    assert cache.get_range("k", 2, 4) == b"23"
    assert cache.used_bytes == 0


def test_writes_wait_for_flush() -> None:
    base = MemoryStorage(f"b-{uuid.uuid4().hex}")
    cache = LRUCache(base)
    cache.set("k", b"v")
    assert not base.exists("k")
    assert cache.exists("k") and cache.list() == ["k"]
    assert cache.dirty_keys == ["k"]
    cache.flush()
    assert base.get("k") == b"v"
    assert cache.dirty_keys == []


def test_flush_in_order_of_last_write() -> None:
    base = RecordingStorage()
    cache = LRUCache(base)
    cache.set("meta", b"1")
    cache.set("chunk/a", b"2")
    cache.set("chunk/b", b"3")
    cache.set("meta", b"4")
    cache.flush()
    assert base.writes == ["chunk/a", "chunk/b", "meta"]
    assert base.get("meta") == b"4"


def test_eviction_writes_dirty_entries_back() -> None:
    base = RecordingStorage()
    cache = LRUCache(base, 100)
    cache.set("a", b"x" * 60)
    cache.set("b", b"y" * 60)
    assert base.writes == ["a"]
    assert cache.used_bytes == 60
    assert cache.get("a") == b"x" * 60
    assert base.writes == ["a", "b"]


def test_value_larger_than_cache_writes_through() -> None:
    base = MemoryStorage(f"b-{uuid.uuid4().hex}")
    cache = LRUCache(base, 10)
    cache.set("big", b"z" * 11)
    assert base.get("big") == b"z" * 11
    assert cache.used_bytes == 0


def test_get_many_mixes_cache_and_base() -> None:
    base = MemoryStorage(f"b-{uuid.uuid4().hex}")
    base.set("a", b"1")
    base.set("b", b"2")
    cache = LRUCache(base)
    cache.set("c", b"3")
    assert cache.get_many(["c", "a", "b"]) == {"c": b"3", "a": b"1", "b": b"2"}
    base.delete("a")
    assert cache.get("a") == b"1"


def test_swap_goes_to_base() -> None:
    base = MemoryStorage(f"b-{uuid.uuid4().hex}")
    cache = LRUCache(base)
    cache.set("doc", b"1")
    _, token = cache.get_with_token("doc")
    assert base.get("doc") == b"1"
    base.set("doc", b"changed elsewhere")
    assert cache.compare_and_swap("doc", b"2", token) is None
    assert cache.get("doc") == b"changed elsewhere"


def test_pickling_with_unflushed_writes_refused() -> None:
    cache = LRUCache(MemoryStorage(f"b-{uuid.uuid4().hex}"))
    cache.set("k", b"v")
    with pytest.raises(StorageError, match="flush"):
        pickle.dumps(cache)
    cache.flush()
    clone = pickle.loads(pickle.dumps(cache))
    assert clone.used_bytes == 0 and clone.get("k") == b"v"


def test_disk_tier_holds_evicted_reads(tmp_path: Path) -> None:
    base = LocalStorage(tmp_path / "base")
    base.set("x/1", b"a" * 600)
    base.set("x/2", b"b" * 600)
    disk = LRUCache(base, 10_000, cache_storage=LocalStorage(tmp_path / "disk"))
    memory = LRUCache(disk, 1000)
    assert memory.get("x/1") == b"a" * 600
    assert memory.get("x/2") == b"b" * 600
    assert memory.used_bytes == 600
    assert (tmp_path / "disk" / "x" / "1").read_bytes() == b"a" * 600
    base.delete("x/1")
    assert memory.get("x/1") == b"a" * 600
