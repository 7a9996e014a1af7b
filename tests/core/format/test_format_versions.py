"""Readers refuse an unknown major format version with a clear error and read older minors."""

from __future__ import annotations

import json
import uuid

import numpy as np
import pytest

import hub
from hub.core.chunk import parse_header
from hub.core.chunk_index import ChunkIndex
from hub.errors import CorruptDatasetError, FormatVersionError


def _dataset() -> hub.Dataset:
    ds = hub.empty(f"mem://{uuid.uuid4().hex}")
    ds.create_tensor("x", dtype="int32")
    ds.x.extend(np.arange(10, dtype="int32"))
    ds.close()
    return ds


def _rewrite_json(ds: hub.Dataset, key: str, **changes: object) -> None:
    doc = json.loads(ds.storage.get(key))
    doc.update(changes)
    ds.storage.set(key, json.dumps(doc).encode())


def test_unknown_major_in_root_is_refused() -> None:
    ds = _dataset()
    _rewrite_json(ds, "hub.json", format_version="2.0")
    with pytest.raises(FormatVersionError, match=r"format 2\.0.*pip install -U hub-core"):
        hub.load(ds.path, read_only=True)


def test_unknown_major_in_node_meta_is_refused() -> None:
    ds = _dataset()
    node = json.loads(ds.storage.get("hub.json"))["heads"]["main"]
    _rewrite_json(ds, f"versions/{node}/meta.json", format_version="7.3")
    with pytest.raises(FormatVersionError, match=r"7\.3"):
        hub.load(ds.path, read_only=True)


def test_unknown_major_in_chunk_and_index_is_refused() -> None:
    ds = _dataset()
    chunk_key = ds.storage.list("chunks/")[0]
    data = bytearray(ds.storage.get(chunk_key))
    data[4] = 9
    with pytest.raises(FormatVersionError, match="9"):
        parse_header(bytes(data), chunk_key)
    index_key = ds.storage.list("indexes/")[0]
    raw = bytearray(ds.storage.get(index_key))
    raw[4] = 3
    with pytest.raises(FormatVersionError):
        ChunkIndex.frombytes(bytes(raw), index_key)


def test_older_minor_opens() -> None:
    ds = _dataset()
    node = json.loads(ds.storage.get("hub.json"))["heads"]["main"]
    _rewrite_json(ds, "hub.json", format_version="1.0")
    doc = json.loads(ds.storage.get(f"versions/{node}/meta.json"))
    doc["format_version"] = "1.0"
    for field in ("parent", "changed"):
        doc.pop(field)
    for tensor in doc["tensors"].values():
        tensor.pop("sealed")
        tensor.pop("base_index")
    ds.storage.set(f"versions/{node}/meta.json", json.dumps(doc).encode())
    reopened = hub.load(ds.path)
    assert reopened.x.numpy().tolist() == list(range(10))
    reopened.x.append(10)
    assert reopened.commit("first commit on a 1.0 dataset")


def test_garbage_metadata_is_a_clear_error() -> None:
    ds = _dataset()
    ds.storage.set("hub.json", b"{not json")
    with pytest.raises(CorruptDatasetError, match="not valid JSON"):
        hub.load(ds.path, read_only=True)


def test_a_required_feature_this_reader_does_not_know_is_refused() -> None:
    ds = _dataset()
    node = json.loads(ds.storage.get("hub.json"))["heads"]["main"]
    key = f"versions/{node}/meta.json"
    assert "requires" not in json.loads(ds.storage.get(key))  # nothing beyond 1.2's features
    _rewrite_json(ds, key, requires=["ragged_polygons"])
    assert hub.load(ds.path, read_only=True).x.numpy().tolist() == list(range(10))
    _rewrite_json(ds, key, requires=["ragged_polygons", "tensors_from_the_future"])
    with pytest.raises(FormatVersionError, match=r"tensors_from_the_future.*pip install -U hub-core"):
        hub.load(ds.path, read_only=True)
