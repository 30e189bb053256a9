"""An httpx-style transport that sends requests with aiohttp.

Why: httpx's own connection pool does work proportional to (requests in flight) x
(open connections) on every request, which dominates the client's cost at high concurrency.
aiohttp's connector does not, so the openai SDK runs on this transport. Replies are read
whole (no streaming is used), and aiohttp errors become the HTTP library's errors that the
SDK expects.

A reply is read up to a cap (`max_reply_bytes`, default DEFAULT_MAX_REPLY_BYTES), counted after
decompression: aiohttp's own decompression is off, and the transport decodes gzip and deflate
itself with a bounded decompressor (so a 300 KB gzip bomb cannot become 300 MB), asking servers
for those two encodings only. A reply over the cap, or in an encoding it cannot bound, raises
`ReplyTooLarge`, which the backend records as a non-retryable error.

The openai SDK moved from `httpx` (1.x, 2.x) to its successor `httpx2` (3.x), whose client
only accepts its own transport and response classes; `transport_for(http)` builds the
transport for either library, and `sdk_http()` says which one the installed SDK uses.
"""

from __future__ import annotations

import asyncio
import functools
import importlib
import zlib
from types import ModuleType
from typing import Any

import aiohttp

_HTTP_LIBRARIES = ("httpx", "httpx2")

#: the most bytes one reply may hold, after decompression (a judge's or a model's answer is
#: kilobytes; a few MB leaves room for long outputs and refuses what would exhaust memory)
DEFAULT_MAX_REPLY_BYTES = 8 * 1024 * 1024
#: the encodings the transport can decode within the cap, and so asks servers for
ACCEPT_ENCODING = "gzip, deflate"
_CHUNK = 64 * 1024


class ReplyTooLarge(Exception):
    """A reply over the size cap, or compressed in a way that cannot be decoded within it."""


def _limit_text(limit: int) -> str:
    return f"{limit / (1024 * 1024):g} MB" if limit >= 1024 * 1024 else f"{limit:,} bytes"


class _BoundedDecoder:
    """gzip (several members too) or deflate (zlib-wrapped or raw), decoded at most `limit`
    bytes at a time: the output is never allowed past the cap, whatever the input."""

    def __init__(self, encoding: str) -> None:
        self._wbits = 16 + zlib.MAX_WBITS if encoding in ("gzip", "x-gzip") else zlib.MAX_WBITS
        self._raw_fallback = encoding == "deflate"
        self._d = zlib.decompressobj(self._wbits)
        self._started = False

    def feed(self, data: bytes, room: int) -> bytes:
        """Decoded bytes of `data`, at most `room` + 1 of them (one past the room means too large)."""
        out = bytearray()
        while data:
            try:
                piece = self._d.decompress(data, room + 1 - len(out))
            except zlib.error:
                if self._raw_fallback and not self._started:  # "deflate" sent without its zlib header
                    self._raw_fallback = False
                    self._d = zlib.decompressobj(-zlib.MAX_WBITS)
                    continue
                raise
            self._started = True
            out += piece
            if len(out) > room:
                return bytes(out)
            if self._d.eof:  # the next gzip member, if any
                data = self._d.unused_data
                if data:
                    self._d = zlib.decompressobj(self._wbits)
            else:
                data = self._d.unconsumed_tail
        return bytes(out)


async def read_capped(resp: aiohttp.ClientResponse, limit: int) -> tuple[bytes, bool]:
    """(body, whether it was decoded here) of a reply, refused with ReplyTooLarge past `limit`
    bytes as received or as decoded."""
    length = resp.headers.get("Content-Length", "").strip()
    if length.isdigit() and int(length) > limit:
        raise ReplyTooLarge(f"reply of {int(length):,} bytes is over the {_limit_text(limit)} cap (max_reply_bytes)")
    encoding = resp.headers.get("Content-Encoding", "identity").strip().lower() or "identity"
    if encoding not in ("identity", "gzip", "x-gzip", "deflate"):
        raise ReplyTooLarge(f"reply compressed with {encoding[:40]!r}, which cannot be decoded within the "
                            f"{_limit_text(limit)} cap (justeval asks for {ACCEPT_ENCODING})")
    decoder = None if encoding == "identity" else _BoundedDecoder(encoding)
    body = bytearray()
    received = 0
    while True:
        chunk = await resp.content.read(_CHUNK)
        if not chunk:
            break
        received += len(chunk)
        if received > limit:
            raise ReplyTooLarge(f"reply is over the {_limit_text(limit)} cap (max_reply_bytes)")
        if decoder is None:
            body += chunk
            continue
        try:
            body += decoder.feed(chunk, limit - len(body))
        except zlib.error as exc:
            raise ReplyTooLarge(f"reply's {encoding} body cannot be decoded: {exc}") from exc
        if len(body) > limit:
            raise ReplyTooLarge(f"reply decompresses to more than the {_limit_text(limit)} cap (max_reply_bytes; "
                                f"{received:,} bytes received)")
    return bytes(body), decoder is not None


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

    def __init__(self, *, max_connections: int = 1000, keepalive_s: float = 30.0,
                 max_reply_bytes: int = DEFAULT_MAX_REPLY_BYTES) -> None:
        if max_reply_bytes < 1:
            raise ValueError("max_reply_bytes must be at least 1")
        self._max_connections = max_connections
        self._max_reply_bytes = max_reply_bytes
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
                   if k.lower() not in ("host", "content-length", "transfer-encoding", "accept-encoding")]
        headers.append(("Accept-Encoding", ACCEPT_ENCODING))
        try:
            async with session.request(request.method, str(request.url), headers=headers, data=body or None,
                                       timeout=_timeout(request), allow_redirects=False) as resp:
                content, decoded = await read_capped(resp, self._max_reply_bytes)
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
        dropped = ("transfer-encoding", "content-encoding", "content-length") if decoded else ("transfer-encoding",)
        raw_headers = [(k, v) for k, v in raw_headers if k.lower() not in dropped]
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
