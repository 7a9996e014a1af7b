"""TensorFlow integration for hub, found by hub-core through the ``hub.integrations`` entry point."""

from __future__ import annotations

from hub.integrations import register_integration
from hub_tensorflow._pipeline import dataset_to_tensorflow
from hub_tensorflow._spec import element_spec

register_integration("tensorflow", dataset_to_tensorflow)

__version__ = "0.1.0"

__all__ = ["__version__", "dataset_to_tensorflow", "element_spec"]
