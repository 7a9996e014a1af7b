"""Compressions of samples and chunks: a registry of codecs, one module per codec family.

``get_codec("jpeg").decode(data)`` decodes a sample; :func:`compress_bytes` / :func:`decompress_bytes` compress
whole chunks; :func:`sniff_compression` tells a file's format from its first bytes. Every codec decodes to new,
writable numpy arrays, and every failure is a :class:`hub.errors.HubError`: ``UnknownCompressionError`` for a bad
name, ``SampleCompressionError`` for an array a format cannot hold, ``CorruptSampleError`` for bad bytes.

Decoded image shapes (see :class:`PillowCodec`): HxW for gray (uint8, or uint16 for 16-bit), HxWx3 uint8 for color,
HxWx4 uint8 for color or gray with alpha. Video decodes to (frames, H, W, 3) uint8 and audio to (samples, channels)
float32 (see :mod:`hub.compression._av`).
"""

from __future__ import annotations

from hub.compression._av import (
    AacCodec,
    AudioCodec,
    AviCodec,
    DecodedFrames,
    DecodedSamples,
    FlacCodec,
    MediaCodec,
    MkvCodec,
    Mp3Codec,
    Mp4Codec,
    OggCodec,
    VideoCodec,
    WavCodec,
    WebmCodec,
)
from hub.compression._base import ByteCodec, BytesLike, Codec, Kind, SampleHeader, Shape
from hub.compression._jpeg import JpegCodec
from hub.compression._lz4 import Lz4Codec
from hub.compression._pillow import BmpCodec, GifCodec, Jpeg2000Codec, PillowCodec, PngCodec, TiffCodec, WebpCodec
from hub.compression._registry import (
    compress_bytes,
    decode_many,
    decompress_bytes,
    get_codec,
    register_codec,
    registered_compressions,
    verify,
)
from hub.compression._sniff import sniff_compression

__all__ = [
    "COMPRESSIONS",
    "IMAGE_COMPRESSIONS",
    "BYTE_COMPRESSIONS",
    "AUDIO_COMPRESSIONS",
    "VIDEO_COMPRESSIONS",
    "Codec",
    "ByteCodec",
    "PillowCodec",
    "SampleHeader",
    "BytesLike",
    "Kind",
    "Shape",
    "JpegCodec",
    "PngCodec",
    "WebpCodec",
    "BmpCodec",
    "GifCodec",
    "TiffCodec",
    "Jpeg2000Codec",
    "Lz4Codec",
    "MediaCodec",
    "VideoCodec",
    "AudioCodec",
    "DecodedFrames",
    "DecodedSamples",
    "Mp4Codec",
    "MkvCodec",
    "AviCodec",
    "WebmCodec",
    "WavCodec",
    "FlacCodec",
    "Mp3Codec",
    "AacCodec",
    "OggCodec",
    "get_codec",
    "register_codec",
    "registered_compressions",
    "sniff_compression",
    "verify",
    "decode_many",
    "compress_bytes",
    "decompress_bytes",
]

#: Canonical names of the built-in compressions (aliases such as "jpg" are accepted by :func:`get_codec` too).
COMPRESSIONS: tuple[str, ...] = registered_compressions()
#: Those usable as ``sample_compression`` of images.
IMAGE_COMPRESSIONS: tuple[str, ...] = registered_compressions("image")
#: Those usable as ``sample_compression`` of audio and of video.
AUDIO_COMPRESSIONS: tuple[str, ...] = registered_compressions("audio")
VIDEO_COMPRESSIONS: tuple[str, ...] = registered_compressions("video")
#: Those usable as ``chunk_compression`` (and as ``sample_compression`` of any dtype).
BYTE_COMPRESSIONS: tuple[str, ...] = registered_compressions("bytes")
