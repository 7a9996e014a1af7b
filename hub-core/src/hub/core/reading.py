"""The reading API the framework loaders share: plan an epoch in chunk groups, fetch chunks ahead, decode batches.

A loader (hub-torch, hub-tensorflow) builds a :class:`DatasetReader` from a dataset view and sends it to its
worker processes (it pickles as path, credentials, version and view only). Each worker asks it for its
:class:`Shard` of an epoch's stream with :meth:`DatasetReader.batches`, which plans the epoch as
:class:`ChunkGroup` s, fetches whole chunks ahead of need on background threads and decodes whole batches.
The lower-level steps are public too: :meth:`DatasetReader.plan`, :class:`ChunkFetcher`, :meth:`DatasetReader.decode`.
"""

from __future__ import annotations

import math
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from hub.core.chunk import ChunkHeader, read_chunk, short_chunk_error
from hub.core.chunk_index import ChunkIndex, chunk_key
from hub.core.decoding import ArrayDecoder, SampleDecoder, decoder_for
from hub.core.meta import TensorMeta
from hub.core.polygons import is_ragged_polygon
from hub.core.selection import Selection
from hub.core.tiles import TILED, TileManifest
from hub.errors import (
    CorruptChunkError,
    CorruptSampleError,
    DatasetNotShareableError,
    KeyNotFoundError,
    SampleDecodeError,
    TensorNotFoundError,
)
from hub.storage import Storage

if TYPE_CHECKING:
    from hub.core.dataset import Dataset

__all__ = [
    "Shard",
    "ChunkGroup",
    "ChunkFetcher",
    "DatasetReader",
    "Allocator",
    "RecyclingAllocator",
    "ErrorPolicy",
    "decode_batch_into",
    "epoch_schedule",
]

#: Makes the array a batch is decoded into, given its shape and dtype (a loader passes shared memory).
Allocator = Callable[[tuple[int, ...], np.dtype], np.ndarray]
#: What to do with a sample that fails to decode: raise, skip it, or call a handler (which may raise).
ErrorPolicy = Literal["raise", "skip"] | Callable[[SampleDecodeError], None]


@dataclass(frozen=True)
class Shard:
    """Who reads: one rank of a distributed job and one worker process of that rank."""

    rank: int = 0
    world_size: int = 1
    worker_id: int = 0
    num_workers: int = 1

    def __post_init__(self) -> None:
        if not (0 <= self.rank < self.world_size and 0 <= self.worker_id < self.num_workers):
            raise ValueError(
                f"Shard rank {self.rank} of {self.world_size}, worker {self.worker_id} of {self.num_workers} "
                "is out of range: need 0 <= rank < world_size and 0 <= worker_id < num_workers."
            )


@dataclass(frozen=True)
class ChunkGroup:
    """Samples of a view that are read together, and the whole chunks (storage keys, per tensor) holding them."""

    #: View positions (0 .. len(view) - 1) this group covers, in the order they are read.
    positions: np.ndarray
    #: Per tensor key, the storage keys of the chunks the group needs (tiled samples are read apart).
    chunks: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def keys(self) -> list[str]:
        """Every chunk key of the group, all tensors together."""
        return [k for keys in self.chunks.values() for k in keys]


@dataclass
class _TensorPlan:
    """What reading one tensor needs: its meta and chunk index."""

    name: str  # as the caller named it (relative to the view's group)
    key: str  # full key in the dataset
    meta: TensorMeta
    index: ChunkIndex
    decoder: SampleDecoder  # the tensor's htype decoder (hub.core.decoding): arrays, text, links, sequences...


class DatasetReader:
    """Reads a dataset view's tensors for loaders: planning, chunk fetching and batch decoding.

    ``tensors`` picks and orders the tensors (names relative to the view's group; default: all visible ones).
    ``tobytes`` returns the stored bytes of samples instead of decoding them (``True`` for every tensor, or a
    collection of names). The reader pickles as the dataset's path, credentials, version, view and these options,
    never data; a ``mem://`` dataset refuses to be pickled (its data lives in this process only).
    """

    def __init__(
        self,
        dataset: Dataset,
        tensors: Sequence[str] | None = None,
        *,
        tobytes: bool | Sequence[str] = False,
    ) -> None:
        state = dataset._state
        state.flush()
        self._dataset: Dataset | None = dataset
        self._url = state.storage.url
        self._creds = state.creds
        self._version = state.branch or state.node_id
        self._group = dataset._group
        visible = list(dataset.tensors)
        names = list(visible if tensors is None else tensors)
        for name in names:
            if name not in visible:
                raise TensorNotFoundError(f"No tensor {name!r} in {dataset.path}; tensors: {visible}.")
        if len(set(names)) != len(names):
            raise ValueError(f"Tensor names repeat in {names}.")
        self.tensors: list[str] = names
        self._selection = dataset._selection if dataset._selection is not None else Selection.all(len(dataset))
        if tobytes is True:
            self._tobytes = set(names)
        elif tobytes is False:
            self._tobytes = set()
        else:
            self._tobytes = set(tobytes)
            unknown = self._tobytes - set(names)
            if unknown:
                raise TensorNotFoundError(f"tobytes names tensors {sorted(unknown)} that are not read.")
        self._plans: dict[str, _TensorPlan] | None = None
        self._globals: np.ndarray | None = None
        self._chunk_runs: list[np.ndarray] | None = None  # see _storage_runs
        self._storage: Storage | None = None
        # The tensors' metadata and chunk indexes as this reader first saw them: sent with the reader to worker
        # processes, which then read the same version without asking storage again (a round trip per object).
        self._snapshot: dict[str, tuple[str, TensorMeta, ChunkIndex]] | None = None

    # -------------------------------------------------------------- pickling
    def __getstate__(self) -> dict[str, Any]:
        if self._url.startswith("mem://"):
            raise DatasetNotShareableError(
                f"The dataset {self._url} lives in this process's memory, so worker processes can't open it. "
                "Use num_workers=0, the 'fork' start method, or store the dataset on disk (hub.deepcopy(src, path))."
            )
        state = self.__dict__.copy()
        plans = self._plans
        if plans is not None and all(not _needs_dataset(p.meta) for p in plans.values()):
            state["_snapshot"] = {name: (p.key, p.meta, p.index) for name, p in plans.items()}
        state.update(_dataset=None, _plans=None, _globals=None, _chunk_runs=None, _storage=None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)

    # ---------------------------------------------------------------- access
    @property
    def dataset(self) -> Dataset:
        """The dataset view, opened read-only in a process that received the reader by pickling."""
        if self._dataset is None:
            from hub.core.dataset import Dataset

            opened = Dataset._open(self._own_storage(), self._creds, True, self._version)
            self._dataset = Dataset(opened._state, None, self._group)
        return self._dataset

    @property
    def storage(self) -> Storage:
        # A worker with a snapshot of the metadata reads chunks without opening the dataset.
        return self._dataset._state.storage if self._dataset is not None else self._own_storage()

    def _own_storage(self) -> Storage:
        """The dataset's storage, opened read-only in a process that received the reader by pickling."""
        if self._storage is None:
            from hub.storage import storage_from_url

            self._storage = storage_from_url(self._url, creds=self._creds, read_only=True)
        return self._storage

    def gives_bytes(self, name: str) -> bool:
        """Whether tensor ``name`` is read as its stored bytes (``tobytes``) rather than decoded."""
        return name in self._tobytes

    def gathers(self, name: str) -> bool:
        """Whether tensor ``name``'s samples are gathered as stored, with no decoding and no Python per sample.

        True for raw arrays (no sample compression, the plain array decoder, not read as bytes): copying them is
        all the work, which :meth:`batches` does with one numpy ``take`` per chunk a batch draws from.
        """
        plan = self._tensor_plans()[name]
        meta = plan.meta
        return (
            name not in self._tobytes
            and type(plan.decoder) is ArrayDecoder
            and meta.sample_compression is None
            and meta.dtype is not None
            and not np.dtype(meta.dtype).hasobject
            and meta.htype not in ("text", "json", "list")
            and not is_ragged_polygon(meta.htype, meta.layout)
        )

    @property
    def url(self) -> str:
        return self._url

    def __len__(self) -> int:
        return len(self._selection)

    def _tensor_plans(self) -> dict[str, _TensorPlan]:
        if self._plans is None and self._snapshot is not None:
            self._plans = {
                name: _TensorPlan(name, key, meta, index, decoder_for(meta))
                for name, (key, meta, index) in self._snapshot.items()
            }
        if self._plans is None:
            ds = self.dataset
            plans = {}
            ds._state.load_indexes([f"{self._group}/{name}" if self._group else name for name in self.tensors])
            for name in self.tensors:
                key = f"{self._group}/{name}" if self._group else name
                engine = ds._state.engine(key)
                decoder = decoder_for(engine.meta, ds._state.links)
                plans[name] = _TensorPlan(name, key, engine.meta, engine.index, decoder)
            self._plans = plans
        return self._plans

    def meta(self, name: str) -> TensorMeta:
        """The stored metadata of tensor ``name`` (htype, dtype, compressions, shapes, info)."""
        return self._tensor_plans()[name].meta

    def has_tiles(self, name: str) -> bool:
        """Whether tensor ``name`` stores any sample as tiles (such a sample has no stored file for ``tobytes``)."""
        return bool((self._tensor_plans()[name].index.entries["flags"] & TILED).any())

    def global_indices(self, positions: np.ndarray) -> np.ndarray:
        """The dataset's sample indices at view ``positions``."""
        if self._globals is None:
            self._globals = self._selection.array()
        picked: np.ndarray = self._globals[positions]
        return picked

    # -------------------------------------------------------------- planning
    def _primary(self) -> _TensorPlan:
        """The tensor whose chunks shape the groups: the one with the most chunks (usually the largest)."""
        plans = list(self._tensor_plans().values())
        if not plans:
            raise TensorNotFoundError("The reader has no tensors to read.")
        return max(plans, key=lambda p: len(p.index))

    def _runs(self, positions: np.ndarray) -> list[np.ndarray]:
        """``positions`` cut where the primary tensor's chunk changes."""
        if len(positions) == 0:
            return []
        entries = self._primary().index.locate(self.global_indices(positions))
        cuts = np.flatnonzero(np.diff(entries)) + 1
        return np.split(positions, cuts)

    def group(self, positions: np.ndarray) -> ChunkGroup:
        """The chunk group of view ``positions``: the chunk keys every tensor needs for them."""
        glob = self.global_indices(positions)
        chunks = {}
        for name, plan in self._tensor_plans().items():
            entries = _distinct(plan.index.locate(glob))
            entries = entries[(plan.index.entries["flags"][entries] & TILED) == 0]
            chunks[name] = tuple(chunk_key(plan.meta.id, int(plan.index.entries["id"][e])) for e in entries)
        return ChunkGroup(positions, chunks)

    def plan(
        self,
        shard: Shard = Shard(),
        *,
        shuffle: bool = False,
        seed: int = 0,
        epoch: int = 0,
        batch_size: int = 1,
        drop_last: bool = False,
        turn: int = 1,
    ) -> list[ChunkGroup]:
        """The chunk groups ``shard`` reads in one epoch, in reading order.

        Every rank computes the same epoch stream: the view's samples in order, or, with ``shuffle``, its
        primary-chunk groups in an order drawn from ``(seed, epoch)``. Ranks take equal contiguous parts of it
        (exactly ``len // world_size`` each with ``drop_last``, else sizes differ by at most one). A rank's part is
        cut into batches of ``batch_size``; with ``shuffle`` each worker takes a contiguous run of batches (its
        buffer mixes them), without it the workers take turns of ``turn`` consecutive batches (worker ``w`` the
        turns ``w, w + num_workers, ...``), so that a loader taking turns from its workers yields the view in
        order. With ``drop_last`` a rank's last partial batch is left out. Groups are disjoint and, over all
        shards, cover the view exactly once (up to drops).
        """
        n = len(self)
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}.")
        if shuffle:
            base = self._storage_runs()
            order = np.random.default_rng([seed, epoch]).permutation(len(base))
            stream = np.concatenate([base[i] for i in order]) if base else np.zeros(0, np.int64)
        else:
            stream = np.arange(n, dtype=np.int64)
        w, r = shard.world_size, shard.rank
        if drop_last:
            q = n // w
            lo, hi = r * q, (r + 1) * q
        else:
            lo, hi = r * n // w, (r + 1) * n // w
        mine = stream[lo:hi]
        num_batches = len(mine) // batch_size if drop_last else math.ceil(len(mine) / batch_size)
        mine = mine[: min(len(mine), num_batches * batch_size)]
        k, wid = shard.num_workers, shard.worker_id
        if shuffle:
            first, last = wid * num_batches // k, (wid + 1) * num_batches // k
            return [self.group(p) for p in self._runs(mine[first * batch_size : last * batch_size])]
        turns = range(wid, math.ceil(num_batches / turn), k)
        taken = [b for t in turns for b in range(t * turn, min((t + 1) * turn, num_batches))]
        return [self.group(mine[b * batch_size : (b + 1) * batch_size]) for b in taken]

    def _storage_runs(self) -> list[np.ndarray]:
        """The view's positions in storage order, cut where the primary tensor's chunk changes: what shuffled
        epochs deal out in a random order. The same for every epoch and shard, so made once per reader."""
        if self._chunk_runs is None:
            entries = self._primary().index.locate(self.global_indices(np.arange(len(self), dtype=np.int64)))
            self._chunk_runs = self._runs(np.argsort(entries, kind="stable"))
        return self._chunk_runs

    # -------------------------------------------------------------- decoding
    def decode(
        self,
        name: str,
        positions: np.ndarray,
        chunk: Callable[[str], tuple[ChunkHeader, memoryview]],
        alloc: Allocator | None = None,
    ) -> Any:
        """Tensor ``name`` at view ``positions``, decoded from whole chunks that ``chunk(key)`` returns.

        Equal-shape samples come as one array (raw samples gathered without a per-sample loop, JPEGs decoded
        straight into it); others as a list of arrays; text/json/list as Python objects; with ``tobytes`` the
        stored bytes. ``alloc`` makes the batch arrays. A sample that fails to decode raises
        :class:`~hub.errors.SampleDecodeError` naming the tensor and index.
        """
        plan = self._tensor_plans()[name]
        meta, index = plan.meta, plan.index
        glob = self.global_indices(positions)
        entries, ids, local = _locate(index, glob)
        tiled = (index.entries["flags"][entries] & TILED) != 0
        if self.gathers(name) and not tiled.any():
            batch = self._gather_raw(plan, ids, local, chunk, alloc)
            if batch is not None:
                return batch
        # Where a sample's file is its stored bytes (not a link's target, nor an item of a sequence): slice chunks.
        kind = type(plan.decoder)
        verbatim = kind is ArrayDecoder or kind.file_bytes is SampleDecoder.file_bytes
        if name in self._tobytes and verbatim and not tiled.any():
            return _stored_bytes(meta, ids, local, chunk)
        stored: list[tuple[memoryview | TileManifest, tuple[int, ...]]] = [(memoryview(b""), ())] * len(glob)
        for i in np.flatnonzero(tiled).tolist():
            stored[i] = self._tiled(plan, int(glob[i]))
        # Spans and shapes a chunk at a time.
        whole = np.flatnonzero(~tiled)
        for cid in _distinct(ids[whole]):
            where = whole[ids[whole] == cid]
            header, body = chunk(chunk_key(meta.id, int(cid)))
            starts, ends = header.byte_spans(local[where])
            shapes = header.shapes_of(local[where])
            for i, s, e, shape in zip(where.tolist(), starts.tolist(), ends.tolist(), shapes, strict=True):
                stored[i] = (body[s:e], shape)
        return self._decode_stored(plan, glob, stored, alloc)

    def read(self, positions: np.ndarray, alloc: Allocator | None = None) -> dict[str, Any]:
        """Every tensor at view ``positions``, for random access: byte-range reads through the dataset's engines."""
        positions = np.asarray(positions, dtype=np.int64)
        glob = self.global_indices(positions)
        out = {}
        for name, plan in self._tensor_plans().items():
            stored = self.dataset._state.engine(plan.key).read(glob)
            out[name] = self._decode_stored(plan, glob, [(_view(d), s) for d, s in stored], alloc)
        return out

    def _tiled(self, plan: _TensorPlan, index: int) -> tuple[TileManifest, tuple[int, ...]]:
        data, shape = self.dataset._state.engine(plan.key).read([index])[0]
        assert isinstance(data, TileManifest)
        return data, shape

    def _gather_raw(
        self,
        plan: _TensorPlan,
        ids: np.ndarray,
        local: np.ndarray,
        chunk: Callable[[str], tuple[ChunkHeader, memoryview]],
        alloc: Allocator | None,
        rows: Callable[[str, np.dtype], np.ndarray | None] | None = None,
    ) -> np.ndarray | None:
        """Raw samples of one shape as one array, a numpy gather per chunk; None if shapes differ.

        A batch in storage order (as loaders plan them) holds one run per chunk: each run is one ``np.take`` from
        a view of the whole chunk (``rows(key, dtype)``, e.g. :meth:`ChunkFetcher.rows`, which makes it once per
        chunk) straight into its rows of the batch.
        """
        dtype = np.dtype(plan.meta.dtype or "uint8")
        n = len(ids)
        if n == 0:
            return None
        bounds = [0, *(np.flatnonzero(ids[1:] != ids[:-1]) + 1).tolist(), n]
        run_ids = ids[bounds[:-1]].tolist()
        if len(set(run_ids)) < len(run_ids):  # a chunk in several runs
            return self._gather_spans(plan, dtype, ids, local, chunk, alloc)
        tops = np.maximum.reduceat(local, bounds[:-1]).tolist()  # the last sample each run needs
        wholes: list[np.ndarray] = []
        for cid, top in zip(run_ids, tops, strict=True):
            key = chunk_key(plan.meta.id, cid)
            whole = rows(key, dtype) if rows is not None else chunk_rows(*chunk(key), dtype)
            if whole is None or (wholes and whole.shape[1:] != wholes[0].shape[1:]):
                return self._gather_spans(plan, dtype, ids, local, chunk, alloc)
            if top >= len(whole):
                raise short_chunk_error(key, len(whole), top, plan.name)
            wholes.append(whole)
        out = _allocate(alloc, (n, *wholes[0].shape[1:]), dtype)
        for a, b, whole in zip(bounds[:-1], bounds[1:], wholes, strict=True):
            # Indices checked above; "clip" spares the temporary copy numpy makes of `out` in its default mode.
            whole.take(local[a:b], axis=0, out=out[a:b], mode="clip")
        return out

    def _gather_spans(
        self,
        plan: _TensorPlan,
        dtype: np.dtype,
        ids: np.ndarray,
        local: np.ndarray,
        chunk: Callable[[str], tuple[ChunkHeader, memoryview]],
        alloc: Allocator | None,
    ) -> np.ndarray | None:
        """:meth:`_gather_raw` for batches in any order and chunks whose shapes vary: a gather per chunk."""
        views = []
        shape: tuple[int, ...] | None = None
        for cid in _distinct(ids):
            mask = ids == cid
            header, body = chunk(chunk_key(plan.meta.id, int(cid)))
            lo, hi = int(local[mask].min()), int(local[mask].max()) + 1
            span = header.uniform_span(lo, hi)
            if span is None or (shape is not None and span[2] != shape):
                return None
            s, e, shape = span
            views.append((mask, lo, np.frombuffer(body[s:e], dtype=dtype).reshape(hi - lo, *shape)))
        assert shape is not None
        out = _allocate(alloc, (len(ids), *shape), dtype)
        for mask, lo, arr in views:
            where = np.flatnonzero(mask)
            first, last = int(where[0]), int(where[-1]) + 1
            if last - first == len(where):  # one run of the batch: gather straight into it
                np.take(arr, local[first:last] - lo, axis=0, out=out[first:last])
            else:
                out[where] = arr[local[where] - lo]
        return out

    def _decode_stored(
        self,
        plan: _TensorPlan,
        glob: np.ndarray,
        stored: list[tuple[memoryview | TileManifest, tuple[int, ...]]],
        alloc: Allocator | None,
    ) -> Any:
        meta = plan.meta
        decoder = plan.decoder
        if plan.name in self._tobytes:
            if any(isinstance(d, TileManifest) for d, _ in stored):
                raise CorruptSampleError(f"Tensor {plan.name!r} has samples stored as tiles, with no stored file.")
            return [decoder.file_bytes(d, s) for d, s in stored]  # type: ignore[arg-type]
        array = type(decoder) is ArrayDecoder

        def one(i: int, out: np.ndarray | None = None) -> Any:
            data, shape = stored[i]
            with _sample_errors(plan.name, int(glob[i])):
                if isinstance(data, TileManifest):  # tiles are read through the dataset, opened if need be
                    value = self.dataset._state.engine(plan.key).read_tiled(data, (), decoder.decode)
                elif out is not None and array and meta.sample_compression is not None:
                    from hub.compression import get_codec

                    get_codec(meta.sample_compression).decode_into(data, out, dtype=meta.dtype)
                    return out
                else:
                    value = decoder.decode(data, shape)
                if out is not None:
                    out[...] = value
                    return out
                return value

        shapes = {s for _, s in stored}
        if array and meta.dtype is not None and len(shapes) == 1 and stored:
            out = _allocate(alloc, (len(stored), *stored[0][1]), np.dtype(meta.dtype))
            tiles = any(isinstance(d, TileManifest) for d, _ in stored)
            if meta.sample_compression is not None and not tiles:  # the common case: a batch of images
                samples = [d for d, _ in stored]
                return decode_batch_into(plan.name, meta.sample_compression, meta.dtype, samples, out, glob)  # type: ignore[arg-type]
            for i in range(len(stored)):
                one(i, out[i])
            return out
        return [one(i) for i in range(len(stored))]

    # ------------------------------------------------------------- streaming
    def batches(
        self,
        shard: Shard = Shard(),
        *,
        batch_size: int = 1,
        shuffle: bool = False,
        seed: int = 0,
        epoch: int = 0,
        drop_last: bool = False,
        buffer_bytes: int = 2048 * 2**20,
        skip: int = 0,
        alloc: Allocator | None = None,
        errors: ErrorPolicy = "raise",
        return_index: bool = False,
        fetcher: ChunkFetcher | None = None,
        turn: int = 1,
        mix: bool = False,
    ) -> Iterator[dict[str, Any]]:
        """``shard``'s batches of one epoch: dicts of tensor name to batch (see :meth:`decode`).

        Shuffling draws samples from a buffer of fetched chunks (at most ``buffer_bytes`` of stored chunks,
        estimated from the tensors' chunk size); it starts as soon as the buffer holds a couple of chunks and grows
        while serving. The stream is a function of ``(seed, epoch, shard)``; ``skip`` drops its first batches
        without fetching or decoding what they alone need (resumption). ``errors="skip"`` leaves out samples that
        fail to decode (counted in ``fetcher.skipped``); a callable gets the error and skips the sample unless it
        raises. ``return_index`` adds the samples' dataset indices under ``"index"``. ``turn`` as in :meth:`plan`.
        A shuffled batch hands its samples over in storage order (one copy per chunk for raw samples) unless
        ``mix`` is set: then in an order drawn from the same ``(seed, epoch, shard)``, so that a consumer that
        cuts the stream into smaller batches gets shuffled ones.
        """
        groups = self.plan(
            shard, shuffle=shuffle, seed=seed, epoch=epoch, batch_size=batch_size, drop_last=drop_last, turn=turn
        )
        sizes = np.asarray([len(g.positions) for g in groups], dtype=np.int64)
        if shuffle:
            per_group = max(1, int(sizes.mean())) if len(sizes) else 1
            cap = max(2, buffer_bytes // max(1, self._group_bytes())) * per_group
            rng = np.random.default_rng([seed, epoch, shard.rank, shard.worker_id, 1])
            schedule = epoch_schedule(sizes, batch_size, rng, cap)
            if mix:
                mixer = np.random.default_rng([seed, epoch, shard.rank, shard.worker_id, 2])
                schedule = [mixer.permutation(ids) for ids in schedule]
        else:
            schedule = epoch_schedule(sizes, batch_size)
        fetcher = fetcher or ChunkFetcher(self.storage)
        owner = np.repeat(np.arange(len(groups)), sizes)
        last_use = np.full(len(groups), -1)
        for j, ids in enumerate(schedule):
            last_use[owner[ids]] = j
        needed = np.flatnonzero(last_use >= skip)
        loaded = 0  # how many of `needed` the fetcher has been asked for
        # Groups fetched past the last one the current batch draws from: none until the first batch is out (its
        # chunks then have the I/O to themselves), then two, and one more each time a batch had to wait.
        ahead = 0

        def fetch_for(j: int) -> None:
            nonlocal loaded
            ids = schedule[j]
            want = int(owner[ids].max()) if len(ids) else -1
            limit = min(len(needed), int(np.searchsorted(needed, want, side="right")) + ahead)
            while loaded < limit:
                fetcher.acquire(groups[int(needed[loaded])].keys())
                loaded += 1

        if skip < len(schedule):
            fetch_for(skip)  # the first batch's chunks are read while the rest of the epoch is planned
        positions = np.concatenate([g.positions for g in groups]) if groups else np.zeros(0, np.int64)
        # Where every sample of the epoch's stream lies, located once for the epoch: each batch then takes slices.
        stream = np.concatenate(schedule) if schedule else np.zeros(0, np.int64)
        cuts = np.concatenate([[0], np.cumsum([len(ids) for ids in schedule])]).astype(np.int64).tolist()
        stream_glob = self.global_indices(positions[stream])
        raw: dict[str, _RawStream] = {}
        for name in self.tensors:
            found = self._locate_raw(name, stream_glob)
            if found is not None:
                raw[name] = _RawStream(self._tensor_plans()[name], *found, cuts)
        try:
            for j in range(skip, len(schedule)):
                ids = schedule[j]
                fetch_for(j)
                waited = fetcher.waits
                a, b = cuts[j], cuts[j + 1]
                batch = self._decode_batch(
                    positions[ids],
                    fetcher,
                    alloc,
                    errors,
                    return_index,
                    (stream_glob[a:b], {name: (stream, j) for name, stream in raw.items()}),
                )
                if fetcher.waits > waited or j == skip:
                    ahead = min(max(ahead + 1, 2), fetcher.max_ahead)
                if batch is not None:
                    yield batch  # before letting go of chunks: the consumer has its batch sooner
                for g in np.flatnonzero(last_use == j):
                    fetcher.release(groups[g].keys())
        finally:
            fetcher.close()

    def _group_bytes(self) -> int:
        """An estimate of a chunk group's stored bytes: the primary tensor's chunk size target."""
        return int(self._primary().meta.max_chunk_size)

    def _locate_raw(self, name: str, glob: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """(chunk ids, offsets in them) of samples ``glob`` of a tensor gathered as stored, or None if it is not
        (see :meth:`gathers`) or some of these samples are tiled."""
        if not self.gathers(name):
            return None
        index = self._tensor_plans()[name].index
        entries, ids, local = _locate(index, glob)
        if ((index.entries["flags"][entries] & TILED) != 0).any():
            return None
        return ids, local

    def _decode_batch(
        self,
        positions: np.ndarray,
        fetcher: ChunkFetcher,
        alloc: Allocator | None,
        errors: ErrorPolicy,
        return_index: bool,
        located: tuple[np.ndarray, dict[str, tuple[_RawStream, int]]] | None = None,
    ) -> dict[str, Any] | None:
        """The batch at view ``positions``; ``located``: their dataset indices and, for raw tensors, the epoch's
        :class:`_RawStream` and the batch's number in it, so that those are gathered with no lookup per batch."""
        while True:
            try:
                out: dict[str, Any] = {}
                for name in self.tensors:
                    got = None
                    if located is not None and name in located[1]:
                        stream, j = located[1][name]
                        got = stream.gather(j, fetcher.rows, alloc)
                        if got is None:
                            ids, local = stream.batch(j)
                            plan = self._tensor_plans()[name]
                            got = self._gather_raw(plan, ids, local, fetcher.get, alloc, fetcher.rows)
                    out[name] = got if got is not None else self.decode(name, positions, fetcher.get, alloc)
            except SampleDecodeError as e:
                if errors == "raise":
                    raise
                if callable(errors):
                    errors(e)
                fetcher.skipped += 1
                positions = positions[self.global_indices(positions) != e.index]
                located = None
                if len(positions) == 0:
                    return None
                continue
            if return_index:
                out["index"] = located[0] if located is not None else self.global_indices(positions)
            return out


class _RawStream:
    """Where one raw tensor's samples of an epoch's stream lie, cut into runs, so that a batch is gathered with one
    ``np.take`` per run and no other per-batch work (see :meth:`DatasetReader.gathers`).

    A run is a stretch of a batch's samples in one chunk; a batch in storage order (as shuffled batches are handed
    over unless mixed) has one per chunk it draws from. Runs and their largest offsets are computed once for the
    epoch; each run's offsets are checked against its chunk's length when gathered.
    """

    #: Above this many runs per sample of a batch (a mixed batch), gathering by run costs more than by chunk.
    MAX_RUN_SHARE = 0.25

    def __init__(self, plan: _TensorPlan, ids: np.ndarray, local: np.ndarray, cuts: list[int]) -> None:
        self.name = plan.name
        self.dtype = np.dtype(plan.meta.dtype or "uint8")
        self.ids, self.local, self.cuts = ids, local, cuts
        chunks = _distinct(ids)
        self.keys = [chunk_key(plan.meta.id, int(c)) for c in chunks.tolist()]
        compact = np.searchsorted(chunks, ids)
        changes = np.flatnonzero(compact[1:] != compact[:-1]) + 1
        starts = _distinct(np.concatenate([changes, cuts[:-1]]).astype(np.int64)) if len(ids) else np.zeros(0, np.int64)
        self.starts: list[int] = [*starts.tolist(), len(ids)]
        self.chunk: list[int] = compact[starts].tolist()
        self.top: list[int] = np.maximum.reduceat(local, starts).tolist() if len(starts) else []
        self.first: list[int] = np.searchsorted(starts, np.asarray(cuts, dtype=np.int64)).tolist()

    def batch(self, j: int) -> tuple[np.ndarray, np.ndarray]:
        """Batch ``j``'s (chunk ids, offsets in them)."""
        a, b = self.cuts[j], self.cuts[j + 1]
        return self.ids[a:b], self.local[a:b]

    def gather(
        self, j: int, rows: Callable[[str, np.dtype], np.ndarray | None], alloc: Allocator | None
    ) -> np.ndarray | None:
        """Batch ``j`` as one array, from the held chunks' rows (``rows(key, dtype)``, as :meth:`ChunkFetcher.rows`
        gives them); None when a chunk's samples aren't uniform rows of one shape, or the batch is mixed."""
        a, b = self.cuts[j], self.cuts[j + 1]
        r0, r1 = self.first[j], self.first[j + 1]
        if b == a or r1 - r0 > max(8, self.MAX_RUN_SHARE * (b - a)):
            return None
        wholes = []
        shape = None
        for r in range(r0, r1):
            key = self.keys[self.chunk[r]]
            whole = rows(key, self.dtype)
            if whole is None or (shape is not None and whole.shape[1:] != shape):
                return None
            shape = whole.shape[1:]
            if self.top[r] >= len(whole):
                raise short_chunk_error(key, len(whole), self.top[r], self.name)
            wholes.append(whole)
        assert shape is not None
        out = _allocate(alloc, (b - a, *shape), self.dtype)
        local, starts = self.local, self.starts
        for r, whole in zip(range(r0, r1), wholes, strict=True):
            s, e = starts[r], starts[r + 1]
            # Offsets checked above; "clip" spares the temporary copy numpy makes of `out` in its default mode.
            whole.take(local[s:e], axis=0, out=out[s - a : e - a], mode="clip")
        return out


class RecyclingAllocator:
    """An :data:`Allocator` whose batch arrays reuse memory that nothing refers to any more, 64-byte aligned.

    A batch array is a view of one of at most ``limit`` buffers; a buffer is handed out again only when the pool
    holds the only reference to it, i.e. when every view of it (and every array or framework tensor sharing its
    memory, such as ``torch.from_numpy`` or TensorFlow's zero-copy tensors, which keep a reference) is gone. A
    batch the user keeps is never overwritten. Reusing memory saves the kernel's work on fresh pages (a fault
    per 4 KiB page, several microseconds each on a virtual machine: for a batch of 256x256 images, as much as
    decoding them). Alignment lets TensorFlow take the arrays without copying them. Thread-safe.
    """

    ALIGN = 64

    def __init__(self, limit: int = 16) -> None:
        self._limit = limit
        self._buffers: list[np.ndarray] = []
        self._starts: list[int] = []  # where each buffer's aligned memory starts
        self._lock = threading.Lock()

    def __call__(self, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
        dtype = np.dtype(dtype)
        if dtype.hasobject:
            return np.empty(shape, dtype=dtype)
        nbytes = math.prod(shape) * dtype.itemsize
        with self._lock:
            for i in range(len(self._buffers)):
                buffer = self._buffers[i]
                # References: the list's, this loop's and getrefcount's argument. A view handed out adds one.
                if len(buffer) >= nbytes + self.ALIGN and sys.getrefcount(buffer) <= 3:
                    start = self._starts[i]
                    return buffer[start : start + nbytes].view(dtype).reshape(shape)
            buffer = np.empty(nbytes + self.ALIGN, dtype=np.uint8)
            start = -buffer.ctypes.data % self.ALIGN
            if len(self._buffers) < self._limit:
                self._buffers.append(buffer)
                self._starts.append(start)
            else:  # every buffer is in use: the smallest goes, so that the pool follows the batch sizes in use
                smallest = min(range(len(self._buffers)), key=lambda i: len(self._buffers[i]))
                if len(self._buffers[smallest]) < len(buffer):
                    self._buffers[smallest], self._starts[smallest] = buffer, start
            return buffer[start : start + nbytes].view(dtype).reshape(shape)


def epoch_schedule(
    sizes: np.ndarray, batch_size: int, rng: np.random.Generator | None = None, capacity: int = 0
) -> list[np.ndarray]:
    """The batches of one worker's epoch, as indices into its groups' concatenated samples.

    Without ``rng``, in order. With it, through a shuffle buffer: groups enter in order, the buffer starts as
    soon as it holds one group (or a batch) and grows by a batch per batch served up to ``capacity`` samples,
    and each batch is drawn uniformly from what it holds (its samples then put in storage order). Only sizes are
    needed, so a resumed worker recomputes the same stream without reading anything.
    """
    total = int(sizes.sum())
    if rng is None:
        return [np.arange(s, min(s + batch_size, total)) for s in range(0, total, batch_size)]
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    start = int(sizes[0]) if len(sizes) else 0
    target = min(max(capacity, batch_size), max(start, batch_size))
    # The buffer is kept in a uniformly random order: a batch is then its last samples (a uniform draw of them),
    # and entering samples are shuffled in with the rest (a permutation per group that enters, not per batch).
    buffer = np.zeros(0, dtype=np.int64)
    entered = 0
    out = []
    served = 0
    while served < total:
        goal = min(max(capacity, batch_size), target + served)
        grew, held = entered, len(buffer)
        while entered < len(sizes) and held < goal:
            held += int(sizes[entered])
            entered += 1
        if entered > grew:
            buffer = np.concatenate([buffer, np.arange(offsets[grew], offsets[entered])])
            buffer = buffer[rng.permutation(len(buffer))]
        take = min(batch_size, len(buffer))
        # In storage order within the batch, so that each chunk's samples land in one run of the batch array and
        # raw samples are gathered in one copy per chunk; which samples form a batch is what is random.
        out.append(np.sort(buffer[len(buffer) - take :]))
        buffer = buffer[: len(buffer) - take]
        served += take
    return out


class ChunkFetcher:
    """Whole chunks fetched ahead of need on background threads, parsed, and held while a group needs them.

    ``acquire(keys)`` starts fetches (shared keys are fetched once and counted); ``get(key)`` waits for one;
    ``release(keys)`` lets go. ``waits`` counts the times a ``get`` had to wait: the caller raises how far ahead
    it acquires when it grows, up to ``max_ahead`` groups.
    """

    def __init__(self, storage: Storage, threads: int | None = None, max_ahead: int = 16) -> None:
        self.storage = storage
        # Reads from a local disk are page-cache copies or mappings: two threads keep ahead of a consumer, and each
        # thread more costs a start (0.3-0.6 ms here) every epoch. Remote reads wait on the network: eight.
        self.threads = threads if threads is not None else (2 if storage.sequential_reads else 8)
        self.max_ahead = max_ahead
        self.waits = 0
        self.waited_seconds = 0.0
        self.skipped = 0
        self._pool: ThreadPoolExecutor | None = None
        self._futures: dict[str, Future[tuple[ChunkHeader, memoryview]]] = {}
        self._refs: Counter[str] = Counter()
        self._rows: dict[str, np.ndarray | None] = {}

    def _load(self, key: str) -> tuple[ChunkHeader, memoryview]:
        try:
            data = self.storage.get_mapped(key, whole=True)
        except KeyNotFoundError:
            raise CorruptChunkError(
                f"Chunk {key!r} named by the chunk index is missing from {self.storage.url}."
            ) from None
        return read_chunk(data, key)

    def acquire(self, keys: Sequence[str]) -> None:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="hub-fetch")
        for key in keys:
            self._refs[key] += 1
            if key not in self._futures:
                self._futures[key] = self._pool.submit(self._load, key)

    def get(self, key: str) -> tuple[ChunkHeader, memoryview]:
        future = self._futures.get(key)
        if future is None:  # not acquired (a caller decoding outside a plan): fetch now
            return self._load(key)
        if not future.done():
            self.waits += 1
            started = time.perf_counter()
            result = future.result()
            self.waited_seconds += time.perf_counter() - started
            return result
        return future.result()

    def rows(self, key: str, dtype: np.dtype) -> np.ndarray | None:
        """Chunk ``key``'s samples as one array of rows (see :func:`chunk_rows`), made once while it is held."""
        if key in self._rows:
            rows = self._rows[key]
            if rows is None or rows.dtype == dtype:
                return rows
        rows = chunk_rows(*self.get(key), dtype)
        if key in self._futures:
            self._rows[key] = rows
        return rows

    def release(self, keys: Sequence[str]) -> None:
        dropped = []
        for key in keys:
            self._refs[key] -= 1
            if self._refs[key] <= 0:
                del self._refs[key]
                self._rows.pop(key, None)
                future = self._futures.pop(key, None)
                if future is not None and not future.cancel():
                    dropped.append(future)
        if dropped and self._pool is not None:
            # The last references to the chunks go on a fetch thread: unmapping a file mapping whose pages are
            # mapped in takes a while (~0.5 ms for 16 MiB), and runs there without the GIL, not in the consumer.
            self._pool.submit(_let_go, dropped)

    def close(self) -> None:
        """Drop every held chunk and stop the threads (started again by the next ``acquire``)."""
        held = [future for future in self._futures.values() if not future.cancel()]
        self._futures.clear()
        self._refs.clear()
        self._rows.clear()
        if self._pool is not None:
            if held:
                self._pool.submit(_let_go, held)  # unmapped on a fetch thread, as in release()
            # The threads skip the cancelled fetches, drop the chunks and end; nothing waits for them.
            self._pool.shutdown(wait=False)
            self._pool = None


def _let_go(values: list[Any]) -> None:
    """Nothing: the thread that runs it drops the last references to ``values``."""


@contextmanager
def _sample_errors(tensor: str, index: int) -> Iterator[None]:
    """Turn a failure to decode one sample into a SampleDecodeError naming the tensor and index."""
    try:
        yield
    except SampleDecodeError:
        raise
    # Decoders (per-htype plug-ins included) raise many kinds of error on bad bytes; the caller needs one.
    except Exception as e:
        raise SampleDecodeError.at(tensor, index, e) from e


def decode_batch_into(
    tensor: str,
    compression: str,
    dtype: str | None,
    stored: Sequence[bytes | memoryview],
    out: np.ndarray,
    indices: np.ndarray,
) -> np.ndarray:
    """Compressed samples of one shape decoded by their codec straight into the rows of ``out`` (as loaders fill
    batches), and ``out``; a sample that fails raises :class:`~hub.errors.SampleDecodeError` naming ``tensor`` and
    its dataset index from ``indices``. No per-sample context manager: a few microseconds a sample on this path.
    """
    from hub.compression import get_codec

    codec = get_codec(compression)
    for i, data in enumerate(stored):
        try:
            codec.decode_into(data, out[i], dtype=dtype)
        except SampleDecodeError:
            raise
        except Exception as e:  # decoders raise many kinds of error on bad bytes (see _sample_errors)
            raise SampleDecodeError.at(tensor, int(indices[i]), e) from e
    return out


def chunk_rows(header: ChunkHeader, body: memoryview, dtype: np.dtype) -> np.ndarray | None:
    """All of a chunk's samples as one array of rows (a view of ``body``), if they share a shape and lie back to
    back; else None."""
    span = header.uniform
    if span is None:
        return None
    start, end, shape = span
    rows = np.frombuffer(body, dtype=dtype, count=(end - start) // dtype.itemsize, offset=start)
    return rows.reshape(header.num_samples, *shape)


def _needs_dataset(meta: TensorMeta) -> bool:
    """Whether decoding the tensor needs the open dataset (links resolve with its credentials)."""
    return "link" in meta.htype


def _locate(index: ChunkIndex, glob: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(index entries, chunk ids, offsets in the chunks) of dataset samples ``glob``."""
    entries = index.locate(glob)
    ends = index.entries["end"].astype(np.int64)
    starts = np.where(entries > 0, ends[np.maximum(entries - 1, 0)], 0)
    return entries, index.entries["id"][entries], glob - starts


def _distinct(values: np.ndarray) -> np.ndarray:
    """The sorted distinct values (np.unique imports numpy.ma on first use: a second of a fresh worker's start)."""
    ordered = np.sort(values)
    keep = np.empty(len(ordered), dtype=bool)
    keep[:1] = True
    np.not_equal(ordered[1:], ordered[:-1], out=keep[1:])
    out: np.ndarray = ordered[keep]
    return out


def _view(data: bytes | memoryview | TileManifest) -> memoryview | TileManifest:
    return memoryview(data) if isinstance(data, bytes) else data


def _stored_bytes(
    meta: TensorMeta,
    ids: np.ndarray,
    local: np.ndarray,
    chunk: Callable[[str], tuple[ChunkHeader, memoryview]],
) -> list[bytes]:
    """The stored bytes of samples (chunk ``ids``, indices ``local`` in them): byte spans computed a chunk at a time."""
    out: list[bytes] = [b""] * len(ids)
    for cid in _distinct(ids):
        where = np.flatnonzero(ids == cid)
        header, body = chunk(chunk_key(meta.id, int(cid)))
        starts, ends = header.byte_spans(local[where])
        for i, s, e in zip(where.tolist(), starts.tolist(), ends.tolist(), strict=True):
            out[i] = bytes(body[s:e])
    return out


def _allocate(alloc: Allocator | None, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    return np.empty(shape, dtype=dtype) if alloc is None else alloc(shape, dtype)
