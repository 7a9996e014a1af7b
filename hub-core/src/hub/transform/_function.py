"""``@hub.compute`` transforms, ``hub.compose`` pipelines, and how they pickle."""

from __future__ import annotations

import contextlib
import contextvars
import functools
import importlib
import pickle
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from hub.transform._samples_out import SamplesOut, StageSample

if TYPE_CHECKING:
    from hub.core.dataset import Dataset

__all__ = ["compute", "compose", "TransformFunction", "ComputeFunction", "Pipeline", "pickle_by_value"]

_BY_VALUE: contextvars.ContextVar[bool] = contextvars.ContextVar("hub_pickle_by_value", default=False)


@contextlib.contextmanager
def pickle_by_value() -> Iterator[None]:
    """Within it, transform functions pickle with their code (for cloudpickle and Ray), not by name."""
    token = _BY_VALUE.set(True)
    try:
        yield
    finally:
        _BY_VALUE.reset(token)


def _lookup(module: str, qualname: str) -> Any:
    obj: Any = importlib.import_module(module)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj


class TransformFunction:
    """What ``@hub.compute`` makes of a function: calling it binds arguments into a :class:`ComputeFunction`."""

    def __init__(self, func: Callable[..., Any], name: str | None = None) -> None:
        self.func = func
        functools.update_wrapper(self, func)
        #: Hub 2.x's ``name``: what the progress bar of ``eval`` shows (the function's name by default).
        self.name = name if name is not None else func.__name__

    def __call__(self, *args: Any, **kwargs: Any) -> ComputeFunction:
        return ComputeFunction(self, args, kwargs)

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        # The module attribute is this object, not ``func``: pickle the name, which finds this object again.
        if _BY_VALUE.get():
            return (TransformFunction, (self.func, self.name))
        module, qualname = self.func.__module__, self.func.__qualname__
        if "<locals>" in qualname or "<lambda>" in qualname:
            raise pickle.PicklingError(f"{qualname} is defined inside a function, so another process can't import it")
        return (_lookup, (module, qualname))

    def __repr__(self) -> str:
        return f"hub.compute({self.func.__qualname__})"


def compute(func: Callable[..., Any], name: str | None = None) -> TransformFunction:
    """Make ``func(sample_in, samples_out, **kwargs)`` a transform: ``func(**kwargs).eval(data_in, ds_out)``.

    For each input, ``func`` appends zero or more samples: ``samples_out.images.append(x)`` or
    ``samples_out.append({"images": x, "labels": y})``. ``name`` (Hub 2.x's) labels the progress bar of ``eval``;
    it defaults to the function's name.
    """
    return TransformFunction(func, name)


class ComputeFunction:
    """A transform with its arguments bound; ``eval`` runs it, ``hub.compose`` chains it with others."""

    def __init__(self, function: TransformFunction, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        self.function = function
        self.args = args
        self.kwargs = kwargs

    def __call__(self, sample_in: Any, samples_out: SamplesOut) -> None:
        self.function.func(sample_in, samples_out, *self.args, **self.kwargs)

    def eval(
        self,
        data_in: Any,
        ds_out: Dataset | None = None,
        num_workers: int = 0,
        scheduler: str = "threaded",
        progressbar: bool = True,
        skip_ok: bool = False,
        check_lengths: bool = True,
        pad_data_in: bool = False,
        read_only_ok: bool = False,
        cache_size: int = 16,
        checkpoint_interval: int = 0,
        ignore_errors: bool = False,
        **kwargs: Any,
    ) -> None:
        """Run the transform over every item of ``data_in``, appending its outputs to ``ds_out`` in input order.

        See :meth:`Pipeline.eval`.
        """
        Pipeline([self]).eval(
            data_in,
            ds_out,
            num_workers,
            scheduler,
            progressbar,
            skip_ok,
            check_lengths,
            pad_data_in,
            read_only_ok,
            cache_size,
            checkpoint_interval,
            ignore_errors,
            **kwargs,
        )

    def __repr__(self) -> str:
        return f"{self.function!r}(*{self.args!r}, **{self.kwargs!r})"


class Pipeline:
    """Transforms applied one after another: each output sample of one is an input of the next."""

    def __init__(self, functions: Sequence[ComputeFunction]) -> None:
        self.functions = list(functions)

    @property
    def name(self) -> str:
        """What the progress bar shows: the transforms' names."""
        return " | ".join(f.function.name for f in self.functions) or "transform"

    def run(self, sample_in: Any, tensors: frozenset[str], check_lengths: bool) -> dict[str, list[Any]]:
        """What the pipeline appends for one input, by tensor name (relative to the output dataset)."""
        inputs = [sample_in]
        out = SamplesOut(tensors)
        for k, function in enumerate(self.functions):
            last = k == len(self.functions) - 1
            out = SamplesOut(tensors if last else None)
            for item in inputs:
                function(item, out)
            if not last:
                values = dict(out.items())
                inputs = [StageSample(values, i) for i in range(out.length(check=True))]
        return dict(out.items())

    def eval(
        self,
        data_in: Any,
        ds_out: Dataset | None = None,
        num_workers: int = 0,
        scheduler: str = "threaded",
        progressbar: bool = True,
        skip_ok: bool = False,
        check_lengths: bool = True,
        pad_data_in: bool = False,
        read_only_ok: bool = False,
        cache_size: int = 16,
        checkpoint_interval: int = 0,
        ignore_errors: bool = False,
        **kwargs: Any,
    ) -> None:
        """Run the pipeline over every item of ``data_in`` (a sequence, numpy array or dataset view) into ``ds_out``.

        ``scheduler`` is ``"serial"``, ``"threaded"``, ``"processed"`` or ``"ray"``; with
        ``num_workers=0`` everything runs serially in this thread. Workers write their chunks to
        ``ds_out``'s storage themselves; ``ds_out`` then gets every output in input order, or, if any
        input fails (:class:`~hub.errors.TransformError` names it) or the run is interrupted, nothing.
        ``ignore_errors=True`` skips failing inputs instead and warns how many were skipped.

        ``ds_out=None`` replaces the contents of the dataset ``data_in`` with the outputs (all or
        nothing); with ``read_only_ok=True`` and a read-only dataset (or a view) it only reads, and
        appending anything is an error. ``pad_data_in=True`` iterates a dataset to its longest tensor,
        shorter ones giving empty samples. ``checkpoint_interval=N`` commits ``ds_out`` every N inputs
        (rounded up to a multiple of ``num_workers``), so a failed run keeps the committed prefix.
        ``cache_size`` is accepted for Hub 2.x compatibility and has no effect.
        """
        from hub.transform._eval import run_eval
        from hub.transform._options import EvalOptions

        options = EvalOptions.of(
            num_workers,
            scheduler,
            progressbar,
            skip_ok,
            check_lengths,
            pad_data_in,
            read_only_ok,
            cache_size,
            checkpoint_interval,
            ignore_errors,
            extra=kwargs,
        )
        run_eval(self, data_in, ds_out, options)

    def __repr__(self) -> str:
        return f"hub.compose({self.functions!r})"


def compose(functions: Sequence[Any]) -> Pipeline:
    """Chain transforms: ``hub.compose([f(), g(x=1)]).eval(data_in, ds_out)``."""
    flat: list[ComputeFunction] = []
    for f in functions:
        if isinstance(f, Pipeline):
            flat.extend(f.functions)
        elif isinstance(f, ComputeFunction):
            flat.append(f)
        else:
            from hub.errors import TransformError

            raise TransformError(
                f"hub.compose takes transforms with their arguments bound, like f() or f(x=1); got {f!r}. "
                "Decorate the function with @hub.compute and call it."
            )
    if not flat:
        from hub.errors import TransformError

        raise TransformError("hub.compose needs at least one transform.")
    return Pipeline(flat)
