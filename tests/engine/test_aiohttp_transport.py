"""The aiohttp transport the openai backend uses, for httpx and for httpx2 (the openai SDK 3.x
client library): bodies, headers, errors."""

from __future__ import annotations

import asyncio
import gzip
import importlib
import json
import socket
from collections.abc import Awaitable, Callable
from types import ModuleType
from typing import Any

import pytest
from aiohttp import web

from justeval.engine.backends.aiohttp_transport import sdk_http, transport_for


@pytest.fixture(params=["httpx", "httpx2"])
def http(request: pytest.FixtureRequest) -> ModuleType:
    """Each HTTP library that is installed (httpx2 arrives with the openai SDK 3.x)."""
    return pytest.importorskip(request.param)


async def _serve(handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> tuple[web.AppRunner, str]:
    app = web.Application()
    app.router.add_post("/echo", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}"


def test_compressed_json_reply_and_request_headers_round_trip(http: ModuleType) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        body = await request.json()
        data = json.dumps({"got": body, "auth": request.headers.get("Authorization")}).encode()
        return web.Response(body=gzip.compress(data), content_type="application/json",  # really compressed
                            headers={"X-Ratelimit-Remaining": "7", "Content-Encoding": "gzip"})

    async def main() -> Any:
        runner, base = await _serve(handler)
        try:
            async with http.AsyncClient(transport=transport_for(http)()) as client:
                return await client.post(f"{base}/echo", json={"q": "ünïcode"},
                                         headers={"Authorization": "Bearer t0k", "Accept-Encoding": "gzip"})
        finally:
            await runner.cleanup()

    resp = asyncio.run(main())
    assert resp.status_code == 200
    assert "content-encoding" not in resp.headers  # decoded by the transport, within its cap
    assert resp.json() == {"got": {"q": "ünïcode"}, "auth": "Bearer t0k"}
    assert resp.headers["x-ratelimit-remaining"] == "7"


def test_a_slow_reply_raises_the_librarys_read_timeout(http: ModuleType) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(1.0)
        return web.json_response({})

    async def main() -> None:
        runner, base = await _serve(handler)
        try:
            async with http.AsyncClient(transport=transport_for(http)(), timeout=0.2) as client:
                await client.post(f"{base}/echo", json={})
        finally:
            await runner.cleanup()

    with pytest.raises(http.ReadTimeout):
        asyncio.run(main())


def test_a_refused_connection_raises_the_librarys_connect_error(http: ModuleType) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again below: nothing listens there

    async def main() -> None:
        async with http.AsyncClient(transport=transport_for(http)()) as client:
            await client.post(f"http://127.0.0.1:{port}/echo", json={})

    with pytest.raises(http.ConnectError):
        asyncio.run(main())


def test_the_transport_matches_the_library_of_the_installed_openai_sdk() -> None:
    import openai

    http = sdk_http()
    assert isinstance(openai.DefaultAsyncHttpxClient(), http.AsyncClient)
    assert issubclass(transport_for(http), http.AsyncBaseTransport)
    assert transport_for(http) is transport_for(importlib.import_module(http.__name__))  # built once
