"""The dataset API: create, append, extend, views, updates, info, groups, reopening."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

import hub
from hub.errors import (
    DatasetExistsError,
    DatasetIndexError,
    DatasetNotFoundError,
    DatasetOptionError,
    DynamicShapeError,
    LengthMismatchError,
    ReadOnlyError,
    SampleDtypeError,
    SampleShapeError,
    TensorExistsError,
    TensorMetaError,
    TensorNotFoundError,
)


def test_create_append_reload(path: str) -> None:
    ds = hub.empty(path)
    ds.create_tensor("x")
    ds.create_tensor("labels", htype="class_label", class_names=["cat", "dog"])
    with ds:
        for i in range(10):
            ds.append({"x": np.full((3, 4), i, dtype="int16"), "labels": i % 2})
    ds = hub.load(path)
    assert len(ds) == 10
    np.testing.assert_array_equal(ds.x[3].numpy(), np.full((3, 4), 3, dtype="int16"))
    assert ds.x.numpy().shape == (10, 3, 4)
    assert ds.x.dtype == np.dtype("int16")
    assert ds.labels.numpy().shape == (10, 1)
    assert ds.labels.numpy()[:, 0].tolist() == [0, 1] * 5
    assert ds.labels.info.class_names == ["cat", "dog"]


def test_exists_empty_overwrite_delete(path: str) -> None:
    assert not hub.exists(path)
    with pytest.raises(DatasetNotFoundError, match=r"hub\.empty"):
        hub.load(path)
    hub.empty(path).create_tensor("a")
    assert hub.exists(path)
    with pytest.raises(DatasetExistsError, match=r"overwrite=True"):
        hub.empty(path)
    ds = hub.empty(path, overwrite=True)
    assert list(ds.tensors) == []
    hub.delete(path)
    assert not hub.exists(path)


def test_dataset_loads_or_creates(path: str) -> None:
    ds = hub.dataset(path)
    ds.create_tensor("t")
    ds.t.append(1)
    assert hub.dataset(path).t.numpy().tolist() == [1]


def test_extend_numpy_batch_and_views(path: str) -> None:
    ds = hub.empty(path)
    ds.create_tensor("images", dtype="uint8", max_chunk_size=4096)
    data = np.random.default_rng(0).integers(0, 255, (100, 8, 8, 3), dtype=np.uint8)
    ds.images.extend(data)
    assert len(ds.images) == 100
    np.testing.assert_array_equal(ds.images.numpy(), data)
    np.testing.assert_array_equal(ds.images[10:20].numpy(), data[10:20])
    np.testing.assert_array_equal(ds.images[90:5:-7].numpy(), data[90:5:-7])
    np.testing.assert_array_equal(ds.images[[5, 1, 99]].numpy(), data[[5, 1, 99]])
    np.testing.assert_array_equal(ds.images[-1].numpy(), data[-1])
    np.testing.assert_array_equal(ds[10:50][5:10].images.numpy(), data[15:20])
    np.testing.assert_array_equal(ds.images[3, 2:5, :, 1].numpy(), data[3, 2:5, :, 1])
    assert ds.images.shape == (100, 8, 8, 3)
    assert ds.images[4].shape == (8, 8, 3)
    assert len(ds[10:20]) == 10


def test_numpy_gives_arrays_the_caller_owns(path: str) -> None:
    ds = hub.empty(path)
    with ds:
        ds.create_tensor("x", dtype="uint8", max_chunk_size=4096)
        ds.create_tensor("labels", htype="class_label")
        ds.x.extend((np.arange(40 * 12) % 256).astype(np.uint8).reshape(40, 3, 4))
        ds.labels.extend(np.arange(40, dtype=np.uint32) % 3)
    ds = hub.load(path, read_only=True)  # reads through the storage (mapped files on a local path), not the writer
    for value in [ds.x[5].numpy(), ds.x[3:30:4].numpy(), ds.labels[7].numpy(), *ds.x[[1, 33]].numpy(aslist=True)]:
        assert value.flags.writeable
        value[...] = 255
    for i in (5, 33):
        assert np.array_equal(ds.x[i].numpy(), (np.arange(i * 12, i * 12 + 12) % 256).astype(np.uint8).reshape(3, 4))
    assert int(ds.labels[7].numpy()[0]) == 1


def test_dynamic_shapes(path: str) -> None:
    ds = hub.empty(path)
    ds.create_tensor("m", dtype="float32")
    shapes = [(2, 3), (4, 1), (2, 3)]
    for s in shapes:
        ds.m.append(np.ones(s, dtype="float32"))
    assert ds.m.shape == (3, None, None)
    with pytest.raises(DynamicShapeError, match="aslist=True"):
        ds.m.numpy()
    out = ds.m.numpy(aslist=True)
    assert [a.shape for a in out] == shapes
    assert ds.m.shapes().tolist() == [list(s) for s in shapes]
    assert ds.m[[0, 2]].numpy().shape == (2, 2, 3)


def test_update_and_pop(path: str) -> None:
    ds = hub.empty(path)
    ds.create_tensor("v", dtype="int64", max_chunk_size=1024)
    ds.v.extend(np.arange(300).reshape(300, 1))
    ds.v[5] = [1000]
    ds.v[250] = np.array([7, 8])
    ds.v[10:12] = [[-1], [-2]]
    ds = hub.load(path)
    vals = ds.v.numpy(aslist=True)
    assert vals[5].tolist() == [1000]
    assert vals[250].tolist() == [7, 8]
    assert vals[10].tolist() == [-1] and vals[11].tolist() == [-2]
    assert vals[299].tolist() == [299]
    ds.pop(0)
    ds.pop()
    assert len(ds) == 298
    assert ds.v[0].numpy().tolist() == [1]
    assert ds.v[-1].numpy().tolist() == [298]


def test_text_json_list(path: str) -> None:
    ds = hub.empty(path)
    ds.create_tensor("t", htype="text")
    ds.create_tensor("j", htype="json")
    ds.create_tensor("l", htype="list")
    ds.append({"t": "héllo", "j": {"a": [1, 2]}, "l": ["x", "y"]})
    ds.append({"t": "", "j": None, "l": []})
    ds = hub.load(path)
    assert ds.t[0].text() == "héllo"
    assert ds.t.text() == ["héllo", ""]
    assert ds.j[0].dict() == {"a": [1, 2]}
    assert ds.l[1].list() == []
    assert ds.t.numpy().tolist() == [["héllo"], [""]]


def test_class_labels_from_strings(path: str) -> None:
    ds = hub.empty(path)
    ds.create_tensor("labels", htype="class_label")
    ds.labels.extend(["cat", "dog", "cat", 5])
    ds.labels.append(["dog", "bird"])
    assert ds.labels.info.class_names == ["cat", "dog", "bird"]
    assert ds.labels[:4].numpy()[:, 0].tolist() == [0, 1, 0, 5]
    assert ds.labels[4].data()["text"] == ["dog", "bird"]


def test_groups_and_attribute_access(path: str) -> None:
    ds = hub.empty(path)
    ds.create_group("a")
    ds.a.create_tensor("b")
    ds.create_tensor("c/d")
    ds.a.b.append(1)
    ds["c/d"].append(2)
    ds = hub.load(path)
    assert set(ds.tensors) == {"a/b", "c/d"}
    assert set(ds.groups) == {"a", "c"}
    assert ds.a.b[0].numpy().tolist() == 1
    assert list(ds.c.tensors) == ["d"]
    with pytest.raises(TensorExistsError):
        ds.create_tensor("a/b")
    with pytest.raises(TensorExistsError):
        ds.create_tensor("a/b/c")
    with pytest.raises(TensorNotFoundError):
        ds["nope"]
    with pytest.raises(AttributeError):
        ds.nope  # noqa: B018


def test_info_persists(path: str) -> None:
    ds = hub.empty(path)
    ds.info.update(description="cats", version=2)
    ds.create_tensor("x")
    ds.x.info.units = "m"
    ds = hub.load(path)
    assert ds.info.description == "cats"
    assert ds.info["version"] == 2
    assert ds.x.info.units == "m"


def test_delete_and_rename_tensor(path: str) -> None:
    ds = hub.empty(path)
    ds.create_tensor("x")
    ds.create_tensor("y")
    ds.x.extend(np.arange(10))
    ds.y.extend(np.arange(10) * 2)
    ds.rename_tensor("y", "z")
    ds.delete_tensor("x")
    ds = hub.load(path)
    assert list(ds.tensors) == ["z"]
    assert ds.z.numpy().tolist() == list(range(0, 20, 2))
    z_id = ds.z.meta.id
    kept = {z_id, ds.meta.tensors[f"_ids_{z_id}"].id}  # z and the hidden ids of its samples
    assert {k.split("/")[1] for k in ds.storage.list("chunks/")} == kept
    assert {k.split("/")[1] for k in ds.storage.list("indexes/")} == kept


def test_read_only(path: str) -> None:
    ds = hub.empty(path)
    ds.create_tensor("x")
    ds.x.append(1)
    ro = hub.load(path, read_only=True)
    assert ro.read_only
    for write in (lambda: ro.x.append(2), lambda: ro.create_tensor("y"), lambda: ro.info.update(a=1)):
        with pytest.raises(ReadOnlyError, match="read-only"):
            write()
    assert len(hub.load(path).x) == 1


def test_bad_input_leaves_dataset_unchanged(path: str) -> None:
    ds = hub.empty(path)
    ds.create_tensor("img", htype="image", sample_compression="png")
    ds.create_tensor("lab", htype="class_label")
    ds.img.append(np.zeros((4, 4, 3), dtype="uint8"))
    ds.lab.append(1)
    with pytest.raises(SampleDtypeError, match="'img'"):
        ds.img.append(np.full((4, 4, 3), 0.5))
    with pytest.raises(SampleShapeError, match=r"'img'.*sample 1"):
        ds.img.append(np.zeros((4,), dtype="uint8"))
    with pytest.raises(LengthMismatchError):
        ds.extend({"img": [np.zeros((4, 4, 3), dtype="uint8")] * 2, "lab": [1]})
    with pytest.raises(SampleDtypeError):
        ds.extend({"img": [np.zeros((4, 4, 3), dtype="uint8")], "lab": [-1]})
    ds = hub.load(path)
    assert len(ds.img) == 1
    assert len(ds.lab) == 1


def test_create_tensor_errors(path: str) -> None:
    ds = hub.empty(path)
    with pytest.raises(TensorMetaError, match="sample_compression"):
        ds.create_tensor("i", htype="image")
    with pytest.raises(TensorMetaError, match="htype"):
        ds.create_tensor("i", htype="nope")
    with pytest.raises(hub.errors.UnknownCompressionError):
        ds.create_tensor("i", htype="image", sample_compression="zzz")
    with pytest.raises(TensorMetaError, match="unexpected"):
        ds.create_tensor("i", htype="generic", class_names=["a"])
    assert list(hub.load(path).tensors) == []


def test_index_errors(path: str) -> None:
    ds = hub.empty(path)
    ds.create_tensor("x")
    ds.x.extend(np.arange(5))
    with pytest.raises(DatasetIndexError):
        ds.x[5]
    with pytest.raises(IndexError):
        ds[[0, 9]]
    with pytest.raises(DatasetIndexError):
        ds.x[1.5]


def test_pickle_carries_only_location(tmp_path: Path) -> None:
    path = str(tmp_path / "ds")
    ds = hub.empty(path)
    ds.create_tensor("x")
    ds.x.extend(np.arange(1000))
    view = ds[100:200]
    blob = pickle.dumps(view)
    assert len(blob) < 2000
    clone = pickle.loads(blob)
    assert clone.x.numpy().tolist() == list(range(100, 200))


def test_summary(path: str, capsys: pytest.CaptureFixture[str]) -> None:
    ds = hub.empty(path)
    ds.create_tensor("images", htype="image", sample_compression="png")
    ds.images.append(np.zeros((5, 6, 3), dtype="uint8"))
    text = ds.summary()
    assert "images" in text and "png" in text and "(1, 5, 6, 3)" in text
    assert capsys.readouterr().out.strip() == text


def test_like_and_copy(path: str, tmp_path: Path) -> None:
    ds = hub.empty(path)
    ds.create_tensor("labels", htype="class_label", class_names=["a", "b"])
    ds.labels.extend([0, 1, 1])
    empty = hub.like(str(tmp_path / "like"), ds)
    assert list(empty.tensors) == ["labels"]
    assert len(empty) == 0
    assert empty.labels.info.class_names == ["a", "b"]
    copied = hub.copy(ds, str(tmp_path / "copy"))
    assert copied.labels.numpy()[:, 0].tolist() == [0, 1, 1]


def test_hub2_opening_keywords_are_taken(tmp_path: Path) -> None:
    path = str(tmp_path / "hub2")
    ds = hub.empty(path, public=False, memory_cache_size=512, local_cache_size=0, token=None, verbose=False)
    ds.create_tensor("x")
    ds.x.append(np.arange(3))
    ds.close()
    opened = hub.load(path, read_only=True, memory_cache_size=128, token=None, verbose=False, access_method="stream")
    assert opened.x[0].numpy().tolist() == [0, 1, 2]
    assert len(hub.dataset(path, read_only=True, verbose=False)) == 1
    with pytest.raises(DatasetOptionError, match=r"hub\.deepcopy"):
        hub.load(path, read_only=True, access_method="download")
    with pytest.warns(UserWarning, match="local_cache_size has no effect"):
        hub.load(path, read_only=True, local_cache_size=1024).close()
    with pytest.raises(TypeError):
        hub.load(path, read_onyl=True)  # type: ignore[call-arg]  # a misspelt keyword is still refused


def test_hub2_create_tensor_keywords(path: str) -> None:
    ds = hub.empty(path)
    images = ds.create_tensor("images", htype="image", sample_compression="jpeg", create_id_tensor=True, verify=False)
    images.append(np.zeros((8, 8, 3), dtype=np.uint8))
    # exist_ok: the same tensor back, its samples kept, whatever is left unsaid
    again = ds.create_tensor("images", htype="image", sample_compression="jpeg", exist_ok=True)
    assert len(again) == 1 and ds.create_tensor("images", exist_ok=True).meta.sample_compression == "jpeg"
    with pytest.raises(TensorExistsError, match=r"sample_compression='jpeg'.*asked for sample_compression='png'"):
        ds.create_tensor("images", htype="image", sample_compression="png", exist_ok=True)
    with pytest.raises(TensorExistsError):
        ds.create_tensor("images", htype="image", sample_compression="jpeg")  # without exist_ok, as before
    ds.create_tensor("labels", htype="class_label", create_shape_tensor=False, create_sample_info_tensor=False)
    with pytest.raises(TensorMetaError, match="link tensors"):
        ds.create_tensor("boxes", htype="bbox", verify=True)
    assert "boxes" not in ds.tensors
    assert ds.create_tensor("files", htype="link[image]", verify=False).meta.info["verify"] is False


def test_hub2_group_delete_and_read_keywords(path: str) -> None:
    ds = hub.empty(path)
    group = ds.create_group("g")
    assert ds.create_group("g", exist_ok=True).create_tensor("t") is not None
    assert "g/t" in ds.tensors and group.t is not None
    with pytest.raises(TensorExistsError):
        ds.create_group("g")
    ds.create_tensor("x")
    ds.x.extend(np.arange(6).reshape(3, 2))
    assert ds.x.numpy(fetch_chunks=True).tolist() == [[0, 1], [2, 3], [4, 5]]
    ds.delete_tensor("x", large_ok=True)
    ds.delete_group("g", large_ok=True)
    assert list(ds.tensors) == []
