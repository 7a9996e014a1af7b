"""Audio and video codecs read and written through PyAV (FFmpeg): a sample is a whole media file.

Video decodes to ``(frames, height, width, 3)`` uint8 RGB; a range of frames is decoded by seeking to the keyframe
before it, never from the start. Audio decodes to ``(samples, channels)`` float32 in [-1, 1]; a range of samples is
decoded from a seek a preroll before its start (PCM wav is sliced, not decoded). PyAV is the optional ``av`` extra,
imported on first use.
"""

from __future__ import annotations

import bisect
import io
from collections.abc import Iterator
from contextlib import contextmanager
from fractions import Fraction
from typing import Any, ClassVar, NamedTuple

import numpy as np
import numpy.typing as npt

from hub.compression._base import BytesLike, Codec, Kind, SampleHeader, Shape, corrupt_sample_errors
from hub.errors import CorruptSampleError, DatasetIndexError, MissingDependencyError, SampleCompressionError

__all__ = [
    "MediaCodec",
    "VideoCodec",
    "AudioCodec",
    "Mp4Codec",
    "MkvCodec",
    "AviCodec",
    "WebmCodec",
    "WavCodec",
    "FlacCodec",
    "Mp3Codec",
    "AacCodec",
    "OggCodec",
    "DecodedFrames",
    "DecodedSamples",
]

_UINT8 = np.dtype(np.uint8)
_FLOAT32 = np.dtype(np.float32)
#: Full scale of each integer sample format PyAV hands out, for conversion to [-1, 1].
_INT_SCALE = {np.dtype(np.int16): 2.0**15, np.dtype(np.int32): 2.0**31, np.dtype(np.int64): 2.0**63}


def _av() -> Any:
    try:
        import av
    except ImportError as e:
        raise MissingDependencyError(
            "Audio and video samples need PyAV, which is not installed. Install it with: pip install 'hub-core[av]'"
        ) from e
    return av


class DecodedFrames(NamedTuple):
    """Frames of a video, their presentation times in seconds, and how many frames the decoder produced."""

    frames: np.ndarray[Any, Any]
    timestamps: np.ndarray[Any, Any]
    decoded: int


class DecodedSamples(NamedTuple):
    """Audio samples ``(samples, channels)`` and how many frames the decoder produced to get them."""

    samples: np.ndarray[Any, Any]
    decoded: int


class MediaCodec(Codec):
    """A container format FFmpeg reads; the file's bytes are stored as they are."""

    #: FFmpeg's name of the container format, used when encoding.
    container: ClassVar[str]
    #: FFmpeg's name of the default encoder for arrays.
    default_encoder: ClassVar[str]
    lossy = True

    @contextmanager
    def open(self, data: BytesLike, action: str = "decode") -> Iterator[Any]:
        """The PyAV input container of ``data``; errors become :class:`CorruptSampleError`."""
        av = _av()
        with corrupt_sample_errors(self.name, action), av.open(io.BytesIO(data), "r") as container:
            yield container

    def _encoder_name(self, encoder: str | None) -> str:
        """The encoder to use (``encoder`` or the default), checked to exist in this FFmpeg build."""
        av = _av()
        name = encoder or self.default_encoder
        try:
            av.codec.Codec(name, "w")
        except ValueError:
            raise SampleCompressionError(
                f"{self.name}: FFmpeg has no encoder {name!r} in this PyAV build. Name another, such as "
                f"{self.default_encoder!r}."
            ) from None
        return name


class VideoCodec(MediaCodec):
    """Video in a container: decodes to ``(frames, height, width, 3)`` uint8 RGB.

    Frame ``i`` is the ``i``-th frame in presentation order. The frame count is read from the container's packets
    (demuxing, no decoding). ``encoder`` (an FFmpeg encoder name), ``fps`` and ``options`` (encoder options such as
    ``{"crf": "18"}``) apply to arrays appended to a tensor; files read with ``hub.read`` are stored unchanged.
    """

    kind: ClassVar[Kind] = "video"

    def __init__(self, encoder: str | None = None, fps: float = 30, options: dict[str, str] | None = None) -> None:
        if fps <= 0:
            raise ValueError(f"{self.name} fps must be positive, got {fps}.")
        self.encoder = encoder
        self.fps = fps
        self.options = dict(options or {})

    # ------------------------------------------------------------- encoding
    def encode(self, array: npt.ArrayLike) -> bytes:
        arr = np.asarray(array)
        if arr.ndim != 4 or arr.shape[3] != 3 or arr.dtype != _UINT8 or arr.shape[0] == 0:
            raise SampleCompressionError(
                f"{self.name} encodes uint8 frames of shape (frames, height, width, 3); got shape {arr.shape} and "
                f"dtype {arr.dtype}."
            )
        if arr.shape[1] % 2 or arr.shape[2] % 2:
            raise SampleCompressionError(
                f"{self.name}: video frames need an even height and width (4:2:0 chroma), got {arr.shape[1:3]}; "
                "crop or pad the frames."
            )
        av = _av()
        encoder = self._encoder_name(self.encoder)
        buffer = io.BytesIO()
        try:
            with av.open(buffer, "w", format=self.container) as out:
                stream = out.add_stream(encoder, rate=Fraction(self.fps).limit_denominator(1001))
                stream.width, stream.height = int(arr.shape[2]), int(arr.shape[1])
                stream.pix_fmt = "yuv420p"
                stream.options = self.options
                for frame in arr:
                    out.mux(stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")))
                out.mux(stream.encode(None))
        except Exception as e:
            raise SampleCompressionError(f"{self.name} could not encode frames of shape {arr.shape}: {e}") from e
        return buffer.getvalue()

    # ------------------------------------------------------------- decoding
    @staticmethod
    def _stream(container: Any) -> Any:
        if not container.streams.video:
            raise CorruptSampleError("The file has no video stream.")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        return stream

    @staticmethod
    def _packets(container: Any, stream: Any) -> tuple[list[int], list[int]]:
        """Presentation times of every frame in order, and those of the keyframes, from demuxing alone."""
        pts: list[int] = []
        keys: list[int] = []
        for packet in container.demux(stream):
            # Flush packets carry nothing; discarded ones (cut by an edit list) give no frame.
            if packet.pts is None or packet.size == 0 or packet.is_discard:
                continue
            pts.append(packet.pts)
            if packet.is_keyframe:
                keys.append(packet.pts)
        pts.sort()
        keys.sort()
        return pts, keys

    def read_header(self, data: BytesLike) -> SampleHeader:
        with self.open(data, "read the header of") as container:
            stream = self._stream(container)
            pts, _ = self._packets(container, stream)
            ctx = stream.codec_context
            return SampleHeader((len(pts), ctx.height, ctx.width, 3), _UINT8)

    def decode(
        self, data: BytesLike, *, shape: Shape | None = None, dtype: npt.DTypeLike | None = None
    ) -> np.ndarray[Any, Any]:
        with self.open(data) as container:
            stream = self._stream(container)
            frames = [f.to_ndarray(format="rgb24") for f in container.decode(stream)]
            ctx = stream.codec_context
            out = np.stack(frames) if frames else np.zeros((0, ctx.height, ctx.width, 3), _UINT8)
        if shape is not None and tuple(shape) != out.shape:
            raise CorruptSampleError(f"{self.name} data decodes to shape {out.shape}, but {tuple(shape)} was recorded.")
        return out

    def decode_frames(self, data: BytesLike, frames: range | list[int]) -> DecodedFrames:
        """Frames at the given indices (in that order), decoding from the keyframe before each run of them.

        Decoding goes on from where it is when the next wanted frame lies before the next keyframe, and seeks
        otherwise; ``decoded`` counts the frames the decoder produced.
        """
        wanted = list(frames)
        with self.open(data) as container:
            stream = self._stream(container)
            pts, keys = self._packets(container, stream)
            bad = [i for i in wanted if not 0 <= i < len(pts)]
            if bad:
                raise DatasetIndexError(f"Frame {bad[0]} is out of range for a video of {len(pts)} frames.")
            ctx = stream.codec_context
            if not wanted:
                return DecodedFrames(np.zeros((0, ctx.height, ctx.width, 3), _UINT8), np.zeros(0), 0)
            base = float(stream.time_base)
            targets = sorted({pts[i] for i in wanted})
            want = set(targets)
            got: dict[int, np.ndarray[Any, Any]] = {}
            decoded = 0
            position: int | None = None  # pts of the last frame decoded since the last seek
            stream_frames: Iterator[Any] = iter(())
            for target in targets:
                if target in got:
                    continue
                key = keys[max(0, bisect.bisect_right(keys, target) - 1)] if keys else pts[0]
                if position is None or key > position:
                    if not _seek(container, stream, key):
                        full = self.decode(data)
                        return DecodedFrames(full[wanted], np.asarray([pts[i] for i in wanted]) * base, len(full))
                    stream_frames = container.decode(stream)
                for frame in stream_frames:
                    decoded += 1
                    if frame.pts is None:
                        raise CorruptSampleError(f"{self.name}: a decoded frame has no timestamp.")
                    position = frame.pts
                    if frame.pts in want:
                        got[frame.pts] = frame.to_ndarray(format="rgb24")
                    if frame.pts >= target:
                        break
                if target not in got:
                    raise CorruptSampleError(f"{self.name}: the frame at timestamp {target} could not be decoded.")
            out = np.stack([got[pts[i]] for i in wanted])
            return DecodedFrames(out, np.asarray([pts[i] * base for i in wanted]), decoded)

    def decode_subscript(
        self,
        data: BytesLike,
        subscript: tuple[Any, ...],
        *,
        shape: Shape | None = None,
        dtype: npt.DTypeLike | None = None,
    ) -> np.ndarray[Any, Any]:
        if not subscript or subscript[0] == slice(None):
            return super().decode_subscript(data, subscript, shape=shape, dtype=dtype)
        first, rest = subscript[0], subscript[1:]
        count = shape[0] if shape is not None else self.read_header(data).shape[0]
        out = self.decode_frames(data, _positions(first, count)).frames
        if isinstance(first, (int, np.integer)):
            return np.ascontiguousarray(out[0][rest])
        every_frame = (slice(None), *rest)
        return np.ascontiguousarray(out[every_frame])

    def timestamps(self, data: BytesLike) -> np.ndarray[Any, Any]:
        """Presentation time in seconds of every frame, from the container's packets (no decoding)."""
        with self.open(data, "read the timestamps of") as container:
            stream = self._stream(container)
            pts, _ = self._packets(container, stream)
            return np.asarray(pts, dtype=np.float64) * float(stream.time_base)

    def sample_info(self, data: BytesLike) -> dict[str, Any]:
        with self.open(data, "read the header of") as container:
            stream = self._stream(container)
            pts, keys = self._packets(container, stream)
            ctx = stream.codec_context
            rate = stream.average_rate or stream.guessed_rate
            duration = float(container.duration / 1_000_000) if container.duration else None
            return {
                "format": self.name,
                "codec": ctx.name,
                "shape": [len(pts), ctx.height, ctx.width, 3],
                "fps": float(rate) if rate else None,
                "duration": duration,
                "timebase": float(stream.time_base),
                "keyframes": len(keys),
            }


def _seek(container: Any, stream: Any, pts: int) -> bool:
    """Seek ``stream`` to the keyframe at or before ``pts``; False if the demuxer can't (tiny files, no index)."""
    try:
        container.seek(pts, stream=stream, backward=True, any_frame=False)
    except _av().FFmpegError:
        return False
    return True


def _trim(first: Any, frames: Iterator[Any], position: int, start: int, stop: int, decoded: int) -> DecodedSamples:
    """Samples ``[start, stop)`` from decoded audio frames, ``first`` (at sample ``position``) then ``frames``."""
    pieces: list[np.ndarray[Any, Any]] = []
    channels = len(first.layout.channels)
    frame: Any = first
    while True:
        chunk = AudioCodec._samples(frame)
        lo, hi = max(start - position, 0), min(stop - position, len(chunk))
        if hi > lo:
            pieces.append(chunk[lo:hi])
        position += len(chunk)
        if position >= stop:
            break
        frame = next(frames, None)
        if frame is None:
            break
        decoded += 1
    samples = np.ascontiguousarray(np.concatenate(pieces)) if pieces else np.zeros((0, channels), _FLOAT32)
    return DecodedSamples(samples, decoded)


def _positions(item: Any, count: int) -> list[int]:
    """The indices ``item`` (an int, slice or list) picks out of ``count``, as numpy would."""
    if isinstance(item, (int, np.integer)):
        i = int(item)
        if not -count <= i < count:
            raise DatasetIndexError(f"Frame {i} is out of range for a video of {count} frames.")
        return [i % count]
    if isinstance(item, slice):
        return list(range(count)[item])
    try:
        picks = np.arange(count)[np.asarray(item)]
    except IndexError as e:
        raise DatasetIndexError(f"Can't pick frames {item!r} of a video of {count} frames: {e}") from None
    return [int(i) for i in np.atleast_1d(picks)]


class AudioCodec(MediaCodec):
    """Sound in a container: decodes to ``(samples, channels)`` float32 in [-1, 1].

    ``sample_rate`` and ``encoder`` apply to arrays appended to a tensor (one or two channels; values outside
    [-1, 1] are clipped by the encoder); files read with ``hub.read`` are stored unchanged.
    """

    kind: ClassVar[Kind] = "audio"
    #: Whether FFmpeg decodes this format the same from any seek point (no preroll needed: lossless formats).
    exact_seek: ClassVar[bool] = False

    def __init__(self, sample_rate: int = 44100, encoder: str | None = None) -> None:
        if sample_rate <= 0:
            raise ValueError(f"{self.name} sample_rate must be positive, got {sample_rate}.")
        self.sample_rate = int(sample_rate)
        self.encoder = encoder

    def encode(self, array: npt.ArrayLike) -> bytes:
        arr = np.asarray(array)
        if arr.ndim == 1:
            arr = arr[:, None]
        if arr.ndim != 2 or arr.shape[1] not in (1, 2) or arr.shape[0] == 0 or arr.dtype.kind not in "fiu":
            raise SampleCompressionError(
                f"{self.name} encodes float samples of shape (samples, 1 or 2 channels); got shape {arr.shape} and "
                f"dtype {arr.dtype}."
            )
        av = _av()
        encoder = self._encoder_name(self.encoder)
        samples = np.ascontiguousarray(arr, dtype=np.float32)
        layout = "mono" if samples.shape[1] == 1 else "stereo"
        buffer = io.BytesIO()
        try:
            with av.open(buffer, "w", format=self.container) as out:
                stream = out.add_stream(encoder, rate=self.sample_rate, layout=layout)
                step = 4096
                for start in range(0, len(samples), step):
                    piece = samples[start : start + step]
                    frame = av.AudioFrame.from_ndarray(piece.reshape(1, -1), format="flt", layout=layout)
                    frame.sample_rate = self.sample_rate
                    out.mux(stream.encode(frame))
                out.mux(stream.encode(None))
        except Exception as e:
            raise SampleCompressionError(f"{self.name} could not encode samples of shape {arr.shape}: {e}") from e
        return buffer.getvalue()

    @staticmethod
    def _stream(container: Any) -> Any:
        if not container.streams.audio:
            raise CorruptSampleError("The file has no audio stream.")
        return container.streams.audio[0]

    @staticmethod
    def _samples(frame: Any) -> np.ndarray[Any, Any]:
        """One decoded frame as float32 (samples, channels)."""
        raw: np.ndarray[Any, Any] = frame.to_ndarray()
        channels = len(frame.layout.channels)
        raw = raw.T if frame.format.is_planar else raw.reshape(-1, channels)
        if raw.dtype in _INT_SCALE:
            raw = raw / _INT_SCALE[raw.dtype]
        elif raw.dtype == _UINT8:
            raw = (raw.astype(np.float32) - 128) / 128
        return np.asarray(raw, dtype=np.float32)

    def read_header(self, data: BytesLike) -> SampleHeader:
        # Compressed formats know their length only approximately; counting decoded samples is exact and cheap.
        with self.open(data, "read the header of") as container:
            stream = self._stream(container)
            total = sum(frame.samples for frame in container.decode(stream))
            return SampleHeader((total, stream.codec_context.channels), _FLOAT32)

    def decode(
        self, data: BytesLike, *, shape: Shape | None = None, dtype: npt.DTypeLike | None = None
    ) -> np.ndarray[Any, Any]:
        with self.open(data) as container:
            stream = self._stream(container)
            pieces = [self._samples(f) for f in container.decode(stream)]
            out = np.concatenate(pieces) if pieces else np.zeros((0, stream.codec_context.channels), _FLOAT32)
        if shape is not None and tuple(shape) != out.shape:
            raise CorruptSampleError(f"{self.name} data decodes to shape {out.shape}, but {tuple(shape)} was recorded.")
        return out

    def decode_samples(self, data: BytesLike, start: int, stop: int) -> np.ndarray[Any, Any]:
        """Samples ``[start, stop)``, decoded from a seek a little before ``start``; see :meth:`decode_range`."""
        return self.decode_range(data, start, stop).samples

    def decode_range(self, data: BytesLike, start: int, stop: int) -> DecodedSamples:
        """Samples ``[start, stop)`` (indices into what :meth:`decode` gives), and how many frames were decoded.

        Seeks to :meth:`preroll` samples before ``start`` (lossy decoders need that many to settle), decodes until
        ``stop`` and trims exactly; decodes from the beginning when the file can't seek there.
        """
        stop = max(start, stop)
        with self.open(data) as container:
            stream = self._stream(container)
            rate, base = stream.codec_context.sample_rate, stream.time_base
            frames = container.decode(stream)
            first = next(frames, None)
            if first is None:
                return DecodedSamples(np.zeros((0, stream.codec_context.channels), _FLOAT32), 0)
            decoded = 1
            if first.pts is not None and base and rate:
                # The first frame's time is sample 0 (decoders may trim priming samples, so it needn't be 0).
                origin = round(first.pts * base * rate)
                preroll = self.preroll(rate)
                back, moved = preroll, False
                while start - back > first.samples and back <= 4 * preroll + rate:
                    # Demuxers of compressed formats land near the time asked for, not on it: seek again from
                    # further back if the landing leaves too little before ``start`` to settle.
                    # A failed seek may have moved the demuxer too (FLAC's near the end of a file does).
                    moved = True
                    if _seek(container, stream, int(Fraction(origin + start - back, rate) / base)):
                        frames = container.decode(stream)
                        landed = next(frames, None)
                        if landed is None or landed.pts is None:
                            break
                        decoded += 1
                        position = round(landed.pts * base * rate) - origin
                        if 0 <= position <= start - preroll:
                            return _trim(landed, frames, position, start, stop, decoded)
                    back = 2 * back + first.samples
                if moved:
                    from_start = self._from_start(data, start, stop)
                    return DecodedSamples(from_start.samples, decoded + from_start.decoded)
            return _trim(first, frames, 0, start, stop, decoded)

    def _from_start(self, data: BytesLike, start: int, stop: int) -> DecodedSamples:
        """Samples ``[start, stop)`` decoded from the beginning."""
        with self.open(data) as container:
            stream = self._stream(container)
            frames = container.decode(stream)
            first = next(frames, None)
            if first is None:
                return DecodedSamples(np.zeros((0, stream.codec_context.channels), _FLOAT32), 0)
            return _trim(first, frames, 0, start, stop, 1)

    def preroll(self, rate: int) -> int:
        """Samples to decode before the first wanted one after a seek, for the decoder's output to settle."""
        # MP3's bit reservoir and MDCT overlap span a few frames; AAC needs less.
        return 0 if self.exact_seek else max(4096, rate // 10)

    def decode_subscript(
        self,
        data: BytesLike,
        subscript: tuple[Any, ...],
        *,
        shape: Shape | None = None,
        dtype: npt.DTypeLike | None = None,
    ) -> np.ndarray[Any, Any]:
        first = subscript[0] if subscript else slice(None)
        ranged = isinstance(first, slice) and first != slice(None) and (first.step or 1) > 0
        if not ranged and not isinstance(first, (int, np.integer)):
            return super().decode_subscript(data, subscript, shape=shape, dtype=dtype)
        count = shape[0] if shape is not None else self.read_header(data).shape[0]
        if isinstance(first, slice):
            start, stop, step = first.indices(count)
            out = self.decode_samples(data, start, stop)[::step]
            every_sample = (slice(None), *subscript[1:])
            return np.ascontiguousarray(out[every_sample])
        i = int(first)
        if not -count <= i < count:
            raise DatasetIndexError(f"Sample {i} is out of range for audio of {count} samples.")
        one = self.decode_samples(data, i % count, i % count + 1)
        return np.ascontiguousarray(one[0][subscript[1:]])

    def sample_info(self, data: BytesLike) -> dict[str, Any]:
        with self.open(data, "read the header of") as container:
            stream = self._stream(container)
            ctx = stream.codec_context
            total = sum(frame.samples for frame in container.decode(stream))
            return {
                "format": self.name,
                "codec": ctx.name,
                "sample_rate": ctx.sample_rate,
                "channels": ctx.channels,
                "samples": total,
                "duration": total / ctx.sample_rate if ctx.sample_rate else None,
                "sample_format": ctx.format.name if ctx.format is not None else None,
            }


class Mp4Codec(VideoCodec):
    """MPEG-4 (ISO base media) video; arrays are encoded with H.264 (libx264) by default."""

    name = "mp4"
    aliases = ("mov", "m4v")
    container = "mp4"
    default_encoder = "libx264"


class MkvCodec(VideoCodec):
    """Matroska video; arrays are encoded with H.264 (libx264) by default."""

    name = "mkv"
    container = "matroska"
    default_encoder = "libx264"


class AviCodec(VideoCodec):
    """AVI video; arrays are encoded with MPEG-4 part 2 by default."""

    name = "avi"
    container = "avi"
    default_encoder = "mpeg4"


class WebmCodec(VideoCodec):
    """WebM video; arrays are encoded with VP9 (libvpx-vp9) by default."""

    name = "webm"
    container = "webm"
    default_encoder = "libvpx-vp9"


class WavCodec(AudioCodec):
    """WAV (RIFF PCM): lossless at 16 bits when encoding arrays."""

    name = "wav"
    container = "wav"
    default_encoder = "pcm_s16le"
    exact_seek = True
    lossy = False

    def decode_range(self, data: BytesLike, start: int, stop: int) -> DecodedSamples:
        """PCM samples are sliced out of the file's data chunk without decoding; other WAV codecs go to FFmpeg."""
        pcm = _wav_pcm(data)
        if pcm is None:
            return super().decode_range(data, start, stop)
        view, dtype, width, channels = pcm
        count = len(view) // (width * channels)
        start, stop = min(start, count), min(max(start, stop), count)
        raw = view[width * channels * start : width * channels * stop]
        if width == dtype.itemsize:
            values: np.ndarray[Any, Any] = np.frombuffer(raw, dtype).reshape(-1, channels)
        else:  # 24-bit: FFmpeg widens each sample to int32 (value << 8), which is what scaling by 2**31 expects
            wide = np.zeros((len(raw) // width, dtype.itemsize), np.uint8)
            wide[:, dtype.itemsize - width :] = np.frombuffer(raw, np.uint8).reshape(-1, width)
            values = wide.view(dtype).reshape(-1, channels)
        values = values.astype(values.dtype.newbyteorder("="))
        if values.dtype in _INT_SCALE:
            values = values / _INT_SCALE[values.dtype]
        elif values.dtype == _UINT8:
            values = (values.astype(np.float32) - 128) / 128
        return DecodedSamples(np.ascontiguousarray(values, dtype=np.float32), 0)


#: WAV (format tag, bits per sample) read without FFmpeg: the numpy dtype of a sample as FFmpeg hands it out.
_WAV_PCM: dict[tuple[int, int], np.dtype[Any]] = {
    (1, 8): np.dtype(np.uint8),
    (1, 16): np.dtype("<i2"),
    (1, 24): np.dtype("<i4"),
    (1, 32): np.dtype("<i4"),
    (3, 32): np.dtype("<f4"),
    (3, 64): np.dtype("<f8"),
}
_WAV_EXTENSIBLE = 0xFFFE


def _wav_pcm(data: BytesLike) -> tuple[memoryview, np.dtype[Any], int, int] | None:
    """The data chunk of a PCM WAV file, its samples' dtype, bytes per sample and channel count; None otherwise."""
    view = memoryview(data).cast("B")
    if len(view) < 12 or bytes(view[:4]) != b"RIFF" or bytes(view[8:12]) != b"WAVE":
        return None
    fmt: tuple[int, int, int] | None = None
    offset = 12
    while offset + 8 <= len(view):
        kind, size = bytes(view[offset : offset + 4]), int.from_bytes(view[offset + 4 : offset + 8], "little")
        body = view[offset + 8 : offset + 8 + size]
        if kind == b"fmt " and len(body) >= 16:
            tag = int.from_bytes(body[0:2], "little")
            channels, bits = int.from_bytes(body[2:4], "little"), int.from_bytes(body[14:16], "little")
            if tag == _WAV_EXTENSIBLE and len(body) >= 26:
                tag = int.from_bytes(body[24:26], "little")  # the first two bytes of the sub-format GUID
            fmt = (tag, bits, channels)
        elif kind == b"data":
            if fmt is None or (fmt[0], fmt[1]) not in _WAV_PCM or fmt[2] == 0:
                return None
            # A data size of 0 or 0xFFFFFFFF marks a file written as a stream: the samples run to its end.
            end = len(view) if size in (0, 0xFFFFFFFF) else offset + 8 + size
            return view[offset + 8 : end], _WAV_PCM[(fmt[0], fmt[1])], fmt[1] // 8, fmt[2]
        offset += 8 + size + (size & 1)
    return None


class FlacCodec(AudioCodec):
    """FLAC: lossless at 16 bits when encoding arrays."""

    name = "flac"
    container = "flac"
    default_encoder = "flac"
    exact_seek = True
    lossy = False


class Mp3Codec(AudioCodec):
    """MP3 (MPEG-1 layer III); arrays are encoded with LAME."""

    name = "mp3"
    container = "mp3"
    default_encoder = "libmp3lame"


class AacCodec(AudioCodec):
    """AAC, as raw ADTS streams or in an MPEG-4 audio file (m4a); arrays are encoded as ADTS."""

    name = "aac"
    aliases = ("m4a",)
    reads = ("mp4",)
    container = "adts"
    default_encoder = "aac"


class OggCodec(AudioCodec):
    """Ogg (Vorbis, Opus or FLAC inside); arrays are encoded with Opus, which takes 8, 12, 16, 24 or 48 kHz input
    and always decodes at 48 kHz."""

    name = "ogg"
    aliases = ("oga", "opus")
    container = "ogg"
    default_encoder = "libopus"

    def preroll(self, rate: int) -> int:
        # Opus's energy prediction and pitch pre-filter take about 0.3 s to match a decode from the start.
        return max(4096, rate // 2)
