"""How each tensor travels through the ``tf.data`` pipeline: in blocks of a chunk group's samples, then one by one.

A generator yields one *block* per chunk group: for every tensor, numpy arrays with a leading sample axis. The
pipeline unbatches blocks into samples and *finishes* each sample in TensorFlow ops, which run in parallel threads
outside the GIL: JPEG bytes are decoded with ``tf.io.decode_jpeg``, flattened samples of varying shape are reshaped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import tensorflow as tf

from hub.core.meta import TensorMeta
from hub_tensorflow._spec import ElementSpec

__all__ = ["Column", "Route", "choose_route"]

#: ``bytes``: stored bytes as they are (``tobytes``, text, JSON); ``jpeg``: stored JPEG bytes, decoded by TensorFlow;
#: ``fixed``: decoded samples of one shape, stacked; ``ragged``: decoded samples of varying shapes, flattened;
#: ``polygons``: lists of polygons, flattened to their points, made ``tf.RaggedTensor`` s again in the pipeline.
Route = Literal["bytes", "jpeg", "fixed", "ragged", "polygons"]

#: TensorFlow decodes these the way hub-core does (libjpeg-turbo's accurate integer DCT and smooth upsampling), so
#: ``ds.tensorflow()`` yields the pixels ``ds.images[i].numpy()`` gives.
_DCT_METHOD = "INTEGER_ACCURATE"


def choose_route(meta: TensorMeta, spec: ElementSpec, has_tiles: bool) -> Route:
    """The cheapest way to deliver a tensor's samples with the given element spec.

    A tensor with tiled samples (larger than a chunk) has no stored file for some samples, so hub-core decodes it.
    """
    if spec.numpy_dtype is None:
        return "bytes"
    if isinstance(spec.spec, tf.RaggedTensorSpec):
        return "polygons"
    shape = spec.spec.shape
    if not has_tiles and _tf_decodes_jpeg(meta, shape):
        return "jpeg"
    return "fixed" if shape.is_fully_defined() else "ragged"


def _tf_decodes_jpeg(meta: TensorMeta, shape: tf.TensorShape) -> bool:
    """JPEG images of 1 or 3 channels known from the metadata: the shapes ``tf.io.decode_jpeg`` can give."""
    if meta.sample_compression != "jpeg" or meta.dtype != "uint8" or shape.rank not in (2, 3):
        return False
    return shape.rank == 2 or shape[-1] in (1, 3)


@dataclass(frozen=True)
class Column:
    """One tensor's place in blocks and samples: ``key`` in the dataset, ``name`` in the output."""

    key: str
    name: str
    spec: ElementSpec
    route: Route

    # ---------------------------------------------------------------- numpy side (the block generator)
    def block_signature(self) -> dict[str, tf.TensorSpec]:
        """The parts this column adds to a block, as ``from_generator`` must declare them."""
        spec = self.spec.spec
        if self.route in ("bytes", "jpeg"):
            return {self.name: tf.TensorSpec((None,), tf.string)}
        if self.route == "fixed":
            return {self.name: tf.TensorSpec((None, *spec.shape), spec.dtype)}
        if self.route == "polygons":
            return {
                f"{self.name}/points": tf.TensorSpec((None,), spec.dtype),
                f"{self.name}/polygons": tf.TensorSpec((None,), tf.int64),
                f"{self.name}/lengths": tf.TensorSpec((None,), tf.int64),
            }
        return {
            f"{self.name}/values": tf.TensorSpec((None,), spec.dtype),
            f"{self.name}/lengths": tf.TensorSpec((None,), tf.int64),
            f"{self.name}/shapes": tf.TensorSpec((None, spec.shape.rank), tf.int64),
        }

    def block(self, values: Sequence[Any] | np.ndarray) -> dict[str, np.ndarray]:
        """This column's block parts from one group's samples: stored bytes for the byte routes, arrays otherwise."""
        if self.route in ("bytes", "jpeg"):
            out = np.empty(len(values), dtype=object)
            out[:] = values  # hub-core's reader gives stored bytes as bytes objects: no copy here
            return {self.name: out}
        dtype = self.spec.numpy_dtype
        if self.route == "fixed":
            if isinstance(values, np.ndarray):
                return {self.name: values.astype(dtype, copy=False)}
            return {self.name: _stack(values, dtype, (len(values), *self.spec.spec.shape.as_list()))}
        if self.route == "polygons":
            polygons = [p for sample in values for p in sample]
            points = np.concatenate([p.reshape(-1) for p in polygons]) if polygons else np.zeros(0)
            return {
                f"{self.name}/points": points.astype(dtype, copy=False),
                f"{self.name}/polygons": np.fromiter((len(s) for s in values), dtype=np.int64, count=len(values)),
                f"{self.name}/lengths": np.fromiter((len(p) for p in polygons), dtype=np.int64, count=len(polygons)),
            }
        arrays = [np.asarray(v) for v in values]
        flat = np.concatenate([a.reshape(-1) for a in arrays]) if arrays else np.zeros(0)
        return {
            f"{self.name}/values": flat.astype(dtype, copy=False),
            f"{self.name}/lengths": np.fromiter((a.size for a in arrays), dtype=np.int64, count=len(arrays)),
            f"{self.name}/shapes": np.asarray([a.shape for a in arrays], dtype=np.int64).reshape(len(arrays), -1),
        }

    # ---------------------------------------------------------------- TensorFlow side (the pipeline)
    def to_rows(self, block: dict[str, tf.Tensor]) -> dict[str, Any]:
        """Block parts in a form ``unbatch`` splits per sample (ragged values become a RaggedTensor)."""
        if self.route == "polygons":
            dims = self.spec.spec.shape[-1] or 1  # unknown only while every sample is empty: no points to shape
            points = tf.reshape(block[f"{self.name}/points"], [-1, dims])
            lengths = [block[f"{self.name}/polygons"], block[f"{self.name}/lengths"]]
            return {self.name: tf.RaggedTensor.from_nested_row_lengths(points, lengths)}
        if self.route != "ragged":
            return {self.name: block[self.name]}
        values = tf.RaggedTensor.from_row_lengths(block[f"{self.name}/values"], block[f"{self.name}/lengths"])
        return {f"{self.name}/values": values, f"{self.name}/shapes": block[f"{self.name}/shapes"]}

    def finish(self, row: dict[str, tf.Tensor]) -> tf.Tensor:
        """One sample's value with this column's element spec."""
        shape = self.spec.spec.shape
        if self.route == "jpeg":
            channels = 1 if shape.rank == 2 else int(shape[-1])
            image = tf.io.decode_jpeg(row[self.name], channels=channels, dct_method=_DCT_METHOD)
            image = tf.squeeze(image, axis=-1) if shape.rank == 2 else image
            return tf.ensure_shape(image, shape)
        if self.route == "ragged":
            value = tf.reshape(row[f"{self.name}/values"], row[f"{self.name}/shapes"])
            return value if shape.rank is None else tf.ensure_shape(value, shape)
        return row[self.name]


def _stack(values: Sequence[Any], dtype: np.dtype | None, shape: tuple[int, ...]) -> np.ndarray:
    out = np.empty(shape, dtype=dtype)
    for i, v in enumerate(values):
        out[i] = v
    return out
