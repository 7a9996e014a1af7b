"""``s3://bucket/prefix``: objects in an S3 bucket (or an S3-compatible server), through boto3."""

from __future__ import annotations

import http.client
import os
import re
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

import boto3
import botocore.exceptions as bce
import botocore.session
from botocore.config import Config

from hub.errors import (
    BucketNotFoundError,
    CredentialsError,
    HubError,
    KeyNotFoundError,
    StorageConnectionError,
    StorageError,
    StoragePermissionError,
)
from hub.storage._base import RESERVED_PREFIX, Storage, Token, check_prefix
from hub.storage._retry import retry

if TYPE_CHECKING:
    # Only for type checks: boto3 builds its client classes at run time.
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import ListObjectsV2OutputTypeDef, ObjectIdentifierTypeDef

__all__ = ["S3Storage"]

T = TypeVar("T")

#: Keys ``creds=`` may hold; ``aws_region`` is an alias of ``region_name``.
CREDS_KEYS = (
    "aws_access_key_id",
    "aws_secret_access_key",
    "aws_session_token",
    "endpoint_url",
    "aws_region",
    "region_name",
    "profile_name",
)

_DELETE_BATCH = 1000  # the most keys one DeleteObjects request takes
_ATTEMPTS = 6  # calls per request, including the first (see hub.storage._retry)

_TRANSIENT_STATUS = frozenset({500, 502, 503, 504})
_TRANSIENT_CODES = frozenset(
    {"SlowDown", "Throttling", "ThrottlingException", "RequestTimeout", "InternalError", "ServiceUnavailable"}
)
_READS = frozenset({"get", "get_range", "get_with_token", "exists"})
_PRECONDITION_CODES = frozenset({"PreconditionFailed", "ConditionalRequestConflict"})
_REJECTED_CREDENTIAL_CODES = frozenset(
    {"InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken", "InvalidToken", "TokenRefreshRequired"}
)
_MISSING_CREDENTIAL_ERRORS = (
    bce.NoCredentialsError,
    bce.PartialCredentialsError,
    bce.ProfileNotFound,
    bce.CredentialRetrievalError,
    bce.TokenRetrievalError,
)
# Faults of the transport: the request or its answer did not arrive whole.
_TRANSPORT_ERRORS = (
    bce.ConnectionError,
    bce.HTTPClientError,
    bce.IncompleteReadError,
    bce.FlexibleChecksumError,
    http.client.IncompleteRead,
)

_HOW_TO_PROVIDE = (
    "Provide them in one of these ways: creds={'aws_access_key_id': ..., 'aws_secret_access_key': ...}; "
    "the environment variables AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY; a ~/.aws/credentials file; "
    "a named profile (creds={'profile_name': ...} or AWS_PROFILE); or an IAM role of the machine."
)

# Names boto3 gives its credential providers (``Credentials.method``), in words a user recognises.
_SOURCE_NAMES = {
    "explicit": "the creds= dict",
    "env": "the environment variables AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY",
    "shared-credentials-file": "the shared credentials file (~/.aws/credentials)",
    "config-file": "the AWS config file (~/.aws/config)",
    "iam-role": "the EC2 instance role",
    "container-role": "the container (ECS) role",
    "assume-role": "an assumed role from the AWS config",
    "assume-role-with-web-identity": "a web-identity role (AWS_WEB_IDENTITY_TOKEN_FILE)",
    "sso": "AWS SSO",
}

# Guards making clients, which is rare enough for one lock to serve every store. A lock
# inherited through fork may be held by a thread that does not exist in the child: renew it.
_CLIENT_LOCK = threading.Lock()


# Clients shared by the stores of one process that have the same credentials and endpoint:
# making one costs ~100 ms (boto3 loads its service model), and every ``hub.load`` makes a store.
# Keyed by the pid as well, since a client inherited through fork shares the parent's sockets.
_CLIENTS: dict[tuple[Any, ...], tuple[boto3.Session, S3Client]] = {}
# The environment variables a new session reads; a change to them means a new client.
_CLIENT_ENV = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_S3",
    "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_CONFIG_FILE",
)


# botocore's loader of service models, shared by every session this process makes, and inherited by forked
# children: a new session parses the S3 model again (~60 ms), which a DataLoader's forked workers each paid before
# their first request. The loader holds parsed JSON only (no sockets, no locks).
_DATA_LOADER: list[Any] = []


def _renew_client_lock() -> None:
    global _CLIENT_LOCK
    _CLIENT_LOCK = threading.Lock()
    _CLIENTS.clear()


os.register_at_fork(after_in_child=_renew_client_lock)

# A ':' or '@' in the bucket part means credentials were written into the URL.
_BUCKET_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{2,254}")


def _status(e: bce.ClientError) -> int:
    status: int = e.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    return status


def _code(e: bce.ClientError) -> str:
    code: str = e.response.get("Error", {}).get("Code", "")
    return code


def _is_transient(e: BaseException) -> bool:
    """Whether a failed request may succeed if sent again."""
    if isinstance(e, bce.ClientError):
        return _status(e) in _TRANSIENT_STATUS or _code(e) in _TRANSIENT_CODES
    # A certificate that does not verify will not verify on the next try either.
    return isinstance(e, _TRANSPORT_ERRORS) and not isinstance(e, bce.SSLError)


class S3Storage(Storage):
    """Objects under one prefix of an S3 bucket.

    Every call is a single S3 request (reads of a range use a ``Range`` header), retried
    on transient faults with :func:`~hub.storage._retry.retry`; botocore's own retries are
    off so that one policy applies. Version tokens are ETags, and compare-and-swap is a
    conditional PUT (``If-Match`` / ``If-None-Match: *``). Nothing touches the network
    before the first operation; the client is made then, once per process and set of credentials.
    """

    max_workers: ClassVar[int] = 32  # S3 is latency bound: many requests in flight hide it

    def __init__(self, url: str, *, creds: Mapping[str, str | None] | None = None, read_only: bool = False) -> None:
        super().__init__(read_only=read_only)
        self.bucket, self.prefix = _parse_url(url)
        self._creds = _check_creds(creds)
        self._root = f"{self.prefix}/" if self.prefix else ""
        self._client_obj: S3Client | None = None
        self._client_pid = 0
        self._session: boto3.Session | None = None
        self._bucket_seen = False

    @classmethod
    def from_url(cls, url: str, creds: Mapping[str, str | None] | None = None, read_only: bool = False) -> S3Storage:
        return cls(url, creds=creds, read_only=read_only)

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}" if self.prefix else f"s3://{self.bucket}"

    def __reduce__(self) -> tuple[Any, ...]:
        # Only what opens the store again travels; each process makes its own client and pool.
        return (_reopen, (self.url, self._creds, self.read_only))

    def close(self) -> None:
        super().close()
        # The client may serve other stores with the same credentials (see _CLIENTS): drop it, don't close it.
        self._client_obj = None

    # ----------------------------------------------------------------- client
    def _client(self) -> S3Client:
        pid = os.getpid()
        if self._client_obj is not None and self._client_pid == pid:
            return self._client_obj
        # A client inherited through fork shares its connections with the parent: make a new one.
        key = (pid, tuple(sorted(self._creds.items())), tuple(os.environ.get(v) for v in _CLIENT_ENV))
        with _CLIENT_LOCK:
            if self._client_obj is None or self._client_pid != pid:
                made = _CLIENTS.get(key)
                if made is None:
                    made = _CLIENTS[key] = self._make_client()
                self._session, self._client_obj = made
                self._client_pid = pid
            return self._client_obj

    def _make_client(self) -> tuple[boto3.Session, S3Client]:
        creds = self._creds
        core = botocore.session.Session()
        if _DATA_LOADER:
            core.register_component("data_loader", _DATA_LOADER[0])
        else:
            _DATA_LOADER.append(core.get_component("data_loader"))
        session = boto3.Session(
            botocore_session=core,
            aws_access_key_id=creds.get("aws_access_key_id"),
            aws_secret_access_key=creds.get("aws_secret_access_key"),
            aws_session_token=creds.get("aws_session_token"),
            region_name=creds.get("region_name"),
            profile_name=creds.get("profile_name"),
        )
        endpoint = creds.get("endpoint_url")
        # S3-compatible servers rarely resolve bucket subdomains; boto3 reads the env vars itself.
        custom_endpoint = endpoint or os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
        config = Config(
            max_pool_connections=self.max_workers,
            retries={"total_max_attempts": 1},
            # A dead endpoint fails fast enough to be retried; a slow read of a big chunk is left to finish.
            connect_timeout=10,
            read_timeout=60,
            s3={"addressing_style": "path"} if custom_endpoint else None,
        )
        return session, session.client("s3", endpoint_url=endpoint, config=config)

    def _endpoint(self) -> str:
        client = self._client_obj
        if client is not None:
            return str(client.meta.endpoint_url)
        return self._creds.get("endpoint_url") or "the default AWS S3 endpoint"

    def _credential_source(self) -> str:
        """Where boto3 found the credentials in use, in words, never with the secret."""
        try:
            found = self._session.get_credentials() if self._session is not None else None
        except bce.BotoCoreError:
            found = None
        if found is None:
            return "no credentials"
        method = found.method or "explicit"
        source = _SOURCE_NAMES.get(method, method)
        if method in ("shared-credentials-file", "config-file") and self._session is not None:
            source += f", profile {self._session.profile_name!r}"
        key_id = found.access_key or ""
        return f"{source} [{method}], access key id ending in {key_id[-4:]!r}"

    # ----------------------------------------------------------------- calls
    def _call(self, op: str, key: str | None, request: Callable[[S3Client], T]) -> T:
        """Run one S3 request with retries; turn what boto3 raises into a :class:`HubError`."""
        try:
            client = self._client()
            return retry(lambda: request(client), _is_transient, attempts=_ATTEMPTS)
        except (bce.BotoCoreError, bce.ClientError, http.client.IncompleteRead) as e:
            raise self._translate(e, op, key) from e

    def _where(self, key: str | None) -> str:
        return f"{self.url}/{key}" if key is not None else self.url

    def _translate(self, e: Exception, op: str, key: str | None) -> HubError:
        where = self._where(key)
        if isinstance(e, _MISSING_CREDENTIAL_ERRORS):
            return CredentialsError(
                f"No usable AWS credentials were found for {op}() on {where} ({e}). {_HOW_TO_PROVIDE}"
            )
        if isinstance(e, bce.ClientError):
            error = e.response.get("Error", {})
            return self._translate_response(error.get("Code", ""), _status(e), error.get("Message", ""), op, key)
        if isinstance(e, bce.SSLError):
            return StorageConnectionError(
                f"TLS failed talking to S3 at {self._endpoint()} for {op}() on {where}: {e}. "
                "Check endpoint_url (http:// or https://) and the server's certificate."
            )
        if isinstance(e, _TRANSPORT_ERRORS):
            return StorageConnectionError(
                f"Could not reach S3 at {self._endpoint()} for {op}() on {where} after {_ATTEMPTS} attempts: {e}. "
                "Check endpoint_url (creds= or AWS_ENDPOINT_URL) and the network."
            )
        return StorageError(f"S3 failed {op}() on {where}: {e}")

    def _translate_response(self, code: str, status: int, reason: str, op: str, key: str | None) -> HubError:
        """The error for an S3 error answer ``status``/``code`` to ``op`` on ``key`` (None: the bucket)."""
        reason = reason or http.client.responses.get(status, "")
        where = self._where(key)
        if code == "NoSuchBucket" or (key is None and status == 404):
            return self._bucket_not_found()
        if key is not None and (code in ("NoSuchKey", "NotFound") or status == 404):
            self._check_bucket(op)
            return KeyNotFoundError(key, self.url)
        if key is not None and status == 403 and code == "403":
            # A HEAD answer has no body to say why; a one-byte GET of the same key does.
            return self._explain_forbidden_head(op, key)
        answer = f"{code}: {reason.rstrip('.')}." if code != str(status) else f"{status} {reason}."
        if code in _REJECTED_CREDENTIAL_CODES:
            return CredentialsError(
                f"S3 at {self._endpoint()} rejected the credentials for {op}() on {where}: {answer} "
                f"The credentials came from {self._credential_source()}; check that they are current and meant "
                f"for this endpoint. {_HOW_TO_PROVIDE}"
            )
        if status == 403:
            hint = " S3 also answers 403 for a missing key when s3:ListBucket is not allowed." if op in _READS else ""
            return StoragePermissionError(
                f"Access denied for {op}() on {where}: {answer} The credentials came from "
                f"{self._credential_source()}; grant them the S3 permission this needs, or use others.{hint}"
            )
        if status in _TRANSIENT_STATUS or code in _TRANSIENT_CODES:
            return StorageConnectionError(
                f"S3 at {self._endpoint()} kept failing {op}() on {where} after {_ATTEMPTS} attempts: {answer} "
                "The service is overloaded or failing; try again later."
            )
        return StorageError(f"S3 refused {op}() on {where}: {answer}")

    def _explain_forbidden_head(self, op: str, key: str) -> HubError:
        try:
            self._client().get_object(Bucket=self.bucket, Key=self._root + key, Range="bytes=0-0")
        except bce.ClientError as e:
            if _code(e) != "403":
                return self._translate(e, op, key)
        except (bce.BotoCoreError, http.client.IncompleteRead):
            pass
        return StoragePermissionError(
            f"S3 answered 403 Forbidden for {op}() on {self._where(key)}: the credentials from "
            f"{self._credential_source()} were rejected or do not allow reading this key."
        )

    def _bucket_not_found(self) -> BucketNotFoundError:
        return BucketNotFoundError(
            f"S3 bucket {self.bucket!r} does not exist at {self._endpoint()} (opening {self.url}). "
            "Check the bucket name in the URL and the endpoint_url/region, or create the bucket."
        )

    def _check_bucket(self, op: str) -> None:
        """Raise :class:`BucketNotFoundError` unless the bucket exists (a success is remembered).

        S3 answers a HEAD of a key in a missing bucket with the same bare 404 as a missing
        key, so a key is reported missing only once the bucket is known to exist.
        """
        if self._bucket_seen:
            return

        def head(client: S3Client) -> bool:
            try:
                client.head_bucket(Bucket=self.bucket)
            except bce.ClientError as e:
                if _status(e) == 404:
                    return False
                if _status(e) != 403:  # 403: the bucket exists, owned by others or not listable by us
                    raise
            return True

        if not self._call(op, None, head):
            raise self._bucket_not_found()
        self._bucket_seen = True

    # ---------------------------------------------------------------- reading
    def _get(self, key: str) -> bytes:
        def get(client: S3Client) -> bytes:
            # Reading the body happens inside the retried call: a broken stream is a transient fault.
            data: bytes = client.get_object(Bucket=self.bucket, Key=self._root + key)["Body"].read()
            return data

        return self._call("get", key, get)

    def _get_range(self, key: str, start: int, end: int | None) -> bytes:
        byte_range = f"bytes={start}-" if end is None else f"bytes={start}-{end - 1}"

        def get_range(client: S3Client) -> bytes:
            try:
                response = client.get_object(Bucket=self.bucket, Key=self._root + key, Range=byte_range)
            except bce.ClientError as e:
                if _code(e) == "InvalidRange" or _status(e) == 416:  # start lies past the end
                    return b""
                raise
            data: bytes = response["Body"].read()
            if not response.get("ContentRange"):  # a server that ignores Range sends the whole object
                data = data[start:end]
            return data

        return self._call("get_range", key, get_range)

    def _get_with_token(self, key: str) -> tuple[bytes, Token]:
        def get(client: S3Client) -> tuple[bytes, Token]:
            response = client.get_object(Bucket=self.bucket, Key=self._root + key)
            return response["Body"].read(), response["ETag"]

        return self._call("get_with_token", key, get)

    def _exists(self, key: str) -> bool:
        def head(client: S3Client) -> bool:
            try:
                client.head_object(Bucket=self.bucket, Key=self._root + key)
            except bce.ClientError as e:
                if _status(e) == 404:
                    return False
                raise
            return True

        found = self._call("exists", key, head)
        if not found:
            self._check_bucket("exists")
        return found

    def _list(self, prefix: str) -> Iterable[str]:
        keys: list[str] = []
        params: dict[str, Any] = {"Bucket": self.bucket, "Prefix": self._root + prefix}

        def list_page(client: S3Client) -> ListObjectsV2OutputTypeDef:
            return client.list_objects_v2(**params)

        while True:
            # One retried request per page: a fault late in a long listing repeats one page, not all.
            page = self._call("list", None, list_page)
            for item in page.get("Contents", ()):
                key = item["Key"][len(self._root) :]
                # Skip "folder/" markers made by consoles and keys that are ours to hide.
                if key and not key.endswith("/") and not any(p.startswith(RESERVED_PREFIX) for p in key.split("/")):
                    keys.append(key)
            token = page.get("NextContinuationToken")
            if not page.get("IsTruncated") or not token:
                return keys
            params = {**params, "ContinuationToken": token}

    # ---------------------------------------------------------------- writing
    def _set(self, key: str, data: bytes) -> None:
        self._call("set", key, lambda client: client.put_object(Bucket=self.bucket, Key=self._root + key, Body=data))

    def _compare_and_swap(self, key: str, data: bytes, expected: Token | None) -> Token | None:
        attempts = 0

        def put(client: S3Client) -> Token | None:
            nonlocal attempts
            attempts += 1
            try:
                if expected is None:
                    response = client.put_object(Bucket=self.bucket, Key=self._root + key, Body=data, IfNoneMatch="*")
                else:
                    response = client.put_object(Bucket=self.bucket, Key=self._root + key, Body=data, IfMatch=expected)
            except bce.ClientError as e:
                # If-Match on a key that is gone answers 404 NoSuchKey rather than 412.
                if (
                    _code(e) in _PRECONDITION_CODES
                    or _status(e) == 412
                    or (expected is not None and _code(e) == "NoSuchKey")
                ):
                    return None
                raise
            token: Token = response["ETag"]
            return token

        token = self._call("compare_and_swap", key, put)
        if token is None and attempts > 1:
            # An earlier attempt may have written `data` and lost its response; then the
            # precondition failed against our own write, and the swap did succeed.
            try:
                current, current_token = self._get_with_token(key)
            except KeyNotFoundError:
                return None
            if current == data:
                return current_token
        return token

    def _delete(self, key: str) -> None:
        self._call("delete", key, lambda client: client.delete_object(Bucket=self.bucket, Key=self._root + key))

    def _delete_many(self, keys: Iterable[str]) -> None:
        keys = list(keys)
        batches = [keys[i : i + _DELETE_BATCH] for i in range(0, len(keys), _DELETE_BATCH)]
        if len(batches) <= 1:
            for batch in batches:
                self._delete_batch(batch)
            return
        list(self._executor().map(self._delete_batch, batches))

    def _delete_batch(self, keys: Sequence[str]) -> None:
        objects: list[ObjectIdentifierTypeDef] = [{"Key": self._root + key} for key in keys]
        response = self._call(
            "delete_prefix",
            None,
            lambda client: client.delete_objects(Bucket=self.bucket, Delete={"Objects": objects, "Quiet": True}),
        )
        errors = response.get("Errors") or []
        if errors:
            # DeleteObjects reports failures per key inside a 200 answer; surface the first like any other.
            first = errors[0]
            code = first.get("Code", "")
            status = 403 if code in _REJECTED_CREDENTIAL_CODES or code == "AccessDenied" else 0
            key = first["Key"][len(self._root) :]
            raise self._translate_response(code, status, first.get("Message", ""), "delete_prefix", key)


def _reopen(url: str, creds: Mapping[str, str | None] | None, read_only: bool) -> S3Storage:
    return S3Storage(url, creds=creds, read_only=read_only)


def _parse_url(url: str) -> tuple[str, str]:
    """The bucket and the prefix (no leading or trailing '/') of an ``s3://`` URL."""
    if not url.lower().startswith("s3://"):
        raise StorageError(f"An S3 URL starts with s3://, got {url!r}.")
    bucket, _, prefix = url[len("s3://") :].partition("/")
    if not _BUCKET_NAME.fullmatch(bucket):
        # Don't echo the URL: a malformed bucket part may hold credentials someone wrote into it.
        raise StorageError(
            "An S3 URL reads s3://bucket/optional/prefix with a valid bucket name (3 to 255 letters, digits, "
            "'.', '-' or '_'); pass credentials with creds=, never inside the URL."
        )
    prefix = prefix.strip("/")
    check_prefix(prefix)
    return bucket, prefix


def _check_creds(creds: Mapping[str, str | None] | None) -> dict[str, str]:
    """``creds`` without unset entries, ``aws_region`` renamed ``region_name``; refuses unknown keys."""
    if creds is None:
        return {}
    if not isinstance(creds, Mapping):
        raise CredentialsError(
            f"creds= for S3 is a dict with keys from {', '.join(CREDS_KEYS)}; got a {type(creds).__name__}."
        )
    unknown = sorted(set(creds) - set(CREDS_KEYS))
    if unknown:
        raise CredentialsError(f"Unknown S3 creds= keys {unknown}; use keys from {', '.join(CREDS_KEYS)}.")
    checked = {k: str(v) for k, v in creds.items() if v is not None}
    region = checked.pop("aws_region", None)
    if region is not None:
        checked.setdefault("region_name", region)
    if ("aws_access_key_id" in checked) != ("aws_secret_access_key" in checked):
        raise CredentialsError("creds= needs both aws_access_key_id and aws_secret_access_key, or neither.")
    return checked
