"""``info`` of a dataset or tensor: a persisted dict with attribute access."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

__all__ = ["Info"]


class Info:
    """A JSON-able dict stored in the dataset's metadata; every change is saved like a write.

    ``info.class_names``, ``info["class_names"]`` and ``info.update(class_names=[...])`` all work.
    A value changed in place (``info.class_names.append(...)``) is saved with the next write or flush.
    """

    _data: dict[str, Any]
    _on_change: Callable[[], None]
    _check: Callable[[], None]

    def __init__(
        self, data: dict[str, Any], on_change: Callable[[], None], check: Callable[[], None] = lambda: None
    ) -> None:
        object.__setattr__(self, "_data", data)
        object.__setattr__(self, "_on_change", on_change)
        object.__setattr__(self, "_check", check)

    def __getattr__(self, name: str) -> Any:
        try:
            return self._data[name]
        except KeyError:
            raise AttributeError(f"info has no key {name!r}") from None

    def __setattr__(self, name: str, value: Any) -> None:
        self.update({name: value})

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.update({key: value})

    def __delitem__(self, key: str) -> None:
        self._check()
        del self._data[key]
        self._on_change()

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Info):
            return self._data == other._data
        return self._data == other

    def __hash__(self) -> int:
        raise TypeError("Info is mutable and unhashable")

    def update(self, *args: Any, **kwargs: Any) -> None:
        self._check()
        self._data.update(*args, **kwargs)
        self._on_change()

    def get(self, key: str, default: Any = None) -> Any:
        return self._data.get(key, default)

    def keys(self) -> Any:
        return self._data.keys()

    def items(self) -> Any:
        return self._data.items()

    def to_dict(self) -> dict[str, Any]:
        return dict(self._data)

    def __repr__(self) -> str:
        return repr(self._data)
