"""``HubMapDataset``: random access to a hub view's samples, for torch samplers."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from torch.utils.data import Dataset
from torch.utils.data._utils.collate import default_convert as _default_convert

import hub
from hub.core.polygons import is_ragged_polygon
from hub.core.reading import DatasetReader
from hub_torch._convert import polygons_to_torch, torch_dtype_for, writable

# torch leaves these untyped.
default_convert: Callable[[Any], Any] = _default_convert

__all__ = ["HubMapDataset"]


class HubMapDataset(Dataset[Any]):
    """``dataset[i]`` as a dict of torch values (a tuple when ``tensors`` is a list), read by byte ranges.

    For samplers that pick indices (weighted, subset, distributed); streaming whole epochs is faster with
    ``ds.pytorch()``. Pickles without data, so it works with any number of DataLoader workers.
    """

    def __init__(
        self,
        dataset: hub.Dataset,
        tensors: Sequence[str] | None = None,
        transform: Callable[[Any], Any] | None = None,
        return_index: bool = True,
    ) -> None:
        self.reader = DatasetReader(dataset, tensors)
        self.as_tuple = isinstance(tensors, (list, tuple))
        self.transform = transform
        self.return_index = return_index and not self.as_tuple

    def __len__(self) -> int:
        return len(self.reader)

    def __getitem__(self, index: int) -> Any:
        n = len(self.reader)
        if not -n <= index < n:
            raise IndexError(f"Index {index} is out of range for {n} samples.")
        position = np.asarray([index % n], dtype=np.int64)
        values = self.reader.read(position)
        sample: dict[str, Any] = {}
        for name, value in values.items():
            one = value[0]
            meta = self.reader.meta(name)
            if is_ragged_polygon(meta.htype, meta.layout):
                one = polygons_to_torch(one, meta)
            elif isinstance(one, np.ndarray):
                one = writable(one, torch_dtype_for(meta, one.dtype))
            sample[name] = one
        if self.transform is not None:
            sample = self.transform(sample)
        if self.as_tuple and isinstance(sample, dict):
            return default_convert(tuple(sample[n] for n in self.reader.tensors))
        if self.return_index and isinstance(sample, dict):
            sample["index"] = int(self.reader.global_indices(position)[0])
        return default_convert(sample)
