"""The store kit on ``mem://`` storage."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from hub.storage import MemoryStorage, Storage, storage_from_url
from hub.testing.store import StoreTests, store_state_machine


class TestMemoryStorage(StoreTests):
    @pytest.fixture
    def store(self) -> Iterator[Storage]:
        store = MemoryStorage(f"kit-{uuid.uuid4().hex}")
        yield store
        store.delete_prefix("")

    def read_only(self, store: Storage) -> Storage:
        return storage_from_url(store.url, read_only=True)


def test_same_name_shares_objects() -> None:
    name = f"shared-{uuid.uuid4().hex}"
    storage_from_url(f"mem://{name}").set("k", b"v")
    assert storage_from_url(f"mem://{name}").get("k") == b"v"
    assert MemoryStorage(f"other-{name}").list() == []


TestMemoryStateMachine = store_state_machine(lambda: MemoryStorage(f"sm-{uuid.uuid4().hex}")).TestCase
