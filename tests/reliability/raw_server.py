"""A loopback HTTP server that answers the OpenAI endpoints with exactly the bytes a test gives
(any JSON, a gzip bomb, a body of any size, chunked or not), so the real client, transport and
reply parsing meet replies the well-behaved stub server never sends."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class RawReply:
    body: bytes
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": "application/json"})
    status: int = 200
    chunked: bool = False  # sent without a Content-Length, in pieces


def chat_reply(message: Any, *, finish_reason: str = "stop") -> RawReply:
    """A chat completion whose first choice's `message` is `message` (any JSON value)."""
    return RawReply(json.dumps({"id": "x", "object": "chat.completion", "model": "m",
                                "choices": [{"index": 0, "message": message, "finish_reason": finish_reason}],
                                "usage": {"prompt_tokens": 3, "completion_tokens": 2}}).encode())


Handler = Callable[[dict[str, Any]], RawReply]


class RawServer:
    """`with RawServer(handler) as srv:`; `srv.base_url` is the `/v1` base URL; `srv.bodies`
    holds the JSON body of every request, `srv.headers` its headers."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.bodies: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def __enter__(self) -> RawServer:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("raw server did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._loop is not None and self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
            self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def _serve(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/v1/chat/completions", self._handle)
        app.router.add_post("/v1/completions", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        loop.run_until_complete(self._runner.setup())
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        loop.run_until_complete(site.start())
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self._ready.set()
        loop.run_forever()
        loop.close()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.bodies.append(body)
        self.headers.append(dict(request.headers))
        reply = self.handler(body)
        if not reply.chunked:
            return web.Response(body=reply.body, status=reply.status, headers=reply.headers)
        resp = web.StreamResponse(status=reply.status, headers=reply.headers)
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        step = 256 * 1024
        for start in range(0, len(reply.body), step):
            await resp.write(reply.body[start:start + step])
        await resp.write_eof()
        return resp
