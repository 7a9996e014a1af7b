"""One transform task: run the pipeline over a slice of the inputs, writing chunks straight to storage."""

from __future__ import annotations

import pickle
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hub.core.engine import IndexPiece, TensorEngine
from hub.core.links import LinkResolver
from hub.core.meta import TensorMeta, ids_key, new_sample_ids
from hub.core.samples import SampleEncoder
from hub.errors import ReadOnlyError, TensorNotFoundError, TransformError
from hub.storage import Storage, storage_from_url

if TYPE_CHECKING:
    from hub.transform._function import Pipeline

__all__ = ["Job", "Task", "TaskResult", "run_task", "fresh_meta", "transform_error"]


def fresh_meta(meta: TensorMeta) -> TensorMeta:
    """A worker's copy of a tensor's meta: the same tensor (id, htype, dtype, codecs, info) with no samples."""
    out = meta.copy()
    out.length, out.index, out.sealed, out.base_index = 0, None, 0, None
    out.min_shape = out.max_shape = None
    out.changes = {}
    return out


@dataclass
class Job:
    """What every task of one ``eval`` shares: the pipeline, where to write, and the checks to make."""

    pipeline: Pipeline
    url: str
    creds: Any
    #: Tensor key -> its meta with no samples; only the visible tensors of the output dataset.
    metas: dict[str, TensorMeta]
    #: Tensor key -> the meta of the hidden tensor that holds its samples' stable ids.
    id_metas: dict[str, TensorMeta]
    #: The output dataset's group ("" for the root): samples_out names are relative to it.
    group: str
    check_lengths: bool
    skip_ok: bool
    ignore_errors: bool
    #: The storage to write through when the task runs in this process; None: open it from url and creds.
    storage: Storage | None = None
    #: Whether the task runs in another process: errors then carry the worker's traceback as text.
    remote: bool = False
    #: The output dataset's creds keys and the credentials populated for them, for links the transform appends.
    creds_keys: list[str] = field(default_factory=list)
    link_creds: dict[str, Any] = field(default_factory=dict)
    creds_key_ids: dict[str, str] = field(default_factory=dict)
    #: ``read_only_ok`` on a dataset that can't be written: run the transform, but appending is an error.
    scan: bool = False

    def __call__(self, task: Task, progress: Callable[[int], None] | None = None) -> TaskResult:
        return run_task(self, task, progress)

    def shipped(self) -> Job:
        """This job as sent to another process, which opens the storage itself."""
        return Job(
            self.pipeline,
            self.url,
            self.creds,
            self.metas,
            self.id_metas,
            self.group,
            self.check_lengths,
            self.skip_ok,
            self.ignore_errors,
            None,
            True,
            self.creds_keys,
            self.link_creds,
            self.creds_key_ids,
            self.scan,
        )

    def names(self) -> frozenset[str]:
        cut = len(self.group) + 1 if self.group else 0
        return frozenset(k[cut:] for k in self.metas)


@dataclass
class Task:
    """Inputs ``[start, start + len(items))`` of an ``eval``."""

    number: int
    start: int
    items: Any


@dataclass
class TaskResult:
    """What a task sends back: index pieces and settled metas, never sample data."""

    number: int
    count: int
    #: For ``ds.filter``: the positions (in data_in) of the inputs the predicate kept.
    kept: list[int] = field(default_factory=list)
    pieces: dict[str, IndexPiece] = field(default_factory=dict)
    metas: dict[str, TensorMeta] = field(default_factory=dict)
    skipped: list[tuple[int, str]] = field(default_factory=list)
    error: TransformError | None = None
    #: Stopped before the end because another task failed (it deleted what it wrote).
    cancelled: bool = False


def _picklable(error: BaseException) -> BaseException:
    try:
        pickle.loads(pickle.dumps(error))
    except Exception:
        return RuntimeError(f"{type(error).__name__}: {error}")
    return error


def transform_error(index: int, error: BaseException, remote: bool) -> TransformError:
    message = f"The transform failed on input {index}: {type(error).__name__}: {error}"
    if remote:
        message += "\n\nTraceback in the worker:\n" + "".join(traceback.format_exception(error)).rstrip()
    return TransformError(message, index, _picklable(error) if remote else error)


class _Writer:
    """The engines of one task: a fresh engine per output tensor over the output storage."""

    def __init__(self, job: Job, storage: Storage) -> None:
        self.job = job
        self.metas = {k: fresh_meta(m) for k, m in job.metas.items()}
        self.engines = {k: TensorEngine(storage, m) for k, m in self.metas.items()}
        links = LinkResolver(list(job.creds_keys), job.link_creds, dict(job.creds_key_ids))
        self.encoders = {k: SampleEncoder(k, m, links) for k, m in self.metas.items()}
        for key, meta in job.id_metas.items():
            self.engines[ids_key(job.metas[key].id)] = TensorEngine(storage, fresh_meta(meta))

    def key(self, name: str) -> str:
        return f"{self.job.group}/{name}" if self.job.group else name

    def encode(self, outputs: dict[str, list[Any]]) -> dict[str, list[Any]]:
        """Validate and encode one input's outputs; raises (and writes nothing) if any is wrong."""
        job = self.job
        lengths = {name: len(values) for name, values in outputs.items()}
        if job.check_lengths and any(lengths.values()):
            expected = lengths if job.skip_ok else {n: lengths.get(n, 0) for n in job.names()}
            if len(set(expected.values())) > 1:
                missing = sorted(n for n, c in expected.items() if c == 0)
                hint = (
                    f" Nothing was appended to {missing}; append to every tensor or pass skip_ok=True."
                    if missing
                    else ""
                )
                raise TensorNotFoundError(
                    f"The transform appended different numbers of samples to the output tensors: {expected}.{hint} "
                    "(check_lengths=False skips this check.)"
                )
        return {
            self.key(name): [self.encoders[self.key(name)].encode(v) for v in values]
            for name, values in outputs.items()
        }

    def write(self, encoded: dict[str, list[Any]]) -> None:
        for key, samples in encoded.items():
            self.engines[key].append(samples)

    def finish(self) -> tuple[dict[str, IndexPiece], dict[str, TensorMeta]]:
        """Close every tensor's chunks (after writing its new samples' stable ids); return pieces and metas.

        Pieces and metas are keyed like the output dataset's tensors; the ids tensors' by ``ids_key``.
        """
        for meta in self.metas.values():
            ids = self.engines.get(ids_key(meta.id))
            if ids is not None and meta.length:
                data, shape, count = SampleEncoder("ids", ids.meta).encode_batch(new_sample_ids(meta.length))
                ids.append_batch(data, shape, count)
        pieces = {k: e.export_piece() for k, e in self.engines.items()}
        return pieces, {k: e.meta for k, e in self.engines.items()}

    def written(self) -> list[str]:
        return [key for e in self.engines.values() for key in e.written_keys]


def run_task(job: Job, task: Task, progress: Callable[[int], None] | None = None) -> TaskResult:
    """Run the pipeline over one task's inputs; a failed input ends the task with a TransformError.

    Whatever the task wrote is deleted again if it fails or is interrupted: only a task that
    returns its pieces leaves chunks for the writer to stitch in.
    """
    storage = job.storage if job.storage is not None else storage_from_url(job.url, creds=job.creds)
    writer = _Writer(job, storage)
    result = TaskResult(task.number, len(task.items))
    names = job.names()
    try:
        for offset, sample_in in enumerate(_iterate(task.items)):
            index = task.start + offset
            try:
                # Scanning, any append is the error, whatever the lengths.
                outputs = job.pipeline.run(sample_in, names, job.check_lengths and not job.scan)
                encoded = {} if job.scan else writer.encode(outputs)
            except Exception as e:
                if not job.ignore_errors:
                    raise transform_error(index, e, job.remote) from e
                result.skipped.append((index, f"{type(e).__name__}: {e}"))
            else:
                if job.scan and any(outputs.values()):
                    raise _appended(index, outputs)
                writer.write(encoded)
            if progress is not None:
                progress(1)
        result.pieces, result.metas = writer.finish()
        storage.flush()  # the chunks are durable and in place before the writer is told about them
    except TransformError as e:
        _delete(storage, writer.written())
        result.error = e
    except BaseException:
        _clean_up(storage, writer.written())
        raise
    return result


def _appended(index: int, outputs: dict[str, list[Any]]) -> TransformError:
    names = sorted(k for k, v in outputs.items() if v)
    return TransformError(
        f"The transform appended to {names} for input {index}, but it runs with read_only_ok=True on a dataset it "
        "can't write (read-only, a commit, or a view), so it may only read. Load the dataset with read_only=False "
        "and pass the whole dataset to transform it in place, or give a ds_out to append to.",
        index,
        ReadOnlyError(f"eval(read_only_ok=True) on a dataset it can't write appended to {names}"),
    )


def _clean_up(storage: Storage, keys: list[str]) -> None:
    """Delete what an interrupted task wrote, to the end: a second Ctrl-C must not leave chunks behind."""
    while True:
        try:
            storage.flush()  # a write the interrupt cut short is in place before it is deleted
            _delete(storage, keys)
            return
        except KeyboardInterrupt:
            continue


def _delete(storage: Storage, keys: list[str]) -> None:
    for key in keys:
        storage.delete(key)


def _iterate(items: Any) -> Any:
    """The inputs of a task; a dataset view yields one-sample views (``sample_in.images.numpy()``)."""
    from hub.core.dataset import Dataset

    if isinstance(items, Dataset):
        return (items[i] for i in range(len(items)))
    return iter(items)
