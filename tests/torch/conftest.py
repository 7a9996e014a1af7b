"""Small datasets the hub-torch tests read through real DataLoaders."""

from __future__ import annotations

import numpy as np
import pytest

import hub

N = 240


def photo(h: int, w: int, seed: int) -> np.ndarray:
    """A smooth, photo-like RGB image (JPEG-friendly)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    base = np.stack([x * 255 / w, y * 255 / h, (x + y) * 127 / (w + h)], axis=-1)
    return np.clip(base + rng.normal(0, 3, base.shape), 0, 255).astype(np.uint8)


def make_numbers(path: str, n: int = N) -> hub.Dataset:
    """Samples whose values say their index: raw int32 arrays, class labels, text, json; many small chunks."""
    ds = hub.empty(path, overwrite=True)
    with ds:
        ds.create_tensor("x", max_chunk_size=2048)
        ds.create_tensor("labels", htype="class_label", class_names=["even", "odd"])
        ds.create_tensor("names", htype="text")
        ds.create_tensor("extra", htype="json")
        ds.create_tensor("wide", dtype="uint16")
        ds.x.extend(np.arange(n * 8, dtype=np.int32).reshape(n, 2, 4))
        ds.labels.extend(np.arange(n, dtype=np.uint32) % 2)
        ds.names.extend([f"s{i}" for i in range(n)])
        ds.extra.extend([{"i": i} for i in range(n)])
        ds.wide.extend(np.full((n, 1), 60000, dtype=np.uint16))
    ds.close()
    return hub.load(path, read_only=True)


@pytest.fixture(scope="session")
def numbers(tmp_path_factory: pytest.TempPathFactory) -> hub.Dataset:
    return make_numbers(str(tmp_path_factory.mktemp("torch") / "numbers"))


@pytest.fixture(scope="session")
def images(tmp_path_factory: pytest.TempPathFactory) -> hub.Dataset:
    """40 JPEGs of 32x32 in two classes, as in the seed's image-classification example."""
    path = str(tmp_path_factory.mktemp("torch") / "images")
    ds = hub.empty(path)
    with ds:
        ds.create_tensor("images", htype="image", sample_compression="jpeg", max_chunk_size=16 * 1024)
        ds.create_tensor("labels", htype="class_label", class_names=["a", "b"])
        ds.images.extend([photo(32, 32, i) for i in range(40)])
        ds.labels.extend(np.arange(40, dtype=np.uint32) % 2)
    ds.close()
    return hub.load(path, read_only=True)


def indices(batches: list[dict[str, object]]) -> list[int]:
    out: list[int] = []
    for b in batches:
        out.extend(b["index"].tolist())  # type: ignore[attr-defined]
    return out
