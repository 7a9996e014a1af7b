"""``samples_out``: what a transform appends for one input, held until the call returns."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np

from hub.errors import LengthMismatchError, TensorNotFoundError

__all__ = ["SamplesOut", "TensorOut", "StageSample"]


class TensorOut:
    """The values appended to one tensor of ``samples_out``."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.values: list[Any] = []

    def append(self, value: Any) -> None:
        self.values.append(value)

    def extend(self, values: Iterable[Any]) -> None:
        """Add many values (a numpy batch adds one value per row)."""
        self.values.extend(values)

    def __len__(self) -> int:
        return len(self.values)


class SamplesOut:
    """The outputs of one transform call: tensors by name (``samples_out.images``), groups by prefix.

    ``tensors`` names what may be appended to (the output dataset's tensors); None accepts any
    name, for a stage of a pipeline that feeds the next one.
    """

    def __init__(self, tensors: frozenset[str] | None, prefix: str = "", outputs: dict[str, TensorOut] | None = None):
        object.__setattr__(self, "_tensors", tensors)
        object.__setattr__(self, "_prefix", prefix)
        object.__setattr__(self, "_outputs", {} if outputs is None else outputs)

    def __getitem__(self, name: str) -> Any:
        key = self._prefix + name.strip("/")
        known: frozenset[str] | None = self._tensors
        if known is None or key in known:
            outputs: dict[str, TensorOut] = self._outputs
            out = outputs.get(key)
            if out is None:
                out = outputs[key] = TensorOut(key)
            return out
        if any(k.startswith(key + "/") for k in known):
            return SamplesOut(known, key + "/", self._outputs)
        raise TensorNotFoundError(
            f"samples_out has no tensor {key!r}; the output dataset has {sorted(known)}. Create it with "
            f"ds_out.create_tensor({key!r}, ...) before eval."
        )

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return self[name]

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"Append to samples_out.{name} instead of assigning it: samples_out.{name}.append(x).")

    def append(self, sample: dict[str, Any]) -> None:
        """Add one value to each named tensor."""
        for name, value in sample.items():
            self[name].append(value)

    def extend(self, samples: dict[str, Any]) -> None:
        """Add a sequence of values to each named tensor; the sequences have one length."""
        lengths = {name: len(values) for name, values in samples.items()}
        if len(set(lengths.values())) > 1:
            raise LengthMismatchError(f"samples_out.extend got different numbers of values: {lengths}.")
        for name, values in samples.items():
            self[name].extend(values)

    def items(self) -> Iterator[tuple[str, list[Any]]]:
        """(tensor key, values) of every tensor that was appended to."""
        outputs: dict[str, TensorOut] = self._outputs
        return ((k, v.values) for k, v in outputs.items())

    def length(self, check: bool) -> int:
        """How many samples were appended; with ``check``, every tensor must have got that many."""
        lengths = {k: len(v) for k, v in self.items()}
        if check and len(set(lengths.values())) > 1:
            raise LengthMismatchError(
                f"The transform appended different numbers of samples to its tensors: {lengths}. Append one value "
                "to every tensor per output sample, or pass check_lengths=False."
            )
        return max(lengths.values(), default=0)


class _StageValue:
    """One value a pipeline stage appended, as the next stage reads it (``sample_in.images.numpy()``)."""

    def __init__(self, value: Any) -> None:
        self.value = value

    def numpy(self) -> Any:
        return np.asarray(self.value)

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        arr = np.asarray(self.value)
        return arr if dtype is None else arr.astype(dtype)

    def data(self) -> dict[str, Any]:
        return {"value": self.value}

    def text(self) -> Any:
        return self.value

    dict = text
    list = text


class StageSample:
    """Sample ``i`` of what one pipeline stage appended: the next stage's ``sample_in``."""

    def __init__(self, values: dict[str, list[Any]], i: int) -> None:
        self._values = values
        self._i = i

    def __getitem__(self, name: str) -> _StageValue:
        try:
            values = self._values[name]
        except KeyError:
            raise TensorNotFoundError(
                f"The previous transform appended no tensor {name!r}; it appended {sorted(self._values)}."
            ) from None
        return _StageValue(values[self._i])

    def __getattr__(self, name: str) -> _StageValue:
        if name.startswith("_"):
            raise AttributeError(name)
        return self[name]

    def keys(self) -> list[str]:
        return list(self._values)
