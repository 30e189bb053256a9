"""A real OpenAI-compatible HTTP server on 127.0.0.1 with scripted replies, latency and faults.

Tests and benchmarks point the real clients at it, so request building, HTTP, retries and
parsing all run. It serves `POST /v1/chat/completions` and `POST /v1/completions` and
`GET /v1/models`, records every request, and tracks the peak number in flight.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class Reply:
    """What the server answers to one request.

    `text` is the completion; `status` != 200 sends an OpenAI-style error body; `drop`
    closes the connection without answering; `delay` overrides the server's latency.
    """

    text: str = ""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay: float | None = None
    drop: bool = False
    finish_reason: str = "stop"
    usage: dict[str, int] | None = None


@dataclass
class StubRequest:
    path: str
    body: dict[str, Any]
    headers: dict[str, str]

    @property
    def prompt_text(self) -> str:
        """The user-visible prompt: the last user message, or the completion prompt."""
        if "messages" in self.body:
            users = [m for m in self.body["messages"] if m.get("role") == "user"]
            return str(users[-1]["content"]) if users else ""
        return str(self.body.get("prompt", ""))


Responder = Callable[[StubRequest], Reply]


def echo_responder(req: StubRequest) -> Reply:
    return Reply(text=f"echo: {req.prompt_text}")


class StubServer:
    """Start with `with StubServer(...) as srv:`; `srv.base_url` is the `/v1` base URL."""

    def __init__(self, responder: Responder | None = None, *, latency: float = 0.0,
                 script: list[Reply] | None = None, port: int = 0) -> None:
        self.responder = responder or echo_responder
        self.latency = latency
        self.script: deque[Reply] = deque(script or [])
        self.requests: list[StubRequest] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        self._port = port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self.port = 0

    # -- lifecycle ---------------------------------------------------------------
    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> StubServer:
        self._thread = threading.Thread(target=self._serve, name="stub-openai", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("stub server did not start")
        return self

    def stop(self) -> None:
        if self._loop and self._runner:
            fut = asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop)
            with contextlib.suppress(Exception):
                fut.result(10)
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread:
            self._thread.join(10)

    def __enter__(self) -> StubServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _serve(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/v1/chat/completions", self._handle)
        app.router.add_post("/v1/completions", self._handle)
        app.router.add_get("/v1/models", self._models)
        self._runner = web.AppRunner(app, access_log=None)
        loop.run_until_complete(self._runner.setup())
        site = web.TCPSite(self._runner, "127.0.0.1", self._port, backlog=1024)
        loop.run_until_complete(site.start())
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        self._ready.set()
        loop.run_forever()
        loop.close()

    # -- counting ----------------------------------------------------------------
    @property
    def count(self) -> int:
        return len(self.requests)

    def count_for(self, predicate: Callable[[StubRequest], bool]) -> int:
        with self._lock:
            return sum(1 for r in self.requests if predicate(r))

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self.max_in_flight = 0

    # -- handlers ----------------------------------------------------------------
    async def _models(self, request: web.Request) -> web.Response:
        return web.json_response({"object": "list", "data": [{"id": "stub", "object": "model"}]})

    def _next_reply(self, req: StubRequest) -> Reply:
        with self._lock:
            if self.script:
                return self.script.popleft()
        return self.responder(req)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        req = StubRequest(path=request.path, body=body, headers=dict(request.headers))
        with self._lock:
            self.requests.append(req)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            reply = self._next_reply(req)
            delay = self.latency if reply.delay is None else reply.delay
            if delay > 0:
                await asyncio.sleep(delay)
            if reply.drop:
                if request.transport is not None:
                    request.transport.close()
                raise ConnectionResetError("dropped by stub")
            if reply.status != 200:
                err = {"error": {"message": reply.text or f"stub error {reply.status}",
                                 "type": "stub_error", "code": reply.status}}
                return web.json_response(err, status=reply.status, headers=reply.headers)
            return web.json_response(self._body(req, reply), headers=reply.headers)
        finally:
            with self._lock:
                self.in_flight -= 1

    def _body(self, req: StubRequest, reply: Reply) -> dict[str, Any]:
        prompt_tokens = max(1, len(json.dumps(req.body.get("messages", req.body.get("prompt", "")))) // 4)
        usage = reply.usage or {"prompt_tokens": prompt_tokens,
                                "completion_tokens": max(1, len(reply.text) // 4)}
        usage.setdefault("total_tokens", usage["prompt_tokens"] + usage["completion_tokens"])
        model = str(req.body.get("model", "stub"))
        created = int(time.time())
        if req.path.endswith("/chat/completions"):
            return {"id": f"chatcmpl-{len(self.requests)}", "object": "chat.completion",
                    "created": created, "model": model,
                    "choices": [{"index": 0, "finish_reason": reply.finish_reason,
                                 "message": {"role": "assistant", "content": reply.text}}],
                    "usage": usage}
        return {"id": f"cmpl-{len(self.requests)}", "object": "text_completion", "created": created,
                "model": model,
                "choices": [{"index": 0, "text": reply.text, "finish_reason": reply.finish_reason,
                             "logprobs": None}],
                "usage": usage}
