"""ds.pytorch() through real DataLoaders: exactly once per epoch, order, seeds, epochs, shuffle quality, resumption."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

import hub
from tests.torch.conftest import N, indices

#: (num_workers, how they run): a start method for worker processes, or "threads" (parallelism="threads").
WORKERS = [(0, None), (2, "fork"), (2, "spawn"), (2, "threads")]


def _workers(context: str | None) -> dict[str, Any]:
    """ds.pytorch()'s options for a WORKERS entry."""
    return {"parallelism": "threads"} if context == "threads" else {"multiprocessing_context": context}


def _check(batch: dict[str, Any]) -> None:
    index = batch["index"]
    assert index.dtype == torch.int64
    assert torch.equal(batch["x"][:, 0, 0], (index * 8).to(torch.int32))
    assert batch["labels"].dtype == torch.int64 and torch.equal(batch["labels"][:, 0], index % 2)
    assert batch["names"] == [f"s{i}" for i in index.tolist()]
    assert batch["extra"] == [{"i": i} for i in index.tolist()]
    assert batch["wide"].dtype == torch.int32 and bool((batch["wide"] == 60000).all())


@pytest.mark.parametrize(("num_workers", "context"), WORKERS)
@pytest.mark.parametrize("shuffle", [False, True])
def test_every_sample_once_per_epoch(
    numbers: hub.Dataset, num_workers: int, context: str | None, shuffle: bool
) -> None:
    loader = numbers.pytorch(num_workers=num_workers, batch_size=16, shuffle=shuffle, seed=1, **_workers(context))
    epochs = []
    for _ in range(2):
        batches = list(loader)
        for b in batches:
            _check(b)
        epochs.append(indices(batches))
        assert sorted(epochs[-1]) == list(range(N))
    if shuffle:
        assert epochs[0] != epochs[1]  # each epoch reshuffles
    else:
        assert epochs[0] == epochs[1] == list(range(N))  # storage order, whatever the number of workers
    assert len(loader) == len(batches)


def test_views_and_drop_last(numbers: hub.Dataset) -> None:
    view = numbers[10:200:3]
    got = indices(list(view.pytorch(num_workers=2, batch_size=8, drop_last=True, multiprocessing_context="fork")))
    expected = list(range(10, 200, 3))
    assert got == expected[: len(expected) // 8 * 8]


def test_same_seed_same_stream_and_no_seed_differs(numbers: hub.Dataset) -> None:
    def stream(seed: int | None, workers: int = 2) -> list[int]:
        loader = numbers.pytorch(num_workers=workers, batch_size=10, shuffle=True, seed=seed)
        return indices(list(loader))

    assert stream(7) == stream(7)
    assert stream(7) != stream(8)
    assert stream(None) != stream(None)
    assert stream(7, workers=0) == stream(7, workers=0)


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(np.argsort(np.argsort(a)), np.argsort(np.argsort(b)))[0, 1])


def test_shuffle_quality_with_a_buffer_of_a_few_chunks(tmp_path: Any) -> None:
    ds = hub.empty(str(tmp_path / "long"))
    with ds:
        ds.create_tensor("x", max_chunk_size=1024)  # 32 samples per chunk, 250 chunks
        ds.x.extend(np.arange(8000 * 8, dtype=np.int32).reshape(8000, 8))
    loader = ds.pytorch(num_workers=0, batch_size=32, shuffle=True, seed=3, buffer_size=4 * 1024 / 2**20)
    batches = [b["index"].numpy() for b in loader]
    order = np.concatenate(batches)
    assert sorted(order.tolist()) == list(range(8000))
    assert abs(_spearman(order, np.arange(len(order)))) < 0.1
    # A batch mixes samples from far apart in storage, although the buffer started with one chunk of 32 samples.
    assert np.median([b.max() - b.min() for b in batches]) > 1000


@pytest.mark.parametrize(("num_workers", "context"), [(0, None), (2, "fork"), (2, "threads")])
@pytest.mark.parametrize("shuffle", [False, True])
def test_resume_mid_epoch(numbers: hub.Dataset, num_workers: int, context: str | None, shuffle: bool) -> None:
    def make() -> Any:
        return numbers.pytorch(num_workers=num_workers, batch_size=7, shuffle=shuffle, seed=5, **_workers(context))

    loader = make()
    list(loader)  # epoch 0
    full = [b["index"].tolist() for b in loader]  # epoch 1
    loader = make()
    list(loader)
    it = iter(loader)
    taken = [next(it)["index"].tolist() for _ in range(5)]
    state = loader.state_dict()
    del it
    assert state == {"epoch": 1, "batches": 5, "seed": 5}
    resumed = make()
    resumed.load_state_dict(state)
    rest = [b["index"].tolist() for b in resumed]
    assert taken + rest == full
    assert resumed.state_dict() == {"epoch": 2, "batches": 0, "seed": 5}


@pytest.mark.parametrize(("num_workers", "context"), [(0, None), (2, "fork"), (2, "threads")])
def test_the_epoch_after_a_resumed_one_is_whole(numbers: hub.Dataset, num_workers: int, context: str | None) -> None:
    def make() -> Any:
        return numbers.pytorch(num_workers=num_workers, batch_size=7, shuffle=True, seed=6, **_workers(context))

    loader = make()
    it = iter(loader)
    next(it)
    state = loader.state_dict()
    del it
    resumed = make()
    resumed.load_state_dict(state)
    list(resumed)  # the rest of epoch 0
    assert sorted(indices(list(resumed))) == list(range(N))  # epoch 1, whole
