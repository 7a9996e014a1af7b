"""Transforms: ``@hub.compute`` functions run over inputs into a dataset on one of four schedulers."""

from __future__ import annotations

from hub.compute._function import ComputeFunction, Pipeline, TransformFunction, compose, compute
from hub.compute._schedulers import SCHEDULERS

__all__ = ["ComputeFunction", "Pipeline", "SCHEDULERS", "TransformFunction", "compose", "compute"]
