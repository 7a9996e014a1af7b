"""Ragged polygons: a sample is a list of (points, dims) arrays of different point counts, read back as a list."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import hub
from hub.core.polygons import pack_polygons, unpack_polygons
from hub.errors import CorruptSampleError, SampleDtypeError, SampleShapeError, TensorMetaError


def _assert_polygons_equal(got: Any, expected: list[np.ndarray]) -> None:
    assert isinstance(got, list)
    assert len(got) == len(expected)
    for g, e in zip(got, expected, strict=True):
        assert isinstance(g, np.ndarray)
        assert g.dtype == e.dtype
        np.testing.assert_array_equal(g, e)


def test_append_ragged_polygons_and_read_a_list(path: str) -> None:
    ds = hub.empty(path)
    ds.create_tensor("polygons", htype="polygon")
    assert ds.polygons.numpy() == []
    rng = np.random.default_rng(0)
    p1, p2, p3 = (rng.uniform(0, 100, (n, 2)).astype(np.float32) for n in (3, 7, 4))
    with ds:
        ds.polygons.append([p1, p2, p3])
        ds.polygons.append([])  # no polygons
        ds.polygons.append(np.stack([p1, p1]))  # equal point counts as one array still works
        ds.polygons.extend([[p2], [[[0, 0], [1, 0], [1, 1]]]])
    ds = hub.load(path, read_only=True)
    assert ds.polygons.htype == "polygon"
    assert len(ds.polygons) == 5
    _assert_polygons_equal(ds.polygons[0].numpy(), [p1, p2, p3])
    assert all(p.flags.writeable for p in ds.polygons[0].numpy())  # the caller's own arrays, not chunk views
    assert all(p.flags.writeable for s in ds.polygons.numpy() for p in s)
    assert ds.polygons[1].numpy() == []
    _assert_polygons_equal(ds.polygons[2].numpy(), [p1, p1])
    _assert_polygons_equal(ds.polygons[4].numpy(), [np.array([[0, 0], [1, 0], [1, 1]], dtype=np.float32)])
    every = ds.polygons.numpy(aslist=True)
    assert [len(sample) for sample in every] == [3, 0, 2, 1, 1]
    _assert_polygons_equal(every[3], [p2])
    assert [len(sample) for sample in ds.polygons[1:4].numpy()] == [0, 2, 1]  # a list without aslist too
    # shapes: (polygons, most points, dims), from chunk headers
    assert ds.polygons.shapes().tolist() == [[3, 7, 2], [0, 0, 2], [2, 3, 2], [1, 7, 2], [1, 3, 2]]
    assert ds.polygons[0].shape == (3, 7, 2)
    assert ds.polygons.shape == (5, None, None, 2)
    assert len(ds.polygons[0]) == 3


def test_index_polygons_of_a_sample(path: str) -> None:
    ds = hub.empty(path)
    ds.create_tensor("polygons", htype="polygon", dtype="int32")
    polygons = [np.arange(2 * n, dtype=np.int32).reshape(n, 2) + 100 * n for n in (3, 5, 4)]
    ds.polygons.append(polygons)
    np.testing.assert_array_equal(ds.polygons[0, 1].numpy(), polygons[1])
    np.testing.assert_array_equal(ds.polygons[0][-1].numpy(), polygons[-1])
    np.testing.assert_array_equal(ds.polygons[0, 1, 1:4, 0].numpy(), polygons[1][1:4, 0])
    _assert_polygons_equal(ds.polygons[0][1:].numpy(), polygons[1:])
    _assert_polygons_equal(ds.polygons[0, ::-2].numpy(), polygons[::-2])
    assert ds.polygons[0, 1].shape == (5, 2)
    assert ds.polygons[0][0:2].shape == (2, 5, 2)
    assert ds.polygons[0, :, 1:, 1].shape == (3, 4)
    assert ds.polygons[0, 3:].shape == (0, 0, 2)
    with pytest.raises(hub.errors.DatasetIndexError, match="out of range"):
        ds.polygons[0, 3].numpy()


def test_points_of_more_dimensions_and_lz4_chunks(path: str) -> None:
    ds = hub.empty(path)
    ds.create_tensor("p3d", htype="polygon", dtype="float64", chunk_compression="lz4")
    samples = [[np.random.default_rng(i).standard_normal((i + 1 + k, 3)) for k in range(i)] for i in range(6)]
    ds.p3d.extend(samples)
    ds = hub.load(path, read_only=True)
    for got, expected in zip(ds.p3d.numpy(aslist=True), samples, strict=True):
        _assert_polygons_equal(got, expected)


def test_update_and_pop(path: str) -> None:
    ds = hub.empty(path)
    ds.create_tensor("polygons", htype="polygon")
    square = np.array([[0, 0], [1, 0], [1, 1], [0, 1]], dtype=np.float32)
    triangle = square[:3]
    ds.polygons.extend([[square], [triangle, square], [triangle]])
    ds.polygons[1] = [square, triangle, triangle]
    ds.pop(0)
    ds = hub.load(path, read_only=True)
    _assert_polygons_equal(ds.polygons[0].numpy(), [square, triangle, triangle])
    _assert_polygons_equal(ds.polygons[1].numpy(), [triangle])


@pytest.mark.parametrize(
    ("sample", "error", "message"),
    [
        ("not polygons", SampleDtypeError, "list of polygons"),
        (3.5, SampleDtypeError, "list of polygons"),
        ([np.zeros((3, 2)), np.zeros((4, 3))], SampleShapeError, r"one dimensionality; got \[2, 3\]"),
        ([np.zeros((3, 3))], SampleShapeError, "points of 2 coordinates; this sample's have 3"),
        ([np.zeros((0, 2))], SampleShapeError, "polygon 0 has no points"),
        ([[]], SampleShapeError, "polygon 0 has no points"),
        ([np.zeros(4)], SampleShapeError, r"polygon 0: a polygon is an array of \(points, dims\)"),
        ([np.zeros((2, 2, 2))], SampleShapeError, "got shape"),
        ([[["a", "b"], ["c", "d"]]], SampleDtypeError, "numbers"),
        ([[[1, 2], [3]]], SampleShapeError, "polygon 0"),
        ([np.array([[0.5, 1.0]])], SampleDtypeError, "int32"),  # a float that an int tensor can't hold
    ],
)
def test_bad_polygons_are_refused_and_leave_the_tensor_unchanged(sample: Any, error: type, message: str) -> None:
    ds = hub.empty(f"mem://{uuid.uuid4().hex}")
    dtype = "int32" if message == "int32" else "float32"
    ds.create_tensor("polygons", htype="polygon", dtype=dtype)
    ds.polygons.append([np.ones((3, 2))])
    with pytest.raises(error, match=message) as info:
        ds.polygons.append(sample)
    assert "tensor 'polygons', sample 1" in str(info.value)
    assert len(ds.polygons) == 1
    _assert_polygons_equal(ds.polygons[0].numpy(), [np.ones((3, 2), dtype=dtype)])


def test_dims_must_agree_within_one_extend() -> None:
    ds = hub.empty(f"mem://{uuid.uuid4().hex}")
    ds.create_tensor("polygons", htype="polygon")
    with pytest.raises(SampleShapeError, match="sample 1: polygons of this tensor have points of 2"):
        ds.polygons.extend([[np.zeros((3, 2))], [np.zeros((3, 3))]])
    assert len(ds.polygons) == 0


def test_no_sample_compression_for_polygons() -> None:
    ds = hub.empty(f"mem://{uuid.uuid4().hex}")
    with pytest.raises(TensorMetaError, match="doesn't fit a polygon tensor"):
        ds.create_tensor("polygons", htype="polygon", sample_compression="png")


def test_metadata_names_the_layout_and_format_1_3(path: str) -> None:
    ds = hub.empty(path)
    ds.create_tensor("polygons", htype="polygon")
    ds.create_tensor("points", htype="point")
    node = json.loads(ds.storage.get("hub.json"))["heads"]["main"]
    doc = json.loads(ds.storage.get(f"versions/{node}/meta.json"))
    assert tuple(map(int, doc["format_version"].split("."))) >= (1, 3)  # written by 1.3 and later
    assert doc["tensors"]["polygons"]["layout"] == "ragged"
    assert doc["requires"] == ["ragged_polygons"]
    assert "layout" not in doc["tensors"]["points"]


def test_a_1_2_polygon_tensor_keeps_its_layout() -> None:
    """A polygon tensor of format 1.2 (no ``layout``) stores and reads (polygons, points, dims) arrays as before."""
    ds = hub.empty(f"mem://{uuid.uuid4().hex}")
    ds.create_tensor("polygons", htype="polygon")
    ds.close()
    node = json.loads(ds.storage.get("hub.json"))["heads"]["main"]
    key = f"versions/{node}/meta.json"
    doc = json.loads(ds.storage.get(key))
    doc["format_version"] = "1.2"
    del doc["tensors"]["polygons"]["layout"]
    del doc["requires"]
    ds.storage.set(key, json.dumps(doc).encode())
    old = np.arange(12, dtype=np.float32).reshape(2, 3, 2)
    ds = hub.load(ds.path)
    ds.polygons.append(old)
    with pytest.raises(SampleShapeError):
        ds.polygons.append([np.zeros((3, 2)), np.zeros((4, 2))])
    ds = hub.load(ds.path, read_only=True)
    np.testing.assert_array_equal(ds.polygons[0].numpy(), old)
    np.testing.assert_array_equal(ds.polygons.numpy(), old[None])
    doc = json.loads(ds.storage.get(key))
    assert "layout" not in doc["tensors"]["polygons"] and "requires" not in doc


def test_corrupt_record_is_a_clear_error() -> None:
    record = pack_polygons(np.zeros((5, 2), np.float32), np.array([2, 3]))
    _assert_polygons_equal(
        unpack_polygons(record, np.dtype("float32")), [np.zeros((2, 2), np.float32), np.zeros((3, 2), np.float32)]
    )
    with pytest.raises(CorruptSampleError, match="malformed"):
        unpack_polygons(record[:-4], np.dtype("float32"))
    with pytest.raises(CorruptSampleError, match="malformed"):
        unpack_polygons(record[:6], np.dtype("float32"))


_dims = st.integers(1, 3)
_dtypes = st.sampled_from(["float32", "float64", "int32", "uint16"])


@st.composite
def _polygon_samples(draw: Any) -> tuple[str, int, list[list[np.ndarray]]]:
    dtype, dims = draw(_dtypes), draw(_dims)
    counts = st.lists(st.lists(st.integers(1, 12), max_size=5), min_size=1, max_size=6)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    samples = [[(rng.standard_normal((n, dims)) * 1000).astype(dtype) for n in sample] for sample in draw(counts)]
    return dtype, dims, samples


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(_polygon_samples())
def test_what_you_write_you_read_back(tmp_path: Path, case: tuple[str, int, list[list[np.ndarray]]]) -> None:
    dtype, _, samples = case
    path = str(tmp_path / uuid.uuid4().hex)
    ds = hub.empty(path)
    ds.create_tensor("polygons", htype="polygon", dtype=dtype, max_chunk_size=4096)
    ds.polygons.extend(samples)
    ds = hub.load(path, read_only=True)
    for i, expected in enumerate(samples):
        _assert_polygons_equal(ds.polygons[i].numpy(), expected)
        assert ds.polygons[i].tobytes()  # the stored record
    for got, expected in zip(ds.polygons.numpy(aslist=True), samples, strict=True):
        _assert_polygons_equal(got, expected)


@hub.compute
def _make_polygons(i: int, samples_out: Any) -> None:
    samples_out.polygons.append([np.full((i + 1 + k, 2), i, dtype=np.float32) for k in range(i % 3)])


def test_transform_workers_write_polygons() -> None:
    ds = hub.empty(f"mem://{uuid.uuid4().hex}")
    ds.create_tensor("polygons", htype="polygon")
    _make_polygons().eval(list(range(7)), ds, num_workers=2, scheduler="threaded", progressbar=False)
    assert [[p.shape for p in s] for s in ds.polygons.numpy()] == [
        [(i + 1 + k, 2) for k in range(i % 3)] for i in range(7)
    ]
    assert ds.polygons[5, 1, 0].numpy().tolist() == [5.0, 5.0]
