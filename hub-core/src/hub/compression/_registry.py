"""Maps compression names (and their aliases) to codecs, and the calls that take a compression by name.

A new codec family (audio and video, for one) is a module of :class:`Codec` subclasses, each listed here or passed
to :func:`register_codec`; a codec whose library is optional imports it on first use.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from hub.compression._av import (
    AacCodec,
    AviCodec,
    FlacCodec,
    MkvCodec,
    Mp3Codec,
    Mp4Codec,
    OggCodec,
    WavCodec,
    WebmCodec,
)
from hub.compression._base import ByteCodec, BytesLike, Codec, Kind, Shape
from hub.compression._jpeg import JpegCodec
from hub.compression._lz4 import Lz4Codec
from hub.compression._pillow import BmpCodec, GifCodec, Jpeg2000Codec, PngCodec, TiffCodec, WebpCodec
from hub.errors import UnknownCompressionError

__all__ = [
    "register_codec",
    "registered_compressions",
    "get_codec",
    "verify",
    "decode_many",
    "compress_bytes",
    "decompress_bytes",
]

_BUILTIN: tuple[type[Codec], ...] = (
    JpegCodec,
    PngCodec,
    WebpCodec,
    BmpCodec,
    GifCodec,
    TiffCodec,
    Jpeg2000Codec,
    Lz4Codec,
    Mp4Codec,
    MkvCodec,
    AviCodec,
    WebmCodec,
    WavCodec,
    FlacCodec,
    Mp3Codec,
    AacCodec,
    OggCodec,
)

_CODECS: dict[str, type[Codec]] = {}
_ALIASES: dict[str, str] = {}
#: One default-configured instance per name, made on first use.
_INSTANCES: dict[str, Codec] = {}

C = TypeVar("C", bound=type[Codec])


def register_codec(cls: C) -> C:
    """Make ``cls`` (constructible without arguments) available under its ``name`` and ``aliases``.

    Usable as a class decorator. A name or alias that is already taken raises ``ValueError``.
    """
    names = (cls.name, *cls.aliases)
    for name in names:
        if name != name.lower():
            raise ValueError(f"Compression names are lowercase; {cls.__name__} declares {name!r}.")
        if name in _CODECS or name in _ALIASES:
            raise ValueError(f"Compression name {name!r} of {cls.__name__} is already registered.")
    _CODECS[cls.name] = cls
    for alias in cls.aliases:
        _ALIASES[alias] = cls.name
    return cls


def registered_compressions(kind: Kind | None = None) -> tuple[str, ...]:
    """The canonical names of every registered codec, or of those of one ``kind``, in registration order."""
    return tuple(name for name, cls in _CODECS.items() if kind is None or cls.kind == kind)


def _unknown(name: object, kind: Kind | None = None, why: str = "is not a known compression") -> Exception:
    valid = registered_compressions(kind)
    aliases = sorted(alias for alias, target in _ALIASES.items() if target in valid)
    hint = f" (aliases: {', '.join(aliases)})" if aliases else ""
    return UnknownCompressionError(f"{name!r} {why}. Use one of: {', '.join(valid)}{hint}.")


def get_codec(name: str) -> Codec:
    """The codec called ``name`` (any case, aliases allowed), with its default options.

    Raises :class:`UnknownCompressionError` listing the valid names. ``get_codec(name).name`` is the canonical name
    to store.
    """
    if not isinstance(name, str):
        raise _unknown(name)
    key = name.lower()
    key = _ALIASES.get(key, key)
    codec = _INSTANCES.get(key)
    if codec is None:
        cls = _CODECS.get(key)
        if cls is None:
            raise _unknown(name)
        codec = _INSTANCES.setdefault(key, cls())
    return codec


def _byte_codec(name: str) -> ByteCodec:
    codec = get_codec(name)
    if not isinstance(codec, ByteCodec):
        raise _unknown(
            name, "bytes", f"names the {codec.kind} codec {codec.name!r}, which cannot compress arbitrary bytes"
        )
    return codec


def verify(data: BytesLike, name: str) -> None:
    """Fully decode ``data`` as compression ``name``; :class:`CorruptSampleError` says what is wrong if it fails."""
    get_codec(name).verify(data)


def decode_many(
    name: str,
    blobs: Sequence[BytesLike],
    *,
    shapes: Sequence[Shape] | None = None,
    dtype: npt.DTypeLike | None = None,
) -> list[np.ndarray[Any, Any]]:
    """Decode a batch of samples of one compression; ``shapes`` (one per blob) and ``dtype`` as in ``Codec.decode``."""
    codec = get_codec(name)
    if shapes is None:
        return [codec.decode(blob, dtype=dtype) for blob in blobs]
    if len(shapes) != len(blobs):
        raise ValueError(f"decode_many got {len(blobs)} samples but {len(shapes)} shapes.")
    return [codec.decode(blob, shape=shape, dtype=dtype) for blob, shape in zip(blobs, shapes, strict=True)]


def compress_bytes(name: str, data: BytesLike) -> bytes:
    """Compress bytes (a whole chunk) with byte compression ``name``, such as "lz4"."""
    return _byte_codec(name).compress(data)


def decompress_bytes(name: str, data: BytesLike) -> bytearray:
    """Undo :func:`compress_bytes`; :class:`CorruptSampleError` if ``data`` is not valid."""
    return _byte_codec(name).decompress(data)


for _cls in _BUILTIN:
    register_codec(_cls)
