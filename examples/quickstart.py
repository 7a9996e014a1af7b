"""The quickstart: what hub can do today, end to end, on this machine.

It grows as capabilities land. Today: build a dataset from the images shipped in
examples/images (stored verbatim, decoded only when read), commit it, change it on a branch,
reopen it, read samples and views, train a small PyTorch model from it with ds.pytorch(), stream
it into TensorFlow with ds.tensorflow(), and see the storage layer's atomic primitives underneath.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

import hub

IMAGES = Path(__file__).resolve().parent / "images"


def build(path: str) -> hub.Dataset:
    """An image-classification dataset from an ImageFolder-style tree: one folder per class."""
    class_names = sorted(p.name for p in IMAGES.iterdir() if p.is_dir())
    ds = hub.empty(path, overwrite=True)
    with ds:  # writes are batched and flushed once at the end of the block
        ds.create_tensor("images", htype="image", sample_compression="jpeg")
        ds.create_tensor("labels", htype="class_label", class_names=class_names)
        ds.info.update(description="circles and squares, shipped with hub's examples")
        for label, name in enumerate(class_names):
            for file in sorted((IMAGES / name).glob("*.jpg")):
                ds.append({"images": hub.read(file), "labels": np.uint32(label)})
    ds.commit("import the shipped images")
    return ds


def to_input(image: np.ndarray) -> np.ndarray:
    """An HxWx3 uint8 image as a CxHxW float in [0, 1] (a per-tensor transform, run in the loader's workers)."""
    return np.ascontiguousarray(image.transpose(2, 0, 1), dtype=np.float32) / 255


def train(ds: hub.Dataset, epochs: int = 3) -> float:
    """A few steps of a small CNN on the dataset, through ds.pytorch(); returns the last loss."""
    import torch

    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 5, stride=2),
        torch.nn.ReLU(),
        torch.nn.AdaptiveAvgPool2d(1),
        torch.nn.Flatten(),
        torch.nn.Linear(8, len(ds.labels.info.class_names)),
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    loader = ds.pytorch(
        num_workers=2, batch_size=4, shuffle=True, seed=0, transform={"images": to_input, "labels": None}
    )
    loss = torch.tensor(0.0)
    for epoch in range(epochs):  # each pass over the loader is a new epoch, reshuffled
        for batch in loader:
            optimizer.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(batch["images"]), batch["labels"][:, 0])
            loss.backward()
            optimizer.step()
        print(f"epoch {epoch}: loss {loss.item():.3f}")
    return float(loss.item())


def tensorflow_epoch(ds: hub.Dataset) -> None:
    """One epoch of the dataset as a tf.data pipeline: shuffled (image, label) batches, made whole by hub."""
    import tensorflow as tf

    train = ds.tensorflow(tensors=["images", "labels"], shuffle=True, seed=0).batch(4).prefetch(tf.data.AUTOTUNE)
    print("ds.tensorflow() element_spec:", train.element_spec)
    seen = 0
    for images, labels in train:
        assert images.dtype == tf.uint8 and labels.dtype == tf.int64
        seen += int(images.shape[0])
    assert seen == len(ds)
    print("one tf.data epoch:", seen, "images in", len(train), "batches")


def main() -> None:
    workdir = Path(tempfile.mkdtemp(prefix="hub-quickstart-"))
    path = os.fspath(workdir / "shapes")
    ds = build(path)

    # Version control: relabel one sample on a branch; the commit on main is untouched.
    first_commit = ds.commit_id
    ds.checkout("relabel", create=True)
    ds.labels[0] = np.uint32(1)
    ds.commit("relabel sample 0")
    ds.diff(first_commit)
    ds.checkout("main")
    assert ds.labels[0].numpy().tolist() == [0]
    ds.log()
    ds.close()  # release the branch's write lock

    ds = hub.load(path, read_only=True)
    ds.summary()
    first = ds.images[0]
    print("first image:", first.numpy().shape, first.numpy().dtype, "stored as", len(first.tobytes()), "JPEG bytes")
    print("labels of samples 6..10:", ds.labels[6:10].numpy()[:, 0].tolist(), "of", ds.labels.info.class_names)
    batch = ds[::4].images.numpy()  # a lazy view: nothing is read until numpy()
    print("every 4th image as one batch:", batch.shape)
    assert ds.images[0].tobytes() == sorted((IMAGES / "circles").glob("*.jpg"))[0].read_bytes()

    # Into PyTorch: worker processes stream whole chunks and decode whole batches (pip install hub-torch).
    train(ds)
    # Into TensorFlow: a tf.data pipeline whose .batch() hub makes whole, decoding JPEGs on its threads
    # (pip install "hub-tensorflow[cpu]").
    tensorflow_epoch(ds)

    # Underneath, every dataset is a storage of keys with atomic writes and compare-and-swap.
    store = hub.storage.storage_from_url(os.fspath(workdir / "scratch"))
    assert store.set_if_absent("branches.json", b'{"main": null}')
    _, token = store.get_with_token("branches.json")
    assert store.compare_and_swap("branches.json", b'{"main": "c1"}', token) is not None
    assert store.compare_and_swap("branches.json", b'{"main": "c2"}', token) is None  # a stale writer loses
    print("quickstart OK:", len(ds), "samples in", path)


if __name__ == "__main__":
    main()
