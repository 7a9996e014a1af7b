"""PyTorch integration for hub, found by hub-core through the ``hub.integrations`` entry point.

``ds.pytorch(...)`` returns a :class:`HubDataLoader` over a :class:`HubIterableDataset`; :class:`HubMapDataset`
gives random access for torch samplers.
"""

from __future__ import annotations

from hub.integrations import register_integration
from hub_torch._iterable import HubIterableDataset
from hub_torch._loader import HubDataLoader, dataset_to_pytorch
from hub_torch._map import HubMapDataset

register_integration("pytorch", dataset_to_pytorch)

__version__ = "0.1.0"

__all__ = ["__version__", "HubDataLoader", "HubIterableDataset", "HubMapDataset", "dataset_to_pytorch"]
