"""Turns values a user appends into encoded samples (bytes, shape), and encoded samples back into values.

Also :class:`FileSample`, what ``hub.read(path)`` returns: a file read lazily, whose bytes
are stored verbatim when its compression matches the tensor's.
"""

from __future__ import annotations

import json
import os
import posixpath
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from hub.core.htypes import OBJECT_HTYPES, get_htype
from hub.core.links import LinkedSample, LinkResolver, link_record
from hub.core.meta import TensorMeta
from hub.core.polygons import is_ragged_polygon, pack_polygons, polygons_shape
from hub.core.sequences import pack_sequence, sequence_shape
from hub.core.tiles import TiledSample, choose_tile_shape, cut_tiles
from hub.errors import (
    HubError,
    LinkedSampleError,
    SampleCompressionError,
    SampleDtypeError,
    SampleShapeError,
    TensorMetaError,
    UnknownCompressionError,
)

if TYPE_CHECKING:
    from hub.storage import Storage

__all__ = ["FileSample", "read", "SampleEncoder", "decode_sample", "codec_for", "empty_sample"]

#: Tensor info keys that configure a media codec for encoding arrays, and the codec option each sets.
_CODEC_OPTIONS = {"fps": "fps", "encoder": "encoder", "encoder_options": "options", "sample_rate": "sample_rate"}
#: Codec kinds whose samples are whole media files: never cut into tiles, whatever their size.
_WHOLE_FILE_KINDS = ("audio", "video")


def codec_for(meta: TensorMeta) -> Any:
    """The codec of a tensor's sample compression, configured by its info (a video's fps, an audio's rate)."""
    from hub.compression import get_codec

    if meta.sample_compression is None:
        return None
    codec = get_codec(meta.sample_compression)
    options = {opt: meta.info[key] for key, opt in _CODEC_OPTIONS.items() if meta.info.get(key) is not None}
    if codec.kind not in _WHOLE_FILE_KINDS or not options:
        return codec
    try:
        return type(codec)(**options)
    except (TypeError, ValueError) as e:
        raise TensorMetaError(
            f"The tensor's codec options {options} don't fit {codec.name}: {e}. Fix them in the tensor's info."
        ) from None


class FileSample:
    """A sample backed by a file (``hub.read(path)``), read and decoded only when needed.

    The file is a local path, an object of a storage (``s3://``, ``gcs://``/``gcp://``, ``mem://`` URLs, read with
    ``creds``; or a key or URL under ``storage``, a :class:`~hub.storage.Storage`), or an ``http(s)://`` URL.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        verify: bool = False,
        compression: str | None = None,
        creds: Any = None,
        storage: Storage | None = None,
    ) -> None:
        from hub.compression import get_codec, sniff_compression

        self.path = os.fspath(path)
        self._buffer: bytes | None = None
        self._array: np.ndarray | None = None
        self._creds = creds
        self._store, self._key = _file_source(self.path, creds, storage)
        if compression is None:
            compression = sniff_compression(self._head())
            if compression is None:
                raise UnknownCompressionError(
                    f"hub.read: can't tell the format of {self.path!r} from its header; "
                    "pass compression=... (for example 'jpeg' or 'png')."
                )
        self.compression = get_codec(compression).name
        if verify:
            from hub.compression import verify as verify_bytes

            verify_bytes(self.buffer, self.compression)

    def _head(self) -> bytes:
        if self._store is not None:
            return self._store.get_range(self._key, 0, 64)
        if _is_http(self.path):
            return self.buffer[:64]
        with open(self.path, "rb") as f:
            return f.read(64)

    @property
    def buffer(self) -> bytes:
        """The file's bytes, as stored."""
        if self._buffer is None:
            if self._store is not None:
                self._buffer = self._store.get(self._key)
            elif _is_http(self.path):
                try:
                    self._buffer = LinkResolver._http(self.path, self._creds)
                except OSError as e:
                    raise SampleFileNotFoundError(f"hub.read: can't fetch {self.path!r}: {e}") from e
            else:
                with open(self.path, "rb") as f:
                    self._buffer = f.read()
        return self._buffer

    @property
    def shape(self) -> tuple[int, ...]:
        """The decoded shape, from the file's header only."""
        from hub.compression import get_codec

        if self._array is not None:
            return tuple(self._array.shape)
        return tuple(get_codec(self.compression).read_shape(self.buffer))

    @property
    def array(self) -> np.ndarray:
        """The decoded pixels (or samples)."""
        from hub.compression import get_codec

        if self._array is None:
            self._array = get_codec(self.compression).decode(self.buffer)
        return self._array

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        return self.array if dtype is None else self.array.astype(dtype)

    def __repr__(self) -> str:
        return f"FileSample({self.path!r}, compression={self.compression!r})"


class SampleFileNotFoundError(HubError, FileNotFoundError):
    """``hub.read`` was given a path that is not a file."""


def read(
    path: str | os.PathLike[str],
    verify: bool = False,
    creds: Any = None,
    compression: str | None = None,
    storage: Storage | None = None,
) -> FileSample:
    """A lazy sample from a file: its compression comes from the file's header (or ``compression``).

    ``path`` is a local path, an ``s3://``, ``gcs://``/``gcp://`` or ``http(s)://`` URL (``creds`` as for
    ``hub.load``; for HTTP ``{"headers": {...}}``), or, with ``storage`` (a :class:`~hub.storage.Storage`, e.g.
    ``hub.storage.storage_from_url("s3://bucket/images")``, to reuse one connection for many files), a key in it or
    a URL under its root. Appending it to a tensor with the same ``sample_compression`` stores the file's bytes
    verbatim; ``verify=True`` decodes it once now to reject corrupt files early.
    """
    return FileSample(path, verify=verify, compression=compression, creds=creds, storage=storage)


def _is_http(path: str) -> bool:
    return path.lower().startswith(("http://", "https://"))


def _file_source(path: str, creds: Any, storage: Storage | None) -> tuple[Storage | None, str]:
    """The storage and key holding ``path`` (no storage: a local file or an HTTP URL)."""
    from hub.storage import storage_from_url

    if storage is None and "://" in path and not _is_http(path) and not path.startswith("file://"):
        directory, name = posixpath.split(path.rstrip("/"))
        if not name or directory.endswith(":/"):
            raise SampleFileNotFoundError(f"hub.read: {path!r} names no object in a bucket.")
        storage = storage_from_url(directory, creds=creds, read_only=True)
        path = name
    if storage is None:
        local = path[len("file://") :] if path.startswith("file://") else path
        if not _is_http(path) and not Path(local).is_file():
            raise SampleFileNotFoundError(f"hub.read: no file at {path!r}.")
        return None, local
    root = storage.url.rstrip("/") + "/"
    if "://" in path:
        if not path.startswith(root):
            raise SampleFileNotFoundError(
                f"hub.read: {path!r} is not under the storage given ({storage.url}); pass a key in it, or a URL "
                "under its root, or leave storage out."
            )
        path = path[len(root) :]
    if not storage.exists(path):
        raise SampleFileNotFoundError(f"hub.read: no object {path!r} in {storage.url}.")
    return storage, path


def _cast(arr: np.ndarray, dtype: np.dtype, where: str, from_python: bool) -> np.ndarray:
    if arr.dtype == dtype:
        return arr
    if np.can_cast(arr.dtype, dtype, "safe"):
        return arr.astype(dtype)
    if arr.dtype.kind == "f" and dtype.kind == "f":
        return arr.astype(dtype)
    if arr.dtype.kind in "biuf" and dtype.kind in "biu":
        with np.errstate(all="ignore"):
            converted = arr.astype(dtype)
        if np.array_equal(converted, arr):
            return converted
    source = "values" if from_python else f"dtype {arr.dtype}"
    raise SampleDtypeError(
        f"{where}: {source} can't be stored as {dtype} without changing them. "
        f"Convert the sample with .astype({str(dtype)!r}) (if that loss is intended) or create the tensor with a "
        f"dtype that holds it."
    )


class SampleEncoder:
    """Validates and encodes samples for one tensor, updating its meta (dtype, ndim, class names)."""

    def __init__(self, name: str, meta: TensorMeta, links: LinkResolver | None = None) -> None:
        self.name = name
        self.meta = meta
        self.spec = get_htype(meta.htype)
        self.links = links if links is not None else LinkResolver()
        self._dims: int | None = None  # point dimensions of a polygon tensor, once a sample has settled them

    def _where(self, index: int | None) -> str:
        return f"tensor {self.name!r}" + (f", sample {index}" if index is not None else "")

    def _check_shape(self, shape: tuple[int, ...], where: str) -> None:
        spec, meta = self.spec, self.meta
        if spec.ndims is not None and len(shape) not in spec.ndims:
            expected = " or ".join(str(n) for n in spec.ndims)
            raise SampleShapeError(
                f"{where}: a {meta.htype} sample has {expected} dimensions, this one has shape {shape}."
            )
        if meta.ndim is not None and len(shape) != meta.ndim:
            raise SampleShapeError(
                f"{where}: samples of this tensor have {meta.ndim} dimensions, this one has shape {shape}."
            )
        if spec.last_dim is not None and shape and shape[-1] != spec.last_dim:
            raise SampleShapeError(
                f"{where}: a {meta.htype} sample's last dimension must be {spec.last_dim}, got shape {shape}."
            )

    def _class_ids(self, value: Any) -> Any:
        names: list[str] = self.meta.info.setdefault("class_names", [])

        def one(label: Any) -> Any:
            if isinstance(label, str):
                if label not in names:
                    names.append(label)
                return names.index(label)
            return label

        if isinstance(value, str):
            return one(value)
        if isinstance(value, (list, tuple)):
            return [one(v) for v in value]
        return value

    def encode(
        self, value: Any, index: int | None = None, where: str | None = None
    ) -> tuple[bytes, tuple[int, ...]] | TiledSample:
        """One sample's stored bytes and shape (or its tiles, if larger than a chunk).

        Raises a HubError naming the tensor and sample (or ``where``, if given) when the value does not fit.
        """
        where = where or self._where(index)
        meta = self.meta
        if meta.htype in OBJECT_HTYPES:
            return self._encode_object(value, where)
        if self.spec.wrapper == "link":
            return self._encode_link(value, where)
        if self.spec.wrapper == "sequence":
            return self._encode_sequence(value, where)
        if is_ragged_polygon(meta.htype, meta.layout):
            return self._encode_polygons(value, where)
        if meta.htype in ("class_label", "segment_mask"):
            value = self._class_ids(value)
        codec = codec_for(meta)
        whole_file = codec is not None and codec.kind in _WHOLE_FILE_KINDS
        if isinstance(value, FileSample):
            if codec is not None and (value.compression == codec.name or value.compression in codec.reads):
                header = codec.read_header(value.buffer)
                shape = tuple(header.shape)
                self._check_shape(shape, where)
                stored = np.dtype(header.dtype)
                if meta.dtype is not None and np.dtype(meta.dtype) != stored:
                    raise SampleDtypeError(
                        f"{where}: {value.path!r} holds {stored} pixels, but the tensor stores {meta.dtype}."
                    )
                self._settle(shape, stored)
                if len(value.buffer) <= meta.max_chunk_size or whole_file:
                    return value.buffer, shape
            value = value.array
        from_python = not isinstance(value, (np.ndarray, np.generic))
        try:
            arr = np.asarray(value)
        except (ValueError, TypeError) as e:
            raise SampleShapeError(f"{where}: can't make an array of {type(value).__name__}: {e}") from None
        if arr.dtype == object or arr.dtype.kind in "USV":
            raise SampleDtypeError(f"{where}: a {meta.htype} tensor holds numbers, got {type(value).__name__}.")
        if meta.htype == "class_label" and arr.ndim == 0:
            arr = arr.reshape(1)
        dtype = np.dtype(meta.dtype) if meta.dtype is not None else arr.dtype
        arr = _cast(arr, dtype, where, from_python)
        shape = tuple(int(d) for d in arr.shape)
        self._check_shape(shape, where)
        self._settle(shape, dtype)
        arr = np.ascontiguousarray(arr)
        if codec is not None or arr.nbytes <= meta.max_chunk_size:
            data = codec.encode(arr) if codec is not None else arr.tobytes()
            if whole_file:
                # A media encoder may pad or resample (an audio encoder's priming samples): record what decodes.
                return data, tuple(codec.read_header(data).shape)
            if len(data) <= meta.max_chunk_size or not arr.ndim:
                return data, shape
        tile_shape = choose_tile_shape(shape, arr.itemsize, meta.max_chunk_size)
        tiles = [codec.encode(t) if codec is not None else t.tobytes() for t in cut_tiles(arr, tile_shape)]
        return TiledSample(shape, tile_shape, tiles)

    def encode_batch(self, batch: np.ndarray) -> tuple[memoryview, tuple[int, ...], int]:
        """A numpy batch of raw samples as one buffer: (bytes, sample shape, count); no per-sample loop."""
        where = self._where(None)
        dtype = np.dtype(self.meta.dtype) if self.meta.dtype is not None else batch.dtype
        batch = _cast(batch, dtype, where, from_python=False)
        shape = tuple(int(d) for d in batch.shape[1:])
        if self.meta.htype == "class_label" and not shape:
            shape = (1,)
        self._check_shape(shape, where)
        self._settle(shape, dtype)
        flat: Any = np.ascontiguousarray(batch).reshape(-1).view(np.uint8)
        return memoryview(flat), shape, len(batch)

    def _encode_link(self, value: Any, where: str) -> tuple[bytes, tuple[int, ...]]:
        """A link's record; the file is fetched once to learn its shape, and to refuse a broken link now."""
        from hub.compression import get_codec, sniff_compression

        if not isinstance(value, LinkedSample):
            raise SampleDtypeError(
                f"{where}: a {self.meta.htype} tensor holds links; append hub.link(path_or_url), "
                f"not {type(value).__name__}."
            )
        try:
            self.links.check_key(value.creds_key)
        except LinkedSampleError as e:
            raise LinkedSampleError(f"{where}: {e}") from e
        if not self.meta.info.get("verify", True):
            # Unread, the file's shape is unknown: record zeros (readers then decode without a shape hint).
            ndim = self.meta.ndim if self.meta.ndim is not None else max(self.spec.ndims or (1,))
            self._settle((0,) * ndim, np.dtype(self.meta.dtype or "uint8"))
            return link_record(value.path, self.links.stored_id(value.creds_key)), (0,) * ndim
        try:
            payload = self.links.fetch(value.path, value.creds_key)
        except LinkedSampleError as e:
            raise LinkedSampleError(f"{where}: {e}") from e
        name = self.meta.sample_compression or sniff_compression(payload)
        if name is None:
            raise UnknownCompressionError(
                f"{where}: can't tell the format of {value.path!r} from its header; create the tensor with "
                "sample_compression=... naming it."
            )
        codec = get_codec(name)
        if codec.kind not in self.spec.kinds:
            raise SampleDtypeError(f"{where}: {value.path!r} is {codec.name} ({codec.kind}), not a {self.spec.inner}.")
        header = codec.read_header(payload)
        shape = tuple(header.shape)
        self._check_shape(shape, where)
        if self.meta.dtype is not None and np.dtype(self.meta.dtype) != header.dtype:
            raise SampleDtypeError(
                f"{where}: {value.path!r} holds {header.dtype} values, but the tensor stores {self.meta.dtype}."
            )
        self._settle(shape, np.dtype(header.dtype))
        return link_record(value.path, self.links.stored_id(value.creds_key)), shape

    def _encode_sequence(self, value: Any, where: str) -> tuple[bytes, tuple[int, ...]]:
        """A sequence's record: each item encoded as the inner htype stores one sample."""
        if isinstance(value, (str, bytes, dict)) or not hasattr(value, "__len__"):
            raise SampleDtypeError(
                f"{where}: a {self.meta.htype} sample is a list of items (or an array whose first axis lists them), "
                f"got {type(value).__name__}."
            )
        meta = self.meta
        item_meta = TensorMeta(
            id=meta.id,
            htype=self.spec.inner or "generic",
            dtype=meta.dtype,
            sample_compression=meta.sample_compression,
            # Items are never tiled: the record holds each item's bytes whole.
            max_chunk_size=2**62,
            ndim=None if meta.ndim is None else meta.ndim - 1,
            info=meta.info,
        )
        items = SampleEncoder(self.name, item_meta, self.links)
        encoded = []
        for j, item in enumerate(value):
            one = items.encode(item, where=f"{where}, item {j}")
            assert not isinstance(one, TiledSample)
            data, shape = one
            encoded.append((data, shape))
            if item_meta.ndim is not None and len(shape) != item_meta.ndim:
                raise SampleShapeError(f"{where}, item {j}: items of this tensor have {item_meta.ndim} dimensions.")
        if item_meta.ndim is None:
            raise SampleShapeError(f"{where}: the first sequence of a tensor needs at least one item.")
        shape = sequence_shape([s for _, s in encoded], item_meta.ndim)
        self._settle(shape, np.dtype(item_meta.dtype or "uint8"))
        return pack_sequence(encoded, item_meta.ndim), shape

    def _polygon_dims(self) -> int | None:
        """The point dimensions the tensor's polygons have (None until a non-empty sample settles them)."""
        if self._dims is None and self.meta.max_shape is not None and self.meta.max_shape[-1] > 0:
            self._dims = int(self.meta.max_shape[-1])
        return self._dims

    def _encode_polygons(self, value: Any, where: str) -> tuple[bytes, tuple[int, ...]]:
        """A polygon sample's record: every polygon's points back to back, after a header of point counts."""
        if isinstance(value, (str, bytes, dict)) or not hasattr(value, "__len__"):
            raise SampleDtypeError(
                f"{where}: a polygon sample is a list of polygons, each an array of (points, dims) coordinates, "
                f"got {type(value).__name__}."
            )
        dtype = np.dtype(self.meta.dtype or "float32")
        if isinstance(value, np.ndarray) and value.ndim == 3 and value.dtype != object:
            polygons = [value]  # polygons of equal point counts in one array: (polygons, points, dims)
            counts = np.full(len(value), value.shape[1], dtype=np.int64)
            from_python = False
        else:
            polygons = [self._polygon(p, where, k) for k, p in enumerate(value)]
            counts = np.asarray([len(p) for p in polygons], dtype=np.int64)
            from_python = not all(isinstance(p, (np.ndarray, np.generic)) for p in value)
        for p in polygons:
            if p.dtype == object or p.dtype.kind not in "biuf":
                raise SampleDtypeError(f"{where}: polygon coordinates are numbers, got {p.dtype} values.")
        dims = {int(p.shape[-1]) for p in polygons if p.ndim >= 2 and p.shape[0] > 0}
        if (counts == 0).any():
            k = int(np.flatnonzero(counts == 0)[0])
            raise SampleShapeError(
                f"{where}: polygon {k} has no points. A polygon needs at least one point; a sample with no "
                "polygons is an empty list []."
            )
        if len(dims) > 1:
            raise SampleShapeError(
                f"{where}: the polygons of a sample have points of one dimensionality; got {sorted(dims)}."
            )
        d = dims.pop() if dims else self._polygon_dims() or 0
        if d == 0 and len(counts):
            raise SampleShapeError(f"{where}: polygon points need at least one coordinate each.")
        known = self._polygon_dims()
        if known is not None and len(counts) and d != known:
            raise SampleShapeError(
                f"{where}: polygons of this tensor have points of {known} coordinates; this sample's have {d}."
            )
        if len(counts):
            self._dims = d
        points = np.concatenate([p.reshape(-1, d) for p in polygons]) if len(counts) else np.zeros((0, d), dtype)
        if points.dtype.kind in "biu" and dtype.kind == "f":  # integer coordinates: fine wherever exact
            exact = points.astype(dtype)
            points = exact if np.array_equal(exact, points) else points
        points = _cast(points, dtype, where, from_python)
        shape = polygons_shape(counts, d)
        self._settle(shape, dtype)
        return pack_polygons(points, counts), shape

    def _polygon(self, value: Any, where: str, k: int) -> np.ndarray:
        """Polygon ``k`` of a sample as a (points, dims) array."""
        try:
            arr = np.asarray(value)
        except (ValueError, TypeError) as e:
            raise SampleShapeError(f"{where}, polygon {k}: can't make an array of it: {e}") from None
        if arr.dtype != object and arr.dtype.kind in "USV":
            raise SampleDtypeError(f"{where}, polygon {k}: polygon coordinates are numbers, got {arr.dtype} values.")
        if arr.ndim != 2 and not (arr.ndim == 1 and arr.size == 0):
            raise SampleShapeError(
                f"{where}, polygon {k}: a polygon is an array of (points, dims) coordinates, got shape {arr.shape}."
            )
        return arr

    def _settle(self, shape: tuple[int, ...], dtype: np.dtype) -> None:
        if self.meta.ndim is None:
            self.meta.ndim = len(shape)
        if self.meta.dtype is None:
            self.meta.dtype = dtype.name

    def _encode_object(self, value: Any, where: str) -> tuple[bytes, tuple[int, ...]]:
        htype = self.meta.htype
        if htype == "text":
            if isinstance(value, np.ndarray) and value.size == 1:
                value = value.reshape(()).item()
            if not isinstance(value, str):
                raise SampleDtypeError(f"{where}: a text sample is a str, got {type(value).__name__}.")
            data = value.encode("utf-8")
        else:
            if htype == "list" and not isinstance(value, (list, tuple)):
                raise SampleDtypeError(f"{where}: a list sample is a list, got {type(value).__name__}.")
            try:
                data = json.dumps(value, separators=(",", ":"), default=_json_default).encode("utf-8")
            except (TypeError, ValueError) as e:
                raise SampleDtypeError(f"{where}: not JSON-serializable: {e}") from None
        self._settle((1,), np.dtype("uint8"))
        return data, (1,)


def empty_sample(name: str, meta: TensorMeta) -> Any:
    """What Hub 2.x's ``append_empty`` appends to tensor ``name``: a sample with nothing in it, stored as any other.

    Text is ``""``, json ``{}``, list ``[]``; a sequence has no items and a polygon sample no polygons; an array has
    size 0 along every dimension but a fixed last one (a bbox sample of no boxes is ``(0, 4)``). A sample stored as
    an image, audio or video file, and a link, have no empty form, so those raise, saying what to do instead.
    """
    where = f"Tensor {name!r}"
    left_out = "or leave it out with skip_ok=True (it then has fewer samples than the others)"
    spec = get_htype(meta.htype)
    if meta.htype in OBJECT_HTYPES:
        return {"text": "", "json": {}, "list": []}[meta.htype]
    if spec.wrapper == "sequence":
        if meta.ndim is None:
            raise SampleShapeError(
                f"{where} has no samples yet, so the shape of the items of an empty sequence is unknown: give it a "
                f"first sequence with items, {left_out}."
            )
        return []
    if is_ragged_polygon(meta.htype, meta.layout):
        return []
    if spec.wrapper == "link":
        raise TensorMetaError(f"{where} holds links, and there is no empty link: give it a hub.link(...), {left_out}.")
    codec = codec_for(meta)
    if codec is not None and codec.kind != "bytes":
        raise SampleCompressionError(
            f"{where} stores each sample as a {codec.name} file, and no {codec.name} file holds nothing, so it has no "
            f"empty sample: give it a value, {left_out}."
        )
    ndim = meta.ndim
    if ndim is None and spec.ndims is not None and len(spec.ndims) == 1:
        ndim = spec.ndims[0]
    if ndim is None:
        raise SampleShapeError(
            f"{where} has no samples yet, so how many dimensions its empty sample has is unknown: give it a first "
            f"value (an empty array such as np.zeros((0, 0)) will do), {left_out}."
        )
    shape = [0] * ndim
    if spec.last_dim is not None and ndim:
        shape[-1] = spec.last_dim
    return np.zeros(shape, dtype=meta.dtype or spec.dtype or "float32")


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    raise TypeError(f"{type(obj).__name__} is not JSON-serializable")


def decode_sample(
    meta: TensorMeta,
    data: bytes | memoryview,
    shape: Sequence[int],
    subscript: tuple[Any, ...] = (),
    links: LinkResolver | None = None,
) -> Any:
    """The value of one stored sample (``[subscript]`` of it): an array, or a Python object for text/json/list.

    A shortcut for ``decoder_for(meta, links).decode(...)``; readers of many samples keep the decoder.
    """
    from hub.core.decoding import decoder_for

    return decoder_for(meta, links).decode(data, tuple(shape), subscript)
