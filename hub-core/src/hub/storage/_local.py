"""A local directory (plain path or ``file://``): every object a file, replaced atomically."""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import mmap
import os
import sys
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import IO, Any, cast

import numpy as np

from hub.errors import InvalidKeyError, KeyNotFoundError, StorageError
from hub.storage._base import RESERVED_PREFIX, BytesLike, Storage, Token, check_key

__all__ = ["LocalStorage"]

_LOCK_DIR = RESERVED_PREFIX + "locks"
_TMP_PREFIX = RESERVED_PREFIX + "tmp-"


def _open_making_dirs(path: str, mode: str) -> IO[bytes]:
    """``open(path, mode)``, making the file's directory first if it is missing (rarely: tried after)."""
    try:
        return open(path, mode)
    except FileNotFoundError:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        return open(path, mode)


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _token(data: bytes) -> Token:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


class LocalStorage(Storage):
    """Files under a root directory.

    Writes go to a temporary file in the target's directory, are fsynced and renamed over
    the target, so a reader or a crash sees the old value or the new, never a mix.
    ``set_if_absent`` publishes with ``link()``, which fails if the target exists;
    ``compare_and_swap`` holds an ``flock`` on a per-key lock file while it compares and
    replaces. The version token is a hash of the content.
    """

    max_workers = 4
    sequential_reads = True  # threads only add overhead to reads from the page cache
    maps_files = os.name == "posix"  # elsewhere a mapped file can't be replaced or deleted

    def __init__(self, root: str | os.PathLike[str], *, read_only: bool = False, fsync: bool = True) -> None:
        super().__init__(read_only=read_only)
        self.root = Path(root).expanduser().absolute()
        self.fsync = fsync
        self._prefix = os.path.join(str(self.root), "")  # keys are checked: '/'-separated, no '..'
        self._behind: list[Future[None]] = []  # writes being synced and published in the background
        self._behind_lock = threading.Lock()
        self._behind_pool: ThreadPoolExecutor | None = None
        self._behind_pid = os.getpid()
        if self.root.exists() and not self.root.is_dir():
            raise StorageError(f"{self.root} is a file, not a directory; give a directory path for a dataset.")

    def flush(self) -> None:
        self._settle()

    def close(self) -> None:
        self._settle()
        super().close()

    def __getstate__(self) -> dict[str, Any]:
        self._settle()  # what another process opens must be there
        state = super().__getstate__()
        state.update(_behind=[], _behind_pool=None)
        del state["_behind_lock"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        self._behind_lock = threading.Lock()
        self._behind_pid = os.getpid()

    @classmethod
    def from_url(cls, url: str, creds: Any = None, read_only: bool = False) -> LocalStorage:
        return cls(url.removeprefix("file://"), read_only=read_only)

    @property
    def url(self) -> str:
        return str(self.root)

    def _path(self, key: str) -> Path:
        return self.root.joinpath(*key.split("/"))

    # ---------------------------------------------------------------- reading
    def get_many(self, keys: Iterable[str]) -> dict[str, bytes]:
        """Values of many keys, read one after another: a local read costs less than a thread hand-off."""
        self._settle()
        return {key: self._get(check_key(key)) for key in dict.fromkeys(keys)}

    def _open(self, key: str) -> Any:
        try:
            # A string join, not Path(): reading a sample is a few tens of microseconds, Path() adds ~20.
            return open(self._prefix + key, "rb")
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise KeyNotFoundError(key, self.url) from None

    def _get(self, key: str) -> bytes:
        self._settle()
        with self._open(key) as f:
            data: bytes = f.read()
            return data

    def get_mapped(self, key: str, *, whole: bool = False) -> BytesLike:
        self._settle()
        if not self.maps_files:
            return self.get(key)
        with self._open(check_key(key)) as f:
            try:
                mapped = memoryview(mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ))
            except ValueError:  # an empty file can't be mapped
                return b""
        if whole:
            _map_in(mapped)
        return mapped

    def _get_range(self, key: str, start: int, end: int | None) -> bytes:
        self._settle()
        with self._open(key) as f:
            f.seek(start)
            data: bytes = f.read() if end is None else f.read(end - start)
            return data

    def _get_range_into(self, key: str, start: int, out: memoryview) -> int:
        self._settle()
        with self._open(key) as f:
            f.seek(start)
            got = 0
            while got < len(out):
                n = f.readinto(out[got:])
                if not n:
                    break
                got += n
            return got

    def _get_with_token(self, key: str) -> tuple[bytes, Token]:
        self._settle()
        data = self._get(key)
        return data, _token(data)

    def _exists(self, key: str) -> bool:
        self._settle()
        return self._path(key).is_file()

    def _list(self, prefix: str) -> Iterable[str]:
        self._settle()
        # Walk only the deepest directory the prefix names in full.
        base = prefix.rsplit("/", 1)[0] if "/" in prefix else ""
        start = self._path(base) if base else self.root
        return [key for key in self._walk(start, base) if key.startswith(prefix)]

    def _walk(self, directory: Path, rel: str) -> Iterator[str]:
        try:
            entries = list(os.scandir(directory))
        except (FileNotFoundError, NotADirectoryError):
            return
        for entry in entries:
            if entry.name.startswith(RESERVED_PREFIX):
                continue
            key = f"{rel}/{entry.name}" if rel else entry.name
            if entry.is_dir(follow_symlinks=False):
                yield from self._walk(Path(entry.path), key)
            else:
                yield key

    # ---------------------------------------------------------------- writing
    def _write_temp(self, key: str, data: bytes | Sequence[BytesLike], durable: bool = True) -> tuple[str, str]:
        """Write ``data`` (or its parts, one after another) to a fresh temporary file beside the key's path.

        Returns (temp, target), as string paths (pathlib costs a small write a tenth of its time).
        """
        parts = (data,) if isinstance(data, bytes) else data
        target = self._prefix + key
        directory = os.path.dirname(target)
        for _ in range(5):  # a concurrent delete may prune the directory we just made
            tmp = os.path.join(directory, f"{_TMP_PREFIX}{uuid.uuid4().hex}")
            try:
                with _open_making_dirs(tmp, "xb") as f:
                    for part in parts:
                        f.write(part)
                    if self.fsync and durable:
                        f.flush()
                        os.fsync(f.fileno())
                return tmp, target
            except FileNotFoundError:
                continue
            except (NotADirectoryError, FileExistsError):
                raise InvalidKeyError(
                    f"Key {key!r} cannot be stored in {self.url}: a part of its path is already a key."
                ) from None
        raise StorageError(f"Could not create the directory for {key!r} in {self.url}.")

    def _publish(self, tmp: str, target: str, key: str) -> None:
        try:
            os.replace(tmp, target)
        except IsADirectoryError:
            _unlink(tmp)
            raise InvalidKeyError(f"Key {key!r} cannot be stored in {self.url}: other keys live under it.") from None

    def _set(self, key: str, data: bytes) -> None:
        # Written and synced while earlier background writes finish; published only after them.
        tmp, target = self._write_temp(key, data)
        self._settle_before(tmp)
        self._publish(tmp, target, key)

    def _settle_before(self, tmp: str) -> None:
        """:meth:`_settle` before publishing ``tmp``, which is removed if a background write failed."""
        try:
            self._settle()
        except BaseException:
            _unlink(tmp)
            raise

    def _set_parts(self, key: str, parts: Sequence[BytesLike]) -> None:
        if not self.fsync:
            tmp, target = self._write_temp(key, parts)
            self._publish(tmp, target, key)
            return
        # Large values (chunks) are written now and synced and published by a background thread, in order, while
        # the caller goes on writing: every other operation waits for them first (see _settle), so whatever is
        # written after them (the metadata that points at them) is published after them, as before.
        tmp, target = self._write_temp(key, parts, durable=False)
        with self._behind_lock:
            if self._behind_pool is None or self._behind_pid != os.getpid():
                self._behind_pool = ThreadPoolExecutor(1, thread_name_prefix="hub-sync")
                self._behind_pid = os.getpid()
            self._behind.append(self._behind_pool.submit(self._sync_and_publish, tmp, target, key))

    def _sync_and_publish(self, tmp: str, target: str, key: str) -> None:
        try:
            fd = os.open(tmp, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
            self._publish(tmp, target, key)
        except BaseException:
            _unlink(tmp)
            raise

    def _settle(self) -> None:
        """Wait until every write in the background is durable and published; raise the first one's error."""
        if not self._behind:
            return
        if self._behind_pid != os.getpid():  # inherited through fork: the parent's thread finishes them
            self._behind, self._behind_pool, self._behind_lock = [], None, threading.Lock()
            self._behind_pid = os.getpid()
            return
        # Every write submitted before this call, whichever thread submitted it or waits for it too.
        with self._behind_lock:
            pending = list(self._behind)
        error: BaseException | None = None
        for future in pending:
            while True:
                try:
                    future.result()
                except BaseException as e:  # the rest still finish (or fail) before anything else is written
                    error = error or e
                # An interrupt (Ctrl-C) while waiting: wait on, or the file would be published after whatever
                # the interrupted caller deletes or writes next.
                if future.done():
                    break
        with self._behind_lock:
            done = set(pending)
            self._behind = [f for f in self._behind if f not in done]
        if error is not None:
            raise error

    def _compare_and_swap(self, key: str, data: bytes, expected: Token | None) -> Token | None:
        return self._swap(key, data, expected, durable=True)

    def _compare_and_swap_volatile(self, key: str, data: bytes, expected: Token | None) -> Token | None:
        return self._swap(key, data, expected, durable=False)

    def _swap(self, key: str, data: bytes, expected: Token | None, durable: bool) -> Token | None:
        tmp, target = self._write_temp(key, data, durable)
        self._settle_before(tmp)  # written (and synced) meanwhile; compared and published after them
        published = False
        try:
            if expected is None:
                try:
                    os.link(tmp, target)
                except FileExistsError:
                    return None
                return _token(data)
            with self._key_lock(key):
                try:
                    current = self._get(key)
                except KeyNotFoundError:
                    return None
                if _token(current) != expected:
                    return None
                self._publish(tmp, target, key)
                published = True
                return _token(data)
        finally:
            if not published:
                _unlink(tmp)

    @contextlib.contextmanager
    def _key_lock(self, key: str) -> Iterator[None]:
        import fcntl  # POSIX only; imported here so the module loads everywhere

        path = self._prefix + _LOCK_DIR + "/" + hashlib.sha1(key.encode()).hexdigest()
        with _open_making_dirs(path, "a+b") as f:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(f.fileno(), fcntl.LOCK_UN)

    def _delete(self, key: str) -> None:
        self._settle()
        path = self._path(key)
        try:
            path.unlink()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return
        self._prune(path.parent)

    def _prune(self, directory: Path) -> None:
        """Remove empty directories from ``directory`` up to (not including) the root."""
        while directory != self.root and self.root in directory.parents:
            try:
                directory.rmdir()
            except OSError:
                return
            directory = directory.parent


def _load_madvise() -> Callable[[int, int, int], int] | None:
    """libc's ``madvise`` through ctypes, which calls it without the GIL (the ``mmap`` module's holds it); None
    where MADV_POPULATE_READ doesn't exist (not Linux)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        madvise = libc.madvise
    except (OSError, AttributeError):
        return None
    madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    madvise.restype = ctypes.c_int
    return cast("Callable[[int, int, int], int]", madvise)


_MADVISE = _load_madvise()
MADV_POPULATE_READ = 22  # Linux 5.14+; older kernels refuse it (EINVAL), and the pages fault in as they are read


def _map_in(mapped: memoryview) -> None:
    """Map a file mapping's pages in now (from the page cache, reading what isn't there), if the system can."""
    if _MADVISE is None or not len(mapped):
        return
    address = np.frombuffer(mapped, dtype=np.uint8).ctypes.data  # read-only buffers have no ctypes address
    _MADVISE(address, len(mapped), MADV_POPULATE_READ)  # a refusal only leaves the pages to fault in
