"""Speed of media reads: a frame range of a video against the whole video, and linked JPEGs against the files.

Run: ``python benchmarks/media.py [--quick] [--repeats N] [--json PATH]`` (needs ``hub-core[av]``).

1. A 30 s 854x480 H.264 mp4 at 30 fps (900 frames, x264's default keyframe interval of 250 frames), made with
   PyAV and stored with ``hub.read`` in a ``video`` tensor: ``ds.videos[0, 100:110].numpy()`` against
   ``ds.videos[0].numpy()``. Target: the range costs at most 0.2x the whole (seeking works).
2. 1000 JPEG files (256x256, quality 90) linked with ``hub.link`` in a ``link[image]`` tensor:
   ``ds.images[i].numpy()`` for every i after ``hub.load`` (and ``ds.images[a:b].numpy(aslist=True)`` per block),
   against reading each file with ``open().read()`` and decoding it with ``simplejpeg.decode_jpeg`` (the decoder
   hub uses). Target: at least 0.9x the direct reads' speed.

Video runs alternate (A B A B ...); the JPEG runs take turns on every block of 50 files. The table shows medians.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import av
import numpy as np
import simplejpeg

import hub

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import load_average, machine


def make_video(path: Path, seconds: int, width: int = 854, height: int = 480, fps: int = 30) -> Path:
    """Moving gradients with noise, so every frame costs a real decode."""
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    with av.open(str(path), "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"preset": "veryfast"}
        for t in range(seconds * fps):
            r = 128 + 100 * np.sin((x + 4 * t) / 40)
            g = 128 + 100 * np.cos((y + 2 * t) / 30)
            b = 128 + 60 * np.sin((x + y + 3 * t) / 50)
            frame = np.stack([r, g, b], axis=-1) + rng.normal(0, 6, (height, width, 1)).astype(np.float32)
            pixels = np.clip(frame, 0, 255).astype(np.uint8)
            out.mux(stream.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")))
        out.mux(stream.encode(None))
    return path


def make_jpegs(root: Path, count: int) -> list[Path]:
    rng = np.random.default_rng(1)
    y, x = np.mgrid[0:256, 0:256].astype(np.float32)
    paths = []
    root.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        base = np.stack([x * (i % 7 + 1) % 256, y, (x + y) / 2], axis=-1)
        pixels = np.clip(base + rng.normal(0, 8, base.shape), 0, 255).astype(np.uint8)
        path = root / f"{i:05d}.jpg"
        path.write_bytes(simplejpeg.encode_jpeg(pixels, quality=90))
        paths.append(path)
    return paths


def alternate(runs: dict[str, Callable[[], Any]], repeats: int) -> dict[str, float]:
    """Median seconds of each run, the runs taking turns."""
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeats):
        for name, run in runs.items():
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def interleaved(runs: dict[str, Callable[[range], Any]], count: int, repeats: int, block: int = 50) -> dict[str, float]:
    """Median seconds of each run over ``count`` items, the runs taking turns on every block of items (the order
    reversed every other block), so that a change of machine load between runs weighs on all of them alike."""
    totals: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeats):
        spent = dict.fromkeys(runs, 0.0)
        for n, start in enumerate(range(0, count, block)):
            items = range(start, min(start + block, count))
            for name in list(runs) if n % 2 == 0 else reversed(list(runs)):
                begin = time.perf_counter()
                runs[name](items)
                spent[name] += time.perf_counter() - begin
        for name, seconds in spent.items():
            totals[name].append(seconds)
    return {name: statistics.median(t) for name, t in totals.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="a 10 s video and 200 JPEGs")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    info = machine()
    seconds, count = (10, 200) if args.quick else (30, 1000)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        video = make_video(work / "clip.mp4", seconds)
        ds = hub.empty(work / "videos")
        ds.create_tensor("videos", htype="video", sample_compression="mp4")
        ds.videos.append(hub.read(video))
        ds = hub.load(work / "videos", read_only=True)
        assert ds.videos[0].shape[0] == seconds * 30
        video_times = alternate(
            {"range": lambda: ds.videos[0, 100:110].numpy(), "whole": lambda: ds.videos[0].numpy()}, args.repeats
        )
        rows.append(
            (
                f"frames 100-110 of a {seconds} s 854x480 mp4",
                video_times["range"],
                "the whole video",
                video_times["whole"],
                video_times["range"] / video_times["whole"],
                "<= 0.2x (time)",
            )
        )

        paths = make_jpegs(work / "jpegs", count)
        linked = hub.empty(work / "linked")
        linked.create_tensor("images", htype="link[image]", sample_compression="jpeg")
        with linked:
            linked.images.extend([hub.link(p) for p in paths])
        linked = hub.load(work / "linked", read_only=True)

        def through_dataset(block: range) -> None:
            images = linked.images
            for i in block:
                images[i].numpy()

        def direct(block: range) -> None:
            for i in block:
                with open(paths[i], "rb") as f:
                    simplejpeg.decode_jpeg(f.read())

        def whole_view(block: range) -> None:
            linked.images[block.start : block.stop].numpy(aslist=True)

        def direct_list(block: range) -> list[np.ndarray]:
            out = []
            for i in block:
                with open(paths[i], "rb") as f:
                    out.append(simplejpeg.decode_jpeg(f.read()))
            return out

        link_times = interleaved(
            {"dataset": through_dataset, "direct": direct, "aslist": whole_view, "direct list": direct_list},
            count,
            args.repeats,
        )
        # Each side either drops every image at once or keeps them all (the list costs fresh memory pages).
        for name, label, peer, peer_label in (
            ("dataset", "ds.images[i].numpy() each", "direct", "open().read() + simplejpeg"),
            ("aslist", "ds.images[a:b].numpy(aslist=True)", "direct list", "the same, kept in a list"),
        ):
            rows.append(
                (
                    f"{count} linked local JPEGs, {label}",
                    link_times[name],
                    peer_label,
                    link_times[peer],
                    link_times[peer] / link_times[name],
                    ">= 0.9x (speed)",
                )
            )
    header = "| scenario | ours s | baseline | baseline s | ratio | target |\n| --- | ---: | --- | ---: | ---: | --- |"
    lines = [f"| {r[0]} | {r[1]:.3f} | {r[2]} | {r[3]:.3f} | {r[4]:.2f}x | {r[5]} |" for r in rows]
    print("\n".join([header, *lines]))
    print(f"\nmachine: {info['nproc']} CPUs, {info['cpu']}, Python {info['python']}, {info['date']}")
    print(f"load average at start: {info['load average at start']}, at end: {load_average()}")
    print(f"PyAV {av.__version__} (FFmpeg {'.'.join(map(str, av.library_versions['libavcodec']))} libavcodec)")
    if args.json:
        args.json.write_text(json.dumps({"machine": info, "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
