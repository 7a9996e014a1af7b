"""``gcs://bucket/prefix`` (alias ``gcp://``): objects in a Google Cloud Storage bucket."""

from __future__ import annotations

import os
import pickle
import re
import threading
import uuid
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

# First of the third-party imports: without the extra, the ImportError must name this module (see _registry).
from google.cloud.storage import Bucket, Client
from google.cloud.storage.exceptions import DataCorruption

# isort: split
import google.auth
import requests
from google.api_core import exceptions as api_errors
from google.auth import exceptions as auth_errors
from google.auth.credentials import AnonymousCredentials, Credentials, with_scopes_if_required
from google.auth.transport.requests import AuthorizedSession
from google.oauth2 import service_account

from hub.errors import (
    BucketNotFoundError,
    CredentialsError,
    InvalidKeyError,
    KeyNotFoundError,
    StorageConnectionError,
    StorageError,
    StoragePermissionError,
)
from hub.storage._base import RESERVED_PREFIX, Storage, Token, check_prefix
from hub.storage._retry import retry

__all__ = ["GCSStorage"]

T = TypeVar("T")

#: Environment variable that points the Google client at an emulator instead of storage.googleapis.com.
EMULATOR_HOST_ENV = "STORAGE_EMULATOR_HOST"

# (connect, read) seconds: an unreachable host fails fast, a slow multi-MB chunk still arrives.
_TIMEOUT = (10.0, 120.0)
_SCOPES = {
    False: ["https://www.googleapis.com/auth/devstorage.read_write"],
    True: ["https://www.googleapis.com/auth/devstorage.read_only"],
}
_RETRY_STATUS = frozenset({408, 429, 500, 502, 503, 504})
_UNREACHABLE = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
    ConnectionError,
    TimeoutError,
    auth_errors.TransportError,
)
# Object metadata naming the compare_and_swap call that wrote an object, to recognise our own write after a retry.
_WRITE_ID = "hub-write-id"
_GENERATION = re.compile(r"[1-9][0-9]*")
_LIST_PAGE = 1000  # the most names the JSON API returns in one page

_NO_CREDENTIALS = (
    "No Google Cloud credentials found for {url}. Pass creds= the path of a service-account JSON key file, "
    "a dict of service-account info, or 'anon' for a public bucket; or set GOOGLE_APPLICATION_CREDENTIALS to a "
    "key file; or run 'gcloud auth application-default login'."
)


def _is_transient(error: BaseException) -> bool:
    """Whether a failed request may succeed if sent again."""
    if isinstance(error, api_errors.GoogleAPICallError):
        return error.code in _RETRY_STATUS
    if isinstance(error, requests.exceptions.SSLError):
        return False  # a certificate that does not verify will not verify on the next try either
    return isinstance(error, (*_UNREACHABLE, DataCorruption))  # DataCorruption: a download failed its checksum


class GCSStorage(Storage):
    """Objects under an optional prefix of a GCS bucket.

    Every write is one upload, published whole, so readers see the old or the new object, never a mix.
    The version token is the object's generation, and ``compare_and_swap`` is a conditional
    upload (``ifGenerationMatch``). The client is made on first use, once per process, so
    constructing a storage never touches the network. ``creds`` is ``None`` (application
    default credentials; anonymous when ``STORAGE_EMULATOR_HOST`` is set), ``"anon"``, the path
    of a service-account JSON key file, a dict of service-account info (an optional
    ``"project"`` key names the project), or a ``google.auth`` credentials object.
    """

    max_workers = 32

    def __init__(self, url: str, *, creds: Any = None, read_only: bool = False) -> None:
        super().__init__(read_only=read_only)
        scheme, sep, rest = url.partition("://")
        if not sep or scheme.lower() not in ("gcs", "gcp"):
            raise InvalidKeyError(f"{url!r} is not a GCS URL; write gcs://bucket or gcs://bucket/prefix.")
        bucket, _, prefix = rest.partition("/")
        if not bucket:
            raise InvalidKeyError(f"{url!r} names no bucket; write gcs://bucket or gcs://bucket/prefix.")
        if not (creds is None or isinstance(creds, (str, dict, Credentials))):
            raise CredentialsError(
                f"creds= for {url} must be None, 'anon', a service-account key file path, a dict of "
                f"service-account info or a google.auth credentials object, not {type(creds).__name__}."
            )
        self.scheme = scheme.lower()
        self.bucket_name = bucket
        self.prefix = check_prefix(prefix.rstrip("/"))
        self._creds = creds
        self._bucket: Bucket | None = None
        self._bucket_pid = 0
        self._bucket_lock = threading.Lock()
        self._bucket_known = False

    @classmethod
    def from_url(cls, url: str, creds: Any = None, read_only: bool = False) -> GCSStorage:
        return cls(url, creds=creds, read_only=read_only)

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.bucket_name}" + (f"/{self.prefix}" if self.prefix else "")

    def _name(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    # -------------------------------------------------------------- pickling
    def __reduce__(self) -> tuple[Any, ...]:
        # Only the recipe travels: the receiving process makes its own client.
        if isinstance(self._creds, Credentials):
            try:
                pickle.dumps(self._creds)
            except Exception as e:
                raise StorageError(
                    f"{self} cannot be pickled: its {type(self._creds).__name__} credentials object cannot. "
                    "Pass creds= a service-account key file path or a dict of service-account info instead."
                ) from e
        return (type(self).from_url, (self.url, self._creds, self.read_only))

    # ---------------------------------------------------------------- client
    def _gcs(self) -> Bucket:
        """This process's handle on the bucket, connecting on first use."""
        pid = os.getpid()
        if self._bucket is not None:
            if self._bucket_pid == pid:
                return self._bucket
            # Inherited through fork: the lock may have been held by a thread that does not exist here.
            self._bucket_lock = threading.Lock()
        with self._bucket_lock:
            if self._bucket is None or self._bucket_pid != pid:
                self._bucket = self._connect().bucket(self.bucket_name)
                self._bucket_pid = pid
            return self._bucket

    def _connect(self) -> Client:
        credentials, project = self._credentials()
        credentials = with_scopes_if_required(credentials, _SCOPES[self.read_only])  # type: ignore[no-untyped-call]
        session = AuthorizedSession(credentials, refresh_timeout=_TIMEOUT[1])  # type: ignore[no-untyped-call]
        # requests keeps 10 connections per host by default; get_many runs max_workers requests at once.
        adapter = requests.adapters.HTTPAdapter(pool_maxsize=self.max_workers)
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        session.configure_mtls_channel()  # type: ignore[no-untyped-call]  # as Client does for its own session
        client = Client(project=project, credentials=credentials, _http=session)
        # Recent releases fetch bucket metadata in a background thread, for tracing attributes, with their own
        # retries: a request nobody asked for, which outlives failures and needs storage.buckets.get.
        client._bucket_metadata_cache = None
        return client

    def _credentials(self) -> tuple[Credentials, str | None]:
        """Credentials and project from ``creds``; raise :class:`CredentialsError` if there are none."""
        creds, project = self._creds, None
        if isinstance(creds, dict):
            info = dict(creds)
            project = info.pop("project", None)
            creds = info or None
        if creds is None and os.environ.get(EMULATOR_HOST_ENV):
            return AnonymousCredentials(), project or "test"  # type: ignore[no-untyped-call]
        if creds == "anon":
            return AnonymousCredentials(), project  # type: ignore[no-untyped-call]
        if isinstance(creds, Credentials):
            return creds, project
        scopes = _SCOPES[self.read_only]
        if creds is None:
            try:
                credentials, default_project = google.auth.default(scopes=scopes)
            except auth_errors.DefaultCredentialsError as e:
                raise CredentialsError(f"{_NO_CREDENTIALS.format(url=self.url)} ({e})") from e
            return credentials, project or default_project
        try:
            if isinstance(creds, str):
                account = service_account.Credentials.from_service_account_file(  # type: ignore[no-untyped-call]
                    creds, scopes=scopes
                )
            else:
                account = service_account.Credentials.from_service_account_info(  # type: ignore[no-untyped-call]
                    creds, scopes=scopes
                )
        except (OSError, ValueError, auth_errors.DefaultCredentialsError) as e:
            raise CredentialsError(f"The service-account key given as creds= for {self.url} is unusable: {e}") from e
        return account, project or account.project_id

    def _credential_source(self) -> str:
        """Where the credentials come from, in words, never with a secret."""
        creds = self._creds
        if isinstance(creds, dict) and set(creds) - {"project"}:
            return f"service account {creds.get('client_email', '(no client_email)')}"
        if creds is None or isinstance(creds, dict):
            if os.environ.get(EMULATOR_HOST_ENV):
                return "anonymous access to the emulator"
            return "application default credentials"
        if creds == "anon":
            return "anonymous access"
        if isinstance(creds, str):
            return f"service-account key file {creds}"
        return f"the {type(creds).__name__} object given as creds="

    # ---------------------------------------------------------------- errors
    def _call(self, operation: str, target: str, call: Callable[[Bucket], T]) -> T:
        """Run ``call`` on the bucket with retries, raising hub errors for failures.

        ``NotFound``, ``PreconditionFailed`` and ``RequestRangeNotSatisfiable`` propagate:
        only the caller knows what they mean.
        """
        bucket = self._gcs()
        what = f"{operation} of {target!r} in {self.url}"
        try:
            return retry(lambda: call(bucket), _is_transient)
        except (api_errors.NotFound, api_errors.PreconditionFailed, api_errors.RequestRangeNotSatisfiable):
            raise
        except (api_errors.Unauthorized, auth_errors.RefreshError) as e:
            raise CredentialsError(
                f"GCS rejected the credentials ({self._credential_source()}) for {what}: {e}. Check creds=, "
                "GOOGLE_APPLICATION_CREDENTIALS or 'gcloud auth application-default login'."
            ) from e
        except api_errors.Forbidden as e:
            raise StoragePermissionError(
                f"Permission denied for {what} (bucket {self.bucket_name!r}) with {self._credential_source()}: "
                f"{e.message}. Grant these credentials a role that allows it, or pass other creds=."
            ) from e
        except auth_errors.TransportError as e:
            raise StorageConnectionError(
                f"Could not reach the token server of {self._credential_source()} for {what}, even after retries: {e}"
            ) from e
        except _UNREACHABLE as e:
            raise StorageConnectionError(
                f"Could not reach GCS at {bucket.client.api_endpoint} for {what}, even after retries: {e}. "
                f"Check the network, or {EMULATOR_HOST_ENV} if you use an emulator."
            ) from e
        except DataCorruption as e:
            raise StorageError(f"GCS sent corrupted data for {what}, even after retries: {e}") from e
        except api_errors.GoogleAPICallError as e:
            if _is_transient(e):
                raise StorageConnectionError(
                    f"GCS at {bucket.client.api_endpoint} kept failing {what}, even after retries: {e}"
                ) from e
            raise StorageError(f"GCS refused {what}: {e}") from e

    def _bucket_exists(self) -> bool:
        """Whether the bucket exists; a yes is remembered, to tell a missing key from a missing bucket."""
        if self._bucket_known:
            return True
        try:
            exists: bool = self._call("exists", self.bucket_name, lambda b: b.exists(retry=None, timeout=_TIMEOUT))
        except (CredentialsError, StoragePermissionError):
            # Roles that read objects (objectViewer, anonymous on a public bucket) may not read bucket
            # metadata; the object request reached the bucket, so its 404 was for the object.
            exists = True
        self._bucket_known = exists
        return exists

    def _no_bucket(self) -> BucketNotFoundError:
        return BucketNotFoundError(
            f"GCS bucket {self.bucket_name!r} (in {self.url}) does not exist. Check the bucket name, or create it."
        )

    def _missing(self, key: str) -> StorageError:
        """The error for a 404 on ``key``: a missing key, or a missing bucket."""
        return KeyNotFoundError(key, self.url) if self._bucket_exists() else self._no_bucket()

    # ---------------------------------------------------------------- reading
    def _download(
        self, operation: str, key: str, start: int | None = None, end: int | None = None
    ) -> tuple[bytes, Any]:
        """Bytes ``start`` to ``end`` (inclusive) of ``key`` and the generation they belong to."""

        def call(bucket: Bucket) -> tuple[bytes, Any]:
            blob = bucket.blob(self._name(key))
            # Raw: the stored bytes, never decoded by a Content-Encoding. Checksums cover whole objects only.
            data = blob.download_as_bytes(
                start=start,
                end=end,
                raw_download=True,
                checksum="auto" if start is None else None,
                retry=None,
                timeout=_TIMEOUT,
            )
            return data, blob.generation  # read from this response's headers: consistent with the bytes

        try:
            return self._call(operation, key, call)
        except api_errors.NotFound:
            raise self._missing(key) from None

    def _get(self, key: str) -> bytes:
        return self._download("get", key)[0]

    def _get_range(self, key: str, start: int, end: int | None) -> bytes:
        try:
            return self._download("get_range", key, start, None if end is None else end - 1)[0]
        except api_errors.RequestRangeNotSatisfiable:
            return b""  # start at or past the end of the object

    def _get_with_token(self, key: str) -> tuple[bytes, Token]:
        data, generation = self._download("get_with_token", key)
        if generation is None:
            raise StorageError(f"GCS at {self._gcs().client.api_endpoint} sent {key!r} without its generation.")
        return data, str(generation)

    def _exists(self, key: str) -> bool:
        name = self._name(key)
        found: bool = self._call("exists", key, lambda b: b.blob(name).exists(retry=None, timeout=_TIMEOUT))
        if not found and not self._bucket_exists():
            raise self._no_bucket()
        return found

    def _list(self, prefix: str) -> Iterable[str]:
        base = f"{self.prefix}/" if self.prefix else ""
        keys: list[str] = []
        page_token: str | None = None

        def list_page(bucket: Bucket) -> tuple[list[str], str | None]:
            blobs = bucket.list_blobs(
                prefix=base + prefix,
                page_token=page_token,
                page_size=_LIST_PAGE,
                fields="items(name),nextPageToken",
                retry=None,
                timeout=_TIMEOUT,
            )
            page = next(blobs.pages)
            return [blob.name[len(base) :] for blob in page], blobs.next_page_token

        while True:
            # One retried request per page: a fault late in a long listing repeats one page, not all.
            try:
                names, page_token = self._call("list", prefix, list_page)
            except api_errors.NotFound:
                raise self._no_bucket() from None
            # Skip "folder/" markers made by consoles and names with parts reserved for bookkeeping.
            keys += [
                name
                for name in names
                if not name.endswith("/") and not any(part.startswith(RESERVED_PREFIX) for part in name.split("/"))
            ]
            if not page_token:
                return keys

    # ---------------------------------------------------------------- writing
    def _upload(
        self, bucket: Bucket, key: str, data: bytes, if_generation_match: int | None = None, write_id: str | None = None
    ) -> Any:
        """Upload ``data`` as ``key``, published whole or not at all; return the new generation."""
        blob = bucket.blob(self._name(key))
        if write_id is not None:
            blob.metadata = {_WRITE_ID: write_id}
        blob.upload_from_string(
            data,
            content_type="application/octet-stream",
            if_generation_match=if_generation_match,
            retry=None,
            timeout=_TIMEOUT,
        )
        return blob.generation

    def _set(self, key: str, data: bytes) -> None:
        try:
            self._call("set", key, lambda bucket: self._upload(bucket, key, data))
        except api_errors.NotFound:
            raise self._no_bucket() from None

    def _compare_and_swap(self, key: str, data: bytes, expected: Token | None) -> Token | None:
        if expected is None:
            match = 0  # GCS: the object must not exist
        elif _GENERATION.fullmatch(expected):
            match = int(expected)
        else:
            return None  # not a token this provider issued, so it matches no object
        write_id = uuid.uuid4().hex
        attempts = 0

        def call(bucket: Bucket) -> Any:
            nonlocal attempts
            attempts += 1
            return self._upload(bucket, key, data, if_generation_match=match, write_id=write_id)

        try:
            generation = self._call("compare_and_swap", key, call)
        except api_errors.NotFound:
            raise self._no_bucket() from None
        except api_errors.PreconditionFailed:
            if attempts == 1:
                return None
            # An earlier attempt may have succeeded and lost its response; only that attempt wrote our write id.
            # Comparing bytes instead would take an equal value written by a rival for our own success.
            name = self._name(key)
            blob = self._call("compare_and_swap", key, lambda b: b.get_blob(name, retry=None, timeout=_TIMEOUT))
            if blob is None or (blob.metadata or {}).get(_WRITE_ID) != write_id:
                return None
            generation = blob.generation
        return str(generation)

    def _delete(self, key: str) -> None:
        name = self._name(key)
        try:
            self._call("delete", key, lambda b: b.delete_blob(name, retry=None, timeout=_TIMEOUT))
        except api_errors.NotFound:
            if not self._bucket_exists():
                raise self._no_bucket() from None

    def _delete_many(self, keys: Iterable[str]) -> None:
        # One request per object, max_workers at a time: batch requests report only their first failure.
        for _ in self._executor().map(self._delete, keys):
            pass

    def close(self) -> None:
        """Release threads and this process's HTTP connections; both reopen on next use."""
        super().close()
        with self._bucket_lock:
            if self._bucket is not None and self._bucket_pid == os.getpid():
                self._bucket.client.close()
            self._bucket = None
