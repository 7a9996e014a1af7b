"""Video tensors: files stored verbatim, frames decoded (all, or a range by seeking), timestamps, encoded arrays."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

import hub
from hub.compression import VideoCodec, get_codec
from hub.errors import CorruptSampleError, DatasetIndexError, MissingDependencyError, SampleShapeError
from tests.core.media._make import (
    VIDEO_FORMATS,
    decode_video,
    mem_url,
    moving_frames,
    tone,
    write_movie,
    write_video,
)

FPS = 25
GOP = 10


@pytest.fixture(scope="module")
def videos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One 60-frame clip per container, a keyframe every 10 frames."""
    root = tmp_path_factory.mktemp("videos")
    frames = moving_frames(60)
    return {fmt: write_video(root / f"clip.{fmt}", frames, fmt, FPS, GOP) for fmt in VIDEO_FORMATS}


@pytest.mark.parametrize("fmt", list(VIDEO_FORMATS))
def test_file_is_stored_verbatim_and_decodes_like_pyav(fmt: str, videos: dict[str, Path]) -> None:
    ds = hub.empty(mem_url())
    ds.create_tensor("videos", htype="video", sample_compression=fmt)
    ds.videos.append(hub.read(videos[fmt]))
    reference = decode_video(videos[fmt])
    assert ds.videos[0].tobytes() == videos[fmt].read_bytes()
    assert ds.videos[0].shape == reference.shape == (60, 48, 64, 3)
    assert ds.videos.shape == (1, 60, 48, 64, 3)
    decoded = ds.videos[0].numpy()
    np.testing.assert_array_equal(decoded, reference)
    # Within codec tolerance of what was encoded.
    assert np.abs(decoded.astype(int) - moving_frames(60)).mean() < 8


@pytest.mark.parametrize("fmt", list(VIDEO_FORMATS))
@pytest.mark.parametrize("frames", [slice(25, 45, 5), slice(0, 3), slice(57, None), slice(12, 13), [40, 3, 41]])
def test_frame_range_equals_the_same_frames_of_a_full_decode(
    fmt: str, frames: slice | list[int], videos: dict[str, Path]
) -> None:
    ds = hub.empty(mem_url())
    ds.create_tensor("videos", htype="video", sample_compression=fmt)
    ds.videos.append(hub.read(videos[fmt]))
    full = ds.videos[0].numpy()
    np.testing.assert_array_equal(ds.videos[0, frames].numpy(), full[frames])
    assert ds.videos[0, frames].shape == full[frames].shape
    np.testing.assert_array_equal(ds.videos[0, 33].numpy(), full[33])
    np.testing.assert_array_equal(ds.videos[0, 20:30, 5:9, :, 1].numpy(), full[20:30, 5:9, :, 1])
    with pytest.raises(DatasetIndexError, match="60 frames"):
        ds.videos[0, 60].numpy()
    with pytest.raises(DatasetIndexError, match="60 frames"):
        ds.videos[0, [3, 70]].numpy()


@pytest.mark.parametrize("fmt", list(VIDEO_FORMATS))
def test_seeking_decodes_from_the_keyframe_before_the_range(fmt: str, videos: dict[str, Path]) -> None:
    codec = get_codec(fmt)
    assert isinstance(codec, VideoCodec)
    data = videos[fmt].read_bytes()
    # Frames 45..50: the keyframe before them is frame 40, so at most 11 frames are decoded, not 51.
    result = codec.decode_frames(data, range(45, 51))
    assert 6 <= result.decoded <= 11 + 2  # an encoder may place a keyframe a frame or two away
    np.testing.assert_array_equal(result.frames, decode_video(data)[45:51])
    # Far-apart frames seek again instead of decoding everything between them.
    sparse = codec.decode_frames(data, [5, 55])
    assert sparse.decoded <= 2 * (GOP + 2)


def test_timestamps_come_from_the_container(videos: dict[str, Path]) -> None:
    ds = hub.empty(mem_url())
    ds.create_tensor("videos", htype="video", sample_compression="mp4")
    ds.videos.append(hub.read(videos["mp4"]))
    stamps = ds.videos[0].timestamps
    np.testing.assert_allclose(stamps, np.arange(60) / FPS, atol=1e-3)
    np.testing.assert_allclose(ds.videos[0, 10:20:2].timestamps, stamps[10:20:2])
    info = ds.videos[0].sample_info
    assert info["fps"] == pytest.approx(FPS)
    assert info["duration"] == pytest.approx(60 / FPS, abs=0.05)
    assert info["codec"] == "h264" and info["format"] == "mp4" and info["shape"] == [60, 48, 64, 3]


def test_numpy_frames_are_encoded_with_the_named_codec(tmp_path: Path) -> None:
    ds = hub.empty(tmp_path / "ds")
    ds.create_tensor(
        "clips", htype="video", sample_compression="mkv", fps=12, encoder="libx264", encoder_options={"crf": "12"}
    )
    frames = moving_frames(16, 32, 48)
    ds.clips.extend([frames, frames[:5]])
    ds = hub.load(tmp_path / "ds", read_only=True)
    assert ds.clips.shape == (2, None, 32, 48, 3)
    decoded = ds.clips[0].numpy()
    assert decoded.shape == frames.shape
    assert np.abs(decoded.astype(int) - frames).mean() < 5  # 4:2:0 chroma on tiny frames
    np.testing.assert_array_equal(decoded, decode_video(ds.clips[0].tobytes()))
    info = ds.clips[1].sample_info
    assert info["codec"] == "h264" and info["fps"] == pytest.approx(12) and info["shape"] == [5, 32, 48, 3]
    # The encoder options reach the encoder: a coarser quantizer makes a smaller file.
    coarse = hub.empty(mem_url())
    coarse.create_tensor("clips", htype="video", sample_compression="mkv", encoder_options={"crf": "45"})
    coarse.clips.append(frames)
    assert len(coarse.clips[0].tobytes()) < len(ds.clips[0].tobytes())


def test_arrays_that_are_not_video_are_refused() -> None:
    ds = hub.empty(mem_url())
    ds.create_tensor("videos", htype="video", sample_compression="mp4")
    with pytest.raises(SampleShapeError, match="4"):
        ds.videos.append(np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(hub.errors.SampleCompressionError, match="even"):
        ds.videos.append(np.zeros((2, 7, 8, 3), np.uint8))
    assert len(ds.videos) == 0


def test_a_video_larger_than_a_chunk_is_stored_whole(videos: dict[str, Path], tmp_path: Path) -> None:
    data = videos["avi"].read_bytes()
    ds = hub.empty(tmp_path / "ds")
    ds.create_tensor("videos", htype="video", sample_compression="avi", max_chunk_size=4096)
    assert len(data) > 4096
    ds.videos.extend([hub.read(videos["avi"]), hub.read(videos["avi"])])
    ds = hub.load(tmp_path / "ds", read_only=True)
    assert ds.videos[1].tobytes() == data
    np.testing.assert_array_equal(ds.videos[1, 30:33].numpy(), decode_video(data)[30:33])


def test_corrupt_video_gives_a_clear_error(videos: dict[str, Path], tmp_path: Path) -> None:
    data = videos["mp4"].read_bytes()
    truncated = tmp_path / "cut.mp4"
    truncated.write_bytes(data[: len(data) // 2])
    ds = hub.empty(mem_url())
    ds.create_tensor("videos", htype="video", sample_compression="mp4")
    with pytest.raises(CorruptSampleError, match="mp4"):
        ds.videos.append(hub.read(truncated))
    with pytest.raises(CorruptSampleError, match="mp4"):
        hub.read(truncated, verify=True)
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(data[:32] + bytes(range(256)) * 8)
    with pytest.raises(CorruptSampleError):
        ds.videos.append(hub.read(garbage))
    assert len(ds.videos) == 0
    with pytest.raises(CorruptSampleError):
        get_codec("mp4").decode(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 100)


def test_play_gives_a_notebook_player(videos: dict[str, Path]) -> None:
    ds = hub.empty(mem_url())
    ds.create_tensor("videos", htype="video", sample_compression="webm")
    ds.create_tensor("labels", htype="class_label")
    ds.append({"videos": hub.read(videos["webm"]), "labels": 1})
    with pytest.raises(DatasetIndexError, match="audio and video"):
        ds.labels[0].play()
    if importlib.util.find_spec("IPython") is None:
        with pytest.raises(MissingDependencyError, match="pip install ipython"):
            ds.videos[0].play()
    else:
        player = ds.videos[0].play()
        assert "video/webm" in player._repr_html_()


def test_an_unknown_encoder_is_named() -> None:
    ds = hub.empty(mem_url())
    ds.create_tensor("videos", htype="video", sample_compression="mp4", encoder="no-such-encoder")
    with pytest.raises(hub.errors.SampleCompressionError, match="no-such-encoder"):
        ds.videos.append(moving_frames(2, 8, 8))
    with pytest.raises(hub.errors.TensorMetaError, match="fps"):
        ds.create_tensor("slow", htype="video", sample_compression="mp4", fps=-1)
    assert "slow" not in ds.tensors


def test_a_movie_with_sound_feeds_a_video_and_an_audio_tensor(tmp_path: Path) -> None:
    frames = moving_frames(25)
    movie = write_movie(tmp_path / "movie.mp4", frames, tone(48000, 48000))
    ds = hub.empty(mem_url())
    ds.create_tensor("video", htype="video", sample_compression="mp4")
    ds.create_tensor("sound", htype="audio", sample_compression="aac")
    ds.append({"video": hub.read(movie), "sound": hub.read(movie)})  # an mp4 file holds AAC audio as it is
    assert ds.video[0].tobytes() == ds.sound[0].tobytes() == movie.read_bytes()
    np.testing.assert_array_equal(ds.video[0].numpy(), decode_video(movie))
    np.testing.assert_array_equal(ds.video[0, 10:14].numpy(), decode_video(movie)[10:14])
    sound = ds.sound[0].numpy()
    assert sound.shape[1] == 2 and abs(len(sound) - 48000) <= 2048  # AAC pads to whole frames
    assert ds.sound[0].sample_info["sample_rate"] == 48000
