"""The store kit on S3 (a moto server over HTTP), and what only S3 does: prefixes, credentials, faults."""

from __future__ import annotations

import http.client
import multiprocessing as mp
import os
import pickle
import socket
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest
from hypothesis import settings
from hypothesis.stateful import run_state_machine_as_test

from hub.errors import (
    BucketNotFoundError,
    CredentialsError,
    KeyNotFoundError,
    StorageConnectionError,
    StorageError,
    StoragePermissionError,
)
from hub.storage import S3Storage, Storage, storage_from_url
from hub.testing.store import StoreTests, store_state_machine
from tests.core.servers_s3 import S3BucketUrl

SECRET = "hub-test-secret-d0-not-leak-9f3c"


class TestS3Storage(StoreTests):
    @pytest.fixture
    def store(self, s3_bucket_url: S3BucketUrl) -> Iterator[Storage]:
        store = S3Storage(s3_bucket_url.url, creds=s3_bucket_url.creds)
        yield store
        store.close()

    def read_only(self, store: Storage) -> Storage:
        return storage_from_url(store.url, creds={"endpoint_url": _endpoint(store)}, read_only=True)


def _endpoint(store: Storage) -> str:
    assert isinstance(store, S3Storage)
    return store._creds["endpoint_url"]


def test_state_machine(s3_bucket_url: S3BucketUrl) -> None:
    def fresh() -> S3Storage:
        return S3Storage(f"{s3_bucket_url.url}/sm-{uuid.uuid4().hex}", creds=s3_bucket_url.creds)

    run_state_machine_as_test(
        store_state_machine(fresh), settings=settings(max_examples=15, stateful_step_count=20, deadline=None)
    )


# --------------------------------------------------------------- URLs, creds
def test_prefixes_are_isolated(s3_bucket_url: S3BucketUrl) -> None:
    bucket = s3_bucket_url.url.rsplit("/", 1)[0]
    a = S3Storage(f"{bucket}/one", creds=s3_bucket_url.creds)
    b = S3Storage(f"{bucket}/one-two/", creds=s3_bucket_url.creds)
    whole = S3Storage(bucket, creds=s3_bucket_url.creds)
    a.set("k", b"a")
    b.set("k", b"b")
    assert a.list() == ["k"] and b.list() == ["k"]
    assert (a.get("k"), b.get("k")) == (b"a", b"b")
    a.delete_prefix("")
    assert a.list() == []
    assert b.get("k") == b"b"
    assert whole.list() == ["one-two/k"]
    assert b.url == f"{bucket}/one-two" and whole.url == bucket


def test_list_skips_folder_markers_and_reserved_keys(s3_bucket_url: S3BucketUrl) -> None:
    bucket, prefix = s3_bucket_url.url.removeprefix("s3://").split("/", 1)
    client = boto3.client("s3", endpoint_url=s3_bucket_url.creds["endpoint_url"])
    for key in (f"{prefix}/", f"{prefix}/folder/", f"{prefix}/folder/.hub-tmp-1", f"{prefix}/folder/real"):
        client.put_object(Bucket=bucket, Key=key, Body=b"")
    store = S3Storage(s3_bucket_url.url, creds=s3_bucket_url.creds)
    assert store.list() == ["folder/real"]


def test_explicit_creds_with_endpoint_and_region_alias(s3_bucket_url: S3BucketUrl) -> None:
    creds = {
        "endpoint_url": s3_bucket_url.creds["endpoint_url"],
        "aws_access_key_id": "explicit-key",
        "aws_secret_access_key": SECRET,
        "aws_region": "eu-west-1",
    }
    store = storage_from_url(s3_bucket_url.url, creds=creds)
    assert isinstance(store, S3Storage)
    store.set("k", b"v")
    assert store.get("k") == b"v"
    assert store._session is not None and store._session.region_name == "eu-west-1"
    assert store._credential_source().startswith("the creds= dict [explicit]")


def test_endpoint_from_environment(s3_bucket_url: S3BucketUrl, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_bucket_url.creds["endpoint_url"])
    store = S3Storage(s3_bucket_url.url)
    store.set("k", b"from env endpoint")
    assert S3Storage(s3_bucket_url.url, creds=s3_bucket_url.creds).get("k") == b"from env endpoint"


def test_no_network_until_first_use() -> None:
    # Nothing listens on this port; construction and pickling must not notice.
    store = S3Storage("s3://bucket-x/p", creds={"endpoint_url": f"http://127.0.0.1:{_closed_port()}"})
    assert store._client_obj is None
    pickle.loads(pickle.dumps(store))


@pytest.mark.parametrize(
    "url", ["s3://", "s3:///prefix", "s3://user:pw@bucket/p", "gs://bucket/p", "s3://bucket/../up", "s3://b/x"]
)
def test_bad_urls_refused(url: str) -> None:
    with pytest.raises(StorageError) as info:
        S3Storage(url)
    assert "pw" not in str(info.value)


def test_unknown_creds_keys_refused() -> None:
    with pytest.raises(CredentialsError, match="aws_secret"):
        S3Storage("s3://bucket-x", creds={"aws_access_key_id": "k", "aws_secret": SECRET})
    with pytest.raises(CredentialsError, match="both"):
        S3Storage("s3://bucket-x", creds={"aws_access_key_id": "k"})


def test_secret_never_shown(s3_bucket_url: S3BucketUrl) -> None:
    creds = {**s3_bucket_url.creds, "aws_access_key_id": "shown-key", "aws_secret_access_key": SECRET}
    store = S3Storage(s3_bucket_url.url, creds=creds)
    assert SECRET not in repr(store) + str(store) + store.url
    with pytest.raises(KeyNotFoundError) as missing:
        store.get("missing")
    bad_endpoint = S3Storage(s3_bucket_url.url, creds={**creds, "endpoint_url": f"http://127.0.0.1:{_closed_port()}"})
    with pytest.raises(StorageConnectionError) as unreachable:
        bad_endpoint.get("k")
    for error in (missing.value, unreachable.value):
        assert SECRET not in str(error) and SECRET not in repr(error)


# ------------------------------------------------------------ error reporting
MISSING_BUCKET_CALLS: dict[str, Callable[[S3Storage], Any]] = {
    "get": lambda store: store.get("k"),
    "get_range": lambda store: store.get_range("k", 0, 2),
    "get_with_token": lambda store: store.get_with_token("k"),
    "get_many": lambda store: store.get_many(["k", "l"]),
    "exists": lambda store: store.exists("k"),
    "list": lambda store: store.list(),
    "set": lambda store: store.set("k", b"v"),
    "set_if_absent": lambda store: store.set_if_absent("k", b"v"),
    "compare_and_swap": lambda store: store.compare_and_swap("k", b"v", '"etag"'),
    "delete": lambda store: store.delete("k"),
    "delete_prefix": lambda store: store.delete_prefix(""),
}


@pytest.mark.parametrize("op", list(MISSING_BUCKET_CALLS))
def test_missing_bucket(s3_server: str, op: str) -> None:
    store = S3Storage("s3://no-such-bucket-4711/data", creds={"endpoint_url": s3_server})
    with pytest.raises(BucketNotFoundError, match="'no-such-bucket-4711' does not exist") as info:
        MISSING_BUCKET_CALLS[op](store)
    assert not isinstance(info.value, KeyError)


def test_bucket_deleted_after_the_first_check(s3_bucket_url: S3BucketUrl) -> None:
    store = S3Storage(s3_bucket_url.url, creds=s3_bucket_url.creds)
    assert not store.exists("a")
    bucket = s3_bucket_url.url.removeprefix("s3://").split("/")[0]
    client = boto3.client("s3", endpoint_url=s3_bucket_url.creds["endpoint_url"])
    client.delete_bucket(Bucket=bucket)
    # The bucket check ran once; a bucket deleted afterwards still shows as such on GET.
    with pytest.raises(BucketNotFoundError):
        store.get("a")


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_unreachable_endpoint(s3_bucket_url: S3BucketUrl) -> None:
    endpoint = f"http://127.0.0.1:{_closed_port()}"
    store = S3Storage(s3_bucket_url.url, creds={"endpoint_url": endpoint})
    started = time.monotonic()
    with pytest.raises(StorageConnectionError) as info:
        store.get("k")
    assert time.monotonic() - started < 5
    assert endpoint in str(info.value) and "endpoint_url" in str(info.value)


def test_missing_credentials(s3_bucket_url: S3BucketUrl, monkeypatch: pytest.MonkeyPatch) -> None:
    for var in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
    ):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    store = S3Storage(s3_bucket_url.url, creds=s3_bucket_url.creds)
    for call in (lambda: store.get("k"), lambda: store.exists("k"), lambda: store.list()):
        with pytest.raises(CredentialsError) as info:
            call()
        message = str(info.value)
        assert "No usable AWS credentials" in message and s3_bucket_url.url in message
        for way in ("creds=", "AWS_ACCESS_KEY_ID", "~/.aws/credentials", "profile_name"):
            assert way in message


def test_unknown_profile(s3_bucket_url: S3BucketUrl) -> None:
    store = S3Storage(s3_bucket_url.url, creds={**s3_bucket_url.creds, "profile_name": "no-such-profile"})
    with pytest.raises(CredentialsError, match="no-such-profile"):
        store.get("k")


@pytest.fixture
def moto_auth(s3_bucket_url: S3BucketUrl) -> Iterator[dict[str, str]]:
    """Turns on moto's IAM checks for one test; yields creds of a user with no permissions at all."""
    endpoint = s3_bucket_url.creds["endpoint_url"]
    iam = boto3.client("iam", endpoint_url=endpoint)
    iam.create_user(UserName="powerless")
    key = iam.create_access_key(UserName="powerless")["AccessKey"]
    S3Storage(s3_bucket_url.url, creds=s3_bucket_url.creds).set("present", b"x")
    _set_moto_auth(endpoint, "0")
    try:
        yield {"aws_access_key_id": key["AccessKeyId"], "aws_secret_access_key": key["SecretAccessKey"]}
    finally:
        _set_moto_auth(endpoint, "inf")


def _set_moto_auth(endpoint: str, unauthenticated_requests: str) -> None:
    request = urllib.request.Request(
        f"{endpoint}/moto-api/reset-auth",
        data=unauthenticated_requests.encode(),
        method="POST",
        headers={"Content-Type": "text/plain"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        response.read()


def _every_kind_of_call(store: S3Storage) -> list[Callable[[], Any]]:
    return [
        lambda: store.get("present"),
        lambda: store.get("absent"),
        lambda: store.exists("present"),
        lambda: store.exists("absent"),
        lambda: store.list(),
        lambda: store.set("new", b"x"),
        lambda: store.set_if_absent("new", b"x"),
    ]


@pytest.mark.parametrize("which", ["unknown key", "wrong secret"])
def test_rejected_credentials(s3_bucket_url: S3BucketUrl, moto_auth: dict[str, str], which: str) -> None:
    key_id = "AKIAUNKNOWNKEY000000" if which == "unknown key" else moto_auth["aws_access_key_id"]
    creds = {**s3_bucket_url.creds, "aws_access_key_id": key_id, "aws_secret_access_key": SECRET}
    store = S3Storage(s3_bucket_url.url, creds=creds)
    for call in _every_kind_of_call(store):
        with pytest.raises(CredentialsError, match="rejected the credentials") as info:
            call()
        message = str(info.value)
        assert s3_bucket_url.url in message and "from the creds= dict [explicit]" in message
        assert repr(key_id[-4:]) in message and SECRET not in message


def test_access_denied(s3_bucket_url: S3BucketUrl, moto_auth: dict[str, str]) -> None:
    store = S3Storage(s3_bucket_url.url, creds={**s3_bucket_url.creds, **moto_auth})
    for call in _every_kind_of_call(store):
        with pytest.raises(StoragePermissionError, match="Access denied") as info:
            call()
        assert s3_bucket_url.url in str(info.value) and "AccessDenied" in str(info.value)
        assert moto_auth["aws_secret_access_key"] not in str(info.value)


def test_access_denied_names_environment_as_source(
    s3_bucket_url: S3BucketUrl, moto_auth: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", moto_auth["aws_access_key_id"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", moto_auth["aws_secret_access_key"])
    store = S3Storage(s3_bucket_url.url, creds=s3_bucket_url.creds)
    with pytest.raises(StoragePermissionError, match=r"environment variables .*\[env\]"):
        store.exists("k")


# ------------------------------------------------------------------ processes
def _use_in_child(payload: bytes, results: Any) -> None:
    store = pickle.loads(payload)
    store.set("from-child", store.get("from-parent") + b" and child")
    results.put(store.list())


def test_pickled_store_in_spawned_process(s3_bucket_url: S3BucketUrl) -> None:
    store = S3Storage(s3_bucket_url.url, creds=s3_bucket_url.creds)
    store.set("from-parent", b"parent")
    payload = pickle.dumps(store)
    assert b"botocore" not in payload and b"boto3" not in payload
    assert store.__reduce__()[1] == (s3_bucket_url.url, s3_bucket_url.creds, False)
    ctx = mp.get_context("spawn")
    results = ctx.Queue()
    child = ctx.Process(target=_use_in_child, args=(payload, results))
    child.start()
    listed = results.get(timeout=60)
    child.join(60)
    assert child.exitcode == 0
    assert listed == ["from-child", "from-parent"]
    assert store.get("from-child") == b"parent and child"


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_forked_child_makes_its_own_client(s3_bucket_url: S3BucketUrl) -> None:
    store = S3Storage(s3_bucket_url.url, creds=s3_bucket_url.creds)
    store.set("k", b"parent")  # the parent now holds pooled connections
    parent_client = store._client()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            ok = store.get("k") == b"parent" and store._client() is not parent_client
            store.set("child", b"c")
            code = 0 if ok else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert store.get("child") == b"c" and store._client() is parent_client


# ---------------------------------------------- transient faults, over real HTTP
class FaultyProxy:
    """An HTTP proxy on 127.0.0.1 in front of moto that fails the requests a test picks.

    Actions: ``forward``; ``503`` (answer SlowDown without forwarding); ``drop`` (close the
    connection without forwarding); ``forward_then_drop`` (the server acts, the answer is
    lost); ``truncate`` (forward, then send only half the body); ``ignore_range`` (forward
    without the Range header, like a server that does not support ranges).
    """

    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        self.upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.log: list[tuple[str, str, str]] = []
        self._rules: list[tuple[Callable[[str, str, Message], bool], str, int]] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        self.endpoint = f"http://127.0.0.1:{self._server.server_address[1]}"

    def fail(self, times: int, action: str, when: Callable[[str, str, Message], bool] = lambda *_: True) -> None:
        """Apply ``action`` to the next ``times`` requests ``when`` matches."""
        with self._lock:
            self._rules.append((when, action, times))

    def requests(self, method: str, action: str | None = None) -> int:
        return sum(1 for m, _, a in self.log if m == method and (action is None or a == action))

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _decide(self, method: str, path: str, headers: Message) -> str:
        with self._lock:
            action = "forward"
            for i, (when, rule_action, left) in enumerate(self._rules):
                if left > 0 and when(method, path, headers):
                    self._rules[i] = (when, rule_action, left - 1)
                    action = rule_action
                    break
            self.log.append((method, path, action))
            return action

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                action = proxy._decide(self.command, self.path, self.headers)
                if action == "drop":
                    self.close_connection = True
                    return
                if action == "503":
                    reply = b"<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>"
                    self.send_response_only(503, "Slow Down")
                    self.send_header("Content-Type", "application/xml")
                    self.send_header("Content-Length", str(len(reply)))
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(reply)
                    return
                status, reason, headers, data = self._forward(body, keep_range=action != "ignore_range")
                if action == "forward_then_drop":
                    self.close_connection = True
                    return
                self.send_response_only(status, reason)
                for name, value in headers:
                    if name.lower() not in ("connection", "transfer-encoding", "keep-alive"):
                        self.send_header(name, value)
                self.end_headers()
                if action == "truncate":
                    self.wfile.write(data[: len(data) // 2])
                    self.close_connection = True
                else:
                    self.wfile.write(data)

            do_HEAD = do_PUT = do_POST = do_DELETE = do_GET

            def _forward(self, body: bytes, keep_range: bool) -> tuple[int, str, list[tuple[str, str]], bytes]:
                skip = ("connection", "keep-alive", "expect", "proxy-connection") + (() if keep_range else ("range",))
                headers = {k: v for k, v in self.headers.items() if k.lower() not in skip}
                upstream = http.client.HTTPConnection(*proxy.upstream, timeout=30)
                try:
                    upstream.request(self.command, self.path, body=body, headers=headers)
                    response = upstream.getresponse()
                    return response.status, response.reason, response.getheaders(), response.read()
                finally:
                    upstream.close()

        return Handler


@pytest.fixture
def proxy(s3_server: str) -> Iterator[FaultyProxy]:
    faulty = FaultyProxy(s3_server)
    yield faulty
    faulty.close()


@pytest.fixture
def proxied(s3_bucket_url: S3BucketUrl, proxy: FaultyProxy) -> Iterator[S3Storage]:
    """A store on the test bucket that talks to moto through ``proxy``."""
    store = S3Storage(s3_bucket_url.url, creds={"endpoint_url": proxy.endpoint})
    yield store
    store.close()


def _is_put(method: str, path: str, headers: Message) -> bool:
    return method == "PUT"


def _is_conditional_put(method: str, path: str, headers: Message) -> bool:
    return method == "PUT" and ("If-None-Match" in headers or "If-Match" in headers)


def test_throttling_is_retried(proxied: S3Storage, proxy: FaultyProxy) -> None:
    proxy.fail(3, "503")
    proxied.set("k", b"value")
    proxy.fail(2, "503")
    assert proxied.get("k") == b"value"
    proxy.fail(2, "503")
    assert proxied.exists("k")
    assert proxy.requests("PUT", "503") == 3 and proxy.requests("PUT", "forward") == 1
    assert proxy.requests("GET", "503") == 2 and proxy.requests("HEAD", "503") == 2


def test_dropped_connections_and_torn_bodies_are_retried(proxied: S3Storage, proxy: FaultyProxy) -> None:
    data = os.urandom(200_000)
    proxy.fail(1, "drop")
    proxied.set("k", data)
    proxy.fail(2, "truncate")
    assert proxied.get("k") == data
    proxy.fail(1, "truncate")
    assert proxied.get_range("k", 1000, 150_000) == data[1000:150_000]
    assert proxy.requests("GET", "truncate") == 3


def test_server_that_ignores_ranges(proxied: S3Storage, proxy: FaultyProxy) -> None:
    proxied.set("k", b"0123456789")
    proxy.fail(2, "ignore_range")
    assert proxied.get_range("k", 2, 5) == b"234"
    assert proxied.get_range("k", 7) == b"789"
    assert proxy.requests("GET", "ignore_range") == 2


def test_faults_that_persist_end_in_connection_error(proxied: S3Storage, proxy: FaultyProxy) -> None:
    proxy.fail(100, "503")
    started = time.monotonic()
    with pytest.raises(StorageConnectionError, match="kept failing get") as info:
        proxied.get("k")
    assert time.monotonic() - started < 5
    assert "SlowDown" in str(info.value) and proxy.requests("GET") == 6


def test_lost_response_of_set_if_absent(proxied: S3Storage, proxy: FaultyProxy) -> None:
    proxy.fail(1, "forward_then_drop", when=_is_conditional_put)
    assert proxied.set_if_absent("doc", b"mine") is True
    # The first PUT wrote the object; its retry met the object and failed its precondition.
    assert proxy.requests("PUT", "forward_then_drop") == 1 and proxy.requests("PUT", "forward") == 1
    assert proxied.get("doc") == b"mine"


def test_lost_response_of_compare_and_swap(proxied: S3Storage, proxy: FaultyProxy) -> None:
    proxied.set("doc", b"v1")
    _, token = proxied.get_with_token("doc")
    proxy.fail(1, "forward_then_drop", when=_is_conditional_put)
    new = proxied.compare_and_swap("doc", b"v2", token)
    assert new is not None and new != token
    assert proxied.get_with_token("doc") == (b"v2", new)
    assert proxy.requests("PUT") == 3


def test_retried_swap_that_truly_lost_returns_none(proxied: S3Storage, proxy: FaultyProxy) -> None:
    proxied.set("doc", b"theirs")
    proxy.fail(1, "503", when=_is_put)
    assert proxied.set_if_absent("doc", b"mine") is False
    assert proxied.get("doc") == b"theirs"
    # Without a retry, equal bytes are no reason to claim a write that did not happen.
    assert proxied.set_if_absent("doc", b"theirs") is False


def test_delete_prefix_in_batches(s3_bucket_url: S3BucketUrl, proxied: S3Storage, proxy: FaultyProxy) -> None:
    direct = S3Storage(s3_bucket_url.url, creds=s3_bucket_url.creds)
    keys = [f"many/{i:04d}" for i in range(1001)]  # one more than a DeleteObjects request takes
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda k: direct.set(k, b""), [*keys, "kept"]))
    proxied.delete_prefix("many/")
    assert direct.list() == ["kept"]
    batch_deletes = [path for method, path, _ in proxy.log if method == "POST" and "delete" in path]
    assert len(batch_deletes) == 2 and proxy.requests("DELETE") == 0


def test_stores_with_the_same_credentials_share_one_client(s3_bucket_url: S3BucketUrl) -> None:
    # Making a boto3 client costs ~100 ms; every hub.load of an S3 dataset makes a store.
    a = S3Storage(f"{s3_bucket_url.url}/a", creds=s3_bucket_url.creds)
    b = S3Storage(f"{s3_bucket_url.url}/b", creds=s3_bucket_url.creds)
    other = S3Storage(s3_bucket_url.url, creds={**s3_bucket_url.creds, "region_name": "eu-west-3"})
    a.set("k", b"1")
    b.set("k", b"2")
    other.set("k", b"3")
    assert a._client() is b._client()
    assert other._client() is not a._client()
    a.close()  # closing one store leaves the shared client working for the others
    assert b.get("k") == b"2" and a.get("k") == b"1"
