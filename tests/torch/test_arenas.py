"""Workers recycle their shared-memory arenas, never while the user holds a batch, a view or an array of one."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

import hub

N = 4000


def _sample(i: int) -> np.ndarray:
    x = np.full((32, 32, 3), (i * 7) % 256, dtype=np.uint8)
    x[0, 0] = (i % 256, i // 256, 99)
    return x


@pytest.fixture(scope="module")
def squares(tmp_path_factory: pytest.TempPathFactory) -> hub.Dataset:
    path = str(tmp_path_factory.mktemp("arenas") / "squares")
    ds = hub.empty(path)
    with ds:
        ds.create_tensor("x", dtype="uint8")
        ds.x.extend(np.stack([_sample(i) for i in range(N)]))
    ds.close()
    return hub.load(path, read_only=True)


def _index(x: torch.Tensor) -> torch.Tensor:
    """The sample indices a batch of ``x`` (NHWC or NCHW) says it holds."""
    corner = x[:, 0, 0] if x.shape[-1] == 3 else x[:, :, 0, 0]
    return corner[:, 0].to(torch.int64) + 256 * corner[:, 1].to(torch.int64)


def _expect(x: torch.Tensor, index: torch.Tensor) -> None:
    """Each sample of the batch is exactly the one its index names."""
    want = torch.from_numpy(np.stack([_sample(int(i)) for i in index]))
    assert torch.equal(x, want)


@pytest.mark.parametrize("context", ["fork", "spawn"])
def test_arenas_are_reused_when_batches_are_dropped(squares: hub.Dataset, context: str) -> None:
    loader = squares.pytorch(num_workers=2, batch_size=16, shuffle=True, seed=3, multiprocessing_context=context)
    seen: list[int] = []
    storages = set()
    for batch in loader:
        _expect(batch["x"], batch["index"])
        seen += batch["index"].tolist()
        storages.add(batch["x"].untyped_storage().data_ptr())
    assert sorted(seen) == list(range(N))
    packs = -(-N // (16 * 16))  # 16 batches of 16 samples per pack here
    assert len(storages) < packs / 2, f"{len(storages)} arenas for {packs} packs: they are not recycled"


@pytest.mark.parametrize("context", ["fork", "spawn"])
def test_held_batches_views_and_arrays_keep_their_data(squares: hub.Dataset, context: str) -> None:
    loader = squares.pytorch(num_workers=2, batch_size=16, shuffle=True, seed=4, multiprocessing_context=context)
    held: list[tuple[Any, torch.Tensor]] = []
    for k, batch in enumerate(loader):
        index = batch["index"]
        if k % 3 == 0:
            held.append((batch, index))  # the whole batch
        elif k % 3 == 1:
            held.append((batch["x"].permute(0, 3, 1, 2), index))  # only a view of it
        else:
            held.append((batch["x"][:, :4].numpy(), index))  # only a numpy array over it
        del batch
    # Every arena a kept value lies in was left alone by the workers for the rest of the epoch.
    for value, index in held:
        if isinstance(value, dict):
            _expect(value["x"], index)
        elif isinstance(value, np.ndarray):
            want = np.stack([_sample(int(i))[:4] for i in index])
            assert np.array_equal(value, want)
        else:
            _expect(value.permute(0, 2, 3, 1), index)
    assert sorted(i for _, index in held for i in index.tolist()) == list(range(N))


@pytest.mark.filterwarnings("ignore:'pin_memory' argument is set as true but no accelerator")
def test_every_epoch_has_its_own_arenas_and_pin_memory_resends_them(squares: hub.Dataset) -> None:
    # With pin_memory the workers send each recycled arena with every pack (the pinning thread would hand the
    # loader copies); without an accelerator torch pins nothing, which this test does not rely on.
    loader = squares.pytorch(
        num_workers=2, batch_size=64, shuffle=True, seed=5, pin_memory=True, parallelism="processes"
    )
    for _ in range(2):
        seen: list[int] = []
        for batch in loader:
            _expect(batch["x"], batch["index"])
            seen += batch["index"].tolist()
        assert sorted(seen) == list(range(N))
