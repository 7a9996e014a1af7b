"""The ``tf.TensorSpec`` of each tensor's elements, from its metadata alone (nothing is read or decoded).

Fixed dimensions are known and dimensions that differ between samples are ``None``; text and JSON are scalar
``tf.string`` (JSON serialized), class labels ``tf.int64``, polygon samples ``tf.RaggedTensor`` s of shape
``(polygons, None, dims)``, and a tensor read with ``tobytes`` a scalar
``tf.string`` holding the stored bytes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from hub.core.htypes import get_htype
from hub.core.meta import TensorMeta
from hub.core.polygons import is_ragged_polygon
from hub.errors import TensorMetaError

__all__ = ["ElementSpec", "element_spec"]

#: htypes delivered as one scalar string per sample: UTF-8 text, or the sample serialized as JSON.
STRING_HTYPES = frozenset({"text", "json", "list"})
#: htypes holding class ids, widened to int64: the integer type TensorFlow's ops and Keras losses expect.
LABEL_HTYPES = frozenset({"class_label"})


@dataclass(frozen=True)
class ElementSpec:
    """How one tensor's samples enter ``tf.data``: the spec, and the numpy dtype values are cast to first."""

    spec: tf.TensorSpec | tf.RaggedTensorSpec
    #: The dtype the loader casts decoded numbers to; None for strings.
    numpy_dtype: np.dtype | None
    #: Whether the stored bytes are delivered as they are (``tobytes``).
    tobytes: bool


def element_spec(name: str, meta: TensorMeta, tobytes: bool = False) -> ElementSpec:
    """The element spec of tensor ``name``; ``TensorMetaError`` if its dtype is still unknown."""
    if tobytes or meta.htype in STRING_HTYPES:
        return ElementSpec(tf.TensorSpec(shape=(), dtype=tf.string), None, tobytes)
    dtype = np.dtype("int64") if meta.htype in LABEL_HTYPES else _stored_dtype(name, meta)
    if is_ragged_polygon(meta.htype, meta.layout):
        # A list of polygons of different point counts: (polygons, points, dims), ragged in the points.
        dims = meta.max_shape[-1] if meta.max_shape and meta.max_shape[-1] else None
        return ElementSpec(tf.RaggedTensorSpec([None, None, dims], tf.as_dtype(dtype), ragged_rank=1), dtype, False)
    return ElementSpec(tf.TensorSpec(shape=_shape(meta), dtype=tf.as_dtype(dtype)), dtype, False)


def _stored_dtype(name: str, meta: TensorMeta) -> np.dtype:
    dtype = meta.dtype or get_htype(meta.htype).dtype
    if dtype is None:
        raise TensorMetaError(
            f"Tensor {name!r} has no samples and no dtype yet, so ds.tensorflow() can't say what it yields. "
            f"Create it with dtype=..., append a sample first, or leave it out with tensors=[...]."
        )
    return np.dtype(dtype)


def _shape(meta: TensorMeta) -> tf.TensorShape:
    """Per-dimension: the size every sample shares, else None; unknown rank if nothing says the ndim."""
    if meta.min_shape is not None and meta.max_shape is not None:
        return tf.TensorShape([lo if lo == hi else None for lo, hi in zip(meta.min_shape, meta.max_shape, strict=True)])
    ndims = meta.ndim if meta.ndim is not None else _only(get_htype(meta.htype).ndims)
    return tf.TensorShape(None if ndims is None else [None] * ndims)


def _only(ndims: tuple[int, ...] | None) -> int | None:
    return ndims[0] if ndims is not None and len(ndims) == 1 else None
