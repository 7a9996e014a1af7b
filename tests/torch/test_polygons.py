"""Ragged polygon samples come out of the PyTorch loader as lists of (points, dims) tensors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

import hub
import hub_torch


def _polygons(i: int) -> list[np.ndarray]:
    rng = np.random.default_rng(i)
    return [rng.uniform(0, 50, (3 + (i + k) % 4, 2)).astype(np.float32) for k in range(i % 3)]  # 0, 1 or 2


@pytest.fixture
def shapes(tmp_path: Path) -> hub.Dataset:
    ds = hub.empty(str(tmp_path / "shapes"))
    with ds:
        ds.create_tensor("polygons", htype="polygon", max_chunk_size=2048)
        ds.create_tensor("labels", htype="class_label")
        for i in range(24):
            ds.append({"polygons": _polygons(i), "labels": i % 2})
    ds.close()
    return hub.load(str(tmp_path / "shapes"), read_only=True)


def _check(polygons: Any, index: int) -> None:
    expected = _polygons(index)
    assert isinstance(polygons, list) and len(polygons) == len(expected)
    for got, want in zip(polygons, expected, strict=True):
        assert isinstance(got, torch.Tensor) and got.dtype == torch.float32
        np.testing.assert_array_equal(got.numpy(), want)


@pytest.mark.parametrize("num_workers", [0, 2])
def test_batches_hold_a_list_of_tensors_per_sample(shapes: hub.Dataset, num_workers: int) -> None:
    loader = shapes.pytorch(num_workers=num_workers, batch_size=5, multiprocessing_context="fork")
    seen = []
    for batch in loader:
        assert batch["labels"].shape[1:] == (1,)
        assert isinstance(batch["polygons"], list) and len(batch["polygons"]) == len(batch["index"])
        for polygons, index in zip(batch["polygons"], batch["index"].tolist(), strict=True):
            _check(polygons, index)
            seen.append(index)
        if num_workers:  # a batch's polygons cross from a worker as views of one shared-memory arena
            storages = {t.untyped_storage().data_ptr() for sample in batch["polygons"] for t in sample}
            assert len(storages) <= 1
            assert all(t.is_shared() for sample in batch["polygons"] for t in sample)
    assert sorted(seen) == list(range(24))


def test_per_sample_transform_and_default_collate(shapes: hub.Dataset) -> None:
    def count(sample: dict[str, Any]) -> dict[str, Any]:
        sample["n"] = len(sample["polygons"])
        return sample

    batch = next(iter(shapes.pytorch(num_workers=0, batch_size=6, transform=count)))
    assert batch["n"].tolist() == [i % 3 for i in range(6)]
    for i, polygons in enumerate(batch["polygons"]):
        _check(polygons, i)
    polygons, labels = next(iter(shapes.pytorch(num_workers=0, batch_size=4, tensors=["polygons", "labels"])))
    assert labels.tolist() == [[0], [1], [0], [1]]
    for i, sample in enumerate(polygons):
        _check(sample, i)


def test_a_users_collate_fn_and_single_samples(shapes: hub.Dataset) -> None:
    def points(samples: list[dict[str, Any]]) -> torch.Tensor:
        return torch.tensor([sum(len(p) for p in s["polygons"]) for s in samples])

    totals = next(iter(shapes.pytorch(num_workers=0, batch_size=4, collate_fn=points)))
    assert totals.tolist() == [sum(len(p) for p in _polygons(i)) for i in range(4)]
    dataset = hub_torch.HubIterableDataset(shapes, ["polygons"])
    for i, sample in enumerate(DataLoader(dataset, batch_size=None)):
        _check(sample[0], i)  # a list of tensors names the tensors, so samples are sequences in that order


def test_map_dataset_gives_polygons_as_tensors(shapes: hub.Dataset) -> None:
    dataset = hub_torch.HubMapDataset(shapes)
    for index in (5, 0, 23):
        _check(dataset[index]["polygons"], index)
    loader = DataLoader(dataset, batch_size=3, collate_fn=list)
    first = next(iter(loader))
    for i, sample in enumerate(first):
        _check(sample["polygons"], i)
