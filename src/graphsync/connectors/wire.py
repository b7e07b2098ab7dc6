"""How a SCIM request reaches its target and its answer comes back.

The default wire is aiohttp: at the engine's request rates the HTTP client is most of a worker's
CPU, and aiohttp (C parser, one object per request) spends about a quarter of what httpx does for
the same POST (bench/initial_cycle.py (4)). An httpx transport can stand in for it
(``HttpxWire``): tests put an in-process SCIM target behind ``httpx.ASGITransport``.

Both wires raise only ``WireTimeout`` and ``WireError``, so the connector's retry rules do not
depend on the client library.
"""
from __future__ import annotations

import ssl
import threading
from dataclasses import dataclass
from typing import Mapping, Protocol

import aiohttp
import httpx
import yarl


class WireTimeout(Exception):
    """The target did not answer (or could not be reached) in time."""


class WireError(Exception):
    """The request failed below HTTP: refused, reset, closed early, TLS …; ``str()`` names the kind."""


@dataclass(slots=True)
class Answer:
    status: int
    headers: Mapping[str, str]  # looked up case-insensitively
    content: bytes


class Wire(Protocol):
    async def send(self, method: str, url: str, headers: list[tuple[str, str]],
                   content: bytes | None) -> Answer: ...

    async def aclose(self) -> None: ...


_tls: ssl.SSLContext | None = None
_tls_lock = threading.Lock()


def tls_context() -> ssl.SSLContext:
    """One TLS context per process (loading the CA bundle takes tens of milliseconds): the same
    trust as httpx's default (certifi, or SSL_CERT_FILE / SSL_CERT_DIR when they are set)."""
    global _tls
    with _tls_lock:
        if _tls is None:
            _tls = httpx.create_ssl_context()
        return _tls


class AiohttpWire:
    """Keep-alive connections, at most ``concurrency`` of them; no redirects, cookies or
    environment proxies (a proxy is passed explicitly). The session is opened on first use, in
    the event loop that uses it."""

    def __init__(self, *, concurrency: int, timeout: float, proxy: str | None = None):
        self._concurrency = concurrency
        self._timeout = aiohttp.ClientTimeout(total=None, connect=timeout, sock_connect=timeout,
                                              sock_read=timeout)
        self._proxy = proxy
        self._session: aiohttp.ClientSession | None = None

    async def send(self, method: str, url: str, headers: list[tuple[str, str]], content: bytes | None) -> Answer:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._concurrency, ssl=tls_context()),
                timeout=self._timeout, cookie_jar=aiohttp.DummyCookieJar(), trust_env=False)
        try:
            async with self._session.request(method, yarl.URL(url, encoded=True), headers=headers, data=content,
                                             allow_redirects=False, proxy=self._proxy) as response:
                return Answer(response.status, response.headers, await response.read())
        except TimeoutError as exc:  # aiohttp's connect and read timeouts are TimeoutErrors
            raise WireTimeout(str(exc)) from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise WireError(exc.__class__.__name__) from exc

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()


class HttpxWire:
    """An httpx transport as the wire (an in-process ASGI target, a mock of a fault)."""

    def __init__(self, transport: httpx.AsyncBaseTransport, *, timeout: float):
        self._transport = transport
        self._extensions = {"timeout": httpx.Timeout(timeout).as_dict()}

    async def send(self, method: str, url: str, headers: list[tuple[str, str]], content: bytes | None) -> Answer:
        request = httpx.Request(method, url, headers=headers, content=content, extensions=self._extensions)
        try:
            response = await self._transport.handle_async_request(request)
            try:
                await response.aread()
            finally:
                await response.aclose()
        except httpx.TimeoutException as exc:
            raise WireTimeout(str(exc)) from exc
        except httpx.TransportError as exc:
            raise WireError(exc.__class__.__name__) from exc
        return Answer(response.status_code, response.headers, response.content)

    async def aclose(self) -> None:
        await self._transport.aclose()


def base_url(address: str) -> str:
    """The target's base address, percent-encoded once (then requests are not re-encoded)."""
    return str(yarl.URL(address.split("?", 1)[0].rstrip("/")))
