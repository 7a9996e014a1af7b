"""Maps a URL's scheme to the storage provider that serves it.

Built-in providers are named by dotted path, so a provider's optional dependency is
imported only when its scheme is used. Other packages add schemes through the
``hub.storage`` entry-point group (name: the scheme, value: ``module:Class``).
"""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points
from typing import Any, NamedTuple

from hub.errors import MissingDependencyError, UnsupportedSchemeError
from hub.storage._base import Storage

__all__ = ["storage_from_url", "registered_schemes"]


class _Provider(NamedTuple):
    target: str  # "module:Class"
    requires: str  # top-level module the provider needs
    extra: str | None  # the hub-core extra that installs it


_PROVIDERS: dict[str, _Provider] = {
    "mem": _Provider("hub.storage._memory:MemoryStorage", "hub", None),
    "file": _Provider("hub.storage._local:LocalStorage", "hub", None),
    "s3": _Provider("hub.storage._s3:S3Storage", "boto3", None),
    "gcs": _Provider("hub.storage._gcs:GCSStorage", "google.cloud.storage", "gcp"),
    "gcp": _Provider("hub.storage._gcs:GCSStorage", "google.cloud.storage", "gcp"),
}


def registered_schemes() -> list[str]:
    """Every scheme a URL may use, built-in and from plugins."""
    plugins = {ep.name for ep in entry_points(group="hub.storage")}
    return sorted(set(_PROVIDERS) | plugins)


def _scheme_of(url: str) -> str:
    return url.split("://", 1)[0].lower() if "://" in url else "file"


def _load(scheme: str, url: str) -> type[Storage]:
    provider = _PROVIDERS.get(scheme)
    if provider is None:
        for ep in entry_points(group="hub.storage", name=scheme):
            cls: type[Storage] = ep.load()
            return cls
        raise UnsupportedSchemeError(
            f"No storage provider handles {scheme}:// (in {url!r}). "
            f"Use one of: {', '.join(s + '://' for s in registered_schemes())} or a local path."
        )
    module_name, _, class_name = provider.target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        missing = e.name or ""
        if not (missing and (provider.requires == missing or provider.requires.startswith(missing + "."))):
            raise
        package = f"hub-core[{provider.extra}]" if provider.extra else "hub-core"
        raise MissingDependencyError(
            f"{scheme}:// storage needs the {provider.requires!r} package, which is not installed. "
            f"Install it with: pip install '{package}'"
        ) from e
    cls = getattr(module, class_name)
    return cls


def storage_from_url(url: str, creds: Any = None, read_only: bool = False) -> Storage:
    """Open the storage a URL names: ``mem://``, ``s3://``, ``gcs://``, ``gcp://``, ``file://`` or a path."""
    url = str(url)
    cls = _load(_scheme_of(url), url)
    return cls.from_url(url, creds=creds, read_only=read_only)
