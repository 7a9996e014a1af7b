"""TensorFlow integration for hub, found by hub-core through the ``hub.integrations`` entry point."""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

__all__ = ["__version__", "dataset_to_tensorflow"]


def dataset_to_tensorflow(dataset: Any, **kwargs: Any) -> Any:
    """The hook behind ``ds.tensorflow(...)``."""
    raise NotImplementedError(
        "ds.tensorflow() arrives with the hub-tensorflow pipeline (issue 7); this release ships the hook only."
    )
