"""Audio tensors: files stored verbatim, decoded to (samples, channels), sample ranges, encoded arrays."""

from __future__ import annotations

import functools
import io
import sys
import tempfile
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import hub
from hub.compression import AudioCodec, get_codec
from hub.errors import CorruptSampleError, DatasetIndexError, MissingDependencyError
from tests.core.media._make import AUDIO_FORMATS, decode_audio, mem_url, tone, write_audio

RATE = 48000
LOSSLESS = ("wav", "flac")
#: hub's compression for each written format: an m4a file is AAC in an MPEG-4 container.
COMPRESSION = {"wav": "wav", "flac": "flac", "mp3": "mp3", "aac": "aac", "m4a": "aac", "ogg": "ogg"}


@pytest.fixture(scope="module")
def sounds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("sounds")
    samples = tone(RATE, RATE)  # one second of stereo
    return {fmt: write_audio(root / f"chord.{ext}", samples, fmt, RATE) for fmt, (_, _, ext) in AUDIO_FORMATS.items()}


@pytest.mark.parametrize("fmt", list(AUDIO_FORMATS))
def test_file_is_stored_verbatim_and_decodes_like_pyav(fmt: str, sounds: dict[str, Path]) -> None:
    ds = hub.empty(mem_url())
    ds.create_tensor("audio", htype="audio", sample_compression=COMPRESSION[fmt])
    ds.audio.append(hub.read(sounds[fmt]))
    data = sounds[fmt].read_bytes()
    reference, rate = decode_audio(data)
    assert ds.audio[0].tobytes() == data
    assert ds.audio[0].shape == reference.shape and reference.shape[1] == 2
    decoded = ds.audio[0].numpy()
    assert decoded.dtype == np.float32
    np.testing.assert_array_equal(decoded, reference)
    info = ds.audio[0].sample_info
    assert info["sample_rate"] == rate == RATE and info["channels"] == 2
    assert info["duration"] == pytest.approx(len(reference) / RATE)
    if fmt in ("wav", "flac"):  # lossless at 16 bits
        np.testing.assert_allclose(decoded, tone(RATE, RATE), atol=1 / 2**15)


@pytest.mark.parametrize("fmt", list(AUDIO_FORMATS))
@pytest.mark.parametrize("span", [slice(0, 100), slice(12345, 23456), slice(30000, None), slice(-500, None)])
def test_sample_range_equals_the_same_samples_of_a_full_decode(fmt: str, span: slice, sounds: dict[str, Path]) -> None:
    ds = hub.empty(mem_url())
    ds.create_tensor("audio", htype="audio", sample_compression=COMPRESSION[fmt])
    ds.audio.append(hub.read(sounds[fmt]))
    full = ds.audio[0].numpy()
    # A lossy decoder started from a seek settles within its preroll, up to codec noise (AAC's noise substitution).
    same = (
        np.testing.assert_array_equal if fmt in LOSSLESS else functools.partial(np.testing.assert_allclose, atol=0.01)
    )
    same(ds.audio[0, span].numpy(), full[span])
    same(ds.audio[0, span, 1].numpy(), full[span, 1])
    same(ds.audio[0, 30000:40000:7].numpy(), full[30000:40000:7])
    same(ds.audio[0, 33333].numpy(), full[33333])
    same(ds.audio[0, -5, 1].numpy(), full[-5, 1])
    np.testing.assert_array_equal(ds.audio[0, 3000:1000:-7].numpy(), full[3000:1000:-7])
    with pytest.raises(DatasetIndexError, match="out of range"):
        ds.audio[0, len(full)].numpy()


def _frames_in(data: bytes) -> int:
    with av.open(io.BytesIO(data)) as container:
        return sum(1 for _ in container.decode(audio=0))


@pytest.mark.parametrize("fmt", list(AUDIO_FORMATS))
def test_a_sample_range_is_decoded_from_a_seek_not_from_the_start(fmt: str) -> None:
    codec, data, full = _six_seconds(fmt)
    assert isinstance(codec, AudioCodec)
    np.testing.assert_array_equal(full, decode_audio(data)[0])
    frames = _frames_in(data)
    for start in (4 * RATE + 123, len(full) - 700):
        result = codec.decode_range(data, start, start + 600)
        if fmt in LOSSLESS:
            np.testing.assert_array_equal(result.samples, full[start : start + 600])
        else:
            np.testing.assert_allclose(result.samples, full[start : start + 600], atol=0.01)
        if fmt == "wav":
            assert result.decoded == 0  # PCM is sliced out of the file, not decoded
        else:
            # Ogg seeks to a page and Opus needs 0.5 s to settle: up to 1.5 s of 6; the others need a few frames.
            assert 0 < result.decoded <= frames // (3 if fmt == "ogg" else 8), (result.decoded, frames)
    assert codec.decode_range(data, 0, 600).decoded <= 8  # the beginning needs no seek


@pytest.mark.parametrize("encoder", ["pcm_u8", "pcm_s16le", "pcm_s24le", "pcm_s32le", "pcm_f32le", "pcm_f64le"])
def test_pcm_wav_ranges_are_sliced_exactly_as_ffmpeg_decodes(encoder: str, tmp_path: Path) -> None:
    data = write_audio(tmp_path / "pcm.wav", tone(5000, 8000), rate=8000, encoder=encoder).read_bytes()
    codec = get_codec("wav")
    assert isinstance(codec, AudioCodec)
    full = codec.decode(data)
    np.testing.assert_array_equal(full, decode_audio(data)[0])
    for start, stop in [(0, 5000), (1234, 1300), (4990, 6000), (3000, 3000)]:
        result = codec.decode_range(data, start, stop)
        assert result.decoded == 0 and result.samples.dtype == np.float32
        np.testing.assert_array_equal(result.samples, full[start:stop])


def test_wav_that_is_not_pcm_is_decoded_by_ffmpeg(tmp_path: Path) -> None:
    data = write_audio(
        tmp_path / "mulaw.wav", tone(4000, 8000, channels=1), rate=8000, encoder="pcm_mulaw"
    ).read_bytes()
    codec = get_codec("wav")
    assert isinstance(codec, AudioCodec)
    result = codec.decode_range(data, 2500, 2600)
    assert result.decoded > 0
    np.testing.assert_array_equal(result.samples, decode_audio(data)[0][2500:2600])


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 6 * RATE), st.integers(0, 6000))
@example(276240, 1)  # FFmpeg refuses to seek a FLAC file there: the seek is retried from further back
def test_any_range_equals_the_same_samples_of_a_full_decode(start: int, length: int) -> None:
    for fmt in AUDIO_FORMATS:
        codec, data, full = _six_seconds(fmt)
        got, want = codec.decode_samples(data, start, start + length), full[start : start + length]
        if fmt in LOSSLESS:
            np.testing.assert_array_equal(got, want)
        else:
            np.testing.assert_allclose(got, want, atol=0.01)


@pytest.mark.parametrize("compression", ["wav", "flac", "mp3", "ogg"])
def test_numpy_samples_are_encoded_at_the_tensor_rate(compression: str, tmp_path: Path) -> None:
    ds = hub.empty(tmp_path / "ds")
    ds.create_tensor("audio", htype="audio", sample_compression=compression, sample_rate=16000)
    mono = tone(8000, 16000, channels=1)
    ds.audio.extend([mono, tone(4000, 16000)])
    ds = hub.load(tmp_path / "ds", read_only=True)
    assert ds.audio[0].sample_info["sample_rate"] == (48000 if compression == "ogg" else 16000)  # Opus: 48 kHz
    assert ds.audio[0].numpy().shape[1] == 1 and ds.audio[1].numpy().shape[1] == 2
    if compression in ("wav", "flac"):
        np.testing.assert_allclose(ds.audio[0].numpy(), mono, atol=1 / 2**15)
    else:  # lossy, with encoder delay: compare energy, not samples
        assert np.sqrt(np.mean(ds.audio[0].numpy() ** 2)) == pytest.approx(np.sqrt(np.mean(mono**2)), rel=0.15)


def test_corrupt_audio_gives_a_clear_error(sounds: dict[str, Path], tmp_path: Path) -> None:
    ds = hub.empty(mem_url())
    ds.create_tensor("audio", htype="audio", sample_compression="flac")
    bad = tmp_path / "bad.flac"
    bad.write_bytes(b"fLaC" + bytes(range(256)) * 16)
    with pytest.raises(CorruptSampleError, match="flac"):
        ds.audio.append(hub.read(bad))
    assert len(ds.audio) == 0
    with pytest.raises(CorruptSampleError, match="wav"):
        get_codec("wav").decode(b"RIFF\x00\x00\x00\x00WAVEfmt " + b"\xff" * 40)
    with pytest.raises(CorruptSampleError):
        get_codec("mp3").read_header(b"")


def test_m4a_files_are_aac(sounds: dict[str, Path]) -> None:
    sample = hub.read(sounds["m4a"], verify=True)
    assert sample.compression == "aac"
    assert sample.shape == decode_audio(sounds["m4a"].read_bytes())[0].shape


def test_audio_refuses_video_files(tmp_path: Path) -> None:
    ds = hub.empty(mem_url())
    with pytest.raises(hub.errors.TensorMetaError, match="mp4"):
        ds.create_tensor("audio", htype="audio", sample_compression="mp4")


def test_without_pyav_the_error_names_the_extra(monkeypatch: pytest.MonkeyPatch, sounds: dict[str, Path]) -> None:
    monkeypatch.setitem(sys.modules, "av", None)  # what an environment without PyAV looks like to an import
    data = sounds["wav"].read_bytes()
    with pytest.raises(MissingDependencyError, match=r"pip install 'hub-core\[av\]'") as info:
        get_codec("wav").decode(data)
    assert isinstance(info.value, ImportError)
    ds = hub.empty(mem_url())
    ds.create_tensor("audio", htype="audio", sample_compression="wav")
    with pytest.raises(MissingDependencyError):
        ds.audio.append(hub.read(sounds["wav"]))
    assert len(ds.audio) == 0


@functools.cache
def _six_seconds(fmt: str) -> tuple[Any, bytes, np.ndarray]:
    """A 6 s file of ``fmt``, its codec and full decode, made once per session (hypothesis examples share it)."""
    with tempfile.TemporaryDirectory() as root:
        ext = AUDIO_FORMATS[fmt][2]
        data = write_audio(Path(root) / f"long.{ext}", tone(6 * RATE, RATE), fmt, RATE).read_bytes()
    codec = get_codec(COMPRESSION[fmt])
    return codec, data, codec.decode(data)
