"""The store kit on local directories, and what only a local directory does."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from hub.errors import InvalidKeyError, StorageError
from hub.storage import LocalStorage, Storage, storage_from_url
from hub.testing.store import StoreTests, store_state_machine


class TestLocalStorage(StoreTests):
    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[Storage]:
        yield LocalStorage(tmp_path / "root")

    def read_only(self, store: Storage) -> Storage:
        return storage_from_url(store.url, read_only=True)


#: Where the state machine's stores live: one folder per example, all removed when the module's tests end (the
#: machine's teardown empties a store, and an empty root folder would otherwise stay behind for each example).
_MACHINE_ROOT = Path(tempfile.gettempdir()) / f"hub-sm-{os.getpid()}"


@pytest.fixture(scope="module", autouse=True)
def _remove_machine_stores() -> Iterator[None]:
    yield
    shutil.rmtree(_MACHINE_ROOT, ignore_errors=True)


def _fresh_local() -> LocalStorage:
    _MACHINE_ROOT.mkdir(exist_ok=True)
    return LocalStorage(tempfile.mkdtemp(dir=_MACHINE_ROOT))


TestLocalStateMachine = store_state_machine(_fresh_local).TestCase


def test_plain_path_and_file_url(tmp_path: Path) -> None:
    a = storage_from_url(str(tmp_path))
    b = storage_from_url(f"file://{tmp_path}")
    assert isinstance(a, LocalStorage) and isinstance(b, LocalStorage)
    a.set("x/y", b"1")
    assert b.get("x/y") == b"1"
    assert (tmp_path / "x" / "y").read_bytes() == b"1"


def test_no_temporary_or_lock_files_left(tmp_path: Path) -> None:
    store = LocalStorage(tmp_path)
    store.set("a/b", b"1")
    store.set_if_absent("a/c", b"2")
    _, token = store.get_with_token("a/b")
    store.compare_and_swap("a/b", b"3", token)
    store.compare_and_swap("a/b", b"4", "stale")
    leftovers = [p.name for p in (tmp_path / "a").iterdir()]
    assert sorted(leftovers) == ["b", "c"]
    assert store.list() == ["a/b", "a/c"]


def test_delete_prunes_empty_directories(tmp_path: Path) -> None:
    store = LocalStorage(tmp_path)
    store.set("deep/er/key", b"1")
    store.delete("deep/er/key")
    assert not (tmp_path / "deep").exists()


def test_file_where_directory_expected(tmp_path: Path) -> None:
    store = LocalStorage(tmp_path)
    store.set("a", b"1")
    with pytest.raises(InvalidKeyError, match="already a key"):
        store.set("a/b", b"2")
    assert store.get("a") == b"1"


def test_root_that_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"")
    with pytest.raises(StorageError, match="is a file"):
        LocalStorage(tmp_path / "f")


def test_symlink_escape_needs_a_link_the_user_made(tmp_path: Path) -> None:
    # Keys alone can never leave the root: '..' is refused before any path is built.
    store = LocalStorage(tmp_path / "root")
    with pytest.raises(InvalidKeyError):
        store.set("../outside", b"x")
    assert not (tmp_path / "outside").exists()


def test_replace_is_atomic_for_readers(tmp_path: Path) -> None:
    """A reader racing a writer sees a whole old or a whole new value, never a torn one."""
    import threading

    store = LocalStorage(tmp_path, fsync=False)
    old, new = b"a" * 200_000, b"b" * 300_000
    store.set("k", old)
    stop = threading.Event()
    seen: set[bytes] = set()

    def read() -> None:
        while not stop.is_set():
            data = store.get("k")
            seen.add(data[:1] + str(len(data)).encode())
            assert data in (old, new)

    reader = threading.Thread(target=read)
    reader.start()
    for _ in range(50):
        store.set("k", new)
        store.set("k", old)
    stop.set()
    reader.join()
    assert seen <= {b"a200000", b"b300000"}


def test_cas_between_processes(tmp_path: Path) -> None:
    """Two processes incrementing one counter by compare-and-swap lose no update."""
    import multiprocessing as mp

    store = LocalStorage(tmp_path)
    store.set("counter", b"0")
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_increment, args=(str(tmp_path), 25)) for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    assert store.get("counter") == b"50"


def _increment(root: str, times: int) -> None:
    store = LocalStorage(root)
    for _ in range(times):
        while True:
            data, token = store.get_with_token("counter")
            if store.compare_and_swap("counter", str(int(data) + 1).encode(), token):
                break
    os._exit(0)


def test_values_written_in_the_background_are_in_place_after_any_later_call(tmp_path: Path) -> None:
    import threading

    store = LocalStorage(tmp_path / "root")
    fresh = LocalStorage(tmp_path / "root")  # another object: sees only what is published on disk
    errors: list[BaseException] = []

    def writer(t: int) -> None:
        try:
            for i in range(20):
                key = f"chunks/{t}/{i}"
                store.set_parts(key, [b"head", bytes([t, i]) * 50_000])
                store.flush()  # each thread's own writes are published when its flush returns
                assert fresh.get(key) == b"head" + bytes([t, i]) * 50_000
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=writer, args=(t,)) for t in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors, errors
    store.set_parts("last", [b"x" * 1000])
    store.set("meta", b"points at last")  # a later write publishes after the background one
    assert fresh.get("last") == b"x" * 1000
    assert not any(p.name.startswith(".hub") for p in (tmp_path / "root" / "chunks").rglob("*"))
