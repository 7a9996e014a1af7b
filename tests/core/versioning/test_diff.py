"""ds.diff: what changed on each side since the common ancestor, at the size of the changes."""

from __future__ import annotations

import uuid
from pathlib import Path

import numpy as np
import pytest

import hub


def _ds() -> hub.Dataset:
    ds = hub.empty(f"mem://{uuid.uuid4().hex}")
    ds.create_tensor("x", dtype="int64")
    ds.x.extend(np.arange(10).reshape(10, 1))
    return ds


def test_working_changes() -> None:
    ds = _ds()
    first = ds.commit("base")
    ds.x.extend(np.arange(3).reshape(3, 1))
    ds.x[2] = [20]
    ds.x[11] = [5]  # an added sample: stays "added"
    ds.pop(4)
    ds.x[5] = [50]  # index 5 now is the parent's sample 6
    ds.info.update(note="hi")
    ds.create_tensor("y")
    result = ds.diff(as_dict=True)
    assert result["ancestor"] == first
    (change,) = result["a"]["changes"]
    assert change["commit"] == ds.pending_commit_id
    x = change["tensors"]["x"]
    assert x["data_added"] == [9, 12]
    assert x["data_updated"] == [2, 6]
    assert x["data_deleted"] == [4]
    assert change["tensors"]["y"]["created"]
    assert change["dataset"]["info_updated"]
    assert result["b"]["changes"] == []


def test_between_branches_via_ancestor(capsys: pytest.CaptureFixture[str]) -> None:
    ds = _ds()
    base = ds.commit("base")
    ds.checkout("alt", create=True)
    ds.x.append([100])
    alt_commit = ds.commit("alt append")
    ds.checkout("main")
    ds.x[0] = [-1]
    ds.rename_tensor("x", "z")
    main_commit = ds.commit("main update")
    result = ds.diff(alt_commit, main_commit, as_dict=True)
    assert result["ancestor"] == base
    assert [c["commit"] for c in result["a"]["changes"]] == [alt_commit]
    assert result["a"]["changes"][0]["tensors"]["x"]["data_added"] == [10, 11]
    assert result["b"]["changes"][0]["tensors"]["z"]["data_updated"] == [0]
    assert result["b"]["changes"][0]["dataset"]["renamed_tensors"] == {"z": "x"}
    ds.diff("alt")
    out = capsys.readouterr().out
    assert "1 samples added [10:11]" in out
    assert "renamed to 'z'" in out


def test_rolled_back_write_records_nothing() -> None:
    ds = _ds()
    ds.commit("base")
    with pytest.raises(hub.errors.SampleDtypeError):
        ds.x.append(np.array([1.5]))
    assert ds.diff(as_dict=True)["a"]["changes"][0]["tensors"] == {}


def test_diff_reads_only_the_versions_since_the_common_ancestor(tmp_path: Path) -> None:
    import hub.core.versioning as versioning
    from hub.core.meta import node_meta_key

    path = str(tmp_path / "ds")
    ds = hub.empty(path)
    ds.create_tensor("x")
    old = []
    for i in range(6):
        ds.x.append(i)
        old.append(ds.commit(f"c{i}"))
    ds.checkout("alt", create=True)
    ds.x.append(100)
    ds.commit("on alt")
    ds.checkout("main")
    ds.x[0] = 7
    ds.close()
    # The oldest versions' metadata is gone: a diff that walked the whole history would fail on it.
    for node in old[:4]:
        (tmp_path / "ds" / node_meta_key(node)).unlink()
    versioning._COMMITTED.clear()
    ds = hub.load(path, read_only=True)
    working = ds.diff(as_dict=True)
    assert working["ancestor"] == old[-1] and working["b"]["changes"] == []
    assert working["a"]["changes"][0]["tensors"]["x"]["data_updated"] == [0]
    branches = ds.diff("alt", as_dict=True)
    assert branches["ancestor"] == old[-1]
    added = [c["tensors"]["x"]["data_added"] for c in branches["b"]["changes"] if "x" in c["tensors"]]
    assert added == [[6, 7]]  # alt's one commit; its empty working node lists nothing
