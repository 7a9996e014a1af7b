"""``mem://name``: storage in this process's memory, shared by every storage opened with the same name."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

from hub.errors import KeyNotFoundError
from hub.storage._base import Storage, Token

__all__ = ["MemoryStorage"]


class _Bucket:
    """The objects behind one ``mem://`` name, with a counter for version tokens."""

    def __init__(self) -> None:
        self.objects: dict[str, tuple[bytes, int]] = {}
        self.lock = threading.Lock()
        self.counter = 0

    def next_version(self) -> int:
        self.counter += 1
        return self.counter


_BUCKETS: dict[str, _Bucket] = {}
_BUCKETS_LOCK = threading.Lock()


def _bucket(name: str) -> _Bucket:
    with _BUCKETS_LOCK:
        return _BUCKETS.setdefault(name, _Bucket())


class MemoryStorage(Storage):
    """Objects in a process-wide dict keyed by name.

    Pickling carries only the name: in another process the same name is a different,
    initially empty, store.
    """

    def __init__(self, name: str = "", *, read_only: bool = False) -> None:
        super().__init__(read_only=read_only)
        self.name = name
        self._objects = _bucket(name)

    @classmethod
    def private(cls) -> MemoryStorage:
        """A store no name reaches and no registry keeps alive (for caches)."""
        store = cls.__new__(cls)
        Storage.__init__(store)
        store.name = f"<private {id(store):x}>"
        store._objects = _Bucket()
        return store

    @classmethod
    def from_url(cls, url: str, creds: Any = None, read_only: bool = False) -> MemoryStorage:
        return cls(url.removeprefix("mem://"), read_only=read_only)

    @property
    def url(self) -> str:
        return f"mem://{self.name}"

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        del state["_objects"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        self._objects = _bucket(self.name)

    def _lookup(self, key: str) -> tuple[bytes, int]:
        try:
            return self._objects.objects[key]
        except KeyError:
            raise KeyNotFoundError(key, self.url) from None

    def _get(self, key: str) -> bytes:
        return self._lookup(key)[0]

    def _get_range(self, key: str, start: int, end: int | None) -> bytes:
        return self._lookup(key)[0][start:end]

    def _get_with_token(self, key: str) -> tuple[bytes, Token]:
        data, version = self._lookup(key)
        return data, str(version)

    def _exists(self, key: str) -> bool:
        return key in self._objects.objects

    def _list(self, prefix: str) -> Iterable[str]:
        with self._objects.lock:
            return [k for k in self._objects.objects if k.startswith(prefix)]

    def _set(self, key: str, data: bytes) -> None:
        with self._objects.lock:
            self._objects.objects[key] = (data, self._objects.next_version())

    def _compare_and_swap(self, key: str, data: bytes, expected: Token | None) -> Token | None:
        bucket = self._objects
        with bucket.lock:
            current = bucket.objects.get(key)
            if (current is None) != (expected is None):
                return None
            if current is not None and str(current[1]) != expected:
                return None
            version = bucket.next_version()
            bucket.objects[key] = (data, version)
            return str(version)

    def _delete(self, key: str) -> None:
        with self._objects.lock:
            self._objects.objects.pop(key, None)
