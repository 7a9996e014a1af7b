"""The quickstart: what hub can do today, end to end, on this machine.

It grows as capabilities land. Today: open storage from URLs, write and read objects
atomically, swap a document safely between writers, and cache a slow store.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import hub
from hub.storage import LRUCache, storage_from_url


def main() -> None:
    root = Path(tempfile.mkdtemp(prefix="hub-quickstart-"))
    store = storage_from_url(str(root / "my-dataset"))
    print(f"hub {hub.__version__}: storage at {store.url}")

    # Objects are replaced atomically: a reader never sees half a write.
    store.set("images/chunks/0", bytes(range(256)) * 1000)
    store.set("images/meta.json", b'{"htype": "image"}')
    print("keys:", store.list())
    print("bytes 10..20 of a chunk:", store.get_range("images/chunks/0", 10, 20).hex())

    # Two writers updating one document: compare-and-swap lets exactly one win.
    assert store.set_if_absent("branches.json", b'{"main": null}')
    _, token = store.get_with_token("branches.json")
    assert store.compare_and_swap("branches.json", b'{"main": "c1"}', token) is not None
    assert store.compare_and_swap("branches.json", b'{"main": "c2"}', token) is None  # stale token loses
    print("branches.json:", store.get("branches.json").decode())

    # A write-back cache batches writes and serves repeated reads from memory.
    cache = LRUCache(store, max_bytes=64 * 2**20)
    cache.set("labels/chunks/0", b"\x01\x02\x03")
    assert not store.exists("labels/chunks/0")
    cache.flush()
    assert store.get("labels/chunks/0") == b"\x01\x02\x03"
    print("parallel read of", len(cache.get_many(store.list())), "objects")
    print("quickstart OK")


if __name__ == "__main__":
    main()
