"""An HTTP/1.1 proxy on 127.0.0.1 that holds each request for a fixed delay before forwarding
it, to measure seg against a control plane that is far away (issue 18: 50 ms per request).

Each client connection gets its own upstream connection (keep-alive on both sides). Requests
are read whole (Content-Length or chunked), held ``delay`` seconds, then forwarded; responses
are copied back as they come. A client that waits for each response before its next request
(as httpx does) therefore pays the delay once per request, like a round trip.

    python benchmarks/latency_proxy.py --upstream 127.0.0.1:8080 --port 8081 --delay-ms 50

or, from Python: ``proxy = start_proxy("127.0.0.1", 8080, delay_ms=50)`` ... ``proxy.url`` ...
``proxy.close()``; ``proxy.requests`` counts the requests forwarded.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

__all__ = ["Proxy", "start_proxy"]

HOST = "127.0.0.1"
MAX_HEAD = 64 * 1024


@dataclass
class Proxy:
    """A running proxy on its own event-loop thread."""

    port: int
    loop: asyncio.AbstractEventLoop
    thread: threading.Thread
    server: asyncio.Server
    counter: list[int] = field(default_factory=lambda: [0])

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def requests(self) -> int:
        return self.counter[0]

    def close(self) -> None:
        async def stop() -> None:
            self.server.close()
            await self.server.wait_closed()

        with contextlib.suppress(RuntimeError):
            asyncio.run_coroutine_threadsafe(stop(), self.loop).result(timeout=10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)


async def _read_request(reader: asyncio.StreamReader) -> bytes:
    """One whole request (head and body), or b"" when the client closed the connection."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return b""
    except asyncio.LimitOverrunError as exc:
        raise ConnectionError("request head too large") from exc
    headers = {}
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        headers[name.strip().lower()] = value.strip()
    if headers.get(b"transfer-encoding", b"").lower() == b"chunked":
        return head + await _read_chunked(reader)
    length = int(headers.get(b"content-length", b"0") or 0)
    return head + (await reader.readexactly(length) if length else b"")


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    body = b""
    while True:
        size_line = await reader.readuntil(b"\r\n")
        body += size_line
        size = int(size_line.split(b";")[0].strip(), 16)
        if size == 0:
            while True:  # trailers, up to the empty line
                trailer = await reader.readuntil(b"\r\n")
                body += trailer
                if trailer == b"\r\n":
                    return body
        body += await reader.readexactly(size + 2)


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy bytes until ``reader`` ends."""
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        with contextlib.suppress(Exception):
            writer.close()


Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


def _handler(upstream: tuple[str, int], delay: float, counter: list[int]) -> Handler:
    async def handle(client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        try:
            up_r, up_w = await asyncio.open_connection(*upstream, limit=MAX_HEAD)
        except OSError:
            client_w.close()
            return
        back = asyncio.create_task(_pump(up_r, client_w))
        try:
            while request := await _read_request(client_r):
                await asyncio.sleep(delay)
                counter[0] += 1
                up_w.write(request)
                await up_w.drain()
        except (ConnectionError, asyncio.IncompleteReadError, ValueError):
            pass
        finally:
            with contextlib.suppress(Exception):
                up_w.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(back, timeout=30)

    return handle


def start_proxy(upstream_host: str, upstream_port: int, port: int = 0,
                delay_ms: float = 50.0) -> Proxy:  # fmt: skip
    """Start the proxy on 127.0.0.1:``port`` (0: a free one) on a daemon thread."""
    loop = asyncio.new_event_loop()
    counter = [0]
    handler = _handler((upstream_host, upstream_port), delay_ms / 1000, counter)
    server = loop.run_until_complete(asyncio.start_server(handler, HOST, port, limit=MAX_HEAD))
    bound = server.sockets[0].getsockname()[1]
    thread = threading.Thread(target=loop.run_forever, name="latency-proxy", daemon=True)
    thread.start()
    return Proxy(int(bound), loop, thread, server, counter)


def main() -> None:
    raw = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=raw)
    parser.add_argument("--upstream", required=True, metavar="HOST:PORT")
    parser.add_argument("--port", type=int, default=0, help="listen port (0: a free one)")
    parser.add_argument("--delay-ms", type=float, default=50.0)
    args = parser.parse_args()
    host, _, upstream_port = args.upstream.rpartition(":")
    if not host or not upstream_port.isdigit():
        parser.error("--upstream must be HOST:PORT")
    if args.delay_ms < 0:
        parser.error("--delay-ms must not be negative")
    proxy = start_proxy(host, int(upstream_port), args.port, args.delay_ms)
    print(f"forwarding {proxy.url} -> {args.upstream} with {args.delay_ms:g} ms per request",
          flush=True)  # fmt: skip
    try:
        proxy.thread.join()
    except KeyboardInterrupt:
        proxy.close()


if __name__ == "__main__":
    main()
