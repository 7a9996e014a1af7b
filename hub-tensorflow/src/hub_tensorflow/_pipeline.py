"""``ds.tensorflow(...)``: a ``tf.data.Dataset`` fed by hub-core's reader, one interleaved stream per worker.

hub-core's :class:`~hub.core.reading.DatasetReader` plans each epoch in chunk groups and fetches whole chunks ahead
on background threads; here ``interleave`` runs one generator per worker share of those groups in parallel, each
yielding blocks of samples, which are unbatched and finished (JPEG decoding included) by parallel TensorFlow ops.
"""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Callable, Collection, Iterator, Sequence
from typing import Any

import numpy as np
import tensorflow as tf

from hub import DatasetReader, Shard
from hub.core.decoding import ArrayDecoder, decoder_for
from hub.errors import LoaderOptionError, TensorNotFoundError
from hub_tensorflow._columns import Column, choose_route
from hub_tensorflow._fused import FusedColumn, HubTFDataset, batch_stream, decode_threads
from hub_tensorflow._spec import element_spec

__all__ = ["dataset_to_tensorflow"]

#: Samples per block a worker's generator yields: large enough that per-block costs vanish, small enough to start
#: streaming at once.
BLOCK_SAMPLES = 256


def dataset_to_tensorflow(
    dataset: Any,
    tensors: Sequence[str] | None = None,
    tobytes: bool | Sequence[str] = False,
    shuffle: bool = False,
    buffer_size: int = 2048,
    num_parallel_calls: int = tf.data.AUTOTUNE,
    seed: int | None = None,
    transform: Callable[[Any], Any] | None = None,
    *,
    num_workers: int | None = None,
    input_context: tf.distribute.InputContext | None = None,
) -> tf.data.Dataset:
    """A ``tf.data.Dataset`` over ``dataset`` (a hub dataset or view): the hook behind ``ds.tensorflow(...)``.

    Elements are dicts of tensor name to value, or tuples in the order of ``tensors`` when it is a list; their
    ``element_spec`` comes from the tensor metadata (see ``docs/api.md``). ``tobytes`` (``True`` or tensor names)
    yields stored bytes as scalar ``tf.string`` instead of decoded values. ``shuffle`` draws samples from a buffer
    of whole chunks of at most ``buffer_size`` MB, in an order that is a function of ``(seed, epoch)``: the n-th
    iteration over the returned dataset is epoch n. ``num_parallel_calls`` bounds the ops that finish samples;
    ``transform`` is mapped over the elements. ``num_workers`` generators read disjoint shares of the chunk groups
    in parallel (by default 2 when hub-core decodes a compressed tensor, else 1: TensorFlow's threads decode JPEGs
    and a second generator would only contend for the GIL); ``input_context`` (from ``tf.distribute``'s
    ``distribute_datasets_from_function``) gives each input pipeline its own chunk groups.
    """
    if num_workers is not None and num_workers < 1:
        raise LoaderOptionError(f"num_workers must be at least 1, got {num_workers}.")
    visible = dataset.tensors
    names = list(visible) if tensors is None else _names(tensors, visible)
    as_tuple = tensors is not None
    tobytes_names = set(names) if tobytes is True else set() if tobytes is False else set(_names(tobytes, names))
    probe = DatasetReader(dataset, names)
    columns = []
    for i, name in enumerate(names):
        meta = probe.meta(name)
        spec = element_spec(name, meta, tobytes=name in tobytes_names)
        columns.append(Column(name, f"t{i}", spec, choose_route(meta, spec, probe.has_tiles(name))))
    reader = DatasetReader(dataset, names, tobytes=[c.key for c in columns if c.route in ("bytes", "jpeg")])
    python_decodes = any(c.route in ("fixed", "ragged") and probe.meta(c.key).sample_compression for c in columns)
    workers = num_workers or (2 if python_decodes else 1)
    shard_of = _sharding(input_context)
    if shuffle and seed is None:
        seed = secrets.randbits(63)  # drawn once, so that every worker and epoch of this dataset shares it
    epochs = itertools.count()
    signature = {k: v for c in columns for k, v in c.block_signature().items()}

    def worker_blocks(
        worker: Any, epoch: Any, source: DatasetReader = reader, index: bool = False
    ) -> Iterator[dict[str, Any]]:
        # The reader draws each block at random and, with mix, hands its samples over in a drawn order too: a
        # block is not the user's batch.
        return source.batches(
            shard_of(int(worker), workers),
            batch_size=BLOCK_SAMPLES,
            shuffle=shuffle,
            seed=seed or 0,
            epoch=int(epoch),
            buffer_bytes=buffer_size * 2**20,
            mix=shuffle,
            return_index=index,
        )

    def worker_parts(worker: Any, epoch: Any) -> Iterator[dict[str, np.ndarray]]:
        for batch in worker_blocks(worker, epoch):
            yield {k: v for c in columns for k, v in c.block(batch[c.key]).items()}

    if workers == 1:
        # Each iteration calls the generator anew: that call is the next epoch. (No interleave to trace.)
        blocks = tf.data.Dataset.from_generator(lambda: worker_parts(0, next(epochs)), output_signature=signature)
    else:

        def epoch_blocks(epoch: tf.Tensor) -> tf.data.Dataset:
            def one_worker(worker: tf.Tensor) -> tf.data.Dataset:
                return tf.data.Dataset.from_generator(worker_parts, args=(worker, epoch), output_signature=signature)

            return tf.data.Dataset.range(workers).interleave(
                one_worker, cycle_length=workers, block_length=1, num_parallel_calls=workers, deterministic=True
            )

        epoch_ids = tf.data.Dataset.from_generator(
            lambda: iter([next(epochs)]), output_signature=tf.TensorSpec((), tf.int64)
        )
        blocks = epoch_ids.flat_map(epoch_blocks)

    def to_rows(block: dict[str, tf.Tensor]) -> dict[str, Any]:
        return {k: v for c in columns for k, v in c.to_rows(block).items()}

    # Our graph functions have no Python control flow on tensors: AutoGraph's source conversion (about a second of
    # the time to the first batch) would change nothing.
    plain = tf.autograph.experimental.do_not_convert
    if any(c.route in ("ragged", "polygons") for c in columns):
        blocks = blocks.map(plain(to_rows))
    # The generator runs ahead on a thread of its own while TensorFlow's threads decode the block before.
    samples = blocks.prefetch(2).unbatch()

    def finish(row: dict[str, tf.Tensor]) -> Any:
        values = [c.finish(row) for c in columns]
        return tuple(values) if as_tuple else dict(zip(names, values, strict=True))

    out = samples.map(plain(finish), num_parallel_calls=num_parallel_calls, deterministic=True)
    # A known length lets Keras size its epochs and progress bars; tf.data checks it as samples flow.
    total = _count(reader, shard_of(0, 1))
    out = out.apply(tf.data.experimental.assert_cardinality(total))
    if transform is not None:
        out = out.map(lambda *element: transform(element if as_tuple else element[0]), num_parallel_calls)
    out = _distributed(out, input_context)
    if transform is not None:
        return out  # a transform sees samples one at a time

    fused = _fused_columns(columns, probe)

    def fuse(batch_size: int, drop_remainder: bool) -> tf.data.Dataset | None:
        """``out.batch(batch_size, drop_remainder)`` made whole by hub's threads, or None where it can't be."""
        if fused is None:
            return None
        source = DatasetReader(dataset, names, tobytes=[f.key for f in fused if f.shape is None or f.compression])
        first = batch_size if drop_remainder else None
        specs = [tf.TensorSpec((first, *c.spec.spec.shape), c.spec.spec.dtype) for c in columns]
        threads = decode_threads()

        def generate() -> Iterator[Any]:
            epoch = next(epochs)
            # The workers' blocks in the order the element-wise pipeline's interleave takes them.
            blocks = _round_robin([worker_blocks(w, epoch, source, index=True) for w in range(workers)])
            for arrays in batch_stream(blocks, fused, batch_size, drop_remainder, threads):
                yield tuple(arrays) if as_tuple else dict(zip(names, arrays, strict=True))

        signature = tuple(specs) if as_tuple else dict(zip(names, specs, strict=True))
        batches = tf.data.Dataset.from_generator(generate, output_signature=signature)
        count = total // batch_size if drop_remainder else -(-total // batch_size)
        batches = batches.apply(tf.data.experimental.assert_cardinality(count))
        # Our threads set the parallelism here; tf.data's autotuning would only add its model thread, which holds
        # the end of an epoch for up to a second at random (the iterator waits out its sleep). Users may turn it
        # back on with with_options; AUTOTUNE parallelism then means one per CPU.
        options = tf.data.Options()
        options.autotune.enabled = False
        return _distributed(batches.with_options(options), input_context)

    return HubTFDataset(out, fuse)


def _round_robin(streams: list[Iterator[dict[str, Any]]]) -> Iterator[dict[str, Any]]:
    """One item of each stream in turn, skipping streams that ended (``interleave`` with ``block_length=1``)."""
    live = list(streams)
    while live:
        for stream in list(live):
            item = next(stream, None)
            if item is None:
                live.remove(stream)
            else:
                yield item


def _fused_columns(columns: list[Column], probe: DatasetReader) -> list[FusedColumn] | None:
    """How each column's batches are made by :func:`batch_stream`; None if a column needs element-wise steps."""
    out = []
    for c in columns:
        meta = probe.meta(c.key)
        spec = c.spec.spec
        if c.route == "bytes":
            out.append(FusedColumn(c.key, None, None, None, None))
            continue
        if c.route not in ("jpeg", "fixed") or not spec.shape.is_fully_defined():
            return None
        # Decoded by the codec itself where hub-core's reader would too: plain arrays (not links, sequences or
        # a plug-in's decoder), none stored as tiles.
        plain_array = type(decoder_for(meta)) is ArrayDecoder
        compressed = meta.sample_compression if plain_array and not probe.has_tiles(c.key) else None
        dtype = c.spec.numpy_dtype
        out.append(FusedColumn(c.key, tuple(spec.shape.as_list()), dtype, meta.dtype, compressed))
    return out


def _distributed(out: tf.data.Dataset, input_context: tf.distribute.InputContext | None) -> tf.data.Dataset:
    """``out`` with tf.data's auto-sharding off when the reader shards by chunk group for ``tf.distribute``."""
    if input_context is None:
        return out
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.OFF
    return out.with_options(options)


def _names(tensors: Any, known: Collection[str]) -> list[str]:
    """``tensors`` as a list of names, each one of ``known``, none twice."""
    if isinstance(tensors, str) or not all(isinstance(t, str) for t in tensors):
        raise LoaderOptionError(f"Name tensors in a list, such as ['images', 'labels']; got {tensors!r}.")
    names = list(tensors)
    for name in names:
        if name not in known:
            raise TensorNotFoundError(f"No tensor {name!r} among {sorted(known)}.")
    if len(set(names)) != len(names):
        raise LoaderOptionError(f"A tensor is named twice in {names}.")
    return names


def _count(reader: DatasetReader, shard: Shard) -> int:
    """How many samples ``shard`` reads per epoch (the same whatever the order)."""
    return sum(len(g.positions) for g in reader.plan(shard, batch_size=max(1, len(reader))))


def _sharding(context: tf.distribute.InputContext | None) -> Callable[[int, int], Shard]:
    """The reader's shard for worker ``w`` of ``k`` in this input pipeline."""
    rank, world = (0, 1) if context is None else (context.input_pipeline_id, context.num_input_pipelines)
    return lambda w, k: Shard(rank=rank, world_size=world, worker_id=w, num_workers=k)
