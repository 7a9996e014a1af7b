"""Plain-text tables of tensors, for ``Dataset.summary()`` and ``Tensor.summary()``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hub.core.tensor import Tensor

__all__ = ["TENSOR_COLUMNS", "tensor_row", "table"]

#: The columns :func:`tensor_row` fills.
TENSOR_COLUMNS = ("htype", "shape", "dtype", "compression")


def tensor_row(tensor: Tensor) -> tuple[str, str, str, str]:
    """A tensor's (or a view's) htype, shape, dtype and compression, as text."""
    shape = str(tensor.shape) if tensor.num_samples else "(0,)"
    compression = tensor.sample_compression or tensor.chunk_compression
    return tensor.htype, shape, str(tensor.meta.dtype), str(compression)


def table(rows: Sequence[Sequence[str]]) -> list[str]:
    """The lines of a table whose first row is its heading, columns padded to their widest cell."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for i, row in enumerate(rows):
        lines.append("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
        if i == 0:
            lines.append("  ".join("-" * w for w in widths))
    return lines
