"""ds.merge: appends on both sides survive; both-sides changes are conflicts unless resolved."""

from __future__ import annotations

import uuid

import numpy as np
import pytest

import hub
from hub.errors import MergeConflictError, VersionControlError


def _values(t: hub.Tensor) -> list[list[int]]:
    return [v.tolist() for v in t.numpy(aslist=True)]


def _base() -> hub.Dataset:
    ds = hub.empty(f"mem://{uuid.uuid4().hex}")
    ds.create_tensor("x", dtype="int64", max_chunk_size=1024)
    ds.x.extend(np.arange(6).reshape(6, 1))
    ds.commit("base")
    return ds


def test_appends_on_both_sides_survive() -> None:
    ds = _base()
    ds.checkout("alt", create=True)
    ds.x.extend([[100], [101]])
    ds.commit("alt adds")
    ds.checkout("main")
    ds.x.append([200])
    ds.commit("main adds")
    merge_commit = ds.merge("alt")
    assert merge_commit is not None
    assert _values(ds.x) == [[0], [1], [2], [3], [4], [5], [200], [100], [101]]
    assert ds.commits[0]["message"] == "Merge alt into main"
    assert ds.merge("alt") is None  # nothing new


@pytest.mark.parametrize("dtype", [None, "int32"])
def test_appends_to_a_tensor_empty_at_the_ancestor(dtype: str | None) -> None:
    ds = hub.empty(f"mem://{uuid.uuid4().hex}")
    ds.create_tensor("x", dtype=dtype)
    ds.create_tensor("images", htype="image", sample_compression="png")
    ds.commit("empty tensors")
    ds.checkout("alt", create=True)
    ds.x.extend(np.arange(6, dtype=np.int32).reshape(2, 3))
    ds.images.append(np.full((4, 5, 3), 9, dtype=np.uint8))
    ds.commit("alt adds")
    ds.checkout("main")
    ds.merge("alt")
    assert _values(ds.x) == [[0, 1, 2], [3, 4, 5]] and ds.x.dtype == np.int32
    assert ds.images[0].numpy().shape == (4, 5, 3) and int(ds.images[0].numpy().max()) == 9


def test_updates_and_pops_from_target_apply() -> None:
    ds = _base()
    ds.checkout("alt", create=True)
    ds.x[1] = [11]
    ds.pop(4)
    ds.commit("alt edits")
    ds.checkout("main")
    ds.x[2] = [22]
    ds.merge("alt")
    assert _values(ds.x) == [[0], [11], [22], [3], [5]]


def test_conflicts_and_resolutions() -> None:
    ds = _base()
    ds.checkout("alt", create=True)
    ds.x[3] = [33]
    ds.commit("alt")
    ds.checkout("main")
    ds.x[3] = [-3]
    ds.commit("main")
    with pytest.raises(MergeConflictError, match=r"'x': \[3\]"):
        ds.merge("alt")
    assert _values(ds.x)[3] == [-3]  # a refused merge changes nothing
    ds.merge("alt", conflict_resolution="ours")
    assert _values(ds.x)[3] == [-3]


def test_theirs_wins_when_asked() -> None:
    ds = _base()
    ds.checkout("alt", create=True)
    ds.x[3] = [33]
    ds.commit("alt")
    ds.checkout("main")
    ds.x[3] = [-3]
    ds.commit("main")
    ds.merge("alt", conflict_resolution="theirs")
    assert _values(ds.x)[3] == [33]


def test_new_tensors_and_info_come_over() -> None:
    ds = _base()
    ds.checkout("alt", create=True)
    ds.create_tensor("labels", htype="class_label", class_names=["a", "b"])
    ds.labels.extend([0, 1, 1])
    ds.x.info.update(units="cm")
    ds.commit("alt")
    ds.checkout("main")
    ds.merge("alt")
    assert ds.labels.numpy()[:, 0].tolist() == [0, 1, 1]
    assert ds.labels.info.class_names == ["a", "b"]
    assert ds.x.info.units == "cm"
    ds.labels.append(0)  # the adopted tensor is writable here, and alt's data stays intact
    ds.checkout("alt")
    assert len(ds.labels) == 3


def test_uncommitted_target_refused() -> None:
    ds = _base()
    ds.checkout("alt", create=True)
    ds.x.append([9])
    ds.checkout("main")
    with pytest.raises(VersionControlError, match="uncommitted"):
        ds.merge("alt")


@pytest.mark.parametrize("delete", [False, True])
def test_deleted_tensor_follows_only_when_asked(delete: bool) -> None:
    ds = _base()
    ds.create_tensor("y")
    ds.y.extend([1, 2, 3, 4, 5, 6])
    ds.commit("y")
    ds.checkout("alt", create=True)
    ds.delete_tensor("y")
    ds.x.append([9])
    ds.commit("drop y")
    ds.checkout("main")
    ds.merge("alt", delete_removed_tensors=delete)
    assert ("y" in ds.tensors) is not delete
    assert _values(ds.x)[-1] == [9]
    ds.checkout(ds.commits[1]["commit"])
    assert ds.y.numpy().tolist() == [1, 2, 3, 4, 5, 6]  # committed data survives either way


def test_hub2_target_id_names_what_to_merge() -> None:
    ds = _base()
    ds.checkout("alt", create=True)
    ds.x.append([7])
    ds.commit("alt adds")
    ds.checkout("main")
    assert ds.merge(target_id="alt") is not None
    assert _values(ds.x)[-1] == [7]
    with pytest.raises(VersionControlError, match="give target"):
        ds.merge()
    with pytest.raises(VersionControlError, match="give target"):
        ds.merge("alt", target_id="alt")
