"""JPEG, decoded and encoded with simplejpeg (libjpeg-turbo) when it is installed, Pillow otherwise.

simplejpeg's default settings (accurate DCT, smooth chroma upsampling) give the same pixels as Pillow's decoder.
Anything simplejpeg refuses, such as CMYK files or files with recoverable errors, is decoded by Pillow, so the
output never depends on which library did the work.
"""

from __future__ import annotations

import types
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from hub.compression._base import BytesLike, SampleHeader
from hub.compression._pillow import PillowCodec

try:
    import simplejpeg as _simplejpeg_module
except ImportError:  # simplejpeg has no wheel for some platforms; Pillow does everything there.
    _simplejpeg_module = None

__all__ = ["JpegCodec"]

_simplejpeg: types.ModuleType | None = _simplejpeg_module

Subsampling = Literal["444", "422", "420"]
_PIL_SUBSAMPLING = {"444": 0, "422": 1, "420": 2}
#: Color spaces simplejpeg decodes to RGB itself; CMYK and YCCK go to Pillow.
_FAST_COLORSPACES = frozenset({"YCbCr", "RGB"})


class JpegCodec(PillowCodec):
    """JPEG: lossy; 8-bit gray (HxW) and RGB (HxWx3).

    ``quality`` defaults to 90; ``subsampling`` of the color planes defaults to 4:2:0, as in Pillow and most cameras.
    Decoding converts CMYK files to RGB and always decodes the whole image: :meth:`decode_region` crops afterwards.
    """

    name = "jpeg"
    aliases = ("jpg",)
    pil_format = "JPEG"
    encode_modes = ("L", "RGB")
    lossy = True

    def __init__(self, quality: int = 90, subsampling: Subsampling = "420") -> None:
        if not 1 <= quality <= 100:
            raise ValueError(f"jpeg quality must be in 1..100, got {quality}.")
        if subsampling not in _PIL_SUBSAMPLING:
            raise ValueError(f"jpeg subsampling must be one of {', '.join(_PIL_SUBSAMPLING)}, got {subsampling!r}.")
        self.quality = quality
        self.subsampling = subsampling

    def save_options(self, mode: str) -> dict[str, Any]:
        return {"quality": self.quality, "subsampling": _PIL_SUBSAMPLING[self.subsampling]}

    def encode_pixels(self, pixels: np.ndarray[Any, Any], mode: str) -> bytes:
        if _simplejpeg is None:
            return super().encode_pixels(pixels, mode)
        if mode == "L":
            encoded: bytes = _simplejpeg.encode_jpeg(
                pixels[:, :, None], quality=self.quality, colorspace="GRAY", colorsubsampling="Gray"
            )
        else:
            encoded = _simplejpeg.encode_jpeg(
                pixels, quality=self.quality, colorspace="RGB", colorsubsampling=self.subsampling
            )
        return encoded

    def decode_pixels(self, data: BytesLike) -> np.ndarray[Any, Any]:
        if _simplejpeg is not None:
            # Pillow is the reference decoder: whatever simplejpeg refuses gets a second opinion there.
            try:
                height, width, colorspace, _ = _simplejpeg.decode_jpeg_header(data)
                if colorspace == "Gray":
                    gray: np.ndarray[Any, Any] = _simplejpeg.decode_jpeg(data, colorspace="GRAY")
                    return gray.reshape(height, width)
                if colorspace in _FAST_COLORSPACES:
                    rgb: np.ndarray[Any, Any] = _simplejpeg.decode_jpeg(data, colorspace="RGB")
                    return rgb
            except Exception:
                pass
        return super().decode_pixels(data)

    def decode_into(self, data: BytesLike, out: np.ndarray[Any, Any], *, dtype: npt.DTypeLike | None = None) -> None:
        if (
            _simplejpeg is not None
            and out.dtype == np.uint8
            and out.ndim == 3
            and out.shape[2] == 3
            and out.flags.c_contiguous
        ):
            try:
                height, width, colorspace, _ = _simplejpeg.decode_jpeg_header(data)
                if colorspace in _FAST_COLORSPACES and (height, width) == out.shape[:2]:
                    _simplejpeg.decode_jpeg(data, colorspace="RGB", buffer=out)
                    return
            except Exception:
                pass
        super().decode_into(data, out, dtype=dtype)

    def read_header(self, data: BytesLike) -> SampleHeader:
        if _simplejpeg is not None:
            try:
                height, width, colorspace, _ = _simplejpeg.decode_jpeg_header(data)
            except Exception:
                pass
            else:
                return SampleHeader((height, width) if colorspace == "Gray" else (height, width, 3), np.dtype(np.uint8))
        return super().read_header(data)
