"""Commits, branches, tags, checkout, log and reset; committed versions never change."""

from __future__ import annotations

import uuid
from pathlib import Path

import numpy as np
import pytest

import hub
from hub.errors import DatasetIndexError, EmptyCommitError, VersionControlError


def _values(ds: hub.Dataset) -> list[int]:
    return ds.x.numpy()[:, 0].tolist() if len(ds.x) else []


def test_commit_checkout_and_immutability(path: str) -> None:
    ds = hub.empty(path)
    ds.create_tensor("x", dtype="int64", max_chunk_size=1024)
    ds.x.extend(np.arange(100).reshape(100, 1))
    assert ds.has_head_changes
    first = ds.commit("first 100")
    assert ds.commit_id == first
    assert not ds.has_head_changes
    ds.x.extend(np.arange(100, 150).reshape(50, 1))
    ds.x[3] = [-3]
    ds.pop(0)
    second = ds.commit("more")
    ds.x.append([999])
    assert ds.has_head_changes

    old = hub.load(path, read_only=True, version=first)
    assert _values(old) == list(range(100))
    assert _values(hub.load(f"{path}@{second}", read_only=True)) == [1, 2, -3, *range(4, 150)]
    ds.checkout(first)
    assert ds.branch is None
    assert _values(ds) == list(range(100))
    with pytest.raises(VersionControlError, match="create=True"):
        ds.x.append([1])
    ds.checkout("main")
    assert _values(ds)[-1] == 999
    assert [c["commit"] for c in ds.commits] == [second, first]
    assert ds.get_commit_details(first)["message"] == "first 100"


def test_empty_commit_refused(path: str) -> None:
    ds = hub.empty(path)
    ds.create_tensor("x")
    ds.commit("created x")
    with pytest.raises(EmptyCommitError, match="allow_empty=True"):
        ds.commit()
    assert ds.commit(allow_empty=True) != ds.commits[1]["commit"]


def test_branches_diverge(path: str) -> None:
    ds = hub.empty(path)
    ds.create_tensor("x", dtype="int64")
    ds.x.extend(np.arange(5).reshape(5, 1))
    base = ds.commit("base")
    ds.checkout("alt", create=True)
    assert ds.branch == "alt"
    ds.x.append([100])
    ds.commit("alt work")
    ds.checkout("main")
    ds.x.append([200])
    assert _values(ds) == [0, 1, 2, 3, 4, 200]
    ds.checkout("alt")
    assert _values(ds) == [0, 1, 2, 3, 4, 100]
    assert ds.branches == ["alt", "main"]
    assert ds.commits[-1]["commit"] == base
    with pytest.raises(VersionControlError, match="already names a branch"):
        ds.checkout("main", create=True)
    with pytest.raises(VersionControlError, match="not a branch"):
        ds.checkout("nope")


def test_branch_from_dirty_head_commits_first(path: str) -> None:
    ds = hub.empty(path)
    ds.create_tensor("x", dtype="int64")
    ds.x.append([1])
    ds.checkout("feature", create=True)
    assert ds.commits[0]["message"] == "auto-commit before creating branch 'feature'"
    ds.x.append([2])
    ds.checkout("main")
    assert _values(ds) == [1]


def test_tags(path: str) -> None:
    ds = hub.empty(path)
    ds.create_tensor("x", dtype="int64")
    ds.x.append([1])
    c1 = ds.commit("v1")
    ds.tag("v1.0")
    ds.x.append([2])
    ds.commit("v2")
    assert ds.tags == {"v1.0": c1}
    assert _values(hub.load(path, read_only=True, version="v1.0")) == [1]
    with pytest.raises(VersionControlError, match="already names"):
        ds.tag("v1.0")


def test_reset_drops_uncommitted(path: str) -> None:
    ds = hub.empty(path)
    ds.create_tensor("x", dtype="int64")
    ds.x.append([1])
    ds.commit("one")
    ds.x.append([2])
    ds.create_tensor("y")
    ds.reset()
    assert _values(ds) == [1]
    assert list(ds.tensors) == ["x"]
    assert not ds.has_head_changes
    assert _values(hub.load(path, read_only=True)) == [1]


def test_log_prints_and_returns(path: str, capsys: pytest.CaptureFixture[str]) -> None:
    ds = hub.empty(path)
    ds.create_tensor("x")
    c1 = ds.commit("create x")
    ds.x.append(1)
    c2 = ds.commit("append")
    history = ds.log()
    out = capsys.readouterr().out
    assert [h["commit"] for h in history] == [c2, c1]
    assert f"commit {c2} (HEAD -> main)" in out
    assert "    create x" in out


def test_commit_costs_what_changed(tmp_path: Path) -> None:
    path = str(tmp_path / "ds")
    ds = hub.empty(path)
    ds.create_tensor("x", dtype="uint8", max_chunk_size=4096)
    ds.x.extend(np.zeros((2000, 64), dtype="uint8"))
    ds.commit("big")
    keys_before = set(ds.storage.list())
    ds.x[5] = np.ones(64, dtype="uint8")
    ds.commit("one sample")
    added = set(ds.storage.list()) - keys_before
    # one new chunk, one new index, the committed node's commit.json, the new working node's meta, its lock refresh
    assert len([k for k in added if k.startswith("chunks/")]) == 1
    assert len(added) <= 5
    assert keys_before - set(ds.storage.list()) == set()  # nothing a commit names is ever deleted


def test_hub2_tensor_pop_and_clear_are_versioned() -> None:
    ds = hub.empty(f"mem://{uuid.uuid4().hex}")
    ds.create_tensor("x", dtype="int64", max_chunk_size=1024)
    ds.create_tensor("y", dtype="int64")
    ds.x.extend(np.arange(5).reshape(5, 1))
    ds.y.extend(np.arange(5).reshape(5, 1))
    base = ds.commit("base")
    ds.x.pop(1)
    ds.x.pop()
    assert [v.tolist() for v in ds.x.numpy(aslist=True)] == [[0], [2], [3]]
    assert len(ds.y) == 5  # only that tensor
    ds.y.clear()
    assert len(ds.y) == 0 and ds.y.meta.dtype == "int64"
    ds.y.append(np.array([9]))
    ds.commit("pop and clear")
    ds.checkout(base)
    assert len(ds.x) == 5 and len(ds.y) == 5  # the commit kept what it named
    ds.checkout("main")
    assert ds.y.numpy().tolist() == [[9]]
    with pytest.raises(DatasetIndexError):
        ds.x.pop(7)
    with pytest.raises(DatasetIndexError, match="whole tensor"):
        ds.x[0:2].clear()
