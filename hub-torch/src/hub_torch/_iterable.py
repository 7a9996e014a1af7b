"""``HubIterableDataset``: a torch IterableDataset streaming a hub view, batched (and decoded) inside the workers."""

from __future__ import annotations

import logging
import math
import queue
import secrets
import threading
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import numpy.random  # loaded here, so that forked workers don't import it each epoch
import torch
from torch.utils.data import IterableDataset, get_worker_info
from torch.utils.data._utils.collate import default_collate as _default_collate
from torch.utils.data._utils.collate import default_convert as _default_convert

import hub
from hub.core.polygons import is_ragged_polygon
from hub.core.reading import ChunkFetcher, DatasetReader, ErrorPolicy, RecyclingAllocator, Shard
from hub.errors import DynamicShapeError, LoaderOptionError
from hub_torch._convert import WIDER, pad_stack, polygons_to_torch, to_torch, torch_dtype_for, writable
from hub_torch._pack import ArenaAllocator, Premade, pack_size

# torch leaves these untyped.
default_convert: Callable[[Any], Any] = _default_convert
default_collate: Callable[[Any], Any] = _default_collate

__all__ = ["HubIterableDataset", "Transform", "DecodeMethod"]

#: A callable on the sample dict, or per-tensor callables (None: identity).
Transform = Callable[[Any], Any] | Mapping[str, Callable[[Any], Any] | None]
#: How to hand out a tensor's samples: decoded arrays, the stored bytes, or PIL images.
DecodeMethod = Mapping[str, str]

_log = logging.getLogger("hub_torch")
_PER_SAMPLE_BATCH = 256  # samples decoded at a time when the dataset yields single samples


def world() -> tuple[int, int]:
    """(rank, world size) of the torch.distributed job, or (0, 1) outside one."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1


class HubIterableDataset(IterableDataset[Any]):
    """Streams a hub dataset view: each rank and worker reads a disjoint part of every epoch, whole chunks at a time.

    With ``batch_size`` set it yields ready batches (use it with ``DataLoader(batch_size=None)``: batches are
    decoded in the workers straight into shared memory); with ``batch_size=None`` it yields single samples.
    Samples are dicts of tensor name to value, or tuples when ``tensors`` is a list or tuple. The epoch's order
    is a function of ``(seed, epoch)``; call :meth:`set_epoch` before each epoch when not using
    ``ds.pytorch()`` (whose loader does it).
    """

    def __init__(
        self,
        dataset: hub.Dataset,
        tensors: Sequence[str] | None = None,
        *,
        batch_size: int | None = None,
        shuffle: bool = False,
        buffer_size: int = 2048,
        seed: int | None = None,
        drop_last: bool = False,
        transform: Transform | None = None,
        collate_fn: Callable[[list[Any]], Any] | None = None,
        pad_tensors: bool = False,
        return_index: bool = True,
        decode_method: DecodeMethod | None = None,
        errors: ErrorPolicy = "raise",
        distributed: tuple[int, int] | bool | None = None,
    ) -> None:
        super().__init__()
        self.as_tuple = isinstance(tensors, (list, tuple))
        if tensors is None and isinstance(transform, Mapping):
            tensors = list(transform)  # as in Hub 2.x, a transform dict picks the tensors
        decode_method = dict(decode_method or {})
        for name, how in decode_method.items():
            if how not in ("numpy", "tobytes", "pil"):
                raise LoaderOptionError(f"decode_method for {name!r} must be 'numpy', 'tobytes' or 'pil', got {how!r}.")
        self.reader = DatasetReader(
            dataset, tensors, tobytes=[n for n, how in decode_method.items() if how == "tobytes"]
        )
        self.names = list(self.reader.tensors)
        self.pil = [n for n, how in decode_method.items() if how == "pil"]
        if batch_size is not None and batch_size < 1:
            raise LoaderOptionError(f"batch_size must be a positive int or None, got {batch_size}.")
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.buffer_bytes = int(buffer_size * 2**20)
        self.drop_last = drop_last
        self.transform = transform
        self.collate_fn = collate_fn
        self.pad_tensors = pad_tensors
        self.return_index = return_index and not self.as_tuple
        self.errors = errors
        if distributed is None or distributed is True:
            self.rank, self.world_size = world()
        elif distributed is False:
            self.rank, self.world_size = 0, 1
        else:
            self.rank, self.world_size = distributed
        # Ranks must agree on the order: without a seed, a distributed job uses 0 (as DistributedSampler does).
        self.seed = seed if seed is not None else (0 if self.world_size > 1 else secrets.randbits(32))
        self.epoch = 0
        self._skip: dict[int, int] = {}
        self._rotate = 0
        #: Whether workers send packs of batches (set by HubDataLoader, which unpacks them).
        self.packing = False
        #: Worker threads that make the batches in the loader's own process (0: none; ``parallelism="threads"``).
        self.threads = 0
        #: The shared slot flags through which HubDataLoader returns arenas to the workers (None: no recycling),
        #: and whether workers must send recycled arenas with every pack (pin_memory: the loader sees copies).
        self.arena_flags: torch.Tensor | None = None
        self.resend_arenas = False
        #: Per worker, the arenas HubDataLoader made for it (see hub_torch._pack).
        self.arena_premade: list[Premade] | None = None
        #: With persistent workers, a shared int64 table the loader writes before each epoch and the workers read
        #: (their copies of this object outlive the epoch): epoch, seed, rotation, then each shard's skip.
        self.control: torch.Tensor | None = None
        self._allocator: ArenaAllocator | None = None  # a persistent worker's, kept across epochs
        self.pack = pack_size(self._batch_bytes()) if batch_size is not None else 1
        Shard(self.rank, self.world_size)  # validates the rank

    # ------------------------------------------------------------ epochs
    def set_epoch(self, epoch: int) -> None:
        """Read epoch ``epoch`` next (its order is drawn from ``(seed, epoch)``)."""
        self.epoch = epoch

    def _batch_bytes(self) -> int:
        """A batch's decoded bytes, from the tensors' largest sample shapes."""
        per_sample = 0
        for name in self.names:
            meta = self.reader.meta(name)
            if meta.max_shape is not None and meta.dtype is not None and meta.htype not in ("text", "json", "list"):
                per_sample += int(np.prod(meta.max_shape, dtype=np.int64)) * np.dtype(meta.dtype).itemsize
        return per_sample * self._step()

    def arena_rows(self, num_workers: int) -> int:
        """Rows of a worker's arena: a pack's batches of one tensor (tensors of one shape and dtype take more)."""
        return self._step() * self._turn(num_workers)

    def arena_keys(self) -> list[tuple[tuple[int, ...], np.dtype]]:
        """The sample shape and dtype of each tensor whose batches go into arenas and whose shape is fixed."""
        if not self._fast():
            return []
        keys = []
        for name in self.names:
            meta = self.reader.meta(name)
            if self.reader.gives_bytes(name) or meta.htype in ("text", "json", "list") or meta.dtype is None:
                continue
            if is_ragged_polygon(meta.htype, meta.layout):
                continue  # batches of polygons are lists of slots of a points arena, whose rows vary
            dtype = np.dtype(meta.dtype)
            if dtype.hasobject or meta.max_shape is None or meta.min_shape != meta.max_shape:
                continue
            keys.append((tuple(meta.max_shape), torch_dtype_for(meta, dtype)))
        return keys

    def _fast(self) -> bool:
        """Whether batches are made whole in the workers (no per-sample transform or collate)."""
        return self.transform is None and self.collate_fn is None and not self.pil and self.batch_size is not None

    def copies_only(self) -> bool:
        """Whether making a batch is only copying rows out of chunks: every tensor raw, no per-sample work.

        Such batches are made fastest in the consumer's own thread: a batch is a few numpy copies with Python
        between them, so worker threads would queue for the GIL, and worker processes would add their start and
        shared memory, for work one thread does at memory speed (benchmark B2).
        """
        return self._fast() and all(self.reader.gathers(name) for name in self.names)

    def _turn(self, num_workers: int) -> int:
        """Batches per message from a worker (a pack) when worker processes send them."""
        return self.pack if (self.packing or self.threads) and self._fast() and num_workers > 0 else 1

    def _step(self) -> int:
        return self.batch_size or _PER_SAMPLE_BATCH

    def shard_batches(self, num_workers: int) -> list[int]:
        """How many batches each worker's shard yields this epoch."""
        counts = []
        for w in range(max(1, num_workers)):
            groups = self.reader.plan(
                Shard(self.rank, self.world_size, w, max(1, num_workers)),
                shuffle=self.shuffle,
                seed=self.seed,
                epoch=self.epoch,
                batch_size=self._step(),
                drop_last=self.drop_last,
                turn=self._turn(num_workers),
            )
            counts.append(math.ceil(sum(len(g.positions) for g in groups) / self._step()))
        return counts

    def keep_workers(self, num_workers: int) -> None:
        """Worker processes will outlive each epoch (``persistent_workers``): make the shared table through which
        they learn each epoch's state (before they start, so that they take it with this object)."""
        self.control = torch.zeros(3 + num_workers, dtype=torch.int64)
        self.control.share_memory_()  # type: ignore[no-untyped-call]

    def start_epoch(self, num_workers: int) -> None:
        """Before an epoch's worker processes start or resume: persistent ones read its state from the table."""
        if self.control is not None:
            skips = [self._skip.get(w, 0) for w in range(num_workers)]
            self.control.copy_(torch.tensor([self.epoch, self.seed, self._rotate, *skips]))

    def workers_started(self) -> None:
        """The epoch's worker processes took its resumption with their copies of this object (or the table): the
        next epoch starts from its beginning."""
        self._skip, self._rotate = {}, 0

    def resume_after(self, consumed: int, num_workers: int) -> None:
        """Start the next iteration after the first ``consumed`` yields of this epoch (as a DataLoader takes them).

        A DataLoader takes batches from its workers in turn, skipping finished ones; the shards' skips follow from
        that, and worker processes are mapped onto shards so that the next one to yield comes first.
        """
        counts = self.shard_batches(num_workers)
        turn = self._turn(num_workers)
        taken = [0] * len(counts)
        worker, left = 0, min(consumed, sum(counts))
        while left:
            while taken[worker] >= counts[worker]:
                worker = (worker + 1) % len(counts)
            # A message holds the batches up to the worker's next multiple of `turn`.
            message = min(turn - taken[worker] % turn, counts[worker] - taken[worker])
            step = min(message, left)
            taken[worker] += step
            left -= step
            if step == message:
                worker = (worker + 1) % len(counts)
        while any(t < c for t, c in zip(taken, counts, strict=True)) and taken[worker] >= counts[worker]:
            worker = (worker + 1) % len(counts)
        self._skip = dict(enumerate(taken))
        self._rotate = worker

    def __len__(self) -> int:
        """Yields per epoch on this rank (batches, or samples with ``batch_size=None``)."""
        if self.batch_size is None:
            return sum(len(g.positions) for g in self.reader.plan(Shard(self.rank, self.world_size)))
        return sum(self.shard_batches(1))

    # ------------------------------------------------------------ reading
    def __iter__(self) -> Iterator[Any]:
        info = get_worker_info()
        if info is None and self.threads > 0:
            yield from (self._in_turn if self.copies_only() else self._threaded)(self.threads)
            return
        num_workers = info.num_workers if info is not None else 1
        if info is not None and self.control is not None:  # a persistent worker: this epoch's state
            epoch, seed, rotate, *skips = self.control.tolist()
            self.epoch, self.seed, self._rotate = epoch, seed, rotate
            self._skip = {w: n for w, n in enumerate(skips) if n}
        worker = (info.id + self._rotate) % num_workers if info is not None else 0
        skip = self._skip.get(worker, 0)
        self._skip, self._rotate = {}, 0
        fast = self._fast()
        turn = self._turn(num_workers) if info is not None else 1
        allocator = None
        recycled = None
        if fast and info is None:
            # Batches made in this process: their memory is reused once the user lets go of them (fresh pages
            # cost the kernel a fault each, about as much as copying raw samples into them).
            recycled = RecyclingAllocator()
        if fast and info is not None and self._allocator is not None:
            allocator = self._allocator
            allocator.restart()
        elif fast and info is not None:
            allocator = ArenaAllocator(
                self.arena_rows(num_workers),
                frozenset(WIDER),
                flags=self.arena_flags,
                worker=info.id,
                resend=self.resend_arenas,
                premade=self.arena_premade[info.id] if self.arena_premade else [],
            )
            if self.control is not None:
                self._allocator = allocator  # its slots, and the main process's map of them, last the loader's life
        done = skip if self.batch_size is not None else 0
        pending: list[Any] = []
        for batch in self._reader_batches(worker, num_workers, skip, turn, allocator or recycled):
            if allocator is not None:
                # A message ends at the worker's next multiple of `turn` batches, whatever it skipped.
                pending.append(self._batch(batch, allocator))
                done += 1
                if done % turn == 0:
                    yield allocator.pack(pending)
                    pending = []
            else:
                yield from self._outputs(batch, fast)
        if pending and allocator is not None:
            yield allocator.pack(pending)

    def _outputs(self, batch: dict[str, Any], fast: bool) -> Iterator[Any]:
        """What the loader yields for one of the reader's batches, made in this process: a batch, or its samples."""
        if fast:
            yield self._batch(batch, None)
        elif self.batch_size is not None:
            yield self._collate([self._sample(batch, i) for i in range(len(batch["index"]))])
        else:
            for i in range(len(batch["index"])):
                yield default_convert(self._sample(batch, i))

    def _reader_batches(
        self, worker: int, num_workers: int, skip: int, turn: int, alloc: Any
    ) -> Generator[dict[str, Any], None, None]:
        """The reader's batches of shard ``worker`` of ``num_workers`` this epoch, after its first ``skip``."""
        fetcher = ChunkFetcher(self.reader.storage)
        yield from self.reader.batches(
            Shard(self.rank, self.world_size, worker, num_workers),
            batch_size=self._step(),
            shuffle=self.shuffle,
            seed=self.seed,
            epoch=self.epoch,
            drop_last=self.drop_last,
            buffer_bytes=self.buffer_bytes,
            skip=skip if self.batch_size is not None else 0,
            alloc=alloc,
            errors=self.errors,
            return_index=True,
            fetcher=fetcher,
            turn=turn,
        )
        if fetcher.skipped:
            _log.warning(
                "Skipped %d samples that failed to decode (rank %d, worker %d).", fetcher.skipped, self.rank, worker
            )

    def _in_turn(self, k: int) -> Iterator[Any]:
        """The batches :meth:`_threaded` gives, the same in the same order, made in this thread: the ``k``
        shards' streams taken in turn (see :meth:`copies_only`). Their chunks are still read ahead on the
        fetchers' threads."""
        skips, rotate = self._skip, self._rotate
        self._skip, self._rotate = {}, 0
        turn = self._turn(k)
        recycled = RecyclingAllocator(limit=4 * k + 8)
        shards = [(t + rotate) % k for t in range(k)]
        streams = [self._reader_batches(shard, k, skips.get(shard, 0), turn, recycled) for shard in shards]

        def take(t: int) -> tuple[bool, Any]:
            batch = next(streams[t], None)
            return (False, None) if batch is None else (True, self._batch(batch, None))

        try:
            yield from _in_turns(take, [skips.get(shard, 0) for shard in shards], turn)
        finally:
            for stream in streams:
                stream.close()

    def _threaded(self, k: int) -> Iterator[Any]:
        """Batches from ``k`` worker threads, taken in turn as a DataLoader takes them from ``k`` worker processes.

        Thread ``w`` reads the shard that worker process ``w`` would, a couple of batches ahead of the consumer,
        and the consumer takes the same turns of batches from them as from worker processes' packs: the stream is
        the one worker processes give, resumed the same way. numpy's copies and simplejpeg's decodes release the
        GIL, so the threads overlap there; their Python runs one at a time. A worker's error is raised in the
        consumer; closing the iterator stops the threads.
        """
        skips, rotate = self._skip, self._rotate
        self._skip, self._rotate = {}, 0
        turn = self._turn(k)
        fast = self._fast()
        recycled = RecyclingAllocator(limit=4 * k + 8)
        queues: list[queue.Queue[tuple[str, Any]]] = [queue.Queue(maxsize=2) for _ in range(k)]
        stop = threading.Event()

        def put(q: queue.Queue[tuple[str, Any]], item: tuple[str, Any]) -> bool:
            while not stop.is_set():
                try:
                    q.put(item, timeout=0.05)
                    return True
                except queue.Full:
                    continue
            return False

        def work(thread: int) -> None:
            shard = (thread + rotate) % k
            batches = self._reader_batches(shard, k, skips.get(shard, 0), turn, recycled if fast else None)
            try:
                for batch in batches:
                    for item in self._outputs(batch, fast):
                        if not put(queues[thread], ("batch", item)):
                            return
                put(queues[thread], ("end", None))
            except BaseException as e:  # handed to the consumer, which raises it
                put(queues[thread], ("error", e))
            finally:
                batches.close()

        threads = [
            threading.Thread(target=work, args=(t,), name=f"hub-torch-worker-{t}", daemon=True) for t in range(k)
        ]
        for t in threads:
            t.start()

        def take(thread: int) -> tuple[bool, Any]:
            kind, value = queues[thread].get()
            if kind == "error":
                raise value
            return kind != "end", value

        try:
            yield from _in_turns(take, [skips.get((t + rotate) % k, 0) for t in range(k)], turn)
        finally:
            stop.set()
            for t in threads:
                t.join()

    def _batch(self, batch: dict[str, Any], allocator: ArenaAllocator | None) -> Any:
        out: dict[str, Any] = {}
        for name in self.names:
            value = batch[name]
            meta = self.reader.meta(name)
            if isinstance(value, list) and value and isinstance(value[0], np.ndarray):
                if all(v.shape == value[0].shape for v in value):  # decoded one by one (media, links), one shape
                    value = np.stack(value)
                elif not self.pad_tensors:
                    raise DynamicShapeError(
                        f"Samples of tensor {name!r} in one batch have different shapes; pass pad_tensors=True to pad "
                        "them, a collate_fn to combine them, or a transform that gives them one shape."
                    )
                else:
                    value = pad_stack(value, name)
            out[name] = to_torch(value, meta, allocator)
        if self.as_tuple:
            return tuple(out[n] for n in self.names)
        if self.return_index:
            out["index"] = torch.from_numpy(batch["index"].astype(np.int64))
        return out

    def _sample(self, batch: dict[str, Any], i: int) -> Any:
        sample: dict[str, Any] = {}
        for name in self.names:
            value = batch[name][i]
            meta = self.reader.meta(name)
            if is_ragged_polygon(meta.htype, meta.layout):
                value = polygons_to_torch(value, meta)  # a list of tensors: collated as a list of them per batch
            elif isinstance(value, np.ndarray):
                value = writable(value, torch_dtype_for(meta, value.dtype))
                if name in self.pil:
                    from PIL import Image

                    value = Image.fromarray(value)
            sample[name] = value
        transform = self.transform
        if isinstance(transform, Mapping):
            sample = {k: (transform[k](v) if transform.get(k) is not None else v) for k, v in sample.items()}  # type: ignore[misc]
        elif transform is not None:
            sample = transform(sample)
        if self.as_tuple and isinstance(sample, dict):
            return tuple(sample[n] for n in self.names)
        if self.return_index and isinstance(sample, dict):
            sample["index"] = np.int64(batch["index"][i])
        return sample

    def _collate(self, samples: list[Any]) -> Any:
        if self.collate_fn is not None:
            return self.collate_fn(samples)
        polygons = self._polygon_names()
        if polygons and samples and isinstance(samples[0], tuple) and len(samples[0]) == len(self.names):
            # Polygon samples are lists of different lengths: a batch holds the list of them, not one tensor.
            columns = [[s[k] for s in samples] for k in range(len(self.names))]
            return tuple(
                col if name in polygons else self._collate(col) for name, col in zip(self.names, columns, strict=True)
            )
        ragged: dict[str, list[Any]] = {}
        if polygons and samples and isinstance(samples[0], dict):
            for name in [n for n in samples[0] if n in polygons]:
                ragged[name] = [s.pop(name) for s in samples]
        if self.pad_tensors and samples and isinstance(samples[0], dict):
            for name in samples[0]:
                values = [s[name] for s in samples]
                if isinstance(values[0], np.ndarray) and len({v.shape for v in values}) > 1:
                    padded = pad_stack(values, name)
                    for s, v in zip(samples, padded, strict=True):
                        s[name] = v
        batch = default_collate(samples)
        return {**batch, **ragged} if ragged else batch

    def _polygon_names(self) -> set[str]:
        return {n for n in self.names if is_ragged_polygon(self.reader.meta(n).htype, self.reader.meta(n).layout)}


def _in_turns(take: Callable[[int], tuple[bool, Any]], done: list[int], turn: int) -> Iterator[Any]:
    """Batches from ``len(done)`` workers, taken as a DataLoader takes them from worker processes: ``turn`` in a
    row from each (a pack), counted from ``done``, what each has already given, and skipping workers that have
    ended. ``take(w)`` is worker ``w``'s next batch: ``(True, batch)``, or ``(False, None)`` once it has ended."""
    active = list(range(len(done)))
    at = 0
    while active:
        worker = active[at]
        more, batch = take(worker)
        if not more:
            active.pop(at)
        else:
            yield batch
            del batch  # what this generator holds, so that recycled memory sees only the consumer's references
            done[worker] += 1
            if done[worker] % turn == 0:  # a worker process's pack ends here: the next worker's turn
                at += 1
        if active:
            at %= len(active)
