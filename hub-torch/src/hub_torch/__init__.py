"""PyTorch integration for hub, found by hub-core through the ``hub.integrations`` entry point."""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

__all__ = ["__version__", "dataset_to_pytorch"]


def dataset_to_pytorch(dataset: Any, **kwargs: Any) -> Any:
    """The hook behind ``ds.pytorch(...)``."""
    raise NotImplementedError(
        "ds.pytorch() arrives with the hub-torch loader (issue 6); this release ships the hook only."
    )
