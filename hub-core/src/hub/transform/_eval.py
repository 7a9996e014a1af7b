"""``eval``: split the inputs into tasks, run them on a scheduler, then stitch their indexes in input order."""

from __future__ import annotations

import itertools
import pickle
import threading
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from tqdm import tqdm

from hub.core import changes
from hub.core.meta import TensorMeta, ids_key
from hub.errors import SchedulerError, TransformError
from hub.transform._schedulers import SCHEDULERS, check_picklable, run_tasks
from hub.transform._worker import Job, Task, TaskResult, fresh_meta

if TYPE_CHECKING:
    from hub.core.dataset import Dataset, _State
    from hub.transform._function import Pipeline

__all__ = ["run_eval", "split", "SkippedSamplesWarning"]


class SkippedSamplesWarning(UserWarning):
    """``eval(..., ignore_errors=True)`` skipped inputs whose transform failed."""


#: Tasks per worker: more than one evens out uneven inputs and moves the progress bar.
TASKS_PER_WORKER = 4


def run_eval(
    pipeline: Pipeline,
    data_in: Any,
    ds_out: Dataset | None,
    num_workers: int,
    scheduler: str,
    progressbar: bool,
    skip_ok: bool,
    check_lengths: bool,
    ignore_errors: bool,
) -> None:
    from hub.core.dataset import Dataset

    if not isinstance(ds_out, Dataset):
        raise TransformError(
            f"eval needs ds_out, the dataset to append the outputs to (got {type(ds_out).__name__}); "
            "create one with hub.empty(path) and its tensors with ds_out.create_tensor(...)."
        )
    if scheduler not in SCHEDULERS:
        raise SchedulerError(f"Unknown scheduler {scheduler!r}; choose one of {', '.join(SCHEDULERS)}.")
    ds_out._check_whole("eval")
    state = ds_out._state
    state.check_writable()
    if num_workers <= 0:
        scheduler = "serial"
    items = _inputs(data_in)
    if scheduler in ("processed", "ray") and isinstance(items, Dataset) and items.path.startswith("mem://"):
        raise SchedulerError(
            f"scheduler={scheduler!r} reads data_in in other processes, which can't reach the memory dataset "
            f"{items.path}; use scheduler='threaded'."
        )
    keys = ds_out._visible_keys()
    metas = {k: state.meta.tensors[k] for k in keys}
    id_metas = {k: state.meta.tensors[ids_key(m.id)] for k, m in metas.items() if ids_key(m.id) in state.meta.tensors}
    job = Job(
        pipeline,
        state.storage.url,
        state.creds,
        {k: fresh_meta(m) for k, m in metas.items()},
        {k: fresh_meta(m) for k, m in id_metas.items()},
        ds_out._group,
        check_lengths,
        skip_ok,
        ignore_errors,
        storage=state.storage,
        creds_keys=list(state.meta.creds_keys),
        link_creds=dict(state.links.creds),
        creds_key_ids=dict(state.meta.creds_key_ids),
    )
    tasks = split(items, 1 if scheduler == "serial" else num_workers * TASKS_PER_WORKER, scheduler == "threaded")
    check_picklable(scheduler, job, tasks)
    done: list[TaskResult] = []
    stitched = False
    lock = threading.Lock()
    with tqdm(total=len(items), desc="transform", disable=not progressbar) as bar:

        def progress(n: int) -> None:
            with lock:
                bar.update(n)

        try:
            run_tasks(scheduler, job, tasks, num_workers, progress, done)
            failed = [r for r in done if r.error is not None]
            if failed:
                first = min(failed, key=lambda r: r.number).error
                assert first is not None
                raise first
            results = sorted(done, key=lambda r: r.number)
            if [r.number for r in results] != [t.number for t in tasks]:
                raise RuntimeError("A transform task ended without a result")  # never stitch a part of the inputs
            with state.write(keys):  # also checkpoints the ids tensors: all or nothing
                stitch(state, results, keys, [ids_key(metas[k].id) for k in id_metas])
                stitched = True
        except BaseException:
            if not stitched:  # nothing names the chunks the tasks wrote
                for result in done:
                    for piece in result.pieces.values():
                        for key in piece.keys:
                            state.storage.delete(key)
            raise
    skipped = [s for r in done for s in r.skipped]
    if skipped:
        shown = "; ".join(f"input {i}: {msg}" for i, msg in skipped[:5])
        more = f"; and {len(skipped) - 5} more" if len(skipped) > 5 else ""
        warnings.warn(
            SkippedSamplesWarning(
                f"The transform skipped {len(skipped)} of {len(items)} inputs that failed: {shown}{more}."
            ),
            stacklevel=4,
        )


def _inputs(data_in: Any) -> Any:
    """``data_in`` as something with a length that slices: a dataset view, a sequence or an array."""
    from hub.core.dataset import Dataset

    if isinstance(data_in, (Dataset, Sequence, np.ndarray)) and not isinstance(data_in, (str, bytes)):
        return data_in
    try:
        return list(data_in)
    except TypeError:
        raise TransformError(
            f"data_in must be a sequence (a list of paths, a numpy array) or a dataset, got {type(data_in).__name__}."
        ) from None


def split(items: Any, parts: int, own_views: bool = False) -> list[Task]:
    """Contiguous, near-equal slices of ``items``, in order; ``own_views`` reopens dataset views (one per thread)."""
    from hub.core.dataset import Dataset

    n = len(items)
    parts = max(1, min(parts, n))
    bounds = [n * p // parts for p in range(parts + 1)]
    tasks = []
    for number, (start, stop) in enumerate(itertools.pairwise(bounds)):
        piece = items[start:stop]
        if own_views and isinstance(piece, Dataset):
            piece = pickle.loads(pickle.dumps(piece))  # engines' caches are not shared between threads
        tasks.append(Task(number, start, piece))
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
