"""The abstract :class:`Storage`: bytes under string keys, with the checks every provider shares."""

from __future__ import annotations

import os
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ClassVar

from hub.errors import InvalidKeyError, KeyNotFoundError, ReadOnlyError

__all__ = ["Storage", "Token", "check_key", "check_prefix", "RESERVED_PREFIX"]

#: An opaque version token of one stored object (ETag, generation, content hash).
Token = str

#: Key segments starting with this are reserved for a provider's own bookkeeping
#: (temporary files, lock files) and are never listed.
RESERVED_PREFIX = ".hub-"

BytesLike = bytes | bytearray | memoryview


def _check_parts(text: str, what: str, allow_trailing_slash: bool) -> None:
    if not isinstance(text, str):
        raise InvalidKeyError(f"A storage {what} must be a str, got {type(text).__name__}.")
    if "\x00" in text:
        raise InvalidKeyError(f"Storage {what} {text!r} contains a NUL byte.")
    if "\\" in text:
        raise InvalidKeyError(f"Storage {what} {text!r} contains a backslash; use '/' to separate parts.")
    if text.startswith("/"):
        raise InvalidKeyError(f"Storage {what} {text!r} is absolute; keys are relative to the storage root.")
    parts = text.split("/")
    if allow_trailing_slash and parts and parts[-1] == "":
        parts = parts[:-1]
    for part in parts:
        if part in ("", ".", ".."):
            raise InvalidKeyError(
                f"Storage {what} {text!r} has an empty, '.' or '..' part; keys can never leave the storage root."
            )
        if part.startswith(RESERVED_PREFIX):
            raise InvalidKeyError(f"Storage {what} {text!r} uses the reserved prefix {RESERVED_PREFIX!r}.")


def check_key(key: str) -> str:
    """Return ``key`` if it is a safe relative key; raise :class:`InvalidKeyError` otherwise."""
    if key == "":
        raise InvalidKeyError("A storage key cannot be empty.")
    _check_parts(key, "key", allow_trailing_slash=False)
    return key


def check_prefix(prefix: str) -> str:
    """Like :func:`check_key`, but the empty prefix and a trailing '/' are allowed."""
    if prefix != "":
        _check_parts(prefix, "prefix", allow_trailing_slash=True)
    return prefix


class Storage(ABC):
    """Bytes under '/'-separated string keys.

    Public methods validate keys and the read-only flag, then call the provider's
    underscored primitives, so every provider refuses the same bad input the same way.
    Reads return ``bytes``; writes accept any bytes-like object.

    A key is never also a directory-like prefix of another key ("a" and "a/b" can't both
    exist), so that every provider, a filesystem included, can store the same key sets.
    """

    #: How many requests :meth:`get_many` keeps in flight.
    max_workers: ClassVar[int] = 8
    #: Whether batched reads run one after another (a local disk) rather than on the thread pool.
    sequential_reads: ClassVar[bool] = False
    #: Whether :meth:`get_mapped` maps the stored object instead of copying it (worth it for single samples).
    maps_files: ClassVar[bool] = False

    def __init__(self, *, read_only: bool = False) -> None:
        self.read_only = read_only
        self._pool: ThreadPoolExecutor | None = None
        self._pool_pid = 0
        self._pool_lock = threading.Lock()

    # ----------------------------------------------------------------- identity
    @classmethod
    def from_url(cls, url: str, creds: Any = None, read_only: bool = False) -> Storage:
        """Open the storage a URL of this provider's scheme names (used by ``storage_from_url``)."""
        raise NotImplementedError(f"{cls.__name__} can't be opened from a URL")

    @property
    @abstractmethod
    def url(self) -> str:
        """The URL this storage was opened from (no credentials in it)."""

    def __repr__(self) -> str:
        flag = ", read_only=True" if self.read_only else ""
        return f"{type(self).__name__}({self.url!r}{flag})"

    # ---------------------------------------------------------------- reading
    def get(self, key: str) -> bytes:
        """The whole value under ``key``; :class:`KeyNotFoundError` if absent."""
        return self._get(check_key(key))

    def get_mapped(self, key: str, *, whole: bool = False) -> BytesLike:
        """The whole value under ``key`` for reading only, perhaps a view of the stored object itself.

        Local files are memory-mapped: nothing is copied, and pages come from the page cache as they are read.
        Safe because objects are only ever replaced whole (a new file renamed over the old one): a mapping keeps
        the version it was made from. ``whole``: the caller will soon read all of it (a loader's chunk), so a
        mapping's pages are mapped in at once, by one system call made without the GIL, rather than by a page
        fault per few pages in the thread that first reads them.
        """
        return self.get(key)

    def get_range(self, key: str, start: int, end: int | None = None) -> bytes:
        """Bytes ``[start, end)`` of the value (``end=None``: to the end); clipped to its length."""
        check_key(key)
        if start < 0 or (end is not None and end < 0):
            raise ValueError(f"Byte ranges are non-negative, got start={start}, end={end}.")
        if end is not None and end <= start:
            if not self._exists(key):
                raise KeyNotFoundError(key, self.url)
            return b""
        return self._get_range(key, start, end)

    def get_many(self, keys: Iterable[str]) -> dict[str, bytes]:
        """Values of many keys, fetched in parallel on a bounded thread pool.

        Raises :class:`KeyNotFoundError` for the first missing key found.
        """
        keys = [check_key(k) for k in dict.fromkeys(keys)]
        if len(keys) <= 1:
            return {k: self._get(k) for k in keys}
        pool = self._executor()
        return dict(zip(keys, pool.map(self._get, keys), strict=True))

    def get_ranges_into(self, requests: Sequence[tuple[str, int, memoryview]]) -> list[int]:
        """Read bytes of several keys straight into caller buffers: for each ``(key, start, out)``,
        ``len(out)`` bytes from ``start`` (fewer where the value ends first). In parallel where
        the provider gains from it. Returns how many bytes each request got.
        """
        for key, start, _ in requests:
            check_key(key)
            if start < 0:
                raise ValueError(f"Byte ranges are non-negative, got start={start}.")
        if len(requests) <= 1 or self.sequential_reads:
            return [self._get_range_into(*r) for r in requests]
        return list(self._executor().map(lambda r: self._get_range_into(*r), requests))

    def get_with_token(self, key: str) -> tuple[bytes, Token]:
        """The value and its version token, for a later :meth:`compare_and_swap`."""
        return self._get_with_token(check_key(key))

    def exists(self, key: str) -> bool:
        return self._exists(check_key(key))

    def list(self, prefix: str = "") -> list[str]:
        """All keys starting with ``prefix``, at any depth, sorted."""
        return sorted(self._list(check_prefix(prefix)))

    # ---------------------------------------------------------------- writing
    def set(self, key: str, data: BytesLike) -> None:
        """Store ``data`` under ``key``, replacing any value atomically."""
        self._check_writable()
        self._set(check_key(key), bytes(data) if not isinstance(data, bytes) else data)

    def set_parts(self, key: str, parts: Sequence[BytesLike]) -> None:
        """:meth:`set` of the concatenation of ``parts`` (a header and a large body, say).

        Providers that can write the parts one after another do so without joining them first;
        the parts must not change until the call returns.
        """
        self._check_writable()
        self._set_parts(check_key(key), parts)

    def set_if_absent(self, key: str, data: BytesLike) -> bool:
        """Store ``data`` only if ``key`` is absent; True if this call created it. Atomic."""
        return self.compare_and_swap(key, data, None) is not None

    def compare_and_swap(
        self, key: str, data: BytesLike, expected: Token | None, *, durable: bool = True
    ) -> Token | None:
        """Replace the value only if its token is still ``expected`` (``None``: only if absent).

        Returns the new token, or ``None`` when the precondition did not hold. Atomic on
        every provider: of many concurrent swaps from one token, exactly one succeeds.
        ``durable=False`` lets a provider skip flushing to stable media (a local disk's fsync):
        the swap stays atomic and survives a process crash, but may be lost or read back
        empty after a power failure. For short-lived documents such as lease locks.
        """
        self._check_writable()
        if durable:
            return self._compare_and_swap(check_key(key), bytes(data), expected)
        return self._compare_and_swap_volatile(check_key(key), bytes(data), expected)

    def delete(self, key: str) -> None:
        """Remove ``key``; removing an absent key is not an error."""
        self._check_writable()
        self._delete(check_key(key))

    def delete_prefix(self, prefix: str) -> None:
        """Remove every key starting with ``prefix`` (``""``: everything)."""
        self._check_writable()
        self._delete_many(self._list(check_prefix(prefix)))

    def flush(self) -> None:
        """Write out anything buffered. Providers write through, so this does nothing."""

    def close(self) -> None:
        """Release threads and connections; the object stays usable and reopens them lazily."""
        with self._pool_lock:
            if self._pool is not None:
                self._pool.shutdown(wait=False)
                self._pool = None

    # ---------------------------------------------------------------- helpers
    def _check_writable(self) -> None:
        if self.read_only:
            raise ReadOnlyError(f"{self.url} was opened read-only; open it with read_only=False to write.")

    def _executor(self) -> ThreadPoolExecutor:
        # A pool inherited through fork has no threads behind it, and its lock may have been held
        # by a thread that no longer exists: a forked child starts with a new lock and a new pool.
        if self._pool_pid != os.getpid():
            self._pool_lock = threading.Lock()
        with self._pool_lock:
            if self._pool is None or self._pool_pid != os.getpid():
                self._pool = ThreadPoolExecutor(self.max_workers, thread_name_prefix="hub-io")
                self._pool_pid = os.getpid()
            return self._pool

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_pool"] = None
        state["_pool_pid"] = 0
        del state["_pool_lock"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._pool_lock = threading.Lock()

    def _delete_many(self, keys: Iterable[str]) -> None:
        for key in keys:
            self._delete(key)

    # ------------------------------------------------------------- primitives
    @abstractmethod
    def _get(self, key: str) -> bytes: ...

    @abstractmethod
    def _get_range(self, key: str, start: int, end: int | None) -> bytes: ...

    @abstractmethod
    def _get_with_token(self, key: str) -> tuple[bytes, Token]: ...

    @abstractmethod
    def _exists(self, key: str) -> bool: ...

    @abstractmethod
    def _list(self, prefix: str) -> Iterable[str]: ...

    @abstractmethod
    def _set(self, key: str, data: bytes) -> None: ...

    @abstractmethod
    def _compare_and_swap(self, key: str, data: bytes, expected: Token | None) -> Token | None: ...

    @abstractmethod
    def _delete(self, key: str) -> None: ...

    def _get_range_into(self, key: str, start: int, out: memoryview) -> int:
        """One request of :meth:`get_ranges_into`; providers that can read into a buffer override this."""
        if len(out) == 0:
            if not self._exists(key):
                raise KeyNotFoundError(key, self.url)
            return 0
        data = self._get_range(key, start, start + len(out))
        out[: len(data)] = data
        return len(data)

    def _set_parts(self, key: str, parts: Sequence[BytesLike]) -> None:
        """:meth:`set_parts`; providers that write parts without joining them override this."""
        self._set(key, b"".join(parts))

    def _compare_and_swap_volatile(self, key: str, data: bytes, expected: Token | None) -> Token | None:
        """``compare_and_swap(durable=False)``; providers with a cheaper non-durable write override this."""
        return self._compare_and_swap(key, data, expected)
