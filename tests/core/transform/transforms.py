"""Transforms the compute tests run: defined at module level, so worker processes can import them."""

from __future__ import annotations

import os
import signal
import time
from typing import Any

import numpy as np

import hub


def make_output(path: str, creds: Any = None) -> hub.Dataset:
    """An empty dataset with the tensors the transforms below append to."""
    ds = hub.empty(path, overwrite=True, creds=creds)
    # A small chunk size, so a task fills several chunks and the large samples are tiled.
    ds.create_tensor("images", dtype="uint8", max_chunk_size=4096)
    ds.create_tensor("labels", htype="class_label")
    ds.create_tensor("names", htype="text")
    return ds


def expected(i: int) -> list[tuple[np.ndarray, int, str]]:
    """What ``fan_out`` appends for input ``i``: zero, one or two samples."""
    rng = np.random.default_rng(i)
    out = []
    for k in range(i % 3):
        side = 40 if i % 7 == 0 else 4 + i % 5  # 40x40x3 is larger than a chunk: tiled
        out.append((rng.integers(0, 255, (side, 6 + k, 3), dtype=np.uint8), i * 10 + k, f"{i}-{k}"))
    return out


@hub.compute
def fan_out(i: Any, samples_out: Any, fail_at: int | None = None) -> None:
    i = int(i)
    if i == fail_at:
        raise ValueError(f"bad input {i}")
    for image, label, name in expected(i):
        samples_out.images.append(image)
        samples_out.labels.append(label)
        samples_out.append({"names": name})


@hub.compute
def double(sample_in: Any, samples_out: Any) -> None:
    """A second stage: every sample of the first one, twice, labels shifted."""
    for shift in (0, 1):
        samples_out.images.append(sample_in.images.numpy())
        samples_out.labels.append(int(sample_in.labels.numpy()) + shift)
        samples_out.names.append(sample_in.names.text() + f"+{shift}")


@hub.compute
def copy_sample(sample_in: Any, samples_out: Any) -> None:
    """Reads a dataset sample (a one-sample view) and appends it."""
    samples_out.images.append(sample_in.images.numpy())
    samples_out.labels.append(sample_in.labels.numpy())
    samples_out.names.append(sample_in.names.text())


@hub.compute
def interrupt_at(i: Any, samples_out: Any, at: int) -> None:
    """Appends like ``fan_out``, but input ``at`` is interrupted (as by Ctrl-C)."""
    if int(i) == at:
        raise KeyboardInterrupt
    fan_out.func(i, samples_out)


@hub.compute
def slow(i: Any, samples_out: Any, seconds: float, pid_dir: str) -> None:
    """``fan_out`` with a pause per input, so that a run can be killed midway; notes its process id in ``pid_dir``."""
    open(os.path.join(pid_dir, str(os.getpid())), "w").close()
    time.sleep(seconds)
    fan_out.func(i, samples_out)


@hub.compute
def where(i: Any, samples_out: Any, seconds: float = 0.0) -> None:
    """Records the Ray node (or the process) each input ran in."""
    time.sleep(seconds)
    try:
        import ray

        node = ray.get_runtime_context().get_node_id() if ray.is_initialized() else str(os.getpid())
    except ImportError:
        node = str(os.getpid())
    samples_out.names.append(node)
    samples_out.labels.append(int(i))
    samples_out.images.append(np.full((2, 2, 3), int(i) % 256, dtype=np.uint8))


@hub.compute
def word_labels(i: Any, samples_out: Any) -> None:
    samples_out.labels.append(["cat", "dog", "cow"][int(i) % 3])


def is_even_label(sample: Any) -> bool:
    return int(sample.labels.numpy()[0]) % 2 == 0


@hub.compute
def label_in(sample_in: Any, allowed: list[int]) -> bool:
    return int(sample_in.labels.numpy()[0]) in allowed


@hub.compute
def crash_at(i: Any, samples_out: Any, at: int) -> None:
    """Appends like ``fan_out``; at input ``at`` the worker process dies (as if out of memory), cleaning nothing."""
    if int(i) == at:
        os.kill(os.getpid(), signal.SIGKILL)
    fan_out.func(i, samples_out)


@hub.compute
def brighten(sample_in: Any, samples_out: Any, fail_at: int | None = None) -> None:
    """An in-place transform of a ``fan_out`` dataset: images + 1, labels + 1000, one output per input sample."""
    label = int(sample_in.labels.numpy()[0])
    if label == fail_at:
        raise ValueError(f"bad label {label}")
    samples_out.images.append(sample_in.images.numpy() + 1)
    samples_out.labels.append(label + 1000)
    samples_out.names.append(sample_in.names.text() + "!")


@hub.compute
def describe_padded(sample_in: Any, samples_out: Any) -> None:
    """Records what a padded input gives for tensors ``a`` and ``b``: their values or empty arrays."""
    a, b = sample_in.a.numpy(), sample_in["b"].numpy()
    samples_out.shapes.append(np.asarray([*a.shape, -1, *b.shape], dtype=np.int64))
    samples_out.dtypes.append(f"{a.dtype}/{b.dtype}")
    samples_out.sums.append(np.asarray([a.sum(), b.sum()], dtype=np.int64))


@hub.compute
def touch(sample_in: Any, samples_out: Any, directory: str, append: bool = False) -> None:
    """Reads a sample and notes its label as a file in ``directory``; appends the label only if ``append``."""
    label = int(sample_in.labels.numpy()[0])
    open(os.path.join(directory, str(label)), "w").close()
    if append:
        samples_out.labels.append(label)


@hub.compute
def wait_for_flag(i: Any, samples_out: Any, at: int, flag: str) -> None:
    """Appends like ``fan_out``; inputs ``at`` mod 10 wait until the file ``flag`` exists (the parent saw progress)."""
    if int(i) % 10 == at:
        deadline = time.monotonic() + 60
        while not os.path.exists(flag):
            if time.monotonic() > deadline:
                raise TimeoutError("no progress was reported while this task ran")
            time.sleep(0.01)
    fan_out.func(i, samples_out)


@hub.compute
def word_of_label(sample_in: Any, samples_out: Any) -> None:
    """Replaces a numeric label by a word; tasks meet the words in the order of their inputs."""
    samples_out.labels.append(["cat", "dog", "cow"][int(sample_in.labels.numpy()[0]) % 3])


@hub.compute
def fill_sums(sample_in: Any, samples_out: Any, interrupt_at: int | None = None) -> None:
    """Keeps ``a`` and fills ``sums`` with its sum: an in-place transform of a dataset padded to ``a``'s length."""
    a = sample_in.a.numpy()
    if int(a[0]) == interrupt_at:
        raise KeyboardInterrupt
    samples_out.a.append(a)
    samples_out.sums.append(int(a.sum()))
