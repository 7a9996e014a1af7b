"""``ds.tensorflow().batch(n)`` made in one step: whole batches decoded by hub's threads, not sample by sample.

TensorFlow spends about 100 us of CPU per element on unbatching, mapping and batching again, on top of the
decode. When ``.batch()`` is called straight on the dataset that ``ds.tensorflow()`` returns, and every tensor
has one shape for all samples, nothing between our reader and the batch needs elements one at a time. The
returned :class:`HubTFDataset` then answers ``.batch(n)`` with a pipeline that cuts the same sample stream
into batches of ``n`` in Python and decodes each batch's compressed samples straight into the batch array on a
pool of threads (the decoders release the GIL). The batches are exactly those the element-wise pipeline's
``.batch(n)`` would give: the same samples, in the same order, with the same pixels.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import tensorflow as tf

from hub.core.reading import RecyclingAllocator, decode_batch_into

__all__ = ["FusedColumn", "HubTFDataset", "batch_stream", "decode_threads"]


class HubTFDataset(tf.data.Dataset):  # type: ignore[misc]  # TensorFlow ships no type information
    """The ``tf.data.Dataset`` ``ds.tensorflow()`` returns: the element-wise pipeline, whose ``batch`` may fuse.

    It is that pipeline in every respect (``element_spec``, iteration, options, cardinality); only ``batch``
    differs, returning the fused pipeline when ``fuse`` makes one for the arguments (else TensorFlow's own).
    """

    def __init__(self, inner: tf.data.Dataset, fuse: Callable[[int, bool], tf.data.Dataset | None]) -> None:
        self._inner = inner
        self._fuse = fuse
        super().__init__(inner._variant_tensor)

    def _inputs(self) -> list[tf.data.Dataset]:
        return [self._inner]

    @property
    def element_spec(self) -> Any:
        return self._inner.element_spec

    def batch(
        self,
        batch_size: Any,
        drop_remainder: Any = False,
        num_parallel_calls: Any = None,
        deterministic: Any = None,
        name: Any = None,
    ) -> tf.data.Dataset:
        plain = isinstance(batch_size, int | np.integer) and not isinstance(batch_size, bool) and batch_size > 0
        if plain and isinstance(drop_remainder, bool):
            fused = self._fuse(int(batch_size), drop_remainder)
            if fused is not None:
                return fused
        return super().batch(batch_size, drop_remainder, num_parallel_calls, deterministic, name)


@dataclass(frozen=True)
class FusedColumn:
    """How one tensor's batch is made from the reader's blocks.

    ``compression`` set: the block holds stored bytes, decoded into the batch array by that codec. Otherwise
    the block holds the values (an array of ``shape`` per sample, or stored bytes for ``tf.string`` columns).
    """

    key: str
    shape: tuple[int, ...] | None  # None: a tf.string column
    dtype: np.dtype | None
    stored_dtype: str | None
    compression: str | None


def decode_threads() -> int:
    """Threads that decode batches: one more than the CPUs this process may run on (a thread waiting for the GIL
    between two samples leaves its CPU to the spare one), at most eight."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cpus = os.cpu_count() or 1
    return min(8, cpus + 1)


def batch_stream(
    blocks: Iterator[dict[str, Any]],
    columns: list[FusedColumn],
    batch_size: int,
    drop_remainder: bool,
    threads: int,
) -> Iterator[list[np.ndarray]]:
    """Batches of ``batch_size`` cut from ``blocks`` (with ``"index"``), one array per column, decoded on threads.

    Up to ``2 * threads`` batches are in the works at once (so that no thread waits for the consumer); they are
    handed over in stream order.
    """
    pool = ThreadPoolExecutor(threads, thread_name_prefix="hub-tf-decode")
    pending: deque[Future[list[np.ndarray]]] = deque()
    # Room for the batches in the works, the consumer's prefetch buffer and the batch in use, and a few more. The
    # memory is 64-byte aligned, so TensorFlow takes it without a copy, and reused once nothing refers to it.
    buffers = RecyclingAllocator(limit=4 * threads + 8)
    try:
        for rows in _cut(blocks, batch_size, drop_remainder):
            pending.append(pool.submit(_assemble, rows, columns, buffers))
            if len(pending) >= 2 * threads:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        for future in pending:
            future.cancel()
        pool.shutdown(wait=True, cancel_futures=True)


def _cut(blocks: Iterator[dict[str, Any]], size: int, drop_remainder: bool) -> Iterator[dict[str, Any]]:
    """The blocks' samples, in order, regrouped into batches of ``size`` (the last one short unless dropped)."""
    carry: dict[str, Any] | None = None
    for block in blocks:
        if carry is not None:
            block = {k: _join(carry[k], v) for k, v in block.items()}
        count = len(block["index"])
        whole = count - count % size
        for start in range(0, whole, size):
            yield {k: v[start : start + size] for k, v in block.items()}
        carry = {k: v[whole:] for k, v in block.items()} if whole < count else None
    if carry is not None and not drop_remainder:
        yield carry


def _join(head: Any, tail: Any) -> Any:
    if isinstance(head, np.ndarray) and isinstance(tail, np.ndarray):
        return np.concatenate([head, tail])
    return list(head) + list(tail)


def _assemble(rows: dict[str, Any], columns: list[FusedColumn], buffers: RecyclingAllocator) -> list[np.ndarray]:
    """One batch: each column's values as one array (compressed samples decoded straight into it)."""
    out = []
    for column in columns:
        values = rows[column.key]
        if column.shape is None:
            strings = np.empty(len(values), dtype=object)
            strings[:] = list(values)
            out.append(strings)
        elif column.compression is not None:
            out.append(_decode(column, values, rows["index"], buffers))
        else:
            array = values if isinstance(values, np.ndarray) else np.stack([np.asarray(v) for v in values])
            out.append(array.astype(column.dtype, copy=False))
    return out


def _decode(column: FusedColumn, stored: list[bytes], indices: np.ndarray, buffers: RecyclingAllocator) -> np.ndarray:
    """Compressed samples of one shape decoded into one array; a failure names the tensor and the sample."""
    assert column.shape is not None and column.compression is not None
    stored_dtype = np.dtype(column.stored_dtype or "uint8")
    if stored_dtype == column.dtype:
        batch = buffers((len(stored), *column.shape), stored_dtype)
    else:  # cast below, into a new array
        batch = np.empty((len(stored), *column.shape), dtype=stored_dtype)
    decode_batch_into(column.key, column.compression, column.stored_dtype, stored, batch, indices)
    return batch.astype(column.dtype, copy=False)
