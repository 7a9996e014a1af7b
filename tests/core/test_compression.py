"""hub.compression: the codec registry, image and byte codecs, sniffing, and their errors."""

from __future__ import annotations

import io
import pickle
import struct
import wave
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from PIL import Image

import hub
import hub.compression as hc
import hub.compression._jpeg as jpeg_module
import hub.compression._registry as registry
from hub.errors import CorruptSampleError, HubError, SampleCompressionError, UnknownCompressionError

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# What each image codec takes, by Pillow mode of the input.
LAYOUTS: dict[str, tuple[int, ...] | None] = {"L": None, "RGB": (3,), "RGBA": (4,), "I;16": None}


def smooth_image(height: int, width: int, channels: int | None = 3, seed: int = 0) -> np.ndarray[Any, Any]:
    """Gradients, waves and a little noise: a stand-in for a photograph that JPEG handles the usual way."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    planes = [
        (x + y) * 255 / max(height + width - 2, 1),
        128 + 100 * np.sin(x / 9.0) * np.cos(y / 13.0),
        255 * (x / max(width - 1, 1)) ** 2,
        200 - 150 * (y / max(height - 1, 1)),
    ]
    image = np.stack(planes[: channels or 1], axis=-1) + rng.normal(0, 2, (height, width, channels or 1))
    pixels: np.ndarray[Any, Any] = image.clip(0, 255).round().astype(np.uint8)
    return pixels[:, :, 0] if channels is None else pixels


def pil_bytes(image: Image.Image, fmt: str, **options: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def layout_array(mode: str, height: int = 12, width: int = 17, seed: int = 1) -> np.ndarray[Any, Any]:
    rng = np.random.default_rng(seed)
    if mode == "I;16":
        return rng.integers(0, 65536, (height, width), dtype=np.uint16)
    extra = LAYOUTS[mode]
    return rng.integers(0, 256, (height, width, *(extra or ())), dtype=np.uint8)


def images(mode: str) -> st.SearchStrategy[np.ndarray[Any, Any]]:
    dtype = np.uint16 if mode == "I;16" else np.uint8
    extra = LAYOUTS[mode] or ()
    shapes = st.tuples(st.integers(1, 24), st.integers(1, 24)).map(lambda hw: (*hw, *extra))
    return hnp.arrays(dtype, shapes)


#: Codecs of still images and bytes; audio and video have their own tests (tests/core/media).
STILL = (*hc.IMAGE_COMPRESSIONS, *hc.BYTE_COMPRESSIONS)


# ---------------------------------------------------------------------------------------------------- registry


def test_compressions_lists_canonical_names() -> None:
    assert hc.IMAGE_COMPRESSIONS == ("jpeg", "png", "webp", "bmp", "gif", "tiff", "jpeg2000")
    assert hc.BYTE_COMPRESSIONS == ("lz4",)
    assert hc.VIDEO_COMPRESSIONS == ("mp4", "mkv", "avi", "webm")
    assert hc.AUDIO_COMPRESSIONS == ("wav", "flac", "mp3", "aac", "ogg")
    assert (
        *hc.IMAGE_COMPRESSIONS,
        *hc.BYTE_COMPRESSIONS,
        *hc.VIDEO_COMPRESSIONS,
        *hc.AUDIO_COMPRESSIONS,
    ) == hc.COMPRESSIONS
    kinds = {"lz4": "bytes", **dict.fromkeys(hc.VIDEO_COMPRESSIONS, "video")}
    kinds.update(dict.fromkeys(hc.AUDIO_COMPRESSIONS, "audio"))
    for name in hc.COMPRESSIONS:
        codec = hc.get_codec(name)
        assert codec.name == name
        assert codec.kind == kinds.get(name, "image")


@pytest.mark.parametrize(
    ("alias", "canonical"),
    [("jpg", "jpeg"), ("JPEG", "jpeg"), ("Jpg", "jpeg"), ("tif", "tiff"), ("jp2", "jpeg2000"), ("j2k", "jpeg2000")],
)
def test_aliases_canonicalize(alias: str, canonical: str) -> None:
    assert hc.get_codec(alias).name == canonical
    assert hc.get_codec(alias) is hc.get_codec(canonical)


@pytest.mark.parametrize("name", ["jpegg", "", "zip", "none", 3, None])
def test_unknown_names_list_the_valid_ones(name: Any) -> None:
    with pytest.raises(UnknownCompressionError) as info:
        hc.get_codec(name)
    assert isinstance(info.value, ValueError) and isinstance(info.value, HubError)
    message = str(info.value)
    assert repr(name) in message
    for valid in hc.COMPRESSIONS:
        assert valid in message
    assert "jpg" in message  # aliases are named too


def test_lossy_flags() -> None:
    lossless_media = {"wav", "flac"}
    media = {*hc.VIDEO_COMPRESSIONS, *hc.AUDIO_COMPRESSIONS} - lossless_media
    assert {name for name in hc.COMPRESSIONS if hc.get_codec(name).lossy} == {"jpeg", "webp", "gif", *media}
    assert not hc.WebpCodec(lossless=True).lossy


def test_codecs_pickle_and_repr() -> None:
    for name in hc.COMPRESSIONS:
        codec = hc.get_codec(name)
        assert repr(pickle.loads(pickle.dumps(codec))) == repr(codec)
    assert repr(hc.JpegCodec(quality=95)) == "JpegCodec(quality=95, subsampling='420')"


def test_codec_options_are_checked() -> None:
    with pytest.raises(ValueError):
        hc.JpegCodec(quality=0)
    with pytest.raises(ValueError):
        hc.JpegCodec(subsampling="411")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        hc.WebpCodec(quality=101)


def test_a_new_codec_family_registers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "_CODECS", dict(registry._CODECS))
    monkeypatch.setattr(registry, "_ALIASES", dict(registry._ALIASES))
    monkeypatch.setattr(registry, "_INSTANCES", dict(registry._INSTANCES))

    @hc.register_codec
    class FakeMp3(hc.Codec):
        name = "fakemp3"
        aliases = ("fake-mpeg3",)
        kind = "audio"
        lossy = True

        def encode(self, array: Any) -> bytes:
            return b"ID3" + np.asarray(array, dtype=np.int16).tobytes()

        def decode(self, data: Any, *, shape: Any = None, dtype: Any = None) -> np.ndarray[Any, Any]:
            samples: np.ndarray[Any, Any] = np.frombuffer(bytes(data)[3:], dtype=np.int16).copy()
            return samples

        def read_header(self, data: Any) -> hc.SampleHeader:
            return hc.SampleHeader(((len(data) - 3) // 2,), np.dtype(np.int16))

    codec = hc.get_codec("Fake-MPEG3")
    assert isinstance(codec, FakeMp3)
    assert "fakemp3" in hc.registered_compressions("audio")
    assert "fakemp3" in hc.registered_compressions() and "fakemp3" not in hc.COMPRESSIONS
    encoded = codec.encode([1, 2, 3])
    assert codec.read_shape(encoded) == codec.decode(encoded).shape == (3,)
    with pytest.raises(ValueError, match="already registered"):
        hc.register_codec(FakeMp3)
    with pytest.raises(UnknownCompressionError, match="lz4"):
        hc.compress_bytes("fakemp3", b"abc")


# ------------------------------------------------------------------------------------------ lossless round trips


@SETTINGS
@given(data=st.data())
@pytest.mark.parametrize(
    ("name", "mode"),
    [
        ("png", "L"),
        ("png", "RGB"),
        ("png", "RGBA"),
        ("png", "I;16"),
        ("bmp", "L"),
        ("bmp", "RGB"),
        ("tiff", "L"),
        ("tiff", "RGB"),
        ("tiff", "RGBA"),
        ("tiff", "I;16"),
        ("jpeg2000", "L"),
        ("jpeg2000", "RGB"),
        ("jpeg2000", "RGBA"),
        ("jpeg2000", "I;16"),
        ("gif", "L"),
    ],
)
def test_lossless_round_trip(name: str, mode: str, data: st.DataObject) -> None:
    array = data.draw(images(mode))
    codec = hc.get_codec(name)
    encoded = codec.encode(array)
    assert isinstance(encoded, bytes)
    header = codec.read_header(encoded)
    decoded = codec.decode(encoded)
    assert decoded.dtype == array.dtype
    np.testing.assert_array_equal(decoded, array)
    assert header == (decoded.shape, decoded.dtype)
    assert hc.sniff_compression(encoded) == name


@SETTINGS
@given(data=st.data())
@pytest.mark.parametrize("mode", ["RGB", "RGBA"])
def test_lossless_webp_round_trip(mode: str, data: st.DataObject) -> None:
    array = data.draw(images(mode))
    codec = hc.WebpCodec(lossless=True)
    # libwebp may drop an all-opaque alpha plane; the recorded shape brings it back, as when hub reads a sample.
    decoded = codec.decode(codec.encode(array), shape=array.shape, dtype=array.dtype)
    np.testing.assert_array_equal(decoded, array)


@pytest.mark.parametrize("name", ["png", "bmp", "tiff", "jpeg2000", "gif", "jpeg"])
def test_unit_channel_axis_comes_back_with_the_recorded_shape(name: str) -> None:
    array = smooth_image(20, 30, channels=1)
    codec = hc.get_codec(name)
    encoded = codec.encode(array)
    assert codec.read_shape(encoded) == (20, 30)
    decoded = codec.decode(encoded, shape=(20, 30, 1), dtype=np.uint8)
    assert decoded.shape == (20, 30, 1)
    if not codec.lossy or name == "gif":
        np.testing.assert_array_equal(decoded, array)


def test_gif_keeps_up_to_256_colors_exactly() -> None:
    rng = np.random.default_rng(3)
    palette = rng.integers(0, 256, (256, 3), dtype=np.uint8)
    array = palette[rng.integers(0, 256, (40, 50))]
    np.testing.assert_array_equal(hc.get_codec("gif").decode(hc.get_codec("gif").encode(array)), array)


# ------------------------------------------------------------------------------------------------ lossy codecs


@pytest.mark.parametrize(
    ("codec", "channels", "tolerance"),
    [
        (hc.JpegCodec(), 3, 3.0),
        (hc.JpegCodec(), None, 2.0),
        (hc.JpegCodec(quality=95, subsampling="444"), 3, 2.0),
        (hc.WebpCodec(), 3, 3.0),
        (hc.WebpCodec(), 4, 3.0),
    ],
)
def test_lossy_codecs_stay_close(codec: hc.Codec, channels: int | None, tolerance: float) -> None:
    array = smooth_image(96, 128, channels)
    decoded = codec.decode(codec.encode(array))
    assert decoded.shape == array.shape and decoded.dtype == np.uint8
    error = np.abs(decoded.astype(np.int16) - array).mean()
    assert error < tolerance, error


def test_jpeg_quality_trades_size_for_error() -> None:
    array = smooth_image(96, 128)
    sizes, errors = [], []
    for quality in (50, 90, 100):
        codec = hc.JpegCodec(quality=quality)
        encoded = codec.encode(array)
        sizes.append(len(encoded))
        errors.append(np.abs(codec.decode(encoded).astype(np.int16) - array).mean())
    assert sizes == sorted(sizes) and errors == sorted(errors, reverse=True)


def test_gif_layout_follows_content_but_the_recorded_shape_wins() -> None:
    gif = hc.get_codec("gif")
    gray_rgb = np.repeat(smooth_image(30, 40, None)[:, :, None], 3, axis=2)
    encoded = gif.encode(gray_rgb)
    assert gif.read_shape(encoded) == gif.decode(encoded).shape == (30, 40)
    np.testing.assert_array_equal(gif.decode(encoded, shape=(30, 40, 3)), gray_rgb)

    color = smooth_image(30, 40, 3)
    encoded = gif.encode(color)
    assert gif.decode(encoded).shape == (30, 40, 3)
    np.testing.assert_array_equal(gif.decode(encoded, shape=(30, 40, 4))[:, :, 3], 255)

    holes = smooth_image(30, 40, 4)
    holes[:, :, 3] = 255
    holes[:5, :5, 3] = 0
    decoded = gif.decode(gif.encode(holes), shape=(30, 40, 4))
    assert (decoded[:5, :5, 3] == 0).all() and (decoded[5:, 5:, 3] == 255).all()
    with pytest.raises(CorruptSampleError):
        gif.decode(gif.encode(holes), shape=(30, 40, 3))


# ------------------------------------------------------------------------------------- simplejpeg and Pillow agree


@pytest.mark.parametrize(
    "options",
    [
        {"quality": 90, "subsampling": 2},
        {"quality": 90, "subsampling": 1},
        {"quality": 75, "subsampling": 0},
        {"quality": 90, "progressive": True},
        {"quality": 90, "optimize": True},
    ],
)
@pytest.mark.parametrize("mode", ["RGB", "L"])
def test_simplejpeg_decodes_like_pillow(options: dict[str, Any], mode: str) -> None:
    assert jpeg_module._simplejpeg is not None, "simplejpeg is a dependency of hub-core"
    array = smooth_image(67, 91, 3 if mode == "RGB" else None)
    encoded = pil_bytes(Image.fromarray(array), "JPEG", **options)
    with Image.open(io.BytesIO(encoded)) as im:
        reference = np.asarray(im)
    decoded = hc.get_codec("jpeg").decode(encoded)
    assert decoded.shape == reference.shape
    max_diff = int(np.abs(decoded.astype(np.int16) - reference).max())
    assert max_diff == 0, f"simplejpeg and Pillow differ by up to {max_diff}"


@pytest.mark.parametrize("channels", [3, None])
def test_jpeg_without_simplejpeg(monkeypatch: pytest.MonkeyPatch, channels: int | None) -> None:
    array = smooth_image(50, 70, channels)
    codec = hc.get_codec("jpeg")
    fast_bytes = codec.encode(array)
    fast_pixels = codec.decode(fast_bytes)
    monkeypatch.setattr(jpeg_module, "_simplejpeg", None)
    # Pillow decodes simplejpeg's bytes to the same pixels ...
    np.testing.assert_array_equal(codec.decode(fast_bytes), fast_pixels)
    assert codec.read_header(fast_bytes) == (fast_pixels.shape, np.dtype(np.uint8))
    # ... and its own encoder is as good, if not byte-identical.
    slow_bytes = codec.encode(array)
    assert hc.sniff_compression(slow_bytes) == "jpeg"
    slow_pixels = codec.decode(slow_bytes)
    assert slow_pixels.shape == array.shape
    assert np.abs(slow_pixels.astype(np.int16) - array).mean() < 3


def test_cmyk_jpeg_decodes_to_rgb_through_pillow() -> None:
    rgb = smooth_image(30, 40)
    encoded = pil_bytes(Image.fromarray(rgb).convert("CMYK"), "JPEG", quality=95)
    with Image.open(io.BytesIO(encoded)) as im:
        assert im.mode == "CMYK"
        reference = np.asarray(im.convert("RGB"))
    codec = hc.get_codec("jpeg")
    assert codec.read_shape(encoded) == (30, 40, 3)
    np.testing.assert_array_equal(codec.decode(encoded), reference)


def test_jpeg_with_recoverable_errors_decodes_like_pillow() -> None:
    # Junk between markers: libjpeg warns ("extraneous bytes before marker"), simplejpeg refuses, Pillow decodes.
    encoded = pil_bytes(Image.fromarray(smooth_image(30, 40)), "JPEG", quality=90)
    marker = encoded.index(b"\xff\xdb")
    junky = encoded[:marker] + b"\x00\x00" + encoded[marker:]
    assert jpeg_module._simplejpeg is not None
    with pytest.raises(ValueError):
        jpeg_module._simplejpeg.decode_jpeg(junky)
    with Image.open(io.BytesIO(junky)) as im:
        reference = np.asarray(im)
    np.testing.assert_array_equal(hc.get_codec("jpeg").decode(junky), reference)


# -------------------------------------------------------------------------------------- decoded shapes and dtypes


def _pil_image(mode: str) -> Image.Image:
    rgb = smooth_image(10, 14, 4, seed=5)
    if mode == "gray-P":
        im = Image.frombytes("P", (14, 10), rgb[:, :, 0].tobytes())
        im.putpalette([v for i in range(256) for v in (i, i, i)])
        return im
    if mode == "P+transparency":
        im = Image.fromarray(rgb[:, :, :3]).convert("P")
        im.info["transparency"] = int(np.asarray(im)[0, 0])
        return im
    if mode == "P":
        return Image.fromarray(rgb[:, :, :3]).convert("P")
    if mode == "I;16":
        return Image.fromarray(rgb[:, :, 0].astype(np.uint16) * 257)
    if mode == "I":
        return Image.fromarray((rgb[:, :, 0].astype(np.int64) * 16_000_000 - 2**31 + 5).astype(np.int32))
    if mode == "F":
        return Image.fromarray(rgb[:, :, 0].astype(np.float32) / 7)
    return Image.fromarray(rgb).convert(mode)


# (codec, Pillow mode of the file, decoded shape, decoded dtype)
MODE_CASES = [
    ("png", "1", (10, 14), np.uint8),
    ("png", "L", (10, 14), np.uint8),
    ("png", "LA", (10, 14, 4), np.uint8),
    ("png", "P", (10, 14, 3), np.uint8),
    ("png", "gray-P", (10, 14), np.uint8),
    ("png", "P+transparency", (10, 14, 4), np.uint8),
    ("png", "RGB", (10, 14, 3), np.uint8),
    ("png", "RGBA", (10, 14, 4), np.uint8),
    ("png", "I;16", (10, 14), np.uint16),
    ("bmp", "1", (10, 14), np.uint8),
    ("bmp", "P", (10, 14, 3), np.uint8),
    ("gif", "L", (10, 14), np.uint8),
    ("gif", "P", (10, 14, 3), np.uint8),
    ("gif", "P+transparency", (10, 14, 4), np.uint8),
    ("tiff", "1", (10, 14), np.uint8),
    ("tiff", "CMYK", (10, 14, 3), np.uint8),
    ("tiff", "LA", (10, 14, 4), np.uint8),
    ("tiff", "I;16", (10, 14), np.uint16),
    ("tiff", "I", (10, 14), np.int32),
    ("tiff", "F", (10, 14), np.float32),
    ("webp", "RGB", (10, 14, 3), np.uint8),
    ("webp", "RGBA", (10, 14, 4), np.uint8),
    ("jpeg", "L", (10, 14), np.uint8),
    ("jpeg", "RGB", (10, 14, 3), np.uint8),
    ("jpeg", "CMYK", (10, 14, 3), np.uint8),
    ("jpeg2000", "L", (10, 14), np.uint8),
    ("jpeg2000", "RGBA", (10, 14, 4), np.uint8),
    ("jpeg2000", "I;16", (10, 14), np.uint16),
]


@pytest.mark.parametrize(("name", "mode", "shape", "dtype"), MODE_CASES)
def test_decoded_shape_and_dtype_per_mode(name: str, mode: str, shape: tuple[int, ...], dtype: Any) -> None:
    codec = hc.get_codec(name)
    assert isinstance(codec, hc.PillowCodec)
    encoded = pil_bytes(_pil_image(mode), codec.pil_format)
    decoded = codec.decode(encoded)
    assert (decoded.shape, decoded.dtype) == (shape, np.dtype(dtype))
    assert codec.read_header(encoded) == (shape, np.dtype(dtype))
    assert decoded.flags.writeable and decoded.flags.c_contiguous
    with Image.open(io.BytesIO(encoded)) as im:
        if not codec.lossy and mode not in ("I", "F"):
            target = {1: "L", 3: "RGB", 4: "RGBA"}[decoded.shape[2] if decoded.ndim == 3 else 1]
            expected = np.asarray(im if dtype is np.uint16 else im.convert(target))
            np.testing.assert_array_equal(decoded, expected.astype(dtype))
        elif mode in ("I", "F"):
            np.testing.assert_array_equal(decoded, np.asarray(im))


def test_one_bit_images_decode_to_0_and_255() -> None:
    encoded = pil_bytes(_pil_image("1"), "PNG")
    assert set(np.unique(hc.get_codec("png").decode(encoded))) <= {0, 255}


def test_gray_palette_decodes_like_the_gray_image() -> None:
    im = _pil_image("gray-P")
    gray = np.asarray(im.convert("L"))
    np.testing.assert_array_equal(hc.get_codec("png").decode(pil_bytes(im, "PNG")), gray)
    np.testing.assert_array_equal(hc.get_codec("gif").decode(pil_bytes(im, "GIF")), gray)


def test_first_frame_of_an_animation() -> None:
    frames = [Image.fromarray(smooth_image(12, 16, 3, seed=s)).convert("P") for s in range(3)]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:])
    decoded = hc.get_codec("gif").decode(buffer.getvalue())
    np.testing.assert_array_equal(decoded, np.asarray(frames[0].convert("RGB")))


def test_jpeg2000_codestream_without_container() -> None:
    array = smooth_image(20, 24)
    encoded = pil_bytes(Image.fromarray(array), "JPEG2000", no_jp2=True)
    assert encoded.startswith(b"\xff\x4f\xff\x51")
    assert hc.sniff_compression(encoded) == "jpeg2000"
    codec = hc.get_codec("j2k")
    np.testing.assert_array_equal(codec.decode(encoded), array)
    assert codec.read_shape(encoded) == (20, 24, 3)


@pytest.mark.parametrize("name", STILL)
def test_read_shape_matches_decode(name: str) -> None:
    codec = hc.get_codec(name)
    modes = getattr(codec, "encode_modes", ("RGB",))
    for mode in modes:
        array = layout_array(mode, 33, 45) if mode in LAYOUTS else smooth_image(33, 45)
        encoded = codec.encode(array)
        decoded = codec.decode(encoded)
        assert codec.read_shape(encoded) == decoded.shape
        assert codec.read_header(encoded) == (decoded.shape, decoded.dtype)
        assert decoded.flags.writeable


# ---------------------------------------------------------------------------------------- what encode refuses

REFUSED: list[tuple[str, np.ndarray[Any, Any]]] = [
    ("jpeg", np.zeros((4, 4, 4), np.uint8)),
    ("jpeg", np.zeros((4, 4), np.uint16)),
    ("webp", np.zeros((4, 4), np.uint8)),
    ("webp", np.zeros((4, 4, 1), np.uint8)),
    ("bmp", np.zeros((4, 4, 4), np.uint8)),
    ("bmp", np.zeros((4, 4), np.uint16)),
    ("gif", np.zeros((4, 4), np.uint16)),
    ("png", np.zeros((4, 4, 3), np.uint16)),
    ("png", np.zeros((4, 4), np.float32)),
    ("png", np.zeros((4, 4), np.int8)),
    ("png", np.zeros((4, 4), bool)),
    ("png", np.zeros((4, 4, 2), np.uint8)),
    ("png", np.zeros((4,), np.uint8)),
    ("png", np.zeros((2, 4, 4, 3), np.uint8)),
    ("png", np.zeros((0, 4, 3), np.uint8)),
    ("tiff", np.zeros((4, 4, 5), np.uint8)),
    ("jpeg2000", np.zeros((4, 4), np.int16)),
]


@pytest.mark.parametrize(("name", "array"), REFUSED, ids=[f"{n}-{a.dtype}-{a.shape}" for n, a in REFUSED])
def test_encode_refuses_what_the_format_cannot_hold(name: str, array: np.ndarray[Any, Any]) -> None:
    with pytest.raises(SampleCompressionError) as info:
        hc.get_codec(name).encode(array)
    message = str(info.value)
    assert name in message and str(array.shape) in message and str(array.dtype) in message
    assert isinstance(info.value, ValueError)


def test_encode_wraps_errors_of_the_image_library() -> None:
    with pytest.raises(SampleCompressionError, match="webp"):
        hc.get_codec("webp").encode(np.zeros((1, 20000, 3), np.uint8))  # WebP's limit is 16383 pixels


def test_encode_accepts_non_contiguous_and_big_endian_arrays() -> None:
    array = smooth_image(20, 30)
    np.testing.assert_array_equal(
        hc.get_codec("png").decode(hc.get_codec("png").encode(array[::-1, ::2])), array[::-1, ::2]
    )
    wide = layout_array("I;16").astype(">u2")
    np.testing.assert_array_equal(hc.get_codec("png").decode(hc.get_codec("png").encode(wide)), wide)


# ------------------------------------------------------------------------------------------- corrupt inputs


def _valid(name: str) -> bytes:
    codec = hc.get_codec(name)
    if name == "lz4":
        return codec.encode(smooth_image(30, 40))
    return codec.encode(smooth_image(30, 40, 3 if "RGB" in getattr(codec, "encode_modes", ()) else None))


@pytest.mark.parametrize("name", STILL)
def test_truncated_data_is_corrupt(name: str) -> None:
    valid = _valid(name)
    hc.verify(valid, name)
    for length in (0, 1, 3, 7, 16, len(valid) // 3, len(valid) // 2, len(valid) - 5, len(valid) - 1):
        with pytest.raises(CorruptSampleError, match=name):
            hc.verify(valid[:length], name)
    # Decoding stops at the pixels: a file cut after them (in PNG's IEND, before GIF's trailer) still decodes.
    for length in (0, 1, 3, 7, 16, len(valid) // 3, len(valid) // 2):
        with pytest.raises(CorruptSampleError, match=name):
            hc.get_codec(name).decode(valid[:length])
    for length in (0, 1, 3, 7):
        with pytest.raises(CorruptSampleError, match=name):
            hc.get_codec(name).read_shape(valid[:length])


@pytest.mark.parametrize("name", STILL)
def test_garbage_and_other_formats_are_corrupt(name: str) -> None:
    codec = hc.get_codec(name)
    garbage = np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes()
    for data in (garbage, b"not an image at all", b""):
        with pytest.raises(CorruptSampleError):
            codec.decode(data)
        with pytest.raises(CorruptSampleError):
            codec.read_header(data)
    for other in hc.IMAGE_COMPRESSIONS:
        if other != name:
            with pytest.raises(CorruptSampleError):
                hc.verify(_valid(other), name)


@pytest.mark.parametrize("name", hc.IMAGE_COMPRESSIONS)
def test_corrupt_header_fails_read_shape(name: str) -> None:
    valid = bytearray(_valid(name))
    valid[:4] = b"\x00\x00\x00\x00"
    with pytest.raises(CorruptSampleError, match=name):
        hc.get_codec(name).read_shape(bytes(valid))


@settings(max_examples=25, deadline=None)
@given(data=st.data())
@pytest.mark.parametrize("name", STILL)
def test_damaged_data_never_raises_a_foreign_error(name: str, data: st.DataObject) -> None:
    damaged = bytearray(_valid(name))
    for _ in range(data.draw(st.integers(1, 8))):
        position = data.draw(st.integers(0, len(damaged) - 1))
        damaged[position] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(1, len(damaged)))
    codec = hc.get_codec(name)
    for call in (codec.decode, codec.read_header, codec.verify):
        try:
            call(bytes(damaged[:cut]))
        except CorruptSampleError:
            pass


def test_corrupt_error_keeps_the_cause() -> None:
    with pytest.raises(CorruptSampleError, match="Cannot decode png data") as info:
        hc.get_codec("png").decode(b"\x89PNG\r\n\x1a\n" + b"\x00" * 30)
    assert info.value.__cause__ is not None


def test_png_verify_catches_a_flipped_bit_and_a_missing_end() -> None:
    valid = _valid("png")
    flipped = bytearray(valid)
    flipped[len(valid) // 2] ^= 0x10
    with pytest.raises(CorruptSampleError):
        hc.verify(bytes(flipped), "png")
    with pytest.raises(CorruptSampleError, match="IEND"):
        hc.verify(valid[:-4] + b"\x00\x00\x00\x00", "png")
    hc.verify(valid + b"trailing bytes", "png")


def test_recorded_shape_or_dtype_that_disagrees_is_corrupt() -> None:
    codec = hc.get_codec("png")
    encoded = codec.encode(smooth_image(10, 12))
    with pytest.raises(CorruptSampleError, match=r"\(10, 12, 3\)"):
        codec.decode(encoded, shape=(12, 10, 3))
    with pytest.raises(CorruptSampleError, match="uint16"):
        codec.decode(encoded, dtype=np.uint16)
    assert codec.decode(encoded, shape=(1, 10, 12, 3)).shape == (1, 10, 12, 3)


# --------------------------------------------------------------------------------------------------------- sniff


def _wav() -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(np.zeros(100, np.int16).tobytes())
    return buffer.getvalue()


_ID3 = b"ID3\x04\x00\x00\x00\x00\x00\x0a" + b"\x00" * 10
_MP3_FRAME = b"\xff\xfb\x90\x64" + b"\x00" * 60
_ADTS_FRAME = b"\xff\xf1\x50\x80\x02\x1f\xfc" + b"\x00" * 30
_EBML = b"\x1a\x45\xdf\xa3\xa3\x42\x86\x81\x01\x42\xf7\x81\x01\x42\xf2\x81\x04\x42\xf3\x81\x08\x42\x82"

SNIFF_CASES = {
    "wav": _wav(),
    "flac": b"fLaC\x00\x00\x00\x22" + b"\x00" * 34,
    "flac after an ID3 tag": _ID3 + b"fLaC\x00\x00\x00\x22",
    "ogg": b"OggS\x00\x02" + b"\x00" * 40,
    "mp3 with ID3": _ID3 + _MP3_FRAME,
    "mp3 with a truncated ID3 tag": b"ID3\x04\x00\x00\x00\x00\x10\x00",
    "mp3 frame": _MP3_FRAME,
    "aac (ADTS)": _ADTS_FRAME,
    "mp4": b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2" + b"\x00" * 8,
    "m4a": b"\x00\x00\x00\x1cftypM4A \x00\x00\x00\x00M4A isom" + b"\x00" * 8,
    "mov": b"\x00\x00\x00\x14ftypqt  \x00\x00\x02\x00qt  ",
    "mkv": _EBML + b"\x88matroska\x42\x87\x81\x04\x42\x85\x81\x02",
    "webm": _EBML + b"\x84webm\x42\x87\x81\x04\x42\x85\x81\x02",
    "avi": b"RIFF\x00\x10\x00\x00AVI LIST" + b"\x00" * 20,
}
SNIFF_EXPECTED = {
    "flac after an ID3 tag": "flac",
    "mp3 with ID3": "mp3",
    "mp3 with a truncated ID3 tag": "mp3",
    "mp3 frame": "mp3",
    "aac (ADTS)": "aac",
    "m4a": "aac",  # by its brand: AAC audio, decoded by the aac codec
    "mov": "mp4",
}


@pytest.mark.parametrize("case", SNIFF_CASES)
def test_sniff_audio_and_video(case: str) -> None:
    assert hc.sniff_compression(SNIFF_CASES[case]) == SNIFF_EXPECTED.get(case, case)


@pytest.mark.parametrize("name", hc.IMAGE_COMPRESSIONS)
def test_sniff_images(name: str) -> None:
    data = _valid(name)
    assert hc.sniff_compression(data) == name
    assert hc.sniff_compression(memoryview(data)) == name
    assert hc.sniff_compression(bytearray(data[:64])) == name


@pytest.mark.parametrize("fmt", ["BMP", "GIF", "JPEG", "PNG", "TIFF", "WEBP", "JPEG2000"])
def test_sniff_files_made_by_pillow(fmt: str) -> None:
    name = {"JPEG2000": "jpeg2000"}.get(fmt, fmt.lower())
    assert hc.sniff_compression(pil_bytes(Image.fromarray(smooth_image(8, 8)), fmt)) == name


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\xff",
        b"hello world",
        b"BMW is a car, not a bitmap header",
        b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic",
        b"\x00\x00\x00\x18ftypavif\x00\x00\x00\x00mif1avif",
        b"RIFF\x00\x00\x00\x00XXXX",
        b"\xff\xff\xff\xff",
        b"\xff\xfa\xf0\x00",  # frame sync with a reserved bitrate
    ],
)
def test_sniff_unknown(data: bytes) -> None:
    assert hc.sniff_compression(data) is None


# ---------------------------------------------------------------------------------------------------------- lz4


@pytest.mark.parametrize(
    "data",
    [b"", b"a", b"abc" * 1000, bytes(range(256)) * 7],
    ids=["empty", "one-byte", "repetitive", "ramp"],
)
def test_lz4_bytes_round_trip(data: bytes) -> None:
    compressed = hc.compress_bytes("lz4", data)
    assert struct.unpack_from("<I", compressed)[0] == len(data)
    assert hc.decompress_bytes("lz4", compressed) == data
    assert hc.get_codec("lz4").read_shape(compressed) == (len(data),)


def test_lz4_20_mb_round_trip() -> None:
    rng = np.random.default_rng(0)
    for data in (
        rng.integers(0, 256, 20 * 2**20, dtype=np.uint8).tobytes(),
        bytes(20 * 2**20),
        np.repeat(rng.integers(0, 1000, 2**20), 5).astype(np.int32).tobytes(),
    ):
        compressed = hc.compress_bytes("lz4", memoryview(data))
        assert hc.decompress_bytes("lz4", compressed) == data
    assert len(hc.compress_bytes("lz4", bytes(20 * 2**20))) < 20 * 2**20 // 200


def test_lz4_corruption_is_detected() -> None:
    compressed = hc.compress_bytes("lz4", b"hello hub " * 500)
    forged_size = struct.pack("<I", 2**31 - 1) + compressed[4:]
    cases = [
        compressed[:-3],
        compressed[:4],
        compressed[:2],
        b"",
        forged_size,
        struct.pack("<I", 5001) + compressed[4:],
    ]
    for bad in cases:
        with pytest.raises(CorruptSampleError, match="lz4"):
            hc.decompress_bytes("lz4", bad)
    with pytest.raises(CorruptSampleError, match="impossible"):
        hc.get_codec("lz4").read_shape(forged_size)


def test_lz4_refuses_image_names_for_bytes() -> None:
    with pytest.raises(UnknownCompressionError, match="image codec 'jpeg'"):
        hc.compress_bytes("jpg", b"abc")
    with pytest.raises(UnknownCompressionError, match="lz4"):
        hc.decompress_bytes("png", b"abc")


@SETTINGS
@given(
    array=hnp.arrays(
        st.one_of(hnp.integer_dtypes(), hnp.unsigned_integer_dtypes(), hnp.floating_dtypes(), st.just(np.dtype(bool))),
        hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=6),
    )
)
def test_lz4_samples_of_any_dtype(array: np.ndarray[Any, Any]) -> None:
    codec = hc.get_codec("lz4")
    encoded = codec.encode(array)
    decoded = codec.decode(encoded, shape=array.shape, dtype=array.dtype)
    assert decoded.shape == array.shape and decoded.dtype == array.dtype
    assert decoded.tobytes() == array.tobytes()
    assert decoded.flags.writeable
    flat = codec.decode(encoded)
    assert flat.dtype == np.uint8 and flat.shape == codec.read_shape(encoded) == (array.nbytes,)


def test_lz4_sample_with_a_wrong_recorded_shape_is_corrupt() -> None:
    codec = hc.get_codec("lz4")
    encoded = codec.encode(np.arange(12, dtype=np.int32))
    with pytest.raises(CorruptSampleError, match="48 bytes"):
        codec.decode(encoded, shape=(13,), dtype=np.int32)
    with pytest.raises(CorruptSampleError, match="whole number"):
        codec.decode(encoded, dtype=np.dtype("V5"))
    with pytest.raises(SampleCompressionError, match="object"):
        codec.encode(np.array([object()]))


# ------------------------------------------------------------------------------------ region and batch decoding


@pytest.mark.parametrize("name", STILL)
def test_decode_region_is_a_compact_crop(name: str) -> None:
    codec = hc.get_codec(name)
    encoded = _valid(name)
    shape = (30, 40, 3) if name == "lz4" else None
    full = codec.decode(encoded, shape=shape, dtype=np.uint8 if name == "lz4" else None)
    for rows, cols in [(slice(3, 17), slice(5, 9)), (slice(None), slice(None, None, 3)), (slice(29, 30), slice(0, 1))]:
        region = codec.decode_region(encoded, rows, cols, shape=shape)
        np.testing.assert_array_equal(region, full[rows, cols])
        assert region.flags.c_contiguous


def test_decode_many() -> None:
    arrays = [smooth_image(10 + i, 12, seed=i) for i in range(4)]
    blobs = [hc.get_codec("png").encode(a) for a in arrays]
    for got, want in zip(hc.decode_many("png", blobs), arrays, strict=True):
        np.testing.assert_array_equal(got, want)
    raw = [hc.get_codec("lz4").encode(a) for a in arrays]
    decoded = hc.decode_many("lz4", raw, shapes=[a.shape for a in arrays], dtype=np.uint8)
    for got, want in zip(decoded, arrays, strict=True):
        np.testing.assert_array_equal(got, want)
    assert hc.decode_many("jpg", []) == []
    with pytest.raises(ValueError, match="shapes"):
        hc.decode_many("lz4", raw, shapes=[(1,)])


def test_errors_are_exported() -> None:
    for cls in (UnknownCompressionError, SampleCompressionError, CorruptSampleError):
        assert cls.__name__ in hub.errors.__all__
        assert issubclass(cls, HubError) and issubclass(cls, ValueError)
