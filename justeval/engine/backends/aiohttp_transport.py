"""An httpx transport that sends requests with aiohttp.

Why: httpx's own connection pool does work proportional to (requests in flight) x
(open connections) on every request, which dominates the client's cost at high concurrency.
aiohttp's connector does not, so the openai SDK runs on this transport. Replies are read
whole (no streaming is used), and aiohttp errors become the httpx errors the SDK expects.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import httpx


def _timeout(request: httpx.Request) -> aiohttp.ClientTimeout:
    ext: dict[str, Any] = request.extensions.get("timeout") or {}
    return aiohttp.ClientTimeout(total=None, connect=ext.get("pool"), sock_connect=ext.get("connect"),
                                 sock_read=ext.get("read"))


class AiohttpTransport(httpx.AsyncBaseTransport):
    """One aiohttp session per transport, opened lazily in the running event loop."""

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

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
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
            raise httpx.ReadTimeout(f"timed out: {exc}", request=request) from exc
        except aiohttp.ClientConnectorError as exc:
            raise httpx.ConnectError(str(exc), request=request) from exc
        except (aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError, aiohttp.ClientOSError) as exc:
            raise httpx.ReadError(str(exc) or type(exc).__name__, request=request) from exc
        except aiohttp.ClientError as exc:
            raise httpx.NetworkError(str(exc) or type(exc).__name__, request=request) from exc
        raw_headers = [(k, v) for k, v in raw_headers if k.lower() != "transfer-encoding"]
        return httpx.Response(status, headers=raw_headers, content=content, request=request,
                              extensions={"http_version": b"HTTP/1.1"})

    async def aclose(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None
