"""ds.tensorflow(): the element_spec comes from tensor metadata per htype; every element fits it and equals numpy()."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tensorflow as tf

import hub
from hub.errors import LoaderOptionError, TensorMetaError, TensorNotFoundError
from tests.tensorflow.conftest import image

S = tf.TensorSpec


def _samples(i: int) -> dict[str, Any]:
    """Sample ``i`` of every tensor in ``htype_ds``; shapes vary with ``i`` where the spec says None."""
    rng = np.random.default_rng(i)
    side = 8 + 4 * i
    return {
        "fixed": rng.standard_normal((2, 3)).astype(np.float32),
        "dynamic": np.arange(2 * (i + 1), dtype=np.int16).reshape(i + 1, 2),
        "scalar": np.float64(i / 3),
        "jpeg": image(i),
        "gray": image(i, side)[..., 0],
        "png": image(i, side),
        "label": np.uint32(i % 3),
        "labels": np.arange(i, dtype=np.uint32),
        "bbox": rng.uniform(0, 1, (i + 1, 4)).astype(np.float32),
        "mask": rng.random((5, 6)) > 0.5,
        "segments": rng.integers(0, 4, (5, 6), dtype=np.uint32),
        "keypoints": rng.integers(0, 50, (6, i + 1), dtype=np.int32),
        "points": rng.integers(0, 50, (i + 2, 2), dtype=np.int32),
        "polygons": [rng.uniform(0, 9, (k + 3, 2)).astype(np.float32) for k in range(i)],  # ragged; [] first
        "text": f"sample {i} \N{SNOWMAN}" * i,
        "json": {"i": i, "name": f"s{i}", "nested": [1.5, None, {"k": "v"}]},
        "list": [i, "x", [True]],
    }


@pytest.fixture(scope="module")
def htype_ds(tmp_path_factory: pytest.TempPathFactory) -> hub.Dataset:
    path = str(tmp_path_factory.mktemp("htypes") / "ds")
    ds = hub.empty(path)
    with ds:
        ds.create_tensor("fixed")
        ds.create_tensor("dynamic")
        ds.create_tensor("scalar")
        ds.create_tensor("jpeg", htype="image", sample_compression="jpeg")
        ds.create_tensor("gray", htype="image.gray", sample_compression="jpeg")
        ds.create_tensor("png", htype="image", sample_compression="png")
        ds.create_tensor("label", htype="class_label")
        ds.create_tensor("labels", htype="class_label")
        ds.create_tensor("bbox", htype="bbox")
        ds.create_tensor("mask", htype="binary_mask")
        ds.create_tensor("segments", htype="segment_mask")
        ds.create_tensor("keypoints", htype="keypoints_coco")
        ds.create_tensor("points", htype="point")
        ds.create_tensor("polygons", htype="polygon")
        ds.create_tensor("text", htype="text")
        ds.create_tensor("json", htype="json")
        ds.create_tensor("list", htype="list")
        for i in range(4):
            ds.append(_samples(i))
    ds.close()
    return hub.load(path, read_only=True)


EXPECTED = {
    "fixed": S((2, 3), tf.float32),
    "dynamic": S((None, 2), tf.int16),
    "scalar": S((), tf.float64),
    "jpeg": S((16, 16, 3), tf.uint8),
    "gray": S((None, None), tf.uint8),
    "png": S((None, None, 3), tf.uint8),
    "label": S((1,), tf.int64),
    "labels": S((None,), tf.int64),
    "bbox": S((None, 4), tf.float32),
    "mask": S((5, 6), tf.bool),
    "segments": S((5, 6), tf.uint32),
    "keypoints": S((6, None), tf.int32),
    "points": S((None, 2), tf.int32),
    "polygons": tf.RaggedTensorSpec([None, None, 2], tf.float32, ragged_rank=1),
    "text": S((), tf.string),
    "json": S((), tf.string),
    "list": S((), tf.string),
}


def test_element_spec_per_htype(htype_ds: hub.Dataset) -> None:
    assert htype_ds.tensorflow().element_spec == EXPECTED


def test_elements_equal_what_numpy_reads(htype_ds: hub.Dataset) -> None:
    elements = list(htype_ds.tensorflow())
    assert len(elements) == 4
    for i, element in enumerate(elements):
        for name, value in element.items():
            assert EXPECTED[name].is_compatible_with(value), (name, value.shape)
            tensor = htype_ds[name][i]
            if name == "text":
                assert value.numpy().decode() == tensor.text()
            elif name in ("json", "list"):
                assert json.loads(value.numpy()) == tensor.dict()
            elif name == "polygons":  # a RaggedTensor (polygons, None, 2): one row per polygon
                assert isinstance(value, tf.RaggedTensor) and value.dtype == tf.float32
                polygons = tensor.numpy()
                assert value.row_lengths().numpy().tolist() == [len(p) for p in polygons]
                for row, polygon in zip(value, polygons, strict=True):
                    np.testing.assert_array_equal(row.numpy(), polygon)
            else:
                expected = tensor.numpy()
                assert value.numpy().dtype == (np.int64 if name.startswith("label") else expected.dtype)
                np.testing.assert_array_equal(value.numpy(), expected, err_msg=name)


def test_tobytes_yields_stored_bytes_as_scalar_strings(htype_ds: hub.Dataset) -> None:
    ds = htype_ds.tensorflow(tensors=["jpeg", "png", "fixed"], tobytes=["jpeg", "png"])
    assert ds.element_spec == (S((), tf.string), S((), tf.string), EXPECTED["fixed"])
    for i, (jpeg, png, fixed) in enumerate(ds):
        assert jpeg.numpy() == htype_ds.jpeg[i].tobytes()
        assert png.numpy() == htype_ds.png[i].tobytes()
        np.testing.assert_array_equal(fixed.numpy(), htype_ds.fixed[i].numpy())
    everything = htype_ds.tensorflow(tobytes=True).element_spec
    assert everything == {name: S((), tf.string) for name in EXPECTED}


def test_tensors_pick_and_order_a_tuple(htype_ds: hub.Dataset) -> None:
    ds = htype_ds.tensorflow(tensors=["label", "bbox"])
    assert ds.element_spec == (EXPECTED["label"], EXPECTED["bbox"])
    labels = [int(label.numpy()[0]) for label, _ in ds]
    assert labels == [0, 1, 2, 0]


def test_groups_are_read_by_relative_names(tmp_path: Path) -> None:
    ds = hub.empty(str(tmp_path / "ds"))
    ds.create_tensor("a/b/x", dtype="int32")
    ds.a.b.x.extend(np.arange(6, dtype=np.int32).reshape(3, 2))
    group = ds.a.b
    out = group.tensorflow()
    assert out.element_spec == {"x": S((2,), tf.int32)}
    assert [e["x"].numpy().tolist() for e in out] == [[0, 1], [2, 3], [4, 5]]
    assert [e["a/b/x"].numpy()[0] for e in ds.tensorflow()] == [0, 2, 4]


def test_an_empty_tensor_without_dtype_is_refused_with_advice(tmp_path: Path) -> None:
    ds = hub.empty(str(tmp_path / "ds"))
    ds.create_tensor("x")
    with pytest.raises(TensorMetaError, match=r"'x'.*dtype="):
        ds.tensorflow()
    ds.create_tensor("y", dtype="float32")
    assert ds.tensorflow(tensors=["y"]).element_spec == (S(None, tf.float32),)
    ds.create_tensor("img", htype="image.rgb", sample_compression="jpeg")
    assert ds.tensorflow(tensors=["img"]).element_spec == (S((None, None, None), tf.uint8),)


def test_bad_options_are_refused_with_advice(htype_ds: hub.Dataset) -> None:
    with pytest.raises(TensorNotFoundError, match="nope"):
        htype_ds.tensorflow(tensors=["fixed", "nope"])
    with pytest.raises(TensorNotFoundError, match="png"):
        htype_ds.tensorflow(tensors=["fixed"], tobytes=["png"])
    with pytest.raises(LoaderOptionError, match=r"in a list"):
        htype_ds.tensorflow(tensors="fixed")
    with pytest.raises(LoaderOptionError, match="twice"):
        htype_ds.tensorflow(tensors=["fixed", "fixed"])
    with pytest.raises(LoaderOptionError, match="num_workers"):
        htype_ds.tensorflow(num_workers=0)


def test_links_and_sequences(tmp_path: Path) -> None:
    from PIL import Image

    for i in range(2):
        Image.fromarray(image(i, 10)).save(tmp_path / f"{i}.png")
    ds = hub.empty(str(tmp_path / "ds"))
    with ds:
        ds.create_tensor("links", htype="link[image]")
        ds.create_tensor("scenes", htype="sequence[image]", sample_compression="png")
        ds.links.extend([hub.link(str(tmp_path / f"{i}.png")) for i in range(2)])
        ds.scenes.extend([[image(0, 10)], [image(1, 10), image(2, 10)]])
    out = ds.tensorflow()
    assert out.element_spec == {"links": S((10, 10, 3), tf.uint8), "scenes": S((None, 10, 10, 3), tf.uint8)}
    for i, element in enumerate(out):
        np.testing.assert_array_equal(element["links"].numpy(), ds.links[i].numpy())
        np.testing.assert_array_equal(element["scenes"].numpy(), ds.scenes[i].numpy())


def test_polygons_batch_into_ragged_tensors(htype_ds: hub.Dataset) -> None:
    batches = list(htype_ds.tensorflow(tensors=["polygons", "label"]).batch(3))
    assert [int(b[0].nrows()) for b in batches] == [3, 1]
    first = batches[0][0]
    assert first.shape.as_list() == [3, None, None, 2]
    assert first.row_lengths().numpy().tolist() == [0, 1, 2]  # polygons per sample
    np.testing.assert_array_equal(first[2][1].numpy(), htype_ds.polygons[2, 1].numpy())
