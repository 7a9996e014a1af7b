"""Worker threads (``parallelism="threads"``): batches made in the loader's process, as worker processes make them."""

from __future__ import annotations

import gc
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

import hub
from hub.errors import CorruptDatasetError, LoaderOptionError
from tests.torch.conftest import N, indices


def make_raw(path: str, n: int = N) -> hub.Dataset:
    """Only raw tensors (values that say their index), in many small chunks: batches are plain copies."""
    ds = hub.empty(path, overwrite=True)
    with ds:
        ds.create_tensor("x", max_chunk_size=2048)
        ds.create_tensor("labels", htype="class_label", class_names=["even", "odd"])
        ds.create_tensor("wide", dtype="uint16", max_chunk_size=1024)
        ds.x.extend(np.arange(n * 8, dtype=np.int32).reshape(n, 2, 4))
        ds.labels.extend(np.arange(n, dtype=np.uint32) % 2)
        ds.wide.extend(np.arange(n, dtype=np.uint16).reshape(n, 1) + 60000)
    return ds


@pytest.fixture(scope="module")
def raw(tmp_path_factory: pytest.TempPathFactory) -> hub.Dataset:
    path = str(tmp_path_factory.mktemp("threads") / "raw")
    make_raw(path).close()
    return hub.load(path, read_only=True)


def _check(batch: dict[str, Any]) -> None:
    index = batch["index"]
    assert torch.equal(batch["x"][:, 0, 0], (index * 8).to(torch.int32))
    assert batch["labels"].dtype == torch.int64 and torch.equal(batch["labels"][:, 0], index % 2)
    assert batch["wide"].dtype == torch.int32 and torch.equal(batch["wide"][:, 0], (index + 60000).to(torch.int32))


def _epochs(loader: Any, n: int = 2) -> list[list[dict[str, Any]]]:
    # Copies: the loader reuses a batch's memory once nothing refers to it.
    return [[{k: v.clone() for k, v in b.items()} for b in loader] for _ in range(n)]


@pytest.mark.parametrize("shuffle", [False, True])
def test_thread_workers_give_the_batches_of_worker_processes(raw: hub.Dataset, shuffle: bool) -> None:
    threaded = raw.pytorch(num_workers=2, batch_size=7, shuffle=shuffle, seed=3, parallelism="threads")
    assert threaded.num_workers == 0 and threaded.dataset.threads == 2  # no worker process is started
    processes = raw.pytorch(num_workers=2, batch_size=7, shuffle=shuffle, seed=3, multiprocessing_context="fork")
    assert processes.num_workers == 2 and processes.dataset.threads == 0
    got, want = _epochs(threaded), _epochs(processes)
    for epoch, (mine, theirs) in enumerate(zip(got, want, strict=True)):
        assert indices(mine) == indices(theirs), f"epoch {epoch}"
        assert sorted(indices(mine)) == list(range(N))
        for a, b in zip(mine, theirs, strict=True):
            _check(a)
            assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    if shuffle:
        assert indices(got[0]) != indices(got[1])
    else:
        assert indices(got[0]) == list(range(N))
    assert len(threaded) == sum(len(e) for e in got) // 2


@pytest.mark.parametrize("shuffle", [False, True])
def test_thread_workers_run_transforms_and_collation_as_worker_processes(raw: hub.Dataset, shuffle: bool) -> None:
    def tenfold(x: np.ndarray) -> np.ndarray:
        return x * 10

    def make(parallelism: str, **context: Any) -> Any:
        return raw.pytorch(
            num_workers=2,
            batch_size=6,
            shuffle=shuffle,
            seed=8,
            transform={"x": tenfold, "labels": None},
            parallelism=parallelism,  # type: ignore[arg-type]
            **context,
        )

    threaded = [(b["index"].tolist(), b["x"].clone(), b["labels"].clone()) for b in make("threads")]
    processes = [(b["index"].tolist(), b["x"], b["labels"]) for b in make("processes", multiprocessing_context="fork")]
    assert [t[0] for t in threaded] == [p[0] for p in processes]
    for (index, x, labels), (_, px, plabels) in zip(threaded, processes, strict=True):
        assert torch.equal(x, px) and torch.equal(labels, plabels)
        assert torch.equal(x[:, 0, 0], torch.tensor(index, dtype=torch.int32) * 80)
    assert make("threads").dataset.names == ["x", "labels"]  # the transform dict picks the tensors


def test_threads_decode_compressed_samples_when_asked(images: hub.Dataset) -> None:
    loader = images.pytorch(num_workers=2, batch_size=8, shuffle=True, seed=1, parallelism="threads")
    assert loader.num_workers == 0 and loader.dataset.threads == 2
    alone = {}
    for b in images.pytorch(num_workers=0, batch_size=8):
        alone.update(zip(b["index"].tolist(), b["images"], strict=True))
    seen = []
    for b in loader:
        for i, x in zip(b["index"].tolist(), b["images"], strict=True):
            assert torch.equal(x, alone[i])
            seen.append(i)
    assert sorted(seen) == list(range(len(images)))


def _runs_on(loader: Any) -> str:
    if loader.num_workers > 0:
        return "processes"
    return "threads" if loader.dataset.threads else "this process"


def _init_worker(worker_id: int) -> None:
    pass


def test_auto_parallelism_starts_processes_only_where_they_help(raw: hub.Dataset, images: hub.Dataset) -> None:
    # Batches that are only copies of raw rows: made in the loader's process.
    assert _runs_on(raw.pytorch(num_workers=2, batch_size=8)) == "threads"
    assert raw.pytorch(num_workers=2, batch_size=8).dataset.copies_only()
    # Anything else: worker processes, as Hub 2.x started them.
    assert _runs_on(raw.pytorch(num_workers=2, batch_size=8, transform={"x": _tenfold})) == "processes"
    assert _runs_on(raw.pytorch(num_workers=2, batch_size=None)) == "processes"
    assert _runs_on(raw.pytorch(num_workers=2, batch_size=8, tobytes=["x"])) == "processes"
    assert _runs_on(images.pytorch(num_workers=2, batch_size=8)) == "processes"
    # Asking for what only worker processes have.
    assert _runs_on(raw.pytorch(num_workers=2, batch_size=8, multiprocessing_context="fork")) == "processes"
    assert _runs_on(raw.pytorch(num_workers=2, batch_size=8, worker_init_fn=_init_worker)) == "processes"
    assert _runs_on(raw.pytorch(num_workers=2, batch_size=8, persistent_workers=True)) == "processes"
    assert _runs_on(raw.pytorch(num_workers=2, batch_size=8, parallelism="processes")) == "processes"
    assert _runs_on(raw.pytorch(num_workers=0, batch_size=8)) == "this process"
    assert _runs_on(raw.pytorch(num_workers=0, batch_size=8, parallelism="threads")) == "this process"


def _tenfold(x: np.ndarray) -> np.ndarray:
    return x * 10


def test_raw_batches_are_made_in_the_loaders_thread(raw: hub.Dataset) -> None:
    """Worker threads would only copy rows: the shards' streams are taken in turn in the consumer's thread."""
    loader = raw.pytorch(num_workers=2, batch_size=8, shuffle=True, seed=6, parallelism="threads")
    processes = raw.pytorch(num_workers=2, batch_size=8, shuffle=True, seed=6, multiprocessing_context="fork")
    already = set(_workers())  # none, unless an earlier test's threads are still ending
    got = []
    for batch in loader:
        assert set(_workers()) <= already
        _check(batch)
        got.append(batch["index"].tolist())
    assert got == [b["index"].tolist() for b in processes]


def test_bad_parallelism_is_refused(raw: hub.Dataset) -> None:
    with pytest.raises(LoaderOptionError, match="parallelism must be"):
        raw.pytorch(num_workers=2, parallelism="fibers")  # type: ignore[arg-type]
    with pytest.raises(LoaderOptionError, match="drop multiprocessing_context"):
        raw.pytorch(num_workers=2, parallelism="threads", multiprocessing_context="fork")
    with pytest.raises(LoaderOptionError, match="worker_init_fn would never run"):
        raw.pytorch(num_workers=2, parallelism="threads", worker_init_fn=_init_worker)


def _workers() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("hub-torch-worker")]


def test_leaving_an_epoch_early_stops_the_threads(images: hub.Dataset) -> None:
    loader = images.pytorch(num_workers=2, batch_size=4, shuffle=True, seed=2, parallelism="threads")
    it = iter(loader)
    next(it)
    assert len(_workers()) == 2
    it.close()
    del it
    gc.collect()
    assert _workers() == []
    assert sorted(indices(list(loader))) == list(range(len(images)))  # the next epoch runs whole


def test_a_thread_error_is_raised_in_the_loop(tmp_path: Path) -> None:
    path = str(tmp_path / "broken")
    make_raw(path).close()
    chunks = [p for p in Path(path).rglob("*") if p.is_file() and "chunks" in p.parts]
    assert chunks
    for chunk in chunks:  # hidden tensors' chunks too, which the loader doesn't read
        chunk.write_bytes(b"not a chunk")
    loader = hub.load(path, read_only=True).pytorch(num_workers=2, batch_size=4, parallelism="threads")
    with pytest.raises(CorruptDatasetError):
        list(loader)
    assert _workers() == []


def test_a_memory_dataset_reads_on_threads() -> None:
    mem = make_raw("mem://threads-raw")
    # No process needs to open it, so any start method's default is fine.
    loader = mem.pytorch(num_workers=2, batch_size=16, shuffle=True, parallelism="threads")
    batches = list(loader)
    for b in batches:
        _check(b)
    assert sorted(indices(batches)) == list(range(N))
