"""``eval``: split the inputs into tasks, run them on a scheduler, then stitch their indexes in input order."""

from __future__ import annotations

import itertools
import pickle
import threading
import warnings
from typing import TYPE_CHECKING, Any

from tqdm import tqdm

from hub.core import changes
from hub.core.meta import TensorMeta, ids_key
from hub.errors import ReadOnlyError, SchedulerError, TransformError, TransformOptionError, VersionControlError
from hub.transform._inputs import PaddedInputs, inputs
from hub.transform._schedulers import Progress, check_picklable, run_tasks
from hub.transform._worker import Job, Task, TaskResult, fresh_meta

if TYPE_CHECKING:
    from hub.core.dataset import Dataset, _State
    from hub.transform._function import Pipeline
    from hub.transform._options import EvalOptions

__all__ = ["run_eval", "split", "SkippedSamplesWarning"]


class SkippedSamplesWarning(UserWarning):
    """``eval(..., ignore_errors=True)`` skipped inputs whose transform failed."""


#: Tasks per worker: more than one evens out inputs of uneven cost.
TASKS_PER_WORKER = 4


def run_eval(pipeline: Pipeline, data_in: Any, ds_out: Dataset | None, options: EvalOptions) -> None:
    """Run ``pipeline`` over ``data_in`` into ``ds_out`` (or in place), one stitched segment per checkpoint."""
    from hub.core.dataset import Dataset

    target, mode = _target(data_in, ds_out, options)
    scheduler = options.scheduler if options.num_workers > 0 else "serial"
    items = inputs(data_in, options.pad_data_in)
    source = items.ds if isinstance(items, PaddedInputs) else items
    if scheduler in ("processed", "ray") and isinstance(source, Dataset) and source.path.startswith("mem://"):
        raise SchedulerError(
            f"scheduler={scheduler!r} reads data_in in other processes, which can't reach the memory dataset "
            f"{source.path}; use scheduler='threaded'."
        )
    state = target._state
    if mode == "replace":
        state.flush()  # the workers read data_in from storage
    keys = target._visible_keys()
    metas = {k: state.meta.tensors[k] for k in keys}
    id_metas = {k: state.meta.tensors[ids_key(m.id)] for k, m in metas.items() if ids_key(m.id) in state.meta.tensors}
    job = Job(
        pipeline,
        state.storage.url,
        state.creds,
        {k: fresh_meta(m) for k, m in metas.items()},
        {k: fresh_meta(m) for k, m in id_metas.items()},
        target._group,
        options.check_lengths,
        options.skip_ok,
        options.ignore_errors,
        storage=state.storage,
        creds_keys=list(state.meta.creds_keys),
        link_creds=dict(state.links.creds),
        creds_key_ids=dict(state.meta.creds_key_ids),
        scan=mode == "scan",
    )
    run = _Run(job, state, scheduler, options.num_workers, keys, [ids_key(metas[k].id) for k in id_metas])
    n = len(items)
    step = _checkpoint_step(options, scheduler, n)
    skipped: list[tuple[int, str]] = []
    lock = threading.Lock()
    with tqdm(total=n, desc=pipeline.name, disable=not options.progressbar) as bar:

        def progress(k: int) -> None:
            with lock:
                bar.update(k)

        for start in range(0, n, step):
            stop = min(n, start + step)
            skipped += run.segment(items, start, stop, progress, clear=mode == "replace")
            if stop < n:  # a checkpoint: what is stitched so far survives a later failure
                target.commit(f"transform checkpoint: {stop} of {n} inputs done", allow_empty=True)
    if skipped:
        shown = "; ".join(f"input {i}: {msg}" for i, msg in skipped[:5])
        more = f"; and {len(skipped) - 5} more" if len(skipped) > 5 else ""
        warnings.warn(
            SkippedSamplesWarning(f"The transform skipped {len(skipped)} of {n} inputs that failed: {shown}{more}."),
            stacklevel=4,
        )


def _target(data_in: Any, ds_out: Dataset | None, options: EvalOptions) -> tuple[Dataset, str]:
    """The dataset written to, and how: ``append`` to ds_out, ``replace`` data_in in place, or only ``scan`` it."""
    from hub.core.dataset import Dataset

    if ds_out is not None:
        if not isinstance(ds_out, Dataset):
            raise TransformError(
                f"eval needs ds_out, the dataset to append the outputs to (got {type(ds_out).__name__}); "
                "create one with hub.empty(path) and its tensors with ds_out.create_tensor(...)."
            )
        ds_out._check_whole("eval")
        ds_out._state.check_writable()
        return ds_out, "append"
    if not isinstance(data_in, Dataset):
        raise TransformError(
            f"eval without ds_out transforms the dataset data_in in place, but data_in is a {type(data_in).__name__}. "
            "Pass ds_out, the dataset to append the outputs to (hub.empty(path) and ds_out.create_tensor(...))."
        )
    state = data_in._state
    writable = not state.read_only and state.branch is not None
    if options.read_only_ok and (not writable or data_in.index is not None):
        return data_in, "scan"
    if options.checkpoint_interval:
        raise TransformOptionError(
            "checkpoint_interval commits the outputs appended so far to ds_out, so it needs a ds_out; in place "
            "(ds_out=None) the dataset is replaced all at once. Pass ds_out=..., or checkpoint_interval=0."
        )
    if data_in.index is not None:
        raise TransformOptionError(
            "eval with ds_out=None replaces the contents of data_in, which must be a whole dataset, not a view. "
            "Pass the dataset itself, give a ds_out to append to, or pass read_only_ok=True to only read the view."
        )
    try:
        state.check_writable()
    except (ReadOnlyError, VersionControlError) as e:
        raise type(e)(
            f"{e} (eval with ds_out=None transforms data_in in place; pass read_only_ok=True to run a transform "
            "that only reads it.)"
        ) from None
    return data_in, "replace"


def _checkpoint_step(options: EvalOptions, scheduler: str, n: int) -> int:
    """Inputs per stitched segment: all of them, or checkpoint_interval rounded up to a multiple of the workers."""
    if not options.checkpoint_interval:
        return max(n, 1)
    workers = 1 if scheduler == "serial" else options.num_workers
    return -(-options.checkpoint_interval // workers) * workers


class _Run:
    """Runs segments of an eval's inputs as tasks and stitches each into the target, all or nothing."""

    def __init__(
        self, job: Job, state: _State, scheduler: str, num_workers: int, keys: list[str], id_keys: list[str]
    ) -> None:
        self.job = job
        self.state = state
        self.scheduler = scheduler
        self.num_workers = num_workers
        self.keys = keys
        self.id_keys = id_keys

    def segment(self, items: Any, start: int, stop: int, progress: Progress, clear: bool) -> list[tuple[int, str]]:
        """Transform inputs ``[start, stop)`` and stitch their outputs (after clearing the tensors if ``clear``)."""
        scheduler, state = self.scheduler, self.state
        parts = 1 if scheduler == "serial" else self.num_workers * TASKS_PER_WORKER
        tasks = split(items[start:stop], parts, scheduler == "threaded", offset=start)
        check_picklable(scheduler, self.job, tasks)
        done: list[TaskResult] = []
        stitched = False
        try:
            run_tasks(scheduler, self.job, tasks, self.num_workers, progress, done)
            failed = [r for r in done if r.error is not None]
            if failed:
                first = min(failed, key=lambda r: r.number).error
                assert first is not None
                raise first
            results = sorted(done, key=lambda r: r.number)
            if [r.number for r in results] != [t.number for t in tasks]:
                raise RuntimeError("A transform task ended without a result")  # never stitch a part of the inputs
            if not self.job.scan:
                with state.write(self.keys):  # also checkpoints the ids tensors: all or nothing
                    if clear:
                        _clear(state, self.keys)
                    stitch(state, results, self.keys, self.id_keys)
            stitched = True
        except BaseException:
            if not stitched:  # nothing names the chunks the tasks wrote
                for result in done:
                    for piece in result.pieces.values():
                        for key in piece.keys:
                            state.storage.delete(key)
            raise
        return [s for r in done for s in r.skipped]


def _clear(state: _State, keys: list[str]) -> None:
    """Empty the tensors (and their ids tensors) that an in-place eval replaces; inside ``state.write``."""
    for key in keys:
        state.clear_tensor(key)


def split(items: Any, parts: int, own_views: bool = False, offset: int = 0) -> list[Task]:
    """Contiguous, near-equal slices of ``items``, in order, numbered from ``offset`` in data_in.

    ``own_views`` reopens dataset views (one per thread).
    """
    from hub.core.dataset import Dataset

    n = len(items)
    parts = max(1, min(parts, n))
    bounds = [n * p // parts for p in range(parts + 1)]
    tasks = []
    for number, (start, stop) in enumerate(itertools.pairwise(bounds)):
        piece = items[start:stop]
        if own_views and isinstance(piece, (Dataset, PaddedInputs)):
            piece = pickle.loads(pickle.dumps(piece))  # engines' caches are not shared between threads
        tasks.append(Task(number, offset + start, piece))
    return tasks if n else []


def stitch(state: _State, results: list[TaskResult], keys: list[str], id_keys: list[str]) -> None:
    """Append every task's index pieces to the output tensors and their ids tensors, in task order.

    Runs inside ``state.write``, which restores every tensor if anything here fails.
    """
    for key in [*keys, *id_keys]:
        engine = state.engine(key)
        meta = engine.meta
        start = meta.length
        for result in results:
            worker = result.metas.get(key)
            if worker is None or worker.length == 0:
                continue
            _merge_meta(key, meta, worker)
            engine.import_piece(result.pieces[key])
        if key in keys:
            changes.record_append(meta, start, meta.length - start)


def _merge_meta(key: str, meta: TensorMeta, worker: TensorMeta) -> None:
    """Take what a worker settled (dtype, ndim, shape bounds, new class names) into the tensor's meta."""
    for field in ("dtype", "ndim"):
        mine, theirs = getattr(meta, field), getattr(worker, field)
        if mine is None:
            setattr(meta, field, theirs)
        elif theirs != mine:
            raise TransformError(
                f"Tensor {key!r}: workers stored samples of {field} {mine} and {theirs}. Create the tensor with "
                f"an explicit dtype, or make the transform output one {field}."
            )
    assert worker.min_shape is not None and worker.max_shape is not None
    meta.update_shape_bounds([tuple(worker.min_shape), tuple(worker.max_shape)])
    theirs_names = worker.info.get("class_names")
    if theirs_names:
        names = list(meta.info.get("class_names") or [])
        if theirs_names[: len(names)] == names:
            meta.info["class_names"] = list(theirs_names)
        elif names[: len(theirs_names)] != list(theirs_names):
            raise TransformError(
                f"Tensor {key!r}: workers met new class names in different orders ({names} and {theirs_names}), "
                "so their label ids disagree. Create the tensor with class_names=[...] listing every label, or "
                "use scheduler='serial'."
            )
