"""One timed operation of one system, run by ``benchmarks/format.py`` in that system's own interpreter.

Usage: ``python _format_runner.py TASK.json``. The task names the system, the operation and its inputs; the
result (seconds, a checksum of what was read, peak memory growth) is written as JSON to the task's ``result``
path. Only the operation is timed: imports, loading inputs and clearing outputs happen before the clock starts.
Needs only the standard library and numpy, plus the system under test: it runs in every peer's virtualenv.

Every TCP/IP connection and name lookup is refused and recorded, so a system that phones home is caught, not
slowed down by a network that isn't there.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

Task = dict[str, Any]


@dataclass
class Result:
    """What one run measured."""

    seconds: float
    checksum: str = ""
    memory_bytes: int | None = None
    network: list[str] = field(default_factory=list)


def _refuse_network(attempts: list[str]) -> None:
    def connect(sock: socket.socket, address: Any) -> None:
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            attempts.append(f"connect {address!r}")
            raise OSError("network access is disabled in this benchmark")
        original_connect(sock, address)

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        attempts.append(f"getaddrinfo {host!r}")
        raise socket.gaierror("name lookups are disabled in this benchmark")

    original_connect = socket.socket.connect
    socket.socket.connect = connect  # type: ignore[method-assign]
    socket.getaddrinfo = getaddrinfo


def _checksum(arrays: Iterable[np.ndarray]) -> str:
    digest = hashlib.blake2b(digest_size=16)
    for arr in arrays:
        digest.update(arr.dtype.str.encode())
        digest.update(memoryview(np.ascontiguousarray(arr)).cast("B"))
    return digest.hexdigest()


def _timed(operation: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    value = operation()
    return time.perf_counter() - started, value


def _status_kib(field_name: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field_name} in /proc/self/status")


def _timed_with_peak_memory(operation: Callable[[], Any]) -> tuple[float, Any, int]:
    """Like :func:`_timed`, plus how far the resident set's peak rose above its size at the start, in bytes."""
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # resets VmHWM, the peak resident set, to the current resident set
    before = _status_kib("VmRSS")
    seconds, value = _timed(operation)
    return seconds, value, (_status_kib("VmHWM") - before) * 1024


def _fresh(path: str) -> Path:
    """``path``, with whatever a previous run left there removed."""
    out = Path(path)
    if out.is_dir():
        shutil.rmtree(out)
    else:
        out.unlink(missing_ok=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    return out


def _paths(task: Task) -> list[str]:
    return Path(task["file_list"]).read_text().splitlines()


class HubApi:
    """hub through its Hub 2.x API: ours and hub 2.8.5 run the very same calls."""

    def __init__(self) -> None:
        import hub

        self.hub = hub

    def write_raw(self, task: Task) -> Result:
        batch = np.load(task["source"])
        ds = self.hub.empty(str(_fresh(task["dest"])))
        ds.create_tensor("images", dtype="uint8", sample_compression=None, chunk_compression=None)

        def write() -> None:
            ds.images.extend(batch)
            ds.flush()

        return Result(_timed(write)[0])

    def read_raw(self, task: Task) -> Result:
        ds = self.hub.load(task["dest"])
        seconds, arr = _timed(lambda: ds.images[task["start"] : task["stop"]].numpy())
        return Result(seconds, _checksum([arr]))

    def write_jpeg(self, task: Task) -> Result:
        paths = _paths(task)
        ds = self.hub.empty(str(_fresh(task["dest"])))
        ds.create_tensor("images", htype="image", sample_compression="jpeg")

        def write() -> None:
            with ds:
                for path in paths:
                    ds.images.append(self.hub.read(path))

        return Result(_timed(write)[0])

    def read_random(self, task: Task) -> Result:
        ds = self.hub.load(task["dest"])
        seconds, arrays = _timed(lambda: [ds.images[i].numpy() for i in task["indices"]])
        return Result(seconds, _checksum(arrays))

    def write_labels(self, task: Task) -> Result:
        labels = np.load(task["source"])
        ds = self.hub.empty(str(_fresh(task["dest"])))
        ds.create_tensor("labels", htype="class_label")

        def write() -> None:
            ds.labels.extend(labels)
            ds.flush()

        return Result(_timed(write)[0])

    def read_labels(self, task: Task) -> Result:
        ds = self.hub.load(task["dest"])
        seconds, arr = _timed(lambda: ds.labels.numpy())
        return Result(seconds, _checksum([arr]))

    def open(self, task: Task) -> Result:
        seconds, length, memory = _timed_with_peak_memory(lambda: len(self.hub.load(task["dest"])))
        return Result(seconds, str(length), memory)


class Zarr:
    """zarr 3: one group per dataset, one uncompressed array per tensor, chunks of about 16 MiB."""

    CHUNK_BYTES = 16 * 2**20

    def __init__(self) -> None:
        import zarr

        self.zarr = zarr

    def _create(self, dest: str, name: str, like: np.ndarray) -> Any:
        root = self.zarr.open_group(str(_fresh(dest)), mode="w")
        per_sample = like[:1].nbytes or 1
        chunks = (max(1, self.CHUNK_BYTES // per_sample), *like.shape[1:])
        return root.create_array(name, shape=like.shape, chunks=chunks, dtype=like.dtype, compressors=None)

    def _write(self, task: Task, name: str) -> Result:
        data = np.load(task["source"])
        arr = self._create(task["dest"], name, data)

        def write() -> None:
            arr[:] = data

        return Result(_timed(write)[0])

    def write_raw(self, task: Task) -> Result:
        return self._write(task, "images")

    def write_labels(self, task: Task) -> Result:
        return self._write(task, "labels")

    def read_raw(self, task: Task) -> Result:
        arr = self.zarr.open_group(task["dest"], mode="r")["images"]
        seconds, out = _timed(lambda: arr[task["start"] : task["stop"]])
        return Result(seconds, _checksum([out]))

    def read_labels(self, task: Task) -> Result:
        arr = self.zarr.open_group(task["dest"], mode="r")["labels"]
        seconds, out = _timed(lambda: arr[:])
        return Result(seconds, _checksum([out]))

    def open(self, task: Task) -> Result:
        def open_and_count() -> int:
            length: int = self.zarr.open_group(task["dest"], mode="r")["labels"].shape[0]
            return length

        seconds, length, memory = _timed_with_peak_memory(open_and_count)
        return Result(seconds, str(length), memory)


class Baseline:
    """The plainest code that does each job: numpy's .npy files, file copies, a decoder on bytes in memory."""

    def write_raw(self, task: Task) -> Result:
        batch = np.load(task["source"])
        dest = _fresh(task["dest"])
        return Result(_timed(lambda: np.save(dest, batch))[0])

    def read_raw(self, task: Task) -> Result:
        seconds, arr = _timed(lambda: np.load(task["source"]))
        return Result(seconds, _checksum([arr]))

    read_labels = read_raw

    def write_jpeg(self, task: Task) -> Result:
        paths = _paths(task)
        dest = _fresh(task["dest"])
        dest.mkdir()
        targets = [str(dest / os.path.basename(p)) for p in paths]

        def copy() -> None:
            for source, target in zip(paths, targets, strict=True):
                shutil.copyfile(source, target)

        return Result(_timed(copy)[0])

    def read_random(self, task: Task) -> Result:
        import simplejpeg

        paths = _paths(task)
        blobs = [Path(paths[i]).read_bytes() for i in task["indices"]]
        seconds, arrays = _timed(lambda: [simplejpeg.decode_jpeg(blob) for blob in blobs])
        return Result(seconds, _checksum(arrays))


SYSTEMS: dict[str, Callable[[], Any]] = {"hub": HubApi, "zarr": Zarr, "baseline": Baseline}


def main(argv: list[str]) -> int:
    task: Task = json.loads(Path(argv[1]).read_text())
    attempts: list[str] = []
    _refuse_network(attempts)
    system = SYSTEMS[task["api"]]()
    result: Result = getattr(system, task["op"])(task)
    result.network = attempts
    Path(task["result"]).write_text(json.dumps(asdict(result)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
