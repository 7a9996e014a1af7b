"""The shared test kit every storage provider passes.

A provider's test module subclasses :class:`StoreTests` and gives it two things: a
``store`` fixture yielding a fresh, empty, writable store, and :meth:`StoreTests.read_only`
opening the same data read-only. :func:`store_state_machine` builds a hypothesis state
machine that checks random operation sequences against a plain dict.

Importing this module needs pytest and hypothesis; hub itself never imports it.
"""

from __future__ import annotations

import pickle
import random
import threading
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from hub.errors import InvalidKeyError, KeyNotFoundError, ReadOnlyError
from hub.storage import Storage

__all__ = ["StoreTests", "store_state_machine"]

BAD_KEYS = [
    "",
    "/abs",
    "../up",
    "a/../b",
    "a//b",
    "a/./b",
    "nul\x00byte",
    "back\\slash",
    ".hub-tmp-x",
    "a/.hub-locks/b",
]


class StoreTests:
    """Behaviours every :class:`~hub.storage.Storage` must show. Subclass and supply ``store``."""

    @pytest.fixture
    def store(self) -> Iterator[Storage]:
        raise NotImplementedError("a StoreTests subclass supplies the 'store' fixture")

    def read_only(self, store: Storage) -> Storage:
        """The same data as ``store``, opened read-only."""
        raise NotImplementedError

    # ------------------------------------------------------------ round trips
    def test_set_get(self, store: Storage) -> None:
        store.set("a", b"hello")
        assert store.get("a") == b"hello"

    def test_empty_value(self, store: Storage) -> None:
        store.set("empty", b"")
        assert store.get("empty") == b""
        assert store.exists("empty")
        assert store.get_range("empty", 0, 10) == b""

    def test_large_value(self, store: Storage) -> None:
        data = random.Random(1).randbytes(9 * 2**20 + 7)
        store.set("big/value", data)
        assert store.get("big/value") == data
        assert store.get_range("big/value", 5 * 2**20, 5 * 2**20 + 100) == data[5 * 2**20 : 5 * 2**20 + 100]

    def test_every_byte_value(self, store: Storage) -> None:
        data = bytes(range(256)) * 4
        store.set("bin", data)
        assert store.get("bin") == data

    def test_bytes_like_inputs(self, store: Storage) -> None:
        store.set("ba", bytearray(b"xyz"))
        store.set("mv", memoryview(b"0123456789")[2:5])
        assert store.get("ba") == b"xyz"
        assert store.get("mv") == b"234"
        assert isinstance(store.get("ba"), bytes)

    def test_overwrite(self, store: Storage) -> None:
        store.set("k", b"one")
        store.set("k", b"two!")
        assert store.get("k") == b"two!"

    def test_unicode_and_space_keys(self, store: Storage) -> None:
        store.set("dir with space/näme-ü.json", b"{}")
        assert store.get("dir with space/näme-ü.json") == b"{}"
        assert store.list("dir with space/") == ["dir with space/näme-ü.json"]

    def test_missing_key_is_key_error(self, store: Storage) -> None:
        with pytest.raises(KeyNotFoundError) as info:
            store.get("nope")
        assert isinstance(info.value, KeyError)
        assert "nope" in str(info.value)

    # ---------------------------------------------------------------- ranges
    def test_range_middle(self, store: Storage) -> None:
        store.set("r", b"0123456789")
        assert store.get_range("r", 2, 5) == b"234"

    def test_range_to_end(self, store: Storage) -> None:
        store.set("r", b"0123456789")
        assert store.get_range("r", 7) == b"789"
        assert store.get_range("r", 0) == b"0123456789"

    def test_range_clipped_at_end(self, store: Storage) -> None:
        store.set("r", b"0123456789")
        assert store.get_range("r", 8, 100) == b"89"
        assert store.get_range("r", 9, 10) == b"9"

    def test_range_past_end_is_empty(self, store: Storage) -> None:
        store.set("r", b"0123456789")
        assert store.get_range("r", 10, 20) == b""
        assert store.get_range("r", 50) == b""

    def test_empty_range(self, store: Storage) -> None:
        store.set("r", b"0123456789")
        assert store.get_range("r", 4, 4) == b""
        assert store.get_range("r", 6, 3) == b""

    def test_range_of_missing_key(self, store: Storage) -> None:
        with pytest.raises(KeyNotFoundError):
            store.get_range("missing", 0, 4)
        with pytest.raises(KeyNotFoundError):
            store.get_range("missing", 3, 3)

    def test_negative_range_refused(self, store: Storage) -> None:
        store.set("r", b"0123")
        with pytest.raises(ValueError):
            store.get_range("r", -1, 2)

    # ------------------------------------------------------------- get_many
    def test_get_many(self, store: Storage) -> None:
        values = {f"many/{i:03d}": bytes([i]) * (i + 1) for i in range(40)}
        for key, value in values.items():
            store.set(key, value)
        got = store.get_many(reversed(list(values)))
        assert got == values
        assert list(got) == list(reversed(list(values)))

    def test_get_many_missing(self, store: Storage) -> None:
        store.set("x", b"1")
        with pytest.raises(KeyNotFoundError):
            store.get_many(["x", "y"])

    def test_get_many_empty_and_duplicates(self, store: Storage) -> None:
        store.set("x", b"1")
        assert store.get_many([]) == {}
        assert store.get_many(["x", "x"]) == {"x": b"1"}

    # ------------------------------------------------------- listing, exists
    def test_exists(self, store: Storage) -> None:
        assert not store.exists("e/f")
        store.set("e/f", b"")
        assert store.exists("e/f")
        assert not store.exists("e")

    def test_list_prefixes(self, store: Storage) -> None:
        for key in ["a/b/c", "a/bc", "a/d/e/f", "ab", "z"]:
            store.set(key, b".")
        assert store.list() == ["a/b/c", "a/bc", "a/d/e/f", "ab", "z"]
        assert store.list("a/") == ["a/b/c", "a/bc", "a/d/e/f"]
        assert store.list("a/b/") == ["a/b/c"]
        assert store.list("a/b") == ["a/b/c", "a/bc"]
        assert store.list("a") == ["a/b/c", "a/bc", "a/d/e/f", "ab"]
        assert store.list("a/d/e/") == ["a/d/e/f"]
        assert store.list("q/") == []

    def test_list_empty_store(self, store: Storage) -> None:
        assert store.list() == []

    # --------------------------------------------------------------- delete
    def test_delete(self, store: Storage) -> None:
        store.set("d/1", b"1")
        store.set("d/2", b"2")
        store.delete("d/1")
        assert not store.exists("d/1")
        assert store.list("d/") == ["d/2"]
        with pytest.raises(KeyNotFoundError):
            store.get("d/1")

    def test_delete_missing_is_quiet(self, store: Storage) -> None:
        store.delete("never/was")
        assert store.list() == []

    def test_delete_prefix(self, store: Storage) -> None:
        for key in ["p/a", "p/b/c", "pq", "other"]:
            store.set(key, b"x")
        store.delete_prefix("p/")
        assert store.list() == ["other", "pq"]

    def test_delete_everything(self, store: Storage) -> None:
        for key in ["p/a", "p/b/c", "q"]:
            store.set(key, b"x")
        store.delete_prefix("")
        assert store.list() == []

    def test_set_after_delete_prefix(self, store: Storage) -> None:
        store.set("t/a/b", b"1")
        store.delete_prefix("t/")
        store.set("t/a/b", b"2")
        assert store.get("t/a/b") == b"2"

    # ------------------------------------------------ set-if-absent and CAS
    def test_set_if_absent(self, store: Storage) -> None:
        assert store.set_if_absent("once", b"first") is True
        assert store.set_if_absent("once", b"second") is False
        assert store.get("once") == b"first"

    def test_set_if_absent_race(self, store: Storage) -> None:
        n = 12
        barrier = threading.Barrier(n)
        wins: list[int] = []

        def attempt(i: int) -> None:
            barrier.wait()
            if store.set_if_absent("race", str(i).encode()):
                wins.append(i)

        threads = [threading.Thread(target=attempt, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(wins) == 1
        assert store.get("race") == str(wins[0]).encode()

    def test_token_and_swap(self, store: Storage) -> None:
        store.set("doc", b"v1")
        data, token = store.get_with_token("doc")
        assert data == b"v1"
        new = store.compare_and_swap("doc", b"v2", token)
        assert new is not None and new != token
        assert store.get_with_token("doc") == (b"v2", new)

    def test_swap_with_stale_token_fails(self, store: Storage) -> None:
        store.set("doc", b"v1")
        _, token = store.get_with_token("doc")
        store.set("doc", b"changed")
        assert store.compare_and_swap("doc", b"v2", token) is None
        assert store.get("doc") == b"changed"

    def test_swap_expecting_absent(self, store: Storage) -> None:
        token = store.compare_and_swap("new", b"v1", None)
        assert token is not None
        assert store.get_with_token("new") == (b"v1", token)
        assert store.compare_and_swap("new", b"v2", None) is None

    def test_swap_on_deleted_key_fails(self, store: Storage) -> None:
        store.set("gone", b"v1")
        _, token = store.get_with_token("gone")
        store.delete("gone")
        assert store.compare_and_swap("gone", b"v2", token) is None
        assert not store.exists("gone")

    def test_set_parts_stores_their_concatenation(self, store: Storage) -> None:
        body = np.arange(1000, dtype=np.int64)
        store.set_parts("joined", [b"head", bytearray(b"-"), memoryview(body.tobytes())[3:]])
        assert store.get("joined") == b"head-" + body.tobytes()[3:]
        store.set_parts("joined", [])
        assert store.get("joined") == b""

    def test_get_ranges_into_fills_caller_buffers(self, store: Storage) -> None:
        store.set("a", b"0123456789")
        store.set("b", b"abcdef")
        out = bytearray(12)
        view = memoryview(out)
        got = store.get_ranges_into([("a", 2, view[0:5]), ("b", 4, view[5:9]), ("a", 0, view[9:9])])
        assert got == [5, 2, 0]  # b has only two bytes from offset 4
        assert bytes(out[:7]) == b"23456ef"
        with pytest.raises(KeyNotFoundError):
            store.get_ranges_into([("a", 0, view[0:1]), ("missing", 0, view[1:3])])

    def test_get_mapped_keeps_the_version_it_read(self, store: Storage) -> None:
        store.set("m", b"first version")
        store.set("empty", b"")
        mapped = store.get_mapped("m")
        assert bytes(mapped) == b"first version" and bytes(store.get_mapped("empty")) == b""
        store.set("m", b"second")  # objects are replaced whole, so a reader's view stays what it read
        assert bytes(mapped) == b"first version" and bytes(store.get_mapped("m")) == b"second"
        held = store.get_mapped("m", whole=True)  # to be read whole: pages mapped in at once where files are
        store.delete("m")
        assert bytes(held) == b"second"
        store.set("big", bytes(range(256)) * 40_000)  # several pages
        assert bytes(store.get_mapped("big", whole=True)) == bytes(range(256)) * 40_000
        with pytest.raises(KeyNotFoundError):
            store.get_mapped("m")

    def test_swap_not_durable_keeps_the_semantics(self, store: Storage) -> None:
        assert store.compare_and_swap("lease", b"v1", None, durable=False) is not None
        assert store.compare_and_swap("lease", b"v1b", None, durable=False) is None
        data, token = store.get_with_token("lease")
        assert data == b"v1"
        new = store.compare_and_swap("lease", b"v2", token, durable=False)
        assert new is not None and store.get_with_token("lease") == (b"v2", new)
        assert store.compare_and_swap("lease", b"v3", token, durable=False) is None
        assert store.get("lease") == b"v2"

    def test_token_of_missing_key(self, store: Storage) -> None:
        with pytest.raises(KeyNotFoundError):
            store.get_with_token("missing")

    def test_swap_race_loses_no_update(self, store: Storage) -> None:
        store.set("counter", b"0")
        n_threads, n_increments = 4, 8

        def work() -> None:
            for _ in range(n_increments):
                while True:
                    data, token = store.get_with_token("counter")
                    if store.compare_and_swap("counter", str(int(data) + 1).encode(), token) is not None:
                        break

        threads = [threading.Thread(target=work) for _ in range(n_threads)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert int(store.get("counter")) == n_threads * n_increments

    # ------------------------------------------------------------ read-only
    def test_read_only_refuses_writes(self, store: Storage) -> None:
        store.set("k", b"v")
        store.flush()
        ro = self.read_only(store)
        assert ro.read_only
        assert ro.get("k") == b"v"
        assert ro.list() == ["k"]
        writes: list[Callable[[], Any]] = [
            lambda: ro.set("k", b"w"),
            lambda: ro.set_if_absent("k2", b"w"),
            lambda: ro.compare_and_swap("k", b"w", None),
            lambda: ro.delete("k"),
            lambda: ro.delete_prefix(""),
        ]
        for write in writes:
            with pytest.raises(ReadOnlyError, match="read-only"):
                write()
        assert store.get("k") == b"v"
        assert store.list() == ["k"]

    # ----------------------------------------------------------- path safety
    @pytest.mark.parametrize("key", BAD_KEYS)
    def test_bad_keys_refused(self, store: Storage, key: str) -> None:
        with pytest.raises(InvalidKeyError):
            store.set(key, b"x")
        with pytest.raises(InvalidKeyError):
            store.get(key)
        with pytest.raises(InvalidKeyError):
            store.delete(key)
        assert store.list() == []

    def test_bad_prefixes_refused(self, store: Storage) -> None:
        for prefix in ["../", "/", "a/../", "x\x00"]:
            with pytest.raises(InvalidKeyError):
                store.list(prefix)
            with pytest.raises(InvalidKeyError):
                store.delete_prefix(prefix)

    def test_non_string_key_refused(self, store: Storage) -> None:
        with pytest.raises(InvalidKeyError):
            store.get(b"bytes-key")  # type: ignore[arg-type]

    # --------------------------------------------------------- pickling, repr
    def test_pickle_sees_same_data(self, store: Storage) -> None:
        store.set("p", b"pickled")
        store.flush()
        clone = pickle.loads(pickle.dumps(store))
        assert clone.url == store.url
        assert clone.get("p") == b"pickled"
        clone.set("q", b"from clone")
        store.flush()
        clone.flush()
        assert store.get("q") == b"from clone"

    def test_repr_names_url(self, store: Storage) -> None:
        assert store.url in repr(store)


def store_state_machine(make_store: Callable[[], Storage]) -> type[RuleBasedStateMachine]:
    """A state machine checking random operations on ``make_store()`` against a dict."""

    keys = st.sampled_from(["a", "b", "c/d", "c/e", "c/f/g", "h/i/j", "h/k"])
    prefixes = st.sampled_from(["", "a", "c/", "c/f/", "h/", "z/"])
    values = st.binary(max_size=64)

    class StoreMachine(RuleBasedStateMachine):
        @initialize()
        def start(self) -> None:
            self.store = make_store()
            self.model: dict[str, bytes] = {}
            self.tokens: dict[str, str] = {}

        @rule(key=keys, value=values)
        def set(self, key: str, value: bytes) -> None:
            self.store.set(key, value)
            self.model[key] = value
            self.tokens.pop(key, None)

        @rule(key=keys)
        def get(self, key: str) -> None:
            if key in self.model:
                assert self.store.get(key) == self.model[key]
            else:
                with pytest.raises(KeyNotFoundError):
                    self.store.get(key)

        @rule(key=keys, start=st.integers(0, 70), length=st.integers(0, 70) | st.none())
        def get_range(self, key: str, start: int, length: int | None) -> None:
            end = None if length is None else start + length
            if key in self.model:
                assert self.store.get_range(key, start, end) == self.model[key][start:end]
            else:
                with pytest.raises(KeyNotFoundError):
                    self.store.get_range(key, start, end)

        @rule(key=keys)
        def delete(self, key: str) -> None:
            self.store.delete(key)
            self.model.pop(key, None)
            self.tokens.pop(key, None)

        @rule(prefix=prefixes)
        def delete_prefix(self, prefix: str) -> None:
            self.store.delete_prefix(prefix)
            for key in [k for k in self.model if k.startswith(prefix)]:
                del self.model[key]
                self.tokens.pop(key, None)

        @rule(key=keys, value=values)
        def set_if_absent(self, key: str, value: bytes) -> None:
            created = self.store.set_if_absent(key, value)
            assert created == (key not in self.model)
            if created:
                self.model[key] = value
                self.tokens.pop(key, None)

        @precondition(lambda self: bool(self.model))
        @rule(data=st.data())
        def read_token(self, data: st.DataObject) -> None:
            key = data.draw(st.sampled_from(sorted(self.model)))
            value, token = self.store.get_with_token(key)
            assert value == self.model[key]
            self.tokens[key] = token

        @precondition(lambda self: bool(self.tokens))
        @rule(data=st.data(), value=values)
        def swap_with_fresh_token(self, data: st.DataObject, value: bytes) -> None:
            key = data.draw(st.sampled_from(sorted(self.tokens)))
            token = self.store.compare_and_swap(key, value, self.tokens[key])
            assert token is not None
            self.model[key] = value
            self.tokens[key] = token

        @rule(key=keys, value=values)
        def swap_with_bad_token(self, key: str, value: bytes) -> None:
            assert self.store.compare_and_swap(key, value, "not-a-real-token") is None

        @rule(prefix=prefixes)
        def list(self, prefix: str) -> None:
            assert self.store.list(prefix) == sorted(k for k in self.model if k.startswith(prefix))

        @invariant()
        def keys_match(self) -> None:
            if hasattr(self, "store"):
                assert self.store.list() == sorted(self.model)

        def teardown(self) -> None:
            if hasattr(self, "store"):
                self.store.delete_prefix("")
                self.store.close()

    return StoreMachine
