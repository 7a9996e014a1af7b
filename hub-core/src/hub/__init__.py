"""hub: a dataset format for AI. Chunked, compressed, versioned tensors on any storage."""

from __future__ import annotations

from hub import errors, reading, storage
from hub.api import copy, dataset, deepcopy, delete, empty, exists, like, load, rename
from hub.compression import COMPRESSIONS as compressions
from hub.core.dataset import Dataset
from hub.core.htypes import HTYPES
from hub.core.links import link
from hub.core.reading import DatasetReader, Shard
from hub.core.samples import read
from hub.core.tensor import Tensor
from hub.errors import HubError
from hub.integrations import load_integration
from hub.transform import compose, compute

__version__ = "0.1.0"

#: Every htype name ``create_tensor`` accepts.
htypes = tuple(sorted(HTYPES))

__all__ = [
    "__version__",
    "Dataset",
    "DatasetReader",
    "Shard",
    "Tensor",
    "HubError",
    "compose",
    "compressions",
    "compute",
    "copy",
    "dataset",
    "deepcopy",
    "delete",
    "empty",
    "errors",
    "exists",
    "htypes",
    "like",
    "link",
    "load",
    "load_integration",
    "read",
    "reading",
    "rename",
    "storage",
]
