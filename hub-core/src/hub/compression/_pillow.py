"""Image codecs read and written through Pillow: png, webp, bmp, gif, tiff and jpeg2000.

Every image codec decodes by the same rules (see :class:`PillowCodec`), so a tensor's shapes do not depend on which
file format its samples happen to be stored in.
"""

from __future__ import annotations

import io
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt
from PIL import ExifTags, Image

from hub.compression._base import BytesLike, Codec, Kind, SampleHeader, Shape, conform, corrupt_sample_errors
from hub.errors import CorruptSampleError, SampleCompressionError

__all__ = [
    "PillowCodec",
    "PngCodec",
    "WebpCodec",
    "BmpCodec",
    "GifCodec",
    "TiffCodec",
    "Jpeg2000Codec",
]

_UINT8 = np.dtype(np.uint8)
_UINT16 = np.dtype(np.uint16)

#: How each input layout is described in error messages; keys are the Pillow modes they become.
_LAYOUTS = {"L": "uint8 HxW or HxWx1", "RGB": "uint8 HxWx3", "RGBA": "uint8 HxWx4", "I;16": "uint16 HxW"}

#: The type and CRC of a PNG's final chunk, which is always empty.
_PNG_END = b"IEND\xaeB`\x82"

_RGBA_MODES = frozenset({"RGBA", "LA", "La", "PA", "RGBa"})


def _plain(value: Any) -> Any:
    """An EXIF value as JSON-friendly Python: bytes as hex, rationals as floats, tuples as lists."""
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    if isinstance(value, (int, str, float)) or value is None:
        return value
    try:
        return float(value)
    except (TypeError, ValueError):
        return str(value)


def _gray_palette(im: Image.Image) -> bool:
    palette = im.palette
    if palette is None or palette.mode != "RGB":
        return False
    entries = np.frombuffer(bytes(palette.palette), dtype=np.uint8)
    entries = entries[: len(entries) // 3 * 3].reshape(-1, 3)
    return bool((entries[:, 0] == entries[:, 1]).all() and (entries[:, 1] == entries[:, 2]).all())


def _output_layout(im: Image.Image) -> tuple[str, np.dtype[Any]]:
    """The Pillow mode an opened image is converted to before it becomes an array, and that array's dtype.

    Decided from the header, so :meth:`PillowCodec.read_header` agrees with :meth:`PillowCodec.decode`.
    """
    mode = im.mode
    if mode in ("L", "RGB", "RGBA"):
        return mode, _UINT8
    if mode.startswith("I;16"):
        return mode, _UINT16
    if mode == "I":
        # Older Pillow opens 16-bit gray PNGs as 32-bit "I"; a PNG channel never exceeds 16 bits.
        return mode, (_UINT16 if im.format == "PNG" else np.dtype(np.int32))
    if mode == "F":
        return mode, np.dtype(np.float32)
    if mode == "1":
        return "L", _UINT8
    if mode == "P":
        if "transparency" in im.info:
            return "RGBA", _UINT8
        return ("L" if _gray_palette(im) else "RGB"), _UINT8
    if mode in _RGBA_MODES:
        return "RGBA", _UINT8
    return "RGB", _UINT8  # CMYK, YCbCr, LAB, HSV, RGBX: color without alpha


def _header_of(im: Image.Image) -> SampleHeader:
    target, dtype = _output_layout(im)
    width, height = im.size
    bands = Image.getmodebands(target)
    return SampleHeader((height, width) if bands == 1 else (height, width, bands), dtype)


def _image_array(im: Image.Image) -> np.ndarray[Any, Any]:
    target, dtype = _output_layout(im)
    converted = im.convert(target) if im.mode != target else im
    return np.array(converted).astype(dtype, copy=False)


def input_mode(array: np.ndarray[Any, Any]) -> str | None:
    """The Pillow mode an array would be encoded as, or None if no image mode fits it."""
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.dtype == _UINT8:
        if array.ndim == 2:
            return "L"
        if array.ndim == 3:
            return {3: "RGB", 4: "RGBA"}.get(array.shape[2])
    elif array.dtype.kind == "u" and array.dtype.itemsize == 2 and array.ndim == 2:
        return "I;16"
    return None


class PillowCodec(Codec):
    """An image format Pillow reads and writes.

    Decoding always gives:

    - ``HxW`` for one-channel images: ``uint8`` for 8-bit gray, 1-bit images as 0/255, and gray-palette images;
      ``uint16`` for 16-bit gray (``int32``/``float32`` for 32-bit TIFFs);
    - ``HxWx3 uint8`` for color without alpha: RGB, color palettes, CMYK and YCbCr are converted to RGB;
    - ``HxWx4 uint8`` for anything with alpha: RGBA, gray+alpha, palettes with transparency;
    - the first frame of an animated or multi-page file.

    16-bit RGB(A) files are reduced to 8 bits per channel by Pillow. EXIF orientation is not applied.
    """

    kind: ClassVar[Kind] = "image"
    #: Pillow's name of the format.
    pil_format: ClassVar[str]
    #: The Pillow modes :meth:`encode` accepts: those the format stores and reads back with the same shape.
    encode_modes: ClassVar[tuple[str, ...]]

    def save_options(self, mode: str) -> dict[str, Any]:
        """Keyword arguments for ``Image.save`` when writing an image of ``mode``."""
        return {}

    def encode(self, array: npt.ArrayLike) -> bytes:
        arr = np.asarray(array)
        mode = input_mode(arr)
        if mode not in self.encode_modes or arr.size == 0:
            accepted = "; ".join(_LAYOUTS[m] for m in self.encode_modes)
            raise SampleCompressionError(
                f"{self.name} cannot encode an array of shape {arr.shape} and dtype {arr.dtype}. "
                f"It takes non-empty images of: {accepted}."
            )
        pixels = np.ascontiguousarray(arr.reshape(arr.shape[:2]) if mode in ("L", "I;16") else arr)
        if pixels.dtype.byteorder not in "=|":
            pixels = pixels.astype(pixels.dtype.newbyteorder("="))
        try:
            return self.encode_pixels(pixels, mode)
        # The image library refuses some arrays only when it writes them (dimension limits, for one).
        except Exception as e:
            raise SampleCompressionError(
                f"{self.name} could not encode an array of shape {arr.shape} and dtype {arr.dtype}: {e}"
            ) from e

    def encode_pixels(self, pixels: np.ndarray[Any, Any], mode: str) -> bytes:
        """Encode a validated C-contiguous array (HxW for one channel) whose Pillow mode is ``mode``."""
        buffer = io.BytesIO()
        Image.fromarray(pixels).save(buffer, format=self.pil_format, **self.save_options(mode))
        return buffer.getvalue()

    def open(self, data: BytesLike) -> Image.Image:
        """Open ``data`` lazily with Pillow, as this codec's format only."""
        return Image.open(io.BytesIO(data), formats=[self.pil_format])

    def decode_pixels(self, data: BytesLike) -> np.ndarray[Any, Any]:
        """Decode by the rules in the class docstring; errors are wrapped by :meth:`decode`."""
        with self.open(data) as im:
            return _image_array(im)

    def decode(
        self, data: BytesLike, *, shape: Shape | None = None, dtype: npt.DTypeLike | None = None
    ) -> np.ndarray[Any, Any]:
        with corrupt_sample_errors(self.name):
            array = self.decode_pixels(data)
        return conform(array, self.name, shape, dtype)

    def read_header(self, data: BytesLike) -> SampleHeader:
        with corrupt_sample_errors(self.name, "read the header of"), self.open(data) as im:
            return _header_of(im)

    def sample_info(self, data: BytesLike) -> dict[str, Any]:
        with corrupt_sample_errors(self.name, "read the header of"), self.open(data) as im:
            header = _header_of(im)
            exif = {ExifTags.TAGS.get(tag, str(tag)): _plain(value) for tag, value in im.getexif().items()}
            return {
                "format": self.name,
                "shape": list(header.shape),
                "dtype": header.dtype.name,
                "size": list(im.size),
                "mode": im.mode,
                "exif": exif,
            }


class PngCodec(PillowCodec):
    """PNG: lossless; 8-bit gray, RGB, RGBA and 16-bit gray."""

    name = "png"
    pil_format = "PNG"
    encode_modes = ("L", "RGB", "RGBA", "I;16")

    def verify(self, data: BytesLike) -> None:
        """Also check every chunk's CRC through IEND: decoding alone accepts a file cut after its pixel data."""
        super().verify(data)
        with corrupt_sample_errors(self.name, "verify"), self.open(data) as im:
            im.verify()  # Pillow checks the CRCs of the chunks before IEND
        if _PNG_END not in bytes(data):
            raise CorruptSampleError("png data is truncated: its IEND chunk is missing or incomplete.")


class WebpCodec(PillowCodec):
    """WebP: RGB and RGBA (the format has no gray); lossy at ``quality`` (default 90) unless ``lossless``."""

    name = "webp"
    pil_format = "WEBP"
    encode_modes = ("RGB", "RGBA")

    def __init__(self, quality: int = 90, lossless: bool = False) -> None:
        if not 0 <= quality <= 100:
            raise ValueError(f"webp quality must be in 0..100, got {quality}.")
        self.quality = quality
        self.lossless = lossless
        self.lossy = not lossless

    def save_options(self, mode: str) -> dict[str, Any]:
        if self.lossless:
            # exact: keep the color of fully transparent pixels, which WebP otherwise drops.
            return {"lossless": True, "exact": True}
        return {"quality": self.quality}


class BmpCodec(PillowCodec):
    """BMP: uncompressed 8-bit gray and RGB (Pillow reads 32-bit BMPs back without alpha)."""

    name = "bmp"
    pil_format = "BMP"
    encode_modes = ("L", "RGB")


class GifCodec(PillowCodec):
    """GIF: a palette of at most 256 colors; exact for gray, quantized (lossy) for color, 1-bit alpha."""

    name = "gif"
    pil_format = "GIF"
    encode_modes = ("L", "RGB", "RGBA")
    lossy = True

    def verify(self, data: BytesLike) -> None:
        """Also check for the trailer byte: decoding alone accepts a file cut after its first frame."""
        super().verify(data)
        if not bytes(data[-1:]) == b";":
            raise CorruptSampleError("gif data is truncated: it does not end with the GIF trailer byte ';'.")


class TiffCodec(PillowCodec):
    """TIFF with Deflate compression: lossless; 8-bit gray, RGB, RGBA and 16-bit gray."""

    name = "tiff"
    aliases = ("tif",)
    pil_format = "TIFF"
    encode_modes = ("L", "RGB", "RGBA", "I;16")

    def save_options(self, mode: str) -> dict[str, Any]:
        return {"compression": "tiff_adobe_deflate"}


class Jpeg2000Codec(PillowCodec):
    """JPEG 2000 in a JP2 container, encoded losslessly (reversible wavelet); also reads raw codestreams."""

    name = "jpeg2000"
    aliases = ("jp2", "j2k")
    pil_format = "JPEG2000"
    encode_modes = ("L", "RGB", "RGBA", "I;16")
