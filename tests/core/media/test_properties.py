"""Properties: any frame selection decodes to the same frames as a full decode; lossless audio round-trips exactly."""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import hub
from hub.compression import VideoCodec, get_codec
from tests.core.media._make import decode_video, mem_url, moving_frames, write_video

FRAMES = 45


@functools.cache
def _clip(fmt: str) -> tuple[bytes, np.ndarray]:
    """A 45-frame clip with a keyframe every 8 frames, and its full decode by PyAV."""
    with tempfile.TemporaryDirectory() as tmp:
        data = write_video(Path(tmp) / f"clip.{fmt}", moving_frames(FRAMES, 32, 32), fmt, 25, 8).read_bytes()
    return data, decode_video(data)


@settings(max_examples=40, deadline=None)
@given(
    fmt=st.sampled_from(["mp4", "webm", "avi"]),
    picks=st.lists(st.integers(0, FRAMES - 1), min_size=1, max_size=8),
)
def test_any_frames_decode_like_a_full_decode(fmt: str, picks: list[int]) -> None:
    data, full = _clip(fmt)
    codec = get_codec(fmt)
    assert isinstance(codec, VideoCodec)
    result = codec.decode_frames(data, picks)
    np.testing.assert_array_equal(result.frames, full[picks])
    # Never more frames than decoding from each wanted frame's keyframe group separately.
    assert result.decoded <= len(picks) * 8 + 8


@settings(max_examples=30, deadline=None)
@given(
    compression=st.sampled_from(["wav", "flac"]),
    levels=hnp.arrays(np.int16, st.tuples(st.integers(1, 3000), st.sampled_from([1, 2]))),
)
def test_lossless_audio_reads_back_bit_for_bit(compression: str, levels: np.ndarray) -> None:
    samples = levels.astype(np.float32) / 2**15  # exactly what 16-bit audio can hold
    ds = hub.empty(mem_url())
    ds.create_tensor("audio", htype="audio", sample_compression=compression, sample_rate=8000)
    ds.audio.append(samples)
    np.testing.assert_array_equal(ds.audio[0].numpy(), samples)
    cut = len(samples) // 3
    np.testing.assert_array_equal(ds.audio[0, cut:].numpy(), samples[cut:])
