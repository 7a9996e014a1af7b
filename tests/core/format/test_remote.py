"""A representative subset of the format's behaviour on the real S3 and GCS servers."""

from __future__ import annotations

import pickle
from typing import Any

import numpy as np
import pytest
from PIL import Image

import hub
from hub.errors import DatasetNotFoundError


@pytest.fixture(params=["s3", "gcs"])
def remote(request: pytest.FixtureRequest) -> tuple[str, Any]:
    url, creds = request.getfixturevalue(f"{request.param}_bucket_url")
    return url, creds


def test_round_trip_and_reopen(remote: tuple[str, Any], tmp_path: Any) -> None:
    url, creds = remote
    assert not hub.exists(url, creds=creds)
    with pytest.raises(DatasetNotFoundError):
        hub.load(url, creds=creds)
    ds = hub.empty(url, creds=creds)
    ds.create_tensor("images", htype="image", sample_compression="jpeg")
    ds.create_tensor("raw", dtype="float32", chunk_compression="lz4", max_chunk_size=4096)
    ds.create_tensor("labels", htype="class_label")
    rng = np.random.default_rng(0)
    raw = rng.standard_normal((40, 5, 7)).astype("float32")
    jpg = tmp_path / "a.jpg"
    y, x = np.mgrid[0:32, 0:40]
    Image.fromarray(np.stack([x * 6, y * 7, x + y], -1).astype("uint8")).save(jpg, quality=90)
    with ds:
        ds.raw.extend(raw)
        ds.labels.extend(["a", "b"] * 20)
        for _ in range(40):
            ds.images.append(hub.read(jpg))
    ds = hub.load(url, creds=creds, read_only=True)
    assert len(ds) == 40
    np.testing.assert_array_equal(ds.raw.numpy(), raw)
    np.testing.assert_array_equal(ds.raw[[3, 17, 39]].numpy(), raw[[3, 17, 39]])
    assert ds.images[7].tobytes() == jpg.read_bytes()
    assert ds.images[7].numpy().shape == (32, 40, 3)
    assert ds.labels.info.class_names == ["a", "b"]
    clone = pickle.loads(pickle.dumps(ds[10:20]))
    np.testing.assert_array_equal(clone.raw.numpy(), raw[10:20])


def test_update_pop_and_delete(remote: tuple[str, Any]) -> None:
    url, creds = remote
    ds = hub.empty(url, creds=creds)
    ds.create_tensor("v", dtype="int32", max_chunk_size=1024)
    ds.v.extend(np.arange(600, dtype="int32").reshape(600, 1))
    ds.v[100] = [-5]
    ds.pop(0)
    ds = hub.load(url, creds=creds)
    assert ds.v[99].numpy().tolist() == [-5]
    assert ds.v[-1].numpy().tolist() == [599]
    hub.delete(url, creds=creds)
    assert not hub.exists(url, creds=creds)


def test_ragged_polygons_and_region_reads(remote: tuple[str, Any]) -> None:
    url, creds = remote
    ds = hub.empty(url, creds=creds)
    ds.create_tensor("polygons", htype="polygon")
    ds.create_tensor("big", dtype="uint16")
    rng = np.random.default_rng(3)
    polygons = [[rng.uniform(0, 9, (n, 2)).astype(np.float32) for n in counts] for counts in ([3, 8], [], [5])]
    big = rng.integers(0, 60000, (2, 300, 200, 3), dtype=np.uint16)  # 720 KB in one chunk, past the header probe
    with ds:
        ds.polygons.extend(polygons)
        ds.big.extend([*big, big[0]])
    ds = hub.load(url, creds=creds, read_only=True)
    for got, expected in zip(ds.polygons.numpy(aslist=True), polygons, strict=True):
        assert len(got) == len(expected)
        for g, e in zip(got, expected, strict=True):
            np.testing.assert_array_equal(g, e)
    np.testing.assert_array_equal(ds.big[1, 250:260, ::-9, 2].numpy(), big[1, 250:260, ::-9, 2])
    np.testing.assert_array_equal(ds.big[1, ::60].numpy(), big[1, ::60])
