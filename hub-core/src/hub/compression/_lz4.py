"""LZ4 for whole chunks and for samples of any dtype.

Byte format (part of the on-disk spec): a 4-byte little-endian unsigned size of the uncompressed data, then one
LZ4 block (the raw block format of ``LZ4_compress_default``, no frame). This is what ``lz4.block.compress`` writes
with ``store_size=True``. It was chosen over the LZ4 frame format for being faster on 8-16 MB chunks; inputs are
limited to LZ4's block maximum of 2,113,929,216 bytes.
"""

from __future__ import annotations

import struct

import lz4.block

from hub.compression._base import ByteCodec, BytesLike
from hub.errors import CorruptSampleError, SampleCompressionError

__all__ = ["Lz4Codec", "MAX_INPUT_SIZE"]

#: LZ4_MAX_INPUT_SIZE: the largest input one LZ4 block can hold.
MAX_INPUT_SIZE = 0x7E000000
_SIZE = struct.Struct("<I")
#: One LZ4 byte never stands for more than 255 output bytes, so a larger recorded size is corruption.
_MAX_RATIO = 255


class Lz4Codec(ByteCodec):
    """LZ4 block compression with the uncompressed size in front."""

    name = "lz4"

    def compress(self, data: BytesLike) -> bytes:
        size = memoryview(data).nbytes
        if size > MAX_INPUT_SIZE:
            raise SampleCompressionError(
                f"lz4 compresses at most {MAX_INPUT_SIZE} bytes at once, got {size}; split the data first."
            )
        compressed: bytes = lz4.block.compress(data, mode="default", store_size=True)
        return compressed

    def decompressed_size(self, data: BytesLike) -> int:
        if len(data) <= _SIZE.size:
            raise CorruptSampleError(f"lz4 data of {len(data)} bytes is too short to hold a size and a block.")
        (size,) = _SIZE.unpack_from(data)
        payload = len(data) - _SIZE.size
        if size > _MAX_RATIO * payload:
            raise CorruptSampleError(
                f"lz4 data records an uncompressed size of {size} bytes, impossible for {payload} compressed bytes."
            )
        return int(size)

    def decompress(self, data: BytesLike) -> bytearray:
        self.decompressed_size(data)
        try:
            decompressed: bytearray = lz4.block.decompress(data, return_bytearray=True)
        except lz4.block.LZ4BlockError as e:
            raise CorruptSampleError(f"Cannot decompress lz4 data: {e}") from e
        return decompressed
