"""Two DDP ranks (gloo, two processes) read disjoint, complete and equally long parts of every epoch."""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

import hub
from tests.torch.conftest import N


def _rank(rank: int, path: str, store: str, out: str) -> None:
    os.environ["GLOO_SOCKET_IFNAME"] = "lo"
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=2)
    try:
        ds = hub.load(path, read_only=True)
        loader = ds.pytorch(num_workers=2, batch_size=16, shuffle=True, drop_last=True, multiprocessing_context="fork")
        complete = ds.pytorch(num_workers=0, batch_size=16, shuffle=True, seed=4)
        epochs = []
        for current in (loader, loader, complete):
            seen: list[int] = []
            for batch in current:
                seen.extend(batch["index"].tolist())
                steps = torch.tensor([1])
                dist.all_reduce(steps)  # a collective per step, as DDP's gradient sync: equal counts or a hang
            epochs.append(seen)
        Path(out, f"rank{rank}.json").write_text(json.dumps(epochs))
    finally:
        dist.destroy_process_group()


def test_two_gloo_ranks_split_every_epoch(numbers: hub.Dataset, tmp_path: Path) -> None:
    mp.start_processes(
        _rank,
        args=(numbers.path, str(tmp_path / "store"), str(tmp_path)),
        nprocs=2,
        join=True,
        start_method="spawn",
    )
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(2)]
    for epoch in range(2):
        a, b = ranks[0][epoch], ranks[1][epoch]
        assert len(a) == len(b) == N // 2 // 16 * 16
        assert not set(a) & set(b)
    assert ranks[0][0] != ranks[0][1]  # reshuffled per epoch
    assert sorted(ranks[0][2] + ranks[1][2]) == list(range(N))  # without drop_last, all of it
