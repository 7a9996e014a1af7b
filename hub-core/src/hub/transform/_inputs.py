"""What ``eval`` iterates: ``data_in`` as a sliceable sequence, a dataset padded to its longest tensor if asked."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from hub.core.tensor import Tensor
from hub.errors import TransformError, TransformOptionError

if TYPE_CHECKING:
    from hub.core.dataset import Dataset

__all__ = ["inputs", "PaddedInputs", "EmptySample"]


def inputs(data_in: Any, pad: bool) -> Any:
    """``data_in`` as something with a length that slices: a dataset view, a sequence or an array."""
    from hub.core.dataset import Dataset

    if isinstance(data_in, Dataset):
        return _dataset_inputs(data_in, pad)
    if isinstance(data_in, (Sequence, np.ndarray)) and not isinstance(data_in, (str, bytes)):
        return data_in
    try:
        return list(data_in)
    except TypeError:
        raise TransformError(
            f"data_in must be a sequence (a list of paths, a numpy array) or a dataset, got {type(data_in).__name__}."
        ) from None


def _dataset_inputs(ds: Dataset, pad: bool) -> Any:
    if ds.index is not None:  # a view picks the same positions of every tensor
        return ds
    meta = ds._state.meta
    lengths = {k: meta.tensors[k].length for k in ds._visible_keys()}
    if len(set(lengths.values())) <= 1:
        return ds
    if not pad:
        shown = ", ".join(f"{k!r}: {n}" for k, n in lengths.items())
        raise TransformOptionError(
            f"The tensors of data_in have different lengths ({shown}), so its samples are not defined past "
            f"{min(lengths.values())}. Pass pad_data_in=True to iterate to the longest tensor (shorter ones give "
            "empty samples), or use a view such as data_in[:n]."
        )
    return PaddedInputs(ds, 0, max(lengths.values()))


class PaddedInputs:
    """Samples ``[start, stop)`` of a whole dataset; a tensor shorter than a position gives an :class:`EmptySample`."""

    def __init__(self, ds: Dataset, start: int, stop: int) -> None:
        self.ds = ds
        self.start = start
        self.stop = stop

    def __len__(self) -> int:
        return self.stop - self.start

    def __getitem__(self, item: Any) -> Any:
        if isinstance(item, slice):
            start, stop, step = item.indices(len(self))
            if step != 1:
                raise TransformError("Padded inputs are split into contiguous slices only.")
            return PaddedInputs(self.ds, self.start + start, self.start + max(start, stop))
        index = int(item)
        if not 0 <= index < len(self):
            raise IndexError(index)
        return PaddedSample(self.ds, self.start + index)


class PaddedSample:
    """One position of a dataset padded to its longest tensor: ``sample_in.images.numpy()`` as for a view."""

    def __init__(self, ds: Dataset, index: int) -> None:
        self._ds = ds
        self._index = index

    @property
    def tensors(self) -> dict[str, Any]:
        return {name: self[name] for name in self._ds.tensors}

    def __getitem__(self, name: str) -> Any:
        """The tensor's sample here (or an :class:`EmptySample` past its end); a group's padded sample."""
        tensor = self._ds[name]
        if not isinstance(tensor, Tensor):
            return PaddedSample(tensor, self._index)
        if self._index < tensor.meta.length:
            sample: Tensor = tensor[self._index]
            return sample
        return EmptySample(tensor.meta.dtype, tensor.meta.ndim or 0, tensor.meta.htype)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"The sample has no tensor {name!r}") from None


class EmptySample:
    """A sample past the end of a shorter tensor (``pad_data_in=True``): an empty array of its dtype and ndim."""

    def __init__(self, dtype: str | None, ndim: int, htype: str) -> None:
        self.dtype = dtype
        self.ndim = ndim
        self.htype = htype

    @property
    def shape(self) -> tuple[int, ...]:
        return (0,) * self.ndim

    def numpy(self, aslist: bool = False) -> np.ndarray:
        return np.zeros(self.shape, dtype=self.dtype or "float64")

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        return self.numpy() if dtype is None else self.numpy().astype(dtype)

    def text(self) -> str:
        return ""

    def __len__(self) -> int:
        return 0
