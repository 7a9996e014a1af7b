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
    socket.socket.connect = connect  # type: ignore[method-assign,assignment]
    socket.getaddrinfo = getaddrinfo


def _checksum(arrays: Iterable[np.ndarray]) -> str:
    digest = hashlib.blake2b(digest_size=16)
    for arr in arrays:
        digest.update(arr.dtype.str.encode())
        digest.update(np.ascontiguousarray(arr).data.cast("B"))
    return digest.hexdigest()


def _status_kib(name: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(name + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {name} in /proc/self/status")


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


class Runner:
    """Runs the operations of one task; subclasses implement them for one system."""

    def __init__(self, task: Task) -> None:
        self.task = task

    def _settle(self) -> None:
        """Get the machine into the same state before every clock starts.

        First write back whatever earlier runs left dirty (and the discards of what they deleted), so that this run
        doesn't pay for it. Then touch the task's ``prefault`` bytes of fresh memory and free them: on a virtual
        machine whose memory the host provides lazily (and takes back soon after the guest frees it), touching a
        page for the first time costs several times copying it, about 2 s per GiB where these benchmarks were
        written, and a write's time would otherwise depend on what ran just before it.
        """
        os.sync()
        np.ones(self.task["prefault"], dtype=np.uint8)

    def timed(self, operation: Callable[[], Any]) -> tuple[float, Any]:
        self._settle()
        started = time.perf_counter()
        value = operation()
        return time.perf_counter() - started, value

    def timed_with_peak_memory(self, operation: Callable[[], Any]) -> tuple[float, Any, int]:
        """Like :meth:`timed`, plus how far the peak resident set rose above the resident set at the start."""
        self._settle()
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # resets VmHWM, the peak resident set, to the current resident set
        before = _status_kib("VmRSS")
        started = time.perf_counter()
        value = operation()
        seconds = time.perf_counter() - started
        return seconds, value, (_status_kib("VmHWM") - before) * 1024


class HubApi(Runner):
    """hub through its Hub 2.x API: ours and hub 2.8.5 run the very same calls."""

    def __init__(self, task: Task) -> None:
        super().__init__(task)
        import hub

        self.hub = hub

    def write_raw(self) -> Result:
        batch = np.load(self.task["source"])
        ds = self.hub.empty(str(_fresh(self.task["dest"])))
        ds.create_tensor("images", dtype="uint8", sample_compression=None, chunk_compression=None)

        def write() -> None:
            ds.images.extend(batch)
            ds.flush()

        return Result(self.timed(write)[0])

    def read_raw(self) -> Result:
        ds = self.hub.load(self.task["dest"])
        seconds, arr = self.timed(lambda: ds.images[self.task["start"] : self.task["stop"]].numpy())
        return Result(seconds, _checksum([arr]))

    def write_jpeg(self) -> Result:
        paths = _paths(self.task)
        ds = self.hub.empty(str(_fresh(self.task["dest"])))
        ds.create_tensor("images", htype="image", sample_compression="jpeg")

        def write() -> None:
            with ds:
                for path in paths:
                    ds.images.append(self.hub.read(path))

        return Result(self.timed(write)[0])

    def read_random(self) -> Result:
        ds = self.hub.load(self.task["dest"])
        seconds, arrays = self.timed(lambda: [ds.images[i].numpy() for i in self.task["indices"]])
        return Result(seconds, _checksum(arrays))

    def write_labels(self) -> Result:
        labels = np.load(self.task["source"])
        ds = self.hub.empty(str(_fresh(self.task["dest"])))
        ds.create_tensor("labels", htype="class_label")

        def write() -> None:
            ds.labels.extend(labels)
            ds.flush()

        return Result(self.timed(write)[0])

    def read_labels(self) -> Result:
        ds = self.hub.load(self.task["dest"])
        seconds, arr = self.timed(lambda: ds.labels.numpy())
        return Result(seconds, _checksum([arr]))

    def open(self) -> Result:
        seconds, length, memory = self.timed_with_peak_memory(lambda: len(self.hub.load(self.task["dest"])))
        return Result(seconds, str(length), memory)


class Zarr(Runner):
    """zarr 3: one group per dataset, one uncompressed array per tensor, chunks of about 16 MiB."""

    CHUNK_BYTES = 16 * 2**20

    def __init__(self, task: Task) -> None:
        super().__init__(task)
        import zarr

        self.zarr = zarr

    def _write(self, name: str) -> Result:
        data = np.load(self.task["source"])
        root = self.zarr.open_group(str(_fresh(self.task["dest"])), mode="w")
        chunks = (max(1, self.CHUNK_BYTES // (data[:1].nbytes or 1)), *data.shape[1:])
        arr = root.create_array(name, shape=data.shape, chunks=chunks, dtype=data.dtype, compressors=None)

        def write() -> None:
            arr[:] = data

        return Result(self.timed(write)[0])

    def write_raw(self) -> Result:
        return self._write("images")

    def write_labels(self) -> Result:
        return self._write("labels")

    def _read(self, name: str, start: int | None = None, stop: int | None = None) -> Result:
        arr = self.zarr.open_group(self.task["dest"], mode="r")[name]
        seconds, out = self.timed(lambda: arr[start:stop])
        return Result(seconds, _checksum([out]))

    def read_raw(self) -> Result:
        return self._read("images", self.task["start"], self.task["stop"])

    def read_labels(self) -> Result:
        return self._read("labels")

    def open(self) -> Result:
        def open_and_count() -> int:
            length: int = self.zarr.open_group(self.task["dest"], mode="r")["labels"].shape[0]
            return length

        seconds, length, memory = self.timed_with_peak_memory(open_and_count)
        return Result(seconds, str(length), memory)


class Baseline(Runner):
    """The plainest code that does each job: numpy's .npy files, file copies, a decoder on bytes in memory."""

    def write_raw(self) -> Result:
        batch = np.load(self.task["source"])
        dest = _fresh(self.task["dest"])

        def save() -> None:
            with open(dest, "wb") as f:
                np.save(f, batch)
                if self.task.get("fsync"):
                    f.flush()
                    os.fsync(f.fileno())

        return Result(self.timed(save)[0])

    def read_raw(self) -> Result:
        seconds, arr = self.timed(lambda: np.load(self.task["source"]))
        return Result(seconds, _checksum([arr]))

    read_labels = read_raw

    def write_jpeg(self) -> Result:
        paths = _paths(self.task)
        dest = _fresh(self.task["dest"])
        dest.mkdir()
        targets = [str(dest / os.path.basename(p)) for p in paths]

        def copy() -> None:
            for source, target in zip(paths, targets, strict=True):
                shutil.copyfile(source, target)

        return Result(self.timed(copy)[0])

    def read_random(self) -> Result:
        import simplejpeg

        paths = _paths(self.task)
        blobs = [Path(paths[i]).read_bytes() for i in self.task["indices"]]
        seconds, arrays = self.timed(lambda: [simplejpeg.decode_jpeg(blob) for blob in blobs])
        return Result(seconds, _checksum(arrays))


RUNNERS: dict[str, type[Runner]] = {"hub": HubApi, "zarr": Zarr, "baseline": Baseline}


def main(argv: list[str]) -> int:
    task: Task = json.loads(Path(argv[1]).read_text())
    attempts: list[str] = []
    _refuse_network(attempts)
    result: Result = getattr(RUNNERS[task["api"]](task), task["op"])()
    result.network = attempts
    Path(task["result"]).write_text(json.dumps(asdict(result)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
