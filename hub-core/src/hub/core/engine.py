"""The chunk engine: stores one tensor's encoded samples in chunks and reads them back.

It deals in encoded samples (bytes plus shape); :mod:`hub.core.samples` turns values into
those and back. Writes fill an open *tail* chunk in memory; a full tail is written out and
a new one opened. Any change to a chunk other than appending to the tail writes the chunk
under a new id (copy on write), so a published chunk is never changed except by growing.
"""

from __future__ import annotations

import math
import secrets
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from hub.core.chunk import HEADER_PROBE, ChunkBuilder, ChunkHeader, header_size, parse_header, read_chunk
from hub.core.chunk_index import ChunkIndex, chunk_key
from hub.core.htypes import OBJECT_HTYPES, get_htype
from hub.core.meta import TensorMeta, index_key, new_id
from hub.core.regions import Region, plan_region
from hub.core.tiles import TILED, TiledSample, TileManifest, assemble
from hub.errors import CorruptChunkError, KeyNotFoundError, SampleShapeError
from hub.storage import Storage

__all__ = ["TensorEngine", "EncodedSample", "StoredSample", "IndexPiece"]

#: An encoded sample: its stored bytes and its shape.
EncodedSample = tuple[bytes | memoryview, tuple[int, ...]]
#: What a read returns per sample: stored bytes and shape, or a tiled sample's manifest and shape.
StoredSample = tuple[bytes | memoryview | TileManifest, tuple[int, ...]]

_HEADER_CACHE = 4096
_CHUNK_CACHE_BYTES = 256 * 2**20
_MAP_CACHE = 64  # mapped chunks kept: address space and a file descriptor's worth of kernel state each


@dataclass
class IndexPiece:
    """Chunk index entries a transform worker wrote, numbered from 0, for the writer to stitch in."""

    entries: np.ndarray  # ENTRY_DTYPE
    keys: list[str]  # every object written for them: deleted if the piece is never stitched in


@dataclass
class _Checkpoint:
    index: ChunkIndex
    meta: TensorMeta
    tail_id: int | None
    tail_samples: int
    garbage: frozenset[str]


class _ChunkCache:
    """Whole decompressed chunks, least recently used dropped first, bounded in bytes."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[int, tuple[ChunkHeader, memoryview]] = OrderedDict()
        self._used = 0

    def get(self, cid: int) -> tuple[ChunkHeader, memoryview] | None:
        item = self._items.get(cid)
        if item is not None:
            self._items.move_to_end(cid)
        return item

    def put(self, cid: int, header: ChunkHeader, body: memoryview) -> None:
        self.drop(cid)
        if len(body) > self.max_bytes:
            return
        self._items[cid] = (header, body)
        self._used += len(body)
        while self._used > self.max_bytes:
            _, (_, old) = self._items.popitem(last=False)
            self._used -= len(old)

    def __contains__(self, cid: int) -> bool:
        return cid in self._items

    def drop(self, cid: int) -> None:
        item = self._items.pop(cid, None)
        if item is not None:
            self._used -= len(item[1])


class TensorEngine:
    """Reads and writes the chunks of one tensor through a storage."""

    def __init__(self, storage: Storage, meta: TensorMeta) -> None:
        self.storage = storage
        self.meta = meta
        self._index: ChunkIndex | None = None
        self._tail: ChunkBuilder | None = None
        self._tail_id: int | None = None
        self._tail_in_index = False  # whether the index already has an entry for the tail
        self._tail_dirty = False
        self._tail_bytes: tuple[ChunkHeader, memoryview] | None = None
        self._dirty = False
        self._garbage: set[str] = set()
        self._written: set[str] = set()  # keys this engine wrote: never part of a commit
        self._headers: OrderedDict[int, tuple[ChunkHeader, bytes]] = OrderedDict()
        self._chunks = _ChunkCache(_CHUNK_CACHE_BYTES)
        # Memory-mapped chunks (storages that map files): a sample read is then a slice, with no request at all.
        self._maps: OrderedDict[int, tuple[ChunkHeader, memoryview]] = OrderedDict()
        self._mapping = storage.maps_files and meta.chunk_compression is None

    # ------------------------------------------------------------------ state
    @property
    def index(self) -> ChunkIndex:
        if self._index is None:
            if self.meta.index is None:
                self._index = ChunkIndex()
            else:
                self.set_index_bytes(self.storage.get(self.meta.index))
        assert self._index is not None
        return self._index

    @property
    def index_loaded(self) -> bool:
        return self._index is not None

    def set_index_bytes(self, data: bytes) -> None:
        """The stored chunk index, fetched by the caller (``_State.load_indexes``), if none is loaded yet."""
        if self._index is None and self.meta.index is not None:
            self._index = ChunkIndex.frombytes(data, self.meta.index)

    @property
    def dirty(self) -> bool:
        return self._dirty or self._tail_dirty

    def _key(self, cid: int) -> str:
        return chunk_key(self.meta.id, cid)

    def _put(self, key: str, data: bytes | ChunkBuilder) -> None:
        # Recorded first: an interrupt (a cancelled transform task) between the write and the record
        # would leave an object its writer does not know to delete.
        self._written.add(key)
        if isinstance(data, ChunkBuilder):  # written as header + body, without joining them
            self.storage.set_parts(key, data.parts(lz4=self.meta.chunk_compression == "lz4"))
        else:
            self.storage.set(key, data)

    def _discard(self, key: str, first_sample: int) -> None:
        """Mark an object no longer named by this node for deletion, unless a commit may name it.

        Samples from ``meta.sealed`` on were written in this node, so their chunks are its own;
        below that, only objects this engine wrote itself are known not to belong to a commit.
        """
        if first_sample >= self.meta.sealed or key in self._written:
            self._garbage.add(key)

    def checkpoint(self) -> _Checkpoint:
        """What :meth:`rollback` restores: the state before a write that may fail half-way."""
        tail_samples = self._tail.num_samples if self._tail is not None else 0
        return _Checkpoint(self.index.copy(), self.meta.copy(), self._tail_id, tail_samples, frozenset(self._garbage))

    def rollback(self, cp: _Checkpoint) -> None:
        """Forget every sample added since ``cp``; chunks written meanwhile become unreferenced."""
        self._index = cp.index
        self.meta = cp.meta
        self._garbage = set(cp.garbage)  # the restored index names them again
        if self._tail is not None and self._tail_id == cp.tail_id:
            self._tail.truncate(cp.tail_samples)
            self._tail_bytes = None
        else:
            self._drop_tail()
        self._dirty = True

    def _drop_tail(self) -> None:
        self._tail = None
        self._tail_id = None
        self._tail_in_index = False
        self._tail_dirty = False
        self._tail_bytes = None

    # ---------------------------------------------------------------- writing
    def append(self, samples: Iterable[EncodedSample | TiledSample]) -> None:
        """Append encoded samples one by one."""
        shapes = []
        for sample in samples:
            if isinstance(sample, TiledSample):
                self._append_tiled(sample)
                shapes.append(sample.shape)
            else:
                self._add(sample[0], sample[1], 1)
                shapes.append(sample[1])
        self.meta.update_shape_bounds(shapes)

    def _write_tiles(self, sample: TiledSample) -> int:
        """Write a tiled sample's tile chunks and manifest; return the manifest's id."""
        ids = []
        manifest = TileManifest(sample.shape, sample.tile_shape, [])
        for coords, data in zip(np.ndindex(*manifest.grid), sample.tiles, strict=True):
            box = manifest.tile_box(coords)
            ids.append(self._write_single(data, tuple(b.stop - b.start for b in box)))
        manifest.tile_ids = ids
        manifest_id = secrets.randbits(64)
        self._put(self._key(manifest_id), manifest.tobytes())
        return manifest_id

    def _write_single(self, data: bytes | memoryview, shape: tuple[int, ...]) -> int:
        """Write a chunk holding one sample (a tile, or a sample with an index entry to itself); return its id."""
        cid = secrets.randbits(64)
        self._put(self._key(cid), ChunkBuilder.borrowing(memoryview(data).cast("B"), shape, 1))
        return cid

    def _append_tiled(self, sample: TiledSample) -> None:
        self._write_tail()
        self._drop_tail()
        self.append_manifest(self._write_tiles(sample), sample.shape)

    def append_manifest(self, manifest_id: int, shape: tuple[int, ...]) -> None:
        """Append a tiled sample whose tile manifest (``manifest_id``) and tiles are stored already (a copy's)."""
        self._write_tail()
        self._drop_tail()
        self.index.append(manifest_id, 1, TILED)
        self.meta.length += 1
        self.meta.update_shape_bounds([shape])
        self._dirty = True

    def _manifest(self, cid: int) -> TileManifest:
        key = self._key(cid)
        return TileManifest.frombytes(self._get(key), key)

    def _is_tiled(self, pos: int) -> bool:
        return bool(self.index.entries["flags"][pos] & TILED)

    def read_tiled(
        self,
        manifest: TileManifest,
        subscript: tuple[object, ...],
        decode_tile: Callable[[bytes | memoryview, tuple[int, ...]], np.ndarray],
    ) -> np.ndarray:
        """``sample[subscript]`` of a tiled sample, fetching and decoding only the tiles it touches."""

        def fetch(ids: list[int]) -> dict[int, np.ndarray]:
            keys = {self._key(i): i for i in ids}
            out = {}
            for key, data in self.storage.get_many(keys).items():
                header, body = self._decode_chunk(keys[key], data)
                start, end = header.byte_span(0)
                out[keys[key]] = decode_tile(body[start:end], header.shape(0))
            return out

        return assemble(manifest, subscript, fetch, np.dtype(self.meta.dtype or "uint8"))

    def append_batch(self, data: bytes | memoryview, shape: tuple[int, ...], count: int) -> None:
        """Append ``count`` samples of one shape whose bytes lie back to back in ``data``."""
        if count == 0:
            return
        view = memoryview(data).cast("B")
        size = len(view) // count
        while count:
            tail = self._writable_tail(size)
            room = self.meta.max_chunk_size - tail.nbytes
            n = count if size == 0 else max(1, min(count, room // size))
            if tail.num_samples == 0 and n < count and not self._tail_in_index:
                # A whole chunk of the batch: written straight from the caller's buffer, not copied into the tail.
                assert self._tail_id is not None
                self._put(self._key(self._tail_id), ChunkBuilder.borrowing(view[: n * size], shape, n))
                self.index.append(self._tail_id, n)
                self.meta.length += n
                self._dirty = True
                self._drop_tail()
                self._open_tail(size, reopen_last=False)  # the chunk just written is full: don't read it back
            else:
                self._add_to_tail(view[: n * size], shape, n)
            view = view[n * size :]
            count -= n
        self.meta.update_shape_bounds([shape])

    def _add(self, data: bytes | memoryview, shape: tuple[int, ...], count: int) -> None:
        self._writable_tail(len(data))
        self._add_to_tail(data, shape, count)

    def _add_to_tail(self, data: bytes | memoryview, shape: tuple[int, ...], count: int) -> None:
        assert self._tail is not None and self._tail_id is not None
        self._tail.add(data, shape, count)
        if self._tail_in_index:
            self.index.grow_last(count)
        else:
            self.index.append(self._tail_id, count)
            self._tail_in_index = True
        self.meta.length += count
        self._tail_dirty = True
        self._tail_bytes = None
        self._dirty = True

    def _writable_tail(self, nbytes: int) -> ChunkBuilder:
        tail = self._tail
        full = tail is not None and tail.num_samples and tail.nbytes + nbytes > self.meta.max_chunk_size
        if full:
            self._write_tail()
            self._drop_tail()
        if self._tail is None:
            self._open_tail(nbytes, reopen_last=not full)
        assert self._tail is not None
        return self._tail

    def _open_tail(self, nbytes: int, reopen_last: bool = True) -> None:
        """Start the chunk appends go to: the last chunk again if it has room, else a new one.

        ``reopen_last=False`` when the last chunk was just closed for being full: no need to read it back.
        """
        index = self.index
        last = len(index) - 1 if reopen_last else -1
        if (
            last >= 0
            and self.meta.ndim is not None
            and not self._is_tiled(last)
            and index.start_of(last) >= self.meta.sealed
        ):
            cid = index.chunk_id(last)
            header, body = self._whole_chunk(cid)
            if len(body) + nbytes <= self.meta.max_chunk_size:
                builder = ChunkBuilder.from_chunk(header, bytes(body))
                # A write that failed after this chunk was written may have left samples past the index's end.
                builder.truncate(index.num_samples - index.start_of(last))
                self._tail, self._tail_id, self._tail_in_index = builder, cid, True
                return
        self._tail = ChunkBuilder(self.meta.ndim or 0)
        self._tail_id = secrets.randbits(64)
        self._tail_in_index = False

    def _write_tail(self) -> None:
        if self._tail is not None and self._tail_id is not None and self._tail_dirty:
            self._put(self._key(self._tail_id), self._tail)
            self._forget(self._tail_id)
            self._tail_dirty = False

    def flush(self) -> None:
        """Write the tail chunk and the chunk index; the caller then publishes the metadata."""
        self._write_tail()
        if self._dirty:
            # A fresh name per write: a content-derived one could equal an index a commit names, which this
            # node would then delete as its own garbage.
            key = index_key(self.meta.id, new_id(128))
            self._put(key, self.index.tobytes())
            if self.meta.index is not None and self.meta.index != self.meta.base_index:
                self._garbage.add(self.meta.index)
            self.meta.index = key
            self._dirty = False

    def export_piece(self) -> IndexPiece:
        """Write the tail chunk and hand over everything appended, as a piece another engine stitches in.

        A transform worker's engine over a fresh meta (length 0) writes its chunks straight to
        storage; only this small piece goes back to the writer.
        """
        self._write_tail()
        self._drop_tail()
        return IndexPiece(self.index.entries.copy(), self.written_keys)

    @property
    def written_keys(self) -> list[str]:
        """Every object this engine wrote (a transform worker deletes them if its task fails)."""
        return sorted(self._written)

    def import_piece(self, piece: IndexPiece) -> None:
        """Append a worker's samples by appending its index entries; their chunks are already stored.

        The tail is closed first, so chunks written here never interleave with the worker's.
        """
        if not len(piece.entries):
            return
        self._write_tail()
        self._drop_tail()
        index = self.index
        start = 0
        for end, cid, flags in zip(
            piece.entries["end"].tolist(), piece.entries["id"].tolist(), piece.entries["flags"].tolist(), strict=True
        ):
            index.append(cid, end - start, flags)
            start = end
        self.meta.length += start
        self._dirty = True

    def clear(self) -> None:
        """Remove every sample (the tensor keeps its definition); chunks only this node named become garbage."""
        self._write_tail()
        self._drop_tail()
        index = self.index
        firsts: dict[int, int] = {}  # a chunk's first sample: entries split by updates can share a chunk
        for pos in range(len(index)):
            cid = index.chunk_id(pos)
            if self._is_tiled(pos):
                self._forget_tiled(cid, index.start_of(pos))
            else:
                firsts.setdefault(cid, index.start_of(pos))
        for cid, first in firsts.items():
            self._discard(self._key(cid), first)
            self._forget(cid)
        self._index = ChunkIndex()
        self.meta.length = self.meta.sealed = 0
        self.meta.min_shape = self.meta.max_shape = None
        self._dirty = True

    def drop_caches(self) -> None:
        """Forget the chunks, headers, mapped files, open tail and chunk index held in memory (all of them published:
        call after a flush); they are read again when next needed."""
        assert not self.dirty, "flush before dropping caches"
        self._drop_tail()
        self._chunks = _ChunkCache(self._chunks.max_bytes)
        self._headers.clear()
        self._maps.clear()
        self._index = None

    def size_approx(self) -> int:
        """About how many bytes the samples take in storage, from the metadata and the chunk index (no chunk is read).

        Raw arrays: their bytes, from the shape bounds (exact when all samples have one shape). Anything else (encoded
        files, text, links, sequences, polygons): half the target chunk size per chunk, Hub 2.x's estimate, but for
        arrays no more than they would take raw.
        """
        meta = self.meta
        if not meta.length:
            return 0
        array = meta.htype not in OBJECT_HTYPES and meta.dtype is not None and meta.max_shape is not None
        itemsize = np.dtype(meta.dtype).itemsize if array and meta.dtype is not None else 0
        most = meta.length * itemsize * math.prod(meta.max_shape or ())
        spec = get_htype(meta.htype)
        if array and meta.sample_compression is None and spec.wrapper is None and meta.layout is None:
            least = meta.length * itemsize * math.prod(meta.min_shape or ())
            return (least + most) // 2
        chunks = len(np.unique(self.index.entries["id"]))
        estimate = chunks * (meta.max_chunk_size // 2)
        return min(estimate, most) if array and spec.wrapper != "link" else estimate

    def rechunk(self) -> bool:
        """Repack runs of chunks filled less than half of ``max_chunk_size`` into full chunks; True if any changed.

        Stored bytes are copied as they are (nothing is decoded), into chunks under new ids: a chunk is closed when
        the next sample would not fit, as when appending. Chunks filled at least half, tiled samples and a lone small
        chunk (nothing to merge it with) stay as they are. Replaced chunks that the parent commit's index names stay
        (commits never change); the others, this node's own, are deleted after the flush that stops naming them.
        """
        self._write_tail()
        self._drop_tail()
        index = self.index
        entries = index.entries.copy()
        if not len(entries):
            return False
        starts = np.concatenate([[0], entries["end"][:-1]]).astype(np.int64)
        counts = entries["end"].astype(np.int64) - starts
        ids, uses = np.unique(entries["id"], return_counts=True)
        shared = set(ids[uses > 1].tolist())
        half = self.meta.max_chunk_size // 2

        def kept(pos: int) -> bool:
            cid = int(entries["id"][pos])
            if entries["flags"][pos] & TILED:
                return True
            if cid in shared:
                return False
            header, _ = self._header(cid)
            return header.num_samples == counts[pos] and (header.body_nbytes >= half or counts[pos] == 1)

        runs: list[list[int]] = [[]]
        for pos in range(len(entries)):
            if kept(pos):
                runs.append([])
            else:
                runs[-1].append(pos)
        runs = [r for r in runs if len(r) > 1 or (r and int(entries["id"][r[0]]) in shared)]
        if not runs:
            return False
        replaced = {pos: self._repack(entries, counts, run) for run in runs for pos in run[:1]}
        in_runs = {pos for run in runs for pos in run}
        replaced_ids: set[int] = set()
        rebuilt = ChunkIndex()
        for pos in range(len(entries)):
            cid = int(entries["id"][pos])
            if pos in replaced:
                for new_id, n in replaced[pos]:
                    rebuilt.append(new_id, n)
            if pos in in_runs:
                replaced_ids.add(cid)
            else:
                rebuilt.append(cid, int(counts[pos]), int(entries["flags"][pos]))
        committed = self._committed_chunks()
        for cid in replaced_ids:
            if cid not in committed:
                self._garbage.add(self._key(cid))
            self._forget(cid)
        assert rebuilt.num_samples == index.num_samples
        self._index = rebuilt
        self._dirty = True
        return True

    def _committed_chunks(self) -> set[int]:
        """The chunks the parent commit's index names (empty without a parent): any other chunk of the index was
        written by this node, so it is this node's to delete once no longer named."""
        if self.meta.base_index is None:
            return set()
        base = ChunkIndex.frombytes(self._get(self.meta.base_index), self.meta.base_index)
        return set(base.entries["id"].tolist())

    def _repack(self, entries: np.ndarray, counts: np.ndarray, run: list[int]) -> list[tuple[int, int]]:
        """Write the samples of index entries ``run`` into new chunks of at most ``max_chunk_size`` (a sample larger
        than that in one of its own); return (chunk id, samples) of each."""
        limit = self.meta.max_chunk_size
        out: list[tuple[int, int]] = []
        builder: ChunkBuilder | None = None

        def close() -> None:
            nonlocal builder
            if builder is not None and builder.num_samples:
                cid = secrets.randbits(64)
                self._put(self._key(cid), builder)
                out.append((cid, builder.num_samples))
            builder = None

        window = 8  # chunks fetched at once: a round trip for several, and a bounded amount in memory
        for k, pos in enumerate(run):
            if k % window == 0:
                self._prefetch([int(entries["id"][p]) for p in run[k : k + window]])
            header, body = self._whole_chunk(int(entries["id"][pos]))
            count = int(counts[pos])
            begins, ends = header.byte_spans(np.arange(count, dtype=np.int64))
            sizes = ends - begins
            i = 0
            while i < count:
                if builder is None:
                    builder = ChunkBuilder(self.meta.ndim if self.meta.ndim is not None else header.ndim)
                fit = int(np.searchsorted(np.cumsum(sizes[i:]), limit - builder.nbytes, side="right"))
                if fit == 0 and builder.num_samples == 0:
                    fit = 1  # a sample larger than a chunk gets a chunk of its own
                if fit == 0:
                    close()
                    continue
                builder.add_range(header, body, i, i + fit)
                i += fit
                if i < count:
                    close()
        close()
        return out

    def collect_garbage(self) -> None:
        """Delete objects no published metadata names any more (call after publishing)."""
        for key in self._garbage:
            self.storage.delete(key)
        self._garbage.clear()

    def update(self, position: int, sample: EncodedSample | TiledSample) -> None:
        """Replace the sample at global index ``position`` (copy on write of its chunk)."""
        pos = int(self.index.locate(np.asarray([position]))[0])
        if isinstance(sample, TiledSample) or self._is_tiled(pos):
            self._replace_entry(pos, sample)
        else:
            self._rewrite_chunk(position, sample)
        self.meta.update_shape_bounds([sample.shape if isinstance(sample, TiledSample) else sample[1]])

    def _forget_tiled(self, cid: int, first_sample: int) -> None:
        manifest = self._manifest(cid)
        for key in [*(self._key(t) for t in manifest.tile_ids), self._key(cid)]:
            self._discard(key, first_sample)

    def _replace_entry(self, pos: int, sample: EncodedSample | TiledSample) -> None:
        """Replace a sample that has an index entry to itself (a tiled one), or make it one."""
        index = self.index
        if index.entries["end"][pos] - index.start_of(pos) != 1:
            raise SampleShapeError(
                "Replacing a sample that shares a chunk by one larger than the tensor's max_chunk_size is not "
                "supported; create the tensor with a larger max_chunk_size."
            )
        cid = index.chunk_id(pos)
        if self._is_tiled(pos):
            self._forget_tiled(cid, index.start_of(pos))
        else:
            self._discard(self._key(cid), index.start_of(pos))
            self._forget(cid)
            if cid == self._tail_id:
                self._drop_tail()
        if isinstance(sample, TiledSample):
            index.set_id(pos, self._write_tiles(sample))
            index.entries["flags"][pos] = TILED
        else:
            index.set_id(pos, self._write_single(sample[0], sample[1]))
            index.entries["flags"][pos] = 0
        self._dirty = True

    def pop(self, position: int) -> None:
        """Remove the sample at global index ``position``; later samples move down by one."""
        pos = int(self.index.locate(np.asarray([position]))[0])
        if self._is_tiled(pos):
            self._forget_tiled(self.index.chunk_id(pos), self.index.start_of(pos))
            self.index.drop_sample(pos)
            self._dirty = True
        else:
            self._rewrite_chunk(position, None)
        self.meta.length -= 1
        if position < self.meta.sealed:
            self.meta.sealed -= 1

    def _rewrite_chunk(self, position: int, replacement: EncodedSample | None) -> None:
        index = self.index
        pos = int(index.locate(np.asarray([position]))[0])
        cid = index.chunk_id(pos)
        header, body = self._whole_chunk(cid)
        local = position - index.start_of(pos)
        count = index.num_samples - index.start_of(pos) if pos == len(index) - 1 else None
        n = header.num_samples if count is None else min(count, header.num_samples)
        builder = ChunkBuilder(header.ndim if self.meta.ndim is None else self.meta.ndim)
        builder.add_range(header, body, 0, min(local, n))
        if replacement is not None and local < n:
            builder.add(replacement[0], replacement[1])
        builder.add_range(header, body, local + 1, n)
        new_id = secrets.randbits(64)
        was_tail = cid == self._tail_id
        self._discard(self._key(cid), index.start_of(pos))
        self._forget(cid)
        if replacement is None:
            index.drop_sample(pos)
            if builder.num_samples == 0:
                if was_tail:
                    self._drop_tail()
                self._dirty = True
                return
        index.set_id(pos, new_id)
        if was_tail:
            self._tail, self._tail_id, self._tail_dirty, self._tail_bytes = builder, new_id, True, None
        else:
            self._put(self._key(new_id), builder)
        self._dirty = True

    # ---------------------------------------------------------------- reading
    def _tail_view(self) -> tuple[ChunkHeader, memoryview]:
        if self._tail_bytes is None:
            assert self._tail is not None
            data = self._tail.tobytes()
            header = parse_header(data)
            self._tail_bytes = (header, memoryview(data)[header.header_nbytes :])
        return self._tail_bytes

    def _whole_chunk(self, cid: int) -> tuple[ChunkHeader, memoryview]:
        """Header and decompressed body of a chunk, fetched whole."""
        if cid == self._tail_id and self._tail is not None:
            return self._tail_view()
        cached = self._chunks.get(cid)
        if cached is not None:
            return cached
        return self._decode_chunk(cid, self._get(self._key(cid)))

    def _decode_chunk(self, cid: int, data: bytes) -> tuple[ChunkHeader, memoryview]:
        header, raw = read_chunk(data, self._key(cid))
        self._chunks.put(cid, header, raw)
        return header, raw

    def _get(self, key: str) -> bytes:
        try:
            return self.storage.get(key)
        except KeyNotFoundError:
            raise self._missing(key) from None

    def _missing(self, key: str) -> CorruptChunkError:
        return CorruptChunkError(f"Chunk {key!r} named by the chunk index is missing from {self.storage.url}.")

    def _header(self, cid: int) -> tuple[ChunkHeader, bytes]:
        """A chunk's header, and the body bytes that came with the probe, without fetching the chunk."""
        if cid == self._tail_id and self._tail is not None:
            header, body = self._tail_view()
            return header, bytes(body)
        cached = self._headers.get(cid)
        if cached is not None:
            self._headers.move_to_end(cid)
            return cached
        key = self._key(cid)
        data = self.storage.get_range(key, 0, HEADER_PROBE)
        size = header_size(data, key)
        if size > len(data):
            data = self.storage.get_range(key, 0, size + HEADER_PROBE)
        header = parse_header(data, key)
        item = (header, data[header.header_nbytes :])
        self._headers[cid] = item
        if len(self._headers) > _HEADER_CACHE:
            self._headers.popitem(last=False)
        return item

    def read(self, positions: Sequence[int] | np.ndarray) -> list[StoredSample]:
        """Encoded samples at global indices ``positions``, in that order."""
        positions = np.asarray(positions, dtype=np.int64)
        if positions.size == 0:
            return []
        index = self.index
        if positions.size == 1:  # random access: skip the grouping machinery
            position = int(positions[0])
            pos = int(index.locate(positions)[0])
            cid = index.chunk_id(pos)
            if self._is_tiled(pos):
                manifest = self._manifest(cid)
                return [(manifest, manifest.shape)]
            local = position - index.start_of(pos)
            if cid == self._tail_id or cid in self._chunks:
                header, body = self._whole_chunk(cid)
                start, end = header.byte_span(local)
                return [(body[start:end], header.shape(local))]
            return [self._read_one(cid, local)]
        entry = index.locate(positions)
        out: list[StoredSample | None] = [None] * len(positions)
        order = np.argsort(entry, kind="stable")
        bounds = np.flatnonzero(np.diff(entry[order])) + 1
        groups = np.split(order, bounds)
        wanted_whole = []
        lz4 = self.meta.chunk_compression == "lz4"
        for group in groups:
            pos = int(entry[group[0]])
            if (len(group) > 1 or lz4) and not self._is_tiled(pos):
                wanted_whole.append(index.chunk_id(pos))
        self._prefetch(wanted_whole)
        for group in groups:
            pos = int(entry[group[0]])
            cid = index.chunk_id(pos)
            start = index.start_of(pos)
            if self._is_tiled(pos):
                manifest = self._manifest(cid)
                for g in group:
                    out[g] = (manifest, manifest.shape)
            elif cid in self._chunks or cid == self._tail_id or len(group) > 1:
                header, body = self._whole_chunk(cid)
                for g in group:
                    local = int(positions[g]) - start
                    s, e = header.byte_span(local)
                    out[g] = (body[s:e], header.shape(local))
            else:
                g = int(group[0])
                local = int(positions[g]) - start
                out[g] = self._read_one(cid, local)
        return out  # type: ignore[return-value]

    def _forget(self, cid: int) -> None:
        """Drop what the caches hold of chunk ``cid`` (rewritten or deleted)."""
        self._chunks.drop(cid)
        self._headers.pop(cid, None)
        self._maps.pop(cid, None)

    def _mapped(self, cid: int) -> tuple[ChunkHeader, memoryview]:
        """Header and body of an uncompressed chunk as views of its memory-mapped object."""
        item = self._maps.get(cid)
        if item is not None:
            self._maps.move_to_end(cid)
            return item
        key = self._key(cid)
        try:
            data = memoryview(self.storage.get_mapped(key))
        except KeyNotFoundError:
            raise self._missing(key) from None
        header = parse_header(data, key)
        item = self._maps[cid] = (header, data[header.header_nbytes :])
        if len(self._maps) > _MAP_CACHE:
            self._maps.popitem(last=False)
        return item

    def _read_one(self, cid: int, local: int) -> EncodedSample:
        if self._mapping:
            header, body = self._mapped(cid)
            s, e = header.byte_span(local)
            return body[s:e], header.shape(local)
        header, probe_body = self._header(cid)
        if header.lz4:
            header, body = self._whole_chunk(cid)
            s, e = header.byte_span(local)
            return body[s:e], header.shape(local)
        s, e = header.byte_span(local)
        if e <= len(probe_body):
            return probe_body[s:e], header.shape(local)
        data = self.storage.get_range(self._key(cid), header.header_nbytes + s, header.header_nbytes + e)
        return data, header.shape(local)

    def read_regions(
        self, positions: Sequence[int] | np.ndarray, subscript: tuple[object, ...]
    ) -> list[np.ndarray | None]:
        """``sample[subscript]`` of raw samples at global indices ``positions``, each read from only the byte ranges
        it covers (:mod:`hub.core.regions`), all requests at once.

        None for a sample read better otherwise: tiled (tiles have their own region reads), compressed, in a chunk
        held in memory or memory-mapped, wanted with other samples of its chunk (the chunk is then read whole), or
        within the bytes that came with its chunk's header.
        """
        positions = np.asarray(positions, dtype=np.int64)
        out: list[np.ndarray | None] = [None] * len(positions)
        if self.meta.sample_compression is not None or self.meta.chunk_compression is not None or not len(positions):
            return out
        if self._mapping:  # a mapped chunk is sliced in memory: only the pages the part touches are read
            return out
        dtype = np.dtype(self.meta.dtype or "uint8")
        index = self.index
        entry = index.locate(positions)
        unique, first, counts = np.unique(entry, return_index=True, return_counts=True)
        plans: list[tuple[int, Region, np.ndarray]] = []
        reads: list[tuple[str, int, memoryview]] = []
        for pos, i in zip(unique[counts == 1].tolist(), first[counts == 1].tolist(), strict=True):
            cid = index.chunk_id(pos)
            if self._is_tiled(pos) or cid == self._tail_id or cid in self._chunks:
                continue
            header, probe = self._header(cid)
            local = int(positions[i]) - index.start_of(pos)
            start, end = header.byte_span(local)
            region = plan_region(header.shape(local), subscript, dtype.itemsize)
            if header.lz4 or end <= len(probe) or region is None:
                continue
            if not region.ranges:
                out[i] = region.assemble(np.empty(0, np.uint8), dtype)
                continue
            first_byte = region.ranges[0][0]
            buffer = np.empty(region.ranges[-1][1] - first_byte, dtype=np.uint8)
            key, base = self._key(cid), header.header_nbytes + start
            for s, e in region.ranges:
                reads.append((key, base + s, buffer[s - first_byte : e - first_byte].data))
            plans.append((i, region, buffer))
        got = self.storage.get_ranges_into(reads)
        for (key, _, view), n in zip(reads, got, strict=True):
            if n != len(view):
                raise CorruptChunkError(f"Chunk {key!r} is truncated: it ends {len(view) - n} bytes early.")
        for i, region, buffer in plans:
            out[i] = region.assemble(buffer, dtype)
        return out

    def _prefetch(self, cids: list[int]) -> None:
        missing = [c for c in dict.fromkeys(cids) if c != self._tail_id and self._chunks.get(c) is None]
        if len(missing) > 1:
            keys = {self._key(c): c for c in missing}
            for key, data in self.storage.get_many(keys).items():
                self._decode_chunk(keys[key], data)

    def read_range(self, start: int, stop: int, dtype: np.dtype) -> np.ndarray | None:
        """Samples [start, stop) as one array if they share a shape and are stored raw; else None.

        Reads only the byte ranges it needs and runs no Python loop per sample.
        """
        if self.meta.sample_compression is not None or stop <= start:
            return None
        index = self.index
        first, last = (int(p) for p in index.locate(np.asarray([start, stop - 1])))
        if (index.entries["flags"][first : last + 1] & TILED).any():
            return None
        pieces: list[tuple[int, int, int, int]] = []  # (cid, local start, local stop, out offset)
        for pos in range(first, last + 1):
            cstart = index.start_of(pos)
            lo, hi = max(start, cstart) - cstart, min(stop, int(index.entries["end"][pos])) - cstart
            pieces.append((index.chunk_id(pos), lo, hi, max(start, cstart) - start))
        lz4 = self.meta.chunk_compression == "lz4"
        if lz4:
            self._prefetch([p[0] for p in pieces] if len(pieces) > 1 else [])
        out: np.ndarray | None = None
        shape: tuple[int, ...] | None = None
        # Stored bytes that are not in memory are read by the storage straight into ``out``, all at once.
        reads: list[tuple[str, int, memoryview]] = []
        for cid, lo, hi, offset in pieces:
            whole = lz4 or cid == self._tail_id or cid in self._chunks
            header, body = self._whole_chunk(cid) if whole else (self._header(cid)[0], memoryview(b""))
            span = header.uniform_span(lo, hi)
            if span is None:
                return None
            s, e, sample_shape = span
            if shape is None:
                shape = sample_shape
                out = np.empty((stop - start, *shape), dtype=dtype)
            elif sample_shape != shape:
                return None
            assert out is not None
            target = out[offset : offset + hi - lo]
            if e - s != target.nbytes:
                return None  # the stored samples are not of this dtype's size: let the general path explain
            if whole:
                target[...] = np.frombuffer(body[s:e], dtype=dtype).reshape(target.shape)
            else:
                key = self._key(cid)
                reads.append((key, header.header_nbytes + s, target.reshape(-1).view(np.uint8).data))
        got = self.storage.get_ranges_into(reads)
        for (key, _, buffer), n in zip(reads, got, strict=True):
            if n != len(buffer):
                raise CorruptChunkError(f"Chunk {key!r} is truncated: it ends {len(buffer) - n} bytes early.")
        return out

    def shapes(self, positions: np.ndarray) -> np.ndarray:
        """Shapes of the samples at ``positions`` as an int64 array (n, ndim), from chunk headers only."""
        ndim = self.meta.ndim or 0
        out = np.zeros((len(positions), ndim), dtype=np.int64)
        if len(positions) == 0:
            return out
        index = self.index
        entry = index.locate(positions)
        for pos in np.unique(entry):
            mask = entry == pos
            if self._is_tiled(int(pos)):
                out[mask] = self._manifest(index.chunk_id(int(pos))).shape
                continue
            header, _ = self._header(index.chunk_id(int(pos)))
            all_shapes = header.shapes()
            out[mask] = all_shapes[positions[mask] - index.start_of(int(pos))]
        return out
