"""The benchmark harness's own parts: its data is the same on every run, and its proxy delays by what it claims."""

from __future__ import annotations

import http.client
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from _proxy import delaying_proxy
from data import raw_images, write_image_folder

pytest.importorskip("skimage", reason="the benchmark data needs scikit-image (nox -s tests installs it)")


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*.jpg"))}


def test_image_folder_is_the_same_bytes_for_the_same_seed(tmp_path: Path) -> None:
    first = write_image_folder(tmp_path / "a", 4, classes=3, size=64)
    second = write_image_folder(tmp_path / "b", 4, classes=3, size=64)
    write_image_folder(tmp_path / "c", 4, classes=3, size=64, seed=1)
    assert first == second == [(f"class_{i % 3:02d}/{i:06d}.jpg", i % 3) for i in range(4)]
    assert _tree(tmp_path / "a") == _tree(tmp_path / "b")
    assert _tree(tmp_path / "a") != _tree(tmp_path / "c")


def test_raw_images_are_the_same_for_the_same_seed() -> None:
    images, labels = raw_images(100)
    again = raw_images(100)
    assert images.shape == (100, 32, 32, 3) and images.dtype == np.uint8 and labels.dtype == np.int64
    assert np.array_equal(images, again[0]) and np.array_equal(labels, again[1])
    assert not np.array_equal(images, raw_images(100, seed=1)[0])


#: asyncio may end a sleep up to its clock's resolution early; a few ms of slack for that, never for a missing delay.
EARLY = 0.005


class _Hello(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body are separate writes: with Nagle's algorithm each response would wait for a delayed ACK.
    disable_nagle_algorithm = True

    def do_GET(self) -> None:
        body = b"x" * 1000
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


class _Server(ThreadingHTTPServer):
    # The default backlog of 5 drops the SYNs of 8 connections opened at once, which then wait 1 s to retry.
    request_queue_size = 64


@pytest.fixture
def http_port() -> Iterator[int]:
    server = _Server(("127.0.0.1", 0), _Hello)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def _seconds_per_request(port: int, requests: int) -> tuple[float, float]:
    """The time to connect and make a first request, and the median time of the next ones, on one connection."""
    started = time.perf_counter()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    times = []
    for _ in range(requests + 1):
        connection.request("GET", "/")
        assert len(connection.getresponse().read()) == 1000
        times.append(time.perf_counter() - started)
        started = time.perf_counter()
    connection.close()
    return times[0], float(np.median(times[1:])) if requests else 0.0


def test_proxy_adds_its_latency_to_each_request_and_connection(http_port: int) -> None:
    latency = 0.1
    direct_first, direct = _seconds_per_request(http_port, 5)
    with delaying_proxy(http_port, latency) as proxy:
        first, each = _seconds_per_request(proxy.port, 5)
    assert latency - EARLY <= each - direct < latency + 0.05
    # A new connection waits one latency to open and one for its first request.
    assert 2 * (latency - EARLY) <= first - direct_first < 2 * latency + 0.1


def test_proxy_delays_parallel_requests_at_the_same_time(http_port: int) -> None:
    latency = 0.2
    with delaying_proxy(http_port, latency) as proxy:
        _seconds_per_request(proxy.port, 0)  # the proxy's first connection
        started = time.perf_counter()
        threads = [threading.Thread(target=_seconds_per_request, args=(proxy.port, 1)) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started
    # Each of 8 clients pays 3 latencies (connect, two requests) in parallel, not 24 in a queue.
    assert 3 * (latency - EARLY) <= elapsed < 6 * latency
