"""A TCP proxy in front of the SCIM server that injects faults a healthy server will not produce:
429 with Retry-After, 503, connection resets and stalls past the client's timeout. This stands
in for a misbehaving network and target; the SCIM server behind it is real."""
from __future__ import annotations

import asyncio
import itertools
import threading

from graphsync.testing import free_port

FAULTS_429 = b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 0\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
FAULTS_503 = b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


class FaultProxy:
    def __init__(self, upstream_port: int, pattern: list[str | None], stall_seconds: float = 3.0):
        self.upstream_port = upstream_port
        self.port = free_port()
        self._pattern = itertools.cycle(pattern)
        self.stall_seconds = stall_seconds
        self.injected: dict[str, int] = {}
        self._seen: set[int] = set()
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FaultProxy:
        self._thread.start()
        self._ready.wait(10)
        return self

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(
            asyncio.start_server(self._handle, "127.0.0.1", self.port))
        self._ready.set()
        self._loop.run_forever()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                body = await reader.readexactly(length) if length else b""
                # each distinct request meets at most one fault (its first time): the faults are all
                # exercised while the client's retries always get through, so the end state is exact
                key = hash((head.split(b"\r\n", 1)[0], body))
                fault = None if key in self._seen else next(self._pattern)
                self._seen.add(key)
                if fault:
                    self.injected[fault] = self.injected.get(fault, 0) + 1
                if fault == "reset":
                    writer.transport.abort()
                    return
                if fault == "stall":
                    await asyncio.sleep(self.stall_seconds)
                    writer.transport.abort()
                    return
                if fault in ("429", "503"):
                    writer.write(FAULTS_429 if fault == "429" else FAULTS_503)
                    await writer.drain()
                    writer.close()
                    return
                response = await self._forward(head, body)
                if fault == "reset-after":  # the target did the work, the client never hears of it
                    writer.transport.abort()
                    return
                writer.write(response)
                await writer.drain()
                writer.close()
                return
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    async def _forward(self, head: bytes, body: bytes) -> bytes:
        lines = [line for line in head.split(b"\r\n") if line and not line.lower().startswith(b"connection:")]
        request = b"\r\n".join(lines) + b"\r\nConnection: close\r\n\r\n" + body
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        up_writer.write(request)
        await up_writer.drain()
        response = await up_reader.read()
        up_writer.close()
        return response
