"""Storage providers: bytes under string keys, on memory, a local disk, S3 or GCS.

Open one from a URL with :func:`storage_from_url`; wrap it in :class:`LRUCache` to
read through and write back. S3 and GCS load their client libraries on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hub.storage._base import Storage, Token, check_key, check_prefix
from hub.storage._cache import LRUCache
from hub.storage._local import LocalStorage
from hub.storage._memory import MemoryStorage
from hub.storage._registry import registered_schemes, storage_from_url

if TYPE_CHECKING:
    from hub.storage._gcs import GCSStorage
    from hub.storage._s3 import S3Storage

__all__ = [
    "Storage",
    "Token",
    "LRUCache",
    "LocalStorage",
    "MemoryStorage",
    "S3Storage",
    "GCSStorage",
    "storage_from_url",
    "registered_schemes",
    "check_key",
    "check_prefix",
]


def __getattr__(name: str) -> Any:
    if name == "S3Storage":
        from hub.storage._s3 import S3Storage

        return S3Storage
    if name == "GCSStorage":
        from hub.storage._gcs import GCSStorage

        return GCSStorage
    raise AttributeError(f"module 'hub.storage' has no attribute {name!r}")
