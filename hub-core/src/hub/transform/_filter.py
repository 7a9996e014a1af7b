"""``ds.filter``: the samples a predicate keeps, found on any scheduler, as a view (optionally saved)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from tqdm import tqdm

from hub.errors import SchedulerError, TransformError
from hub.transform._function import ComputeFunction
from hub.transform._schedulers import SCHEDULERS, check_picklable, run_tasks
from hub.transform._worker import Task, TaskResult, transform_error

if TYPE_CHECKING:
    from hub.core.dataset import Dataset

__all__ = ["filter_dataset"]


@dataclass
class _FilterJob:
    """Applies the predicate to one task's samples; keeps the positions it returns True for."""

    predicate: Callable[[Any], Any] | ComputeFunction
    remote: bool = False

    def __call__(self, task: Task, progress: Callable[[int], None] | None = None) -> TaskResult:
        result = TaskResult(task.number, len(task.items))
        for offset in range(len(task.items)):
            index = task.start + offset
            try:
                if self._keep(task.items[offset]):
                    result.kept.append(index)
            except Exception as e:
                result.error = transform_error(index, e, self.remote)
                break
            if progress is not None:
                progress(1)
        return result

    def _keep(self, sample: Any) -> bool:
        predicate = self.predicate
        if isinstance(predicate, ComputeFunction):  # a @hub.compute function(sample_in, **kwargs) -> bool
            return bool(predicate.function.func(sample, *predicate.args, **predicate.kwargs))
        return bool(predicate(sample))

    def shipped(self) -> _FilterJob:
        return _FilterJob(self.predicate, True)


def filter_dataset(
    ds: Dataset,
    function: Callable[[Any], Any] | ComputeFunction,
    num_workers: int,
    scheduler: str,
    progressbar: bool,
    save_result: bool,
    result_path: str | None,
    result_ds_args: dict[str, Any] | None,
) -> Dataset:
    from hub.transform._eval import split

    if not callable(function):
        raise TransformError(
            f"ds.filter takes a function of one sample that returns True to keep it, got {type(function).__name__}."
        )
    if scheduler not in SCHEDULERS:
        raise SchedulerError(f"Unknown scheduler {scheduler!r}; choose one of {', '.join(SCHEDULERS)}.")
    if save_result and result_path is None:
        raise TransformError("ds.filter(save_result=True) needs result_path, where to write the kept samples.")
    if num_workers <= 0:
        scheduler = "serial"
    if scheduler in ("processed", "ray") and ds.path.startswith("mem://"):
        raise SchedulerError(
            f"scheduler={scheduler!r} reads the dataset in other processes, which can't reach the memory dataset "
            f"{ds.path}; use scheduler='threaded'."
        )
    view = ds if ds.index is not None else ds[:]
    tasks = split(view, 1 if scheduler == "serial" else num_workers * 4, scheduler == "threaded")
    job = _FilterJob(function)
    check_picklable(scheduler, job, tasks)
    done: list[TaskResult] = []
    lock = threading.Lock()
    with tqdm(total=len(view), desc="filter", disable=not progressbar) as bar:

        def progress(n: int) -> None:
            with lock:
                bar.update(n)

        run_tasks(scheduler, job, tasks, num_workers, progress, done)
    failed = [r for r in done if r.error is not None]
    if failed:
        error = min(failed, key=lambda r: r.number).error
        assert error is not None
        raise error
    kept = np.asarray(sorted(i for r in done for i in r.kept), dtype=np.int64)
    result: Dataset = view[kept]
    if save_result:
        assert result_path is not None
        _save(result, result_path, result_ds_args or {})
    return result


def _save(view: Dataset, path: str, ds_args: dict[str, Any]) -> None:
    """Write the samples of ``view`` to a new dataset at ``path`` with the same tensors."""
    import hub

    out = hub.like(path, view, **ds_args)
    batch = 256
    with out:
        for start in range(0, len(view), batch):
            part = view[start : start + batch]
            out.extend({name: t._values(t._positions()) for name, t in part.tensors.items()})
