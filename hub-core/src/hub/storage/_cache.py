"""A read-through, write-back LRU cache in front of another storage, bounded in bytes."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable
from typing import Any

from hub.errors import StorageError
from hub.storage._base import Storage, Token, check_key
from hub.storage._memory import MemoryStorage

__all__ = ["LRUCache"]


class LRUCache(Storage):
    """Caches ``base`` in ``cache_storage`` (private memory by default), at most ``max_bytes``.

    Reads fill the cache; byte-range reads are served from a cached whole object when there
    is one and go straight to ``base`` otherwise. Writes stay in the cache, marked dirty,
    until :meth:`flush`, which writes them to ``base`` in the order of their last write, so a
    writer that sets data keys before the metadata that names them publishes them in that
    order. A dirty entry evicted early is written to ``base`` then. Version-token operations
    (``get_with_token``, ``compare_and_swap``, ``set_if_absent``) always go to ``base``.

    Tiers chain: ``LRUCache(LRUCache(s3, 10 * GB, cache_storage=LocalStorage(path)), 256 * MB)``
    is a memory tier over a local-disk tier over S3.
    """

    def __init__(
        self,
        base: Storage,
        max_bytes: int = 256 * 2**20,
        *,
        cache_storage: Storage | None = None,
    ) -> None:
        super().__init__(read_only=base.read_only)
        self.base = base
        self.max_bytes = max_bytes
        self.cache_storage = cache_storage if cache_storage is not None else MemoryStorage.private()
        self._sizes: OrderedDict[str, int] = OrderedDict()  # LRU order, oldest first
        self._dirty: OrderedDict[str, None] = OrderedDict()  # order of last write
        self._used = 0
        self._lock = threading.RLock()

    @property
    def url(self) -> str:
        return self.base.url

    @property
    def used_bytes(self) -> int:
        """Bytes held in the cache now."""
        return self._used

    @property
    def dirty_keys(self) -> list[str]:
        """Keys written to the cache and not yet flushed, in the order they will be flushed."""
        with self._lock:
            return list(self._dirty)

    # ------------------------------------------------------------- bookkeeping
    def _insert(self, key: str, data: bytes, dirty: bool) -> None:
        with self._lock:
            if len(data) > self.max_bytes:
                self._drop(key)
                if dirty:
                    self.base.set(key, data)
                return
            self.cache_storage.set(key, data)
            self._used += len(data) - self._sizes.pop(key, 0)
            self._sizes[key] = len(data)
            if dirty:
                self._dirty.pop(key, None)
                self._dirty[key] = None
            self._evict()

    def _evict(self) -> None:
        while self._used > self.max_bytes and self._sizes:
            key, size = self._sizes.popitem(last=False)
            if key in self._dirty:
                self.base.set(key, self.cache_storage.get(key))
                del self._dirty[key]
            self.cache_storage.delete(key)
            self._used -= size

    def _drop(self, key: str) -> None:
        with self._lock:
            size = self._sizes.pop(key, None)
            if size is not None:
                self._used -= size
                self.cache_storage.delete(key)
            self._dirty.pop(key, None)

    def _cached(self, key: str) -> bytes | None:
        with self._lock:
            if key not in self._sizes:
                return None
            self._sizes.move_to_end(key)
            return self.cache_storage.get(key)

    def _write_back(self, key: str) -> None:
        with self._lock:
            if key in self._dirty:
                self.base.set(key, self.cache_storage.get(key))
                del self._dirty[key]

    # ------------------------------------------------------------------ public
    def flush(self) -> None:
        """Write every dirty entry to ``base`` (oldest write first), then flush ``base``."""
        with self._lock:
            for key in list(self._dirty):
                self.base.set(key, self.cache_storage.get(key))
                del self._dirty[key]
        self.base.flush()

    def clear_cache(self) -> None:
        """Flush, then forget every cached entry."""
        self.flush()
        with self._lock:
            for key in list(self._sizes):
                self._drop(key)

    def get_many(self, keys: Iterable[str]) -> dict[str, bytes]:
        keys = [check_key(k) for k in dict.fromkeys(keys)]
        found: dict[str, bytes] = {}
        missing: list[str] = []
        for key in keys:
            data = self._cached(key)
            if data is None:
                missing.append(key)
            else:
                found[key] = data
        if missing:
            for key, data in self.base.get_many(missing).items():
                self._insert(key, data, dirty=False)
                found[key] = data
        return {k: found[k] for k in keys}

    def delete_prefix(self, prefix: str) -> None:
        self._check_writable()
        with self._lock:
            for key in [k for k in self._sizes if k.startswith(prefix)]:
                self._drop(key)
        self.base.delete_prefix(prefix)

    def close(self) -> None:
        self.flush()
        self.base.close()
        super().close()

    def __getstate__(self) -> dict[str, Any]:
        if self._dirty:
            raise StorageError(f"The cache over {self.url} holds unflushed writes; call flush() before pickling it.")
        state = super().__getstate__()
        private_memory = isinstance(self.cache_storage, MemoryStorage)
        state.update(
            cache_storage=MemoryStorage.private() if private_memory else self.cache_storage,
            _sizes=OrderedDict(),
            _dirty=OrderedDict(),
            _used=0,
        )
        del state["_lock"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        self._lock = threading.RLock()

    # -------------------------------------------------------------- primitives
    def _get(self, key: str) -> bytes:
        data = self._cached(key)
        if data is None:
            data = self.base.get(key)
            self._insert(key, data, dirty=False)
        return data

    def _get_range(self, key: str, start: int, end: int | None) -> bytes:
        data = self._cached(key)
        if data is not None:
            return data[start:end]
        return self.base.get_range(key, start, end)

    def _get_with_token(self, key: str) -> tuple[bytes, Token]:
        self._write_back(key)
        data, token = self.base.get_with_token(key)
        self._insert(key, data, dirty=False)
        return data, token

    def _exists(self, key: str) -> bool:
        with self._lock:
            if key in self._sizes:
                return True
        return self.base.exists(key)

    def _list(self, prefix: str) -> Iterable[str]:
        with self._lock:
            pending = {k for k in self._dirty if k.startswith(prefix)}
        return pending.union(self.base.list(prefix))

    def _set(self, key: str, data: bytes) -> None:
        self._insert(key, data, dirty=True)

    def _compare_and_swap(self, key: str, data: bytes, expected: Token | None) -> Token | None:
        return self._swap_through(key, data, expected, durable=True)

    def _compare_and_swap_volatile(self, key: str, data: bytes, expected: Token | None) -> Token | None:
        return self._swap_through(key, data, expected, durable=False)

    def _swap_through(self, key: str, data: bytes, expected: Token | None, durable: bool) -> Token | None:
        self._write_back(key)
        token = self.base.compare_and_swap(key, data, expected, durable=durable)
        if token is None:
            self._drop(key)
        else:
            self._insert(key, data, dirty=False)
        return token

    def _delete(self, key: str) -> None:
        self._drop(key)
        self.base.delete(key)
