"""``ds.pytorch(...)``: a DataLoader over a :class:`HubIterableDataset` that counts epochs and resumes mid-epoch."""

from __future__ import annotations

import pickle
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Literal

import torch.multiprocessing
from torch.utils.data import DataLoader

import hub
from hub.core.reading import ErrorPolicy
from hub.errors import DatasetNotShareableError, LoaderOptionError
from hub_torch._iterable import DecodeMethod, HubIterableDataset, Transform
from hub_torch._pack import RECYCLES, ArenaReturns, premade_arenas, slot_flags, unpack

__all__ = ["HubDataLoader", "Parallelism", "dataset_to_pytorch"]

#: Where ``num_workers`` workers run: "processes" (DataLoader worker processes), "threads" (in the loader's
#: process; the same batches in the same order), or "auto": threads where processes would buy nothing (see
#: :func:`_auto_parallelism`), else processes.
Parallelism = Literal["auto", "processes", "threads"]


def _passthrough(batch: Any) -> Any:
    return batch


class HubDataLoader(DataLoader[Any]):
    """A DataLoader whose dataset yields ready batches; each ``iter()`` is a new epoch, resumable mid-epoch.

    ``state_dict()`` records the epoch and how many batches of it were taken; ``load_state_dict(state)`` makes
    the next ``iter()`` yield the rest of that epoch, the same batches in the same order.
    """

    dataset: HubIterableDataset

    def __init__(
        self,
        dataset: HubIterableDataset,
        num_workers: int = 0,
        pin_memory: bool = False,
        use_progress_bar: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            dataset,
            batch_size=None,
            num_workers=num_workers,
            pin_memory=pin_memory,
            collate_fn=_passthrough,
            **kwargs,
        )
        dataset.packing = num_workers > 0
        self.use_progress_bar = use_progress_bar
        self._epoch = 0
        self._taken = 0
        self._resume = 0
        self._returns: ArenaReturns | None = None  # persistent workers' arenas, kept across epochs
        if self.persistent_workers:
            dataset.keep_workers(num_workers)

    def __iter__(self) -> Iterator[Any]:  # type: ignore[override]
        dataset = self.dataset
        dataset.set_epoch(self._epoch)
        if self._resume:
            dataset.resume_after(self._resume, dataset.threads or self.num_workers)
        self._taken, self._resume = self._resume, 0
        dataset.start_epoch(self.num_workers)
        returns = self._returns  # persistent workers keep the arenas they started with
        if returns is None and dataset.packing and RECYCLES:
            # Arenas for the packs in flight, the one being served, the user's and the one being filled.
            per_key = (self.prefetch_factor or 2) + 3
            premade = premade_arenas(
                dataset.arena_keys(), dataset.arena_rows(self.num_workers), per_key, self.num_workers
            )
            returns = ArenaReturns(slot_flags(self.num_workers), premade)
            dataset.arena_flags, dataset.arena_premade = returns.flags, premade
            dataset.resend_arenas = bool(self.pin_memory)
            if self.persistent_workers:
                self._returns = returns
        # Starts the workers, which take the flags and their arenas with the dataset.
        batches: Iterator[Any] = super().__iter__()
        dataset.arena_flags, dataset.arena_premade = None, None
        if self.num_workers > 0:  # in this process the dataset's own iterator takes the resumption itself
            dataset.workers_started()
        if self.use_progress_bar:
            from tqdm import tqdm

            batches = iter(tqdm(batches, total=len(dataset), initial=self._taken, desc=f"epoch {self._epoch}"))
        for item in batches:
            for batch in unpack(item, returns):
                self._taken += 1
                yield batch
            del item, batch  # what this generator holds, so that release() sees only the user's references
            if returns is not None:
                returns.release()
        self._epoch += 1
        self._taken = 0

    def set_epoch(self, epoch: int) -> None:
        """Make the next ``iter()`` read epoch ``epoch`` (epochs otherwise count up from 0 by themselves)."""
        self._epoch = epoch

    def state_dict(self) -> dict[str, Any]:
        """Where the loader is: the epoch, batches taken from it, and the shuffle seed."""
        return {"epoch": self._epoch, "batches": self._taken, "seed": self.dataset.seed}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from ``state`` (a :meth:`state_dict`): the next ``iter()`` yields the rest of that epoch."""
        self._epoch = int(state["epoch"])
        self._resume = int(state["batches"])
        self.dataset.seed = int(state["seed"])


def dataset_to_pytorch(
    dataset: hub.Dataset,
    transform: Transform | None = None,
    tensors: Sequence[str] | None = None,
    num_workers: int = 1,
    batch_size: int = 1,
    drop_last: bool = False,
    collate_fn: Callable[[list[Any]], Any] | None = None,
    pin_memory: bool = False,
    shuffle: bool = False,
    buffer_size: int = 2048,
    use_progress_bar: bool = False,
    return_index: bool = True,
    pad_tensors: bool = False,
    decode_method: DecodeMethod | None = None,
    seed: int | None = None,
    distributed: tuple[int, int] | bool | None = None,
    *,
    errors: ErrorPolicy = "raise",
    multiprocessing_context: str | None = None,
    parallelism: Parallelism = "auto",
    tobytes: bool | Sequence[str] = False,
    use_local_cache: bool = False,
    **loader_kwargs: Any,
) -> HubDataLoader:
    """The hook behind ``ds.pytorch(...)``: a DataLoader over the view (see docs/api.md).

    ``tobytes`` and ``use_local_cache`` are Hub 2.x's: ``tobytes`` (True, or tensor names) is ``decode_method``
    "tobytes" for those tensors.
    """
    if use_local_cache:
        raise LoaderOptionError(
            "use_local_cache=True is not supported: ds.pytorch() streams whole chunks and keeps none between epochs. "
            "To read a remote dataset from local disk, copy it first: hub.deepcopy(src_path, local_path)."
        )
    if tobytes:
        if tobytes is not True:
            picked = [tobytes] if isinstance(tobytes, str) else list(tobytes)
        elif tensors is not None:
            picked = list(tensors)
        else:
            picked = list(transform) if isinstance(transform, dict) else list(dataset.tensors)
        decode_method = dict(decode_method or {})
        for name in picked:
            if decode_method.get(name, "tobytes") != "tobytes":
                raise LoaderOptionError(
                    f"Tensor {name!r} is in tobytes and has decode_method {decode_method[name]!r}; give one of them."
                )
            decode_method[name] = "tobytes"
    if parallelism not in ("auto", "processes", "threads"):
        raise LoaderOptionError(f"parallelism must be 'auto', 'processes' or 'threads', got {parallelism!r}.")
    if loader_kwargs.get("persistent_workers") and (num_workers == 0 or parallelism == "threads"):
        raise LoaderOptionError("persistent_workers needs worker processes: num_workers > 0, parallelism='processes'.")
    if parallelism == "threads" and multiprocessing_context is not None:
        raise LoaderOptionError("parallelism='threads' starts no processes; drop multiprocessing_context.")
    if parallelism == "threads" and loader_kwargs.get("worker_init_fn") is not None:
        raise LoaderOptionError(
            "parallelism='threads' starts no worker processes, so a worker_init_fn would never run; drop it, or "
            "use parallelism='processes'."
        )
    iterable = HubIterableDataset(
        dataset,
        tensors,
        batch_size=batch_size,
        shuffle=shuffle,
        buffer_size=buffer_size,
        seed=seed,
        drop_last=drop_last,
        transform=transform,
        collate_fn=collate_fn,
        pad_tensors=pad_tensors,
        return_index=return_index,
        decode_method=decode_method,
        errors=errors,
        distributed=distributed,
    )
    if parallelism == "auto":
        parallelism = _auto_parallelism(iterable, multiprocessing_context, loader_kwargs)
    if num_workers > 0 and parallelism == "threads":
        iterable.threads = num_workers  # worker threads in this process: no worker process is started
        return HubDataLoader(
            iterable, num_workers=0, pin_memory=pin_memory, use_progress_bar=use_progress_bar, **loader_kwargs
        )
    method = multiprocessing_context or torch.multiprocessing.get_start_method(allow_none=True) or "fork"
    if num_workers > 0 and method != "fork":
        if dataset.path.startswith("mem://"):
            raise DatasetNotShareableError(
                f"The dataset {dataset.path} lives in this process's memory, so {method!r} worker processes can't "
                "open it. Use parallelism='threads', num_workers=0, multiprocessing_context='fork', or store it on "
                "disk (hub.deepcopy(src, path))."
            )
        _check_picklable(method, transform=transform, collate_fn=collate_fn)
    return HubDataLoader(
        iterable,
        num_workers=num_workers,
        pin_memory=pin_memory,
        use_progress_bar=use_progress_bar,
        multiprocessing_context=multiprocessing_context if num_workers > 0 else None,
        **loader_kwargs,
    )


def _auto_parallelism(
    iterable: HubIterableDataset, multiprocessing_context: str | None, loader_kwargs: dict[str, Any]
) -> Parallelism:
    """What ``parallelism="auto"`` means for this loader: threads when its batches are only rows copied out of
    chunks (:meth:`HubIterableDataset.copies_only`), unless the caller asked for something only worker processes
    have (a start method, ``worker_init_fn``, persistent workers); processes otherwise."""
    wants_processes = multiprocessing_context is not None or any(
        loader_kwargs.get(k) for k in ("worker_init_fn", "persistent_workers")
    )
    return "threads" if iterable.copies_only() and not wants_processes else "processes"


def _check_picklable(method: str, **functions: Any) -> None:
    """Raise LoaderOptionError, before any worker starts, for a function that ``method`` worker processes (which
    receive it pickled) can't get: else the DataLoader fails later with a bare PicklingError."""
    for name, function in functions.items():
        if function is None:
            continue
        try:
            pickle.dumps(function)
        except (pickle.PicklingError, TypeError, AttributeError) as e:
            raise LoaderOptionError(
                f"The {name} given to ds.pytorch() can't be pickled ({e}), and {method!r} worker processes receive "
                "it pickled. Define it at module level (not a lambda or a function defined inside another), or use "
                "multiprocessing_context='fork' or parallelism='threads'."
            ) from e
