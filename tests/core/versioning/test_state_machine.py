"""Random sequences of writes and version-control operations against a plain-Python model.

The model keeps, for every commit, the exact contents (tensor name -> samples) it froze, and for
every branch its working contents, last commit and whether anything was written since. After every
step the checked-out version must match the model sample for sample; from time to time (and at the
end of every run) every commit, tag and branch is reopened with ``hub.load`` and compared too:
committed versions never change.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test

import hub
from hub.errors import (
    EmptyCommitError,
    ReadOnlyError,
    TensorExistsError,
    VersionControlError,
)
from tests.core.servers_s3 import S3BucketUrl

Sample = tuple[int, ...]
Contents = dict[str, list[Sample]]

#: Tensor names the machine creates and deletes; "g/e" lives in a group.
NAMES = ("a", "b", "c", "g/e")
MAX_CHUNK_SIZE = 1024  # the minimum: a chunk holds a few samples, so chunk boundaries and copy on write get exercised
MAX_BRANCHES = 4
MAX_TAGS = 3


def _random_sample(length_and_seed: tuple[int, int]) -> list[int]:
    length, seed = length_and_seed
    rng = np.random.default_rng(seed)
    values: list[int] = rng.integers(-(2**63), 2**63 - 1, size=length, dtype=np.int64, endpoint=True).tolist()
    return values


#: A sample's values: small numbers that shrink well, or full-range int64 (lengths drawn evenly up to 40).
VALUES = st.one_of(
    st.lists(st.integers(-1000, 1000), max_size=40),
    st.tuples(st.integers(0, 40), st.integers(0, 2**32 - 1)).map(_random_sample),
)


def _copy(contents: Contents) -> Contents:
    return {name: list(samples) for name, samples in contents.items()}


def _array(values: Sample | list[int]) -> np.ndarray:
    return np.asarray(values, dtype=np.int64).reshape(len(values))


def assert_contents(ds: hub.Dataset, expected: Contents, where: str) -> None:
    """``ds`` holds exactly ``expected``: the same tensors, lengths and every sample's values and dtype."""
    assert sorted(ds.tensors) == sorted(expected), f"{where}: tensors"
    for name, samples in expected.items():
        tensor = ds[name]
        assert len(tensor) == len(samples), f"{where}: length of {name!r}"
        got = tensor.numpy(aslist=True)
        assert all(a.dtype == np.int64 and a.ndim == 1 for a in got), f"{where}: dtype/ndim of {name!r}"
        assert [tuple(a.tolist()) for a in got] == samples, f"{where}: values of {name!r}"
    assert len(ds) == min((len(s) for s in expected.values()), default=0), f"{where}: len(ds)"


@dataclass
class BranchModel:
    contents: Contents = field(default_factory=dict)
    last_commit: str | None = None
    changed: bool = False


class VersionControlMachine(RuleBasedStateMachine):
    """One dataset, one writer object, and the model of what every version must hold."""

    def __init__(self, base: str, creds: dict[str, str] | None = None, verify_on_reopen: bool = True) -> None:
        super().__init__()
        self.verify_on_reopen = verify_on_reopen  # every hub.load on S3 costs ~0.2 s: there, verify at the end only
        suffix = uuid.uuid4().hex
        self.path = f"mem://{suffix}" if base == "mem://" else f"{base.rstrip('/')}/{suffix}"
        self.creds = creds
        self.ds = hub.empty(self.path, creds=creds)
        self.commits: dict[str, Contents] = {}
        self.parents: dict[str, str | None] = {}
        self.branches: dict[str, BranchModel] = {"main": BranchModel()}
        self.tags: dict[str, str] = {}
        self.branch: str | None = "main"  # None while a commit is checked out
        self.detached: str | None = None  # the checked-out commit
        self.counter = itertools.count()

    # ------------------------------------------------------------------ model
    @property
    def head(self) -> BranchModel:
        assert self.branch is not None
        return self.branches[self.branch]

    @property
    def current(self) -> Contents:
        if self.branch is not None:
            return self.head.contents
        assert self.detached is not None
        return self.commits[self.detached]

    def on_branch(self) -> bool:
        return self.branch is not None

    def _chain(self, commit: str | None) -> list[str]:
        out = []
        while commit is not None:
            out.append(commit)
            commit = self.parents[commit]
        return out

    # ---------------------------------------------------------------- writes
    @precondition(on_branch)
    @rule(data=st.data(), count=st.integers(1, 4), then_commit=st.booleans())
    def write(self, data: st.DataObject, count: int, then_commit: bool) -> None:
        """A few data writes in a row, often committed (one rule, so that other rules get their share of steps)."""
        for _ in range(count):
            contents = self.head.contents
            ops = ["create_tensor"] if len(contents) < len(NAMES) else []
            if contents:
                ops += ["append", "extend", "extend_batch", "append_to_all", "delete_tensor", "create_existing_tensor"]
            if any(contents.values()):
                ops.append("update")
            if contents and all(contents.values()):
                ops.append("pop")
            op: Callable[[st.DataObject], None] = getattr(self, data.draw(st.sampled_from(ops), label="write"))
            op(data)
        if then_commit:
            self.commit(allow_empty=False)

    def _name(self, data: st.DataObject, names: list[str] | None = None) -> str:
        return data.draw(st.sampled_from(sorted(self.head.contents) if names is None else names), label="tensor")

    def create_tensor(self, data: st.DataObject) -> None:
        name = self._name(data, sorted(set(NAMES) - set(self.head.contents)))
        self.ds.create_tensor(name, dtype="int64", max_chunk_size=MAX_CHUNK_SIZE)
        self.head.contents[name] = []
        self.head.changed = True

    def create_existing_tensor(self, data: st.DataObject) -> None:
        """Refused, and changes nothing."""
        with pytest.raises(TensorExistsError):
            self.ds.create_tensor(self._name(data), dtype="int64")

    def delete_tensor(self, data: st.DataObject) -> None:
        name = self._name(data)
        self.ds.delete_tensor(name)
        del self.head.contents[name]
        self.head.changed = True

    def append(self, data: st.DataObject) -> None:
        name = self._name(data)
        values = data.draw(VALUES, label="values")
        self.ds[name].append(_array(values))
        self.head.contents[name].append(tuple(values))
        self.head.changed = True

    def extend(self, data: st.DataObject) -> None:
        """Samples of different lengths, encoded one by one."""
        name = self._name(data)
        samples = data.draw(st.lists(VALUES, min_size=1, max_size=8), label="samples")
        self.ds[name].extend([_array(v) for v in samples])
        self.head.contents[name].extend(tuple(v) for v in samples)
        self.head.changed = True

    def extend_batch(self, data: st.DataObject) -> None:
        """A numpy batch of equal-shape samples takes the one-pass path (``append_batch``)."""
        name = self._name(data)
        count, width = data.draw(st.integers(1, 8), label="count"), data.draw(st.integers(0, 40), label="width")
        rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="seed"))
        batch = rng.integers(-(2**63), 2**63 - 1, size=(count, width), dtype=np.int64, endpoint=True)
        self.ds[name].extend(batch)
        self.head.contents[name].extend(tuple(row) for row in batch.tolist())
        self.head.changed = True

    def append_to_all(self, data: st.DataObject) -> None:
        values = {name: data.draw(VALUES, label=name) for name in sorted(self.head.contents)}
        self.ds.append({name: _array(v) for name, v in values.items()})
        for name, v in values.items():
            self.head.contents[name].append(tuple(v))
        self.head.changed = True

    def update(self, data: st.DataObject) -> None:
        name = self._name(data, sorted(n for n, s in self.head.contents.items() if s))
        n = len(self.head.contents[name])
        index = data.draw(st.integers(-n, n - 1), label="index")
        values = data.draw(VALUES, label="values")
        self.ds[name][index] = _array(values)
        self.head.contents[name][index] = tuple(values)
        self.head.changed = True

    def pop(self, data: st.DataObject) -> None:
        n = min(len(s) for s in self.head.contents.values())
        choices: list[int | None] = [None, *range(-n, n)]
        index = data.draw(st.sampled_from(choices), label="index")
        self.ds.pop(index)
        position = n - 1 if index is None else index % n
        for samples in self.head.contents.values():
            del samples[position]
        self.head.changed = True

    # -------------------------------------------------------- version control
    @precondition(on_branch)
    @rule(allow_empty=st.booleans())
    def commit_rule(self, allow_empty: bool) -> None:
        self.commit(allow_empty)

    def commit(self, allow_empty: bool) -> None:
        """Commit; EmptyCommitError exactly when nothing changed since the last commit and allow_empty is false."""
        head = self.head
        if not head.changed and not allow_empty:
            with pytest.raises(EmptyCommitError):
                self.ds.commit("nothing")
            return
        expected_id = self.ds.pending_commit_id
        message = f"commit {next(self.counter)}"
        commit_id = self.ds.commit(message, allow_empty=allow_empty)
        assert commit_id == expected_id
        details = self.ds.get_commit_details(commit_id)
        assert (details["message"], details["branch"], details["parent"]) == (message, self.branch, head.last_commit)
        self._record_commit(commit_id, head)

    def _record_commit(self, commit_id: str, head: BranchModel) -> None:
        assert commit_id not in self.commits, "a commit id was reused"
        self.commits[commit_id] = _copy(head.contents)
        self.parents[commit_id] = head.last_commit
        head.last_commit = commit_id
        head.changed = False

    @rule(data=st.data())
    def checkout(self, data: st.DataObject) -> None:
        """Check out a branch, or a commit or tag (which must then refuse every write)."""
        address = data.draw(st.sampled_from([*sorted(self.branches), *self.commits, *sorted(self.tags)]), label="to")
        if address in self.branches:
            assert self.ds.checkout(address) == self.branches[address].last_commit
            self.branch, self.detached = address, None
            return
        commit_id = self.tags.get(address, address)
        assert self.ds.checkout(address) == commit_id
        self.branch, self.detached = None, commit_id
        self._write_is_refused(data)

    def _write_is_refused(self, data: st.DataObject) -> None:
        contents = self.current
        writes: dict[str, Callable[[], object]] = {
            "create_tensor": lambda: self.ds.create_tensor("new", dtype="int64"),
            "commit": lambda: self.ds.commit(allow_empty=True),
            "reset": self.ds.reset,
        }
        if contents:
            name = sorted(contents)[0]
            writes["append"] = lambda: self.ds[name].append(_array([1, 2]))
            writes["append_to_all"] = lambda: self.ds.append({n: _array([1]) for n in contents})
            writes["delete_tensor"] = lambda: self.ds.delete_tensor(name)
        nonempty = sorted(n for n, s in contents.items() if s)
        if nonempty:
            writes["update"] = lambda: self.ds[nonempty[0]].__setitem__(0, _array([7]))
        if contents and all(contents.values()):
            writes["pop"] = lambda: self.ds.pop(0)
        kind = data.draw(st.sampled_from(sorted(writes)), label="refused write")
        with pytest.raises(VersionControlError, match="create=True"):
            writes[kind]()

    @rule(data=st.data())
    def create_branch(self, data: st.DataObject) -> None:
        """A new branch from the checked-out version; an existing name is refused."""
        existing = len(self.branches) >= MAX_BRANCHES or data.draw(st.booleans(), label="existing name")
        if existing:
            name = data.draw(st.sampled_from(sorted(self.branches)), label="branch")
            with pytest.raises(VersionControlError, match="already names a branch"):
                self.ds.checkout(name, create=True)
            return
        name = f"b{next(self.counter)}"
        if self.branch is not None:
            head = self.head
            if head.changed:  # uncommitted changes are committed first, on the branch they were made on
                auto_commit = self.ds.pending_commit_id
                assert self.ds.checkout(name, create=True) == auto_commit
                self._record_commit(auto_commit, head)
            else:
                assert self.ds.checkout(name, create=True) == head.last_commit
            base = head.last_commit
        else:
            base = self.detached
            assert self.ds.checkout(name, create=True) == base
        self.branches[name] = BranchModel(_copy(self.commits[base]) if base is not None else {}, base, False)
        self.branch, self.detached = name, None

    @precondition(lambda self: len(self.tags) < MAX_TAGS)
    @rule(data=st.data())
    def tag(self, data: st.DataObject) -> None:
        """Tag the current version's last commit (an error when there is none), or a given commit."""
        name = f"t{next(self.counter)}"
        explicit = data.draw(st.none() | st.sampled_from(list(self.commits)), label="commit") if self.commits else None
        if explicit is not None:
            assert self.ds.tag(name, explicit) == explicit
            target = explicit
        else:
            last = self.head.last_commit if self.branch is not None else self.detached
            if last is None:
                with pytest.raises(VersionControlError, match="no commit"):
                    self.ds.tag(name)
                return
            assert self.ds.tag(name) == last
            target = last
        self.tags[name] = target
        with pytest.raises(VersionControlError, match="already"):
            self.ds.tag(name, target)

    @precondition(on_branch)
    @rule()
    def reset(self) -> None:
        head = self.head
        self.ds.reset()
        head.contents = _copy(self.commits[head.last_commit]) if head.last_commit is not None else {}
        head.changed = False

    @rule(data=st.data())
    def reopen(self, data: st.DataObject) -> None:
        """Close the writer and open the same version again; then reopen every version read-only."""
        old = self.ds
        old.close()
        with pytest.raises(ReadOnlyError):
            old.create_tensor("after_close", dtype="int64")
        if self.branch == "main" and data.draw(st.booleans(), label="default version"):
            self.ds = hub.load(self.path, creds=self.creds)
        else:
            self.ds = hub.load(self.path, creds=self.creds, version=self.branch or self.detached)
        if self.verify_on_reopen:
            self.check_every_version()

    # ------------------------------------------------------------- checking
    @invariant()
    def checkout_matches_model(self) -> None:
        ds = self.ds
        assert ds.branch == self.branch
        expected_commit = self.head.last_commit if self.branch is not None else self.detached
        assert ds.commit_id == expected_commit
        assert ds.has_head_changes == (self.branch is not None and self.head.changed)
        assert [c["commit"] for c in ds.commits] == self._chain(expected_commit)
        assert ds.branches == sorted(self.branches)
        assert ds.tags == dict(sorted(self.tags.items()))
        assert_contents(ds, self.current, f"checkout {self.branch or self.detached}")

    def check_every_version(self) -> None:
        """Reopen every commit, tag and branch read-only: each holds what the model says."""
        for commit_id, contents in self.commits.items():
            ds = hub.load(self.path, read_only=True, creds=self.creds, version=commit_id)
            assert (ds.branch, ds.commit_id) == (None, commit_id)
            assert_contents(ds, contents, f"commit {commit_id}")
        for name, commit_id in self.tags.items():
            assert_contents(
                hub.load(self.path, read_only=True, creds=self.creds, version=name),
                self.commits[commit_id],
                f"tag {name}",
            )
        for name, branch in self.branches.items():
            ds = hub.load(self.path, read_only=True, creds=self.creds, version=name)
            assert ds.commit_id == branch.last_commit
            assert_contents(ds, branch.contents, f"branch {name} (reopened)")

    def teardown(self) -> None:
        try:
            self.check_every_version()
        finally:
            self.ds.close()


def run_machine(base: str, creds: dict[str, str] | None = None, remote: bool = False) -> None:
    class Machine(VersionControlMachine):
        def __init__(self) -> None:
            super().__init__(base, creds, verify_on_reopen=not remote)

    run_state_machine_as_test(
        Machine,
        settings=settings(
            max_examples=8 if remote else 40,
            stateful_step_count=15 if remote else 30,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        ),
    )


def test_state_machine_memory() -> None:
    run_machine("mem://")


def test_state_machine_local(tmp_path: Path) -> None:
    run_machine(str(tmp_path))


def test_state_machine_s3(s3_bucket_url: S3BucketUrl) -> None:
    url, creds = s3_bucket_url
    run_machine(url, creds, remote=True)


# ------------------------------------------------------------------------------------ known bugs
# Each test below is a minimal reproduction of a bug the machine found, kept as a regression test (all are fixed).


def test_delete_tensor_keeps_committed_and_other_branches_data() -> None:
    """Deleting a tensor removes it from the working version only (the machine found this bug; now fixed)."""
    path = f"mem://{uuid.uuid4().hex}"
    ds = hub.empty(path)
    ds.create_tensor("x", dtype="int64")
    ds.x.append(_array([1, 2, 3]))
    first = ds.commit()
    ds.checkout("alt", create=True)
    ds.delete_tensor("x")
    assert_contents(hub.load(path, read_only=True, version=first), {"x": [(1, 2, 3)]}, "commit")
    assert_contents(hub.load(path, read_only=True, version="main"), {"x": [(1, 2, 3)]}, "main")
    ds.reset()  # the deletion was never committed: the tensor is back
    assert_contents(ds, {"x": [(1, 2, 3)]}, "after reset")


def test_pop_back_to_an_older_index_keeps_that_commit() -> None:
    path = f"mem://{uuid.uuid4().hex}"
    ds = hub.empty(path)
    ds.create_tensor("x", dtype="int64", max_chunk_size=MAX_CHUNK_SIZE)
    ds.x.append(_array([1]))
    first = ds.commit()
    ds.x.append(_array([2]))  # a new chunk: samples of a commit are never appended to
    ds.commit()
    ds.pop()  # the index is now byte for byte the first commit's
    ds.x.append(_array([3]))  # a new index; the previous one is deleted as garbage
    assert_contents(hub.load(path, read_only=True, version=first), {"x": [(1,)]}, "first commit")


def test_two_branches_popping_alike_keep_their_indexes() -> None:
    path = f"mem://{uuid.uuid4().hex}"
    ds = hub.empty(path)
    ds.create_tensor("x", dtype="int64", max_chunk_size=MAX_CHUNK_SIZE)
    ds.x.append(_array([1]))
    ds.commit()
    ds.checkout("alt", create=True)
    ds.pop()  # an empty index
    alt = ds.commit()
    ds.checkout("main")
    ds.pop()  # the same empty index, so the same key
    ds.x.append(_array([3]))  # main replaces its index and deletes the previous one: alt's
    ds.checkout("alt")
    ds.x.append(_array([4]))  # alt's working node starts from the index its commit names
    assert_contents(ds, {"x": [(4,)]}, "alt")
    assert_contents(hub.load(path, read_only=True, version=alt), {"x": []}, "alt's commit")


def test_refused_branch_creation_commits_nothing() -> None:
    ds = hub.empty(f"mem://{uuid.uuid4().hex}")
    ds.create_tensor("x", dtype="int64")
    ds.checkout("alt", create=True)
    ds.x.append(_array([1]))
    with pytest.raises(VersionControlError, match="already names a branch"):
        ds.checkout("main", create=True)
    assert ds.has_head_changes
    assert len(ds.commits) == 1


def test_branch_name_may_not_shadow_a_tag() -> None:
    ds = hub.empty(f"mem://{uuid.uuid4().hex}")
    ds.create_tensor("x", dtype="int64")
    ds.tag("v1", ds.commit())
    with pytest.raises(VersionControlError):
        ds.checkout("v1", create=True)
