"""The options of ``eval`` (Hub 2.8.5's keywords), checked once before anything runs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hub.errors import SchedulerError, TransformOptionError
from hub.transform._schedulers import SCHEDULERS

__all__ = ["EvalOptions"]


@dataclass(frozen=True)
class EvalOptions:
    """``eval``'s keyword arguments after ``data_in`` and ``ds_out``, in Hub 2.x's order."""

    num_workers: int = 0
    scheduler: str = "threaded"
    progressbar: bool = True
    skip_ok: bool = False
    check_lengths: bool = True
    pad_data_in: bool = False
    read_only_ok: bool = False
    #: Hub 2.x's cache of the output's chunks per worker; ours stream chunks straight to storage (no effect).
    cache_size: int = 16
    checkpoint_interval: int = 0
    ignore_errors: bool = False

    @classmethod
    def of(cls, *args: Any, extra: dict[str, Any]) -> EvalOptions:
        """The options given to ``eval``; unknown keywords are an error, not silently ignored."""
        if extra:
            raise TransformOptionError(
                f"eval got unknown keyword arguments {sorted(extra)}. It takes num_workers, scheduler, progressbar, "
                "skip_ok, check_lengths, pad_data_in, read_only_ok, cache_size, checkpoint_interval and "
                "ignore_errors; arguments of the transform itself go to the call: f(x=1).eval(data_in, ds_out)."
            )
        options = cls(*args)
        options.check()
        return options

    def check(self) -> None:
        for name in ("num_workers", "cache_size", "checkpoint_interval"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise TransformOptionError(f"eval's {name} must be an int, got {value!r}.")
        if self.num_workers < 0:
            raise TransformOptionError(f"num_workers must be 0 (run serially) or more, got {self.num_workers}.")
        if self.cache_size <= 0:
            raise TransformOptionError(f"cache_size must be a positive int, got {self.cache_size}.")
        if self.checkpoint_interval < 0:
            raise TransformOptionError(
                f"checkpoint_interval must be 0 (no checkpoints) or a positive number of inputs, "
                f"got {self.checkpoint_interval}."
            )
        if self.scheduler not in SCHEDULERS:
            raise SchedulerError(f"Unknown scheduler {self.scheduler!r}; choose one of {', '.join(SCHEDULERS)}.")
