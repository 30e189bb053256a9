"""An httpx-style transport that sends requests with aiohttp.

Why: httpx's own connection pool does work proportional to (requests in flight) x
(open connections) on every request, which dominates the client's cost at high concurrency.
aiohttp's connector does not, so the openai SDK runs on this transport. Replies are read
whole (no streaming is used), and aiohttp errors become the HTTP library's errors that the
SDK expects.

The openai SDK moved from `httpx` (1.x, 2.x) to its successor `httpx2` (3.x), whose client
only accepts its own transport and response classes; `transport_for(http)` builds the
transport for either library, and `sdk_http()` says which one the installed SDK uses.
"""

from __future__ import annotations

import asyncio
import functools
import importlib
from types import ModuleType
from typing import Any

import aiohttp

_HTTP_LIBRARIES = ("httpx", "httpx2")


@functools.cache
def sdk_http() -> ModuleType:
    """The HTTP library (`httpx` or `httpx2`) that the installed openai SDK's client is built on."""
    import openai

    for cls in openai.DefaultAsyncHttpxClient.__mro__:
        root = cls.__module__.split(".")[0]
        if root in _HTTP_LIBRARIES:
            return importlib.import_module(root)
    return importlib.import_module("httpx")


def _timeout(request: Any) -> aiohttp.ClientTimeout:
    ext: dict[str, Any] = request.extensions.get("timeout") or {}
    return aiohttp.ClientTimeout(total=None, connect=ext.get("pool"), sock_connect=ext.get("connect"),
                                 sock_read=ext.get("read"))


class _AiohttpTransportBase:
    """One aiohttp session per transport, opened lazily in the running event loop."""

    _http: ModuleType  # set on each concrete class by `transport_for`

    def __init__(self, *, max_connections: int = 1000, keepalive_s: float = 30.0) -> None:
        self._max_connections = max_connections
        self._keepalive_s = keepalive_s
        self._session: aiohttp.ClientSession | None = None

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=self._max_connections, keepalive_timeout=self._keepalive_s)
            self._session = aiohttp.ClientSession(connector=connector, auto_decompress=False,
                                                  skip_auto_headers=("User-Agent", "Accept-Encoding"))
        return self._session

    async def handle_async_request(self, request: Any) -> Any:
        http = self._http
        session = self._get_session()
        body = await request.aread()
        headers = [(k, v) for k, v in request.headers.multi_items()
                   if k.lower() not in ("host", "content-length", "transfer-encoding")]
        try:
            async with session.request(request.method, str(request.url), headers=headers, data=body or None,
                                       timeout=_timeout(request), allow_redirects=False) as resp:
                content = await resp.read()
                raw_headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in resp.raw_headers]
                status = resp.status
        except asyncio.TimeoutError as exc:
            raise http.ReadTimeout(f"timed out: {exc}", request=request) from exc
        except aiohttp.ClientConnectorError as exc:
            raise http.ConnectError(str(exc), request=request) from exc
        except (aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError, aiohttp.ClientOSError) as exc:
            raise http.ReadError(str(exc) or type(exc).__name__, request=request) from exc
        except aiohttp.ClientError as exc:
            raise http.NetworkError(str(exc) or type(exc).__name__, request=request) from exc
        raw_headers = [(k, v) for k, v in raw_headers if k.lower() != "transfer-encoding"]
        return http.Response(status, headers=raw_headers, content=content, request=request,
                             extensions={"http_version": b"HTTP/1.1"})

    async def aclose(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None


@functools.cache
def transport_for(http: ModuleType) -> type[_AiohttpTransportBase]:
    """The aiohttp transport class for the HTTP library `http` (a subclass of its AsyncBaseTransport)."""
    return type("AiohttpTransport", (_AiohttpTransportBase, http.AsyncBaseTransport), {"_http": http})
