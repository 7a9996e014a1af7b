"""One timed transform run of one system, started by ``benchmarks/transform.py`` in that system's interpreter.

Usage: ``python _transform_runner.py SYSTEM PATHS.txt OUT WORKERS``; prints ``{"seconds", "cpu_seconds", "count",
"checksum"}``; CPU seconds count this process and its reaped worker processes.
Every system reads the JPEG files named in PATHS.txt, resizes each to 128 x 128 and encodes it as JPEG again:
``hub-*`` systems with ``@hub.compute`` into a dataset (any hub version with the Hub 2.x API), ``pool`` with a
plain ``multiprocessing.Pool`` that writes one file per image. Only the run is timed, not imports or setup.
"""

from __future__ import annotations

import hashlib
import json
import resource
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from _format_runner import _refuse_network
from PIL import Image

import hub

SIZE = 128


def resized(path: str) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB").resize((SIZE, SIZE), Image.Resampling.BILINEAR))


@hub.compute
def resize(path: str, samples_out: Any) -> None:
    samples_out.images.append(resized(path))


def _encode_and_write(job: tuple[str, str]) -> int:
    import simplejpeg

    path, out = job
    data = simplejpeg.encode_jpeg(resized(path), quality=90, colorspace="RGB", colorsubsampling="420")
    Path(out).write_bytes(data)
    return len(data)


def run_pool(paths: list[str], out: Path, workers: int) -> tuple[int, str]:
    import multiprocessing

    out.mkdir(parents=True)
    jobs = [(p, str(out / f"{i:06d}.jpg")) for i, p in enumerate(paths)]
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        sizes = pool.map(_encode_and_write, jobs, chunksize=64)
    digest = hashlib.blake2b(digest_size=16)
    for _, name in jobs[:50]:
        digest.update(Path(name).read_bytes())
    return len(sizes), digest.hexdigest()


def run_hub(paths: list[str], out: Path, workers: int) -> tuple[float, int, str]:
    ds = hub.empty(str(out), overwrite=True)
    ds.create_tensor("images", htype="image", sample_compression="jpeg")
    scheduler = "serial" if workers == 0 else "processed"
    start = time.perf_counter()
    resize().eval(paths, ds, num_workers=workers, scheduler=scheduler, progressbar=False)
    ds.flush()
    seconds = time.perf_counter() - start
    digest = hashlib.blake2b(digest_size=16)
    for i in range(min(50, len(ds))):
        digest.update(ds.images[i].tobytes())
    return seconds, len(ds), digest.hexdigest()


def main() -> None:
    system, paths_file, out_dir, workers_text = sys.argv[1:5]
    attempts: list[str] = []
    _refuse_network(attempts)
    paths = Path(paths_file).read_text().split()
    out, workers = Path(out_dir), int(workers_text)
    shutil.rmtree(out, ignore_errors=True)
    if system == "pool":
        start = time.perf_counter()
        count, checksum = run_pool(paths, out, workers)
        seconds = time.perf_counter() - start
    else:
        seconds, count, checksum = run_hub(paths, out, workers)
    cpu = sum(
        usage.ru_utime + usage.ru_stime
        for usage in (resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN))
    )
    shutil.rmtree(out, ignore_errors=True)
    result = {"seconds": seconds, "cpu_seconds": cpu, "count": count, "checksum": checksum, "network": attempts}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
