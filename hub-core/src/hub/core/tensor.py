"""``Tensor``: one column of a dataset, or a lazy view of some of its samples."""

from __future__ import annotations

import builtins
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from hub.core import changes
from hub.core.htypes import OBJECT_HTYPES
from hub.core.info import Info
from hub.core.meta import TensorMeta
from hub.core.samples import SampleEncoder, decode_sample
from hub.core.selection import Selection
from hub.core.tiles import TileManifest
from hub.errors import DatasetIndexError, DynamicShapeError, LengthMismatchError

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

    def __len__(self) -> int:
        if self._selection is not None and self._selection.scalar:
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
            return tuple(int(d) for d in self._engine.shapes(sel.array())[0])
        lo, hi = self.meta.min_shape, self.meta.max_shape
        if lo is None or hi is None:
            return (len(sel),)
        return (len(sel), *(a if a == b else None for a, b in zip(lo, hi, strict=True)))

    def shapes(self) -> np.ndarray:
        """Every selected sample's shape, an int array (n, ndim), read from chunk headers only."""
        sel = self._sel()
        shapes: np.ndarray = self._engine.shapes(sel.array())
        return shapes[0] if sel.scalar else shapes

    def __repr__(self) -> str:
        return f"Tensor(key={self.key!r}, htype={self.htype!r}, shape={self.shape if self.meta.length else ()})"

    # ------------------------------------------------------------- indexing
    def __getitem__(self, item: Any) -> Tensor:
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

    def _values(self, positions: np.ndarray, subscript: tuple[Any, ...] = ()) -> list[Any]:
        """Decoded samples (``[subscript]`` of each); a tiled sample fetches only the tiles it needs."""
        meta = self.meta
        engine = self._engine

        def decode(data: bytes | memoryview, shape: tuple[int, ...]) -> Any:
            return decode_sample(meta, data, shape)

        values = []
        for data, shape in engine.read(positions):
            if isinstance(data, TileManifest):
                values.append(engine.read_tiled(data, subscript, decode))
            else:
                value = decode(data, shape)
                values.append(value[subscript] if subscript else value)
        return values

    def numpy(self, aslist: bool = False) -> Any:
        """The selected samples as one array (or a list of arrays with ``aslist=True``)."""
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
        if span is not None and not self._subscript and not aslist and meta.dtype is not None:
            batch = self._engine.read_range(span[0], span[1], np.dtype(meta.dtype))
            if batch is not None:
                return batch[0] if sel.scalar else batch
        values = self._values(sel.array(), self._subscript)
        if sel.scalar:
            return values[0]
        if aslist:
            return values
        return _stack(values, self.key, meta)

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        arr: np.ndarray = np.asarray(self.numpy())
        return arr if dtype is None else arr.astype(dtype)

    def tobytes(self) -> bytes:
        """The stored bytes of one sample (for an image, the encoded file as stored)."""
        sel = self._sel()
        if not sel.scalar:
            raise DatasetIndexError("tobytes() reads one sample; index it first: tensor[i].tobytes().")
        data, _ = self._engine.read(sel.array())[0]
        if isinstance(data, TileManifest):
            raise DatasetIndexError(
                "This sample was larger than a chunk and is stored as tiles, so it has no single stored file; "
                "use .numpy()."
            )
        return bytes(data)

    def text(self) -> Any:
        values = self._values(self._positions())
        return values[0] if self._sel().scalar else values

    def dict(self) -> Any:
        return self.text()

    def list(self) -> Any:
        return self.text()

    def data(self) -> builtins.dict[str, Any]:
        """``{"value": ...}``; class labels also carry their names under ``"text"``."""
        if self.meta.htype in OBJECT_HTYPES:
            return {"value": self.text()}
        value = self.numpy(aslist=True)
        out: builtins.dict[str, Any] = {"value": value}
        if self.meta.htype == "class_label":
            names = self.meta.info.get("class_names") or []
            if names:
                if self._sel().scalar:
                    out["text"] = [names[int(i)] for i in np.ravel(value)]
                else:
                    out["text"] = [[names[int(i)] for i in np.ravel(v)] for v in value]
        return out

    # --------------------------------------------------------------- writes
    def _check_whole(self, what: str) -> None:
        if self._selection is not None:
            raise DatasetIndexError(f"{what} works on a whole tensor, not a view: use ds.{self.key}.{what}(...).")

    def append(self, sample: Any) -> None:
        """Add one sample at the end."""
        self._check_whole("append")
        self.extend([sample])

    def extend(self, samples: Sequence[Any] | np.ndarray) -> None:
        """Add many samples at the end; a numpy batch of raw samples is stored in one pass."""
        self._check_whole("extend")
        with self._state.write([self.key]):
            self._state.extend_tensor(self.key, samples)

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
            encoder = SampleEncoder(self.key, self.meta)
            encoded = [encoder.encode(v, int(p)) for v, p in zip(values, positions, strict=True)]
            engine = self._engine
            for p, sample in zip(positions, encoded, strict=True):
                engine.update(int(p), sample)
                changes.record_update(engine.meta, int(p))


def _stack(values: list[Any], key: str, meta: TensorMeta) -> np.ndarray:
    if not values:
        fixed = meta.min_shape if meta.min_shape == meta.max_shape and meta.min_shape is not None else []
        return np.zeros((0, *fixed), dtype=meta.dtype or "float64")
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
