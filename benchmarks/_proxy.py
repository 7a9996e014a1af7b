"""A TCP proxy on 127.0.0.1 that delays every request by a fixed latency, to give a loopback server cloud-like latency.

Bytes from the client reach the server ``latency`` seconds after they arrived at the proxy, each in its turn (a link
of that one-way delay, not a queue that adds up), and a new connection waits ``latency`` before it is opened
upstream, like a TCP handshake. A request/response round trip, and a connection's set-up, thus take ``latency``
longer than without the proxy; replies pass at once. Many requests in flight each wait their own ``latency`` at
the same time, as they would over a real network: parallel clients hide it, sequential ones pay it per request.

Run as a script (``python _proxy.py UPSTREAM_PORT [--latency-ms 30]``) it prints its port and serves until killed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import threading
from collections.abc import Iterator

__all__ = ["DEFAULT_LATENCY", "DelayingProxy", "delaying_proxy"]

#: The default added latency: about a request to a cloud region in the same part of the world.
DEFAULT_LATENCY = 0.030
_READ = 2**16


async def _delayed_pipe(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, latency: float, loop: asyncio.AbstractEventLoop
) -> None:
    """Copy ``reader`` to ``writer``, each piece ``latency`` seconds after it arrived (in order)."""
    queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

    async def forward() -> None:
        while True:
            due, data = await queue.get()
            if not data:
                break
            await asyncio.sleep(max(0.0, due - loop.time()))
            writer.write(data)
            await writer.drain()

    sender = asyncio.ensure_future(forward())
    try:
        while data := await reader.read(_READ):
            queue.put_nowait((loop.time() + latency, data))
    finally:
        queue.put_nowait((0.0, b""))
        with contextlib.suppress(ConnectionError):
            await sender
        with contextlib.suppress(ConnectionError, RuntimeError):
            writer.write_eof()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while data := await reader.read(_READ):
        writer.write(data)
        await writer.drain()
    with contextlib.suppress(ConnectionError, RuntimeError):
        writer.write_eof()


class DelayingProxy:
    """Forwards ``127.0.0.1:port`` to ``127.0.0.1:upstream_port`` with ``latency`` seconds added to each request."""

    def __init__(self, upstream_port: int, latency: float = DEFAULT_LATENCY) -> None:
        self.upstream_port = upstream_port
        self.latency = latency
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.AbstractServer | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, name="delaying-proxy", daemon=True)

    async def _handle(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        # Stopping cancels the connections; a cancelled handler makes asyncio log an error, so end it quietly.
        with contextlib.suppress(asyncio.CancelledError):
            await self._serve(client_reader, client_writer)

    async def _serve(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        server_writer: asyncio.StreamWriter | None = None
        finished = False
        try:
            await asyncio.sleep(self.latency)
            try:
                server_reader, server_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
            except OSError:
                return
            with contextlib.suppress(ConnectionError):
                await asyncio.gather(
                    _delayed_pipe(client_reader, server_writer, self.latency, self._loop),
                    _pipe(server_reader, client_writer),
                )
            finished = True
        finally:
            # Both sockets are closed however the connection ends: gracefully (what is still buffered is sent) when
            # it ran its course, at once when it was cancelled (the proxy stopping, even in a connection's opening
            # delay), so that none is left for the garbage collector to warn about.
            for writer in (server_writer, client_writer):
                if writer is not None:
                    if finished:
                        writer.close()
                    else:
                        writer.transport.abort()

    def start(self) -> DelayingProxy:
        async def listen() -> int:
            self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
            port: int = self._server.sockets[0].getsockname()[1]
            return port

        self._thread.start()
        self.port = asyncio.run_coroutine_threadsafe(listen(), self._loop).result(10)
        return self

    def stop(self) -> None:
        async def close() -> None:
            if self._server is not None:
                self._server.close()
            # Cancelling a connection can start a task (a pipe's sender ending): cancel until none is left.
            while tasks := [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()


@contextlib.contextmanager
def delaying_proxy(upstream_port: int, latency: float = DEFAULT_LATENCY) -> Iterator[DelayingProxy]:
    """A running :class:`DelayingProxy`, stopped on exit."""
    proxy = DelayingProxy(upstream_port, latency).start()
    try:
        yield proxy
    finally:
        proxy.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("upstream_port", type=int)
    parser.add_argument("--latency-ms", type=float, default=DEFAULT_LATENCY * 1e3)
    args = parser.parse_args(argv)
    with delaying_proxy(args.upstream_port, args.latency_ms / 1e3) as proxy:
        print(proxy.port, flush=True)
        threading.Event().wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
