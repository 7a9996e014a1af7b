"""Fixtures of the media tests: a loopback HTTP server for links."""

from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

#: The header a request for a file under ``private/`` of :func:`http_root` must carry.
PRIVATE_HEADERS = {"Authorization": "Bearer let-me-in"}


@pytest.fixture
def http_root(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A directory served over HTTP on 127.0.0.1 by a server this test starts, and its base URL.

    Files under ``private/`` are served only to requests carrying :data:`PRIVATE_HEADERS` (403 otherwise).
    """
    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(_Handler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield root, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


class _Handler(http.server.SimpleHTTPRequestHandler):
    def do_GET(self) -> None:
        wanted = PRIVATE_HEADERS["Authorization"]
        if self.path.startswith("/private/") and self.headers.get("Authorization") != wanted:
            self.send_error(403, "private: send the Authorization header")
            return
        super().do_GET()

    def log_message(self, format: str, *args: object) -> None:
        pass
