"""The tf.data pipeline: each sample exactly once per epoch, seeded shuffles, variable shapes, bytes, sharding."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

import hub
from tests.tensorflow.conftest import NUM_IMAGES


def ids(dataset: tf.data.Dataset) -> list[int]:
    """The ``ids`` values of one pass over a pipeline of (ids,) tuples or dicts with "ids"."""
    return [int((e[0] if isinstance(e, tuple) else e["ids"]).numpy()) for e in dataset]


@pytest.mark.parametrize("num_workers", [1, 2, 3])
def test_in_order_without_shuffle(image_ds: hub.Dataset, num_workers: int) -> None:
    assert ids(image_ds.tensorflow(tensors=["ids"], num_workers=num_workers)) == list(range(NUM_IMAGES))


@pytest.mark.parametrize("num_workers", [1, 3])
def test_shuffled_epochs_hold_every_sample_once(image_ds: hub.Dataset, num_workers: int) -> None:
    ds = image_ds.tensorflow(tensors=["ids", "labels"], shuffle=True, seed=7, num_workers=num_workers)
    for _ in range(2):
        seen = [(int(i.numpy()), int(label.numpy()[0])) for i, label in ds]
        assert sorted(i for i, _ in seen) == list(range(NUM_IMAGES))
        assert all(label == i % 5 for i, label in seen)
        assert [i for i, _ in seen] != list(range(NUM_IMAGES))


def test_views_are_read_in_view_order(image_ds: hub.Dataset) -> None:
    view = image_ds[5:50:3].tensorflow(tensors=["ids"])
    assert ids(view) == list(range(5, 50, 3))
    assert view.cardinality().numpy() == len(range(5, 50, 3))  # known, so Keras can size epochs
    picks = [41, 3, 3, 17, 59, 0]
    assert ids(image_ds[picks].tensorflow(tensors=["ids"])) == picks
    shuffled = ids(image_ds[10:40].tensorflow(tensors=["ids"], shuffle=True, seed=1))
    assert sorted(shuffled) == list(range(10, 40))


def test_a_seed_fixes_every_epoch_and_epochs_differ(image_ds: hub.Dataset) -> None:
    first = image_ds.tensorflow(tensors=["ids"], shuffle=True, seed=11, num_workers=2)
    again = image_ds.tensorflow(tensors=["ids"], shuffle=True, seed=11, num_workers=2)
    epochs = [ids(first), ids(first)]
    assert [ids(again), ids(again)] == epochs
    assert epochs[0] != epochs[1]
    other = image_ds.tensorflow(tensors=["ids"], shuffle=True, seed=12, num_workers=2)
    assert ids(other) != epochs[0]


def test_images_and_labels_batch_like_numpy(image_ds: hub.Dataset) -> None:
    batches = list(image_ds.tensorflow().batch(16))
    assert [len(b["ids"]) for b in batches] == [16, 16, 16, 12]
    np.testing.assert_array_equal(batches[1]["images"].numpy(), image_ds.images[16:32].numpy())
    np.testing.assert_array_equal(batches[3]["labels"].numpy(), image_ds.labels[48:].numpy().astype(np.int64))


def test_variable_shapes_go_through_padded_batch(tmp_path: Path) -> None:
    ds = hub.empty(str(tmp_path / "ds"))
    with ds:
        ds.create_tensor("boxes", htype="bbox", max_chunk_size=1024)
        ds.create_tensor("text", htype="text")
        for i in range(10):
            ds.append({"boxes": np.full((i % 4, 4), i, dtype=np.float32), "text": "x" * i})
    out = ds.tensorflow(num_workers=2).padded_batch(4)
    batches = list(out)
    assert [b["boxes"].shape.as_list() for b in batches] == [[4, 3, 4], [4, 3, 4], [2, 1, 4]]
    first = batches[0]["boxes"].numpy()
    np.testing.assert_array_equal(first[3], np.full((3, 4), 3, dtype=np.float32))
    np.testing.assert_array_equal(first[1], np.pad(np.full((1, 4), 1, dtype=np.float32), ((0, 2), (0, 0))))
    assert batches[2]["text"].numpy().tolist() == [b"x" * 8, b"x" * 9]


def test_tobytes_round_trips_through_decode_jpeg(image_ds: hub.Dataset) -> None:
    def decode(data: tf.Tensor, i: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        return tf.io.decode_jpeg(data, channels=3, dct_method="INTEGER_ACCURATE"), i

    raw = image_ds.tensorflow(tensors=["images", "ids"], tobytes=["images"])
    assert raw.element_spec[0] == tf.TensorSpec((), tf.string)
    for pixels, i in raw.map(decode, num_parallel_calls=tf.data.AUTOTUNE):
        np.testing.assert_array_equal(pixels.numpy(), image_ds.images[int(i)].numpy())


def test_transform_maps_each_element(image_ds: hub.Dataset) -> None:
    def scale(sample: dict[str, tf.Tensor]) -> tuple[tf.Tensor, tf.Tensor]:
        return tf.cast(sample["images"], tf.float32) / 255.0, sample["labels"]

    out = image_ds.tensorflow(tensors=None, transform=scale)
    assert out.element_spec == (tf.TensorSpec((16, 16, 3), tf.float32), tf.TensorSpec((1,), tf.int64))
    as_tuple = image_ds.tensorflow(tensors=["ids"], transform=lambda t: t[0] * 2)
    assert ids(as_tuple.map(lambda x: (x,))) == [2 * i for i in range(NUM_IMAGES)]


def test_input_pipelines_read_disjoint_chunk_groups(image_ds: hub.Dataset) -> None:
    parts = []
    for pipeline in range(3):
        context = tf.distribute.InputContext(num_input_pipelines=3, input_pipeline_id=pipeline)
        out = image_ds.tensorflow(tensors=["ids"], shuffle=True, seed=5, input_context=context)
        options = out.options().experimental_distribute.auto_shard_policy
        assert options == tf.data.experimental.AutoShardPolicy.OFF  # sharded already: tf.distribute must not again
        parts.append(ids(out))
        assert out.cardinality().numpy() == len(parts[-1])
    assert sorted(i for part in parts for i in part) == list(range(NUM_IMAGES))
    assert all(abs(len(part) - NUM_IMAGES / 3) <= 6 for part in parts)


def test_distribute_datasets_from_function_feeds_replicas(image_ds: hub.Dataset) -> None:
    strategy = tf.distribute.OneDeviceStrategy("/cpu:0")

    def make(context: tf.distribute.InputContext) -> tf.data.Dataset:
        return image_ds.tensorflow(tensors=["ids"], input_context=context).batch(8)

    seen = [int(i) for batch in strategy.distribute_datasets_from_function(make) for i in batch[0].numpy()]
    assert seen == list(range(NUM_IMAGES))


def test_samples_larger_than_a_chunk_are_assembled_from_tiles(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    ds = hub.empty(str(tmp_path / "ds"))
    with ds:
        ds.create_tensor("images", htype="image", sample_compression="jpeg", max_chunk_size=4096)
        ds.create_tensor("grid", dtype="float32", max_chunk_size=4096)
        for i in range(6):
            side = 96 if i % 3 == 1 else 16  # noise at 96x96 is a JPEG larger than the chunk: tiled
            ds.append(
                {
                    "images": rng.integers(0, 255, (side, side, 3), dtype=np.uint8),
                    "grid": np.full((i * 10, 40), i, np.float32),
                }
            )
    assert ds.images._engine.index.entries["flags"].any() and ds.grid._engine.index.entries["flags"].any()
    for num_workers in (1, 2):
        elements = list(ds.tensorflow(num_workers=num_workers))
        for i, element in enumerate(elements):
            np.testing.assert_array_equal(element["images"].numpy(), ds.images[i].numpy())
            np.testing.assert_array_equal(element["grid"].numpy(), ds.grid[i].numpy())


def test_stored_bytes_keep_trailing_zeros(tmp_path: Path) -> None:
    ds = hub.empty(str(tmp_path / "ds"))
    with ds:
        ds.create_tensor("raw", dtype="uint8")
        ds.create_tensor("text", htype="text")
        ds.raw.extend(np.asarray([[1, 0, 0], [0, 0, 0]], dtype=np.uint8))
        ds.text.extend(["a\x00", "\x00"])
    out = [(r.numpy(), t.numpy()) for r, t in ds.tensorflow(tensors=["raw", "text"], tobytes=["raw"])]
    assert out == [(b"\x01\x00\x00", b"a\x00"), (b"\x00\x00\x00", b"\x00")]
