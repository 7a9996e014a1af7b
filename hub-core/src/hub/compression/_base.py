"""The :class:`Codec` interface every compression implements, and the checks codecs share."""

from __future__ import annotations

import inspect
import math
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, ClassVar, Literal, NamedTuple

import numpy as np
import numpy.typing as npt

from hub.errors import CorruptSampleError, DatasetIndexError, SampleCompressionError

__all__ = ["BytesLike", "ByteCodec", "Codec", "Kind", "SampleHeader", "Shape", "conform", "corrupt_sample_errors"]

BytesLike = bytes | bytearray | memoryview
Shape = tuple[int, ...]
#: What a codec's samples are: decoded pictures, arbitrary bytes, or (later) sound and film.
Kind = Literal["image", "bytes", "audio", "video"]


class SampleHeader(NamedTuple):
    """What :meth:`Codec.decode` would return, learned from the header alone."""

    shape: Shape
    dtype: np.dtype[Any]


@contextmanager
def corrupt_sample_errors(codec: str, action: str = "decode") -> Iterator[None]:
    """Turn any error a decoder raises on bad bytes into a :class:`CorruptSampleError` naming ``codec``."""
    try:
        yield
    except (CorruptSampleError, DatasetIndexError):
        raise
    # Decoders of untrusted bytes (Pillow's plugins above all) raise many kinds of error on bad input;
    # the caller needs one, and the original stays chained as the cause.
    except Exception as e:
        raise CorruptSampleError(f"Cannot {action} {codec} data: {type(e).__name__}: {e}") from e


class Codec(ABC):
    """One compression format: turns arrays into bytes and back.

    Codecs hold only their options, so one instance may be shared by threads and pickled into workers.
    ``read_header(data)`` always equals the shape and dtype of ``decode(data)`` with no hints.
    """

    #: The canonical, lowercase name stored in tensor metadata.
    name: ClassVar[str]
    #: Other names that mean this codec ("jpg" for "jpeg").
    aliases: ClassVar[tuple[str, ...]] = ()
    kind: ClassVar[Kind]
    #: Whether :meth:`encode` may change values: decoding its output may not give the input back.
    lossy: bool = False
    #: Other sniffed formats (see ``sniff_compression``) whose files this codec decodes as they are: an m4a file
    #: sniffs as "mp4" but is AAC audio.
    reads: ClassVar[tuple[str, ...]] = ()

    @abstractmethod
    def encode(self, array: npt.ArrayLike) -> bytes:
        """Compress one sample; :class:`SampleCompressionError` if the format cannot hold its shape or dtype."""

    @abstractmethod
    def decode(
        self, data: BytesLike, *, shape: Shape | None = None, dtype: npt.DTypeLike | None = None
    ) -> np.ndarray[Any, Any]:
        """Decompress one sample into a new writable array; :class:`CorruptSampleError` on bad bytes.

        ``shape`` and ``dtype`` are what the caller recorded when it wrote the sample: byte codecs need them to
        rebuild the array; image codecs use them to restore unit axes (an HxWx1 sample decodes as HxW) and to
        check that the bytes decode to what was recorded.
        """

    @abstractmethod
    def read_header(self, data: BytesLike) -> SampleHeader:
        """The shape and dtype :meth:`decode` gives (without hints), from the header only."""

    def read_shape(self, data: BytesLike) -> Shape:
        """The shape :meth:`decode` gives (without hints), from the header only."""
        return self.read_header(data).shape

    def decode_region(
        self,
        data: BytesLike,
        rows: slice,
        cols: slice,
        *,
        shape: Shape | None = None,
        dtype: npt.DTypeLike | None = None,
    ) -> np.ndarray[Any, Any]:
        """``decode(data)[rows, cols]``, as a compact copy that does not keep the whole sample alive.

        This default decodes everything; a codec that can decode part of a sample overrides it.
        """
        return np.ascontiguousarray(self.decode(data, shape=shape, dtype=dtype)[rows, cols])

    def decode_into(self, data: BytesLike, out: np.ndarray[Any, Any], *, dtype: npt.DTypeLike | None = None) -> None:
        """Decode one sample straight into ``out`` (its recorded shape); loaders use it to fill batch buffers.

        This default decodes and copies; a codec that can write into a given buffer overrides it.
        """
        out[...] = self.decode(data, shape=out.shape, dtype=dtype)

    def decode_subscript(
        self,
        data: BytesLike,
        subscript: tuple[Any, ...],
        *,
        shape: Shape | None = None,
        dtype: npt.DTypeLike | None = None,
    ) -> np.ndarray[Any, Any]:
        """``decode(data)[subscript]`` as a compact copy; a codec that can decode part of a sample overrides it
        (video decodes only the frames a subscript picks)."""
        array = self.decode(data, shape=shape, dtype=dtype)
        return np.ascontiguousarray(array[subscript]) if subscript else array

    def sample_info(self, data: BytesLike) -> dict[str, Any]:
        """What the stored file says about itself (format, shape, and per codec family: image mode and EXIF,
        audio sample rate and duration, video fps, duration and codec), from its header where possible."""
        header = self.read_header(data)
        return {"format": self.name, "shape": list(header.shape), "dtype": header.dtype.name}

    def verify(self, data: BytesLike) -> None:
        """Decode fully, raising :class:`CorruptSampleError` if ``data`` is not a valid sample of this codec."""
        self.decode(data)

    def __repr__(self) -> str:
        options = ", ".join(
            f"{name}={getattr(self, name)!r}"
            for name in inspect.signature(type(self)).parameters
            if hasattr(self, name)
        )
        return f"{type(self).__name__}({options})"


def conform(
    array: np.ndarray[Any, Any], codec: str, shape: Shape | None, dtype: npt.DTypeLike | None
) -> np.ndarray[Any, Any]:
    """Give a decoded image the shape and dtype its writer recorded, or raise if they disagree.

    Unit axes may differ (a sample written as HxWx1 comes back from the format as HxW), and so may channels where
    the format chose its layout by content: a palette image (GIF) whose colors are all gray decodes as HxW and one
    without transparent pixels as HxWx3. Recorded as color, gray is repeated into RGB; a missing alpha is opaque.
    """
    if dtype is not None and np.dtype(dtype) != array.dtype:
        raise CorruptSampleError(f"{codec} data decodes to dtype {array.dtype}, but {np.dtype(dtype)} was recorded.")
    if shape is None:
        return array
    shape = tuple(shape)
    if array.shape == shape:
        return array
    if tuple(d for d in array.shape if d != 1) == tuple(d for d in shape if d != 1):
        return array.reshape(shape)
    if len(shape) == 3 and shape[2] in (3, 4) and array.shape[:2] == shape[:2] and array.dtype == np.uint8:
        if array.ndim == 2:
            array = np.repeat(array[:, :, None], 3, axis=2)
        if array.shape[2] == 3 and shape[2] == 4:
            array = np.concatenate([array, np.full((*shape[:2], 1), 255, np.uint8)], axis=2)
        if array.shape == shape:
            return array
    raise CorruptSampleError(f"{codec} data decodes to shape {array.shape}, but {shape} was recorded.")


class ByteCodec(Codec):
    """A general-purpose compressor of bytes, used for whole chunks and for samples of any dtype.

    A sample is compressed as its C-order bytes; its shape and dtype are not stored, so :meth:`decode` without
    them returns a flat ``uint8`` array of the bytes.
    """

    kind: ClassVar[Kind] = "bytes"
    lossy = False

    @abstractmethod
    def compress(self, data: BytesLike) -> bytes:
        """Compress bytes."""

    @abstractmethod
    def decompress(self, data: BytesLike) -> bytearray:
        """Decompress bytes; :class:`CorruptSampleError` if ``data`` is not this codec's output."""

    @abstractmethod
    def decompressed_size(self, data: BytesLike) -> int:
        """How many bytes :meth:`decompress` returns, from the header only."""

    def encode(self, array: npt.ArrayLike) -> bytes:
        arr = np.asarray(array)
        if arr.dtype.hasobject:
            raise SampleCompressionError(
                f"{self.name} cannot compress an array of dtype {arr.dtype}: Python objects have no fixed bytes."
            )
        return self.compress(np.ascontiguousarray(arr).reshape(-1).view(np.uint8).data)

    def decode(
        self, data: BytesLike, *, shape: Shape | None = None, dtype: npt.DTypeLike | None = None
    ) -> np.ndarray[Any, Any]:
        raw = self.decompress(data)
        dt = np.dtype(np.uint8 if dtype is None else dtype)
        if shape is None:
            if len(raw) % dt.itemsize:
                raise CorruptSampleError(
                    f"{self.name} data decompresses to {len(raw)} bytes, not a whole number of {dt} items."
                )
            return np.frombuffer(raw, dtype=dt)
        shape = tuple(shape)
        expected = math.prod(shape) * dt.itemsize
        if len(raw) != expected:
            raise CorruptSampleError(
                f"{self.name} data decompresses to {len(raw)} bytes, but shape {shape} of {dt} needs {expected}."
            )
        return np.frombuffer(raw, dtype=dt).reshape(shape)

    def read_header(self, data: BytesLike) -> SampleHeader:
        return SampleHeader((self.decompressed_size(data),), np.dtype(np.uint8))
