"""A writer killed with SIGKILL at any instant leaves a dataset that opens and holds a flushed prefix."""

from __future__ import annotations

import multiprocessing as mp
import os
import random
import signal
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import hub

BATCHES = [7, 1, 30, 2, 120, 5, 64, 3, 250, 9] * 40  # sizes of successive flushed extends
ROUNDS = 50


def _expected_lengths() -> set[int]:
    lengths, total = {0}, 0
    for size in BATCHES:
        total += size
        lengths.add(total)
    return lengths


def _writer(path: str, started: mp.synchronize.Event, done: Any) -> None:
    ds = hub.load(path)
    start = len(ds)
    started.set()
    for size in BATCHES:
        values = np.arange(start, start + size, dtype="int64")
        ds.extend({"x": values.reshape(size, 1) * np.ones((1, 50), dtype="int64"), "label": values})
        start += size
        done.value += 1
    os._exit(0)


@pytest.mark.parametrize("chunk_compression", [None, "lz4"])
def test_sigkill_during_extend_leaves_a_flushed_prefix(tmp_path: Path, chunk_compression: str | None) -> None:
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(["hub", "numpy"])
    path = str(tmp_path / "ds")
    rng = random.Random(1234)
    valid = _expected_lengths()
    seen = set()
    for _ in range(ROUNDS // 2):
        ds = hub.empty(path, overwrite=True)
        ds.create_tensor("x", dtype="int64", chunk_compression=chunk_compression, max_chunk_size=8192)
        ds.create_tensor("label", htype="class_label")
        ds.close()  # the writer process takes the branch's write lock
        started, done = ctx.Event(), ctx.Value("i", 0)
        proc = ctx.Process(target=_writer, args=(path, started, done))
        proc.start()
        assert started.wait(30)
        # Kill after a random number of finished extends, then a random instant into the next one:
        # where kills land does not depend on how fast (or how loaded) the machine is.
        target, deadline = rng.randrange(0, 30), time.monotonic() + 60
        while done.value < target and time.monotonic() < deadline:
            time.sleep(0.0005)
        time.sleep(rng.uniform(0, 0.004))
        os.kill(proc.pid, signal.SIGKILL)
        proc.join()
        reopened = hub.load(path)  # the killed writer's lock is taken over: its process is gone
        n = len(reopened.x)
        assert n == len(reopened.label), "tensors disagree after the crash"
        assert n in valid, f"length {n} is not the length after any flush"
        seen.add(n)
        if n:
            x = reopened.x.numpy()
            np.testing.assert_array_equal(x[:, 0], np.arange(n))
            np.testing.assert_array_equal(x[:, -1], np.arange(n))
            np.testing.assert_array_equal(reopened.label.numpy()[:, 0], np.arange(n))
        # The survivor stays writable: appending after the crash works and reads back.
        reopened.extend({"x": np.full((2, 50), -1, dtype="int64"), "label": [0, 0]})
        assert hub.load(path, read_only=True).x[-1].numpy().tolist() == [-1] * 50
        reopened.close()
    assert len(seen) > 3, f"kills landed at too few distinct points: {sorted(seen)}"
