"""One run of one system's data loader, run by ``benchmarks/run.py`` in that system's own interpreter.

Usage: ``python _loaders.py TASK.json``. A task names a system, an operation (``prepare``: write the shared source
data in the system's own format; ``load``: one timed pass through its loader) and the inputs; the result is written
as JSON to the task's ``result`` path. Needs the standard library and numpy, plus the system under test: it runs
in every peer's virtualenv, and imports each system's packages only when that system runs.

A ``load`` measures, from just before the dataset is opened (imports done) to the last batch of the epoch or of
``max_seconds``: the time to the first batch; the throughput of the whole pass, samples / seconds (start-up
included: a loader that does its work before its first batch, filling a buffer, would look fast by the rate after
it); the time the loader then takes to end its iteration, apart; and the peak memory of the whole process tree
(workers included), sampled every 0.1 s as the sum of each process's proportional set size (PSS: its resident set
with shared pages split between the processes that share them, so forked workers are not counted twice).

A system whose loader raises ``NotImplementedError`` reports itself "not available" rather than failing the run.
Connections anywhere but the loopback address are refused and recorded.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

Task = dict[str, Any]
Batch = tuple[Any, Any]
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def _refuse_network(attempts: list[str]) -> None:
    """Refuse, and record, every connection and name lookup that isn't for the loopback address."""
    original_connect, original_getaddrinfo = socket.socket.connect, socket.getaddrinfo

    def connect(sock: socket.socket, address: Any) -> Any:
        if sock.family in (socket.AF_INET, socket.AF_INET6) and address[0] not in LOOPBACK:
            attempts.append(f"connect {address!r}")
            raise OSError("network access is disabled in this benchmark")
        return original_connect(sock, address)

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host not in LOOPBACK and host is not None:
            attempts.append(f"getaddrinfo {host!r}")
            raise socket.gaierror("name lookups are disabled in this benchmark")
        return original_getaddrinfo(host, *args, **kwargs)

    socket.socket.connect = connect  # type: ignore[method-assign]
    socket.getaddrinfo = getaddrinfo


def _tree_pss_bytes(root: int) -> int:
    """The summed PSS of ``root`` and all its descendants."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        todo += children.get(pid, [])
        try:
            with open(f"/proc/{pid}/smaps_rollup") as f:
                total += next(int(line.split()[1]) for line in f if line.startswith("Pss:")) * 1024
        except (OSError, StopIteration):
            pass
    return total


class MemoryPeak:
    """Samples the process tree's PSS in a background thread; ``peak`` is the largest sum seen."""

    def __init__(self, interval: float = 0.1) -> None:
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(interval,), daemon=True)

    def _run(self, interval: float) -> None:
        while True:
            self.peak = max(self.peak, _tree_pss_bytes(os.getpid()))
            if self._stop.wait(interval):
                return

    def __enter__(self) -> MemoryPeak:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _count(labels: Any) -> tuple[int, int]:
    """How many samples a batch's labels hold, and their sum (a cheap check that every system read the same set)."""
    arr = np.asarray(labels.numpy() if hasattr(labels, "numpy") else labels).reshape(-1)
    return len(arr), int(arr.astype(np.int64).sum())


def measure(batches: Callable[[], Iterable[Batch]], max_seconds: float) -> dict[str, Any]:
    """Time one pass through ``batches()`` (its set-up included): see the module docstring.

    The pass's rate counts up to its last batch; the time the loader then takes to end its iteration (workers
    shutting down; TensorFlow's autotuning thread, which at random holds the end of an epoch for up to a second)
    is reported apart, as ``end_seconds``.
    """
    samples = label_sum = 0
    first = None
    with MemoryPeak() as memory:
        started = last = time.perf_counter()
        for _images, labels in batches():
            n, s = _count(labels)
            samples, label_sum = samples + n, label_sum + s
            last = time.perf_counter()
            if first is None:
                first = last - started
            if last - started > max_seconds:
                break
        ended = time.perf_counter()
    seconds = last - started
    if first is None:
        raise RuntimeError("the loader yielded no batch")
    return {
        "samples": samples,
        "label_sum": label_sum,
        "seconds": seconds,
        "end_seconds": ended - last,
        "first_batch_seconds": first,
        "samples_per_second": samples / seconds,
        "peak_memory_bytes": memory.peak,
    }


def _pair(batch: Any) -> Batch:
    """``(images, labels)`` from a batch given as a dict or a sequence."""
    if isinstance(batch, dict):
        return batch["images"], batch["labels"]
    return batch[0], batch[1]


def _manifest(task: Task) -> list[tuple[str, int]]:
    """The JPEG set's ``(absolute path, label)`` list, in index order."""
    root = Path(task["source"]["root"])
    lines = Path(task["source"]["manifest"]).read_text().splitlines()
    return [(str(root / rel), int(label)) for rel, label in (line.split("\t") for line in lines)]


def _raw(task: Task) -> tuple[np.ndarray, np.ndarray]:
    return np.load(task["source"]["images"]), np.load(task["source"]["labels"])


def _decode_jpeg(data: bytes) -> np.ndarray:
    import simplejpeg

    out: np.ndarray = simplejpeg.decode_jpeg(data)
    return out


class System:
    """One system's way of writing the source data and of loading it; subclasses implement it."""

    def __init__(self, task: Task) -> None:
        self.task = task
        self.dest = task["dest"]
        self.batch_size: int = task["batch_size"]
        self.workers: int = task["workers"]
        self.seed: int = task["seed"]

    @property
    def jpeg(self) -> bool:
        return bool(self.task["source"]["kind"] == "jpeg")

    #: Imported before the clock starts, like everything a training script does before it builds its loader.
    modules: tuple[str, ...] = ()

    def prepare(self) -> None:
        """Write the source data at ``dest`` in this system's format (nothing to do for some)."""

    def setup(self) -> None:
        """What happens before the clock starts: by default, importing ``modules``."""
        for module in self.modules:
            __import__(module)

    def batches(self) -> Iterable[Batch]:
        raise NotImplementedError


class Ceiling(System):
    """The decode ceiling: simplejpeg decoding the JPEG bytes from memory in ``workers`` forked processes."""

    def run(self) -> dict[str, Any]:
        import multiprocessing as mp

        blobs = [Path(path).read_bytes() for path, _ in _manifest(self.task)]
        _CEILING_BLOBS[:] = blobs
        parts = [(i * len(blobs) // self.workers, (i + 1) * len(blobs) // self.workers) for i in range(self.workers)]
        with mp.get_context("fork").Pool(self.workers) as pool:
            pool.map(_decode_range, parts)  # warm: workers started, decoder loaded, pages touched
            samples, started = 0, time.perf_counter()
            # Whole passes over the set for at least CEILING_SECONDS: a short pass is all noise on a shared machine.
            while samples == 0 or time.perf_counter() - started < CEILING_SECONDS:
                samples += sum(pool.map(_decode_range, parts))
            seconds = time.perf_counter() - started
        return {"samples": samples, "seconds": seconds, "samples_per_second": samples / seconds}


_CEILING_BLOBS: list[bytes] = []
CEILING_SECONDS = 3.0


def _decode_range(bounds: tuple[int, int]) -> int:
    for blob in _CEILING_BLOBS[bounds[0] : bounds[1]]:
        _decode_jpeg(blob)
    return bounds[1] - bounds[0]


class Reference(System):
    """B2's reference: shuffled batches sliced from a numpy array in memory, handed to torch without a copy."""

    modules = ("torch",)

    def setup(self) -> None:
        super().setup()
        self.arrays = _raw(self.task)

    def batches(self) -> Iterator[Batch]:
        import torch

        images, labels = self.arrays
        order = np.random.default_rng(self.seed).permutation(len(images))
        for start in range(0, len(order), self.batch_size):
            index = order[start : start + self.batch_size]
            yield torch.from_numpy(images[index]), torch.from_numpy(labels[index])


class Hub(System):
    """hub through its Hub 2.x API (``hub.read`` of the JPEG files); ours and hub 2.8.5 run the same calls."""

    # With the framework integration ``batches`` calls, as a peer's own package is (for ours, the import also
    # spares ``ds.pytorch()`` its scan of the installed entry points).
    modules = ("hub", "torch", "hub_torch")

    def _creds(self) -> dict[str, str] | None:
        remote = self.task.get("remote")
        return remote and {**remote["creds"], "endpoint_url": remote["endpoint"]}

    def _path(self) -> str:
        remote = self.task.get("remote")
        return f"s3://{remote['bucket']}/{remote['prefix']}" if remote else self.dest

    def prepare(self) -> None:
        import hub

        ds = hub.empty(self.dest, overwrite=True)
        with ds:
            if self.jpeg:
                ds.create_tensor("images", htype="image", sample_compression="jpeg")
                ds.create_tensor("labels", htype="class_label")
                for path, label in _manifest(self.task):
                    ds.append({"images": hub.read(path), "labels": np.uint32(label)})
            else:
                images, labels = _raw(self.task)
                ds.create_tensor("images", dtype="uint8", sample_compression=None)
                ds.create_tensor("labels", htype="class_label")
                ds.images.extend(images)
                ds.labels.extend(labels.astype(np.uint32))

    def _open(self) -> Any:
        import hub

        return hub.load(self._path(), read_only=True, creds=self._creds())

    def loader_kwargs(self) -> dict[str, Any]:
        return {"decode_method": None}

    def batches(self) -> Iterator[Batch]:
        loader = self._open().pytorch(
            num_workers=self.workers,
            batch_size=self.batch_size,
            shuffle=True,
            tensors=["images", "labels"],
            **self.loader_kwargs(),
        )
        for batch in loader:
            yield _pair(batch)


class HubThreads(Hub):
    """ours with ``parallelism="threads"``: the workers are threads in the loader's own process."""

    def loader_kwargs(self) -> dict[str, Any]:
        return {"decode_method": None, "parallelism": "threads"}


class Hub285(Hub):
    """hub 2.8.5's ``ds.pytorch()`` (its ``decode_method`` takes other values than ours; its default decodes)."""

    modules = ("hub", "torch", "hub.integrations.pytorch.dataset")

    def loader_kwargs(self) -> dict[str, Any]:
        return {}


class HubTensorflow(Hub):
    """hub's ``ds.tensorflow()``, batched and prefetched by tf.data."""

    modules = ("hub", "tensorflow", "hub_tensorflow")

    def batches(self) -> Iterator[Batch]:
        import tensorflow as tf

        data = self._open().tensorflow(tensors=["images", "labels"], **self.tensorflow_kwargs())
        for batch in data.batch(self.batch_size).prefetch(tf.data.AUTOTUNE):
            yield _pair(batch)

    def tensorflow_kwargs(self) -> dict[str, Any]:
        return {"shuffle": True, "seed": self.seed}


class TFRecord(System):
    """TFRecord files of the JPEGs, read the way TensorFlow's tf.data performance guide recommends.

    Shards read in parallel (``interleave`` of ``TFRecordDataset``), a shuffle buffer of encoded records, parallel
    ``parse`` + ``tf.io.decode_jpeg`` (``dct_method`` as the class says), batch, prefetch.
    """

    modules = ("tensorflow",)
    #: TensorFlow's default, "" (INTEGER_FAST); hub decodes with INTEGER_ACCURATE, which gives Pillow's pixels.
    dct_method = ""
    SHARDS = 16
    SHUFFLE_RECORDS = 2048

    def prepare(self) -> None:
        if not self.jpeg:
            return
        import tensorflow as tf

        items = _manifest(self.task)
        Path(self.dest).mkdir(parents=True, exist_ok=True)
        for shard in range(self.SHARDS):
            with tf.io.TFRecordWriter(str(Path(self.dest) / f"{shard:03d}.tfrecord")) as writer:
                for path, label in items[shard :: self.SHARDS]:
                    feature = {
                        "image": tf.train.Feature(bytes_list=tf.train.BytesList(value=[Path(path).read_bytes()])),
                        "label": tf.train.Feature(int64_list=tf.train.Int64List(value=[label])),
                    }
                    writer.write(tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString())

    def batches(self) -> Iterator[Batch]:
        if not self.jpeg:
            raise NotImplementedError("TFRecord is measured on the JPEG set")
        import tensorflow as tf

        features = {"image": tf.io.FixedLenFeature([], tf.string), "label": tf.io.FixedLenFeature([], tf.int64)}

        def decode(record: Any) -> tuple[Any, Any]:
            example = tf.io.parse_single_example(record, features)
            image = tf.io.decode_jpeg(example["image"], channels=3, dct_method=self.dct_method)
            return image, example["label"]

        files = tf.data.Dataset.list_files(str(Path(self.dest) / "*.tfrecord"), seed=self.seed)
        records = files.interleave(
            tf.data.TFRecordDataset, cycle_length=self.workers, num_parallel_calls=tf.data.AUTOTUNE
        )
        data = (
            records.shuffle(self.SHUFFLE_RECORDS, seed=self.seed)
            .map(decode, num_parallel_calls=tf.data.AUTOTUNE)
            .batch(self.batch_size)
            .prefetch(tf.data.AUTOTUNE)
        )
        yield from data


class TFRecordAccurate(TFRecord):
    """The same TFRecord pipeline decoding with hub's DCT (INTEGER_ACCURATE): the same work as ours, pixel for pixel."""

    dct_method = "INTEGER_ACCURATE"


class Hub285Tensorflow(HubTensorflow):
    """hub 2.8.5's ``ds.tensorflow()`` (it has no shuffle)."""

    modules = ("hub", "tensorflow", "hub.integrations.tf.datasettotensorflow")

    def tensorflow_kwargs(self) -> dict[str, Any]:
        return {}


class TorchVision(System):
    """torchvision: ``ImageFolder`` with a simplejpeg loader, or ``CIFAR10`` on the raw set; a shuffling DataLoader."""

    modules = ("torch", "torchvision", "simplejpeg")

    def prepare(self) -> None:
        if self.jpeg:
            return  # ImageFolder reads the source tree itself
        import pickle

        images, labels = _raw(self.task)
        folder = Path(self.dest) / "cifar-10-batches-py"
        folder.mkdir(parents=True, exist_ok=True)
        # CIFAR-10's own layout: five pickled batches of channel-first rows.
        for part, index in enumerate(np.array_split(np.arange(len(images)), 5), start=1):
            batch = {
                "data": images[index].transpose(0, 3, 1, 2).reshape(len(index), -1),
                "labels": labels[index].tolist(),
            }
            (folder / f"data_batch_{part}").write_bytes(pickle.dumps(batch))
        empty = {"data": np.zeros((0, images[0].size), np.uint8), "labels": []}
        (folder / "test_batch").write_bytes(pickle.dumps(empty))

    def batches(self) -> Iterable[Batch]:
        import torch
        from torch.utils.data import DataLoader
        from torchvision import datasets, transforms

        if self.jpeg:
            dataset: Any = datasets.ImageFolder(self.task["source"]["root"], loader=_simplejpeg_loader)
        else:
            dataset = _cifar_class()(self.dest, train=True, transform=transforms.PILToTensor())
        generator = torch.Generator().manual_seed(self.seed)
        return DataLoader(
            dataset, batch_size=self.batch_size, shuffle=True, num_workers=self.workers, generator=generator
        )


def _simplejpeg_loader(path: str) -> Any:
    import torch

    with open(path, "rb") as f:
        return torch.from_numpy(_decode_jpeg(f.read()))


def _cifar_class() -> type:
    from torchvision.datasets import CIFAR10

    class Cifar(CIFAR10):  # type: ignore[misc]
        """CIFAR10 over files in its layout that aren't the published ones (whose checksums it verifies)."""

        def _check_integrity(self) -> bool:
            return True

        def _load_meta(self) -> None:
            self.classes = [str(i) for i in range(10)]
            self.class_to_idx = {name: i for i, name in enumerate(self.classes)}

    return Cifar


def _shard_count(count: int, per_shard: int, workers: int) -> int:
    """Shards of about ``per_shard`` samples, and at least two per worker so that every worker has some."""
    return max(2 * workers, round(count / per_shard))


def _split(count: int, parts: int) -> list[np.ndarray]:
    return np.array_split(np.arange(count), parts)


def _samples(task: Task) -> Iterator[tuple[bytes, int]]:
    """Each sample's stored bytes and label, in index order: a JPEG file's bytes, or a raw array's."""
    if task["source"]["kind"] == "jpeg":
        for path, label in _manifest(task):
            yield Path(path).read_bytes(), label
    else:
        images, labels = _raw(task)
        for image, label in zip(images, labels, strict=True):
            yield image.tobytes(), int(label)


def _decoder(task: Task) -> Callable[[bytes], np.ndarray]:
    """What turns a sample's stored bytes back into its array."""
    if task["source"]["kind"] == "jpeg":
        return _decode_jpeg
    shape = np.load(task["source"]["images"], mmap_mode="r").shape[1:]
    return lambda data: np.frombuffer(data, np.uint8).reshape(shape)


def _torch_batch(images: list[np.ndarray] | np.ndarray, labels: Any) -> Batch:
    import torch

    return torch.from_numpy(np.stack(images)), torch.as_tensor(np.asarray(labels, dtype=np.int64))


class WebDataset(System):
    """WebDataset: tar shards of about 1000 samples, shard shuffle plus a 1000-sample buffer, a WebLoader."""

    modules = ("torch", "webdataset", "simplejpeg")
    PER_SHARD = 1000

    def prepare(self) -> None:
        import webdataset as wds

        Path(self.dest).mkdir(parents=True, exist_ok=True)
        samples = list(_samples(self.task))
        for shard, index in enumerate(_split(len(samples), _shard_count(len(samples), self.PER_SHARD, 2))):
            with wds.TarWriter(f"{self.dest}/shard-{shard:06d}.tar") as sink:
                for i in index:
                    sink.write({"__key__": f"{i:06d}", "bin": samples[i][0], "cls": samples[i][1]})

    def _urls(self) -> list[str]:
        remote = self.task.get("remote")
        if not remote:
            return sorted(str(p) for p in Path(self.dest).glob("shard-*.tar"))
        # WebDataset reads http(s) through curl; the bucket lets anyone read, as a public dataset's would.
        base = f"{remote['endpoint']}/{remote['bucket']}/{remote['prefix']}"
        return [f"pipe:curl -s -f {base}/{key}" for key in sorted(remote["keys"]) if key.endswith(".tar")]

    def batches(self) -> Iterable[Batch]:
        import webdataset as wds

        decode = _decoder(self.task)
        urls = self._urls()
        dataset = (
            wds.WebDataset(urls, shardshuffle=len(urls), seed=self.seed, empty_check=False)
            .shuffle(1000)
            .map(lambda sample: (decode(sample["bin"]), int(sample["cls"])))
            .batched(self.batch_size, collation_fn=lambda rows: _torch_batch(*zip(*rows, strict=True)))
        )
        return wds.WebLoader(dataset, batch_size=None, num_workers=self.workers)


class Streaming(System):
    """MosaicML Streaming: MDS shards (its default 64 MiB limit), a StreamingDataset decoding in ``__getitem__``."""

    modules = ("torch", "streaming", "simplejpeg")

    def prepare(self) -> None:
        from streaming import MDSWriter

        with MDSWriter(out=self.dest, columns={"data": "bytes", "label": "int"}, progress_bar=False) as out:
            for data, label in _samples(self.task):
                out.write({"data": data, "label": label})

    def batches(self) -> Iterable[Batch]:
        import tempfile

        from streaming import StreamingDataset
        from streaming.base.util import clean_stale_shared_memory
        from torch.utils.data import DataLoader

        clean_stale_shared_memory()
        decode = _decoder(self.task)
        remote = self.task.get("remote")
        location: dict[str, Any] = {"local": self.dest}
        if remote:
            os.environ.update(
                S3_ENDPOINT_URL=remote["endpoint"],
                AWS_ACCESS_KEY_ID=remote["creds"]["aws_access_key_id"],
                AWS_SECRET_ACCESS_KEY=remote["creds"]["aws_secret_access_key"],
                AWS_DEFAULT_REGION=remote["creds"]["region_name"],
            )
            # A fresh cache per pass (else later passes read shards the first one downloaded), next to the prepared
            # copy: in the run's scratch folder, which the run removes.
            cache = tempfile.mkdtemp(prefix="streaming-cache-", dir=os.path.dirname(os.path.abspath(self.dest)))
            location = {"remote": f"s3://{remote['bucket']}/{remote['prefix']}", "local": cache}

        class Decoding(StreamingDataset):  # type: ignore[misc]
            def __getitem__(self, index: int) -> tuple[np.ndarray, int]:
                sample = super().__getitem__(index)
                return decode(sample["data"]), int(sample["label"])

        dataset = Decoding(**location, shuffle=True, shuffle_seed=self.seed, batch_size=self.batch_size)
        return DataLoader(dataset, batch_size=self.batch_size, num_workers=self.workers)


class Zarr(System):
    """zarr 3: uncompressed chunks of 1000 samples; workers take shuffled chunks and shuffle within each."""

    modules = ("torch", "zarr")
    CHUNK = 1000

    def prepare(self) -> None:
        import zarr

        images, labels = _raw(self.task)
        root = zarr.open_group(self.dest, mode="w")
        for name, data in (("images", images), ("labels", labels)):
            chunks = (self.CHUNK, *data.shape[1:])
            root.create_array(name, shape=data.shape, chunks=chunks, dtype=data.dtype, compressors=None)[:] = data

    def batches(self) -> Iterable[Batch]:
        from torch.utils.data import DataLoader

        dataset = _zarr_chunks_class()(self.dest, self.batch_size, self.seed)
        return DataLoader(dataset, batch_size=None, num_workers=self.workers)


def _zarr_chunks_class() -> type:
    """The class, made on first use: torch is imported only in the virtualenvs that have it."""
    from torch.utils.data import IterableDataset, get_worker_info

    class ZarrChunks(IterableDataset):  # type: ignore[misc]
        """Each worker reads its share of the chunks in a seeded random order and yields shuffled batches."""

        def __init__(self, path: str, batch_size: int, seed: int) -> None:
            self.path, self.batch_size, self.seed = path, batch_size, seed

        def __iter__(self) -> Iterator[Batch]:
            import zarr

            root = zarr.open_group(self.path, mode="r")
            images, labels = root["images"], root["labels"]
            chunk = images.chunks[0]
            info = get_worker_info()
            worker, workers = (info.id, info.num_workers) if info else (0, 1)
            rng = np.random.default_rng([self.seed, worker])
            starts = np.random.default_rng(self.seed).permutation(range(0, images.shape[0], chunk))[worker::workers]
            carry_images, carry_labels = np.empty((0, *images.shape[1:]), np.uint8), np.empty(0, np.int64)
            for start in starts:
                order = rng.permutation(min(chunk, images.shape[0] - start))
                carry_images = np.concatenate([carry_images, images[start : start + chunk][order]])
                carry_labels = np.concatenate([carry_labels, labels[start : start + chunk][order]])
                while len(carry_labels) >= self.batch_size:
                    yield _torch_batch(carry_images[: self.batch_size], carry_labels[: self.batch_size])
                    carry_images, carry_labels = carry_images[self.batch_size :], carry_labels[self.batch_size :]
            if len(carry_labels):
                yield _torch_batch(carry_images, carry_labels)

    return ZarrChunks


class Lance(System):
    """Lance (pylance): one dataset, shuffled batches of rows read with ``take``, its random-access path."""

    modules = ("torch", "lance", "pyarrow")

    def prepare(self) -> None:
        import lance
        import pyarrow as pa

        images, labels = _raw(self.task)
        size = images[0].nbytes
        column = pa.FixedSizeBinaryArray.from_buffers(pa.binary(size), len(images), [None, pa.py_buffer(images)])
        lance.write_dataset(pa.table({"image": column, "label": labels}), self.dest, mode="overwrite")

    def batches(self) -> Iterable[Batch]:
        import torch
        from torch.utils.data import BatchSampler, DataLoader, RandomSampler

        shape = np.load(self.task["source"]["images"], mmap_mode="r").shape
        dataset = _LanceTake(self.dest, shape[1:], shape[0])
        generator = torch.Generator().manual_seed(self.seed)
        sampler = BatchSampler(RandomSampler(range(dataset.rows), generator=generator), self.batch_size, False)
        return DataLoader(dataset, sampler=sampler, batch_size=None, num_workers=self.workers)


class _LanceTake:
    """A map-style dataset whose items are whole batches: ``dataset[list of rows]``, read with one ``take``."""

    def __init__(self, path: str, shape: tuple[int, ...], rows: int) -> None:
        # Nothing of lance is touched here: its runtime's threads would not survive the fork into the workers.
        self.path, self.shape, self.rows = path, shape, rows
        self._dataset: Any = None

    def __getitem__(self, rows: list[int]) -> Batch:
        import lance

        if self._dataset is None:  # opened in each worker, not pickled into it
            self._dataset = lance.dataset(self.path)
        table = self._dataset.take(sorted(rows), columns=["image", "label"])
        images = np.frombuffer(table.column("image").combine_chunks().buffers()[1], np.uint8)
        labels = table.column("label").to_numpy()
        return _torch_batch(images.reshape(len(labels), *self.shape), labels)


SYSTEMS: dict[str, type[System]] = {
    "ceiling": Ceiling,
    "reference": Reference,
    "hub": Hub,
    "hub-threads": HubThreads,
    "hub285": Hub285,
    "hub-tf": HubTensorflow,
    "hub285-tf": Hub285Tensorflow,
    "tfrecord": TFRecord,
    "tfrecord-accurate": TFRecordAccurate,
    "torchvision": TorchVision,
    "webdataset": WebDataset,
    "streaming": Streaming,
    "zarr": Zarr,
    "lance": Lance,
}


def run(task: Task) -> dict[str, Any]:
    system = SYSTEMS[task["api"]](task)
    if task["op"] == "prepare":
        started = time.perf_counter()
        system.prepare()
        return {"seconds": time.perf_counter() - started}
    if isinstance(system, Ceiling):
        return system.run()
    try:
        system.setup()
        return measure(system.batches, task["max_seconds"])
    except NotImplementedError as e:
        return {"unavailable": f"not available ({e})"[:300]}


def main(argv: list[str]) -> int:
    task: Task = json.loads(Path(argv[1]).read_text())
    attempts: list[str] = []
    _refuse_network(attempts)
    result = {**run(task), "network": attempts}
    Path(task["result"]).write_text(json.dumps(result))
    sys.stdout.flush()
    sys.stderr.flush()
    # Some loaders leave worker processes or threads behind when a pass stops early; the result is written.
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
