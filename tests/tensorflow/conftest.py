"""Small datasets on local disk for the tf.data pipeline's tests, split into many chunks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import hub

#: Samples in the image dataset; its chunks hold a handful each, so epochs span many chunk groups.
NUM_IMAGES = 60


def image(i: int, side: int = 16) -> np.ndarray:
    """Image ``i``: smooth gradients (JPEG-friendly), distinct per index."""
    y, x = np.mgrid[0:side, 0:side]
    return np.stack([(x * 8 + i) % 256, (y * 8 + 2 * i) % 256, (x + y + 3 * i) % 256], axis=-1).astype(np.uint8)


@pytest.fixture
def image_ds(tmp_path: Path) -> hub.Dataset:
    """``images`` (16x16x3 JPEG), ``labels`` (class ``i % 5``) and ``ids`` (generic int64 ``i``), read-only."""
    ds = hub.empty(str(tmp_path / "images"))
    with ds:
        ds.create_tensor("images", htype="image", sample_compression="jpeg", max_chunk_size=4096)
        ds.create_tensor("labels", htype="class_label", class_names=[f"c{k}" for k in range(5)])
        ds.create_tensor("ids", dtype="int64", max_chunk_size=1024)
        for i in range(NUM_IMAGES):
            ds.append({"images": image(i), "labels": np.uint32(i % 5), "ids": np.asarray(i, dtype=np.int64)})
    ds.close()
    return hub.load(str(tmp_path / "images"), read_only=True)
