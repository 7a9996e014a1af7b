"""The store kit on GCS (fake-gcs-server over HTTP), and what only GCS does."""

from __future__ import annotations

import http.client
import json
import multiprocessing as mp
import pickle
import re
import socket
import sys
import threading
import time
import traceback
import uuid
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import google.auth.compute_engine._metadata
import google.auth.credentials
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from google.auth.credentials import AnonymousCredentials
from hypothesis import settings
from hypothesis.stateful import run_state_machine_as_test

import hub.storage._gcs
from hub.errors import (
    BucketNotFoundError,
    CredentialsError,
    InvalidKeyError,
    KeyNotFoundError,
    MissingDependencyError,
    StorageConnectionError,
    StorageError,
    StoragePermissionError,
)
from hub.storage import GCSStorage, Storage, storage_from_url
from hub.storage._gcs import EMULATOR_HOST_ENV
from hub.testing.store import StoreTests, store_state_machine
from tests.core.servers_gcs import GCSBucketUrl, emulator_client, free_port


class TestGCSStorage(StoreTests):
    @pytest.fixture
    def store(self, gcs_bucket_url: GCSBucketUrl) -> Iterator[Storage]:
        store = GCSStorage(gcs_bucket_url.url, creds=gcs_bucket_url.creds)
        yield store
        store.close()

    def read_only(self, store: Storage) -> Storage:
        assert isinstance(store, GCSStorage)
        return storage_from_url(store.url, creds=store._creds, read_only=True)


def test_state_machine(gcs_bucket_url: GCSBucketUrl) -> None:
    def fresh() -> GCSStorage:
        return GCSStorage(f"{gcs_bucket_url.url}/sm-{uuid.uuid4().hex}", creds=gcs_bucket_url.creds)

    run_state_machine_as_test(
        store_state_machine(fresh), settings=settings(max_examples=15, stateful_step_count=20, deadline=None)
    )


@pytest.fixture
def open_gcs() -> Iterator[Callable[..., GCSStorage]]:
    """Opens GCS storages like ``GCSStorage(url, **options)`` and closes them after the test."""
    stores: list[GCSStorage] = []

    def open_store(url: str, **options: Any) -> GCSStorage:
        store = GCSStorage(url, **options)
        stores.append(store)
        return store

    yield open_store
    for store in stores:
        store.close()


@pytest.fixture
def connections(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Addresses of every socket connect tried during the test; only those to 127.0.0.1 are let through."""
    tried: list[Any] = []
    connect = socket.socket.connect

    def guarded(sock: socket.socket, address: Any) -> None:
        tried.append(address)
        if address[0] != "127.0.0.1":
            raise ConnectionRefusedError(f"a test may not connect to {address}")
        connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)
    return tried


@pytest.fixture
def no_cloud_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No emulator and no application default credentials: an empty home and gcloud config."""
    monkeypatch.delenv(EMULATOR_HOST_ENV, raising=False)
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path / "gcloud"))
    # google-auth reads NO_GCE_CHECK once, at import, and honours only the lowercase "true".
    monkeypatch.setattr(google.auth.compute_engine._metadata, "_NO_GCE_CHECK", True)


# ------------------------------------------------------------------ URLs and prefixes
def test_gcp_scheme_is_an_alias(gcs_bucket_url: GCSBucketUrl, open_gcs: Callable[..., GCSStorage]) -> None:
    gcs = open_gcs(gcs_bucket_url.url)
    gcs.set("k", b"v")
    gcp = storage_from_url(gcs_bucket_url.url.replace("gcs://", "gcp://", 1))
    assert isinstance(gcp, GCSStorage)
    try:
        assert gcp.url.startswith("gcp://")
        assert gcp.get("k") == b"v"
        assert gcp.list() == ["k"]
    finally:
        gcp.close()


def test_prefix_isolation(gcs_bucket_url: GCSBucketUrl, open_gcs: Callable[..., GCSStorage]) -> None:
    bucket = urlsplit(gcs_bucket_url.url).netloc
    data = open_gcs(f"gcs://{bucket}/data/")
    sibling = open_gcs(f"gcs://{bucket}/data2")
    root = open_gcs(f"gcs://{bucket}")
    assert data.url == f"gcs://{bucket}/data"
    data.set("k", b"1")
    sibling.set("k", b"2")
    assert data.list() == ["k"]
    assert sibling.list() == ["k"]
    assert root.list() == ["data/k", "data2/k"]
    assert data.get("k") == b"1"
    data.delete_prefix("")
    assert sibling.get("k") == b"2"
    assert root.list() == ["data2/k"]


def test_folder_markers_and_reserved_names_are_not_listed(
    gcs_server: str, gcs_bucket_url: GCSBucketUrl, open_gcs: Callable[..., GCSStorage]
) -> None:
    store = open_gcs(gcs_bucket_url.url)
    store.set("a/b", b"1")
    client = emulator_client(gcs_server)
    try:
        bucket = client.bucket(urlsplit(gcs_bucket_url.url).netloc)
        bucket.blob("data/folder/").upload_from_string(b"")
        bucket.blob("data/x/.hub-tmp-1").upload_from_string(b"")
    finally:
        client.close()
    assert store.list() == ["a/b"]


@pytest.mark.parametrize("url", ["gcs://", "gcs:///data", "gcs://bucket/../up", "gcs://bucket/a//b", "s3://bucket"])
def test_bad_urls_refused(url: str) -> None:
    with pytest.raises(InvalidKeyError):
        GCSStorage(url)


def test_tokens_are_generations(gcs_bucket_url: GCSBucketUrl, open_gcs: Callable[..., GCSStorage]) -> None:
    store = open_gcs(gcs_bucket_url.url)
    token = store.compare_and_swap("doc", b"v1", None)
    assert token is not None and token.isdigit()
    # Generation 0 means "absent" to GCS: as a token it must match nothing, not create the key.
    for bad in ("0", "00", f"0{token}", f" {token}", "-1", "1.0"):
        assert store.compare_and_swap("doc", b"v2", bad) is None
        assert store.compare_and_swap("new", b"v2", bad) is None
    assert store.get("doc") == b"v1"
    assert not store.exists("new")


# ------------------------------------------------------------------ missing things
@pytest.mark.usefixtures("gcs_server")
def test_missing_bucket(open_gcs: Callable[..., GCSStorage]) -> None:
    bucket = f"hub-missing-{uuid.uuid4().hex[:12]}"
    store = open_gcs(f"gcs://{bucket}/data")
    operations: list[Callable[[], Any]] = [
        lambda: store.get("k"),
        lambda: store.get_range("k", 1, 3),
        lambda: store.get_with_token("k"),
        lambda: store.exists("k"),
        lambda: store.set("k", b"v"),
        lambda: store.set_if_absent("k", b"v"),
        lambda: store.list(),
        lambda: store.delete("k"),
    ]
    for operation in operations:
        with pytest.raises(BucketNotFoundError, match=bucket) as info:
            operation()
        assert not isinstance(info.value, KeyError)


def test_missing_key_in_existing_bucket(gcs_bucket_url: GCSBucketUrl, open_gcs: Callable[..., GCSStorage]) -> None:
    store = open_gcs(gcs_bucket_url.url)
    with pytest.raises(KeyNotFoundError, match="nope"):
        store.get("nope")
    assert not store.exists("nope")
    store.delete("nope")


def test_unreachable_endpoint(monkeypatch: pytest.MonkeyPatch, open_gcs: Callable[..., GCSStorage]) -> None:
    endpoint = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv(EMULATOR_HOST_ENV, endpoint)
    store = open_gcs("gcs://bucket/data")
    began = time.monotonic()
    with pytest.raises(StorageConnectionError, match=re.escape(endpoint)):
        store.get("k")
    assert time.monotonic() - began < 10


def test_missing_credentials(
    no_cloud_config: None, connections: list[Any], open_gcs: Callable[..., GCSStorage]
) -> None:
    store = open_gcs("gcs://some-bucket/data")
    with pytest.raises(CredentialsError) as info:
        store.get("k")
    message = str(info.value)
    for option in ("creds=", "'anon'", "GOOGLE_APPLICATION_CREDENTIALS", "gcloud auth application-default login"):
        assert option in message
    assert not isinstance(info.value, KeyError)
    assert connections == []


def test_missing_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "google.cloud.storage", None)
    monkeypatch.delitem(sys.modules, "hub.storage._gcs")
    for url in ("gcs://b", "gcp://b/prefix"):
        with pytest.raises(MissingDependencyError, match=re.escape("pip install 'hub-core[gcp]'")) as info:
            storage_from_url(url)
        assert isinstance(info.value, ImportError)


# ------------------------------------------------------------------ credentials
@pytest.fixture(scope="module")
def private_key() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return pem.decode()


def service_account_info(private_key: str, token_uri: str) -> dict[str, str]:
    return {
        "type": "service_account",
        "project_id": "hub-test",
        "private_key_id": "0123456789abcdef0123456789abcdef01234567",
        "private_key": private_key,
        "client_email": "hub-test@hub-test.iam.gserviceaccount.com",
        "client_id": "1234567890",
        "token_uri": token_uri,
    }


def assert_no_secrets(text: str, *secrets: str) -> None:
    for secret in secrets:
        assert secret not in text


def key_body(private_key: str) -> str:
    """A stretch of the key's base64 that no message could contain by chance."""
    return private_key.splitlines()[3]


def test_service_account_info_is_used_lazily(
    no_cloud_config: None, connections: list[Any], private_key: str, open_gcs: Callable[..., GCSStorage]
) -> None:
    token_server = ("127.0.0.1", free_port())
    info = service_account_info(private_key, f"http://{token_server[0]}:{token_server[1]}/token")
    store = open_gcs("gcs://bucket/data", creds=info)
    assert connections == []
    clone = pickle.loads(pickle.dumps(store))
    assert clone.url == store.url
    with pytest.raises(StorageConnectionError, match="token server") as error:
        store.get("k")
    assert set(connections) == {token_server}  # only the token server, never a real cloud
    everything = "".join(traceback.format_exception(error.value)) + repr(store) + str(store) + repr(error.value)
    assert_no_secrets(everything, key_body(private_key), info["private_key_id"])
    assert info["client_email"] in str(error.value)


def test_unusable_key_file(tmp_path: Path, no_cloud_config: None, open_gcs: Callable[..., GCSStorage]) -> None:
    store = open_gcs("gcs://bucket/data", creds=str(tmp_path / "missing.json"))
    with pytest.raises(CredentialsError, match=r"missing\.json"):
        store.get("k")
    (tmp_path / "bad.json").write_text(json.dumps({"type": "service_account"}))
    store = open_gcs("gcs://bucket/data", creds=str(tmp_path / "bad.json"))
    with pytest.raises(CredentialsError, match="unusable"):
        store.exists("k")


def test_wrong_creds_type_refused() -> None:
    with pytest.raises(CredentialsError, match="creds="):
        GCSStorage("gcs://bucket", creds=42)


class LockedCredentials(AnonymousCredentials):
    """Credentials holding a lock, as credentials with a refresh callback or a live session do."""

    def __init__(self) -> None:
        super().__init__()
        self.lock = threading.Lock()


def test_pickling_refuses_unpicklable_credentials() -> None:
    with pytest.raises(StorageError, match="key file path or a dict"):
        pickle.dumps(GCSStorage("gcs://bucket", creds=LockedCredentials()))
    clone = pickle.loads(pickle.dumps(GCSStorage("gcs://bucket/p", creds=AnonymousCredentials(), read_only=True)))
    assert isinstance(clone._creds, AnonymousCredentials)
    assert (clone.url, clone.read_only) == ("gcs://bucket/p", True)


def _write_from_child(store: GCSStorage, key: str) -> None:
    store.set(key, b"from child")
    store.close()


@pytest.mark.parametrize("method", ["spawn", "fork"])
def test_use_in_another_process(gcs_bucket_url: GCSBucketUrl, open_gcs: Callable[..., GCSStorage], method: str) -> None:
    store = open_gcs(gcs_bucket_url.url)
    store.set("parent", b"1")  # the parent's client exists before the child starts
    child = mp.get_context(method).Process(target=_write_from_child, args=(store, "child"))
    with warnings.catch_warnings():
        # Python 3.12+ warns about forking a process with threads; this child only makes a new client.
        warnings.simplefilter("ignore", DeprecationWarning)
        child.start()
    child.join(60)
    assert child.exitcode == 0
    assert store.get("child") == b"from child"


# ------------------------------------------------------------------ faults, through a proxy
@dataclass
class Rule:
    """Answer ``times`` requests matching ``method`` and ``path`` (a regex) with ``status`` and ``body``.

    With ``forward``, the request reaches the emulator first and only its answer is replaced;
    with ``corrupt``, the emulator's answer is passed on with its first byte flipped.
    """

    status: int = 200
    times: int = 10**9
    method: str = ""
    path: str = ""
    forward: bool = False
    corrupt: bool = False
    body: bytes = b""
    before_answer: Callable[[], None] | None = None


class FlakyProxy(ThreadingHTTPServer):
    """An HTTP proxy on 127.0.0.1 in front of the emulator that answers chosen requests itself."""

    daemon_threads = True
    request_queue_size = 128  # get_many and delete_prefix connect max_workers at once

    def __init__(self, upstream: str) -> None:
        super().__init__(("127.0.0.1", 0), _ProxyHandler)
        self.upstream = urlsplit(upstream)
        self.url = f"http://127.0.0.1:{self.server_address[1]}"
        self.rules: list[Rule] = []
        self.seen: list[tuple[str, str, int]] = []
        self._lock = threading.Lock()

    def take_rule(self, method: str, path: str) -> Rule | None:
        with self._lock:
            for rule in self.rules:
                if rule.times > 0 and method.startswith(rule.method) and re.search(rule.path, path):
                    rule.times -= 1
                    return rule
            return None

    def record(self, method: str, path: str, status: int) -> None:
        with self._lock:
            self.seen.append((method, path, status))

    def count(self, method: str = "", path: str = "") -> int:
        with self._lock:
            return sum(1 for m, p, _ in self.seen if m.startswith(method) and re.search(path, p))


class _ProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in two writes: don't wait for an ACK between
    server: FlakyProxy

    def do_request(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        rule = self.server.take_rule(self.command, self.path)
        if rule is None or rule.forward or rule.corrupt:
            status, headers, payload = self._forward(body)
        if rule is not None and rule.before_answer is not None:
            rule.before_answer()
        if rule is not None and rule.corrupt:
            payload = bytes([payload[0] ^ 1]) + payload[1:]
        elif rule is not None:
            payload = rule.body or json.dumps({"error": {"code": rule.status, "message": "injected"}}).encode()
            status, headers = rule.status, [("Content-Type", "application/json")]
        self.server.record(self.command, self.path, status)
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_request

    def _forward(self, body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
        upstream = self.server.upstream
        connection = http.client.HTTPConnection(upstream.hostname or "", upstream.port, timeout=30)
        try:
            headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
            connection.request(self.command, self.path, body=body, headers=headers)
            response = connection.getresponse()
            payload = response.read()
            hop = ("connection", "keep-alive", "transfer-encoding", "content-length")
            return response.status, [(k, v) for k, v in response.getheaders() if k.lower() not in hop], payload
        finally:
            connection.close()

    def log_message(self, format: str, *args: Any) -> None:
        pass  # requests are in server.seen


@pytest.fixture
def proxy(gcs_server: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[FlakyProxy]:
    """A :class:`FlakyProxy` in front of the emulator; ``STORAGE_EMULATOR_HOST`` points at it for the test."""
    server = FlakyProxy(gcs_server)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    monkeypatch.setenv(EMULATOR_HOST_ENV, server.url)
    yield server
    server.shutdown()
    server.server_close()
    thread.join()


UPLOAD = r"^/upload/"
DOWNLOAD = r"^/download/"
BUCKET_METADATA = r"^/storage/v1/b/[^/?]+(\?|$)"


def test_listing_pages(
    proxy: FlakyProxy,
    gcs_bucket_url: GCSBucketUrl,
    open_gcs: Callable[..., GCSStorage],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(hub.storage._gcs, "_LIST_PAGE", 7)
    store = open_gcs(gcs_bucket_url.url)
    keys = [f"p/{i:02d}" for i in range(30)]
    for key in keys:
        store.set(key, b"")
    proxy.rules = [Rule(503, times=1, method="GET", path=r"/o\?.*pageToken=")]
    assert store.list("p/") == keys
    first_pages = proxy.count("GET", r"/o\?(?!.*pageToken=)")
    later_pages = proxy.count("GET", r"/o\?.*pageToken=")
    assert (first_pages, later_pages) == (1, 4 + 1)  # a fault repeats one page, not the listing
    store.delete_prefix("p/")
    assert store.list() == []


def test_transient_faults_are_retried(
    proxy: FlakyProxy, gcs_bucket_url: GCSBucketUrl, open_gcs: Callable[..., GCSStorage]
) -> None:
    store = open_gcs(gcs_bucket_url.url)
    for status in (503, 500, 429):
        proxy.rules = [Rule(status, times=2)]
        store.set("k", str(status).encode())
        proxy.rules = [Rule(status, times=2)]
        assert store.get("k") == str(status).encode()
    assert proxy.count() == 3 * (2 + 1 + 2 + 1)


def test_corrupted_downloads_are_retried(
    proxy: FlakyProxy, gcs_bucket_url: GCSBucketUrl, open_gcs: Callable[..., GCSStorage]
) -> None:
    store = open_gcs(gcs_bucket_url.url)
    store.set("k", b"payload")
    proxy.rules = [Rule(corrupt=True, times=2, method="GET", path=DOWNLOAD)]
    assert store.get("k") == b"payload"
    assert store.get_with_token("k")[0] == b"payload"
    assert proxy.count("GET", DOWNLOAD) == 2 + 2
    proxy.rules = [Rule(corrupt=True, method="GET", path=DOWNLOAD)]
    with pytest.raises(StorageError, match="corrupted"):
        store.get("k")


def test_persistent_faults_give_up(
    proxy: FlakyProxy, gcs_bucket_url: GCSBucketUrl, open_gcs: Callable[..., GCSStorage]
) -> None:
    store = open_gcs(gcs_bucket_url.url)
    proxy.rules = [Rule(503)]
    with pytest.raises(StorageConnectionError, match=re.escape(proxy.url)):
        store.get("k")
    assert proxy.count() == 6  # the attempts hub.storage._retry.retry makes by default


def test_lost_response_of_a_swap_is_recognised(
    proxy: FlakyProxy, gcs_bucket_url: GCSBucketUrl, open_gcs: Callable[..., GCSStorage]
) -> None:
    store = open_gcs(gcs_bucket_url.url)
    proxy.rules = [Rule(503, times=1, method="POST", path=UPLOAD, forward=True)]
    token = store.compare_and_swap("doc", b"v1", None)
    assert token is not None
    assert store.get_with_token("doc") == (b"v1", token)
    proxy.rules = [Rule(503, times=1, method="POST", path=UPLOAD, forward=True)]
    new = store.compare_and_swap("doc", b"v2", token)
    assert new is not None and new != token
    assert store.get_with_token("doc") == (b"v2", new)
    assert proxy.count("POST", UPLOAD) == 4  # each swap: the lost write and its retry


def test_rival_write_of_equal_bytes_is_not_taken_for_ours(
    gcs_server: str, proxy: FlakyProxy, gcs_bucket_url: GCSBucketUrl, open_gcs: Callable[..., GCSStorage]
) -> None:
    # Our first upload fails before reaching the server, a rival creates the key with the same bytes,
    # and our retry meets a failed precondition: the rival won, although the bytes are equal.
    store = open_gcs(gcs_bucket_url.url)
    rival = emulator_client(gcs_server)
    try:
        rival_blob = rival.bucket(urlsplit(gcs_bucket_url.url).netloc).blob("data/doc")
        proxy.rules = [
            Rule(503, times=1, method="POST", path=UPLOAD, before_answer=lambda: rival_blob.upload_from_string(b"same"))
        ]
        assert store.set_if_absent("doc", b"same") is False
    finally:
        rival.close()
    assert proxy.count("POST", UPLOAD) == 2


def test_permission_denied_is_not_a_missing_key(
    proxy: FlakyProxy, gcs_bucket_url: GCSBucketUrl, open_gcs: Callable[..., GCSStorage]
) -> None:
    store = open_gcs(gcs_bucket_url.url)
    proxy.rules = [Rule(403)]
    operations: dict[str, Callable[[], Any]] = {
        "get": lambda: store.get("k"),
        "exists": lambda: store.exists("k"),
        "set": lambda: store.set("k", b"v"),
        "list": lambda: store.list(),
        "delete": lambda: store.delete("k"),
    }
    bucket = urlsplit(gcs_bucket_url.url).netloc
    for name, operation in operations.items():
        before = proxy.count()
        with pytest.raises(StoragePermissionError) as info:
            operation()
        message = str(info.value)
        assert name in message and bucket in message and "anonymous" in message
        assert proxy.count() == before + 1  # a refusal is final: no retries


def test_missing_key_when_bucket_metadata_is_forbidden(
    proxy: FlakyProxy, gcs_bucket_url: GCSBucketUrl, open_gcs: Callable[..., GCSStorage]
) -> None:
    # Object readers such as roles/storage.objectViewer may not read the bucket itself.
    store = open_gcs(gcs_bucket_url.url)
    proxy.rules = [Rule(403, method="GET", path=BUCKET_METADATA)]
    with pytest.raises(KeyNotFoundError):
        store.get("k")
    assert not store.exists("k")
    assert proxy.count("GET", BUCKET_METADATA) == 1  # the answer is remembered


def test_rejected_credentials_leak_no_secret(
    proxy: FlakyProxy,
    gcs_bucket_url: GCSBucketUrl,
    private_key: str,
    open_gcs: Callable[..., GCSStorage],
    connections: list[Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # After a token refresh, google-auth looks up a service account's regional access boundary at
    # iamcredentials.googleapis.com; a test must not reach it.
    monkeypatch.setattr(
        google.auth.credentials.CredentialsWithRegionalAccessBoundary,
        "_is_regional_access_boundary_lookup_required",
        lambda self: False,
        raising=False,
    )
    access_token = f"ya29.{uuid.uuid4().hex}"
    token_answer = json.dumps({"access_token": access_token, "expires_in": 3600, "token_type": "Bearer"})
    proxy.rules = [Rule(200, method="POST", path=r"^/token$", body=token_answer.encode()), Rule(401)]
    info = service_account_info(private_key, f"{proxy.url}/token")
    store = open_gcs(gcs_bucket_url.url, creds=info)
    with pytest.raises(CredentialsError) as error:
        store.get("k")
    assert info["client_email"] in str(error.value)
    assert proxy.count("POST", r"^/token$") >= 1  # the rejected request carried the access token
    assert {address[0] for address in connections} == {"127.0.0.1"}
    everything = "".join(traceback.format_exception(error.value)) + repr(store) + repr(error.value)
    assert_no_secrets(everything, key_body(private_key), info["private_key_id"], access_token)
