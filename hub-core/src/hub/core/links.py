"""Linked samples: ``hub.link(url)`` values, their stored record, and fetching the files they name.

A link tensor stores a small JSON record per sample instead of the file; the file is read on access through the
storage provider of its URL (local path, ``s3://``, ``gcs://``/``gcp://``, ``http(s)://``). Credentials are named by
a *creds key*: the dataset stores the key's name, the credentials themselves are given to each process with
``ds.populate_creds(key, creds)`` and never written. A record names its key by the key's *stored id*: the name it was
added under, unless it has been renamed since (``ds.update_creds_key``), so that renaming rewrites no record.
"""

from __future__ import annotations

import functools
import json
import os
import posixpath
import threading
import urllib.error
import urllib.request
from typing import Any

from hub.errors import HubError, LinkedSampleError

__all__ = ["LinkedSample", "link", "LinkResolver", "link_record", "parse_link_record"]

_REMOTE_SCHEMES = ("s3", "gcs", "gcp")
#: The creds key that means "the environment's credentials", as no key does (Hub 2.x's name for it).
ENV = "ENV"
_HTTP_TIMEOUT = 60


class LinkedSample:
    """A reference to a file (path or URL) to store in a ``link[...]`` tensor instead of its bytes."""

    def __init__(self, path: str | os.PathLike[str], creds_key: str | None = None) -> None:
        self.path = os.fspath(path)
        self.creds_key = creds_key

    def __repr__(self) -> str:
        return f"LinkedSample({self.path!r}, creds_key={self.creds_key!r})"


def link(path: str | os.PathLike[str], creds_key: str | None = None) -> LinkedSample:
    """A linked sample: the file at ``path`` (local, ``s3://``, ``gcs://``, ``http(s)://``) is read on access.

    ``creds_key`` names credentials added with ``ds.add_creds_key(key)`` and given with ``ds.populate_creds``.
    """
    return LinkedSample(path, creds_key)


def link_record(url: str, stored_key: str | None) -> bytes:
    """The stored bytes of a link: compact UTF-8 JSON ``{"url": ..., "creds_key": ...}`` (the key's stored id)."""
    return json.dumps({"url": url, "creds_key": stored_key}, separators=(",", ":")).encode()


def parse_link_record(data: bytes | memoryview) -> tuple[str, str | None]:
    """``(url, stored id of the creds key)`` of a stored link record."""
    return _parse(bytes(data))


@functools.lru_cache(maxsize=4096)
def _parse(data: bytes) -> tuple[str, str | None]:
    # Cached: a loader reads the same records every epoch, and JSON parsing costs as much as a file open.
    try:
        doc = json.loads(data)
        return str(doc["url"]), doc.get("creds_key")
    except (ValueError, KeyError, TypeError) as e:
        raise LinkedSampleError(f"A stored link record is malformed ({e}); the dataset may be damaged.") from None


def _scheme(url: str) -> str:
    return url.split("://", 1)[0].lower() if "://" in url else "file"


class LinkResolver:
    """Fetches linked files, with the credentials populated for each creds key (kept in memory only)."""

    def __init__(
        self, keys: list[str] | None = None, creds: dict[str, Any] | None = None, ids: dict[str, str] | None = None
    ) -> None:
        #: The creds keys the dataset knows (stored in its metadata); shared with it, not copied.
        self.keys: list[str] = keys if keys is not None else []
        #: Key name -> the stored id its link records name, for keys renamed since they were added (shared too).
        self.ids: dict[str, str] = ids if ids is not None else {}
        self.creds: dict[str, Any] = dict(creds or {})
        self._stores: dict[tuple[str, str | None], Any] = {}
        self._lock = threading.Lock()

    def stored_id(self, creds_key: str | None) -> str | None:
        """What a link record stores for the key named ``creds_key``."""
        return self.ids.get(creds_key, creds_key) if creds_key is not None else None

    def name_of(self, stored: str | None) -> str | None:
        """The current name of the key a link record stores as ``stored``."""
        if stored is None or stored not in self.ids.values():
            return stored
        return next(name for name, key_id in self.ids.items() if key_id == stored)

    def check_key(self, creds_key: str | None) -> None:
        if creds_key not in (None, ENV) and creds_key not in self.keys:
            raise LinkedSampleError(
                f"Unknown creds key {creds_key!r}; add it first with ds.add_creds_key({creds_key!r}) and give the "
                f"credentials with ds.populate_creds({creds_key!r}, {{...}})."
            )

    def _creds_of(self, creds_key: str | None, url: str) -> Any:
        if creds_key in (None, ENV):
            return None
        if creds_key not in self.creds:
            raise LinkedSampleError(
                f"{url!r} needs the credentials of creds key {creds_key!r}, which were not given in this process: "
                f"call ds.populate_creds({creds_key!r}, {{...}}) first."
            )
        return self.creds[creds_key]

    def fetch(self, url: str, creds_key: str | None = None) -> bytes:
        """The bytes of the file ``url`` names; :class:`LinkedSampleError` naming the URL if it can't be read."""
        scheme = _scheme(url)
        try:
            if scheme == "file":
                path = url[len("file://") :] if url.startswith("file://") else url
                with open(os.path.expanduser(path), "rb") as f:
                    return f.read()
            if scheme in ("http", "https"):
                return self._http(url, self._creds_of(creds_key, url))
            if scheme in _REMOTE_SCHEMES:
                directory, name = posixpath.split(url.split("://", 1)[1])
                if not name or not directory:
                    raise LinkedSampleError(f"{url!r} names no object in a bucket.")
                store = self._store(f"{scheme}://{directory}", creds_key, url)
                data: bytes = store.get(name)
                return data
        except LinkedSampleError:
            raise
        except (HubError, OSError, urllib.error.URLError, ValueError) as e:
            raise LinkedSampleError(f"Can't read the linked file {url!r}: {type(e).__name__}: {e}") from e
        raise LinkedSampleError(
            f"Can't read the linked file {url!r}: links may be local paths or s3://, gcs://, gcp://, http(s):// URLs."
        )

    def _store(self, root: str, creds_key: str | None, url: str) -> Any:
        from hub.storage import storage_from_url

        with self._lock:
            store = self._stores.get((root, creds_key))
            if store is None:
                store = storage_from_url(root, creds=self._creds_of(creds_key, url), read_only=True)
                self._stores[(root, creds_key)] = store
            return store

    @staticmethod
    def _http(url: str, creds: Any) -> bytes:
        headers = dict(creds.get("headers", {})) if isinstance(creds, dict) else {}
        request = urllib.request.Request(url, headers=headers)
        with urllib.request.urlopen(request, timeout=_HTTP_TIMEOUT) as response:
            data: bytes = response.read()
            return data
