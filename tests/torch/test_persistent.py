"""persistent_workers=True: worker processes that outlive an epoch read each epoch's plan, and keep their arenas."""

from __future__ import annotations

from typing import Any

import pytest
import torch

import hub
from hub.errors import LoaderOptionError
from tests.torch.conftest import N, indices


def _epochs(loader: Any, n: int) -> list[list[int]]:
    return [[i for b in loader for i in b["index"].tolist()] for _ in range(n)]


def _kept_and_fresh(ds: hub.Dataset, **options: Any) -> tuple[Any, Any]:
    """Two loaders of 2 workers with the same options, with persistent workers and without."""
    return ds.pytorch(num_workers=2, persistent_workers=True, **options), ds.pytorch(num_workers=2, **options)


@pytest.mark.parametrize("context", ["fork", "spawn"])
@pytest.mark.parametrize("shuffle", [False, True])
def test_persistent_workers_give_each_epoch_of_fresh_ones(numbers: hub.Dataset, context: str, shuffle: bool) -> None:
    kept_loader, fresh_loader = _kept_and_fresh(
        numbers, batch_size=16, shuffle=shuffle, seed=2, multiprocessing_context=context
    )
    kept = _epochs(kept_loader, 3)
    fresh = _epochs(fresh_loader, 3)
    assert kept == fresh
    assert all(sorted(epoch) == list(range(N)) for epoch in kept)
    if shuffle:
        assert kept[0] != kept[1] != kept[2]


@pytest.mark.parametrize("context", ["fork", "spawn"])
def test_persistent_workers_keep_their_arenas(images: hub.Dataset, context: str) -> None:
    kept, fresh = _kept_and_fresh(images, batch_size=4, shuffle=True, seed=5, multiprocessing_context=context)
    for _ in range(3):  # the same arenas hold every epoch's batches
        for a, b in zip(kept, fresh, strict=True):
            assert torch.equal(a["index"], b["index"]) and torch.equal(a["images"], b["images"])


def test_epochs_left_early_give_back_their_arenas(images: hub.Dataset) -> None:
    loader = images.pytorch(num_workers=2, batch_size=2, multiprocessing_context="fork", persistent_workers=True)
    for _ in range(8):  # each leaves packs in flight, which the loader drops
        it = iter(loader)
        next(it)
        del it
    assert sorted(indices(list(loader))) == list(range(len(images)))
    returns = loader._returns
    assert returns is not None
    returns.release()
    busy = int((returns.flags[:, 0] != 0).sum())
    assert busy <= 2, f"{busy} arena slots stayed busy"  # at most the last pack of each worker, if still referenced


def test_resume_with_persistent_workers(numbers: hub.Dataset) -> None:
    def make() -> Any:
        return numbers.pytorch(
            num_workers=2, batch_size=7, shuffle=True, seed=4, multiprocessing_context="fork", persistent_workers=True
        )

    full = _epochs(make(), 2)[1]
    loader = make()
    list(loader)
    it = iter(loader)
    taken = [i for _ in range(5) for i in next(it)["index"].tolist()]
    state = loader.state_dict()
    del it
    resumed = make()
    resumed.load_state_dict(state)
    assert taken + [i for b in resumed for i in b["index"].tolist()] == full
    assert sorted(i for b in resumed for i in b["index"].tolist()) == list(range(N))  # and the next epoch is whole


def test_persistent_workers_need_worker_processes(numbers: hub.Dataset) -> None:
    with pytest.raises(LoaderOptionError, match="persistent_workers"):
        numbers.pytorch(num_workers=0, persistent_workers=True)
    with pytest.raises(LoaderOptionError, match="persistent_workers"):
        numbers.pytorch(num_workers=2, parallelism="threads", persistent_workers=True)
