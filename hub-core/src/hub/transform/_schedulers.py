"""The four ways to run an eval's tasks: in this thread, in threads, in processes, or on Ray.

Each scheduler appends every finished task's result to ``done`` as it arrives (so that the
caller can clean up after a failure or an interrupt) and stops early at the first failed task.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, FIRST_EXCEPTION, ProcessPoolExecutor, ThreadPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Protocol

from hub.errors import MissingDependencyError, SchedulerError, TransformError, TransformPickleError
from hub.transform._worker import Task, TaskResult

__all__ = ["SCHEDULERS", "run_tasks", "check_picklable"]

SCHEDULERS = ("serial", "threaded", "processed", "ray")

Progress = Callable[[int], None]


class Work(Protocol):
    """What the tasks of one run do (a transform's :class:`Job`, or a filter's predicate)."""

    remote: bool

    def __call__(self, task: Task, progress: Progress | None = None) -> TaskResult: ...

    def shipped(self) -> Work:
        """This work as sent to another process."""
        ...


class _Cancelled(BaseException):
    """Raised inside a thread's task once another task failed or the caller was interrupted."""


def run_tasks(
    scheduler: str, job: Work, tasks: list[Task], num_workers: int, progress: Progress, done: list[TaskResult]
) -> None:
    runner = {"serial": _serial, "threaded": _threaded, "processed": _processed, "ray": _ray}.get(scheduler)
    if runner is None:
        raise SchedulerError(f"Unknown scheduler {scheduler!r}; choose one of {', '.join(SCHEDULERS)}.")
    if tasks:
        runner(job, tasks, num_workers, progress, done)


def _serial(job: Work, tasks: list[Task], num_workers: int, progress: Progress, done: list[TaskResult]) -> None:
    for task in tasks:
        done.append(job(task, progress))
        if done[-1].error is not None:
            return


def _threaded(job: Work, tasks: list[Task], num_workers: int, progress: Progress, done: list[TaskResult]) -> None:
    stop = threading.Event()

    def tick(n: int) -> None:
        if stop.is_set():
            raise _Cancelled
        progress(n)

    def one(task: Task) -> TaskResult:
        result = job(task, tick)
        if result.error is not None:
            stop.set()
        return result

    with ThreadPoolExecutor(num_workers, thread_name_prefix="hub-transform") as pool:
        futures = [pool.submit(one, task) for task in tasks]
        try:
            while not stop.is_set():
                # A timeout, so that an interrupt reaches this thread while the tasks run.
                _, unfinished = wait(futures, timeout=0.2, return_when=FIRST_EXCEPTION)
                if not unfinished or any(f.done() and f.exception() is not None for f in futures):
                    break
        finally:
            stop.set()
            for f in futures:
                f.cancel()
            wait(futures)
            done.extend(f.result() for f in futures if not f.cancelled() and f.exception() is None)
    for f in futures:
        error = None if f.cancelled() else f.exception()
        if error is not None and not isinstance(error, _Cancelled):
            raise error


_CANCEL: Any = None  # in a worker process: the event the parent sets to stop every task early
_DONE: Any = None  # in a worker process: the shared count of inputs done, which the parent polls

#: How often the parent reads the workers' progress (and the Ray workers report it), in seconds.
_POLL = 0.2


#: How long a worker whose parent died gives its task to delete what it wrote before exiting.
_ORPHAN_GRACE = 5.0


def _init_worker(cancel: Any, done: Any, parent: int) -> None:
    global _CANCEL, _DONE
    _CANCEL, _DONE = cancel, done
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides what an interrupt stops
    threading.Thread(target=_exit_with_parent, args=(parent,), name="hub-parent-watch", daemon=True).start()


def _exit_with_parent(parent: int) -> None:
    """A worker outlives a killed parent otherwise, waiting forever for tasks no one will send."""
    while os.getppid() == parent:
        time.sleep(0.5)
    _CANCEL.set()  # the running task stops at its next input and deletes what it wrote
    time.sleep(_ORPHAN_GRACE)
    os._exit(1)


def _process_task(job: Work, task: Task) -> TaskResult:
    def tick(n: int) -> None:
        if _CANCEL.is_set():
            raise _Cancelled
        if n:
            with _DONE.get_lock():
                _DONE.value += n

    try:
        tick(0)
        return job(task, tick)
    except _Cancelled:  # it deleted what it wrote
        return TaskResult(task.number, 0, cancelled=True)


def _processed(job: Work, tasks: list[Task], num_workers: int, progress: Progress, done: list[TaskResult]) -> None:
    # Spawn, not fork: the parent runs threads (the writer lease's heartbeat, storage pools) that a fork would
    # copy mid-lock; not forkserver: its workers would see the environment of its first use, not today's.
    context = multiprocessing.get_context("spawn")
    cancel = context.Event()
    counter = context.Value("q", 0)
    shipped = job.shipped()
    failure: BaseException | None = None
    reported = 0

    def report() -> None:  # what the workers counted since the last report
        nonlocal reported
        now = int(counter.value)
        if now > reported:
            progress(now - reported)
            reported = now

    with ProcessPoolExecutor(
        min(num_workers, len(tasks)),
        mp_context=context,
        initializer=_init_worker,
        initargs=(cancel, counter, os.getpid()),
    ) as pool:
        futures = [pool.submit(_process_task, shipped, task) for task in tasks]
        pending = set(futures)
        while pending:
            try:
                finished, pending = wait(pending, timeout=_POLL, return_when=FIRST_COMPLETED)
                report()
            except KeyboardInterrupt as e:
                # The tasks stop at their next input and delete what they wrote; results that arrive are kept.
                failure = failure or e
                cancel.set()
                continue
            for f in finished:
                error = f.exception()
                if isinstance(error, BrokenProcessPool):
                    error = TransformError(
                        "A transform worker process died (killed, or out of memory?) before its task ended; "
                        "the output dataset is unchanged.",
                        original=error,
                    )
                if error is not None:  # or the result could not be sent back
                    failure = failure or error
                    cancel.set()
                    continue
                result = f.result()
                if not result.cancelled:
                    done.append(result)
                if result.error is not None:
                    cancel.set()
    report()
    if failure is not None:
        raise failure


def _ray_module() -> Any:
    try:
        import ray
    except ImportError:
        raise MissingDependencyError(
            "scheduler='ray' needs Ray: pip install 'hub-core[ray]' (or pip install ray)."
        ) from None
    return ray


def _ray(job: Work, tasks: list[Task], num_workers: int, progress: Progress, done: list[TaskResult]) -> None:
    ray = _ray_module()
    if not ray.is_initialized():
        # Joins the cluster RAY_ADDRESS names, if any; else starts a local Ray on this machine.
        ray.init(include_dashboard=False)
    remote = ray.remote(num_cpus=1, max_retries=0)(_ray_task)
    tally = ray.remote(num_cpus=0)(_Tally).remote()
    shipped = ray.put(_by_value(job.shipped()))
    pending = [remote.remote(shipped, task, tally) for task in tasks]
    reported = 0

    def report() -> None:  # what the tasks reported since the last report
        nonlocal reported
        now: int = ray.get(tally.total.remote())
        if now > reported:
            progress(now - reported)
            reported = now

    try:
        while pending:
            ready, pending = ray.wait(pending, num_returns=1, timeout=_POLL)
            report()
            if not ready:
                continue
            result: TaskResult = ray.get(ready[0])
            done.append(result)
            if result.error is not None:
                return
        report()
    finally:
        # The running tasks stop at their next input and delete what they wrote (the queued ones at once); the
        # results of those that finished meanwhile are collected, so that the caller deletes their chunks too.
        # Not ray.cancel: its interrupt can land anywhere, even between a task's last write and its result.
        tally.cancel.remote()
        for ref in pending:
            try:
                result = ray.get(ref)
            except ray.exceptions.RayTaskError:
                continue
            if not result.cancelled:
                done.append(result)
        ray.kill(tally)


class _Tally:
    """A Ray actor that adds up the inputs the tasks of one run have done, and tells them when to stop."""

    def __init__(self) -> None:
        self.count = 0
        self.stop = False

    def add(self, n: int) -> bool:
        """Count ``n`` more inputs; whether the tasks are to stop."""
        self.count += n
        return self.stop

    def total(self) -> int:
        return self.count

    def cancel(self) -> None:
        self.stop = True


class _Reporter:
    """A Ray task's link to the tally: sends its progress every ``_POLL`` seconds, from a thread of its own, and
    learns whether to stop."""

    def __init__(self, tally: Any) -> None:
        import ray

        self.tally = tally
        self.pending = 0
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.cancelled: bool = ray.get(tally.add.remote(0))
        self.thread = threading.Thread(target=self._run, name="hub-progress", daemon=True)
        self.thread.start()

    def tick(self, n: int) -> None:
        """The task's progress callback: count ``n`` inputs, or stop the task if the run was cancelled."""
        if self.cancelled:
            raise _Cancelled
        with self.lock:
            self.pending += n

    def _send(self) -> Any:
        with self.lock:
            n, self.pending = self.pending, 0
        return self.tally.add.remote(n)

    def _run(self) -> None:
        import ray

        while not self.stop.wait(_POLL):
            self.cancelled = ray.get(self._send())

    def close(self) -> None:
        """Send the rest and wait until the tally has it, so that the parent counts it before the task's result."""
        import ray

        self.stop.set()
        self.thread.join()
        ray.get(self._send())


def _ray_task(job_bytes: bytes, task: Task, tally: Any) -> TaskResult:
    reporter = _Reporter(tally)
    try:
        result: TaskResult = pickle.loads(job_bytes)(task, reporter.tick)
    except _Cancelled:  # it deleted what it wrote
        result = TaskResult(task.number, 0, cancelled=True)
    reporter.close()
    return result


def _by_value(job: Work) -> bytes:
    """The job pickled with the transform functions' code, for Ray workers that can't import the user's script."""
    from ray import cloudpickle

    from hub.transform._function import pickle_by_value

    dumps: Any = cloudpickle.dumps  # untyped
    with pickle_by_value():
        data: bytes = dumps(job)
    return data


def check_picklable(scheduler: str, job: Work, tasks: list[Task]) -> None:
    """Raise TransformPickleError if the transform, its arguments or the inputs can't reach a worker process."""
    if scheduler not in ("processed", "ray") or not tasks:
        return
    url = getattr(job, "url", "")
    if url.startswith("mem://"):
        raise SchedulerError(
            f"scheduler={scheduler!r} runs the transform in other processes, which can't reach the memory dataset "
            f"{url}; use scheduler='threaded', or write to a local path or a cloud URL."
        )
    what = "the transform or its arguments"
    try:
        if scheduler == "ray":
            _ray_module()
            _by_value(job.shipped())
        else:
            pickle.dumps(job.shipped())
        what = "the inputs (data_in)"
        pickle.dumps(tasks[0].items)
    except (pickle.PicklingError, TypeError, AttributeError) as e:
        raise TransformPickleError(
            f"scheduler={scheduler!r} sends {what} to other processes, but they can't be pickled: {e}. Define "
            "transforms with @hub.compute at the top level of a module (not inside a function or as a lambda), "
            "pass only picklable arguments and inputs, or use scheduler='threaded'."
        ) from e
