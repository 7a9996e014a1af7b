"""Transforms: ``@hub.compute`` functions run over inputs into a dataset on one of four schedulers."""

from __future__ import annotations

from hub.transform._eval import SkippedSamplesWarning
from hub.transform._function import ComputeFunction, Pipeline, TransformFunction, compose, compute
from hub.transform._schedulers import SCHEDULERS

__all__ = [
    "ComputeFunction",
    "Pipeline",
    "SCHEDULERS",
    "SkippedSamplesWarning",
    "TransformFunction",
    "compose",
    "compute",
]
