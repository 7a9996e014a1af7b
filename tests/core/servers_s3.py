"""A real S3 server for tests: moto's threaded server on 127.0.0.1, one per test session."""

from __future__ import annotations

import urllib.request
import uuid
from collections.abc import Iterator
from typing import NamedTuple

import boto3
import pytest
from moto.server import ThreadedMotoServer


class S3BucketUrl(NamedTuple):
    """A fresh bucket for one test: the URL to open and the ``creds=`` that reach it."""

    url: str
    creds: dict[str, str]


def reset_moto(endpoint: str) -> None:
    """Forget every bucket, object and IAM user the moto server at ``endpoint`` holds."""
    request = urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        response.read()


@pytest.fixture(scope="session")
def s3_server() -> Iterator[str]:
    """The endpoint URL ``http://127.0.0.1:PORT`` of a moto S3 server running for the whole session."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def s3_bucket_url(s3_server: str) -> Iterator[S3BucketUrl]:
    """``(url, creds)`` of an empty bucket made for this test; moto is reset afterwards.

    ``url`` is ``s3://<bucket>/data`` (a prefix inside a bucket named ``hub-test-<hex>``);
    ``creds`` is ``{"endpoint_url": s3_server}``, so credentials come from the environment,
    which the conftest pins to dummy values. Unpacks as a 2-tuple.
    """
    bucket = f"hub-test-{uuid.uuid4().hex[:16]}"
    client = boto3.client("s3", endpoint_url=s3_server, region_name="us-east-1")
    client.create_bucket(Bucket=bucket)
    client.close()
    try:
        yield S3BucketUrl(f"s3://{bucket}/data", {"endpoint_url": s3_server})
    finally:
        reset_moto(s3_server)
