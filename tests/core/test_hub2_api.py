"""Hub 2.8.5's calls: copy/deepcopy, delete/exists/like/rename, read(creds, storage), compute(name), Dataset.copy/
delete/rename, Tensor.data/extend(progressbar)/modified_samples."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

import hub
from hub.errors import (
    DatasetExistsError,
    DatasetNotFoundError,
    HubError,
    ReadOnlyError,
    SchedulerError,
    StorageError,
    TensorNotFoundError,
    VersionControlError,
)
from hub.storage import storage_from_url


def _jpeg(path: Path, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 255, (24, 32, 3), dtype=np.uint8)).save(path, quality=85)
    return path


def _source(path: str, tmp_path: Path) -> hub.Dataset:
    """A dataset with two commits, a branch and a tag; tensors images (jpeg), g/x (raw, one tiled sample), labels."""
    ds = hub.empty(path)
    ds.create_tensor("images", htype="image", sample_compression="jpeg")
    ds.create_tensor("g/x", dtype="float32", max_chunk_size=4096)
    ds.create_tensor("labels", htype="class_label", class_names=["a", "b"])
    with ds:
        for i in range(6):
            ds.images.append(hub.read(_jpeg(tmp_path / f"{i}.jpg", i)))
        ds.g.x.extend(np.arange(6 * 20, dtype="float32").reshape(6, 4, 5))
        ds.labels.extend([0, 1, 1, 0, 1, 0])
    ds.g.x.append(np.ones((40, 40), dtype="float32"))  # larger than a chunk: tiled
    ds.commit("first")
    ds.tag("v1")
    ds.g.x[1] = np.full((4, 5), -1, dtype="float32")
    ds.labels.append(1)
    ds.commit("second")
    ds.checkout("alt", create=True)
    ds.labels.append(0)
    ds.commit("on alt")
    ds.checkout("main")
    ds.images.append(hub.read(tmp_path / "0.jpg"))  # uncommitted
    return ds


def _stored(t: hub.Tensor) -> list[bytes]:
    return [t[i].tobytes() if t.sample_compression else t[i].numpy().tobytes() for i in range(len(t))]


def _same(a: hub.Dataset, b: hub.Dataset, names: list[str] | None = None) -> None:
    for name in names or list(a.tensors):
        assert _stored(a[name]) == _stored(b[name]), name


def test_copy_is_the_current_version_without_history(tmp_path: Path) -> None:
    src = _source(str(tmp_path / "src"), tmp_path)
    out = hub.copy(str(tmp_path / "src"), str(tmp_path / "out"), progressbar=False)
    assert sorted(out.tensors) == ["g/x", "images", "labels"]
    _same(src, out)
    assert out.commits == [] and out.branches == ["main"] and out.tags == {}
    assert out.has_head_changes
    assert out.labels.info.class_names == ["a", "b"]
    # A new dataset like any: written, committed, and the source untouched by that.
    out.labels.append(1)
    out.g.x[0] = np.zeros((4, 5), dtype="float32")
    out.commit("on the copy")
    assert len(hub.load(str(tmp_path / "src"), read_only=True).labels) == 7
    assert hub.load(str(tmp_path / "src"), read_only=True).g.x[0].numpy().sum() == sum(range(20))


def test_copy_of_a_checked_out_commit_and_tensors_selection(tmp_path: Path) -> None:
    src = _source(str(tmp_path / "src"), tmp_path)
    first = src.commits[-1]["commit"]
    old = hub.load(str(tmp_path / "src"), read_only=True, version=first)
    out = old.copy(str(tmp_path / "out"), tensors=["g", "labels"], progressbar=False)
    assert sorted(out.tensors) == ["g/x", "labels"]
    assert list(out.groups) == ["g"]
    _same(old, out, ["g/x", "labels"])
    assert len(out.labels) == 6
    with pytest.raises(TensorNotFoundError, match="nope"):
        src.copy(str(tmp_path / "bad"), tensors=["nope"], progressbar=False)
    assert not hub.exists(str(tmp_path / "bad"))


def test_copy_of_a_view_and_of_a_group(tmp_path: Path) -> None:
    src = _source(str(tmp_path / "src"), tmp_path)
    view = src[[6, 0, 3]]  # sample 6 of g/x is tiled
    out = view.copy(str(tmp_path / "view"), progressbar=False)
    assert len(out) == 3
    for name in ("images", "g/x", "labels"):
        assert _stored(out[name]) == [_stored(src[name])[i] for i in (6, 0, 3)]
    assert np.array_equal(out.g.x[0].numpy(), np.ones((40, 40), dtype="float32"))
    group = src.g.copy(str(tmp_path / "group"), progressbar=False)
    assert list(group.tensors) == ["x"]
    assert _stored(group.x) == _stored(src.g.x)


def test_deepcopy_keeps_every_version(tmp_path: Path) -> None:
    src = _source(str(tmp_path / "src"), tmp_path)
    out = hub.deepcopy(str(tmp_path / "src"), str(tmp_path / "out"), num_workers=3, progressbar=True)
    assert out.branches == ["alt", "main"] and out.tags == src.tags
    assert [c["commit"] for c in out.commits] == [c["commit"] for c in src.commits]
    _same(src, out)
    for version in ("alt", "v1", src.commits[0]["commit"]):
        a = hub.load(str(tmp_path / "src"), read_only=True, version=version)
        b = hub.load(str(tmp_path / "out"), read_only=True, version=version)
        _same(a, b)
    assert out.diff(as_dict=True) == src.diff(as_dict=True)


def test_deepcopy_tensors_selects_in_every_version(tmp_path: Path) -> None:
    src = _source(str(tmp_path / "src"), tmp_path)
    src.rename_tensor("labels", "classes")
    src.commit("renamed")
    hub.deepcopy(src, str(tmp_path / "out"), tensors=["classes"], progressbar=False)
    for version in ("main", "alt", "v1"):
        a = hub.load(str(tmp_path / "src"), read_only=True, version=version)
        b = hub.load(str(tmp_path / "out"), read_only=True, version=version)
        kept = [n for n in a.tensors if n in ("labels", "classes")]
        assert sorted(b.tensors) == kept and b.meta.groups == []
        _same(a, b, kept)
    store = storage_from_url(str(tmp_path / "out"))
    image_id = src.images.meta.id
    assert not store.list(f"chunks/{image_id}/") and not store.list(f"indexes/{image_id}/")


def test_copy_between_local_and_s3(tmp_path: Path, s3_bucket_url: Any) -> None:
    url, creds = s3_bucket_url
    src = _source(str(tmp_path / "src"), tmp_path)
    remote = hub.deepcopy(src, url, dest_creds=creds, progressbar=False)
    assert hub.exists(url, creds=creds, token=None)
    _same(src, remote)
    assert [c["commit"] for c in remote.commits] == [c["commit"] for c in src.commits]
    back = hub.copy(url, str(tmp_path / "back"), src_creds=creds, tensors=["images"], progressbar=False)
    assert list(back.tensors) == ["images"] and back.commits == []
    _same(src, back, ["images"])


def _block(dest: Path, key: str) -> None:
    """Make writing ``key`` (and anything under it) at ``dest`` fail: a file where the storage needs a directory."""
    where = dest / key
    where.parent.mkdir(parents=True, exist_ok=True)
    where.write_bytes(b"in the way")


@pytest.mark.parametrize("how", ["copy", "view", "deepcopy"])
def test_an_interrupted_copy_is_no_dataset_and_loses_nothing(tmp_path: Path, how: str) -> None:
    src = _source(str(tmp_path / "src"), tmp_path)
    before = {n: _stored(t) for n, t in src.tensors.items()}
    dest = tmp_path / "dest"
    # Fails after some objects are written: the labels' chunk index (copy, deepcopy) or chunks (view) come late.
    blocked = f"{'chunks' if how == 'view' else 'indexes'}/{src.labels.meta.id}"
    _block(dest, blocked)
    run = {
        "copy": lambda: hub.copy(src, str(dest), progressbar=False),
        "view": lambda: src[1:5].copy(str(dest), progressbar=False),
        "deepcopy": lambda: hub.deepcopy(src, str(dest), progressbar=False),
    }[how]
    with pytest.raises(StorageError):
        run()
    assert any(p.is_file() for p in (dest / "chunks").rglob("*"))  # it got part of the way
    assert not hub.exists(str(dest))
    with pytest.raises(DatasetNotFoundError):
        hub.load(str(dest), read_only=True)
    again = hub.load(str(tmp_path / "src"), read_only=True)
    assert {n: _stored(t) for n, t in again.tensors.items()} == before
    assert len(again.commits) == 2
    # With the obstacle gone, the same copy succeeds over what the failed one left.
    (dest / blocked).unlink()
    out = hub.deepcopy(src, str(dest), progressbar=False)
    _same(src, out)


def test_copy_refuses_an_existing_dataset_and_itself(tmp_path: Path) -> None:
    src = _source(str(tmp_path / "src"), tmp_path)
    other = hub.empty(str(tmp_path / "other"))
    other.create_tensor("y")
    other.close()
    with pytest.raises(DatasetExistsError, match="overwrite=True"):
        hub.copy(src, str(tmp_path / "other"), progressbar=False)
    assert list(hub.load(str(tmp_path / "other"), read_only=True).tensors) == ["y"]
    out = hub.copy(src, str(tmp_path / "other"), overwrite=True, progressbar=False)
    assert sorted(out.tensors) == ["g/x", "images", "labels"]
    with pytest.raises(DatasetExistsError, match="onto itself"):
        hub.deepcopy(src, str(tmp_path / "src"), overwrite=True, progressbar=False)
    with pytest.raises(SchedulerError, match="scheduler"):
        hub.copy(src, str(tmp_path / "x"), scheduler="dask", progressbar=False)
    assert issubclass(SchedulerError, HubError)


def test_delete_exists_rename_keywords(tmp_path: Path) -> None:
    path = str(tmp_path / "a")
    ds = _source(path, tmp_path)
    ds.close()
    moved = hub.rename(old_path=path, new_path=str(tmp_path / "b"), creds=None, token=None)
    assert moved.path == str(tmp_path / "b")
    assert not hub.exists(path, token=None) and hub.exists(str(tmp_path / "b"))
    assert len(moved.commits) == 2 and moved.branches == ["alt", "main"]
    again = hub.rename(str(tmp_path / "b"), str(tmp_path / "c"))  # positionally too
    again.labels.append(0)
    assert len(hub.load(str(tmp_path / "c"), read_only=True).labels) == 8
    again.close()
    hub.delete(str(tmp_path / "c"), force=False, large_ok=True, creds=None, token=None, verbose=True)
    assert not hub.exists(str(tmp_path / "c"))
    with pytest.raises(DatasetNotFoundError, match="force=True"):
        hub.delete(str(tmp_path / "c"))


def test_dataset_rename_and_delete(tmp_path: Path) -> None:
    ds = _source(str(tmp_path / "a"), tmp_path)
    images = _stored(ds.images)
    ds.rename(str(tmp_path / "b"))
    assert ds.path == str(tmp_path / "b") and not hub.exists(str(tmp_path / "a"))
    assert _stored(ds.images) == images and ds.branch == "main"
    ds.labels.append(1)  # still writable, there
    assert len(hub.load(str(tmp_path / "b"), read_only=True).labels) == 8
    hub.empty(str(tmp_path / "taken")).close()
    with pytest.raises(DatasetExistsError):
        ds.rename(str(tmp_path / "taken"))
    reader = hub.load(str(tmp_path / "b"), read_only=True)
    with pytest.raises(ReadOnlyError, match="read_only=False"):
        reader.delete()
    ds.delete(large_ok=False)
    assert not hub.exists(str(tmp_path / "b"))


def test_like_with_tensors(tmp_path: Path) -> None:
    src = _source(str(tmp_path / "src"), tmp_path)
    out = hub.like(str(tmp_path / "like"), src, tensors=["g", "labels"], token=None, public=False)
    assert sorted(out.tensors) == ["g/x", "labels"] and len(out) == 0
    assert out.labels.info.class_names == ["a", "b"] and out.g.x.meta.max_chunk_size == 4096
    into = hub.empty(str(tmp_path / "into"))
    hub.like(into, src, tensors=["images"])
    assert list(into.tensors) == ["images"] and into.images.sample_compression == "jpeg"


def test_read_from_s3_with_creds_and_from_a_storage(tmp_path: Path, s3_bucket_url: Any) -> None:
    url, creds = s3_bucket_url
    data = _jpeg(tmp_path / "a.jpg").read_bytes()
    bucket = storage_from_url(url, creds=creds)
    bucket.set("images/a.jpg", data)
    sample = hub.read(f"{url}/images/a.jpg", creds=creds)
    assert sample.compression == "jpeg" and sample.buffer == data and sample.shape == (24, 32, 3)
    assert hub.read("images/a.jpg", storage=bucket).buffer == data
    assert hub.read(f"{url}/images/a.jpg", storage=bucket, verify=True).buffer == data
    with pytest.raises(FileNotFoundError, match="no object"):
        hub.read(f"{url}/images/missing.jpg", creds=creds)
    with pytest.raises(HubError, match="not under the storage"):
        hub.read("s3://elsewhere/a.jpg", storage=bucket)
    ds = hub.empty(str(tmp_path / "ds"))
    ds.create_tensor("images", htype="image", sample_compression="jpeg")
    ds.images.append(hub.read(f"{url}/images/a.jpg", creds=creds))
    assert ds.images[0].tobytes() == data  # stored verbatim


@hub.compute
def _double(x: Any, samples_out: Any) -> None:
    samples_out.y.append(np.asarray([x * 2]))


def test_compute_name(capsys: pytest.CaptureFixture[str]) -> None:
    def triple(x: Any, samples_out: Any) -> None:
        samples_out.y.append(np.asarray([x * 3]))

    named = hub.compute(triple, name="tripling")
    assert named.name == "tripling" and _double.name == "_double"
    ds = hub.empty("mem://compute-name")
    ds.create_tensor("y")
    named().eval([1, 2], ds, progressbar=True)
    assert "tripling" in capsys.readouterr().err
    assert ds.y.numpy()[:, 0].tolist() == [3, 6]


def test_tensor_data_as_hub2(tmp_path: Path) -> None:
    ds = hub.empty(str(tmp_path / "ds"))
    ds.create_tensor("labels", htype="class_label", class_names=["a", "b"])
    ds.create_tensor("images", htype="image", sample_compression="png")
    ds.create_tensor("t", htype="text")
    ds.create_tensor("x")
    ds.labels.extend([0, 1, 1])
    ds.images.extend([np.zeros((4, 5, 3), dtype="uint8"), np.ones((6, 5, 3), dtype="uint8")])
    ds.t.extend(["hi", "there"])
    ds.x.extend(np.arange(6).reshape(3, 2))
    labels = ds.labels.data()
    assert isinstance(labels["value"], np.ndarray) and labels["value"].shape == (3, 1)
    assert labels["text"] == [["a"], ["b"], ["b"]]
    assert ds.labels[1].data()["text"] == ["b"]
    assert isinstance(ds.labels.data(aslist=True)["value"], list)
    image = ds.images[1].data()
    assert image["value"].shape == (6, 5, 3) and image["sample_info"]["format"] == "png"
    assert len(ds.images.data(aslist=True)["sample_info"]) == 2
    assert ds.t.data() == {"value": ["hi", "there"]} and ds.t[0].data() == {"value": "hi"}
    x = ds.x.data()
    assert set(x) == {"value"} and x["value"].tolist() == [[0, 1], [2, 3], [4, 5]]


def test_extend_with_progressbar(capsys: pytest.CaptureFixture[str]) -> None:
    ds = hub.empty("mem://extend-bar")
    ds.create_tensor("x")
    ds.x.extend(np.arange(1000).reshape(500, 2), progressbar=True)
    assert "500/500" in capsys.readouterr().err
    assert ds.x.numpy()[:, 0].tolist() == list(range(0, 1000, 2))
    ds.x.extend([np.zeros(2), np.zeros(2)], progressbar=False)
    assert len(ds.x) == 502 and capsys.readouterr().err == ""


def test_modified_samples(tmp_path: Path) -> None:
    ds = hub.empty(str(tmp_path / "ds"))
    ds.create_tensor("x")
    ds.x.extend(np.arange(10).reshape(5, 2))
    view, indexes = ds.x.modified_samples(return_indexes=True)
    assert indexes == [0, 1, 2, 3, 4] and len(view) == 5
    first = ds.commit("first")
    assert ds.x.modified_samples(return_indexes=True)[1] == []
    ds.x[3] = np.array([30, 30])
    ds.x.pop(0)  # shifts: the update is now at 2
    ds.x.append(np.array([77, 77]))
    assert ds.x.modified_samples(return_indexes=True)[1] == [2, 4]
    second = ds.commit("second")
    ds.x[0] = np.array([9, 9])
    ds.x.pop(2)  # the update of "second" is gone
    view, indexes = ds.x.modified_samples(first, return_indexes=True)
    assert indexes == [0, 3]
    assert view.numpy().tolist() == [[9, 9], [77, 77]]
    assert ds.x.modified_samples(second, return_indexes=True)[1] == [0]
    assert ds.x.modified_samples(target_id=first).numpy().tolist() == [[9, 9], [77, 77]]
    ds.commit("third")
    ds.checkout("side", create=True)
    with pytest.raises(VersionControlError):
        ds.x.modified_samples("nope")
    ds.x.append(np.array([1, 1]))
    ds.commit("on side")
    ds.checkout("main")
    ds.x.append(np.array([2, 2]))
    with pytest.raises(VersionControlError, match="descends from"):
        ds.x.modified_samples("side")
    old = hub.load(str(tmp_path / "ds"), read_only=True, version=second)
    assert old.x.modified_samples(return_indexes=True)[1] == [2, 4]
