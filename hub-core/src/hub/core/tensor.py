"""``Tensor``: one column of a dataset, or a lazy view of some of its samples."""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from hub.core import changes
from hub.core.decoding import ArrayDecoder, SampleDecoder, decoder_for
from hub.core.htypes import OBJECT_HTYPES, get_htype
from hub.core.info import Info
from hub.core.meta import TensorMeta
from hub.core.polygons import is_ragged_polygon
from hub.core.samples import SampleEncoder
from hub.core.selection import Selection, pop_position
from hub.core.tiles import TileManifest
from hub.errors import DatasetIndexError, DynamicShapeError, LengthMismatchError, LinkedSampleError

if TYPE_CHECKING:
    from hub.core.dataset import _State

__all__ = ["Tensor"]


class Tensor:
    """A tensor of a dataset. Indexing returns a lazy view; data is read by ``numpy()`` and friends."""

    def __init__(
        self,
        state: _State,
        key: str,
        selection: Selection | None = None,
        subscript: tuple[Any, ...] = (),
    ) -> None:
        self._state = state
        self.key = key
        self._selection = selection
        self._subscript = subscript

    # ----------------------------------------------------------------- meta
    @property
    def meta(self) -> TensorMeta:
        return self._state.meta.tensors[self.key]

    @property
    def _engine(self) -> Any:
        return self._state.engine(self.key)

    @property
    def htype(self) -> str:
        return self.meta.htype

    @property
    def base_htype(self) -> str:
        return self.meta.htype.split(".")[0]

    @property
    def dtype(self) -> np.dtype | None:
        dtype = self.meta.dtype
        if dtype is None or self.meta.htype in OBJECT_HTYPES:
            return None
        return np.dtype(dtype)

    @property
    def sample_compression(self) -> str | None:
        return self.meta.sample_compression

    @property
    def chunk_compression(self) -> str | None:
        return self.meta.chunk_compression

    @property
    def info(self) -> Info:
        def changed() -> None:
            changes.record_info(self.meta)
            self._state.info_changed()

        return Info(self.meta.info, changed, self._state.check_writable)

    @property
    def num_samples(self) -> int:
        return self.meta.length

    def _sel(self) -> Selection:
        return self._selection if self._selection is not None else Selection.all(self.meta.length)

    def _is_sequence(self) -> bool:
        return get_htype(self.meta.htype).wrapper == "sequence"

    def _is_polygon(self) -> bool:
        return is_ragged_polygon(self.meta.htype, self.meta.layout)

    def _is_list(self) -> bool:
        """Whether a sample is a list (of sequence items, of polygons) that ``t[i][j]`` indexes into."""
        return self._is_sequence() or self._is_polygon()

    def __len__(self) -> int:
        if self._selection is not None and self._selection.scalar:
            if self._is_list() and not self._subscript:
                return int(self.shape[0] or 0)  # a sequence's items, a polygon sample's polygons
            raise TypeError("A single sample has no len(); use .shape.")
        return len(self._sel())

    @property
    def ndim(self) -> int:
        ndim = self.meta.ndim or 0
        return ndim if self._selection is not None and self._selection.scalar else ndim + 1

    @property
    def shape(self) -> tuple[int | None, ...]:
        """The view's shape; ``None`` for a dimension whose size differs between samples."""
        sel = self._sel()
        if sel.scalar:
            shape = tuple(int(d) for d in self._engine.shapes(sel.array())[0])
            return self._subscripted(shape) if self._subscript else shape
        lo, hi = self.meta.min_shape, self.meta.max_shape
        if lo is None or hi is None:
            return (len(sel),)
        return (len(sel), *(a if a == b else None for a, b in zip(lo, hi, strict=True)))

    def _subscripted(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        """The shape of ``sample[subscript]``: from the recorded shape, or for one item of a sequence from the
        item shapes its record lists (items may differ); nothing is decoded."""
        subscript = self._subscript
        if self._is_polygon():
            value = self._values(self._sel().array(), subscript)[0]
            if isinstance(value, np.ndarray):
                return tuple(int(d) for d in value.shape)
            if not value:
                return (0, 0, *shape[2:])
            return (len(value), *(int(d) for d in np.max([p.shape for p in value], axis=0)))
        if self._is_sequence() and isinstance(subscript[0], (int, np.integer)):
            from hub.core.sequences import unpack_sequence

            data, _ = self._engine.read(self._sel().array())[0]
            items = unpack_sequence(data)
            if not -len(items) <= int(subscript[0]) < len(items):
                raise DatasetIndexError(f"Item {int(subscript[0])} is out of range for a sequence of {len(items)}.")
            shape, subscript = items[int(subscript[0])][1], subscript[1:]
        # Indexing a zero-strided view gives numpy's result shape without touching memory.
        view = np.broadcast_to(np.zeros((), np.uint8), shape)
        return tuple(int(d) for d in view[subscript].shape)

    def shapes(self) -> np.ndarray:
        """Every selected sample's shape, an int array (n, ndim), read from chunk headers only."""
        sel = self._sel()
        shapes: np.ndarray = self._engine.shapes(sel.array())
        return shapes[0] if sel.scalar else shapes

    def __repr__(self) -> str:
        return f"Tensor(key={self.key!r}, htype={self.htype!r}, shape={self.shape if self.meta.length else ()})"

    def summary(self) -> str:
        """Print (and return) this tensor's (or view's) htype, shape, dtype and compression, as ``ds.summary()``
        does for each tensor."""
        from hub.core.summary import TENSOR_COLUMNS, table, tensor_row

        view = f", index={self._selection!r}" if self._selection is not None else ""
        text = "\n".join([f"Tensor(key={self.key!r}{view})", *table([TENSOR_COLUMNS, tensor_row(self)])])
        print(text)
        return text

    # ------------------------------------------------------------- indexing
    def __getitem__(self, item: Any) -> Tensor:
        sel = self._selection
        if sel is not None and sel.scalar and not self._subscript and self._is_list():
            # ds.seq[i][j], ds.polygons[i][j]: items of one sample, picked when it is decoded.
            return Tensor(self._state, self.key, sel, item if isinstance(item, tuple) else (item,))
        if self._subscript:
            raise DatasetIndexError("Index a tensor view within its samples once, with a tuple: t[i, rows, cols].")
        if isinstance(item, tuple):
            first, rest = (item[0] if item else slice(None)), tuple(item[1:])
        else:
            first, rest = item, ()
        return Tensor(self._state, self.key, self._sel()[first], rest)

    def __iter__(self) -> Iterator[Tensor]:
        for i in range(len(self)):
            yield self[i]

    # ---------------------------------------------------------------- reads
    def _positions(self) -> np.ndarray:
        return self._sel().array()

    def _decoder(self) -> SampleDecoder:
        return decoder_for(self.meta, self._state.links)

    def _each(self, positions: np.ndarray, what: Callable[[bytes | memoryview, tuple[int, ...]], Any]) -> list[Any]:
        """``what(stored bytes, shape)`` of each sample; a failing link's error names its index."""
        out = []
        for position, (data, shape) in zip(positions, self._engine.read(positions), strict=True):
            if isinstance(data, TileManifest):
                raise DatasetIndexError(
                    f"Sample {int(position)} of tensor {self.key!r} is stored as tiles, so it has no single stored "
                    "file; use .numpy()."
                )
            try:
                out.append(what(data, shape))
            except LinkedSampleError as e:
                raise LinkedSampleError(f"Tensor {self.key!r}, sample {int(position)}: {e}") from e
        return out

    def _values(self, positions: np.ndarray, subscript: tuple[Any, ...] = ()) -> list[Any]:
        """Decoded samples (``[subscript]`` of each); a tiled sample fetches only the tiles it needs, and a codec
        that can decodes only the part the subscript picks (video frames, audio samples)."""
        engine = self._engine
        decoder = self._decoder()

        def decode_tile(data: bytes | memoryview, shape: tuple[int, ...]) -> Any:
            return decoder.decode(data, shape)

        # A part of a raw sample is read from only the byte ranges it covers; the rest are read whole.
        values: list[Any] = (
            engine.read_regions(positions, subscript)
            if subscript and type(decoder) is ArrayDecoder
            else [None] * len(positions)
        )
        rest = [i for i, v in enumerate(values) if v is None]
        for i, (data, shape) in zip(rest, engine.read(positions[rest]), strict=True):
            if isinstance(data, TileManifest):
                values[i] = engine.read_tiled(data, subscript, decode_tile)
                continue
            try:
                values[i] = decoder.decode(data, shape, subscript)
            except LinkedSampleError as e:
                raise LinkedSampleError(f"Tensor {self.key!r}, sample {int(positions[i])}: {e}") from e
        return values

    def numpy(self, aslist: bool = False, fetch_chunks: bool = False) -> Any:
        """The selected samples as one array (or a list of arrays with ``aslist=True``; for sequences, a list of
        lists of items). A polygon sample is a list of (points, dims) arrays, so several give a list of lists.
        Arrays are the caller's own: writable, sharing no memory with the dataset's caches. ``fetch_chunks`` is Hub
        2.x's hint to fetch whole chunks instead of byte ranges; hub decides that itself, so it changes nothing."""
        sel = self._sel()
        meta = self.meta
        if meta.htype in OBJECT_HTYPES:
            values = self._values(sel.array())
            if sel.scalar:
                return np.array(values, dtype=object if meta.htype != "text" else None)
            if aslist:
                return [np.array([v], dtype=object if meta.htype != "text" else None) for v in values]
            return np.array([[v] for v in values], dtype=object if meta.htype != "text" else None)
        span = sel.contiguous()
        plain = get_htype(meta.htype).wrapper is None and not self._is_polygon()
        if span is not None and not self._subscript and not aslist and meta.dtype is not None and plain:
            batch = self._engine.read_range(span[0], span[1], np.dtype(meta.dtype))
            if batch is not None:
                return batch[0] if sel.scalar else batch
        values = self._values(sel.array(), self._subscript)
        one_item = bool(self._subscript) and isinstance(self._subscript[0], (int, np.integer))
        if aslist and self._is_sequence() and not one_item:
            values = [list(v) for v in values]  # ragged all the way: a list of items per sequence
        if sel.scalar:
            return _owned(values[0])
        if aslist or (self._is_polygon() and (not values or any(isinstance(v, list) for v in values))):
            # polygon samples are lists of arrays, as in Hub 2.x, with or without aslist
            return [_owned(v) for v in values]
        return _stack(values, self.key, meta)

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        arr: np.ndarray = np.asarray(self.numpy())
        return arr if dtype is None else arr.astype(dtype)

    def _one(self, what: str) -> np.ndarray:
        sel = self._sel()
        if not sel.scalar:
            raise DatasetIndexError(f"{what} is of one sample; index it first: tensor[i].{what}.")
        return sel.array()

    def tobytes(self) -> bytes:
        """The file of one sample: for an image or video, the encoded file as stored; for a link, the linked file;
        for a sequence item (``ds.seq[i][j]``), that item's file."""
        decoder, sub = self._decoder(), self._subscript
        out: bytes = self._each(self._one("tobytes()"), lambda d, s: decoder.file_bytes(d, s, sub))[0]
        return out

    @property
    def sample_info(self) -> Any:
        """What each selected sample's file says about itself: format and shape, plus for images size, mode and
        EXIF; for audio sample rate, channels and duration; for video fps, duration, codec and timebase; for a link
        its URL. A dict for one sample, a list of them for a view (a list per sequence)."""
        sel = self._sel()
        decoder, sub = self._decoder(), self._subscript
        infos = self._each(sel.array(), lambda d, s: decoder.sample_info(d, s, sub))
        return infos[0] if sel.scalar else infos

    @property
    def timestamps(self) -> Any:
        """Presentation time in seconds of each frame of a video sample (of the frames ``[i, frames]`` picks),
        read from the container without decoding."""
        decoder, sub = self._decoder(), self._subscript
        stamps: Any = self._each(self._one("timestamps"), lambda d, s: decoder.timestamps(d, s, sub))[0]
        return stamps

    def play(self) -> Any:
        """A player for one audio or video sample in a notebook (an ``IPython.display`` object)."""
        from hub.compression import get_codec, sniff_compression

        data = self.tobytes()
        name = self.meta.sample_compression or sniff_compression(data)
        kind = get_codec(name).kind if name is not None else None
        if kind not in ("audio", "video"):
            raise DatasetIndexError(f"play() shows audio and video samples; tensor {self.key!r} holds {self.htype}.")
        try:
            from IPython.display import Audio, Video
        except ImportError as e:
            from hub.errors import MissingDependencyError

            raise MissingDependencyError(
                "play() shows media in a notebook through IPython, which is not installed: pip install ipython"
            ) from e
        if kind == "audio":
            return Audio(data=data)
        return Video(data=data, embed=True, mimetype=_MIMETYPES.get(str(name), "video/mp4"))

    def text(self) -> Any:
        values = self._values(self._positions())
        return values[0] if self._sel().scalar else values

    def dict(self) -> Any:
        return self.text()

    def list(self) -> Any:
        return self.text()

    def data(self, aslist: bool = False) -> builtins.dict[str, Any]:
        """The selected samples with what their htype adds, as Hub 2.x's ``data()``: ``{"value": ...}`` (the
        ``numpy(aslist)`` values; for text/json/list ``text()``), class labels with their names under ``"text"``,
        images with ``"sample_info"``; a ``video`` tensor gives ``{"frames", "timestamps", "sample_info"}``."""
        htype = self.meta.htype
        if htype in OBJECT_HTYPES:
            return {"value": self.text()}
        if htype == "video":
            return {
                "frames": self.numpy(aslist=aslist),
                "timestamps": self._timestamps(aslist),
                "sample_info": self.sample_info,
            }
        value = self.numpy(aslist=aslist)
        out: builtins.dict[str, Any] = {"value": value}
        if htype == "class_label":
            names = self.meta.info.get("class_names") or []
            if names:
                out["text"] = _label_names(value, names)
        elif htype in ("image", "image.rgb", "image.gray"):
            out["sample_info"] = self.sample_info or {}
        return out

    def _timestamps(self, aslist: bool) -> Any:
        """Each selected video sample's frame times: one array for one sample, a list of them for a view."""
        decoder, sub = self._decoder(), self._subscript
        sel = self._sel()
        stamps = self._each(sel.array(), lambda d, s: decoder.timestamps(d, s, sub))
        if aslist:
            stamps = [np.asarray(t).tolist() for t in stamps]
        return stamps[0] if sel.scalar else stamps

    def modified_samples(self, target_id: str | None = None, return_indexes: bool = False) -> Any:
        """The samples of this tensor appended or updated since version ``target_id`` (a commit, tag or branch the
        current version descends from; default: the parent commit), as a view; with ``return_indexes=True`` also
        their indices. Read from the change records of the versions in between (Hub 2.x's API)."""
        from hub.core import versioning

        indexes = versioning.modified_indexes(self._state, self.key, target_id)
        view = Tensor(self._state, self.key)[indexes]
        return (view, indexes) if return_indexes else view

    # --------------------------------------------------------------- writes
    def _check_whole(self, what: str) -> None:
        if self._selection is not None:
            raise DatasetIndexError(f"{what} works on a whole tensor, not a view: use ds.{self.key}.{what}(...).")

    def pop(self, index: int | None = None) -> None:
        """Remove the sample at ``index`` (default: the last) from this tensor alone (``ds.pop`` removes it from
        every tensor)."""
        self._check_whole("pop")
        position = pop_position(index, self.meta.length, f"tensor {self.key!r}")
        with self._state.write([self.key]):
            self._state.pop_sample(self.key, position)

    def clear(self) -> None:
        """Remove every sample of this tensor; the tensor, its htype and its info stay."""
        self._check_whole("clear")
        with self._state.write([self.key]):
            self._state.clear_tensor(self.key)

    def append(self, sample: Any) -> None:
        """Add one sample at the end."""
        self._check_whole("append")
        self.extend([sample])

    def extend(self, samples: Sequence[Any] | np.ndarray, progressbar: bool = False) -> None:
        """Add many samples at the end; a numpy batch of raw samples is stored in one pass.

        ``progressbar=True`` (Hub 2.x's) shows a tqdm bar over the samples; all of them or none are added either way.
        """
        self._check_whole("extend")
        with self._state.write([self.key]):
            if not progressbar:
                self._state.extend_tensor(self.key, samples)
                return
            from tqdm import tqdm

            with tqdm(total=len(samples), desc=f"extend {self.key}", unit="sample") as bar:
                for start in range(0, len(samples), _PROGRESS_STEP):
                    part = samples[start : start + _PROGRESS_STEP]
                    self._state.extend_tensor(self.key, part)
                    bar.update(len(part))

    def __setitem__(self, item: Any, value: Any) -> None:
        view = self[item]
        if view._subscript:
            raise DatasetIndexError("Assign whole samples: tensor[i] = value (not a region of one sample).")
        sel = view._sel()
        positions = sel.array()
        values = [value] if sel.scalar else value
        if not sel.scalar and len(values) != len(positions):
            raise LengthMismatchError(f"{len(positions)} samples selected but {len(values)} values given.")
        with self._state.write([self.key]):
            encoder = SampleEncoder(self.key, self.meta, self._state.links)
            encoded = [encoder.encode(v, int(p)) for v, p in zip(values, positions, strict=True)]
            engine = self._engine
            for p, sample in zip(positions, encoded, strict=True):
                engine.update(int(p), sample)
                changes.record_update(engine.meta, int(p))


#: Samples stored per step of ``extend(..., progressbar=True)``.
_PROGRESS_STEP = 256

#: MIME types of the video containers a notebook player is told about.
_MIMETYPES = {"mp4": "video/mp4", "webm": "video/webm", "mkv": "video/x-matroska", "avi": "video/x-msvideo"}


def _stack(values: list[Any], key: str, meta: TensorMeta) -> np.ndarray:
    if not values:
        fixed = meta.min_shape if meta.min_shape == meta.max_shape and meta.min_shape is not None else []
        return np.zeros((0, *fixed), dtype=meta.dtype or "float64")
    if any(not isinstance(v, np.ndarray) for v in values):
        raise DynamicShapeError(
            f"Samples of tensor {key!r} in this selection are lists of items of different shapes; "
            "use .numpy(aslist=True)."
        )
    first = values[0].shape
    if any(v.shape != first for v in values):
        raise DynamicShapeError(
            f"Samples of tensor {key!r} in this selection have different shapes, so they can't form one array; "
            "use .numpy(aslist=True) for a list of arrays."
        )
    out = np.empty((len(values), *first), dtype=values[0].dtype)
    for i, v in enumerate(values):
        out[i] = v
    return out


def _owned(value: Any) -> Any:
    """``value``, copied if it is an array that views stored bytes (read-only: a chunk, or a mapped file); the
    arrays of a list (a sequence's items, a sample's polygons) likewise."""
    if isinstance(value, np.ndarray) and not value.flags.writeable:
        return value.copy()
    if isinstance(value, list):
        return [_owned(v) for v in value]
    return value


def _label_names(value: Any, names: builtins.list[str]) -> Any:
    """The class names of labels ``value`` (an array or list of them), nested as it is (Hub 2.x's ``convert_to_text``);
    None for an id without a name."""
    if isinstance(value, (np.integer, int)):
        return names[int(value)] if int(value) < len(names) else None
    return [_label_names(v, names) for v in value]
