"""Real media for the tests, written and decoded with PyAV directly (never through hub's own codecs)."""

from __future__ import annotations

import io
import uuid
from pathlib import Path

import av
import numpy as np

import hub


def mem_url() -> str:
    """A fresh in-memory dataset URL (mem:// names are shared by the whole process)."""
    return f"mem://media-{uuid.uuid4().hex}"


#: Container and encoder of each video format the tests write.
VIDEO_FORMATS = {
    "mp4": ("mp4", "libx264"),
    "mkv": ("matroska", "libx264"),
    "avi": ("avi", "mpeg4"),
    "webm": ("webm", "libvpx-vp9"),
}
#: Container, encoder and file suffix of each audio format the tests write.
AUDIO_FORMATS = {
    "wav": ("wav", "pcm_s16le", "wav"),
    "flac": ("flac", "flac", "flac"),
    "mp3": ("mp3", "libmp3lame", "mp3"),
    "aac": ("adts", "aac", "aac"),
    "m4a": ("ipod", "aac", "m4a"),
    "ogg": ("ogg", "libopus", "ogg"),
}


def moving_frames(n: int = 40, h: int = 48, w: int = 64) -> np.ndarray:
    """Smooth gradients that move from frame to frame: realistic for a video codec, each frame distinct."""
    t = np.arange(n, dtype=np.float64)[:, None, None]
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    r = 128 + 100 * np.sin((x + 2 * t) / 9)
    g = 128 + 100 * np.cos((y + t) / 7)
    b = 128 + 60 * np.sin((x + y + 3 * t) / 13)
    return np.clip(np.stack(np.broadcast_arrays(r, g, b), axis=-1), 0, 255).astype(np.uint8)


def write_video(path: Path, frames: np.ndarray, fmt: str = "mp4", fps: int = 25, gop: int = 10) -> Path:
    """Encode ``frames`` with a keyframe every ``gop`` frames."""
    container, encoder = VIDEO_FORMATS[fmt]
    with av.open(str(path), "w", format=container) as out:
        stream = out.add_stream(encoder, rate=fps)
        stream.width, stream.height = frames.shape[2], frames.shape[1]
        stream.pix_fmt = "yuv420p"
        stream.codec_context.gop_size = gop
        stream.bit_rate = 4_000_000  # MPEG-4 part 2 defaults to a bit rate too low for a tolerance test
        stream.options = {"deadline": "realtime", "cpu-used": "8"} if encoder == "libvpx-vp9" else {}
        for frame in frames:
            out.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        out.mux(stream.encode(None))
    return path


def decode_video(data: bytes | Path) -> np.ndarray:
    """Every frame, as PyAV decodes it: the reference hub's decode must equal."""
    source = str(data) if isinstance(data, Path) else io.BytesIO(data)
    with av.open(source) as container:
        return np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])


def tone(n: int, rate: int, channels: int = 2) -> np.ndarray:
    """A chord, float32 (n, channels) in [-0.8, 0.8]."""
    t = np.arange(n) / rate
    waves = [0.5 * np.sin(2 * np.pi * 440 * t) + 0.3 * np.sin(2 * np.pi * 660 * t), 0.6 * np.sin(2 * np.pi * 220 * t)]
    return np.stack(waves[:channels], axis=-1).astype(np.float32)


def write_audio(
    path: Path, samples: np.ndarray, fmt: str = "wav", rate: int = 48000, encoder: str | None = None
) -> Path:
    """``samples`` (n, channels) float32 written as ``fmt``, with the format's usual encoder or ``encoder``."""
    container, usual, _ = AUDIO_FORMATS[fmt]
    encoder = encoder or usual
    layout = "mono" if samples.shape[1] == 1 else "stereo"
    with av.open(str(path), "w", format=container) as out:
        stream = out.add_stream(encoder, rate=rate, layout=layout)
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(samples).reshape(1, -1), format="flt", layout=layout)
        frame.sample_rate = rate
        out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


def decode_audio(data: bytes) -> tuple[np.ndarray, int]:
    """Every sample as float32 (n, channels) through PyAV's resampler, and the sample rate: the reference."""
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.audio[0]
        resampler = av.AudioResampler(format="flt", layout=stream.layout.name, rate=stream.rate)
        pieces = []
        for frame in container.decode(stream):
            for out in resampler.resample(frame):
                pieces.append(out.to_ndarray().reshape(-1, len(stream.layout.channels)))
        for out in resampler.resample(None):
            pieces.append(out.to_ndarray().reshape(-1, len(stream.layout.channels)))
        return np.concatenate(pieces), stream.rate


def write_movie(path: Path, frames: np.ndarray, samples: np.ndarray, fps: int = 25, rate: int = 48000) -> Path:
    """An mp4 with an H.264 video stream and an AAC audio stream, interleaved as a camera writes them."""
    with av.open(str(path), "w", format="mp4") as out:
        video = out.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        audio = out.add_stream("aac", rate=rate, layout="stereo")
        per_frame = rate // fps
        for k, frame in enumerate(frames):
            out.mux(video.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
            piece = np.ascontiguousarray(samples[k * per_frame : (k + 1) * per_frame]).reshape(1, -1)
            if piece.size:
                sound = av.AudioFrame.from_ndarray(piece, format="flt", layout="stereo")
                sound.sample_rate = rate
                out.mux(audio.encode(sound))
        out.mux(video.encode(None))
        out.mux(audio.encode(None))
    return path


def write_media_dataset(root: Path, count: int) -> tuple[Path, dict[str, list[Path]]]:
    """A dataset of ``count`` samples of a video, an audio, a linked image and a sequence tensor, with its files.

    Sample ``i``: an mp4 of ``8 + i`` 16x16 frames, a wav of ``800 + 100 * i`` stereo samples, a link to a 6x5
    PNG filled with ``40 * i``, and a sequence of ``i + 1`` int16 rows ``[j, j, j]``.
    """
    from PIL import Image

    import hub

    clips = [write_video(root / f"c{i}.mp4", moving_frames(8 + i, 16, 16), "mp4") for i in range(count)]
    sounds = [write_audio(root / f"s{i}.wav", tone(800 + 100 * i, 8000), "wav", 8000) for i in range(count)]
    pictures = []
    for i in range(count):
        pictures.append(root / f"p{i}.png")
        Image.fromarray(np.full((6, 5, 3), 40 * i, np.uint8)).save(pictures[-1])
    ds = hub.empty(root / "ds")
    with ds:
        ds.create_tensor("video", htype="video", sample_compression="mp4")
        ds.create_tensor("audio", htype="audio", sample_compression="wav")
        ds.create_tensor("linked", htype="link[image]")
        ds.create_tensor("seq", htype="sequence[generic]", dtype="int16")
        for i in range(count):
            ds.append(
                {
                    "video": hub.read(clips[i]),
                    "audio": hub.read(sounds[i]),
                    "linked": hub.link(pictures[i]),
                    "seq": [np.full(3, j, np.int16) for j in range(i + 1)],
                }
            )
    ds.close()
    return root / "ds", {"clips": clips, "sounds": sounds, "pictures": pictures}


def linked_scenes(root: Path) -> hub.Dataset:
    """Three sequences of 1, 2 and 3 links to 6x5 PNGs; item ``j`` of sequence ``i`` is filled with ``10 * i + j``."""
    from PIL import Image

    ds = hub.empty(root / "ds")
    ds.create_tensor("scenes", htype="sequence[link[image]]")
    for i in range(3):
        items = []
        for j in range(i + 1):
            path = root / f"v{i}{j}.png"
            Image.fromarray(np.full((6, 5, 3), 10 * i + j, np.uint8)).save(path)
            items.append(hub.link(path))
        ds.scenes.append(items)
    return hub.load(root / "ds", read_only=True)
