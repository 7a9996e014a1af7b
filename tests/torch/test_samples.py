"""What the loader yields: transforms with torchvision, tuples, variable shapes, bad samples, map-style access."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, SubsetRandomSampler
from torchvision import transforms

import hub
import hub_torch
from hub.errors import DatasetNotShareableError, DynamicShapeError, LoaderOptionError, SampleDecodeError
from hub.testing.damage import corrupt_sample
from tests.torch.conftest import indices, make_numbers, photo


def _normalize() -> Any:
    return transforms.Compose(
        [
            transforms.ToPILImage(),
            transforms.RandomRotation(20),
            transforms.ToTensor(),
            transforms.Normalize([0.5] * 3, [0.5] * 3),
        ]
    )


@pytest.mark.parametrize(("num_workers", "context"), [(0, None), (2, "spawn")])
def test_per_tensor_torchvision_transforms(images: hub.Dataset, num_workers: int, context: str | None) -> None:
    loader = images.pytorch(
        num_workers=num_workers,
        batch_size=4,
        transform={"images": _normalize(), "labels": None},
        shuffle=True,
        multiprocessing_context=context,
    )
    batches = list(loader)
    assert len(batches) == 10
    first = batches[0]
    assert set(first) == {"images", "labels", "index"}  # a transform dict picks the tensors
    assert first["images"].shape == (4, 3, 32, 32) and first["images"].dtype == torch.float32
    assert first["labels"].dtype == torch.int64 and torch.equal(first["labels"][:, 0], first["index"] % 2)
    assert sorted(indices(batches)) == list(range(40))


def test_images_without_transform_decode_in_workers(images: hub.Dataset) -> None:
    batch = next(iter(images.pytorch(num_workers=2, batch_size=8, multiprocessing_context="fork")))
    assert batch["images"].shape == (8, 32, 32, 3) and batch["images"].dtype == torch.uint8
    assert np.array_equal(batch["images"][3].numpy(), images.images[3].numpy())


def test_tensors_list_gives_tuples_and_sample_transform(numbers: hub.Dataset) -> None:
    x, labels = next(iter(numbers.pytorch(num_workers=0, batch_size=4, tensors=["x", "labels"])))
    assert x.shape == (4, 2, 4) and labels.tolist() == [[0], [1], [0], [1]]

    def double(sample: dict[str, Any]) -> dict[str, Any]:
        return {"x": sample["x"] * 2, "names": sample["names"].upper()}

    batch = next(iter(numbers.pytorch(num_workers=0, batch_size=3, transform=double)))
    assert batch["names"] == ["S0", "S1", "S2"] and batch["x"][1, 0, 0].item() == 16


@pytest.fixture(scope="module")
def ragged(tmp_path_factory: pytest.TempPathFactory) -> hub.Dataset:
    ds = hub.empty(str(tmp_path_factory.mktemp("ragged") / "r"))
    with ds:
        ds.create_tensor("boxes", htype="bbox")
        ds.create_tensor("labels", htype="class_label")
        ds.boxes.extend([np.full((i % 4, 4), i, dtype=np.float32) for i in range(12)])
        ds.labels.extend(np.arange(12, dtype=np.uint32))
    return ds


def test_variable_shapes_need_padding_or_a_collate_fn(ragged: hub.Dataset) -> None:
    with pytest.raises(DynamicShapeError, match="pad_tensors=True"):
        next(iter(ragged.pytorch(num_workers=0, batch_size=4)))
    batch = next(iter(ragged.pytorch(num_workers=0, batch_size=4, pad_tensors=True)))
    assert batch["boxes"].shape == (4, 3, 4)
    assert batch["boxes"][3].tolist() == [[3.0] * 4] * 3 and batch["boxes"][1, 1:].abs().sum() == 0

    def as_lists(samples: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "boxes": [torch.as_tensor(s["boxes"]) for s in samples],
            "labels": [int(s["labels"][0]) for s in samples],
        }

    loader = ragged.pytorch(num_workers=2, batch_size=4, collate_fn=as_lists, multiprocessing_context="fork")
    batches = list(loader)
    assert [b.shape[0] for b in batches[1]["boxes"]] == [0, 1, 2, 3]
    assert [label for b in batches for label in b["labels"]] == list(range(12))


def test_corrupt_sample_raises_naming_it_or_is_skipped(tmp_path: Path) -> None:
    ds = hub.empty(str(tmp_path / "bad"))
    with ds:
        ds.create_tensor("images", htype="image", sample_compression="jpeg")
        ds.images.extend([photo(16, 16, i) for i in range(10)])
    corrupt_sample(ds, "images", 6)
    ds.close()
    ds = hub.load(str(tmp_path / "bad"), read_only=True)
    with pytest.raises(SampleDecodeError, match="Sample 6 of tensor 'images'"):
        list(ds.pytorch(num_workers=2, batch_size=5, multiprocessing_context="fork"))
    got = indices(list(ds.pytorch(num_workers=0, batch_size=5, errors="skip")))
    assert got == [0, 1, 2, 3, 4, 5, 7, 8, 9]


def test_memory_datasets_work_with_fork_and_refuse_spawn() -> None:
    ds = make_numbers("mem://torch-test", 20)
    assert sorted(indices(list(ds.pytorch(num_workers=2, batch_size=5, multiprocessing_context="fork")))) == list(
        range(20)
    )
    with pytest.raises(DatasetNotShareableError, match="num_workers=0"):
        ds.pytorch(num_workers=2, multiprocessing_context="spawn")


def _module_level_collate(samples: list[Any]) -> list[Any]:
    return samples


@pytest.mark.parametrize("method", ["spawn", "forkserver"])
def test_unpicklable_functions_are_refused_before_spawned_workers_start(numbers: hub.Dataset, method: str) -> None:
    """Worker processes started with spawn or forkserver receive the transform and collate_fn pickled: a lambda is
    refused at once with a LoaderOptionError saying what to do (the DataLoader would fail later with a bare
    PicklingError); under fork, which pickles nothing, it works."""
    with pytest.raises(LoaderOptionError, match=r"transform .* can't be pickled.*module level"):
        numbers.pytorch(num_workers=2, transform={"x": lambda v: v}, multiprocessing_context=method)
    with pytest.raises(LoaderOptionError, match=r"collate_fn .* can't be pickled"):
        numbers.pytorch(num_workers=2, batch_size=2, collate_fn=lambda b: b, multiprocessing_context=method)
    loader = numbers[:8].pytorch(
        num_workers=2, batch_size=4, collate_fn=_module_level_collate, multiprocessing_context=method
    )
    assert sum(len(batch) for batch in loader) == 8
    forked = numbers[:8].pytorch(
        num_workers=2, batch_size=4, transform={"x": lambda v: v}, multiprocessing_context="fork"
    )
    assert sorted(indices(list(forked))) == list(range(8))


def test_map_dataset_with_a_sampler(numbers: hub.Dataset) -> None:
    mapped = hub_torch.HubMapDataset(numbers[100:])
    assert len(mapped) == 140
    picks = [3, 50, 7, 139]
    loader = DataLoader(
        mapped, batch_size=2, sampler=SubsetRandomSampler(picks), num_workers=2, multiprocessing_context="spawn"
    )
    batches = list(loader)
    assert sorted(indices(batches)) == [100 + p for p in sorted(picks)]
    sample = mapped[5]
    assert sample["names"] == "s105" and sample["labels"].dtype == torch.int64 and sample["extra"] == {"i": 105}


def test_iterable_dataset_yields_samples_for_a_users_loader(numbers: hub.Dataset) -> None:
    dataset = hub_torch.HubIterableDataset(numbers[:30], ["x", "names"], shuffle=True, seed=2)
    loader = DataLoader(dataset, batch_size=4, num_workers=2, multiprocessing_context="fork")
    seen = []
    for x, names in loader:
        assert x.shape[1:] == (2, 4)
        seen.extend(int(n[1:]) for n in names)
    assert sorted(seen) == list(range(30))


def test_hub2_tobytes_gives_the_stored_bytes(images: hub.Dataset) -> None:
    def first(**options: Any) -> Any:
        return next(iter(images.pytorch(num_workers=0, batch_size=4, tensors=["images", "labels"], **options)))

    stored = first(decode_method={"images": "tobytes"})[0]
    assert isinstance(stored[0], bytes) and stored[0][:2] == b"\xff\xd8"  # a JPEG file
    assert first(tobytes=["images"])[0] == stored
    both = first(tobytes=True)
    assert both[0] == stored and isinstance(both[1][0], bytes)  # every selected tensor
    with pytest.raises(LoaderOptionError, match="give one of them"):
        images.pytorch(tobytes=["images"], decode_method={"images": "pil"})
    with pytest.raises(LoaderOptionError, match=r"hub\.deepcopy"):
        images.pytorch(use_local_cache=True)
