"""``ds.tensorflow().batch(n)``: whole batches made by hub's threads, equal to the element-wise pipeline's batches."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tensorflow as tf

import hub
from hub.testing.damage import corrupt_sample
from hub_tensorflow._fused import HubTFDataset
from tests.tensorflow.conftest import NUM_IMAGES, image


def element_wise(dataset: tf.data.Dataset) -> tf.data.Dataset:
    """The same elements through a map, so that the following ``batch`` is TensorFlow's own."""
    return dataset.map(lambda *e: e if len(e) > 1 else e[0])


def as_numpy(batches: tf.data.Dataset) -> list[Any]:
    return list(batches.as_numpy_iterator())


def assert_same_batches(fused: list[Any], plain: list[Any]) -> None:
    assert len(fused) == len(plain)
    for a, b in zip(fused, plain, strict=True):
        a_parts = list(a.values()) if isinstance(a, dict) else list(a)
        b_parts = list(b.values()) if isinstance(b, dict) else list(b)
        assert (list(a) if isinstance(a, dict) else None) == (list(b) if isinstance(b, dict) else None)
        for x, y in zip(a_parts, b_parts, strict=True):
            assert x.dtype == y.dtype
            np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("batch_size", [1, 7, 16, 64])
@pytest.mark.parametrize("drop_remainder", [False, True])
def test_fused_batches_equal_element_wise_batches(image_ds: hub.Dataset, batch_size: int, drop_remainder: bool) -> None:
    def make() -> tf.data.Dataset:
        return image_ds.tensorflow(tensors=["images", "labels", "ids"], shuffle=True, seed=3)

    fused_source = make()
    assert isinstance(fused_source, HubTFDataset)
    fused = fused_source.batch(batch_size, drop_remainder=drop_remainder)
    assert not isinstance(fused, HubTFDataset)
    plain = element_wise(make()).batch(batch_size, drop_remainder=drop_remainder)
    assert fused.element_spec == plain.element_spec
    assert int(fused.cardinality()) == int(plain.cardinality())
    assert fused.options().autotune.enabled is False  # hub's threads set the parallelism (see docs/api.md)
    for _ in range(2):  # two epochs each: the second differs from the first, equally on both sides
        assert_same_batches(as_numpy(fused), as_numpy(plain))
    counts = [len(b[2]) for b in as_numpy(fused)]
    assert sum(counts) == (NUM_IMAGES - NUM_IMAGES % batch_size if drop_remainder else NUM_IMAGES)


def test_fused_epochs_hold_every_sample_once_and_differ(image_ds: hub.Dataset) -> None:
    batches = image_ds.tensorflow(tensors=["ids", "images"], shuffle=True, seed=5).batch(8)
    epochs = [np.concatenate([ids for ids, _ in as_numpy(batches)]).tolist() for _ in range(2)]
    for order in epochs:
        assert sorted(order) == list(range(NUM_IMAGES))
    assert epochs[0] != epochs[1]
    for ids, images in as_numpy(batches):
        for i, picture in zip(ids.tolist(), images, strict=True):
            np.testing.assert_array_equal(picture, image_ds.images[i].numpy())


def test_fused_dicts_with_text_and_several_workers(tmp_path: Path) -> None:
    ds = hub.empty(str(tmp_path / "ds"))
    with ds:
        ds.create_tensor("images", htype="image", sample_compression="png", max_chunk_size=2048)
        ds.create_tensor("text", htype="text")
        ds.create_tensor("raw", dtype="float32", max_chunk_size=1024)
        for i in range(50):
            ds.append({"images": image(i, side=8), "text": f"sample {i}", "raw": np.full((3,), i, np.float32)})
    for workers in (1, 2):
        fused = ds.tensorflow(shuffle=True, seed=1, num_workers=workers).batch(6)
        plain = element_wise(ds.tensorflow(shuffle=True, seed=1, num_workers=workers)).batch(6)
        assert fused.element_spec["text"] == tf.TensorSpec((None,), tf.string)
        assert_same_batches(as_numpy(fused), as_numpy(plain))


def test_what_cannot_be_fused_still_batches(tmp_path: Path) -> None:
    """Variable shapes, a transform, a batch size given as a tensor: TensorFlow's own batch, same results."""
    ds = hub.empty(str(tmp_path / "ds"))
    with ds:
        ds.create_tensor("x", dtype="int32")
        for i in range(9):
            ds.x.append(np.full((1 + i % 2,), i, dtype=np.int32))
    padded = as_numpy(ds.tensorflow().padded_batch(4))
    assert [b["x"].shape for b in padded] == [(4, 2), (4, 2), (1, 1)]
    fixed = hub.empty(str(tmp_path / "fixed"))
    with fixed:
        fixed.create_tensor("x", dtype="int32")
        fixed.x.extend(np.arange(9, dtype=np.int32).reshape(9, 1))
    doubled = fixed.tensorflow(transform=lambda s: s["x"] * 2).batch(4)
    assert np.concatenate(as_numpy(doubled)).ravel().tolist() == [2 * i for i in range(9)]
    by_tensor = fixed.tensorflow().batch(tf.constant(4, tf.int64))
    assert [len(b["x"]) for b in as_numpy(by_tensor)] == [4, 4, 1]


def test_a_corrupt_jpeg_in_a_fused_batch_names_tensor_and_index(image_ds: hub.Dataset, tmp_path: Path) -> None:
    path = str(tmp_path / "copy")
    hub.deepcopy(image_ds.path, path)
    writable = hub.load(path)
    corrupt_sample(writable, "images", 13)
    writable.close()
    broken = hub.load(path, read_only=True)
    with pytest.raises(tf.errors.OpError, match=r"images.*13|13.*images"):
        as_numpy(broken.tensorflow(tensors=["images", "ids"]).batch(10))


def test_batches_kept_by_the_user_are_never_overwritten(image_ds: hub.Dataset) -> None:
    """Batch memory is reused only once nothing refers to it (TensorFlow takes aligned arrays without a copy)."""
    batches = image_ds.tensorflow(tensors=["images", "ids"], shuffle=True, seed=2).batch(1)
    kept = list(batches)  # epoch 1, as tensors
    seen = []
    for pictures, ids in batches:  # epoch 2 recycles the memory of the batches it drops
        seen.append(int(ids[0]))
        np.testing.assert_array_equal(pictures[0].numpy(), image_ds.images[int(ids[0])].numpy())
    assert sorted(seen) == list(range(NUM_IMAGES))
    for pictures, ids in kept:
        np.testing.assert_array_equal(pictures[0].numpy(), image_ds.images[int(ids[0])].numpy())
